//! Per-pane state and the two questions every pane answers: how many rows
//! the selection moves over, and what Enter opens. Both are exhaustive
//! matches on [`Pane`], so a new pane makes the compiler ask for its arms.

pub mod alerts;
pub mod cluster;
pub mod rollouts;

use std::collections::BTreeMap;

use crate::model::cluster::{DeploymentRow, ObjectRef};
use crate::model::{JobId, Pane, SourceId, SourceKind};

use super::App;
use super::effect::Effect;
use super::overlay::Overlay;

/// The state of every pane that keeps one.
#[derive(Debug, Default)]
pub struct Panes {
    /// Each pane's selected row.
    pub cursors: BTreeMap<Pane, usize>,
    /// The Cluster pane.
    pub cluster: cluster::ClusterPane,
    /// The Alerts pane.
    pub alerts: alerts::AlertsPane,
    /// The Rollouts pane.
    pub rollouts: rollouts::RolloutsPane,
    /// The object whose YAML a copy waits for.
    pub copy_pending: Option<ObjectRef>,
    /// The last log view's id.
    pub log_ids: u64,
}

impl App {
    /// Rows the pane's selection moves over.
    pub(in crate::app) fn rows(&self, pane: Pane) -> usize {
        match pane {
            Pane::Overview => self.platform.clusters.len(),
            Pane::Jobs => self.visible_jobs().len() + self.visible_forwards().len(),
            Pane::Cluster => self
                .selected_cluster()
                .and_then(|c| self.store.cluster(c))
                .map_or(0, |c| self.cluster_window(c, 0, 0).total),
            Pane::Rollouts => self.rollout_rows().len(),
            Pane::Alerts => self.visible_alerts().len(),
            Pane::Data | Pane::Ai | Pane::Failover | Pane::Scaling => self.pane_sources(pane).len(),
        }
    }

    /// The sources a pane lists, in the order its selection moves over
    /// them: region by region, as the pane's columns show them, those
    /// passing its filter.
    pub fn pane_sources(&self, pane: Pane) -> Vec<SourceId> {
        let p = &self.platform;
        let kinds: &[SourceKind] = match pane {
            Pane::Data => &[SourceKind::Database, SourceKind::Cache],
            Pane::Ai => &[SourceKind::AiService],
            Pane::Failover => &[
                SourceKind::Database,
                SourceKind::Cache,
                SourceKind::Cluster,
                SourceKind::Traffic,
            ],
            Pane::Scaling => &[SourceKind::Cluster],
            Pane::Overview | Pane::Cluster | Pane::Rollouts | Pane::Alerts | Pane::Jobs => &[],
        };
        let filtered = matches!(pane, Pane::Data | Pane::Ai);
        let mut ids = Vec::new();
        let traffic_name = crate::config::platform::TRAFFIC.to_owned();
        for region in &p.regions {
            let r = region.name.get_ref();
            for &kind in kinds {
                let names: Vec<&String> = match kind {
                    SourceKind::Database => p
                        .databases
                        .iter()
                        .filter(|d| d.region.get_ref() == r)
                        .map(|d| d.name.get_ref())
                        .collect(),
                    SourceKind::Cache => p
                        .caches
                        .iter()
                        .filter(|c| c.region.get_ref() == r)
                        .map(|c| c.name.get_ref())
                        .collect(),
                    SourceKind::AiService => p
                        .ai_services
                        .iter()
                        .filter(|a| a.region.get_ref() == r)
                        .map(|a| a.name.get_ref())
                        .collect(),
                    SourceKind::Cluster => p
                        .clusters
                        .iter()
                        .filter(|c| c.region.get_ref() == r)
                        .filter(|c| pane != Pane::Scaling || self.scaling_shows(c))
                        .map(|c| c.name.get_ref())
                        .collect(),
                    SourceKind::Traffic => p
                        .traffic
                        .iter()
                        .flat_map(|t| &t.pools)
                        .filter(|x| x.region.get_ref() == r)
                        .map(|_| &traffic_name)
                        .collect(),
                    SourceKind::Alerts | SourceKind::Metrics => Vec::new(),
                };
                ids.extend(
                    names
                        .into_iter()
                        .filter(|n| !filtered || self.filter_matches(pane, n))
                        .map(|n| SourceId::new(r.clone(), kind, n.clone())),
                );
            }
        }
        ids
    }

    /// Whether the Scaling pane, as filtered, shows a row of this cluster:
    /// the selection moves only over clusters on screen.
    fn scaling_shows(&self, c: &crate::config::platform::Cluster) -> bool {
        let m = |s: &str| self.filter_matches(Pane::Scaling, s);
        if self.filter(Pane::Scaling).is_none() || m(c.name.get_ref()) {
            return true;
        }
        c.node_groups.iter().any(|g| m(g.name.get_ref()))
            || self.store.cluster(c.name.get_ref()).is_some_and(|s| {
                s.hpas.values().any(|h| m(&h.name) || m(&h.target))
                    || s.deployments
                        .values()
                        .any(|d| m(&d.name) || m(&format!("{}/{}", d.namespace, d.name)))
            })
    }

    /// The source the pane's selection is on, if it lists sources.
    pub fn selected_source(&self, pane: Pane) -> Option<SourceId> {
        self.pane_sources(pane).into_iter().nth(self.cursor(pane))
    }

    /// The Jobs pane's jobs: those passing its filter, oldest first.
    pub fn visible_jobs(&self) -> Vec<&super::jobs::JobRow> {
        self.jobs
            .rows()
            .iter()
            .filter(|j| self.filter(Pane::Jobs).is_none_or(|f| j.title.contains(f)))
            .collect()
    }

    /// Enter on the focused pane's selected row.
    pub(in crate::app) fn select(&mut self) {
        let object = match self.focus {
            Pane::Overview => {
                if let Some(cluster) = self.platform.clusters.get(self.cursor(Pane::Overview)) {
                    self.panes.cluster.select(cluster.name.get_ref().clone());
                    self.focus = Pane::Cluster;
                    self.panes.cursors.remove(&Pane::Cluster);
                }
                return;
            }
            Pane::Cluster | Pane::Rollouts => self.selected_object(),
            Pane::Alerts => {
                if let Some(a) = self.visible_alerts().get(self.cursor(Pane::Alerts)) {
                    let fingerprint = a.fingerprint.clone();
                    self.input.push(Overlay::Alert {
                        fingerprint,
                        scroll: 0,
                    });
                }
                return;
            }
            Pane::Data | Pane::Ai | Pane::Failover | Pane::Scaling => {
                if let Some(id) = self.selected_source(self.focus) {
                    self.input.push(Overlay::Source { id, scroll: 0 });
                }
                return;
            }
            Pane::Jobs => {
                let job: Option<JobId> = self
                    .visible_jobs()
                    .get(self.cursor(Pane::Jobs))
                    .map(|j| j.id);
                if let Some(id) = job {
                    self.input.push(Overlay::Job { id, scroll: 0 });
                }
                return;
            }
        };
        let Some(object) = object else {
            return;
        };
        self.effects.push(Effect::FetchDetail(object.clone()));
        self.input.push(Overlay::Detail {
            object,
            text: None,
            scroll: 0,
        });
    }

    /// The Rollouts pane's deployments: every cluster's, in configured
    /// order, those passing the pane's filter (on name, image or colour).
    pub fn rollout_rows(&self) -> Vec<(&str, &DeploymentRow)> {
        self.platform
            .clusters
            .iter()
            .filter_map(|c| {
                let name = c.name.get_ref().as_str();
                self.store.cluster(name).map(|s| (name, s))
            })
            .flat_map(|(name, s)| {
                s.deployments
                    .iter()
                    .filter(|(k, d)| {
                        self.filter_matches(Pane::Rollouts, k)
                            || self.filter_matches(Pane::Rollouts, &d.image)
                            || d.color
                                .as_deref()
                                .is_some_and(|c| self.filter_matches(Pane::Rollouts, c))
                    })
                    .map(move |(_, d)| (name, d))
            })
            .collect()
    }
}

/// A difference between a primary-region cluster and a DR-region cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairDrift {
    /// The primary region's cluster.
    pub left: String,
    /// The DR region's cluster.
    pub right: String,
    /// The regions as shown: `Tokyo↔Seoul`.
    pub pair: String,
    /// What differs.
    pub drift: crate::model::rollout::Drift,
}

impl App {
    /// What the Rollouts pane flags, per cluster: blue / green faults of
    /// each release, and each HPA that targets no deployment or a colour
    /// that is not live.
    pub fn rollout_flags(&self) -> Vec<(String, crate::model::rollout::Finding)> {
        use crate::model::cluster::Health;
        use crate::model::rollout::{self, Finding};
        let mut found = Vec::new();
        for c in &self.platform.clusters {
            let name = c.name.get_ref();
            let Some(state) = self.store.cluster(name) else {
                continue;
            };
            let releases = rollout::releases(state);
            for f in rollout::release_findings(&releases) {
                found.push((name.clone(), f));
            }
            for h in state.hpas.values() {
                if let Some(text) = rollout::hpa_fault(state, &releases, h) {
                    found.push((
                        name.clone(),
                        Finding {
                            health: Health::Crit,
                            subject: format!("{}/{}", h.namespace, h.name),
                            text,
                        },
                    ));
                }
            }
        }
        found
    }

    /// Drift between each primary-region cluster and each DR-region
    /// cluster, both listed; what a standby is expected to differ in last.
    pub fn region_drift(&self) -> Vec<PairDrift> {
        use crate::config::platform::Role;
        let p = &self.platform;
        let role = |region: &str| p.region(region).map(|r| r.role);
        let of = |want: Role| {
            p.clusters
                .iter()
                .filter(move |c| role(c.region.get_ref()) == Some(want))
        };
        let mut out = Vec::new();
        for a in of(Role::Primary) {
            for b in of(Role::Dr) {
                let (Some(left), Some(right)) = (
                    self.store.cluster(a.name.get_ref()),
                    self.store.cluster(b.name.get_ref()),
                ) else {
                    continue;
                };
                let pair = format!(
                    "{}↔{}",
                    p.region_display(a.region.get_ref()),
                    p.region_display(b.region.get_ref())
                );
                out.extend(
                    crate::model::rollout::drift(left, right, true)
                        .into_iter()
                        .map(|drift| PairDrift {
                            left: a.name.get_ref().clone(),
                            right: b.name.get_ref().clone(),
                            pair: pair.clone(),
                            drift,
                        }),
                );
            }
        }
        out.sort_by_key(|d| d.drift.expected);
        out
    }
}

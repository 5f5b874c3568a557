//! The verdicts views draw: each cell's health qualified by its source's
//! state and marked by the firing alerts about it, each region's worst, and
//! what is known of a region's alert counts. Computed from the store on
//! demand (a dozen cells, a few hundred alerts at most).

use crate::model::SourceKind;
use crate::model::alert::{self, AlertRow, AlertState, Target};
use crate::model::cluster::Health;
use crate::model::rollout;
use crate::model::verdict::{self, RegionVerdict, Verdict};

use super::App;

/// What is known of a region's firing alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertKnowledge {
    /// Critical, warning and other firing alerts, as the sources last said.
    pub counts: (usize, usize, usize),
    /// The region's alert sources that are not live, with their state's
    /// word: while any is, the counts are not the whole truth.
    pub not_live: Vec<(String, &'static str)>,
    /// Alert sources in the region.
    pub sources: usize,
}

impl AlertKnowledge {
    /// Whether every alert source of the region is live: only then are the
    /// counts what they say.
    pub fn complete(&self) -> bool {
        self.sources > 0 && self.not_live.is_empty()
    }
}

/// A region's frontend in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendCell {
    /// The cluster.
    pub cluster: String,
    /// Its verdict (the text names the colour, tag, ready and serving pods).
    pub verdict: Verdict,
}

/// Maps a firing alert's severity to the health it gives its cell.
pub(crate) fn severity(a: &AlertRow) -> Option<Health> {
    match a.rank() {
        0 => Some(Health::Crit),
        1 => Some(Health::Warn),
        _ => None,
    }
}

impl App {
    /// The names of databases and caches, and of AI services, as alert
    /// targets know them.
    pub(crate) fn target_names(&self) -> (Vec<&str>, Vec<&str>) {
        let p = &self.platform;
        let data = p
            .databases
            .iter()
            .map(|d| d.name.get_ref().as_str())
            .chain(p.caches.iter().map(|c| c.name.get_ref().as_str()))
            .collect();
        let ai = p
            .ai_services
            .iter()
            .map(|a| a.name.get_ref().as_str())
            .collect();
        (data, ai)
    }

    /// Firing (not silenced, not pending) alerts among `rows` of `region`
    /// whose target `about` accepts, as `(name, health)`.
    fn alerts_about(
        &self,
        rows: &[&AlertRow],
        region: &str,
        about: impl Fn(&AlertRow, &Target) -> bool,
    ) -> Vec<(String, Health)> {
        let (data, ai) = self.target_names();
        rows.iter()
            .copied()
            .filter(|a| a.region == region && a.state() == AlertState::Firing)
            .filter_map(|a| {
                let health = severity(a)?;
                let target = alert::target(a, &data, &ai)?;
                about(a, &target).then(|| (a.name.clone(), health))
            })
            .collect()
    }

    /// The verdict of a cluster, database, cache or AI service cell, or of
    /// an alert or metrics source (whose verdict is its own health).
    pub fn cell(&self, region: &str, kind: SourceKind, name: &str) -> Verdict {
        self.cell_among(&self.store.alert_rows(), region, kind, name)
    }

    /// [`App::cell`], the alerts given.
    fn cell_among(
        &self,
        rows: &[&AlertRow],
        region: &str,
        kind: SourceKind,
        name: &str,
    ) -> Verdict {
        let state = self.store.source(region, kind, name);
        let data = match kind {
            SourceKind::Cluster => self.store.cluster(name).map(|c| c.summary(self.now).health),
            SourceKind::Database
            | SourceKind::Cache
            | SourceKind::AiService
            | SourceKind::Traffic => self.store.data_health(region, kind, name),
            SourceKind::Alerts | SourceKind::Metrics => Some((Health::Ok, "answering".to_owned())),
        };
        let v = Verdict::judge(state, data);
        let alerts = self.alerts_about(rows, region, |a, t| {
            self.marks_cell(region, kind, name, a, t)
        });
        v.with_alerts(alerts)
    }

    /// Whether a firing alert `a` about `t` marks the cell `kind name` of
    /// `region`: a pod, workload or node of the cluster (by its `cluster`
    /// label, or the region's only cluster); a database or cache by its name
    /// or CloudWatch identifier; an AI service by name.
    pub(crate) fn marks_cell(
        &self,
        region: &str,
        kind: SourceKind,
        name: &str,
        a: &AlertRow,
        t: &Target,
    ) -> bool {
        match kind {
            SourceKind::Cluster => {
                let in_region = self
                    .platform
                    .clusters
                    .iter()
                    .filter(|c| c.region.get_ref() == region)
                    .count();
                let ours = a.label("cluster").map_or(in_region == 1, |c| c == name);
                ours && matches!(t, Target::Pod(..) | Target::Workload(_) | Target::Node(_))
            }
            SourceKind::Database | SourceKind::Cache => {
                // By its name or its CloudWatch identifier, exactly: a
                // database name inside a server (`datname`) names no cell.
                let identifier = self.cloudwatch_identifier(kind, name);
                matches!(t, Target::Data(d) if d == name || identifier.is_some_and(|i| d == i))
            }
            SourceKind::AiService => matches!(t, Target::Ai(x) if x == name),
            SourceKind::Alerts | SourceKind::Metrics | SourceKind::Traffic => false,
        }
    }

    /// Whether a firing alert `a` about `t` marks the frontend release
    /// `label` in `cluster`: a workload or pod of the release, of that
    /// cluster (by its `cluster` label) or of any.
    pub(crate) fn marks_frontend(label: &str, cluster: &str, a: &AlertRow, t: &Target) -> bool {
        let ours = a.label("cluster").is_none_or(|x| x == cluster);
        let of_release =
            |n: &str| n == label || n.strip_prefix(label).is_some_and(|r| r.starts_with('-'));
        ours && match t {
            Target::Workload(w) => of_release(w),
            Target::Pod(_, p) => of_release(p),
            _ => false,
        }
    }

    /// The region's frontend release in each of its clusters: live colour,
    /// ready / desired, the ready pods behind its Services. A Service that
    /// sends traffic to no ready pod, or a live colour without ready pods,
    /// is failing; a firing alert about the release marks it.
    pub fn frontend_cells(&self, region: &str) -> Vec<FrontendCell> {
        self.frontend_among(&self.store.alert_rows(), region)
    }

    fn frontend_among(&self, rows: &[&AlertRow], region: &str) -> Vec<FrontendCell> {
        let Some(label) = self.platform.frontend.as_deref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in self
            .platform
            .clusters
            .iter()
            .filter(|c| c.region.get_ref() == region)
        {
            let name = c.name.get_ref();
            let state = self.store.source(region, SourceKind::Cluster, name);
            let data = self.store.cluster(name).map(|cluster| {
                let releases = rollout::releases(cluster);
                let release = releases.iter().find(|r| r.app == label);
                match release.and_then(|r| r.live_deployment().map(|d| (r, d))) {
                    None => (Health::Crit, format!("{label}: no live colour in {name}")),
                    Some((r, d)) => {
                        let serving: Vec<usize> = r.routes.iter().map(|x| x.ready_pods).collect();
                        let most = serving.iter().copied().max().unwrap_or(0);
                        let health = if serving.contains(&0) || d.ready == 0 {
                            Health::Crit
                        } else if d.ready < d.desired {
                            Health::Warn
                        } else {
                            Health::Ok
                        };
                        let empty_route = serving.contains(&0) && most > 0;
                        (
                            health,
                            format!(
                                "{label} {} {} {}/{} ready · {}",
                                d.color.as_deref().unwrap_or(""),
                                rollout::image_tag(&d.image),
                                d.ready,
                                d.desired,
                                if empty_route {
                                    "a Service routes to no ready pod".to_owned()
                                } else {
                                    format!("{most} pods serving")
                                }
                            ),
                        )
                    }
                }
            });
            let data = data.or_else(|| Some((Health::Unknown, format!("{label}: not listed yet"))));
            let alerts =
                self.alerts_about(rows, region, |a, t| Self::marks_frontend(label, name, a, t));
            out.push(FrontendCell {
                cluster: name.clone(),
                verdict: Verdict::judge(state, data).with_alerts(alerts),
            });
        }
        out
    }

    /// What is known of a region's firing alerts.
    pub fn alert_knowledge(&self, region: &str) -> AlertKnowledge {
        let sources: Vec<&crate::config::platform::AlertSource> = self
            .platform
            .alert_sources
            .iter()
            .filter(|a| a.region.get_ref() == region)
            .collect();
        let not_live = sources
            .iter()
            .map(|a| {
                let name = a.name.get_ref();
                (name, self.store.source(region, SourceKind::Alerts, name))
            })
            .filter(|(_, s)| !s.is_live())
            .map(|(n, s)| (n.clone(), s.word()))
            .collect();
        AlertKnowledge {
            counts: alert::counts(
                self.store
                    .alert_rows()
                    .into_iter()
                    .filter(|a| a.region == region),
            ),
            not_live,
            sources: sources.len(),
        }
    }

    /// Every cell of a region with what it is: clusters, databases, caches,
    /// AI services, alert and metrics sources, frontends. Not its pool in
    /// the global load balancer: the balancer serves every region, and
    /// its pools are the Failover pane's and the readiness checks'.
    pub fn region_cells(&self, region: &str) -> Vec<(String, Verdict)> {
        let rows = self.store.alert_rows();
        let mut cells = Vec::new();
        let mut add = |kind: SourceKind, name: &str, what: String| {
            cells.push((what, self.cell_among(&rows, region, kind, name)));
        };
        for id in self.platform.source_ids() {
            if id.region != region || id.kind == SourceKind::Traffic {
                continue;
            }
            let what = match id.kind {
                SourceKind::Alerts => format!("alerts {}", id.name),
                SourceKind::Metrics => "PromQL figures".to_owned(),
                _ => id.name.clone(),
            };
            add(id.kind, &id.name, what);
        }
        let frontends = self.frontend_among(&rows, region);
        let several = frontends.len() > 1;
        for f in frontends {
            let label = self.platform.frontend.clone().unwrap_or_default();
            // One key per cell in the changes log: two clusters' frontends
            // are two cells.
            let what = if several {
                format!("{label} ({})", f.cluster)
            } else {
                label
            };
            cells.push((what, f.verdict));
        }
        cells
    }

    /// A region's verdict: the worst of its cells and of its firing
    /// alerts, with the reasons.
    pub fn region_verdict(&self, region: &str) -> RegionVerdict {
        let cells = self.region_cells(region);
        let known = self.alert_knowledge(region);
        let (crit, warn, _) = known.counts;
        verdict::region(&cells, Some((crit, warn)))
    }
}

impl App {
    /// The CloudWatch identifier configured for a database or cache.
    fn cloudwatch_identifier(&self, kind: SourceKind, name: &str) -> Option<&str> {
        let cw = match kind {
            SourceKind::Database => self
                .platform
                .databases
                .iter()
                .find(|d| d.name.get_ref() == name)
                .and_then(|d| d.cloudwatch.as_ref()),
            SourceKind::Cache => self
                .platform
                .caches
                .iter()
                .find(|c| c.name.get_ref() == name)
                .and_then(|c| c.cloudwatch.as_ref()),
            _ => None,
        };
        cw.map(|c| c.identifier.as_str())
    }
}

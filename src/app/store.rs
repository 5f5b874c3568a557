//! The store: what the sources reported, folded in by [`Store::apply`],
//! and the questions views ask of it (primaries, merged alerts, counts).
//! Pure: no I/O, no UI state.

use std::collections::BTreeMap;

use crate::config::Platform;
use crate::model::alert::{self, AlertRow, AlertSnapshot, SilenceRow};
use crate::model::cluster::Health;
use crate::model::cluster::{ClusterState, ObjectRef};
use crate::model::data::{self, CloudWatchSeries, DataStatus, Figure, Thresholds};
use crate::model::{SourceId, SourceKind, SourceState, Update};

/// What every source reported last, and each source's health.
#[derive(Debug, Default)]
pub struct Store {
    sources: BTreeMap<SourceId, SourceState>,
    clusters: BTreeMap<String, ClusterState>,
    /// What each database, cache and AI service reported last.
    data: BTreeMap<SourceId, DataStatus>,
    /// PromQL figures per region.
    figures: BTreeMap<String, Vec<Figure>>,
    /// CloudWatch series of databases and caches.
    cloudwatch: BTreeMap<SourceId, CloudWatchSeries>,
    /// Each alert source's last snapshot.
    alerts: BTreeMap<SourceId, AlertSnapshot>,
    /// Alert sources in configured order, for a stable merge.
    alert_order: Vec<SourceId>,
    /// The health rules' thresholds.
    thresholds: Thresholds,
    /// Per data source, the threshold rules crossed and for how many polls
    /// in a row.
    holds: BTreeMap<SourceId, BTreeMap<&'static str, u32>>,
    /// The runbook's last runs, from the audit log.
    drills: crate::model::readiness::Drills,
    /// Each cluster's node groups as their cloud last reported them.
    cloud_groups: BTreeMap<String, crate::model::cluster::CloudGroups>,
}

/// What an update changed that the rest of the app cares about.
pub enum Applied {
    /// Only the store.
    Stored,
    /// Alerts changed: seen marks may need updating.
    Alerts,
    /// An object fetched for the detail view.
    Detail(ObjectRef, Result<String, String>),
    /// Lines or the end of a log view's stream: the view's, not the store's.
    Log(Update),
}

impl Store {
    /// An empty store with every configured source not connected.
    pub fn new(platform: &Platform) -> Store {
        Store {
            sources: platform
                .source_ids()
                .into_iter()
                .map(|id| (id, SourceState::NotConnected))
                .collect(),
            alert_order: platform
                .source_ids()
                .into_iter()
                .filter(|id| id.kind == SourceKind::Alerts)
                .collect(),
            thresholds: platform.thresholds.clone(),
            ..Store::default()
        }
    }

    /// Folds one update in.
    pub fn apply(&mut self, update: Update) -> Applied {
        match update {
            Update::Cluster { id, change } => {
                self.clusters.entry(id.name).or_default().apply(*change);
            }
            Update::Data { id, status } => {
                let crossed: Vec<&'static str> = data::findings(&status, &self.thresholds)
                    .0
                    .unwrap_or_default()
                    .iter()
                    .filter(|f| f.is_threshold())
                    .map(|f| f.rule)
                    .collect();
                let holds = self.holds.entry(id.clone()).or_default();
                holds.retain(|rule, _| crossed.contains(rule));
                for rule in crossed {
                    *holds.entry(rule).or_insert(0) += 1;
                }
                self.data.insert(id, *status);
            }
            Update::Figures { region, figures } => {
                self.figures.insert(region, figures);
            }
            Update::CloudWatch { id, series, at } => {
                self.cloudwatch.entry(id).or_default().fold(series, at);
            }
            Update::Alerts { id, snapshot } => {
                self.alerts.insert(id, snapshot);
                return Applied::Alerts;
            }
            Update::Detail { object, yaml } => return Applied::Detail(object, yaml),
            log @ (Update::LogLines { .. } | Update::LogEnded { .. }) => return Applied::Log(log),
            Update::SourceState { id, state } => {
                self.sources.insert(id, state);
            }
            Update::Drills(drills) => self.drills = drills,
            Update::CloudGroups { cluster, groups } => {
                self.cloud_groups.insert(cluster, groups);
            }
        }
        Applied::Stored
    }

    /// The runbook's last runs, as the audit log was last read.
    pub fn drills(&self) -> &crate::model::readiness::Drills {
        &self.drills
    }

    /// Every source and its health.
    pub fn sources(&self) -> &BTreeMap<SourceId, SourceState> {
        &self.sources
    }

    /// A source's health.
    pub fn source(&self, region: &str, kind: SourceKind, name: &str) -> &SourceState {
        self.sources
            .get(&SourceId::new(region, kind, name))
            .unwrap_or(&SourceState::NotConnected)
    }

    /// What is known of a cluster, once its source has listed it.
    pub fn cluster(&self, name: &str) -> Option<&ClusterState> {
        self.clusters.get(name)
    }

    /// A cluster's node groups as their cloud last reported them.
    pub fn cloud_groups(&self, cluster: &str) -> Option<&crate::model::cluster::CloudGroups> {
        self.cloud_groups.get(cluster)
    }

    /// What a database, cache or AI service reported last.
    pub fn data(&self, region: &str, kind: SourceKind, name: &str) -> Option<&DataStatus> {
        self.data.get(&SourceId::new(region, kind, name))
    }

    /// The health of a database, cache or AI service from its last reading,
    /// with hysteresis: a threshold crossed for fewer polls in a row than
    /// `hold_polls` is pending (said, in the warning role), not yet its
    /// colour; a state (down, a link or probe failing) counts at once.
    pub fn data_health(
        &self,
        region: &str,
        kind: SourceKind,
        name: &str,
    ) -> Option<(Health, String)> {
        let id = SourceId::new(region, kind, name);
        let status = self.data.get(&id)?;
        let (found, ok) = data::findings(status, &self.thresholds);
        let Some(found) = found else {
            return Some((Health::Unknown, "not probed yet".into()));
        };
        let need = *self.thresholds.hold_polls.get_ref();
        let held = |rule: &str| {
            self.holds
                .get(&id)
                .and_then(|h| h.get(rule))
                .copied()
                .unwrap_or(0)
        };
        let (confirmed, pending): (Vec<_>, Vec<_>) = found
            .into_iter()
            .partition(|f| !f.is_threshold() || held(f.rule) >= need);
        if !confirmed.is_empty() {
            return Some(data::worst(&confirmed, ok));
        }
        let worst_pending = pending.iter().rev().max_by_key(|f| f.health);
        Some(match worst_pending {
            Some(f) => (
                Health::Pending,
                format!("{}/{need} · {}", held(f.rule), f.why),
            ),
            None => (Health::Ok, ok.to_owned()),
        })
    }

    /// Every rule that holds for a source's last reading, with the polls
    /// in a row it has held (threshold rules) and how many it needs; `None`
    /// before a reading.
    pub fn rules(&self, id: &SourceId) -> Option<Vec<(data::Finding, Option<u32>)>> {
        let status = self.data.get(id)?;
        let (found, _) = data::findings(status, &self.thresholds);
        Some(
            found
                .unwrap_or_default()
                .into_iter()
                .map(|f| {
                    let held = f.is_threshold().then(|| {
                        self.holds
                            .get(id)
                            .and_then(|h| h.get(f.rule))
                            .copied()
                            .unwrap_or(0)
                    });
                    (f, held)
                })
                .collect(),
        )
    }

    /// A region's PromQL figures, once queried.
    pub fn figures(&self, region: &str) -> Option<&[Figure]> {
        self.figures.get(region).map(Vec::as_slice)
    }

    /// A database's or cache's CloudWatch series, once fetched.
    pub fn cloudwatch(
        &self,
        region: &str,
        kind: SourceKind,
        name: &str,
    ) -> Option<&CloudWatchSeries> {
        self.cloudwatch.get(&SourceId::new(region, kind, name))
    }

    /// The databases (or caches) that report themselves primary. More than
    /// one where a region is a standby's is a split brain: two sides taking
    /// writes.
    pub fn primaries(&self, kind: SourceKind) -> Vec<&SourceId> {
        self.data
            .iter()
            .filter(|(id, _)| id.kind == kind)
            // What a source last said before it stopped answering is no
            // claim to be primary now (the old primary after a failover).
            .filter(|(id, _)| self.source(&id.region, id.kind, &id.name).is_live())
            .filter(|(_, s)| match s {
                DataStatus::Database(d) => d.up && d.role.as_deref() == Some("primary"),
                DataStatus::Cache(c) => c.up && c.role.as_deref() == Some("master"),
                DataStatus::Ai(_) | DataStatus::Pool(_) => false,
            })
            .map(|(id, _)| id)
            .collect()
    }

    /// Every alert of every source, each once, active first, by severity
    /// then team (sources in configured order).
    pub fn alert_rows(&self) -> Vec<&AlertRow> {
        alert::merged(self.alert_order.iter().filter_map(|id| self.alerts.get(id)))
    }

    /// Alerts the sources sent that could not be read, all sources together.
    pub fn malformed_alerts(&self) -> usize {
        self.alerts.values().map(|s| s.malformed).sum()
    }

    /// The active silences of every source.
    pub fn silences(&self) -> impl Iterator<Item = &SilenceRow> {
        self.alerts.values().flat_map(|s| s.silences.iter())
    }

    /// Firing alerts of a region by severity (critical, warning, other),
    /// once one of its alert sources has reported; `None` before.
    pub fn alert_counts(&self, region: &str) -> Option<(usize, usize, usize)> {
        let reported = self.alerts.keys().any(|id| id.region == region);
        reported
            .then(|| alert::counts(self.alert_rows().into_iter().filter(|a| a.region == region)))
    }
}

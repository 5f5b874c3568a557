//! The platform's state as one document ([`Snapshot`]): every cell with
//! the verdict the console draws, the figures its panes show, the rules
//! that hold, the alerts, releases, flags, drift and DR readiness. Built
//! from the same store and the same verdicts as the panes, so the shell and
//! the screen say the same.

use std::time::SystemTime;

use crate::model::alert::{self, AlertRow};
use crate::model::cluster::Health;
use crate::model::data::{DataStatus, ReplicaLink};
use crate::model::readiness::Mark;
use crate::model::rollout;
use crate::model::snapshot::{
    self as snap, AiReading, AlertCounts, CacheReading, Cell, ClusterFigures, DatabaseReading,
    Held, Marking, ProbeAnswer, Replica, Rule, SCHEMA_VERSION, Snapshot,
};
use crate::model::verdict::{Level, Verdict};
use crate::model::{SourceId, SourceKind, SourceState};

use super::App;

fn seconds(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| String::new(), |t| t.to_string())
}

fn replicas(links: &[ReplicaLink]) -> Vec<Replica> {
    links
        .iter()
        .map(|l| Replica {
            name: l.name.clone(),
            state: l.state.clone(),
            lag_bytes: l.lag_bytes,
            lag_seconds: l.lag_seconds,
        })
        .collect()
}

impl App {
    /// The whole platform's state now; `did_not_answer` names the sources
    /// that neither answered nor failed while it was waited for.
    pub fn snapshot(&self, did_not_answer: Vec<String>) -> Snapshot {
        let regions = self
            .platform
            .regions
            .iter()
            .map(|r| self.snapshot_region(r))
            .collect();
        Snapshot {
            schema_version: SCHEMA_VERSION,
            taken_at: seconds(self.now),
            environment: self.platform.environment.clone(),
            regions,
            alerts: self.snapshot_alerts(),
            rollouts: self.snapshot_releases(),
            flags: self.snapshot_flags(),
            drift: self
                .region_drift()
                .into_iter()
                .map(|d| snap::Drift {
                    left: d.left,
                    right: d.right,
                    subject: d.drift.subject,
                    what: d.drift.what.to_owned(),
                    left_value: d.drift.left,
                    right_value: d.drift.right,
                    expected: d.drift.expected,
                })
                .collect(),
            readiness: self.snapshot_readiness(),
            did_not_answer,
        }
    }

    fn snapshot_region(&self, r: &crate::config::platform::Region) -> snap::Region {
        let name = r.name.get_ref();
        let verdict = self.region_verdict(name);
        let known = self.alert_knowledge(name);
        let mut region = snap::Region {
            name: name.clone(),
            display: r.display.clone(),
            role: match r.role {
                crate::config::platform::Role::Primary => "primary",
                crate::config::platform::Role::Dr => "dr",
            }
            .to_owned(),
            health: verdict.level,
            reasons: verdict.reasons,
            firing: AlertCounts {
                critical: known.counts.0,
                warning: known.counts.1,
                other: known.counts.2,
                complete: known.complete(),
            },
            clusters: Vec::new(),
            databases: Vec::new(),
            caches: Vec::new(),
            ai_services: Vec::new(),
            alert_sources: Vec::new(),
            metrics: None,
            frontends: Vec::new(),
            pool: None,
        };
        for id in self.platform.source_ids() {
            if &id.region != name {
                continue;
            }
            self.snapshot_source(&id, &mut region);
        }
        for f in self.frontend_cells(name) {
            let state = self.store.source(name, SourceKind::Cluster, &f.cluster);
            region
                .frontends
                .push(self.cell_of(&f.cluster, f.cluster.clone(), state, &f.verdict));
        }
        region
    }

    /// The cell of one source, with its figures, into its region.
    fn snapshot_source(&self, id: &SourceId, region: &mut snap::Region) {
        let verdict = self.cell(&id.region, id.kind, &id.name);
        let state = self.store.source(&id.region, id.kind, &id.name);
        let what = if id.kind == SourceKind::Traffic {
            "pool"
        } else {
            id.name.as_str()
        };
        let cell = self.cell_of(what, id.name.clone(), state, &verdict);
        let rules = || self.snapshot_rules(id);
        let data = self.store.data(&id.region, id.kind, &id.name);
        match id.kind {
            SourceKind::Cluster => region.clusters.push(snap::Cluster {
                cell,
                figures: self.store.cluster(&id.name).map(|c| {
                    let s = c.summary(self.now);
                    ClusterFigures {
                        nodes: s.nodes,
                        nodes_ready: s.nodes_ready,
                        deployments: s.deployments,
                        deployments_available: s.deployments_available,
                        pods: s.pods,
                        pods_not_ready: s.pods_not_ready,
                        pods_starting: s.pods_starting,
                        crash_looping: s.crash_looping,
                    }
                }),
            }),
            SourceKind::Database => region.databases.push(snap::Database {
                cell,
                rules: rules(),
                reading: match data {
                    Some(DataStatus::Database(d)) => Some(database_reading(d)),
                    _ => None,
                },
            }),
            SourceKind::Cache => region.caches.push(snap::Cache {
                cell,
                rules: rules(),
                reading: match data {
                    Some(DataStatus::Cache(c)) => Some(cache_reading(c)),
                    _ => None,
                },
            }),
            SourceKind::AiService => region.ai_services.push(snap::AiService {
                cell,
                rules: rules(),
                reading: match data {
                    Some(DataStatus::Ai(a)) => Some(ai_reading(a)),
                    _ => None,
                },
            }),
            SourceKind::Alerts => region.alert_sources.push(cell),
            SourceKind::Metrics => region.metrics = Some(cell),
            SourceKind::Traffic => {
                region.pool = Some(snap::Pool {
                    cell,
                    reading: match data {
                        Some(DataStatus::Pool(p)) => Some(snap::PoolReading {
                            pool: p.name.clone(),
                            enabled: p.enabled,
                            healthy: p.healthy,
                            origins_healthy: p.origins.0,
                            origins: p.origins.1,
                            failure: p.failure.clone(),
                        }),
                        _ => None,
                    },
                });
            }
        }
    }

    /// A cell: `what` names it in its reason, `name` in the document.
    fn cell_of(&self, what: &str, name: String, state: &SourceState, v: &Verdict) -> Cell {
        let age = state
            .since()
            .map(|t| self.now.duration_since(t).unwrap_or_default().as_secs());
        Cell {
            name,
            health: v.level(),
            reason: v.reason(what),
            source: snap::Source {
                state: state.word().to_owned(),
                age_seconds: age,
                error: state.failure().map(str::to_owned),
            },
            alerts: v
                .alerts
                .iter()
                .map(|(n, h)| Marking {
                    name: n.clone(),
                    health: Level::of(*h),
                })
                .collect(),
        }
    }

    /// Every rule that holds for a source's last reading.
    fn snapshot_rules(&self, id: &SourceId) -> Vec<Rule> {
        let need = *self.platform.thresholds.hold_polls.get_ref();
        self.store
            .rules(id)
            .unwrap_or_default()
            .into_iter()
            .map(|(f, held)| Rule {
                rule: f.rule.to_owned(),
                health: Level::of(f.health),
                why: f.why,
                held: held.map(|polls| Held { polls, needs: need }),
                counts: held.is_none_or(|polls| polls >= need),
            })
            .collect()
    }

    /// Every active alert, with the cell it marks.
    fn snapshot_alerts(&self) -> Vec<snap::Alert> {
        let (data, ai) = self.target_names();
        let label = self.platform.frontend.clone();
        self.store
            .alert_rows()
            .into_iter()
            .map(|a| snap::Alert {
                name: a.name.clone(),
                region: a.region.clone(),
                severity: a.severity.clone(),
                state: a.state().word().to_owned(),
                summary: a.summary.clone(),
                since: a.since.map(seconds),
                source: a.source.clone(),
                marks: alert::target(a, &data, &ai)
                    .filter(|_| super::verdicts::severity(a).is_some())
                    .and_then(|t| self.marked(a, &t, label.as_deref())),
                labels: a.labels.iter().cloned().collect(),
            })
            .collect()
    }

    /// The cell a firing alert marks (`database iworkz-production-postgres`).
    fn marked(&self, a: &AlertRow, t: &alert::Target, frontend: Option<&str>) -> Option<String> {
        if a.state() != alert::AlertState::Firing {
            return None;
        }
        let cell = self.platform.source_ids().into_iter().find(|id| {
            id.region == a.region && self.marks_cell(&id.region, id.kind, &id.name, a, t)
        });
        if let Some(id) = cell {
            return Some(format!("{} {}", id.kind.label(), id.name));
        }
        let label = frontend?;
        self.platform
            .clusters
            .iter()
            .filter(|c| c.region.get_ref() == &a.region)
            .find(|c| Self::marks_frontend(label, c.name.get_ref(), a, t))
            .map(|c| format!("frontend {label} ({})", c.name.get_ref()))
    }

    fn snapshot_releases(&self) -> Vec<snap::Release> {
        let mut out = Vec::new();
        for c in &self.platform.clusters {
            let name = c.name.get_ref();
            let Some(state) = self.store.cluster(name) else {
                continue;
            };
            for r in rollout::releases(state) {
                out.push(snap::Release {
                    cluster: name.clone(),
                    namespace: r.namespace.to_owned(),
                    app: r.app.to_owned(),
                    live: r.live().map(str::to_owned),
                    colours: r
                        .colours
                        .iter()
                        .map(|d| {
                            let st = rollout::rollout_state(d);
                            snap::Colour {
                                colour: d.color.clone().unwrap_or_default(),
                                deployment: d.name.clone(),
                                tag: rollout::image_tag(&d.image).to_owned(),
                                ready: d.ready,
                                desired: d.desired,
                                rollout: match st.detail() {
                                    "" => st.word().to_owned(),
                                    why => format!("{}: {why}", st.word()),
                                },
                            }
                        })
                        .collect(),
                });
            }
        }
        out
    }

    fn snapshot_flags(&self) -> Vec<snap::Flag> {
        self.rollout_flags()
            .into_iter()
            .map(|(cluster, f)| snap::Flag {
                region: self
                    .platform
                    .clusters
                    .iter()
                    .find(|c| c.name.get_ref() == &cluster)
                    .map(|c| c.region.get_ref().clone())
                    .unwrap_or_default(),
                cluster,
                health: Level::of(if f.health == Health::Crit {
                    Health::Crit
                } else {
                    Health::Warn
                }),
                subject: f.subject,
                text: f.text,
            })
            .collect()
    }

    fn snapshot_readiness(&self) -> Vec<snap::Readiness> {
        self.readiness()
            .into_iter()
            .map(|r| {
                let (mark, verdict) = r.verdict();
                snap::Readiness {
                    region: r.region.clone(),
                    from: r.from.clone(),
                    to: r.to.clone(),
                    ready: matches!(mark, Mark::Ok | Mark::Warn),
                    mark: mark.word().to_owned(),
                    verdict,
                    checks: r
                        .checks
                        .iter()
                        .map(|c| snap::ReadinessCheck {
                            area: c.area.to_owned(),
                            subject: c.subject.clone(),
                            mark: c.mark.word().to_owned(),
                            why: c.why.clone(),
                            age_seconds: c
                                .as_of
                                .map(|t| self.now.duration_since(t).unwrap_or_default().as_secs()),
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

fn database_reading(d: &crate::model::data::DbStatus) -> DatabaseReading {
    DatabaseReading {
        via: d.via.to_owned(),
        up: d.up,
        role: d.role.clone(),
        version: d.version.clone(),
        connections: d.connections.map(|c| c.0),
        max_connections: d.connections.map(|c| c.1),
        longest_transaction_seconds: d.longest_transaction.map(|t| t.as_secs_f64()),
        replicas: replicas(&d.replicas),
        replay_lag_seconds: d.replay_lag,
        wal_receiver: d.wal_receiver.clone(),
        replay_paused: d.replay_paused,
    }
}

fn cache_reading(c: &crate::model::data::CacheStatus) -> CacheReading {
    CacheReading {
        via: c.via.to_owned(),
        up: c.up,
        role: c.role.clone(),
        clients: c.clients,
        memory_bytes: c.memory.map(|m| m.0),
        max_memory_bytes: c.memory.map(|m| m.1),
        hit_rate: c.hit_rate,
        ops_per_second: c.ops,
        evictions_per_second: c.evictions,
        replicas: replicas(&c.replicas),
        link_up: c.link_up,
    }
}

fn ai_reading(a: &crate::model::data::AiStatus) -> AiReading {
    let probe = |p: &crate::model::data::Probe| ProbeAnswer {
        status: p.outcome.as_ref().ok().copied(),
        error: p.outcome.as_ref().err().cloned(),
        latency_seconds: p.latency.as_secs_f64(),
    };
    AiReading {
        health: a.health.as_ref().map(probe),
        ready: a.ready.as_ref().map(probe),
        p95_inference_seconds: a.p95_inference,
        accuracy: a.accuracy,
        error_rate: a.error_rate,
        metrics_error: a.metrics_error.clone(),
    }
}

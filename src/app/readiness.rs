//! DR readiness, assembled from the store and the config: for the primary
//! region and each DR region, the checks of [`crate::model::readiness`]
//! on what the sources read last. Computed on demand, like the verdicts.

use std::fmt::Write as _;
use std::time::SystemTime;

use crate::config::platform::{Cluster, Region, ReplicationKind, Role};
use crate::model::SourceKind;
use crate::model::cluster::ClusterState;
use crate::model::data::DataStatus;
use crate::model::readiness::{self, Check, Mark, Pair, Readiness, Resources};
use crate::model::rollout;

use super::App;

impl App {
    /// Each DR region's readiness to take over from the primary region;
    /// empty without a primary and a DR region.
    pub fn readiness(&self) -> Vec<Readiness> {
        let p = &self.platform;
        let Some(from) = p.regions.iter().find(|r| r.role == Role::Primary) else {
            return Vec::new();
        };
        p.regions
            .iter()
            .filter(|r| r.role == Role::Dr)
            .map(|to| self.readiness_of(from, to))
            .collect()
    }

    fn readiness_of(&self, from: &Region, to: &Region) -> Readiness {
        let mut checks = Vec::new();
        let rpo = self.replication_checks(from, to, &mut checks);
        checks.extend(self.cache_checks(from, to));
        checks.extend(self.capacity_check(from, to));
        checks.extend(self.drift_checks(from, to));
        checks.push(self.reachable_check(to));
        checks.extend(self.traffic_checks(from, to));
        checks.push(readiness::drill(
            self.store.drills(),
            from.name.get_ref(),
            to.name.get_ref(),
            self.now,
        ));
        Readiness {
            region: to.name.get_ref().clone(),
            from: from.display.clone(),
            to: to.display.clone(),
            checks,
            rpo,
        }
    }

    /// The replication pairs from `from` to `to`, and the hazard of two
    /// primaries; returns the worst lag with its RPO.
    fn replication_checks(
        &self,
        from: &Region,
        to: &Region,
        checks: &mut Vec<Check>,
    ) -> Option<(f64, u64)> {
        let p = &self.platform;
        let db = |region: &str, name: &str| {
            let read = match self.store.data(region, SourceKind::Database, name) {
                Some(DataStatus::Database(d)) => Some(d),
                _ => None,
            };
            (self.store.source(region, SourceKind::Database, name), read)
        };
        let mut worst: Option<(f64, u64)> = None;
        let mut any = false;
        for (r, primary, replica) in p.pairs_between(from.name.get_ref(), to.name.get_ref()) {
            any = true;
            let pair = Pair {
                replica: replica.name.get_ref(),
                kind: r.kind.word(),
                logical: r.kind == ReplicationKind::Logical,
                rpo: *r.rpo_seconds.get_ref(),
                subscription: r.subscription.as_deref(),
                primary: db(primary.region.get_ref(), primary.name.get_ref()),
                replica_read: db(replica.region.get_ref(), replica.name.get_ref()),
            };
            let (check, lag) = readiness::replication(&pair);
            checks.push(check);
            checks.extend(readiness::two_primaries(&pair, primary.name.get_ref()));
            if let Some(lag) = lag {
                #[allow(clippy::cast_precision_loss)]
                let share = |(l, rpo): (f64, u64)| l / rpo as f64;
                if worst.is_none_or(|w| share((lag, pair.rpo)) > share(w)) {
                    worst = Some((lag, pair.rpo));
                }
            }
        }
        if !any {
            checks.push(Check {
                area: "replication",
                subject: "databases".into(),
                mark: Mark::Unknown,
                why: format!(
                    "no [[replication]] pair from {} to {}: nothing says what would take over",
                    from.display, to.display
                ),
                as_of: None,
            });
        }
        worst
    }

    fn cache_checks(&self, from: &Region, to: &Region) -> Vec<Check> {
        let caches = &self.platform.caches;
        let primary = caches
            .iter()
            .filter(|c| c.region.get_ref() == from.name.get_ref())
            .count();
        let dr: Vec<_> = caches
            .iter()
            .filter(|c| c.region.get_ref() == to.name.get_ref())
            .map(|c| {
                let (region, name) = (c.region.get_ref(), c.name.get_ref());
                let read = match self.store.data(region, SourceKind::Cache, name) {
                    Some(DataStatus::Cache(c)) => Some(c),
                    _ => None,
                };
                (
                    name.as_str(),
                    self.store.source(region, SourceKind::Cache, name),
                    read,
                )
            })
            .collect();
        readiness::caches(primary, &dr, &to.display)
    }

    /// The global load balancer's pools of both regions and the failback
    /// hazard; nothing without `[traffic]`.
    fn traffic_checks(&self, from: &Region, to: &Region) -> Vec<Check> {
        use crate::config::platform::TRAFFIC;
        let Some(t) = &self.platform.traffic else {
            return Vec::new();
        };
        let pool = |r: &Region| {
            let name = r.name.get_ref();
            t.pools.iter().any(|p| p.region.get_ref() == name).then(|| {
                let read = match self.store.data(name, SourceKind::Traffic, TRAFFIC) {
                    Some(DataStatus::Pool(s)) => Some(s),
                    _ => None,
                };
                (self.store.source(name, SourceKind::Traffic, TRAFFIC), read)
            })
        };
        // Whether the DR side's databases were promoted, as read live.
        let (mut promoted, mut standing, mut untold) = (Vec::new(), Vec::new(), Vec::new());
        for (r, _, replica) in self
            .platform
            .pairs_between(from.name.get_ref(), to.name.get_ref())
        {
            let name = replica.name.get_ref().as_str();
            // A logical subscriber is writable by design and its
            // publisher stays so after a failover: the roles say nothing.
            if r.kind == ReplicationKind::Logical {
                untold.push(format!(
                    "{name} is fed logically: both ends accept writes, so their roles do not say which one serves; keep {}'s pool disabled once {} takes over",
                    from.display, to.display
                ));
                continue;
            }
            let (region, db) = (replica.region.get_ref(), replica.name.get_ref());
            let state = self.store.source(region, SourceKind::Database, db);
            let role = match self.store.data(region, SourceKind::Database, db) {
                Some(DataStatus::Database(d)) if d.up => d.role.as_deref(),
                _ => None,
            };
            match (readiness::current(state), role) {
                (Ok(_), Some("primary")) => promoted.push(name),
                (Ok(_), Some(_)) => standing.push(name),
                (Ok(_), None) => untold.push(format!("{name} reports no role")),
                (Err(why), _) => untold.push(format!("{name} {why}")),
            }
        }
        let dr_promoted = if !promoted.is_empty() && !standing.is_empty() {
            Err((
                Mark::Fail,
                format!(
                    "half a failover: {} promoted, {} not",
                    promoted.join(", "),
                    standing.join(", ")
                ),
            ))
        } else if let Some(why) = untold.first() {
            let logical = untold.iter().all(|u| u.contains("fed logically"));
            Err((
                if logical { Mark::Warn } else { Mark::Unknown },
                why.clone(),
            ))
        } else if !promoted.is_empty() {
            Ok(true)
        } else if !standing.is_empty() {
            Ok(false)
        } else {
            Err((
                Mark::Unknown,
                format!(
                    "no [[replication]] pair from {} to {}",
                    from.display, to.display
                ),
            ))
        };
        readiness::traffic(
            &readiness::Pools {
                from: pool(from),
                to: pool(to),
                dr_promoted,
            },
            &from.display,
            &to.display,
        )
    }

    /// A cluster's rows and when they were read, if its source is live;
    /// with `last_known`, also the last rows of a source that is not
    /// (`false` in the middle: not live). Else why not.
    fn read_cluster(
        &self,
        c: &Cluster,
        last_known: bool,
    ) -> Result<(SystemTime, bool, &ClusterState), String> {
        let name = c.name.get_ref();
        let state = self
            .store
            .source(c.region.get_ref(), SourceKind::Cluster, name);
        match (readiness::current(state), self.store.cluster(name)) {
            (Ok(at), Some(k)) => Ok((at, true, k)),
            (Ok(_), None) => Err(format!("{name}: not listed yet")),
            (Err(_), Some(k)) if last_known && state.since().is_some() => {
                Ok((state.since().unwrap_or(SystemTime::UNIX_EPOCH), false, k))
            }
            (Err(why), _) => Err(format!("{name}: {why}")),
        }
    }

    fn clusters_of(&self, r: &Region) -> Vec<&Cluster> {
        self.platform
            .clusters
            .iter()
            .filter(|c| c.region.get_ref() == r.name.get_ref())
            .collect()
    }

    /// What `to`'s nodes offer now and at their node groups' maxima,
    /// against what the live deployments of `from` request (as last known,
    /// and said so, when its cluster does not answer: the load to take
    /// over is the one it had).
    fn capacity_check(&self, from: &Region, to: &Region) -> Option<Check> {
        let mut as_of: Option<SystemTime> = None;
        let mut need = Resources::default();
        let mut now = Resources::default();
        let mut at_max = Resources::default();
        let mut grows = false;
        let mut cannot_size = Vec::new();
        let mut last_known = Vec::new();
        for c in self
            .clusters_of(from)
            .into_iter()
            .chain(self.clusters_of(to))
        {
            let primary = c.region.get_ref() == from.name.get_ref();
            let (at, live, cluster) = match self.read_cluster(c, primary) {
                Ok(read) => read,
                Err(why) => {
                    return Some(Check {
                        area: "capacity",
                        subject: to.display.clone(),
                        mark: Mark::Unknown,
                        why,
                        as_of: None,
                    });
                }
            };
            as_of = Some(as_of.map_or(at, |a| a.min(at)));
            if primary {
                if !live {
                    last_known.push(c.name.get_ref().as_str());
                }
                let workloads = rollout::workloads(cluster);
                need = need.plus(Resources::requested(workloads.values().copied()));
                continue;
            }
            let offered = Resources::offered(cluster.nodes.values());
            now = now.plus(offered);
            let (headroom, no_size) = group_headroom(c, cluster);
            grows |= !c.node_groups.is_empty();
            at_max = at_max.plus(offered).plus(headroom);
            cannot_size.extend(no_size);
        }
        let at_max = grows.then_some(at_max);
        let mut check = readiness::capacity(&from.display, &to.display, need, now, at_max, as_of?);
        if !cannot_size.is_empty() {
            let _ = write!(
                check.why,
                " · no node to size {} by",
                cannot_size.join(", ")
            );
        }
        if !last_known.is_empty() {
            let _ = write!(
                check.why,
                " · by {}'s last known load ({} not answering)",
                from.display,
                last_known.join(", ")
            );
            // Never ok on what is not live.
            if check.mark == Mark::Ok {
                check.mark = Mark::Warn;
            }
        }
        Some(check)
    }

    /// Images and ConfigMaps that differ between each cluster of `from`
    /// (as last known, and said so, when it does not answer) and each of
    /// `to`, and HPA faults in `to`.
    fn drift_checks(&self, from: &Region, to: &Region) -> Vec<Check> {
        let mut out = Vec::new();
        let unknown = |area, subject: String, why: String| Check {
            area,
            subject,
            mark: Mark::Unknown,
            why,
            as_of: None,
        };
        for b in self.clusters_of(to) {
            let korea = b.name.get_ref();
            let (at_b, right) = match self.read_cluster(b, false) {
                Ok((at, _, k)) => (at, k),
                Err(why) => {
                    out.push(unknown("drift", korea.clone(), why.clone()));
                    out.push(unknown("hpa", korea.clone(), why));
                    continue;
                }
            };
            for a in self.clusters_of(from) {
                let pair = format!("{}→{korea}", a.name.get_ref());
                let (at_a, live, left) = match self.read_cluster(a, true) {
                    Ok(read) => read,
                    Err(why) => {
                        out.push(unknown("drift", pair, why));
                        continue;
                    }
                };
                let found: Vec<String> = rollout::drift(left, right, true)
                    .into_iter()
                    .filter(|d| matches!(d.what, "image" | "data"))
                    .map(|d| format!("{} {} {} ≠ {}", d.subject, d.what, d.left, d.right))
                    .collect();
                let mut check = listed(
                    "drift",
                    pair,
                    &found,
                    "images and ConfigMaps agree",
                    at_a.min(at_b),
                );
                if !live {
                    let _ = write!(check.why, " · against {} as last known", a.name.get_ref());
                    // Never ok on what is not live.
                    if check.mark == Mark::Ok {
                        check.mark = Mark::Warn;
                    }
                }
                out.push(check);
            }
            let releases = rollout::releases(right);
            let faults: Vec<String> = right
                .hpas
                .values()
                .filter_map(|h| {
                    rollout::hpa_fault(right, &releases, h)
                        .map(|f| format!("{}/{} {f}", h.namespace, h.name))
                })
                .collect();
            out.push(listed(
                "hpa",
                korea.clone(),
                &faults,
                "every HPA targets a live deployment",
                at_b,
            ));
        }
        out
    }

    /// Whether `to`'s every source answers: its API servers, databases,
    /// caches, AI services' health URLs, alert and metrics sources.
    fn reachable_check(&self, to: &Region) -> Check {
        let mut failing = Vec::new();
        let mut unknown = Vec::new();
        let mut answering = 0;
        let mut as_of: Option<SystemTime> = None;
        for id in self.platform.source_ids() {
            // The global load balancer answers for no region.
            if &id.region != to.name.get_ref() || id.kind == SourceKind::Traffic {
                continue;
            }
            let state = self.store.source(&id.region, id.kind, &id.name);
            match readiness::current(state) {
                Ok(at) => {
                    answering += 1;
                    as_of = Some(as_of.map_or(at, |a| a.min(at)));
                }
                Err(why) if state.is_failing() => failing.push(format!("{} {why}", id.name)),
                Err(why) => unknown.push(format!("{} {why}", id.name)),
            }
        }
        let (mark, why) = if !failing.is_empty() {
            (Mark::Fail, failing.join("; "))
        } else if !unknown.is_empty() {
            (Mark::Unknown, unknown.join("; "))
        } else if answering == 0 {
            (
                Mark::Unknown,
                format!("nothing configured in {}", to.display),
            )
        } else {
            (
                Mark::Ok,
                if answering == 1 {
                    "its one source answers".to_owned()
                } else {
                    format!("all {answering} sources answer")
                },
            )
        };
        Check {
            area: "reachable",
            subject: to.display.clone(),
            mark,
            why,
            as_of,
        }
    }
}

/// What a cluster's node groups can add to the nodes it has now: each
/// group's nodes up to its maximum, the size of its largest node; and the
/// groups without a node to size by (counted as adding nothing).
fn group_headroom(c: &Cluster, cluster: &ClusterState) -> (Resources, Vec<String>) {
    let mut headroom = Resources::default();
    let mut no_size = Vec::new();
    for g in &c.node_groups {
        let members: Vec<_> = cluster
            .nodes
            .values()
            .filter(|n| &n.group == g.name.get_ref())
            .collect();
        let Some((cpu, memory)) = members.iter().map(|n| n.allocatable).max() else {
            if g.max > 0 {
                no_size.push(g.name.get_ref().clone());
            }
            continue;
        };
        let more =
            u64::from(g.max).saturating_sub(u64::try_from(members.len()).unwrap_or(u64::MAX));
        headroom = headroom.plus(Resources {
            cpu: cpu.saturating_mul(more),
            memory: memory.saturating_mul(more),
            count: more,
        });
    }
    (headroom, no_size)
}

/// A check that is ok when nothing was found, and warns with the first
/// two findings (and how many more) otherwise.
fn listed(
    area: &'static str,
    subject: String,
    found: &[String],
    ok: &str,
    as_of: SystemTime,
) -> Check {
    let (mark, why) = match found {
        [] => (Mark::Ok, ok.to_owned()),
        [one] => (Mark::Warn, one.clone()),
        [a, b] => (Mark::Warn, format!("{a}; {b}")),
        [a, b, rest @ ..] => (Mark::Warn, format!("{a}; {b} (+{} more)", rest.len())),
    };
    Check {
        area,
        subject,
        mark,
        why,
        as_of: Some(as_of),
    }
}

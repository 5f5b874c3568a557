//! The region runbook as one job's request: its parts (actions the
//! executor plans and verifies one by one) from the config and what the
//! sources read last, and what it leaves to the operator, said.

use crate::config::platform::{Region, ReplicationKind, Role, TRAFFIC};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::rollout;

use super::App;

/// A part of the runbook.
fn part(kind: ActionKind, target: Target) -> ActionRequest {
    ActionRequest {
        kind,
        target,
        dry_run: false,
    }
}

impl App {
    /// The request for the DR region `dr` (by its name in the config; the
    /// only DR region when empty) to take over from the primary: Korea's
    /// workloads scaled to Tokyo's replicas (an HPA's minimum raised where
    /// one scales them), each replication pair's replica promoted as its
    /// kind allows, Tokyo's pool disabled, Korea's pool to serve; or why
    /// there is no such request.
    pub fn region_request(&self, dr: &str) -> Result<ActionRequest, String> {
        let p = &self.platform;
        let (from, to) = self.regions(dr, "over to")?;
        let (mut parts, mut by_hand) = self.scale_parts(from, to);
        let (data, hand) = self.data_parts(from, to);
        parts.extend(data);
        by_hand.extend(hand);
        by_hand.extend(self.cache_lines(from, to));
        let mut serving = None;
        match &p.traffic {
            Some(_) => {
                let pool = |r: &Region| self.pool_target(r);
                match pool(from) {
                    Some(old) => parts.push(part(ActionKind::TrafficPool { enabled: false }, old)),
                    None => by_hand.push(format!(
                        "{} has no pool in [traffic]: move its users by hand",
                        from.display
                    )),
                }
                serving = pool(to).map(Box::new);
            }
            None => by_hand.push(
                "no [traffic] load balancer: move DNS or the balancer by hand, disabling the old region"
                    .into(),
            ),
        }
        let (from, to) = (from.name.get_ref().clone(), to.name.get_ref().clone());
        Ok(ActionRequest {
            target: Target {
                region: to.clone(),
                cluster: from.clone(),
                namespace: String::new(),
                kind: ObjectKind::Region,
                name: to.clone(),
            },
            kind: ActionKind::RegionFailover {
                from,
                to,
                parts,
                serving,
                by_hand,
                back: false,
                undo: false,
            },
            dry_run: false,
        })
    }

    /// Region `r`'s pool in the global load balancer, as an action's
    /// target, if `[traffic]` has one.
    fn pool_target(&self, r: &Region) -> Option<Target> {
        let t = self.platform.traffic.as_ref()?;
        t.pools
            .iter()
            .find(|x| x.region.get_ref() == r.name.get_ref())
            .map(|x| Target {
                region: r.name.get_ref().clone(),
                cluster: TRAFFIC.to_owned(),
                namespace: t.account.get_ref().clone(),
                kind: ObjectKind::Pool,
                name: x.id.get_ref().clone(),
            })
    }

    /// The primary region and the DR region `dr` (the only one when
    /// empty), or why there are not both; `moving`: how the runbook moves
    /// (`over to`, `back from`), for the error.
    fn regions(&self, dr: &str, moving: &str) -> Result<(&Region, &Region), String> {
        let p = &self.platform;
        let primary = p.regions.iter().find(|r| r.role == Role::Primary).ok_or(
            "no primary region is configured: there is no region to fail over from or back to",
        )?;
        let drs: Vec<&Region> = p
            .regions
            .iter()
            .filter(|r| r.role == Role::Dr && (dr.is_empty() || r.name.get_ref() == dr))
            .collect();
        match drs.as_slice() {
            [one] => Ok((primary, *one)),
            [] if dr.is_empty() => Err("no DR region is configured".into()),
            [] => Err(format!("{dr} is not a DR region of the config")),
            _ => Err(format!("name the DR region to fail {moving}")),
        }
    }

    /// Step 5's cache: what the runbook leaves to the operator. A DR
    /// cache is configured as a cache of its own (its URL the DR server,
    /// a replica of the primary region's), and `:cache-promote` is for a
    /// cache whose primary is gone: its promotion is by hand. With no
    /// cache in the DR region the step is skipped, and said.
    fn cache_lines(&self, from: &Region, to: &Region) -> Vec<String> {
        let caches = &self.platform.caches;
        let at = |r: &Region| {
            caches
                .iter()
                .filter(|c| c.region.get_ref() == r.name.get_ref())
                .map(|c| c.name.get_ref().as_str())
                .collect::<Vec<_>>()
        };
        let (theirs, ours) = (at(from), at(to));
        if ours.is_empty() {
            return if theirs.is_empty() {
                Vec::new()
            } else {
                vec![format!(
                    "no cache in {}: the cache step is skipped; the applications start on an empty cache",
                    to.display
                )]
            };
        }
        ours.iter()
            .map(|name| {
                format!(
                    "cache {name} in {}: once the database is promoted, make it a primary (REPLICAOF NO ONE on it, or the cloud's promotion) and re-point what reads it",
                    to.display
                )
            })
            .collect()
    }

    /// Step 2: each workload of `to` below `from`'s replicas, scaled (or
    /// its HPA's minimum raised); what cannot be, said.
    fn scale_parts(&self, from: &Region, to: &Region) -> (Vec<ActionRequest>, Vec<String>) {
        let clusters = |r: &Region| -> Vec<_> {
            self.platform
                .clusters
                .iter()
                .filter(|c| c.region.get_ref() == r.name.get_ref())
                .collect()
        };
        let mut parts: Vec<ActionRequest> = Vec::new();
        let mut wanted = Vec::new();
        let mut by_hand = vec![format!(
            "node groups: grow {}'s in the cloud's console where the capacity check says so (touban does not resize node groups)",
            to.display
        )];
        for a in clusters(from) {
            let Some(left) = self.store.cluster(a.name.get_ref()) else {
                by_hand.push(format!(
                    "{}: not listed yet: scale by hand",
                    a.name.get_ref()
                ));
                continue;
            };
            for b in clusters(to) {
                let Some(right) = self.store.cluster(b.name.get_ref()) else {
                    by_hand.push(format!(
                        "{}: not listed yet: scale by hand",
                        b.name.get_ref()
                    ));
                    continue;
                };
                let theirs = rollout::workloads(right);
                for (key, d) in rollout::workloads(left) {
                    let Some(k) = theirs.get(&key) else {
                        by_hand.push(format!(
                            "{key}: not in {}: deploy it there",
                            b.name.get_ref()
                        ));
                        continue;
                    };
                    if k.desired >= d.desired {
                        continue;
                    }
                    let want = u32::try_from(d.desired).unwrap_or(0);
                    let target = |kind, name: &str| Target {
                        region: to.name.get_ref().clone(),
                        cluster: b.name.get_ref().clone(),
                        namespace: k.namespace.clone(),
                        kind,
                        name: name.to_owned(),
                    };
                    let hpa = right.hpas.values().find(|h| {
                        h.namespace == k.namespace
                            && h.target_kind == "Deployment"
                            && h.target == k.name
                    });
                    let part = match hpa {
                        Some(h) => part(
                            ActionKind::HpaBounds {
                                min: Some(want),
                                max: (h.max < d.desired).then_some(want),
                            },
                            target(ObjectKind::HorizontalPodAutoscaler, &h.name),
                        ),
                        None => part(
                            ActionKind::Scale { replicas: want },
                            target(ObjectKind::Deployment, &k.name),
                        ),
                    };
                    wanted.push(part);
                }
            }
        }
        // One part per DR-side object, at the most any primary cluster
        // runs: two parts on one object would each plan from the same
        // read, and the second fail once the first wrote.
        for p in wanted {
            let want = |r: &ActionRequest| match r.kind {
                ActionKind::Scale { replicas } => replicas,
                ActionKind::HpaBounds { min, .. } => min.unwrap_or(0),
                _ => 0,
            };
            match parts
                .iter_mut()
                .find(|q: &&mut ActionRequest| q.target == p.target)
            {
                Some(q) if want(q) < want(&p) => *q = p,
                Some(_) => {}
                None => parts.push(p),
            }
        }
        (parts, by_hand)
    }

    /// Steps 3 to 5: each pair's replica promoted as its kind and reach
    /// allow (planned where the primary answers); what cannot be, said.
    fn data_parts(&self, from: &Region, to: &Region) -> (Vec<ActionRequest>, Vec<String>) {
        let mut parts = Vec::new();
        let mut by_hand = Vec::new();
        for (r, primary, replica) in self
            .platform
            .pairs_between(from.name.get_ref(), to.name.get_ref())
        {
            let (pname, rname) = (primary.name.get_ref(), replica.name.get_ref());
            let answers = self.answers_as_primary(primary);
            let reach =
                |d: &crate::config::platform::Database| d.action.is_some() || d.direct.is_some();
            let direct = reach(primary) && reach(replica);
            let target = Target {
                region: replica.region.get_ref().clone(),
                cluster: rname.clone(),
                namespace: String::new(),
                kind: ObjectKind::Database,
                name: rname.clone(),
            };
            let kind = match r.kind {
                ReplicationKind::AzureReplica if replica.azure.is_some() => {
                    if answers {
                        by_hand.push(format!(
                            "fence {pname} before the promotion (stop its writers, or `:fence {pname}` where touban reaches it directly): Azure's promotion does not"
                        ));
                    }
                    Some(ActionKind::PromoteReplica {
                        primary: pname.clone(),
                        forced: !answers,
                    })
                }
                ReplicationKind::Physical if direct => Some(if answers {
                    ActionKind::Switchover {
                        primary: pname.clone(),
                        subscription: None,
                    }
                } else {
                    ActionKind::Promote {
                        primary: pname.clone(),
                        subscription: None,
                    }
                }),
                ReplicationKind::Logical if direct && answers => Some(ActionKind::Switchover {
                    primary: pname.clone(),
                    subscription: r.subscription.clone(),
                }),
                ReplicationKind::Logical if direct => Some(ActionKind::Promote {
                    primary: pname.clone(),
                    subscription: r.subscription.clone(),
                }),
                ReplicationKind::RdsReplica if replica.rds.is_some() => {
                    if answers {
                        by_hand.push(format!(
                            "fence {pname} before the promotion (stop its writers, or `:fence {pname}` where touban reaches it directly): RDS's promotion does not"
                        ));
                    }
                    Some(ActionKind::RdsPromote)
                }
                _ => None,
            };
            if let Some(kind) = kind {
                parts.push(part(kind, target));
                parts.extend(repoint_parts(replica));
            } else {
                by_hand.push(format!(
                    "promote {rname} ({} pair) in its cloud's console or CLI: touban cannot act on it as configured (`touban drill` says what it needs)",
                    r.kind.word()
                ));
                if !replica.consumers.is_empty() {
                    by_hand.push(format!(
                        "once {rname} is promoted, re-point its applications ([[databases.consumers]]) and restart them"
                    ));
                }
            }
        }
        (parts, by_hand)
    }
}

impl App {
    /// The request to fail back from the DR region `dr` (by its name in
    /// the config; the only DR region when empty), which serves, to the
    /// primary region: the primary's workloads scaled to the DR region's
    /// replicas; each physical pair the old primary was resynced as the
    /// DR database's replica (by the operator, waited for), the roles
    /// switched back, the applications re-pointed; the primary's pool
    /// enabled and verified serving. Refused while the primary's pool is
    /// enabled: then nothing was failed over.
    pub fn failback_request(&self, dr: &str) -> Result<ActionRequest, String> {
        let p = &self.platform;
        let (home, from) = self.regions(dr, "back from")?;
        let (mut parts, mut by_hand) = self.scale_parts(from, home);
        let (data, hand) = self.back_parts(home, from);
        parts.extend(data);
        by_hand.extend(hand);
        let mut serving = None;
        if p.traffic.is_some() {
            use crate::model::SourceKind;
            use crate::model::data::DataStatus;
            let name = home.name.get_ref();
            let target = self.pool_target(home).ok_or_else(|| {
                format!(
                    "{} has no pool in [traffic]: move its users back by hand",
                    home.display
                )
            })?;
            let read = self
                .store
                .source(name, SourceKind::Traffic, TRAFFIC)
                .is_live()
                .then(|| self.store.data(name, SourceKind::Traffic, TRAFFIC))
                .flatten();
            match read {
                Some(DataStatus::Pool(s)) if s.enabled => {
                    return Err(format!(
                        "{}'s pool {} is enabled: {} serves, there is nothing to fail back (`:failover-region` moves users away)",
                        home.display, s.name, home.display
                    ));
                }
                Some(DataStatus::Pool(_)) => {}
                _ => {
                    return Err(format!(
                        "{}'s pool is not read live yet: whether its users were moved away is not known; try again when the Failover pane shows it",
                        home.display
                    ));
                }
            }
            parts.push(part(
                ActionKind::TrafficPool { enabled: true },
                target.clone(),
            ));
            serving = Some(Box::new(target));
            by_hand.push(format!(
                "{}'s pool stays enabled: the balancer's fallback should {} fail again",
                from.display, home.display
            ));
        } else {
            by_hand
                .push("no [traffic] load balancer: move DNS or the balancer back by hand".into());
        }
        let (from, to) = (from.name.get_ref().clone(), home.name.get_ref().clone());
        Ok(ActionRequest {
            target: Target {
                region: to.clone(),
                cluster: from.clone(),
                namespace: String::new(),
                kind: ObjectKind::Region,
                name: to.clone(),
            },
            kind: ActionKind::RegionFailover {
                from,
                to,
                parts,
                serving,
                by_hand,
                back: true,
                undo: false,
            },
            dry_run: false,
        })
    }

    /// Failing back, each replication pair from `home` (the primary
    /// region) to `dr`: a physical pair touban reaches directly is
    /// resynced (the old primary rebuilt as the DR database's replica,
    /// by the operator, waited for), switched back, and both regions'
    /// applications re-pointed at the old primary; any other, said.
    fn back_parts(&self, home: &Region, dr: &Region) -> (Vec<ActionRequest>, Vec<String>) {
        // Every resync first: the gate before the first switchover back
        // comes once every pair is rebuilt.
        let mut resyncs = Vec::new();
        let mut parts = Vec::new();
        let mut by_hand = Vec::new();
        for (r, primary, replica) in self
            .platform
            .pairs_between(home.name.get_ref(), dr.name.get_ref())
        {
            let (pname, rname) = (primary.name.get_ref(), replica.name.get_ref());
            let source = replica
                .direct
                .as_ref()
                .and_then(|d| crate::exec::actions::repoint::host_of(d.url.get_ref()));
            let reach =
                |d: &crate::config::platform::Database| d.action.is_some() || d.direct.is_some();
            let (ReplicationKind::Physical, true, Some(source)) =
                (r.kind, reach(primary) && reach(replica), source)
            else {
                by_hand.push(format!(
                    "{pname} ({} pair): rebuild it from {rname} and switch the roles back by the cloud's or the database's own means, then re-point the applications: touban switches back only physical pairs it reaches directly",
                    r.kind.word()
                ));
                continue;
            };
            let target = Target {
                region: primary.region.get_ref().clone(),
                cluster: pname.clone(),
                namespace: String::new(),
                kind: ObjectKind::Database,
                name: pname.clone(),
            };
            resyncs.push(part(
                ActionKind::Resync {
                    primary: rname.clone(),
                    source: source.to_owned(),
                    rpo_seconds: *r.rpo_seconds.get_ref(),
                },
                target.clone(),
            ));
            parts.push(part(
                ActionKind::Switchover {
                    primary: rname.clone(),
                    subscription: None,
                },
                target,
            ));
            // The primary region's applications, and the DR region's
            // (pointed at their own database by the failover), back at
            // the old primary.
            parts.extend(repoint_parts(primary));
            // The address its own applications are given, else its
            // direct one.
            let home_host = primary
                .consumers
                .iter()
                .find_map(|c| c.host.as_ref().map(|h| h.get_ref().clone()))
                .or_else(|| {
                    primary
                        .direct
                        .as_ref()
                        .and_then(|d| crate::exec::actions::repoint::host_of(d.url.get_ref()))
                        .map(str::to_owned)
                });
            parts.extend(repoint_to(replica, |_| home_host.clone()));
            by_hand.push(format!(
                "afterwards rebuild {rname} as {pname}'s replica (pg_basebackup -R from {pname}) for {} to be ready again: the Failover pane's readiness says when",
                dr.display
            ));
        }
        resyncs.extend(parts);
        (resyncs, by_hand)
    }
}

/// Step 5, after a promotion: each consumer of the promoted database
/// re-pointed at it and restarted.
fn repoint_parts(db: &crate::config::platform::Database) -> Vec<ActionRequest> {
    repoint_to(db, |c| db.consumer_host(c))
}

/// Each consumer of `db` re-pointed at the address `host` gives it, and
/// restarted. A deployment that reads more than one of the keys is
/// restarted once, by the last part that names it: after every key it
/// reads is written (one restart time per plan: a second restart at it
/// would be skipped as done).
fn repoint_to(
    db: &crate::config::platform::Database,
    host: impl Fn(&crate::config::platform::Consumer) -> Option<String>,
) -> Vec<ActionRequest> {
    let consumers = &db.consumers;
    consumers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let (kind, name) = c.object();
            let later = |d: &String| {
                consumers.iter().skip(i + 1).any(|o| {
                    o.cluster.get_ref() == c.cluster.get_ref()
                        && o.namespace == c.namespace
                        && o.restart.contains(d)
                })
            };
            let restart = c.restart.iter().filter(|d| !later(d)).cloned().collect();
            Some(part(
                ActionKind::Repoint {
                    key: c.key.clone(),
                    host: host(c)?,
                    restart,
                },
                Target {
                    region: db.region.get_ref().clone(),
                    cluster: c.cluster.get_ref().clone(),
                    namespace: c.namespace.clone(),
                    kind,
                    name: name.to_owned(),
                },
            ))
        })
        .collect()
}

/// A region that has taken over, as read live: who serves, from whom,
/// and what says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeover {
    /// The DR region that serves, as shown (`Seoul`).
    pub to: String,
    /// The primary it took over from, as shown (`Tokyo`).
    pub from: String,
    /// What was read that says so: the pools, the promoted databases.
    pub evidence: String,
}

impl App {
    /// The DR region that serves in the primary's place, if one does as
    /// the sources read now: the primary's pool disabled, the DR
    /// region's enabled and healthy, and every replica it has of the
    /// primary's databases a primary (a logical subscriber, writable
    /// either way, does not count). Needs `[traffic]`: without a balancer
    /// touban cannot tell who gets the users.
    pub fn takeover(&self) -> Option<Takeover> {
        use crate::model::SourceKind;
        use crate::model::data::DataStatus;
        let p = &self.platform;
        let t = p.traffic.as_ref()?;
        let from = p.regions.iter().find(|r| r.role == Role::Primary)?;
        let pool = |r: &Region| {
            let name = r.name.get_ref();
            t.pools.iter().find(|x| x.region.get_ref() == name)?;
            if !self
                .store
                .source(name, SourceKind::Traffic, TRAFFIC)
                .is_live()
            {
                return None;
            }
            match self.store.data(name, SourceKind::Traffic, TRAFFIC) {
                Some(DataStatus::Pool(s)) => Some(s.clone()),
                _ => None,
            }
        };
        let old = pool(from).filter(|s| !s.enabled)?;
        p.regions
            .iter()
            .filter(|r| r.role == Role::Dr)
            .find_map(|to| {
                let new = pool(to).filter(|s| s.enabled && s.healthy == Some(true))?;
                let mut promoted = Vec::new();
                for (r, _, replica) in p.pairs_between(from.name.get_ref(), to.name.get_ref()) {
                    if r.kind == ReplicationKind::Logical {
                        continue;
                    }
                    let (region, name) = (replica.region.get_ref(), replica.name.get_ref());
                    let primary = self.store.source(region, SourceKind::Database, name).is_live()
                        && matches!(
                            self.store.data(region, SourceKind::Database, name),
                            Some(DataStatus::Database(d)) if d.up && d.role.as_deref() == Some("primary")
                        );
                    if !primary {
                        return None;
                    }
                    promoted.push(format!("{name} primary"));
                }
                let mut evidence = vec![
                    format!("{} disabled", old.name),
                    format!("{} {}", new.name, new.summary()),
                ];
                evidence.extend(promoted);
                Some(Takeover {
                    to: to.display.clone(),
                    from: from.display.clone(),
                    evidence: evidence.join(", "),
                })
            })
    }
}

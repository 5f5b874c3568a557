//! The region runbook's plan for a DR region, from the config and what
//! the sources read last: each step with the objects it would touch and
//! their live values (replicas, the database pair and its lag, the
//! pools), and how it is done today ([`crate::model::runbook`]).

use std::fmt::Write as _;

use crate::config::platform::{Region, ReplicationKind, Role};
use crate::model::SourceKind;
use crate::model::data::DataStatus;
use crate::model::readiness::{Mark, Readiness};
use crate::model::rollout;
use crate::model::runbook::{How, Step};

use super::App;

impl App {
    /// The runbook's plan for the DR region `dr` (its name in the config)
    /// to take over from the primary, with `readiness`, its readiness now;
    /// empty without a primary or with no such DR region.
    pub fn runbook(&self, dr: &str, readiness: &Readiness) -> Vec<Step> {
        let p = &self.platform;
        let (Some(from), Some(to)) = (
            p.regions.iter().find(|r| r.role == Role::Primary),
            p.regions
                .iter()
                .find(|r| r.role == Role::Dr && r.name.get_ref() == dr),
        ) else {
            return Vec::new();
        };
        let mut steps = vec![self.lease_step(to), self.scale_step(from, to, readiness)];
        steps.extend(self.data_steps(from, to, readiness));
        steps.push(self.traffic_step(from, to));
        steps.push(self.verify_step(to));
        steps.push(Step {
            n: 0,
            title: "record the recovery time (RTO) and the data-loss window (RPO)".into(),
            does: vec![format!(
                "RTO from step 1 until {} serves; RPO from the lag when {}'s writes stopped",
                to.display, from.display
            )],
            how: vec![How::ByHand(
                "the runbook job will write them to the audit log; this drill is written there now"
                    .into(),
            )],
        });
        for (n, s) in (1..).zip(&mut steps) {
            s.n = n;
        }
        steps
    }

    fn lease_step(&self, to: &Region) -> Step {
        let does = match self.platform.coordination() {
            Some((cluster, _, namespace)) => vec![format!(
                "Lease touban.region.{} in {cluster}/{namespace}: no other console starts a job on the region meanwhile",
                to.name.get_ref()
            )],
            None => vec!["no coordination cluster configured: no Lease can be held".into()],
        };
        Step {
            n: 0,
            title: "take the region lease and freeze deploys".into(),
            does,
            how: vec![How::ByHand(
                "the runbook is not an executor job yet: agree in the incident channel that no one deploys until it ends"
                    .into(),
            )],
        }
    }

    /// Korea's deployments to Tokyo's replica counts, workload by workload
    /// (a release by its live colour), and the capacity for them.
    fn scale_step(&self, from: &Region, to: &Region, readiness: &Readiness) -> Step {
        let clusters = |r: &Region| -> Vec<_> {
            self.platform
                .clusters
                .iter()
                .filter(|c| c.region.get_ref() == r.name.get_ref())
                .collect()
        };
        let mut does = Vec::new();
        let mut to_scale = 0;
        for a in clusters(from) {
            let Some(left) = self.store.cluster(a.name.get_ref()) else {
                does.push(format!("{}: not listed yet", a.name.get_ref()));
                continue;
            };
            let stale = !self
                .store
                .source(a.region.get_ref(), SourceKind::Cluster, a.name.get_ref())
                .is_live();
            for b in clusters(to) {
                let Some(right) = self.store.cluster(b.name.get_ref()) else {
                    does.push(format!("{}: not listed yet", b.name.get_ref()));
                    continue;
                };
                let theirs = rollout::workloads(right);
                for (key, d) in rollout::workloads(left) {
                    let line = match theirs.get(&key) {
                        None => {
                            format!("{key}: not in {}: deploy it there first", b.name.get_ref())
                        }
                        Some(k) if k.desired >= d.desired => {
                            format!("{key}: {} at {} already", k.name, k.desired)
                        }
                        Some(k) => {
                            to_scale += 1;
                            format!(
                                "{key}: {} {} → {} replicas (as {} in {})",
                                k.name,
                                k.desired,
                                d.desired,
                                d.name,
                                a.name.get_ref()
                            )
                        }
                    };
                    does.push(line);
                }
            }
            if stale {
                does.push(format!(
                    "by {}'s last known replicas ({} not answering)",
                    from.display,
                    a.name.get_ref()
                ));
            }
        }
        if let Some(c) = readiness.checks.iter().find(|c| c.area == "capacity") {
            does.push(format!("capacity: {} ({})", c.why, c.mark.word()));
        }
        let how = if to_scale == 0 {
            vec![How::Skipped(format!(
                "{} runs as many replicas as {} already",
                to.display, from.display
            ))]
        } else {
            vec![How::Executor(format!(
                ":scale N on each of the {to_scale} in the Cluster pane (each planned, confirmed and verified); node groups grown in the cloud console first where capacity says so"
            ))]
        };
        Step {
            n: 0,
            title: format!("scale {} up to {}'s load", to.display, from.display),
            does,
            how,
        }
    }

    /// Steps 3 to 5: fence the primary's writes, wait for the replica,
    /// promote it (and fail the cache over), per replication pair.
    fn data_steps(&self, from: &Region, to: &Region, readiness: &Readiness) -> [Step; 3] {
        let mut fence = Step {
            n: 0,
            title: format!("fence {}'s writes", from.display),
            does: Vec::new(),
            how: Vec::new(),
        };
        let mut wait = Step {
            n: 0,
            title: "wait for replication to catch up (planned) or state the loss bound".into(),
            does: Vec::new(),
            how: Vec::new(),
        };
        let mut promote = Step {
            n: 0,
            title: format!("promote {}'s database; fail the cache over", to.display),
            does: Vec::new(),
            how: Vec::new(),
        };
        for (r, primary, replica) in self
            .platform
            .pairs_between(from.name.get_ref(), to.name.get_ref())
        {
            let (f, w, c, how) = self.pair_lines(r, primary, replica, readiness);
            fence.does.push(f);
            wait.does.push(w);
            promote.does.push(c);
            for s in [&mut fence, &mut wait, &mut promote] {
                s.how.push(how.clone());
            }
            for c in &replica.consumers {
                let (kind, name) = c.object();
                let noun: &'static str = kind.into();
                let host = replica
                    .consumer_host(c)
                    .unwrap_or_else(|| "(no host)".into());
                promote.does.push(format!(
                    "then re-point {} of {noun} {}/{name} in {} at {host}{}",
                    c.key,
                    c.namespace,
                    c.cluster.get_ref(),
                    if c.restart.is_empty() {
                        String::new()
                    } else {
                        format!(", restart {}", c.restart.join(", "))
                    }
                ));
            }
        }
        if promote.does.is_empty() {
            let none = format!(
                "no [[replication]] pair from {} to {}",
                from.display, to.display
            );
            for s in [&mut fence, &mut wait, &mut promote] {
                s.does.push(none.clone());
                s.how
                    .push(How::ByHand("say in [[replication]] what takes over".into()));
            }
        }
        for c in readiness.checks.iter().filter(|c| c.area == "cache") {
            if c.mark == Mark::Skip {
                promote.how.push(How::Skipped(c.why.clone()));
            } else {
                promote.does.push(format!("cache {}: {}", c.subject, c.why));
                promote
                    .how
                    .push(How::Executor(format!(":cache-failover {}", c.subject)));
            }
        }
        [fence, wait, promote]
    }

    /// A replication pair's lines for the fence, the wait and the
    /// promotion, and how the three are done.
    fn pair_lines(
        &self,
        r: &crate::config::platform::Replication,
        primary: &crate::config::platform::Database,
        replica: &crate::config::platform::Database,
        readiness: &Readiness,
    ) -> (String, String, String, How) {
        let (pname, rname) = (primary.name.get_ref(), replica.name.get_ref());
        let answers = self.answers_as_primary(primary);
        // The executor acts with the action login, else the monitoring one.
        let reach =
            |d: &crate::config::platform::Database| d.action.is_some() || d.direct.is_some();
        let direct = reach(primary) && reach(replica);
        let lag = readiness
            .checks
            .iter()
            .find(|c| c.area == "replication" && c.subject == *rname)
            .map_or_else(|| "not read".to_owned(), |c| c.why.clone());
        let (fence, wait) = if answers {
            (
                format!(
                    "{pname}: default_transaction_read_only on, its sessions ended (stops well-behaved clients; revoking the application role's CONNECT is the stronger fence)"
                ),
                format!("{rname}: {lag}"),
            )
        } else {
            (
                format!(
                    "{pname} does not answer as a primary: unplanned, nothing to fence now (fence it when it returns: :fence {pname})"
                ),
                format!(
                    "{rname}: what {pname} committed after {rname}'s last replay is lost; the bound: {lag}"
                ),
            )
        };
        let (call, by) = match r.kind {
            ReplicationKind::Physical => (
                format!("pg_promote on {rname}, then a write checked"),
                direct,
            ),
            ReplicationKind::Logical => (
                format!(
                    "disable subscription {} on {rname}, advance its sequences past {}, then a write checked",
                    r.subscription.as_deref().unwrap_or("(its only one)"),
                    if answers {
                        format!("{pname}'s")
                    } else {
                        format!("the highest ids {rname} holds, by a gap ({pname} cannot be read)")
                    }
                ),
                direct,
            ),
            ReplicationKind::AzureReplica => {
                let call = format!(
                    "promote read replica {rname} to a standalone server through Azure Resource Manager ({}), then its exporter read as a primary",
                    if answers { "Planned" } else { "Forced" }
                );
                if replica.azure.is_some() {
                    let how = How::Executor(if answers {
                        format!(
                            ":switchover {rname} (step 5: a Planned promotion through Azure; step 3's fence is not in it)"
                        )
                    } else {
                        format!(":promote {rname} (step 5: a Forced promotion through Azure)")
                    });
                    return (fence, wait, call, how);
                }
                (call, false)
            }
            ReplicationKind::RdsReplica => {
                let call = format!(
                    "PromoteReadReplica {rname} (Amazon RDS), followed until it is standalone and available"
                );
                if replica.rds.is_some() {
                    let how = How::Executor(format!(
                        ":rds-promote {rname} (step 5; step 3's fence is not in it)"
                    ));
                    return (fence, wait, call, how);
                }
                (call, false)
            }
        };
        let command = if answers { "switchover" } else { "promote" };
        let how = if by {
            How::Executor(format!(
                ":{command} {rname} ({} in one job: fence, wait, promote, verify)",
                if answers {
                    "steps 3 to 5"
                } else {
                    "steps 4 and 5"
                }
            ))
        } else {
            How::ByHand(format!(
                "the {} pair is promoted in its cloud's console or CLI: not in the executor yet{}",
                r.kind.word(),
                match r.kind {
                    ReplicationKind::AzureReplica => format!(
                        "; give {rname} azure = {{ server, token }} in [[databases]] for touban to promote it"
                    ),
                    _ if direct => String::new(),
                    _ => "; touban needs `action` (or `direct`) on both ends to act on PostgreSQL"
                        .to_owned(),
                }
            ))
        };
        (fence, wait, call, how)
    }

    /// Whether `db` answers, live, as a primary: a planned switchover
    /// can fence it; else the promotion is unplanned.
    pub(super) fn answers_as_primary(&self, db: &crate::config::platform::Database) -> bool {
        let (region, name) = (db.region.get_ref(), db.name.get_ref());
        self.store
            .source(region, SourceKind::Database, name)
            .is_live()
            && matches!(
                self.store.data(region, SourceKind::Database, name),
                Some(DataStatus::Database(d)) if d.up && d.role.as_deref() == Some("primary")
            )
    }

    fn traffic_step(&self, from: &Region, to: &Region) -> Step {
        use crate::config::platform::TRAFFIC;
        let title = format!(
            "switch traffic: disable {}'s pool in the global load balancer",
            from.display
        );
        let Some(t) = &self.platform.traffic else {
            return Step {
                n: 0,
                title,
                does: vec!["no [traffic] load balancer configured".into()],
                how: vec![How::ByHand(
                    "move DNS or the load balancer by hand; disable the old region rather than mark it unhealthy, or traffic fails back"
                        .into(),
                )],
            };
        };
        let pool = |r: &Region| {
            let name = r.name.get_ref();
            let configured = t.pools.iter().any(|p| p.region.get_ref() == name);
            let read = match self.store.data(name, SourceKind::Traffic, TRAFFIC) {
                Some(DataStatus::Pool(s)) => Some(s),
                _ => None,
            };
            let answering = self
                .store
                .source(name, SourceKind::Traffic, TRAFFIC)
                .is_live();
            (configured, read, answering)
        };
        let mut does = Vec::new();
        let mut how = Vec::new();
        for (r, wanted) in [(from, false), (to, true)] {
            let (configured, read, answering) = pool(r);
            let name = r.name.get_ref();
            let mut line = match (configured, read) {
                (false, _) => format!("{}: no pool in [traffic]", r.display),
                (true, None) => format!("{}'s pool: not read yet", r.display),
                (true, Some(s)) if s.enabled == wanted => {
                    format!("{}: {} (as wanted)", s.name, s.summary())
                }
                (true, Some(s)) => {
                    how.push(How::Executor(format!(
                        ":{}-pool {name}",
                        if wanted { "enable" } else { "disable" }
                    )));
                    format!(
                        "{}: {} → {}",
                        s.name,
                        s.summary(),
                        if wanted { "enabled" } else { "disabled" }
                    )
                }
            };
            if configured && !answering && read.is_some() {
                let _ = write!(line, " (last known: not read live)");
            }
            does.push(line);
        }
        if how.is_empty() {
            how.push(How::Skipped(
                "the pools are as the runbook leaves them".into(),
            ));
        }
        Step {
            n: 0,
            title,
            does,
            how,
        }
    }

    fn verify_step(&self, to: &Region) -> Step {
        let name = to.name.get_ref();
        let verdict = self.region_verdict(name);
        let mut does = vec![format!(
            "{}'s column: {}{}",
            to.display,
            verdict.level.word(),
            verdict
                .reasons
                .first()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )];
        for a in self
            .platform
            .ai_services
            .iter()
            .filter(|a| a.region.get_ref() == name)
        {
            does.push(format!(
                "{} health and readiness answer (its source's probes)",
                a.name.get_ref()
            ));
        }
        if let Some(frontend) = &self.platform.frontend {
            does.push(format!(
                "{frontend}: a live colour with ready pods behind its Services"
            ));
        }
        Step {
            n: 0,
            title: format!(
                "verify {} serves: health answers, errors and alerts settle",
                to.display
            ),
            does,
            how: vec![How::ByHand(format!(
                "watch {}'s column in the Overview until it is ok: the runbook job that waits for it is not in the executor yet",
                to.display
            ))],
        }
    }
}

//! A Redis failover to the most caught-up replica, planned from the
//! primary as it is now. Without Sentinel it is Redis's own coordinated
//! `FAILOVER TO` (6.2 and later): the primary pauses writes, waits until
//! the replica has its offset, and the two swap roles, so nothing written
//! is lost; behind Sentinel it is `SENTINEL FAILOVER`, which chooses the
//! replica itself (the plan names the likeliest) and re-points the rest.
//! Either way the job follows it until the new primary answers as one.

use std::time::Duration;

use super::Seen;
use crate::exec::backend::redis::FAILOVER_MS;
use crate::exec::backend::{CacheReading, CacheReplica};
use crate::exec::step::{CacheOp, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the new primary may take to answer as one.
pub const PROMOTED: Duration = Duration::from_secs(60);

/// The steps of a failover from `c`'s primary to `to`.
fn steps(name: &str, c: &CacheReading, to: &CacheReplica) -> Vec<PlannedStep> {
    let behind = c.offset.saturating_sub(to.offset);
    let (call, expect) = if c.sentinel {
        (
            "SENTINEL FAILOVER (the Sentinel picks the replica and re-points the others)"
                .to_owned(),
            "the Sentinel answers OK".to_owned(),
        )
    } else {
        (
            format!(
                "FAILOVER TO {} TIMEOUT {FAILOVER_MS} on {}",
                to.addr.replace(':', " "),
                c.primary
            ),
            format!(
                "writes paused until {} has the primary's offset, then roles swapped (within {} s)",
                to.addr,
                FAILOVER_MS / 1000
            ),
        )
    };
    vec![
        PlannedStep::new(
            format!(
                "check {} is {name}'s primary and {} is online",
                c.primary, to.addr
            ),
            StepKind::Check,
            &format!("Redis {}", c.version),
            "INFO replication",
            &format!("{} at offset {}, {behind} bytes behind", to.addr, to.offset),
        ),
        PlannedStep::new(
            format!("fail {name} over from {} to {}", c.primary, to.addr),
            StepKind::Mutate,
            &format!("{} is the primary", c.primary),
            &call,
            &expect,
        ),
        PlannedStep::new(
            format!("wait until {name}'s new primary answers as one"),
            StepKind::Verify,
            "the failover started",
            "INFO replication on the primary named now",
            &format!(
                "a primary other than {} (which replicates from it), within {} s",
                c.primary,
                PROMOTED.as_secs()
            ),
        ),
    ]
}

/// The plan for failing the target cache over.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let c = match &seen.cache {
        Some(Ok(c)) => c,
        Some(Err(why)) => {
            return Err(Refusal::instead(
                format!("cannot read {name}'s primary: {why}; nothing was changed"),
                format!(
                    "if its primary is down, :cache-promote {name} promotes its most caught-up configured replica (REPLICAOF NO ONE; the others re-pointed)"
                ),
            ));
        }
        None => return Err(Refusal::new("the cache was not read: a defect of touban")),
    };
    if c.role != "master" {
        return Err(Refusal::new(format!(
            "{name}: {} answers as {}, not as the primary; nothing was changed",
            c.primary, c.role
        )));
    }
    if c.failover_state
        .as_deref()
        .is_some_and(|s| s != "no-failover")
    {
        return Err(Refusal::new(format!(
            "{name}: a failover is under way already ({}); nothing was changed",
            c.failover_state.as_deref().unwrap_or_default()
        )));
    }
    let Some(to) = c
        .replicas
        .iter()
        .filter(|r| r.state == "online")
        .max_by_key(|r| r.offset)
    else {
        return Err(Refusal::new(format!(
            "{name}: {} has no online replica to fail over to ({} listed); nothing was changed",
            c.primary,
            c.replicas.len()
        )));
    };
    let how = if c.sentinel {
        "behind Sentinel"
    } else {
        "coordinated FAILOVER"
    };
    let steps = steps(name, c, to);
    let plan = Plan {
        request: request.clone(),
        title: format!("fail {name} over from {} ({how})", c.primary),
        steps,
        confirm_text: Some(name.clone()),
        undo: Some(format!(
            "fail it over again (the old primary {} is a replica then)",
            c.primary
        )),
        reason: None,
        changes: vec![
            format!("{name}: primary {} → {}", c.primary, to.addr),
            format!(
                "clients connected to {} are disconnected; those that follow Sentinel or re-resolve find the new primary",
                c.primary
            ),
        ],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    let (primary, to) = (c.primary.clone(), to.addr.clone());
    Ok(Job {
        plan,
        ops: vec![
            Op::Cache(CacheOp::Expect {
                primary: primary.clone(),
                to: to.clone(),
            }),
            Op::Cache(CacheOp::Failover {
                primary: primary.clone(),
                to,
            }),
            Op::Cache(CacheOp::AwaitPrimary {
                from: primary,
                within: PROMOTED,
            }),
        ],
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::CacheFailover,
            target: Target {
                region: "tokyo".into(),
                cluster: "cache".into(),
                namespace: String::new(),
                kind: ObjectKind::Cache,
                name: "cache".into(),
            },
            dry_run: false,
        }
    }

    fn seen(c: CacheReading) -> Seen {
        Seen {
            cache: Some(Ok(c)),
            ..Seen::default()
        }
    }

    #[test]
    fn the_most_caught_up_online_replica_is_chosen() {
        let replica = |addr: &str, state: &str, offset| CacheReplica {
            addr: addr.into(),
            state: state.into(),
            offset,
        };
        let c = CacheReading {
            primary: "10.0.0.1:6379".into(),
            role: "master".into(),
            offset: 100,
            replicas: vec![
                replica("10.0.0.2:6379", "online", 90),
                replica("10.0.0.3:6379", "online", 99),
                replica("10.0.0.4:6379", "wait_bgsave", 100),
            ],
            ..CacheReading::default()
        };
        let job = plan(&request(), &seen(c.clone())).expect("a plan");
        assert!(
            matches!(&job.ops[1], Op::Cache(CacheOp::Failover { to, .. }) if to == "10.0.0.3:6379")
        );
        assert!(
            job.plan.steps[1]
                .call
                .starts_with("FAILOVER TO 10.0.0.3 6379")
        );
        let lonely = CacheReading {
            replicas: vec![],
            ..c.clone()
        };
        assert!(plan(&request(), &seen(lonely)).is_err());
        let replica_read = CacheReading {
            role: "slave".into(),
            ..c
        };
        assert!(plan(&request(), &seen(replica_read)).is_err());
    }
}

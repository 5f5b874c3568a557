//! Amazon RDS, planned from the instance as `DescribeDBInstances` reports
//! it now. A Multi-AZ failover reboots the instance with `ForceFailover`:
//! the synchronous standby in the other zone takes over, nothing committed
//! is lost, and connections drop while the endpoint's DNS moves (AWS
//! documents 60–120 s). A read replica's promotion (`PromoteReadReplica`)
//! ends its replication for good: what its source committed after the
//! replica's last replayed transaction is lost, and the source is not
//! fenced by this action.

use std::time::Duration;

use super::Seen;
use crate::exec::backend::rds::RdsInstance;
use crate::exec::step::{Job, Op, RdsOp};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long a Multi-AZ failover may take before the job calls it failed.
pub const FAILED_OVER: Duration = Duration::from_secs(10 * 60);
/// How long a promotion may take (RDS takes minutes, more with backups).
pub const PROMOTED: Duration = Duration::from_secs(30 * 60);

/// What was read of the instance, available, or the refusal.
fn available<'a>(request: &ActionRequest, seen: &'a Seen) -> Result<&'a RdsInstance, Refusal> {
    let name = &request.target.name;
    let i = match &seen.rds {
        Some(Ok(i)) => i,
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot read {name} from RDS: {why}; nothing was changed"
            )));
        }
        None => {
            return Err(Refusal::new(
                "the instance was not read: a defect of touban",
            ));
        }
    };
    if i.status != "available" {
        return Err(Refusal::new(format!(
            "{name}: RDS reports {} as {}, not available; nothing was changed; plan again once it is",
            i.identifier, i.status
        )));
    }
    Ok(i)
}

fn plan_of(
    request: &ActionRequest,
    title: String,
    steps: Vec<PlannedStep>,
    changes: Vec<String>,
    undo: String,
) -> Plan {
    Plan {
        request: request.clone(),
        title,
        steps,
        confirm_text: Some(request.target.name.clone()),
        undo: Some(undo),
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    }
}

/// The plan for a Multi-AZ failover of the target's instance.
pub fn failover(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let i = available(request, seen)?;
    let standby = match (&i.secondary, i.multi_az) {
        (Some(s), true) => s.clone(),
        (None, true) => {
            return Err(Refusal::instead(
                format!(
                    "{name}: RDS reports {} as Multi-AZ but names no standby zone (SecondaryAvailabilityZone): touban could not verify where the primary moved; nothing was changed",
                    i.identifier
                ),
                format!(
                    "fail it over from the RDS console or with `aws rds reboot-db-instance --db-instance-identifier {} --force-failover`",
                    i.identifier
                ),
            ));
        }
        (_, false) => {
            return Err(Refusal::instead(
                format!(
                    "{name}: {} is not Multi-AZ: it has no standby to fail over to; nothing was changed",
                    i.identifier
                ),
                match &i.source {
                    Some(_) => {
                        format!(":rds-promote {name} makes this read replica a standalone instance")
                    }
                    None => {
                        "promote one of its read replicas (:rds-promote on the replica's database)"
                            .to_owned()
                    }
                },
            ));
        }
    };
    let id = &i.identifier;
    let steps = vec![
        PlannedStep::new(
            format!(
                "check {id} is available, Multi-AZ, its primary in {}",
                i.zone
            ),
            StepKind::Check,
            &format!("{} {}, {}", i.engine, i.class, i.status),
            "DescribeDBInstances",
            &format!("primary in {}, standby in {standby}", i.zone),
        ),
        PlannedStep::new(
            format!("fail {id} over to its standby in {standby}"),
            StepKind::Mutate,
            &format!("its primary is in {}", i.zone),
            &format!("RebootDBInstance {id} ForceFailover=true"),
            "the standby takes over with every committed transaction; connections drop while the endpoint's DNS moves (60–120 s on AWS)",
        ),
        PlannedStep::new(
            format!("wait until {id} is available in {standby}"),
            StepKind::Verify,
            "the reboot sent",
            "DescribeDBInstances, then DescribeEvents",
            &format!(
                "available, primary in {standby}, within {} min",
                FAILED_OVER.as_secs() / 60
            ),
        ),
    ];
    let plan = plan_of(
        request,
        format!("fail RDS {id} over from {} to {standby}", i.zone),
        steps,
        vec![
            format!("{name}: primary {} → {standby} (same endpoint)", i.zone),
            "clients reconnect: each open connection is dropped once".to_owned(),
        ],
        format!(
            "fail it over again (its old primary in {} is then the standby)",
            i.zone
        ),
    );
    let (zone, standby2) = (i.zone.clone(), standby.clone());
    Ok(Job {
        plan,
        ops: vec![
            Op::Rds(RdsOp::ExpectMultiAz {
                zone: zone.clone(),
                standby: standby.clone(),
            }),
            Op::Rds(RdsOp::Failover { zone, standby }),
            Op::Rds(RdsOp::AwaitFailedOver {
                standby: standby2,
                within: FAILED_OVER,
            }),
        ],
        access: Vec::new(),
    })
}

/// The plan for promoting the target's read replica.
pub fn promote(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let i = available(request, seen)?;
    let Some(source) = i.source.clone() else {
        return Err(Refusal::instead(
            format!(
                "{name}: {} is no read replica (it is a standalone instance); nothing was changed",
                i.identifier
            ),
            if i.multi_az {
                format!(":rds-failover {name} moves its primary to its standby")
            } else {
                "nothing to promote".to_owned()
            },
        ));
    };
    let id = &i.identifier;
    let steps = vec![
        PlannedStep::new(
            format!("check {id} is an available read replica of {source}"),
            StepKind::Check,
            &format!("{} {} in {}", i.engine, i.class, i.zone),
            "DescribeDBInstances",
            &format!("replicates from {source}"),
        ),
        PlannedStep::new(
            format!("promote {id} to a standalone instance"),
            StepKind::Mutate,
            &format!("it replicates from {source}"),
            &format!("PromoteReadReplica {id}"),
            &format!(
                "replication from {source} ends for good; {id} takes writes; what {source} committed after the replica's last replayed transaction is lost"
            ),
        ),
        PlannedStep::new(
            format!("wait until {id} is available and standalone"),
            StepKind::Verify,
            "the promotion sent",
            "DescribeDBInstances, then DescribeEvents",
            &format!(
                "available, no source, within {} min",
                PROMOTED.as_secs() / 60
            ),
        ),
    ];
    let plan = plan_of(
        request,
        format!("promote RDS read replica {id} (from {source})"),
        steps,
        vec![
            format!("{name}: read replica of {source} → standalone primary"),
            format!(
                "{source} is not fenced by this: stop its writers (or :fence it) first, else two primaries take writes"
            ),
        ],
        format!("none in RDS: a new read replica of {id} is created to replicate again"),
    );
    Ok(Job {
        plan,
        ops: vec![
            Op::Rds(RdsOp::ExpectReplica {
                source: source.clone(),
            }),
            Op::Rds(RdsOp::Promote { source }),
            Op::Rds(RdsOp::AwaitPromoted { within: PROMOTED }),
        ],
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};

    fn request(kind: ActionKind) -> ActionRequest {
        ActionRequest {
            kind,
            target: Target {
                region: "tokyo".into(),
                cluster: "db".into(),
                namespace: String::new(),
                kind: ObjectKind::Database,
                name: "db".into(),
            },
            dry_run: false,
        }
    }

    fn seen(i: RdsInstance) -> Seen {
        Seen {
            rds: Some(Ok(i)),
            ..Seen::default()
        }
    }

    fn primary() -> RdsInstance {
        RdsInstance {
            identifier: "db-1".into(),
            status: "available".into(),
            multi_az: true,
            zone: "ap-northeast-1a".into(),
            secondary: Some("ap-northeast-1c".into()),
            ..RdsInstance::default()
        }
    }

    #[test]
    fn a_multi_az_instance_fails_over_to_its_standby_s_zone() {
        let job = failover(&request(ActionKind::RdsFailover), &seen(primary())).expect("a plan");
        assert_eq!(
            job.plan.title,
            "fail RDS db-1 over from ap-northeast-1a to ap-northeast-1c"
        );
        assert_eq!(job.plan.confirm_text.as_deref(), Some("db"));
        assert!(matches!(
            &job.ops[2],
            Op::Rds(RdsOp::AwaitFailedOver { standby, .. }) if standby == "ap-northeast-1c"
        ));
    }

    #[test]
    fn what_cannot_fail_over_or_promote_is_refused_with_what_can() {
        let single = RdsInstance {
            multi_az: false,
            secondary: None,
            source: Some("db-0".into()),
            ..primary()
        };
        let r = failover(&request(ActionKind::RdsFailover), &seen(single.clone()))
            .expect_err("refused");
        assert!(r.why.contains("is not Multi-AZ"), "{}", r.why);
        assert!(
            r.instead
                .as_deref()
                .is_some_and(|i| i.contains(":rds-promote db"))
        );
        let busy = RdsInstance {
            status: "rebooting".into(),
            ..primary()
        };
        let r = failover(&request(ActionKind::RdsFailover), &seen(busy)).expect_err("refused");
        assert!(r.why.contains("as rebooting, not available"), "{}", r.why);
        let r = promote(&request(ActionKind::RdsPromote), &seen(primary())).expect_err("refused");
        assert!(r.why.contains("is no read replica"), "{}", r.why);
        let job = promote(&request(ActionKind::RdsPromote), &seen(single)).expect("a plan");
        assert_eq!(job.plan.title, "promote RDS read replica db-1 (from db-0)");
    }
}

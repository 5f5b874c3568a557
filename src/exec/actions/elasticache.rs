//! Amazon ElastiCache, planned from the replication group as
//! `DescribeReplicationGroups` reports it now. ElastiCache refuses
//! `REPLICAOF` and `FAILOVER`; its one failover call is `TestFailover`,
//! per node group (shard): a real failover, in which ElastiCache promotes
//! a replica and replaces the old primary, which comes back as a replica.
//! Its documented limits are in the plan: at most 15 node groups in any
//! rolling 24 hours per customer, not meant as an operational tool, and
//! blocked by Amazon during large-scale events. A group with cluster mode
//! on is refused: ElastiCache reports no primary per node group there.

use std::time::Duration;

use super::{ElastiCacheSeen, Seen};
use crate::exec::backend::elasticache::NodeGroup;
use crate::exec::step::{ElastiCacheOp, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long one node group's failover and replacement may take.
pub const FAILED_OVER: Duration = Duration::from_secs(15 * 60);
/// `TestFailover`'s quota: node groups per rolling 24 hours.
pub const QUOTA: usize = 15;
/// The event ElastiCache records on the group for each call.
pub const CALLED: &str = "Test Failover API called for node group";
/// The event on the group once a replica is its node group's primary.
pub const COMPLETED: &str = "Failover from primary node";
/// The event on the old primary's cluster once its replacement is done.
pub const RECOVERED: &str = "Finished recovery for cache nodes";

/// The test failovers called in the events read (the region's last 24
/// hours, every group's: the quota is the customer's).
pub fn calls(seen: &ElastiCacheSeen) -> usize {
    seen.events
        .iter()
        .filter(|e| e.message.starts_with(CALLED))
        .count()
}

/// Why a node group cannot be failed over, if it cannot.
fn not_ready(name: &str, n: &NodeGroup) -> Option<String> {
    if n.status != "available" {
        return Some(format!(
            "{name}: node group {} is {}, not available",
            n.id, n.status
        ));
    }
    if n.primary().is_none() {
        return Some(format!(
            "{name}: node group {} reports no primary node (CurrentRole): touban could not verify the failover",
            n.id
        ));
    }
    if n.replicas().next().is_none() {
        return Some(format!(
            "{name}: node group {} has no replica to fail over to",
            n.id
        ));
    }
    None
}

/// The check, the call and the wait of one node group.
fn node_group_steps(
    name: &str,
    g: &crate::exec::backend::elasticache::ReplicationGroup,
    n: &NodeGroup,
    steps: &mut Vec<PlannedStep>,
    ops: &mut Vec<Op>,
    changes: &mut Vec<String>,
) {
    let id = &g.id;
    let Some(p) = n.primary() else { return };
    let replicas: Vec<String> = n
        .replicas()
        .map(|m| format!("{} ({})", m.cluster, m.zone))
        .collect();
    steps.push(PlannedStep::new(
        format!(
            "check {id} node group {}: available, its primary {}",
            n.id, p.cluster
        ),
        StepKind::Check,
        &format!(
            "{} {}, automatic failover enabled, Multi-AZ {}",
            g.node_type, g.status, g.multi_az
        ),
        "DescribeReplicationGroups",
        &format!(
            "primary {} in {}, replicas {}",
            p.cluster,
            p.zone,
            replicas.join(", ")
        ),
    ));
    steps.push(PlannedStep::new(
        format!("fail node group {} over (TestFailover)", n.id),
        StepKind::Mutate,
        &format!("its primary is {}", p.cluster),
        &format!("TestFailover {id} NodeGroupId={}", n.id),
        &format!(
            "ElastiCache promotes a replica (it chooses which) and replaces {}, which comes back as a replica; writes to the node group fail for seconds; what was written to it and not yet replicated is lost",
            p.cluster
        ),
    ));
    steps.push(PlannedStep::new(
        format!(
            "wait until {} is no longer node group {}'s primary and its replacement is finished",
            p.cluster, n.id
        ),
        StepKind::Verify,
        "the test failover called",
        "DescribeReplicationGroups, then DescribeEvents",
        &format!(
            "another primary, \"{RECOVERED}\" for {}, within {} min",
            p.cluster,
            FAILED_OVER.as_secs() / 60
        ),
    ));
    changes.push(format!(
        "{name}: node group {} primary {} → one of {}",
        n.id,
        p.cluster,
        replicas.join(", ")
    ));
    let (node_group, primary) = (n.id.clone(), p.cluster.clone());
    ops.push(Op::ElastiCache(ElastiCacheOp::Expect {
        node_group: node_group.clone(),
        primary: primary.clone(),
    }));
    ops.push(Op::ElastiCache(ElastiCacheOp::TestFailover {
        node_group: node_group.clone(),
        primary: primary.clone(),
    }));
    ops.push(Op::ElastiCache(ElastiCacheOp::AwaitFailedOver {
        node_group,
        from: primary,
        within: FAILED_OVER,
    }));
}

/// Whether TestFailover can be called on every node group of the group
/// read: the calls already made in the last 24 hours, or the refusal.
fn ready(name: &str, read: &ElastiCacheSeen) -> Result<usize, Refusal> {
    let g = &read.group;
    let id = &g.id;
    let cli =
        format!("aws elasticache test-failover --replication-group-id {id} --node-group-id <id>");
    if g.status != "available" {
        return Err(Refusal::new(format!(
            "{name}: ElastiCache reports {id} as {}, not available; nothing was changed; plan again once it is",
            g.status
        )));
    }
    if g.automatic_failover != "enabled" {
        return Err(Refusal::instead(
            format!(
                "{name}: {id} has automatic failover {}: TestFailover needs it enabled; nothing was changed",
                if g.automatic_failover.is_empty() {
                    "unreported"
                } else {
                    g.automatic_failover.as_str()
                }
            ),
            format!(
                "enable it first (`aws elasticache modify-replication-group --replication-group-id {id} --automatic-failover-enabled --multi-az-enabled --apply-immediately`)"
            ),
        ));
    }
    if g.cluster_mode {
        return Err(Refusal::instead(
            format!(
                "{name}: {id} has cluster mode on: ElastiCache reports no primary per node group there (CurrentRole is for cluster mode off), so touban could not verify a failover; nothing was changed"
            ),
            format!("fail a shard over with `{cli}` and follow its events"),
        ));
    }
    if g.node_groups.is_empty() {
        return Err(Refusal::new(format!(
            "{name}: ElastiCache reports no node group of {id}; nothing was changed"
        )));
    }
    if let Some(why) = g.node_groups.iter().find_map(|n| not_ready(name, n)) {
        return Err(Refusal::instead(
            format!("{why}; nothing was changed"),
            format!("plan again once it is, or fail the others over one by one with `{cli}`"),
        ));
    }
    let used = calls(read);
    if used + g.node_groups.len() > QUOTA {
        return Err(Refusal::instead(
            format!(
                "{name}: TestFailover is limited to {QUOTA} node groups in any rolling 24 hours per customer; {used} were called in this region's last 24 hours and {id} has {}; nothing was changed",
                g.node_groups.len()
            ),
            "wait until the oldest call is 24 hours old (its events say when)",
        ));
    }
    Ok(used)
}

/// The plan for `TestFailover` on every node group of the target cache's
/// replication group, one after the other.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let read = match &seen.elasticache {
        Some(Ok(r)) => r,
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot read {name} from ElastiCache: {why}; nothing was changed"
            )));
        }
        None => {
            return Err(Refusal::new(
                "the replication group was not read: a defect of touban",
            ));
        }
    };
    let used = ready(name, read)?;
    let g = &read.group;
    let id = &g.id;
    let mut steps = Vec::new();
    let mut ops = Vec::new();
    let mut changes = Vec::new();
    for n in &g.node_groups {
        node_group_steps(name, &read.group, n, &mut steps, &mut ops, &mut changes);
    }
    changes.push(format!(
        "TestFailover quota: {} of {QUOTA} node groups in the rolling 24 hours once this is done (this region's events; other regions' calls count too)",
        used + g.node_groups.len()
    ));
    changes.push(
        "AWS: TestFailover is meant to test how applications take a failover, not as an operational tool for a problem with the cluster, and Amazon may block it during large-scale events"
            .to_owned(),
    );
    let plan = Plan {
        request: request.clone(),
        title: format!(
            "fail ElastiCache {id} over ({} node group{})",
            g.node_groups.len(),
            if g.node_groups.len() == 1 { "" } else { "s" }
        ),
        steps,
        confirm_text: Some(name.clone()),
        undo: Some(
            "TestFailover again: ElastiCache promotes a replica again (it chooses which; the old primary is one once replaced)"
                .to_owned(),
        ),
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops,
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::exec::backend::elasticache::{CacheEvent, Member, ReplicationGroup};
    use crate::model::action::{ActionKind, ObjectKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::ElastiCacheFailover,
            target: Target {
                region: "tokyo".into(),
                cluster: "redis".into(),
                namespace: String::new(),
                kind: ObjectKind::Cache,
                name: "redis".into(),
            },
            dry_run: false,
        }
    }

    fn member(cluster: &str, role: &str) -> Member {
        Member {
            cluster: cluster.into(),
            node: "0001".into(),
            role: role.into(),
            zone: "ap-northeast-1a".into(),
        }
    }

    fn group(node_groups: usize) -> ReplicationGroup {
        ReplicationGroup {
            id: "rg".into(),
            status: "available".into(),
            automatic_failover: "enabled".into(),
            multi_az: "enabled".into(),
            cluster_mode: false,
            node_type: "cache.r6g.large".into(),
            node_groups: (1..=node_groups)
                .map(|i| NodeGroup {
                    id: format!("000{i}"),
                    status: "available".into(),
                    members: vec![
                        member(&format!("rg-000{i}-001"), "primary"),
                        member(&format!("rg-000{i}-002"), "replica"),
                    ],
                })
                .collect(),
        }
    }

    fn seen(group: ReplicationGroup, calls: usize) -> Seen {
        let events = (0..calls)
            .map(|_| CacheEvent {
                at: jiff::Timestamp::UNIX_EPOCH,
                source: "rg".into(),
                message: format!("{CALLED} 0001"),
            })
            .collect();
        Seen {
            elasticache: Some(Ok(ElastiCacheSeen { group, events })),
            ..Seen::default()
        }
    }

    #[test]
    fn every_node_group_is_failed_over_in_turn_within_the_quota() {
        let job = plan(&request(), &seen(group(2), 3)).expect("a plan");
        assert_eq!(job.plan.title, "fail ElastiCache rg over (2 node groups)");
        assert_eq!(job.ops.len(), 6);
        assert_eq!(job.plan.steps[1].call, "TestFailover rg NodeGroupId=0001");
        assert_eq!(job.plan.steps[4].call, "TestFailover rg NodeGroupId=0002");
        assert!(
            job.plan
                .changes
                .iter()
                .any(|c| c.contains("5 of 15 node groups")),
            "{:?}",
            job.plan.changes
        );
        assert_eq!(job.plan.confirm_text.as_deref(), Some("redis"));
    }

    #[test]
    fn what_test_failover_cannot_do_is_refused_saying_why() {
        let why = |g: ReplicationGroup, calls| {
            plan(&request(), &seen(g, calls)).expect_err("refused").why
        };
        assert!(why(group(2), 14).contains("limited to 15 node groups"));
        let mut g = group(1);
        g.cluster_mode = true;
        assert!(why(g, 0).contains("cluster mode on"));
        let mut g = group(1);
        g.automatic_failover = "disabled".into();
        assert!(why(g, 0).contains("automatic failover disabled"));
        let mut g = group(1);
        g.node_groups[0].members.truncate(1);
        assert!(why(g, 0).contains("has no replica"));
        let mut g = group(1);
        g.status = "modifying".into();
        assert!(why(g, 0).contains("not available"));
        let mut g = group(1);
        g.node_groups[0].members[0].role.clear();
        assert!(why(g, 0).contains("reports no primary node"));
    }
}

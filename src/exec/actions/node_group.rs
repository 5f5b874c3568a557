//! Sizing a node group in its cloud, planned from the group as the cloud
//! reports it now and from its nodes in the cluster. An EKS managed node
//! group takes a new `scalingConfig` (min ≤ desired ≤ max); an AKS agent
//! pool a new node count, or, when its cluster autoscaler sizes it, new
//! bounds. Bounds are checked before anything is sent: the order of the
//! three, the cloud's own limits (450 nodes in an EKS managed node group
//! unless its quota is raised, 1000 in an AKS pool, a System pool at
//! least one). Nodes added are billed from their launch; nodes removed
//! are drained by the cloud, their pods evicted and scheduled elsewhere.

use std::time::Duration;

use super::Seen;
use crate::exec::backend::nodepool::{AKS_MAX_NODES, Cloud, EKS_MAX_NODES, NodePool, Sizes};
use crate::exec::step::{Job, NodeGroupOp, Op};
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the cloud's update may take (EKS takes minutes).
pub const UPDATED: Duration = Duration::from_secs(20 * 60);
/// How long the nodes may take to be Ready once the update is done.
pub const JOINED: Duration = Duration::from_secs(15 * 60);

/// Sizes in words: `desired 8`, `min 3, desired 8, max 20`.
pub fn sizes_text(min: Option<u32>, desired: Option<u32>, max: Option<u32>) -> String {
    let parts: Vec<String> = [("min", min), ("desired", desired), ("max", max)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect();
    if parts.is_empty() {
        "its sizes as they are".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The group's sizes as read.
pub fn sizes_of(p: &NodePool) -> Sizes {
    Sizes {
        min: p.min,
        desired: Some(p.desired),
        max: p.max,
    }
}

/// The sizes to send, complete, from the group's and those asked for; or
/// the refusal.
fn wanted(name: &str, p: &NodePool, to: Sizes) -> Result<Sizes, Refusal> {
    match p.cloud {
        Cloud::Aks if !p.autoscale && (to.min.is_some() || to.max.is_some()) => {
            return Err(Refusal::instead(
                format!(
                    "{name} is a manual agent pool: it has no autoscaler bounds to set; nothing was changed"
                ),
                format!(
                    "set its count (desired=N), or enable its autoscaler first: az aks nodepool update --name {name} --enable-cluster-autoscaler --min-count N --max-count M"
                ),
            ));
        }
        Cloud::Aks if p.autoscale && to.desired.is_some_and(|d| d != p.desired) => {
            return Err(Refusal::instead(
                format!(
                    "{name}'s cluster autoscaler sizes it between its bounds: its count cannot be set; nothing was changed"
                ),
                "raise its minimum (min=N) to add nodes now, or its maximum (max=N) to give the autoscaler room",
            ));
        }
        _ => {}
    }
    let lo = to.min.or(p.min);
    let hi = to.max.or(p.max);
    let mut want = to.desired.unwrap_or(p.desired);
    if p.cloud == Cloud::Aks && p.autoscale {
        // The autoscaler brings the count inside new bounds.
        want = want.clamp(lo.unwrap_or(0), hi.unwrap_or(u32::MAX).max(lo.unwrap_or(0)));
    }
    let out = |what: String| Err(Refusal::new(format!("{what}; nothing was changed")));
    if let (Some(lo), Some(hi)) = (lo, hi)
        && lo > hi
    {
        return out(format!("{name}: min {lo} is above max {hi}"));
    }
    if let Some(lo) = lo
        && want < lo
    {
        return out(format!(
            "{name}: desired {want} is below min {lo} (lower min=N with it)"
        ));
    }
    if let Some(hi) = hi
        && want > hi
    {
        return out(format!(
            "{name}: desired {want} is above max {hi} (raise max=N with it)"
        ));
    }
    let (limit, cloud) = match p.cloud {
        Cloud::Eks => (
            EKS_MAX_NODES,
            "an EKS managed node group holds at most 450 nodes unless its service quota is raised",
        ),
        Cloud::Aks => (AKS_MAX_NODES, "an AKS agent pool holds at most 1000 nodes"),
    };
    if want.max(hi.unwrap_or(0)) > limit {
        return out(format!("{name}: {cloud}"));
    }
    if p.cloud == Cloud::Eks && hi == Some(0) {
        return out(format!("{name}: an EKS node group's max is at least 1"));
    }
    if p.system && (want == 0 || lo == Some(0)) {
        return out(format!(
            "{name} is a System agent pool (it runs the cluster's own pods): it keeps at least one node"
        ));
    }
    Ok(Sizes {
        min: lo,
        desired: Some(want),
        max: hi,
    })
}

/// What a plan is made of: the group as read, the sizes from and to, its
/// nodes (how many, how many Ready) and the count the job waits for.
struct Shape<'a> {
    name: &'a str,
    cluster: &'a str,
    p: &'a NodePool,
    from: Sizes,
    want: Sizes,
    nodes: u32,
    ready: u32,
    bounds: (u32, u32),
}

/// The plan's steps, and the change in nodes in words.
fn steps(shape: &Shape<'_>) -> (Vec<PlannedStep>, String) {
    let Shape {
        name,
        cluster,
        p,
        from,
        want,
        nodes,
        ready,
        bounds: (at_least, at_most),
    } = *shape;
    let target = want.desired.unwrap_or(p.desired);
    let (read, send, follow) = match p.cloud {
        Cloud::Eks => (
            format!("DescribeNodegroup {cluster}/{name}"),
            format!(
                "UpdateNodegroupConfig {name} scalingConfig {}",
                sizes_text(want.min, want.desired, want.max)
            ),
            "DescribeUpdate until Successful".to_owned(),
        ),
        Cloud::Aks => (
            format!("GET agentPools/{name}"),
            format!(
                "PUT agentPools/{name} {}",
                if p.autoscale {
                    format!(
                        "minCount {} maxCount {}",
                        want.min.unwrap_or(0),
                        want.max.unwrap_or(0)
                    )
                } else {
                    format!("count {target}")
                }
            ),
            "its Azure-AsyncOperation until Succeeded".to_owned(),
        ),
    };
    let effect = match target.cmp(&nodes) {
        std::cmp::Ordering::Greater => format!(
            "the cloud launches {} node(s); they are billed from launch",
            target - nodes
        ),
        std::cmp::Ordering::Less => format!(
            "the cloud drains and terminates {} node(s): their pods are evicted and scheduled on the others",
            nodes - target
        ),
        std::cmp::Ordering::Equal => {
            "its bounds change; no node is added or removed now".to_owned()
        }
    };
    let steps = vec![
        PlannedStep::new(
            format!(
                "check {name} is settled at {}",
                sizes_text(from.min, from.desired, from.max)
            ),
            StepKind::Check,
            &p.summary(),
            &read,
            &format!("{nodes} node(s) in {cluster}, {ready} Ready"),
        ),
        PlannedStep::new(
            format!(
                "size {name} to {} and follow the cloud's update",
                sizes_text(want.min, want.desired, want.max)
            ),
            StepKind::Mutate,
            &sizes_text(from.min, from.desired, from.max),
            &format!("{send}, then {follow}"),
            &format!(
                "{effect}; the update done within {} min",
                UPDATED.as_secs() / 60
            ),
        ),
        PlannedStep::new(
            format!("wait until {cluster} has {name}'s nodes, every one Ready"),
            StepKind::Verify,
            &format!("{nodes} node(s), {ready} Ready"),
            &format!("list nodes -l {}={name}", p.cloud.label()),
            &if at_least == at_most {
                format!(
                    "{at_least} node(s) Ready, within {} min",
                    JOINED.as_secs() / 60
                )
            } else {
                format!(
                    "{at_least} to {at_most} node(s), all Ready, within {} min",
                    JOINED.as_secs() / 60
                )
            },
        ),
    ];
    (steps, effect)
}

/// The group and its nodes (how many, how many Ready) as read.
fn read<'a>(request: &ActionRequest, seen: &'a Seen) -> Result<(&'a NodePool, u32, u32), Refusal> {
    let name = &request.target.name;
    let cluster = &request.target.cluster;
    let p = match &seen.node_pool {
        Some(Ok(p)) => p,
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot read node group {name} of {cluster} from its cloud: {why}; nothing was changed"
            )));
        }
        None => {
            return Err(Refusal::new(
                "the node group was not read: a defect of touban",
            ));
        }
    };
    let (nodes, ready) = match &seen.nodes {
        Some(Ok(n)) => (
            u32::try_from(n.len()).unwrap_or(u32::MAX),
            u32::try_from(n.iter().filter(|(_, r)| *r).count()).unwrap_or(u32::MAX),
        ),
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot list {name}'s nodes in {cluster}: {why}; nothing was changed"
            )));
        }
        None => (0, 0),
    };
    Ok((p, nodes, ready))
}

/// The plan for sizing the target's node group.
pub fn plan(request: &ActionRequest, to: Sizes, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let cluster = &request.target.cluster;
    let (p, nodes, ready) = read(request, seen)?;
    if to == Sizes::default() {
        return Err(Refusal::new(
            "name a size to set: desired=N, min=N or max=N; nothing was changed",
        ));
    }
    if !p.settled() {
        return Err(Refusal::new(format!(
            "{}: a change runs on it; nothing was changed; plan again once it is done",
            p.summary()
        )));
    }
    let from = sizes_of(p);
    let want = wanted(name, p, to)?;
    if want == from {
        return Err(Refusal::new(format!(
            "{} has those sizes already: nothing to change",
            p.summary()
        )));
    }
    let target = want.desired.unwrap_or(p.desired);
    let (at_least, at_most) = if p.autoscale {
        (want.min.unwrap_or(0), want.max.unwrap_or(u32::MAX))
    } else {
        (target, target)
    };
    let shape = Shape {
        name,
        cluster,
        p,
        from,
        want,
        nodes,
        ready,
        bounds: (at_least, at_most),
    };
    let (steps, effect) = steps(&shape);
    let mut changes = Vec::new();
    for (k, a, b) in [
        ("min", from.min, want.min),
        ("desired", from.desired, want.desired),
        ("max", from.max, want.max),
    ] {
        if a != b {
            let show = |v: Option<u32>| v.map_or("—".to_owned(), |v| v.to_string());
            changes.push(format!("{name}: {k} {} → {}", show(a), show(b)));
        }
    }
    changes.push(effect);
    let undo = ActionRequest {
        kind: ActionKind::NodeGroup {
            min: want.min.and(from.min).filter(|_| want.min != from.min),
            desired: Some(p.desired).filter(|_| want.desired != from.desired),
            max: want.max.and(from.max).filter(|_| want.max != from.max),
        },
        ..request.clone()
    };
    let plan = Plan {
        request: request.clone(),
        title: format!(
            "size node group {name} in {cluster} to {}",
            sizes_text(want.min, want.desired, want.max)
        ),
        steps,
        // Removing nodes evicts pods: the group's name, typed.
        confirm_text: (target < nodes).then(|| name.clone()),
        undo: Some(format!(
            "size it back to {}",
            sizes_text(from.min, from.desired, from.max)
        )),
        reason: None,
        changes,
        dry_run: None,
        undo_request: Some(Box::new(undo)),
        reverts: None,
        lease: None,
        lease_override: None,
    };
    // The cloud is sent only what changes: an autoscaled pool's count is
    // the autoscaler's.
    let send = Sizes {
        desired: want.desired.filter(|_| !p.autoscale),
        ..want
    };
    Ok(Job {
        plan,
        ops: vec![
            Op::NodeGroup(NodeGroupOp::Expect { from, to: want }),
            Op::NodeGroup(NodeGroupOp::Set {
                to: send,
                within: UPDATED,
            }),
            Op::NodeGroup(NodeGroupOp::AwaitNodes {
                at_least,
                at_most,
                planned: nodes,
                within: JOINED,
            }),
        ],
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::action::{ObjectKind, Target};

    fn pool(cloud: Cloud, autoscale: bool) -> NodePool {
        NodePool {
            cloud,
            name: "general".into(),
            status: if cloud == Cloud::Eks {
                "ACTIVE"
            } else {
                "Succeeded"
            }
            .into(),
            min: (cloud == Cloud::Eks || autoscale).then_some(3),
            desired: 6,
            max: (cloud == Cloud::Eks || autoscale).then_some(20),
            autoscale,
            system: cloud == Cloud::Aks,
            instance: "m6i.large".into(),
        }
    }

    fn request(min: Option<u32>, desired: Option<u32>, max: Option<u32>) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::NodeGroup { min, desired, max },
            target: Target {
                kind: ObjectKind::NodeGroup,
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "kube-system".into(),
                name: "general".into(),
            },
            dry_run: false,
        }
    }

    fn seen(p: NodePool, nodes: usize) -> Seen {
        Seen {
            node_pool: Some(Ok(p)),
            nodes: Some(Ok((0..nodes).map(|i| (format!("n{i}"), true)).collect())),
            ..Seen::default()
        }
    }

    fn planned(p: NodePool, to: Sizes) -> Result<Job, Refusal> {
        plan(&request(to.min, to.desired, to.max), to, &seen(p, 6))
    }

    #[test]
    fn raising_desired_sends_the_whole_scaling_config_and_waits_for_the_nodes() {
        let job = planned(
            pool(Cloud::Eks, false),
            Sizes {
                desired: Some(8),
                ..Sizes::default()
            },
        )
        .expect("plan");
        assert_eq!(
            job.plan.steps[1].call,
            "UpdateNodegroupConfig general scalingConfig min 3, desired 8, max 20, then DescribeUpdate until Successful"
        );
        assert_eq!(job.plan.confirm_text, None, "adding nodes evicts nothing");
        assert!(
            job.plan
                .changes
                .contains(&"general: desired 6 → 8".to_owned())
        );
        assert_eq!(
            job.ops[2],
            Op::NodeGroup(NodeGroupOp::AwaitNodes {
                at_least: 8,
                at_most: 8,
                planned: 6,
                within: JOINED
            })
        );
        let undo = job.plan.undo_request.expect("undo");
        assert_eq!(
            undo.kind,
            ActionKind::NodeGroup {
                min: None,
                desired: Some(6),
                max: None
            }
        );
    }

    #[test]
    fn removing_nodes_needs_the_name_typed() {
        let job = planned(
            pool(Cloud::Eks, false),
            Sizes {
                desired: Some(4),
                ..Sizes::default()
            },
        )
        .expect("plan");
        assert_eq!(job.plan.confirm_text.as_deref(), Some("general"));
        assert!(
            job.plan
                .changes
                .iter()
                .any(|c| c.contains("drains and terminates 2"))
        );
    }

    #[test]
    fn bounds_are_checked_before_anything_is_sent() {
        let refused = |to: Sizes, p: NodePool| planned(p, to).expect_err("refused").to_string();
        let eks = || pool(Cloud::Eks, false);
        let d = |n| Sizes {
            desired: Some(n),
            ..Sizes::default()
        };
        assert!(refused(d(25), eks()).contains("desired 25 is above max 20"));
        assert!(refused(d(2), eks()).contains("desired 2 is below min 3"));
        let too_many = Sizes {
            desired: Some(500),
            max: Some(500),
            ..Sizes::default()
        };
        assert!(refused(too_many, eks()).contains("450 nodes"));
        let crossed = Sizes {
            min: Some(9),
            max: Some(8),
            ..Sizes::default()
        };
        assert!(refused(crossed, eks()).contains("min 9 is above max 8"));
        assert!(refused(d(6), eks()).contains("already"));
        assert!(refused(Sizes::default(), eks()).contains("name a size"));
        // AKS: a manual pool has no bounds, an autoscaled one no count,
        // a System pool keeps a node.
        let bounds = Sizes {
            max: Some(9),
            ..Sizes::default()
        };
        assert!(refused(bounds, pool(Cloud::Aks, false)).contains("manual agent pool"));
        assert!(refused(d(8), pool(Cloud::Aks, true)).contains("autoscaler sizes it"));
        assert!(refused(d(0), pool(Cloud::Aks, false)).contains("System agent pool"));
    }

    #[test]
    fn an_autoscaled_pool_takes_bounds_and_its_count_follows_them() {
        let job = planned(
            pool(Cloud::Aks, true),
            Sizes {
                min: Some(8),
                max: Some(12),
                ..Sizes::default()
            },
        )
        .expect("plan");
        assert_eq!(
            job.plan.steps[1].call,
            "PUT agentPools/general minCount 8 maxCount 12, then its Azure-AsyncOperation until Succeeded"
        );
        assert_eq!(
            job.ops[1],
            Op::NodeGroup(NodeGroupOp::Set {
                to: Sizes {
                    min: Some(8),
                    desired: None,
                    max: Some(12)
                },
                within: UPDATED
            })
        );
        assert_eq!(
            job.ops[2],
            Op::NodeGroup(NodeGroupOp::AwaitNodes {
                at_least: 8,
                at_most: 12,
                planned: 6,
                within: JOINED
            })
        );
    }

    #[test]
    fn a_group_being_updated_or_unread_is_refused() {
        let mut p = pool(Cloud::Eks, false);
        p.status = "UPDATING".into();
        let to = Sizes {
            desired: Some(8),
            ..Sizes::default()
        };
        assert!(
            planned(p, to)
                .expect_err("refused")
                .to_string()
                .contains("a change runs")
        );
        let s = Seen {
            node_pool: Some(Err("EKS DescribeNodegroup: AccessDenied".into())),
            ..Seen::default()
        };
        let e = plan(&request(None, Some(8), None), to, &s).expect_err("refused");
        assert!(e.to_string().contains("AccessDenied"), "{e}");
    }
}

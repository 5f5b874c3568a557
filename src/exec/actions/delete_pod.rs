//! Delete a pod for its Deployment to replace it (a pod stuck, leaking or
//! on a bad node): the pod's uid read as the delete's precondition, then
//! followed until it is gone and the Deployment has every replica updated
//! and available again. A pod no Deployment owns is refused: nothing would
//! replace it.

use std::time::Duration;

use super::Seen;
use crate::exec::step::{Access, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the replacement may take to be available.
pub const DEADLINE: Duration = Duration::from_secs(300);

/// The plan for deleting the request's pod.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let t = &request.target;
    let Some(pod) = &seen.pod else {
        return Err(Refusal::new(format!(
            "pod {} not found in namespace {} of {}",
            t.name, t.namespace, t.cluster
        )));
    };
    let (Some(owner), Some(d)) = (&pod.deployment, &seen.deployment) else {
        return Err(Refusal::new(format!(
            "no Deployment owns {}: nothing would replace it, so touban does not delete it",
            t.name
        )));
    };
    let ns = &t.namespace;
    let path = format!("/api/v1/namespaces/{ns}/pods/{}", t.name);
    let steps = vec![
        PlannedStep {
            title: format!("check {} as read", t.name),
            kind: StepKind::Check,
            precondition: format!("{} is still the pod planned from (uid {})", t.name, pod.uid),
            call: format!("GET {path}"),
            expect: format!("the pod, owned by {owner}"),
        },
        PlannedStep {
            title: format!("delete {}", t.name),
            kind: StepKind::Mutate,
            precondition: "its uid unchanged".into(),
            call: format!("DELETE {path} (precondition: uid)"),
            expect: "the pod terminating".into(),
        },
        PlannedStep {
            title: format!("wait for {owner} to replace it"),
            kind: StepKind::Verify,
            precondition: "the pod was deleted".into(),
            call: format!(
                "GET {path}, then /apis/apps/v1/namespaces/{ns}/deployments/{owner} until done"
            ),
            expect: format!(
                "the pod gone, {0} of {0} updated and available, within {1} s",
                d.desired,
                DEADLINE.as_secs()
            ),
        },
    ];
    // The last pod of a deployment in the primary region serves alone:
    // its name is typed.
    let alone = d.desired <= 1 && seen.primary;
    let plan = Plan {
        request: request.clone(),
        title: format!("delete pod {} (of {owner})", t.name),
        steps,
        confirm_text: alone.then(|| t.name.clone()),
        undo: None,
        reason: None,
        changes: vec![format!(
            "{}: deleted; {owner} starts a replacement ({} of {} available now)",
            t.name, d.available, d.desired
        )],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: vec![
            Op::ExpectPod {
                uid: pod.uid.clone(),
            },
            Op::DeletePod {
                uid: pod.uid.clone(),
            },
            Op::AwaitReplaced {
                uid: pod.uid.clone(),
                deployment: owner.clone(),
                selector: pod
                    .row
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                within: DEADLINE,
            },
        ],
        access: vec![
            Access::new("get", "", "pods"),
            Access::new("delete", "", "pods"),
            Access::new("get", "apps", "replicasets"),
            Access::new("get", "apps", "deployments"),
        ],
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::exec::backend::OwnedPod;
    use crate::model::action::{ActionKind, ObjectKind, Target};
    use crate::model::cluster::DeploymentRow;

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::DeletePod,
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "prod".into(),
                kind: ObjectKind::Pod,
                name: "web-abc-1".into(),
            },
            dry_run: false,
        }
    }

    fn seen(owner: Option<&str>, replicas: i32) -> Seen {
        Seen {
            pod: Some(OwnedPod {
                uid: "u-1".into(),
                deployment: owner.map(str::to_owned),
                ..OwnedPod::default()
            }),
            deployment: owner.map(|o| DeploymentRow {
                name: o.into(),
                desired: replicas,
                available: replicas,
                ..DeploymentRow::default()
            }),
            primary: true,
            ..Seen::default()
        }
    }

    #[test]
    fn a_pod_is_deleted_by_uid_and_followed_until_replaced() {
        let job = plan(&request(), &seen(Some("web"), 3)).expect("a plan");
        assert!(matches!(&job.ops[1], Op::DeletePod { uid } if uid == "u-1"));
        assert_eq!(job.plan.confirm_text, None);
        let alone = plan(&request(), &seen(Some("web"), 1)).expect("a plan");
        assert_eq!(alone.plan.confirm_text.as_deref(), Some("web-abc-1"));
        let bare = plan(&request(), &seen(None, 0)).expect_err("refused");
        assert!(bare.why.contains("nothing would replace it"), "{bare:?}");
    }
}

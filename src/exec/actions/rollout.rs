//! Rolling changes of a deployment's pod template, followed by kubectl's
//! rollout rules until every replica runs the new template and no old pod
//! is left:
//!
//! - **set-image**, the rolling deploy: the first container's image, with
//!   a JSON patch that `test`s the image it was planned from; a rollout
//!   that stalls (past its progress deadline) fails and offers the undo to
//!   the revision before;
//! - **undo** to a revision, as `kubectl rollout undo --to-revision`: the
//!   revision's pod template (its ReplicaSet's, without
//!   `pod-template-hash`) written back, the deployment's generation as the
//!   write's precondition.
//!
//! On a blue / green release's live colour, either replaces the live pods
//! in place (not blue-green): the plan says so and, in the primary, asks
//! for the name typed.

use std::time::Duration;

use super::blue_green::check_image;
use super::{Progress, Seen};
use crate::exec::step::{Access, Job, Op};
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::cluster::DeploymentRow;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};
use crate::model::rollout::{RolloutState, rollout_state};

/// How long a rollout may take at most: the default
/// `progressDeadlineSeconds` (past its own deadline it fails earlier:
/// stalled).
pub const DEADLINE: Duration = Duration::from_secs(600);

fn target<'a>(request: &ActionRequest, seen: &'a Seen) -> Result<&'a DeploymentRow, Refusal> {
    let t = &request.target;
    seen.deployment.as_ref().ok_or_else(|| {
        Refusal::new(format!(
            "deployment {} not found in namespace {} of {}",
            t.name, t.namespace, t.cluster
        ))
    })
}

/// The three steps of a template change: check, write, follow.
fn steps(d: &DeploymentRow, ns: &str, write: (String, String), image: &str) -> Vec<PlannedStep> {
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{}", d.name);
    vec![
        PlannedStep {
            title: format!("check {} as read", d.name),
            kind: StepKind::Check,
            precondition: format!(
                "{} at generation {} running {}",
                d.name, d.generation, d.image
            ),
            call: format!("GET {path}"),
            expect: "the deployment as planned from".into(),
        },
        PlannedStep {
            title: write.0,
            kind: StepKind::Mutate,
            precondition: "unchanged since planned".into(),
            call: format!("PATCH {path} ({})", write.1),
            expect: format!("the template runs {image}"),
        },
        PlannedStep {
            title: format!("follow {}'s rollout", d.name),
            kind: StepKind::Verify,
            precondition: "the template was changed".into(),
            call: format!("GET {path} until done"),
            expect: format!(
                "{0} of {0} on {image}, updated and available, no old pod, within {1} s (stalled: fails, offers the undo)",
                d.desired,
                DEADLINE.as_secs()
            ),
        },
    ]
}

fn plan_of(request: &ActionRequest, d: &DeploymentRow, seen: &Seen, title: String) -> Plan {
    let mut changes = Vec::new();
    if seen.live_colour {
        changes.push(format!(
            "{} is a live colour: its pods are replaced in place, not blue-green (D deploys blue-green)",
            d.name
        ));
    }
    Plan {
        request: request.clone(),
        title,
        steps: Vec::new(),
        confirm_text: (seen.live_colour && seen.primary).then(|| d.name.clone()),
        undo: d
            .revision
            .map(|r| format!("undo {} to revision {r} ({})", d.name, d.image)),
        reason: None,
        changes,
        dry_run: None,
        undo_request: d.revision.map(|revision| {
            Box::new(ActionRequest {
                kind: ActionKind::Undo { revision },
                target: request.target.clone(),
                dry_run: false,
            })
        }),
        reverts: None,
        lease: None,
        lease_override: None,
    }
}

const ACCESS: [Access; 2] = [
    Access::new("get", "apps", "deployments"),
    Access::new("patch", "apps", "deployments"),
];

/// The plan for setting the deployment's image (its first container).
pub fn set_image(request: &ActionRequest, image: &str, seen: &Seen) -> Result<Job, Refusal> {
    check_image(image).map_err(Refusal::new)?;
    let d = target(request, seen)?;
    if d.image == image {
        return Err(Refusal::new(format!(
            "{} already runs {image}: nothing to deploy",
            d.name
        )));
    }
    let mut plan = plan_of(
        request,
        d,
        seen,
        format!("set {}'s image to {image}", d.name),
    );
    plan.changes
        .insert(0, format!("{}: image {} → {image}", d.name, d.image));
    plan.steps = steps(
        d,
        &request.target.namespace,
        (
            format!("set the image to {image}"),
            "JSON patch: test the image, replace it".into(),
        ),
        image,
    );
    Ok(Job {
        plan,
        ops: vec![
            Op::ExpectGeneration {
                generation: d.generation,
            },
            Op::SetImage {
                from: d.image.clone(),
                to: image.to_owned(),
            },
            Op::AwaitRolledOut {
                image: image.to_owned(),
                within: DEADLINE,
            },
        ],
        access: ACCESS.to_vec(),
    })
}

/// The plan for rolling the deployment back to `revision`.
pub fn undo(request: &ActionRequest, revision: u32, seen: &Seen) -> Result<Job, Refusal> {
    let d = target(request, seen)?;
    if d.revision == Some(revision) {
        return Err(Refusal::new(format!(
            "{} is at revision {revision} already: nothing to undo",
            d.name
        )));
    }
    let Some((_, template, image)) = seen.revision.as_ref().filter(|(n, ..)| *n == revision) else {
        return Err(Refusal::instead(
            format!("{} has no revision {revision}", d.name),
            "pick one of the Rollouts pane's revisions (kubectl rollout history lists them)",
        ));
    };
    let mut plan = plan_of(
        request,
        d,
        seen,
        format!("undo {} to revision {revision} ({image})", d.name),
    );
    plan.changes.insert(
        0,
        format!(
            "{}: spec.template → revision {revision}'s (image {} → {image})",
            d.name, d.image
        ),
    );
    plan.steps = steps(
        d,
        &request.target.namespace,
        (
            format!("write back revision {revision}'s pod template"),
            "JSON patch: test the generation, replace spec.template".into(),
        ),
        image,
    );
    Ok(Job {
        plan,
        ops: vec![
            Op::ExpectGeneration {
                generation: d.generation,
            },
            Op::RestoreTemplate {
                revision,
                generation: d.generation,
                template: template.clone(),
            },
            Op::AwaitRolledOut {
                image: image.clone(),
                within: DEADLINE,
            },
        ],
        access: [
            ACCESS.as_slice(),
            &[Access::new("list", "apps", "replicasets")],
        ]
        .concat(),
    })
}

/// Whether the deployment has rolled out `image`: every replica of the
/// new template updated and available, no old pod left; stalled past its
/// progress deadline, it failed.
pub fn verify(image: &str, d: &DeploymentRow) -> Progress {
    if d.image != image {
        return Progress::Failed(format!(
            "{} runs {} now, not {image}: something else changed it",
            d.name, d.image
        ));
    }
    match rollout_state(d) {
        RolloutState::Complete if d.replicas > d.desired => {
            Progress::Waiting(format!("{} old pods still running", d.replicas - d.desired))
        }
        RolloutState::Complete => Progress::Done,
        RolloutState::Progressing(why) => Progress::Waiting(why),
        RolloutState::Stalled(why) => Progress::Failed(format!("{} {why}", d.name)),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::action::{ObjectKind, Target};

    fn request(kind: ActionKind) -> ActionRequest {
        ActionRequest {
            kind,
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "prod".into(),
                kind: ObjectKind::Deployment,
                name: "web-blue".into(),
            },
            dry_run: false,
        }
    }

    fn seen(live: bool) -> Seen {
        Seen {
            deployment: Some(DeploymentRow {
                name: "web-blue".into(),
                image: "web:1.0".into(),
                desired: 3,
                generation: 4,
                revision: Some(2),
                ..DeploymentRow::default()
            }),
            revision: Some((1, serde_json::json!({"spec": {}}), "web:0.9".into())),
            live_colour: live,
            primary: true,
            ..Seen::default()
        }
    }

    #[test]
    fn a_rolling_deploy_tests_the_image_and_offers_the_undo() {
        let kind = ActionKind::SetImage {
            image: "web:1.1".into(),
        };
        let job = set_image(&request(kind), "web:1.1", &seen(false)).expect("a plan");
        assert!(
            matches!(&job.ops[1], Op::SetImage { from, to } if from == "web:1.0" && to == "web:1.1")
        );
        assert!(matches!(
            job.plan.undo_request.as_deref(),
            Some(ActionRequest {
                kind: ActionKind::Undo { revision: 2 },
                ..
            })
        ));
        assert_eq!(job.plan.confirm_text, None);
        let live =
            set_image(&request(ActionKind::Restart), "web:1.1", &seen(true)).expect("a plan");
        assert_eq!(live.plan.confirm_text.as_deref(), Some("web-blue"));
        assert!(live.plan.changes[1].contains("not blue-green"));
        assert!(set_image(&request(ActionKind::Restart), "web 1.1", &seen(false)).is_err());
        assert!(set_image(&request(ActionKind::Restart), "web:1.0", &seen(false)).is_err());
    }

    #[test]
    fn an_undo_writes_back_a_known_revision_only() {
        let r = request(ActionKind::Undo { revision: 1 });
        let job = undo(&r, 1, &seen(false)).expect("a plan");
        assert!(matches!(
            &job.ops[1],
            Op::RestoreTemplate {
                revision: 1,
                generation: 4,
                ..
            }
        ));
        assert!(matches!(&job.ops[2], Op::AwaitRolledOut { image, .. } if image == "web:0.9"));
        assert!(
            undo(&r, 7, &seen(false))
                .expect_err("none")
                .why
                .contains("no revision 7")
        );
        assert!(
            undo(&r, 2, &seen(false))
                .expect_err("current")
                .why
                .contains("already")
        );
    }
}

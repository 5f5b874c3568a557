//! Restart a deployment's pods as `kubectl rollout restart` does: set the
//! pod template's `kubectl.kubernetes.io/restartedAt` annotation to the
//! time of planning (a template change, so the deployment controller rolls
//! new pods by the deployment's own strategy), then follow the rollout by
//! kubectl's rules until every replica is of the new template and no old
//! pod runs.
//!
//! The annotation's value is fixed when the plan is made: a resumed job
//! finds it already set and writes nothing again.

use std::time::Duration;

use super::{Progress, Seen};
use crate::exec::step::{Access, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::cluster::DeploymentRow;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};
use crate::model::rollout::{RolloutState, rollout_state};
use crate::projection::RESTARTED_AT;

/// How long the runner waits at most: the default
/// `progressDeadlineSeconds`; a deployment past its own deadline fails the
/// wait earlier (stalled).
pub const DEADLINE: Duration = Duration::from_secs(600);

/// The plan for restarting the request's deployment.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let t = &request.target;
    let Some(d) = &seen.deployment else {
        return Err(Refusal::new(format!(
            "deployment {} not found in namespace {} of {}",
            t.name, t.namespace, t.cluster
        )));
    };
    if d.desired == 0 {
        return Err(Refusal::instead(
            format!("{} runs no pod (0 replicas): nothing to restart", d.name),
            format!("scale {} up instead", d.name),
        ));
    }
    if seen.now.is_empty() {
        return Err(Refusal::new(
            "no time of planning to write: a defect of touban, nothing was planned",
        ));
    }
    let at = seen.now.clone();
    let path = format!(
        "/apis/apps/v1/namespaces/{}/deployments/{}",
        t.namespace, t.name
    );
    let steps = vec![
        PlannedStep {
            title: format!("check {} as read", d.name),
            kind: StepKind::Check,
            precondition: format!(
                "{} exists at generation {} (its spec unchanged since planned)",
                d.name, d.generation
            ),
            call: format!("GET {path}"),
            expect: "the deployment as planned from".into(),
        },
        PlannedStep {
            title: format!("restart {}'s pods", d.name),
            kind: StepKind::Mutate,
            precondition: "its resourceVersion is still the one read".into(),
            call: format!("PATCH {path} spec.template.metadata.annotations.{RESTARTED_AT}={at}"),
            expect: "a new pod template, rolled out by the deployment's strategy".into(),
        },
        PlannedStep {
            title: format!("wait for {} new pods updated and available", d.desired),
            kind: StepKind::Verify,
            precondition: "the restart was accepted".into(),
            call: format!("GET {path} until done"),
            expect: format!(
                "the spec observed, {} updated and available, old pods gone, within the progress deadline",
                d.desired
            ),
        },
    ];
    let plan = Plan {
        request: request.clone(),
        title: format!("restart {} ({} pods)", d.name, d.desired),
        steps,
        confirm_text: None,
        undo: None,
        reason: None,
        changes: vec![format!(
            "{}: spec.template.metadata.annotations.{RESTARTED_AT} {} → {at}",
            d.name,
            d.restarted_at.as_deref().unwrap_or("unset")
        )],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    let ops = vec![
        Op::ExpectGeneration {
            generation: d.generation,
        },
        Op::Restart { at: at.clone() },
        Op::AwaitRestarted {
            at,
            within: DEADLINE,
        },
    ];
    Ok(Job {
        plan,
        ops,
        access: vec![
            Access::new("get", "apps", "deployments"),
            Access::new("patch", "apps", "deployments"),
        ],
    })
}

/// Whether a deployment, as read now, shows the restart at `at` done: its
/// template carries the annotation and kubectl's rollout rules hold with no
/// old pod left.
pub fn verify(at: &str, d: &DeploymentRow) -> Progress {
    if d.restarted_at.as_deref() != Some(at) {
        return Progress::Failed(format!(
            "{}'s template was changed again by someone else (restartedAt {}): read it again",
            d.name,
            d.restarted_at.as_deref().unwrap_or("unset")
        ));
    }
    match rollout_state(d) {
        RolloutState::Complete if d.replicas > d.desired => Progress::Waiting(format!(
            "{} pods still running, {} wanted: old pods terminating",
            d.replicas, d.desired
        )),
        RolloutState::Complete => Progress::Done,
        RolloutState::Progressing(why) => Progress::Waiting(why),
        RolloutState::Stalled(why) => Progress::Failed(format!("{} {why}", d.name)),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Restart,
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "iworkz-production".into(),
                kind: ObjectKind::Deployment,
                name: "backend-api-blue".into(),
            },
            dry_run: false,
        }
    }

    fn deployment(desired: i32) -> DeploymentRow {
        DeploymentRow {
            namespace: "iworkz-production".into(),
            name: "backend-api-blue".into(),
            desired,
            ready: desired,
            updated: desired,
            available: desired,
            replicas: desired,
            generation: 4,
            observed_generation: 4,
            ..DeploymentRow::default()
        }
    }

    fn seen(d: DeploymentRow) -> Seen {
        Seen {
            deployment: Some(d),
            hpas: Vec::new(),
            primary: true,
            now: "2026-12-02T10:00:00Z".into(),
            ..Seen::default()
        }
    }

    #[test]
    fn a_restart_writes_the_time_of_planning_and_follows_the_rollout() {
        let job = plan(&request(), &seen(deployment(3))).expect("a plan");
        assert_eq!(job.plan.title, "restart backend-api-blue (3 pods)");
        assert_eq!(job.ops[0], Op::ExpectGeneration { generation: 4 });
        assert_eq!(
            job.ops[1],
            Op::Restart {
                at: "2026-12-02T10:00:00Z".into()
            }
        );
        assert_eq!(job.ops.len(), job.plan.steps.len());
        assert!(job.plan.steps[1].call.contains(RESTARTED_AT));
        let zero = plan(&request(), &seen(deployment(0))).expect_err("nothing runs");
        assert!(zero.why.contains("nothing to restart"), "{zero:?}");
    }

    #[test]
    fn done_when_every_pod_is_of_the_new_template_and_no_old_one_runs() {
        let at = "2026-12-02T10:00:00Z";
        let mut d = deployment(3);
        d.restarted_at = Some(at.into());
        d.generation = 5;
        assert!(
            matches!(verify(at, &d), Progress::Waiting(_)),
            "not observed"
        );
        d.observed_generation = 5;
        d.updated = 1;
        d.replicas = 4;
        assert!(matches!(verify(at, &d), Progress::Waiting(_)), "rolling");
        d.updated = 3;
        assert!(
            matches!(verify(at, &d), Progress::Waiting(_)),
            "an old pod left"
        );
        d.replicas = 3;
        assert_eq!(verify(at, &d), Progress::Done);
        d.restarted_at = Some("later".into());
        assert!(
            matches!(verify(at, &d), Progress::Failed(_)),
            "changed again"
        );
    }
}

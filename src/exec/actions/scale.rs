//! Scale a deployment: the `scale` subresource's `spec.replicas`, then
//! kubectl's rollout-status rules until every replica is updated and
//! available, or the progress deadline passes.
//!
//! A deployment that an HPA scales is refused: the HPA would undo a plain
//! scale within a sync period, so the operator is sent to the HPA's bounds.

use std::time::Duration;

use super::{Progress, Seen};
use crate::exec::step::{Access, Job, Op};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::cluster::DeploymentRow;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};
use crate::model::rollout::{RolloutState, rollout_state};

/// The most replicas one scale may ask for: a typo's guard (`:scale 1000`
/// for 10), not a platform limit.
pub const MAX_REPLICAS: u32 = 500;

/// How long the runner waits at most for the scale to be done: the
/// default `progressDeadlineSeconds`. A deployment past its own progress
/// deadline fails the wait earlier (stalled).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);

/// The plan for scaling the request's deployment to `replicas`.
pub fn plan(request: &ActionRequest, replicas: u32, seen: &Seen) -> Result<Job, Refusal> {
    let t = &request.target;
    if replicas > MAX_REPLICAS {
        return Err(Refusal::new(format!(
            "{replicas} replicas is more than one scale may ask for ({MAX_REPLICAS}): \
             is it a typo?"
        )));
    }
    let Some(d) = &seen.deployment else {
        return Err(Refusal::new(format!(
            "deployment {} not found in namespace {} of {}",
            t.name, t.namespace, t.cluster
        )));
    };
    if let Some(refusal) = hpa_refusal(request, d, seen, replicas) {
        return Err(refusal);
    }
    let from = d.desired;
    if i64::from(from) == i64::from(replicas) {
        return Err(Refusal::new(format!(
            "{} already wants {replicas} replicas",
            d.name
        )));
    }
    let call = format!(
        "PATCH /apis/apps/v1/namespaces/{}/deployments/{}/scale spec.replicas={replicas}",
        t.namespace, t.name
    );
    let steps = vec![
        PlannedStep {
            title: format!("check {} as read", d.name),
            kind: StepKind::Check,
            precondition: format!(
                "{} exists, wants {from} replicas, and no HPA scales it",
                d.name
            ),
            call: format!(
                "GET /apis/apps/v1/namespaces/{}/deployments/{}",
                t.namespace, t.name
            ),
            expect: "the deployment as planned from".into(),
        },
        PlannedStep {
            title: format!("scale {} from {from} to {replicas}", d.name),
            kind: StepKind::Mutate,
            precondition: format!("spec.replicas is still {from}"),
            call,
            expect: format!("spec.replicas = {replicas}"),
        },
        PlannedStep {
            title: format!("wait for {replicas} replicas updated and available"),
            kind: StepKind::Verify,
            precondition: "the scale was accepted".into(),
            call: format!(
                "GET /apis/apps/v1/namespaces/{}/deployments/{} until done",
                t.namespace, t.name
            ),
            expect: format!(
                "the spec observed, {replicas} updated and available, old replicas gone, \
                 within the progress deadline"
            ),
        },
    ];
    let to_zero_in_primary = replicas == 0 && seen.primary;
    let plan = Plan {
        request: request.clone(),
        title: format!("scale {} from {from} to {replicas}", d.name),
        steps,
        confirm_text: to_zero_in_primary.then(|| d.name.clone()),
        undo: Some(format!("scale {} back to {from}", d.name)),
        reason: None,
        changes: vec![format!("{}: spec.replicas {from} → {replicas}", d.name)],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    let ops = vec![
        Op::ExpectReplicas { replicas: from },
        Op::Scale { replicas, from },
        Op::AwaitScaled {
            replicas,
            within: DEFAULT_DEADLINE,
        },
    ];
    Ok(Job {
        plan,
        ops,
        access: vec![
            Access::new("get", "apps", "deployments"),
            Access::new("list", "autoscaling", "horizontalpodautoscalers"),
            Access::new("patch", "apps", "deployments").sub("scale"),
        ],
    })
}

/// The refusal of a plain scale of a deployment an HPA scales, with what to
/// change on the HPA instead.
fn hpa_refusal(
    request: &ActionRequest,
    d: &DeploymentRow,
    seen: &Seen,
    replicas: u32,
) -> Option<Refusal> {
    let h = seen.hpas.iter().find(|h| {
        h.target_kind == "Deployment" && h.target == d.name && h.namespace == d.namespace
    })?;
    let instead = if replicas == 0 {
        format!(
            "an HPA never scales to 0: remove {} first, then scale to 0",
            h.name
        )
    } else if i64::from(replicas) > i64::from(h.max) {
        format!(
            "raise {}'s maximum to {replicas} and its minimum to {replicas}",
            h.name
        )
    } else if i64::from(replicas) <= i64::from(h.min) {
        format!(
            "the HPA keeps at least {}: lower its minimum (`hpa-min {replicas}`) to let it scale down to {replicas}",
            h.min
        )
    } else {
        format!(
            "set {}'s minimum to {replicas} to hold at least {replicas}",
            h.name
        )
    };
    let refusal = Refusal::instead(
        format!(
            "{} is scaled by the HPA {} ({} to {} replicas): it would undo a plain scale",
            d.name, h.name, h.min, h.max
        ),
        instead,
    );
    // Offered only where it gets what was asked: at least `replicas`.
    if replicas == 0 || i64::from(replicas) <= i64::from(h.min) {
        return Some(refusal);
    }
    let bounds = ActionKind::HpaBounds {
        min: Some(replicas),
        max: (i64::from(replicas) > i64::from(h.max)).then_some(replicas),
    };
    Some(refusal.offering(ActionRequest {
        kind: bounds,
        target: Target {
            kind: ObjectKind::HorizontalPodAutoscaler,
            name: h.name.clone(),
            ..request.target.clone()
        },
        dry_run: request.dry_run,
    }))
}

/// Whether a deployment, as read now, shows the scale to `replicas` done:
/// its spec asks for them and kubectl's rollout rules hold.
pub fn verify(replicas: u32, d: &DeploymentRow) -> Progress {
    if i64::from(d.desired) != i64::from(replicas) {
        return Progress::Failed(format!(
            "{} wants {} replicas, not {replicas}: something else changed it",
            d.name, d.desired
        ));
    }
    match rollout_state(d) {
        // kubectl calls a scale-down complete while the old pods still run:
        // the scale is done when only the replicas wanted are left.
        RolloutState::Complete if i64::from(d.replicas) > i64::from(replicas) => Progress::Waiting(
            format!("{} replicas still running, {replicas} wanted", d.replicas),
        ),
        RolloutState::Complete => Progress::Done,
        RolloutState::Progressing(why) => Progress::Waiting(why),
        RolloutState::Stalled(why) => Progress::Failed(format!("{} {why}", d.name)),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::cluster::HpaRow;

    fn request(name: &str, replicas: u32) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Scale { replicas },
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "iworkz-production".into(),
                kind: ObjectKind::Deployment,
                name: name.into(),
            },
            dry_run: false,
        }
    }

    fn deployment(name: &str, desired: i32) -> DeploymentRow {
        DeploymentRow {
            namespace: "iworkz-production".into(),
            name: name.into(),
            desired,
            ready: desired,
            updated: desired,
            available: desired,
            replicas: desired,
            generation: 2,
            observed_generation: 2,
            ..DeploymentRow::default()
        }
    }

    fn seen(d: Option<DeploymentRow>, hpas: Vec<HpaRow>) -> Seen {
        Seen {
            deployment: d,
            hpas,
            primary: true,
            now: "2026-12-02T10:00:00Z".into(),
            ..Seen::default()
        }
    }

    #[test]
    fn a_plain_scale_checks_patches_and_verifies() {
        let s = seen(Some(deployment("web-frontend-blue", 4)), Vec::new());
        let job = plan(&request("web-frontend-blue", 10), 10, &s).expect("a plan");
        assert_eq!(job.ops.len(), job.plan.steps.len(), "an operation per step");
        assert_eq!(
            job.ops[1],
            Op::Scale {
                replicas: 10,
                from: 4
            }
        );
        let plan = job.plan;
        assert_eq!(plan.title, "scale web-frontend-blue from 4 to 10");
        let kinds: Vec<_> = plan.steps.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StepKind::Check, StepKind::Mutate, StepKind::Verify]);
        assert!(plan.steps[1].call.ends_with(
            "/namespaces/iworkz-production/deployments/web-frontend-blue/scale spec.replicas=10"
        ));
        assert_eq!(plan.steps[1].precondition, "spec.replicas is still 4");
        assert_eq!(
            plan.undo.as_deref(),
            Some("scale web-frontend-blue back to 4")
        );
        assert_eq!(plan.confirm_text, None);
    }

    #[test]
    fn to_zero_in_the_primary_region_needs_the_name_typed() {
        let s = seen(Some(deployment("web-frontend-blue", 4)), Vec::new());
        let plan = plan(&request("web-frontend-blue", 0), 0, &s)
            .expect("a plan")
            .plan;
        assert_eq!(plan.confirm_text.as_deref(), Some("web-frontend-blue"));
        let standby = Seen {
            primary: false,
            ..s
        };
        let plan = super::plan(&request("web-frontend-blue", 0), 0, &standby)
            .expect("a plan")
            .plan;
        assert_eq!(plan.confirm_text, None);
    }

    #[test]
    fn an_hpa_s_target_is_sent_to_the_hpa_s_bounds() {
        let hpa = HpaRow {
            namespace: "iworkz-production".into(),
            name: "backend-api-hpa".into(),
            target_kind: "Deployment".into(),
            target: "backend-api-blue".into(),
            min: 3,
            max: 20,
            ..HpaRow::default()
        };
        let s = seen(Some(deployment("backend-api-blue", 3)), vec![hpa]);
        let refused = plan(&request("backend-api-blue", 10), 10, &s).expect_err("refused");
        assert_eq!(
            refused.why,
            "backend-api-blue is scaled by the HPA backend-api-hpa (3 to 20 replicas): \
             it would undo a plain scale"
        );
        assert_eq!(
            refused.instead.as_deref(),
            Some("set backend-api-hpa's minimum to 10 to hold at least 10")
        );
        // Offered as a request the console can plan at once.
        let offer = refused.offer.expect("an offer");
        assert_eq!(
            offer.kind,
            ActionKind::HpaBounds {
                min: Some(10),
                max: None
            }
        );
        assert_eq!(offer.target.kind, ObjectKind::HorizontalPodAutoscaler);
        assert_eq!(offer.target.name, "backend-api-hpa");
        let more = plan(&request("backend-api-blue", 30), 30, &s).expect_err("refused");
        assert_eq!(
            more.instead.as_deref(),
            Some("raise backend-api-hpa's maximum to 30 and its minimum to 30")
        );
        let zero = plan(&request("backend-api-blue", 0), 0, &s).expect_err("refused");
        assert!(
            zero.instead
                .is_some_and(|i| i.starts_with("an HPA never scales to 0"))
        );
        // The HPA of a same-named deployment in another namespace is not
        // this deployment's.
        let mut elsewhere = s.clone();
        for h in &mut elsewhere.hpas {
            h.namespace = "staging".into();
        }
        assert!(plan(&request("backend-api-blue", 10), 10, &elsewhere).is_ok());
    }

    #[test]
    fn what_cannot_be_planned_says_why() {
        let none = seen(None, Vec::new());
        assert_eq!(
            plan(&request("nope", 3), 3, &none)
                .expect_err("refused")
                .why,
            "deployment nope not found in namespace iworkz-production of eks-tokyo"
        );
        let s = seen(Some(deployment("web-frontend-blue", 4)), Vec::new());
        assert_eq!(
            plan(&request("web-frontend-blue", 4), 4, &s)
                .expect_err("refused")
                .why,
            "web-frontend-blue already wants 4 replicas"
        );
        assert!(
            plan(&request("web-frontend-blue", 5000), 5000, &s)
                .expect_err("refused")
                .why
                .contains("typo")
        );
    }

    #[test]
    fn verification_follows_kubectl_s_rollout_rules() {
        let mut d = deployment("web-frontend-blue", 10);
        d.available = 7;
        d.ready = 7;
        assert_eq!(
            verify(10, &d),
            Progress::Waiting("7 of 10 updated replicas available".into())
        );
        d.observed_generation = 1;
        assert_eq!(
            verify(10, &d),
            Progress::Waiting("waiting for the deployment spec update to be observed".into())
        );
        d.observed_generation = 2;
        d.progressing = Some("ProgressDeadlineExceeded".into());
        assert!(
            matches!(verify(10, &d), Progress::Failed(why) if why.contains("progress deadline"))
        );
        assert_eq!(
            verify(10, &deployment("web-frontend-blue", 10)),
            Progress::Done
        );
        // Scaled down from 10 to 7: kubectl says complete while ten run.
        let mut down = deployment("web-frontend-blue", 7);
        down.replicas = 10;
        down.updated = 10;
        down.available = 10;
        assert_eq!(
            verify(7, &down),
            Progress::Waiting("10 replicas still running, 7 wanted".into())
        );
        assert!(matches!(
            verify(10, &deployment("web-frontend-blue", 6)),
            Progress::Failed(why) if why.contains("something else changed it")
        ));
    }
}

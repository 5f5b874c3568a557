//! Fix the fault the Rollouts pane flags on an HPA: it scales a Deployment
//! that does not exist, or a colour that is not live (the seed's own
//! manifest in Korea targets `backend-api`, which blue / green does not
//! have). The HPA's `scaleTargetRef` is moved to the live colour's
//! deployment (read from the release's Services, never assumed) with a
//! JSON patch that `test`s the old target, then the HPA controller is
//! waited for to hold the live colour inside the HPA's bounds.

use super::Seen;
use super::blue_green::{self, read_app};
use crate::exec::step::{Access, Job, Op, ReleaseOp};
use crate::model::action::ActionRequest;
use crate::model::cluster::HpaRow;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// The release an HPA belongs to: its target deployment's `app`, or, when
/// that does not exist, the target's own name (the seed's `backend-api`).
pub fn app_of(target: &str, seen: &Seen) -> String {
    seen.deployments
        .iter()
        .find(|d| d.name == target)
        .and_then(|d| d.app.clone())
        .unwrap_or_else(|| target.to_owned())
}

/// The plan for retargeting the request's HPA to its release's live
/// colour.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let t = &request.target;
    let Some(h) = seen
        .hpas
        .iter()
        .find(|h| h.name == t.name && h.namespace == t.namespace)
    else {
        return Err(Refusal::new(format!(
            "HPA {} not found in namespace {} of {}",
            t.name, t.namespace, t.cluster
        )));
    };
    if h.target_kind != "Deployment" {
        return Err(Refusal::new(format!(
            "{} scales a {} ({}): touban follows Deployments only",
            h.name, h.target_kind, h.target
        )));
    }
    let app = app_of(&h.target, seen);
    let r = read_app(request, &app, seen)?;
    if h.target == r.live_d.name {
        return Err(Refusal::new(format!(
            "{} already scales {}, the live colour of {app}: nothing to fix",
            h.name, r.live_d.name
        )));
    }
    let services: Vec<String> = r.services.iter().map(|s| s.name.clone()).collect();
    let live = r.live_d.name.clone();
    let steps = planned_steps(h, &app, r.live, &live, &t.namespace);
    let ops = vec![
        Op::Release(ReleaseOp::ExpectLive {
            mixed: false,
            services,
            live: r.live.to_owned(),
            idle: r.idle.to_owned(),
        }),
        Op::Release(ReleaseOp::Retarget {
            hpa: h.name.clone(),
            from: h.target.clone(),
            to: live.clone(),
        }),
        Op::AwaitWithinBounds {
            deployment: live.clone(),
            min: u32::try_from(h.min).unwrap_or(1),
            max: u32::try_from(h.max).unwrap_or(1),
            within: blue_green::SATURATE,
        },
    ];
    let plan = Plan {
        request: request.clone(),
        title: format!("retarget {} from {} to {live} (live)", h.name, h.target),
        steps,
        confirm_text: None,
        undo: Some(format!("retarget {} back to {}", h.name, h.target)),
        reason: None,
        changes: vec![format!(
            "{}: spec.scaleTargetRef.name {} → {live}",
            h.name, h.target
        )],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops,
        access: vec![
            Access::new("list", "", "services"),
            Access::new("list", "apps", "deployments"),
            Access::new("get", "apps", "deployments"),
            Access::new("list", "autoscaling", "horizontalpodautoscalers"),
            Access::new("patch", "autoscaling", "horizontalpodautoscalers"),
        ],
    })
}

/// The steps shown for moving `h` to `live` (of colour `live_colour`).
fn planned_steps(
    h: &HpaRow,
    app: &str,
    live_colour: &str,
    live: &str,
    ns: &str,
) -> Vec<PlannedStep> {
    let path = format!(
        "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{}",
        h.name
    );
    vec![
        PlannedStep {
            title: format!("check {app}'s Services route to {live_colour}"),
            kind: StepKind::Check,
            precondition: format!("every Service of {app} selects color={live_colour}"),
            call: format!("GET /api/v1/namespaces/{ns}/services"),
            expect: format!("{live_colour} is live"),
        },
        PlannedStep {
            title: format!("retarget {} from {} to {live}", h.name, h.target),
            kind: StepKind::Mutate,
            precondition: format!("{} still scales {}", h.name, h.target),
            call: format!("PATCH {path} (JSON patch: test, replace scaleTargetRef.name)"),
            expect: format!("{} scales {live}", h.name),
        },
        PlannedStep {
            title: format!(
                "wait for {live} to run between {} and {} replicas",
                h.min, h.max
            ),
            kind: StepKind::Verify,
            precondition: "the HPA was retargeted".into(),
            call: format!("GET /apis/apps/v1/namespaces/{ns}/deployments/{live} until done"),
            expect: format!(
                "{live} inside {}–{}, all updated and available",
                h.min, h.max
            ),
        },
    ]
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};
    use crate::model::cluster::{DeploymentRow, ServiceRow};

    fn seen(target: &str) -> Seen {
        let d = |colour: &str, replicas| DeploymentRow {
            namespace: "prod".into(),
            name: format!("api-{colour}"),
            desired: replicas,
            app: Some("api".into()),
            color: Some(colour.into()),
            ..DeploymentRow::default()
        };
        Seen {
            deployments: vec![d("blue", 1), d("green", 0)],
            services: vec![ServiceRow {
                namespace: "prod".into(),
                name: "api-svc".into(),
                app: Some("api".into()),
                selector: vec![
                    ("app".into(), "api".into()),
                    ("color".into(), "blue".into()),
                ],
            }],
            hpas: vec![HpaRow {
                namespace: "prod".into(),
                name: "api-hpa".into(),
                target_kind: "Deployment".into(),
                target: target.into(),
                min: 1,
                max: 4,
                ..HpaRow::default()
            }],
            ..Seen::default()
        }
    }

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::RetargetHpa,
            target: Target {
                region: "korea".into(),
                cluster: "aks-korea".into(),
                namespace: "prod".into(),
                kind: ObjectKind::HorizontalPodAutoscaler,
                name: "api-hpa".into(),
            },
            dry_run: false,
        }
    }

    #[test]
    fn an_hpa_on_a_missing_or_idle_deployment_goes_to_the_live_colour() {
        for wrong in ["api", "api-green"] {
            let job = plan(&request(), &seen(wrong)).expect("a plan");
            assert!(
                matches!(&job.ops[1], Op::Release(ReleaseOp::Retarget { from, to, .. }) if from == wrong && to == "api-blue"),
                "{:?}",
                job.ops
            );
        }
        let sound = plan(&request(), &seen("api-blue")).expect_err("nothing to fix");
        assert!(sound.why.contains("nothing to fix"), "{sound:?}");
    }
}

//! Set an HPA's bounds: `spec.minReplicas` and / or `spec.maxReplicas`,
//! with the bounds read as the write's precondition, then wait until the
//! deployment it scales wants a count inside them and kubectl's rollout
//! rules hold (the HPA controller moves it within a sync period).
//!
//! This is what a plain scale of an HPA's target is sent to: "scale
//! backend-api to 10" in Tokyo is "backend-api-hpa's minimum to 10".

use std::time::Duration;

use super::{Progress, Seen};
use crate::exec::step::{Access, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::cluster::{DeploymentRow, HpaRow};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};
use crate::model::rollout::{RolloutState, rollout_state};

use super::scale::MAX_REPLICAS;

/// How long the runner waits at most for the HPA's target to move inside
/// the new bounds: a few of the controller's 15 s syncs and the pods'
/// start.
pub const DEADLINE: Duration = Duration::from_secs(300);

/// The plan for setting the request's HPA to `min` / `max` (unset:
/// unchanged).
pub fn plan(
    request: &ActionRequest,
    min: Option<u32>,
    max: Option<u32>,
    seen: &Seen,
) -> Result<Job, Refusal> {
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
    let (from_min, from_max) = (h.min, h.max);
    let (to_min, to_max) = new_bounds(h, min, max)?;
    let d = scaled(h, seen)?;
    let steps = planned_steps(h, d, &t.namespace, (from_min, from_max), (to_min, to_max));
    let plan = Plan {
        request: request.clone(),
        title: format!(
            "set {}'s bounds from {from_min}–{from_max} to {to_min}–{to_max}",
            h.name
        ),
        steps,
        confirm_text: None,
        undo: Some(format!(
            "set {}'s bounds back to {from_min}–{from_max}",
            h.name
        )),
        reason: None,
        changes: [
            ("minReplicas", from_min, to_min),
            ("maxReplicas", from_max, to_max),
        ]
        .into_iter()
        .filter(|(_, from, to)| i64::from(*from) != i64::from(*to))
        .map(|(field, from, to)| format!("{}: spec.{field} {from} → {to}", h.name))
        .collect(),
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    let ops = vec![
        Op::ExpectBounds {
            min: from_min,
            max: from_max,
            deployment: d.name.clone(),
        },
        Op::SetBounds {
            min: to_min,
            max: to_max,
            from: (from_min, from_max),
        },
        Op::AwaitWithinBounds {
            deployment: d.name.clone(),
            min: to_min,
            max: to_max,
            within: DEADLINE,
        },
    ];
    Ok(Job {
        plan,
        ops,
        access: vec![
            Access::new("list", "autoscaling", "horizontalpodautoscalers"),
            Access::new("get", "autoscaling", "horizontalpodautoscalers"),
            Access::new("patch", "autoscaling", "horizontalpodautoscalers"),
            Access::new("get", "apps", "deployments"),
        ],
    })
}

/// The deployment the HPA scales, if it can be moved: it exists and runs
/// (an HPA does nothing while its target wants 0).
/// The steps shown for moving `h`'s bounds `from` → `to`.
fn planned_steps(
    h: &HpaRow,
    d: &DeploymentRow,
    namespace: &str,
    (from_min, from_max): (i32, i32),
    (to_min, to_max): (u32, u32),
) -> Vec<PlannedStep> {
    let path = format!(
        "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{}",
        h.name
    );
    vec![
        PlannedStep {
            title: format!("check {} as read", h.name),
            kind: StepKind::Check,
            precondition: format!(
                "{} scales {} between {from_min} and {from_max}",
                h.name, h.target
            ),
            call: format!("GET {path}"),
            expect: "the HPA as planned from".into(),
        },
        PlannedStep {
            title: format!(
                "set {}'s bounds from {from_min}–{from_max} to {to_min}–{to_max}",
                h.name
            ),
            kind: StepKind::Mutate,
            precondition: format!("its bounds are still {from_min}–{from_max}"),
            call: format!("PATCH {path} spec.minReplicas={to_min} spec.maxReplicas={to_max}"),
            expect: format!("spec.minReplicas = {to_min}, spec.maxReplicas = {to_max}"),
        },
        PlannedStep {
            title: format!(
                "wait for {} to run between {to_min} and {to_max} replicas",
                d.name
            ),
            kind: StepKind::Verify,
            precondition: "the bounds were accepted".into(),
            call: format!(
                "GET /apis/apps/v1/namespaces/{}/deployments/{} until done",
                namespace, d.name
            ),
            expect: format!(
                "{} wants {to_min}–{to_max} replicas, all updated and available, within {} s",
                d.name,
                DEADLINE.as_secs()
            ),
        },
    ]
}

fn scaled<'a>(h: &HpaRow, seen: &'a Seen) -> Result<&'a DeploymentRow, Refusal> {
    if h.target_kind != "Deployment" {
        return Err(Refusal::new(format!(
            "{} scales a {} ({}): touban follows Deployments only",
            h.name, h.target_kind, h.target
        )));
    }
    let Some(d) = seen.deployment.as_ref().filter(|d| d.name == h.target) else {
        return Err(Refusal::new(format!(
            "{} scales deployment {}, which does not exist: retarget the HPA first",
            h.name, h.target
        )));
    };
    if d.desired == 0 {
        return Err(Refusal::instead(
            format!(
                "{} wants 0 replicas: its HPA does nothing while it does",
                d.name
            ),
            format!("scale {} up first", d.name),
        ));
    }
    Ok(d)
}

/// The bounds asked for, from the HPA's as read: refused when nothing
/// changes, the minimum is 0 or above the maximum, or the maximum is
/// beyond what touban sets.
fn new_bounds(h: &HpaRow, min: Option<u32>, max: Option<u32>) -> Result<(u32, u32), Refusal> {
    let (from_min, from_max) = (h.min, h.max);
    let to_min = min.map_or(i64::from(from_min), i64::from);
    let to_max = max.map_or(i64::from(from_max), i64::from);
    if min.is_none() && max.is_none() {
        return Err(Refusal::new("give a minimum or a maximum to set"));
    }
    if to_min < 1 {
        return Err(Refusal::new(format!(
            "an HPA's minimum is at least 1 ({} asked for 0): to stop the workload, remove the HPA and scale it to 0",
            h.name
        )));
    }
    if to_max > i64::from(MAX_REPLICAS) {
        return Err(Refusal::new(format!(
            "a maximum of {to_max} is more than touban sets ({MAX_REPLICAS}): is it a typo?"
        )));
    }
    if to_min > to_max {
        return Err(Refusal::instead(
            format!(
                "{}'s minimum {to_min} would be above its maximum {to_max}",
                h.name
            ),
            format!("raise the maximum to at least {to_min} as well (`hpa-max {to_min}`)"),
        ));
    }
    if to_min == i64::from(from_min) && to_max == i64::from(from_max) {
        return Err(Refusal::new(format!(
            "{} already scales between {from_min} and {from_max}",
            h.name
        )));
    }
    match (u32::try_from(to_min), u32::try_from(to_max)) {
        (Ok(min), Ok(max)) => Ok((min, max)),
        _ => Err(Refusal::new("bounds out of range")),
    }
}

/// Whether the HPA, as read now, still holds the bounds planned from.
pub fn holds(h: &HpaRow, min: i32, max: i32) -> bool {
    h.min == min && h.max == max
}

/// Whether the HPA's target, as read now, runs inside the bounds and
/// kubectl's rollout rules hold.
pub fn verify(min: u32, max: u32, d: &DeploymentRow) -> Progress {
    let wants = i64::from(d.desired);
    if wants < i64::from(min) || wants > i64::from(max) {
        return Progress::Waiting(format!(
            "{} wants {wants} replicas, the HPA has not moved it inside {min}–{max} yet",
            d.name
        ));
    }
    match rollout_state(d) {
        RolloutState::Complete if d.replicas > d.desired => Progress::Waiting(format!(
            "{} replicas still running, {} wanted",
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

    fn request(min: Option<u32>, max: Option<u32>) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::HpaBounds { min, max },
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "iworkz-production".into(),
                kind: ObjectKind::HorizontalPodAutoscaler,
                name: "backend-api-hpa".into(),
            },
            dry_run: false,
        }
    }

    fn seen(target: &str) -> Seen {
        Seen {
            deployment: Some(DeploymentRow {
                namespace: "iworkz-production".into(),
                name: "backend-api-blue".into(),
                desired: 3,
                ready: 3,
                updated: 3,
                available: 3,
                replicas: 3,
                generation: 1,
                observed_generation: 1,
                ..DeploymentRow::default()
            }),
            hpas: vec![HpaRow {
                namespace: "iworkz-production".into(),
                name: "backend-api-hpa".into(),
                target_kind: "Deployment".into(),
                target: target.into(),
                min: 3,
                max: 20,
                ..HpaRow::default()
            }],
            primary: true,
            now: "2026-12-02T10:00:00Z".into(),
            ..Seen::default()
        }
    }

    #[test]
    fn raising_the_minimum_checks_patches_and_waits_for_the_target() {
        let job = plan(
            &request(Some(10), None),
            Some(10),
            None,
            &seen("backend-api-blue"),
        )
        .expect("a plan");
        assert_eq!(
            job.plan.title,
            "set backend-api-hpa's bounds from 3–20 to 10–20"
        );
        assert_eq!(
            job.plan.undo.as_deref(),
            Some("set backend-api-hpa's bounds back to 3–20")
        );
        assert_eq!(job.ops.len(), job.plan.steps.len());
        assert_eq!(
            job.ops[1],
            Op::SetBounds {
                min: 10,
                max: 20,
                from: (3, 20)
            }
        );
        assert!(job.plan.steps[1].call.contains("spec.minReplicas=10"));
    }

    #[test]
    fn what_cannot_be_set_says_why_and_what_instead() {
        let s = seen("backend-api-blue");
        let above = plan(&request(Some(30), None), Some(30), None, &s).expect_err("min > max");
        assert!(above.why.contains("above its maximum 20"), "{above:?}");
        assert!(
            above.instead.is_some_and(|i| i.contains("hpa-max 30")),
            "says what to do"
        );
        let zero = plan(&request(Some(0), None), Some(0), None, &s).expect_err("0");
        assert!(zero.why.contains("at least 1"), "{zero:?}");
        let same = plan(&request(Some(3), None), Some(3), None, &s).expect_err("same");
        assert!(same.why.contains("already scales between 3 and 20"));
        let gone = plan(
            &request(Some(5), None),
            Some(5),
            None,
            &seen("backend-api-green"),
        )
        .expect_err("a missing target");
        assert!(gone.why.contains("does not exist"), "{gone:?}");
    }

    #[test]
    fn verification_waits_until_the_target_is_inside_and_rolled_out() {
        let mut d = seen("backend-api-blue").deployment.expect("d");
        assert!(matches!(verify(10, 20, &d), Progress::Waiting(_)));
        d.desired = 10;
        d.generation = 2;
        assert!(matches!(verify(10, 20, &d), Progress::Waiting(_)));
        d.observed_generation = 2;
        (d.ready, d.updated, d.available, d.replicas) = (10, 10, 10, 10);
        assert_eq!(verify(10, 20, &d), Progress::Done);
    }
}

//! The region runbook as one job of parts. Each part (Korea's deployments
//! scaled to Tokyo's replicas, the database promoted, Tokyo's pool
//! disabled) is read and planned as the action it is, with its own
//! precondition, dry run and verification; the runbook's job runs their
//! steps in order under the region's Lease, then waits until the DR
//! region's pool is enabled and healthy: users reach it. Resumed, every
//! part's steps converge as they do alone, so a runbook killed at any
//! step ends where an uninterrupted one would.

use std::time::Duration;

use super::super::actions;
use crate::exec::backend::Backend;
use crate::exec::step::{Job, Op, TrafficOp};
use crate::model::action::{ActionKind, ActionRequest, Target};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the DR region's pool may take to be seen healthy.
pub const SERVING: Duration = Duration::from_secs(5 * 60);

/// The runbook's step a part is, by its action.
fn runbook_step(kind: &ActionKind) -> &'static str {
    match kind {
        ActionKind::Scale { .. } | ActionKind::HpaBounds { .. } => "2",
        ActionKind::Resync { .. } => "4",
        ActionKind::Switchover { .. } => "3-5",
        ActionKind::Fence { .. } => "3",
        ActionKind::Promote { .. }
        | ActionKind::PromoteReplica { .. }
        | ActionKind::CacheFailover
        | ActionKind::CachePromote
        | ActionKind::RdsPromote
        | ActionKind::Repoint { .. } => "5",
        ActionKind::TrafficPool { .. } => "6",
        _ => "·",
    }
}

/// A part's refusal as the runbook's: which part, and why.
fn within(title: &str, r: Refusal) -> Refusal {
    Refusal {
        why: format!("the runbook's part \"{title}\" is refused: {}", r.why),
        instead: r.instead,
        offer: None,
    }
}

/// What the runbook asks, taken apart.
pub(super) struct Runbook<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub parts: &'a [ActionRequest],
    pub serving: Option<&'a Target>,
    pub by_hand: &'a [String],
    /// Failing back: `from` took over, `to` is the primary region.
    pub back: bool,
    /// The undo of a runbook: no gates, and a part already as it was is
    /// left out.
    pub undo: bool,
}

/// The request that puts back what a part of the runbook changes, if one
/// does: a scale back to the replicas planned from, an HPA back to its
/// bounds, a pool back to enabled (or disabled). A promotion, a resync,
/// a re-pointing is not put back: said in the undo's plan.
fn undo_of(part: &ActionRequest, job: &Job) -> Option<ActionRequest> {
    let kind = match &part.kind {
        ActionKind::TrafficPool { enabled } => ActionKind::TrafficPool { enabled: !enabled },
        ActionKind::Scale { .. } => job.ops.iter().find_map(|op| match op {
            Op::Scale { from, .. } => Some(ActionKind::Scale {
                replicas: u32::try_from(*from).ok()?,
            }),
            _ => None,
        })?,
        ActionKind::HpaBounds { .. } => job.ops.iter().find_map(|op| match op {
            Op::SetBounds { from, .. } => Some(ActionKind::HpaBounds {
                min: Some(u32::try_from(from.0).ok()?),
                max: Some(u32::try_from(from.1).ok()?),
            }),
            _ => None,
        })?,
        _ => return None,
    };
    Some(ActionRequest {
        kind,
        target: part.target.clone(),
        dry_run: false,
    })
}

/// What an undo's part finds as it was already, if it does: then it is
/// left out of the undo (the runbook never got to it, or it was put back).
fn as_it_was(part: &ActionRequest, seen: &actions::Seen) -> Option<String> {
    let name = &part.target.name;
    match &part.kind {
        ActionKind::Scale { replicas } => seen
            .deployment
            .as_ref()
            .filter(|d| i64::from(d.desired) == i64::from(*replicas))
            .map(|_| format!("{name} wants {replicas} replicas")),
        ActionKind::HpaBounds { min, max } => seen
            .hpas
            .iter()
            .find(|h| h.name == *name)
            .filter(|h| {
                min.is_none_or(|m| i64::from(h.min) == i64::from(m))
                    && max.is_none_or(|m| i64::from(h.max) == i64::from(m))
            })
            .map(|h| format!("{name}'s bounds are {}–{}", h.min, h.max)),
        ActionKind::TrafficPool { enabled } => match &seen.pool {
            Some(Ok(p)) if p.enabled == *enabled => Some(format!(
                "{} is {}",
                p.name,
                if p.enabled { "enabled" } else { "disabled" }
            )),
            _ => None,
        },
        _ => None,
    }
}

/// Plans every part from what is read now and makes them one job; a part
/// that is refused refuses the runbook, saying which.
pub(super) async fn plan<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    r: &Runbook<'_>,
) -> Result<Job, Refusal> {
    let mut steps = Vec::new();
    let mut ops = Vec::new();
    let mut changes = Vec::new();
    let mut access = Vec::new();
    // An undo has no gates: nothing it does is past a point of no return.
    let mut passed = (r.undo, r.undo);
    // Databases a part before resyncs: they cannot be read as replicas
    // yet, their switchover back is planned from the primary alone.
    let mut resynced: Vec<&str> = Vec::new();
    // The undo puts back what the parts before the first gate did: past
    // it (a promotion, users moved) putting the old region's pool and the
    // DR region's capacity back would send users to a demoted database.
    let mut undos = Vec::new();
    let mut kept = Vec::new();
    let mut gated = false;
    for part in r.parts {
        let label = part.kind.name();
        let seen = super::read::seen(backend, part, part.target.region == r.from)
            .await
            .map_err(|e| within(label, e))?;
        if r.undo
            && let Some(was) = as_it_was(part, &seen)
        {
            changes.push(format!("as it was already, left out: {was}"));
            continue;
        }
        if let Some((step, op)) = gate_before(&part.kind, r.back, &mut passed) {
            steps.push(step);
            ops.push(op);
            gated = true;
        }
        if matches!(part.kind, ActionKind::Resync { .. }) {
            resynced.push(&part.target.name);
        }
        let mut job = plan_part(part, &seen, &resynced).map_err(|e| within(label, e))?;
        super::say_login(backend, &mut job);
        super::preflight(backend, part, &job)
            .await
            .map_err(|e| within(&job.plan.title, e))?;
        match undo_of(part, &job) {
            Some(undo) if !gated => undos.push(undo),
            _ => kept.push(job.plan.title.clone()),
        }
        let n = runbook_step(&part.kind);
        changes.push(format!("{n} · {}", job.plan.title));
        changes.extend(job.plan.changes.iter().map(|c| format!("    {c}")));
        for (s, op) in job.plan.steps.into_iter().zip(job.ops) {
            steps.push(PlannedStep {
                title: format!("{n} · {}", s.title),
                ..s
            });
            ops.push(Op::Part {
                request: Box::new(part.clone()),
                op: Box::new(op),
            });
        }
        access.extend(job.access);
    }
    if let Some((step, op)) = serving_step(request, r) {
        steps.push(step);
        ops.push(op);
    }
    if steps.is_empty() {
        return Err(nothing_to_do(r));
    }
    changes.extend(
        r.by_hand
            .iter()
            .map(|h| format!("by hand, not in this job: {h}")),
    );
    if !r.undo {
        changes.push(format!(
            "8 · the job's end in the audit log says how long {} took to serve (the RTO of this run){}",
            r.to,
            if r.back {
                ""
            } else {
                "; the data-loss bound is the promotion's line above"
            }
        ));
    }
    let (title, undo) = title_and_undo(r);
    let plan = Plan {
        request: request.clone(),
        title: format!("{title}: {} parts, {} steps", r.parts.len(), steps.len()),
        steps,
        // Moving a region is what a typed name is for.
        confirm_text: Some(r.to.to_owned()),
        undo: Some(undo),
        reason: None,
        changes,
        dry_run: None,
        undo_request: undo_request(r, undos, &kept),
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job { plan, ops, access })
}

/// Step 7: the region moved to serves, its pool enabled and healthy.
fn serving_step(request: &ActionRequest, r: &Runbook<'_>) -> Option<(PlannedStep, Op)> {
    let pool = r.serving?;
    Some((
        PlannedStep::new(
            format!("7 · verify {} serves: its pool enabled and healthy", r.to),
            StepKind::Verify,
            "the parts before it are done",
            &format!("GET …/load_balancers/pools/{} and its health", pool.name),
            &format!(
                "enabled, every monitor sees it healthy, within {} min",
                SERVING.as_secs() / 60
            ),
        ),
        Op::Part {
            request: Box::new(ActionRequest {
                kind: ActionKind::TrafficPool { enabled: true },
                target: pool.clone(),
                dry_run: request.dry_run,
            }),
            op: Box::new(Op::Traffic(TrafficOp::Serving { within: SERVING })),
        },
    ))
}

/// Why a runbook with no step is refused.
fn nothing_to_do(r: &Runbook<'_>) -> Refusal {
    if r.undo {
        return Refusal::new(format!(
            "nothing to undo: every part of the runbook {} → {} finds its target as it was",
            r.from, r.to
        ));
    }
    Refusal::instead(
        format!(
            "the runbook {} → {} has nothing touban can do: every part is by hand",
            r.from, r.to
        ),
        "`touban drill` says what each step needs",
    )
}

/// A part's plan; a switchover back to a database a part before
/// resyncs is planned from the primary alone.
fn plan_part(
    part: &ActionRequest,
    seen: &actions::Seen,
    resynced: &[&str],
) -> Result<Job, Refusal> {
    match &part.kind {
        ActionKind::Switchover {
            primary,
            subscription: None,
        } if resynced.contains(&part.target.name.as_str()) => {
            actions::resync::switchover(part, primary, seen)
        }
        _ => actions::plan(part, seen),
    }
}

/// The request that undoes the runbook if it does not end, offered then:
/// its parts' undos, newest first; what is not undone, said.
fn undo_request(
    r: &Runbook<'_>,
    mut undos: Vec<ActionRequest>,
    kept: &[String],
) -> Option<Box<ActionRequest>> {
    if r.undo || undos.is_empty() {
        return None;
    }
    undos.reverse();
    let after = if r.back {
        "fail over again to undo it"
    } else {
        "failing back rebuilds the old primary"
    };
    let by_hand = kept
        .iter()
        .map(|title| {
            format!(
                "not undone: {title} (the undo is offered only before the runbook's first gate, its point of no return; {after})"
            )
        })
        .collect();
    Some(Box::new(ActionRequest {
        kind: ActionKind::RegionFailover {
            from: r.from.to_owned(),
            to: r.to.to_owned(),
            parts: undos,
            serving: None,
            by_hand,
            back: r.back,
            undo: true,
        },
        target: Target {
            region: r.to.to_owned(),
            cluster: r.from.to_owned(),
            namespace: String::new(),
            kind: crate::model::action::ObjectKind::Region,
            name: r.to.to_owned(),
        },
        dry_run: false,
    }))
}

/// The title and the undo of the runbook's plan.
fn title_and_undo(r: &Runbook<'_>) -> (String, String) {
    if r.undo {
        let of = if r.back {
            format!("the failback from {} to {}", r.from, r.to)
        } else {
            format!("the failover of {} to {}", r.from, r.to)
        };
        return (
            format!("undo {of}"),
            "run the runbook again: its parts find what the undo put back".to_owned(),
        );
    }
    if r.back {
        (
            format!("fail back from {} to {}", r.from, r.to),
            format!(
                "each part's own, newest first: disable {}'s pool again, scale back; the switchover back is not undone (fail over again)",
                r.to
            ),
        )
    } else {
        (
            format!("fail {} over to {}", r.from, r.to),
            "each part's own, newest first: enable the old pool, scale back; a promotion is not undone (failing back rebuilds the old primary)"
                .to_owned(),
        )
    }
}

/// The gate before a part of `kind`, if one goes there: the points of
/// no return wait for the operator, before the first promotion (the fence
/// by hand done?) and before the users move. `passed`: whether each gate
/// is in the plan already.
fn gate_before(
    kind: &ActionKind,
    back: bool,
    passed: &mut (bool, bool),
) -> Option<(PlannedStep, Op)> {
    let promotion = matches!(
        kind,
        ActionKind::Switchover { .. }
            | ActionKind::Promote { .. }
            | ActionKind::PromoteReplica { .. }
            | ActionKind::RdsPromote
    );
    if promotion && !passed.0 {
        passed.0 = true;
        return Some(gate(
            "5",
            if back {
                "the roles switch back next: the primary region's databases are resynced; its writers stopped?"
            } else {
                "the promotion is next: is what the plan leaves by hand before it (the fence) done?"
            },
        ));
    }
    if matches!(kind, ActionKind::TrafficPool { .. }) && !passed.1 {
        passed.1 = true;
        return Some(gate(
            "6",
            if back {
                "the users move back next: is every pair the plan leaves by hand switched back?"
            } else {
                "the users move next"
            },
        ));
    }
    None
}

/// A gate of the runbook's step `n`: it waits for the operator.
fn gate(n: &str, what: &str) -> (PlannedStep, Op) {
    (
        PlannedStep::new(
            format!("{n} · wait for the operator: {what} (p in the Jobs pane goes on, c cancels)"),
            StepKind::Check,
            "the steps before it are done",
            crate::model::plan::GATE_CALL,
            "the operator goes on; cancelled here, nothing after it is done",
        ),
        Op::Gate {
            what: what.to_owned(),
        },
    )
}

/// A part's step as a step of the part's own job.
pub(super) fn part_job(job: &Job, request: &ActionRequest) -> Job {
    Job {
        plan: Plan {
            request: ActionRequest {
                dry_run: job.plan.request.dry_run,
                ..request.clone()
            },
            ..job.plan.clone()
        },
        ops: Vec::new(),
        access: Vec::new(),
    }
}

//! Terraform / OpenTofu on an `[[infrastructure]]` directory, as console
//! jobs: a plan (`plan -json -out=FILE`, saved 0600 in the state
//! directory, only its hash audited), and the apply of that saved plan,
//! planned from what the plan changes: a plan that destroys or replaces
//! anything needs the directory's name typed.

use super::Seen;
use crate::exec::infra::destroys;
use crate::exec::step::{InfraOp, Job, Op};
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

fn plan_of(
    request: &ActionRequest,
    title: String,
    step: PlannedStep,
    changes: Vec<String>,
) -> Plan {
    Plan {
        request: request.clone(),
        title,
        steps: vec![step],
        confirm_text: None,
        undo: None,
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    }
}

/// The plan for `operation` (`plan` or `apply`) on the target's directory.
pub fn plan(request: &ActionRequest, operation: &str, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let binary = &request.target.cluster;
    if operation == "plan" {
        let step = PlannedStep::new(
            format!("plan {name} with {binary} and save the plan"),
            StepKind::Mutate,
            "the directory initialised (`init`)",
            &format!(
                "{binary} plan -json -input=false -lock-timeout=60s -out=STATE/plans/{name}.tfplan"
            ),
            "the plan saved 0600 in the state directory; only its hash is audited",
        );
        let mut p = plan_of(
            request,
            format!("plan {name} with {binary}"),
            step,
            vec![
                format!("{binary} reads the state and the providers and changes no resource; it holds the state's lock meanwhile"),
                "cancelling sends it one interrupt and waits for it to stop (a second can leave the state locked)".to_owned(),
            ],
        );
        p.undo =
            Some("a plan changes no infrastructure: plan again, or leave it unapplied".to_owned());
        return Ok(Job {
            plan: p,
            ops: vec![Op::Infra(InfraOp::Plan)],
            access: Vec::new(),
        });
    }
    let saved = match &seen.infra {
        Some(Ok(s)) => s,
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot apply {name}: {why}; nothing was changed"
            )));
        }
        None => {
            return Err(Refusal::new(
                "the saved plan was not read: a defect of touban",
            ));
        }
    };
    let mut changes = vec![format!("Plan: {}", saved.totals)];
    for (addr, action) in &saved.changes {
        let mark = match action.as_str() {
            a if destroys(a) => "-",
            "create" => "+",
            _ => "~",
        };
        changes.push(format!("  {mark} {action:<8} {addr}"));
    }
    if saved.typed {
        changes.push(format!(
            "destroys or replaces {}: the name is typed to confirm",
            if saved.destroying.is_empty() {
                "resources".to_owned()
            } else {
                saved.destroying.join(", ")
            }
        ));
    }
    let step = PlannedStep::new(
        format!("apply {name}'s saved plan"),
        StepKind::Mutate,
        &format!("the saved plan, sha256 {}", saved.sha256),
        &format!("{binary} apply -json -input=false -lock-timeout=60s STATE/plans/{name}.tfplan"),
        &saved.totals,
    );
    // The request as audited names the plan applied, by its hash.
    let audited = ActionRequest {
        kind: ActionKind::Infra {
            operation: "apply".to_owned(),
            plan_sha256: saved.sha256.clone(),
        },
        ..request.clone()
    };
    let mut p = plan_of(
        &audited,
        format!("apply {name}: {}", saved.totals),
        step,
        changes,
    );
    p.confirm_text = saved.typed.then(|| name.clone());
    Ok(Job {
        plan: p,
        ops: vec![Op::Infra(InfraOp::Apply {
            sha256: saved.sha256.clone(),
        })],
        access: Vec::new(),
    })
}

//! A `[[manifests]]` set applied to one cluster, planned from the server's
//! own dry run of every document (server-side apply, field manager
//! `touban`): the diff of each against the live object is the plan's
//! changes (a Secret's values masked), a field another manager owns is a
//! refusal naming the manager (forcing is its own request, its own
//! confirmation), and each document that writes is a step, then each
//! Deployment it changes is followed until rolled out.

use std::time::Duration;

use super::Seen;
use crate::config::secret::mask_line;
use crate::exec::apply::{DocRef, Planned};
use crate::exec::step::{Job, ManifestOp, Op};
use crate::model::action::ActionRequest;
use crate::model::manifest::{self, ObjectDiff};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long each changed Deployment may take to roll out.
pub const ROLLED_OUT: Duration = Duration::from_secs(10 * 60);

/// Each document's outcome and field changes, as `touban apply` prints
/// them: the plan's changes (and the diff the dialog shows).
pub fn diff_lines(planned: &[(Planned, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (p, _) in planned {
        let claim = if p.claims && p.diff == ObjectDiff::Unchanged {
            ": touban takes over its fields"
        } else {
            ""
        };
        // The file by its name: the set's directory is the config's.
        let file = std::path::Path::new(&p.doc.file)
            .file_name()
            .map_or_else(|| p.doc.file.clone(), |f| f.to_string_lossy().into_owned());
        out.push(format!(
            "{:<10} {} ({file}:{}){claim}",
            p.diff.word(),
            p.label(),
            p.doc.line
        ));
        for change in p.diff.fields() {
            out.push(format!("    {}", mask_line(&change.to_string())));
        }
        if let Some(note) = &p.note {
            out.push(format!("    note: {note}"));
        }
    }
    out
}

/// A step per document that writes, then one per Deployment changed,
/// and their operations.
fn steps(writes: &[&(Planned, String)], force: bool) -> (Vec<PlannedStep>, Vec<Op>) {
    let mut steps = Vec::new();
    let mut ops = Vec::new();
    for (d, digest) in writes {
        let fields = d.diff.fields().len();
        steps.push(PlannedStep::new(
            format!("apply {}", d.label()),
            StepKind::Mutate,
            &format!(
                "{} ({fields} field(s)), as read from {} when planned",
                d.diff.word(),
                d.doc.place()
            ),
            &format!(
                "PATCH {} {} (server-side apply, fieldManager=touban{})",
                d.doc.kind,
                d.doc.name,
                if force { ", force" } else { "" }
            ),
            "the server holds the file's fields, touban their manager",
        ));
        ops.push(Op::Manifest(ManifestOp::Apply {
            doc: DocRef {
                kind: d.doc.kind.clone(),
                namespace: d.namespace.clone(),
                name: d.doc.name.clone(),
                digest: digest.clone(),
            },
        }));
    }
    for (d, _) in writes
        .iter()
        .filter(|(d, _)| d.doc.kind == "Deployment" && d.diff != ObjectDiff::Unchanged)
    {
        let namespace = d.namespace.clone().unwrap_or_else(|| "default".to_owned());
        steps.push(PlannedStep::new(
            format!("wait until {} is rolled out", d.label()),
            StepKind::Verify,
            "applied",
            &format!("GET Deployment {}", d.doc.name),
            &format!(
                "rolled out by kubectl's rules within {} min",
                ROLLED_OUT.as_secs() / 60
            ),
        ));
        ops.push(Op::Manifest(ManifestOp::AwaitRollout {
            namespace,
            name: d.doc.name.clone(),
            within: ROLLED_OUT,
        }));
    }
    (steps, ops)
}

/// The plan for applying the target's set (its name) to its cluster.
pub fn plan(request: &ActionRequest, force: bool, seen: &Seen) -> Result<Job, Refusal> {
    let set = &request.target.name;
    let cluster = &request.target.cluster;
    let p = match &seen.manifests {
        Some(Ok(p)) => p,
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot plan {set} on {cluster}: {why}; nothing was changed"
            )));
        }
        None => return Err(Refusal::new("the set was not planned: a defect of touban")),
    };
    let conflicts: Vec<String> = p
        .planned
        .iter()
        .flat_map(|(d, _)| d.conflicts.iter().map(|c| format!("{}: {c}", d.label())))
        .collect();
    if !conflicts.is_empty() {
        return Err(Refusal::instead(
            format!(
                "{} field(s) of {set} are owned by another field manager in {cluster}: {}; nothing was changed",
                conflicts.len(),
                mask_line(&conflicts.join("; "))
            ),
            format!(
                "`:apply {set} {cluster} force` takes those fields over, and only those, on a confirmation of its own"
            ),
        ));
    }
    let diffs: Vec<&ObjectDiff> = p.planned.iter().map(|(d, _)| &d.diff).collect();
    let summary = manifest::summary(&diffs);
    let writes: Vec<&(Planned, String)> = p.planned.iter().filter(|(d, _)| d.writes()).collect();
    if writes.is_empty() {
        return Err(Refusal::new(format!(
            "{cluster} is as the files of {set} say ({summary}): nothing to apply"
        )));
    }
    let (steps, ops) = steps(&writes, force);
    let mut changes = vec![summary.clone()];
    if let Some(live) = &p.live {
        let idle = if live == "blue" { "green" } else { "blue" };
        changes.push(format!(
            "live colour {live}: applying the idle colour, {idle}"
        ));
    }
    changes.extend(diff_lines(&p.planned));
    let plan = Plan {
        request: request.clone(),
        title: format!(
            "apply {set} to {cluster}: {summary}{}",
            if force {
                ", taking over conflicting fields"
            } else {
                ""
            }
        ),
        steps,
        // What the set changes is the operator's to read: its name typed.
        confirm_text: Some(set.clone()),
        undo: Some("apply the files as they were before".to_owned()),
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

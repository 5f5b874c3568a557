//! Failing back: the old primary rebuilt as the replica of the database
//! that took over, before the roles are switched back. touban runs on the
//! bastion, not on the database's host, so the rebuild (`pg_rewind` or a
//! new base backup) is the operator's: the plan says both commands and
//! the step waits until the old primary streams from the new one, caught
//! up within the pair's RPO. A switchover planned after it in the same
//! runbook cannot read the target as a replica yet: it is planned from
//! the primary alone, and its first step checks the target when it runs.

use std::time::Duration;

use super::{DbSeen, Seen, failover};
use crate::exec::backend::DbReading;
use crate::exec::step::{DbOp, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the operator may take to rebuild the old primary: a base
/// backup of a large database takes hours. Cancel ends the wait sooner.
pub const REBUILD: Duration = Duration::from_secs(12 * 60 * 60);

/// The database that serves, as read, or why it cannot be resynced from.
fn serving<'a>(db: &'a DbSeen, primary: &str) -> Result<&'a DbReading, Refusal> {
    match &db.primary {
        Some((_, Ok(p))) if p.in_recovery => Err(Refusal::new(format!(
            "{primary} is in recovery (a replica): failing back resyncs from the database that took over and takes writes; nothing was changed"
        ))),
        Some((_, Ok(p))) => Ok(p),
        Some((_, Err(why))) => Err(Refusal::new(format!(
            "{primary}, the database that took over, cannot be read ({why}): nothing can be resynced from it; nothing was changed"
        ))),
        None => Err(Refusal::new(
            "the databases were not read: a defect of touban",
        )),
    }
}

/// The target as read, in words for the plan.
fn target_words(name: &str, primary: &str, t: &Result<DbReading, String>) -> String {
    match t {
        Err(why) => format!("{name} does not answer ({why}): being rebuilt, or down"),
        Ok(t) if !t.in_recovery => format!(
            "{name} answers as a primary{}: it must be rebuilt, its writes since the takeover are discarded",
            if t.read_only {
                " (fenced)"
            } else {
                " (NOT fenced)"
            }
        ),
        Ok(t) => format!(
            "{name} is in recovery, WAL receiver {}{}",
            t.receiver.as_deref().unwrap_or("none"),
            if t.read_only {
                format!("; it carries the fence (lifted once it streams from {primary})")
            } else {
                String::new()
            }
        ),
    }
}

/// The rebuild's commands, on `name`'s host, from `source` (`host:port`).
pub fn commands(source: &str) -> String {
    let (host, port) = source.rsplit_once(':').unwrap_or((source, "5432"));
    format!(
        "on its host, as postgres, the server stopped: `pg_rewind --target-pgdata=$PGDATA --source-server='host={host} port={port} user=postgres dbname=postgres' --write-recovery-conf` (needs wal_log_hints or data checksums), or into an empty $PGDATA `pg_basebackup -h {host} -p {port} -D $PGDATA -R -X stream -c fast`; then start it"
    )
}

/// The plan of a resync of the target from `primary`.
pub fn plan(
    request: &ActionRequest,
    primary: &str,
    source: &str,
    rpo_seconds: u64,
    seen: &Seen,
) -> Result<Job, Refusal> {
    let db = seen
        .db
        .as_ref()
        .ok_or_else(|| Refusal::new("the databases were not read: a defect of touban"))?;
    let name = &request.target.name;
    let p = serving(db, primary)?;
    let state = target_words(name, primary, &db.target);
    let steps = vec![PlannedStep::new(
        format!(
            "wait until {name} is rebuilt as {primary}'s replica, streaming, within {rpo_seconds} s"
        ),
        StepKind::Verify,
        &format!(
            "{primary} takes writes{}; {state}",
            if p.read_only { " (fenced)" } else { "" }
        ),
        &format!(
            "by the operator, {}; touban reads pg_is_in_recovery(), pg_stat_wal_receiver and pg_control_system() on both",
            commands(source)
        ),
        &format!(
            "{name} in recovery with {primary}'s system identifier, streaming, replayed to {primary}'s WAL or within {rpo_seconds} s of it; a fence it carries lifted; within {} h",
            REBUILD.as_secs() / 3600
        ),
    )];
    let plan = Plan {
        request: request.clone(),
        title: format!("resync {name} from {primary}"),
        steps,
        confirm_text: None,
        undo: Some(format!(
            "nothing to undo: the rebuild is the operator's; until the roles are switched back {primary} stays the primary"
        )),
        reason: None,
        changes: vec![
            format!(
                "{name}: rebuilt as {primary}'s streaming replica (by the operator): what it wrote after the takeover is discarded"
            ),
            format!(
                "{name}: a fence it carries (default_transaction_read_only) lifted while it is a replica, so that it takes writes once promoted"
            ),
        ],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: vec![Op::Db(DbOp::AwaitResynced {
            primary: primary.to_owned(),
            rpo_seconds,
            within: REBUILD,
        })],
        access: Vec::new(),
    })
}

/// The switchover back to the target once it is resynced, planned from
/// `primary` alone: the target is being rebuilt and cannot be read as a
/// replica yet; the first step reads it when it runs.
pub fn switchover(request: &ActionRequest, primary: &str, seen: &Seen) -> Result<Job, Refusal> {
    let db = seen
        .db
        .as_ref()
        .ok_or_else(|| Refusal::new("the databases were not read: a defect of touban"))?;
    let name = &request.target.name;
    let p = serving(db, primary)?;
    if !p.overrides.is_empty() {
        return Err(Refusal::instead(
            format!(
                "{primary}: default_transaction_read_only is set for {} of their own: the fence (ALTER SYSTEM) would not hold for their sessions; nothing was changed",
                p.overrides.join(", ")
            ),
            "reset those settings (ALTER ROLE … RESET default_transaction_read_only / ALTER DATABASE … RESET) and plan again",
        ));
    }
    let steps = failover::switchover_steps(
        name,
        primary,
        "resynced by the step before: checked again when this step runs",
        p,
    );
    let plan = Plan {
        request: request.clone(),
        title: format!("switch over {primary} → {name}"),
        steps,
        confirm_text: Some(name.clone()),
        undo: Some(format!(
            "before the promotion, lift the fence (unfence {primary}); after it, {primary} must be rebuilt as {name}'s replica"
        )),
        reason: None,
        changes: vec![
            format!("{primary}: default_transaction_read_only off → on, its client sessions ended"),
            format!("{name}: replica → primary (a new timeline)"),
            format!(
                "{primary} stays fenced: rebuild it as {name}'s replica for the DR region to be ready again"
            ),
        ],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: failover::switchover_ops(primary)
            .into_iter()
            .map(|op| match op {
                Op::Db(DbOp::Promote) => Op::Db(DbOp::PromoteRebuilt),
                Op::Db(DbOp::Replica { primary, .. }) => Op::Db(DbOp::ReplicaRebuilt { primary }),
                op => op,
            })
            .collect(),
        access: Vec::new(),
    })
}

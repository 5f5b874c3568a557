//! The stronger fence: a database's application roles locked out
//! (`ALTER ROLE … NOLOGIN`, their sessions ended). `default_transaction_read_only`
//! stops well-behaved clients only, since a session may set it off again;
//! a role that cannot log in writes nothing. Role attributes are catalog
//! rows, replayed by a physical replica: locked out on a primary that
//! streams to one, the replica (promoted or not) would lock the
//! applications out too. So it is offered where no physical replica
//! follows: a logical pair's source, an old primary back after its
//! replica's promotion.

use super::Seen;
use crate::exec::backend::{DbReading, Login};
use crate::exec::step::{DbOp, Job, Op};
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// The target and its roles as read, or the refusal to plan without them.
fn read<'a>(name: &str, seen: &'a Seen) -> Result<(&'a DbReading, &'a [Login]), Refusal> {
    let t = seen
        .db
        .as_ref()
        .ok_or_else(|| Refusal::new("the database was not read: a defect of touban"))?
        .target
        .as_ref()
        .map_err(|why| Refusal::new(format!("cannot read {name}: {why}; nothing was changed")))?;
    let logins = seen
        .logins
        .as_ref()
        .ok_or_else(|| Refusal::new("the roles were not read: a defect of touban"))?
        .as_ref()
        .map_err(|why| {
            Refusal::new(format!(
                "cannot read {name}'s roles: {why}; nothing was changed"
            ))
        })?;
    Ok((t, logins))
}

/// Why the lockout cannot be planned, if it cannot: a replica, a role
/// missing, a physical replica that would replay it, nothing to change.
fn refused(
    name: &str,
    roles: &[String],
    locked: bool,
    t: &DbReading,
    logins: &[Login],
) -> Option<Refusal> {
    if t.in_recovery {
        return Some(Refusal::new(format!(
            "{name} is a replica (in recovery): role changes are made on its primary and replayed here; nothing was changed"
        )));
    }
    if let Some(missing) = logins.iter().find(|l| !l.exists) {
        return Some(Refusal::instead(
            format!("{name} has no role {}: nothing was changed", missing.role),
            "say in its [[databases]] app_roles the roles its applications log in as",
        ));
    }
    let replicas: Vec<&str> = t
        .senders
        .iter()
        .filter(|s| s.physical)
        .map(|s| s.name.as_str())
        .collect();
    if locked && !replicas.is_empty() {
        return Some(Refusal::instead(
            format!(
                "{name} streams to the physical replica {}: role attributes replicate, so locking the applications out here would lock them out of the replica too, promoted or not; nothing was changed",
                replicas.join(", ")
            ),
            format!(
                "fence {name} with `:fence {name}` (read-only, what a physical pair can have); lock its roles out once its replica is promoted and it no longer streams to it"
            ),
        ));
    }
    let todo = logins.iter().any(|l| l.can_login == locked);
    let sessions: i64 = logins.iter().map(|l| l.sessions).sum();
    if !todo && (!locked || sessions == 0) {
        return Some(Refusal::new(format!(
            "{} {} already: nothing to do",
            roles.join(", "),
            if locked {
                "cannot log in and have no session"
            } else {
                "may log in"
            }
        )));
    }
    None
}

/// The plan of a lockout (`locked`) of `roles` on the target, or of
/// letting them in again.
pub fn plan(
    request: &ActionRequest,
    roles: &[String],
    locked: bool,
    seen: &Seen,
) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let (t, logins) = read(name, seen)?;
    if let Some(refusal) = refused(name, roles, locked, t, logins) {
        return Err(refusal);
    }
    let sessions: i64 = logins.iter().map(|l| l.sessions).sum();
    let list = roles.join(", ");
    let (title, call, expect, change) = if locked {
        (
            format!("lock {list} out of {name}: NOLOGIN, their sessions ended"),
            "ALTER ROLE … NOLOGIN for each; pg_terminate_backend() of every session of theirs",
            "pg_roles reads NOLOGIN; pg_stat_activity has no session of theirs".to_owned(),
            format!(
                "{name}: {list} NOLOGIN, {sessions} of their sessions ended: the applications can neither write nor reconnect (what default_transaction_read_only cannot hold against a client that sets it off)"
            ),
        )
    } else {
        (
            format!("let {list} log in to {name} again"),
            "ALTER ROLE … LOGIN for each",
            "pg_roles reads LOGIN".to_owned(),
            format!("{name}: {list} LOGIN: the applications may connect again"),
        )
    };
    let steps = vec![
        PlannedStep::new(
            title.clone(),
            StepKind::Mutate,
            &if locked {
                format!("{name} answers as a primary with no physical replica")
            } else {
                format!("{name} answers as a primary")
            },
            call,
            &expect,
        ),
        PlannedStep::new(
            format!("verify {name}'s roles"),
            StepKind::Verify,
            "the roles altered",
            "pg_roles and pg_stat_activity in a new session",
            &expect,
        ),
    ];
    let plan = Plan {
        request: request.clone(),
        title,
        steps,
        confirm_text: locked.then(|| name.clone()),
        undo: Some(if locked {
            format!("`:unlock {name}` (ALTER ROLE … LOGIN); the ended sessions reconnect")
        } else {
            format!("`:lockout {name}`")
        }),
        reason: None,
        changes: vec![change],
        dry_run: None,
        undo_request: Some(Box::new(ActionRequest {
            kind: ActionKind::Lockout {
                roles: roles.to_vec(),
                locked: !locked,
            },
            ..request.clone()
        })),
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: vec![
            Op::Db(DbOp::Lockout {
                roles: roles.to_vec(),
                locked,
            }),
            Op::Db(DbOp::AwaitLockedOut {
                roles: roles.to_vec(),
                locked,
            }),
        ],
        access: Vec::new(),
    })
}

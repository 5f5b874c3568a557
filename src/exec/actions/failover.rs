//! PostgreSQL failover through a direct connection: a planned switchover
//! (fence the primary, wait until its streaming replica has replayed the
//! primary's last WAL, promote, verify writes: nothing acknowledged is
//! lost), an unplanned promotion (the primary does not answer: the plan
//! states what may be lost, the database's name is typed, the old primary
//! is fenced if it answers again), and the fence on its own (for an old
//! primary that returns) or lifted. Planned from both databases as read
//! now; a logical subscriber (not in recovery) is not a physical replica
//! and is refused here.

mod logical;

use std::time::Duration;

use super::{DbSeen, Seen};
use crate::exec::backend::DbReading;
use crate::exec::backend::postgres::{PROMOTE_SECONDS, lsn_text};
use crate::exec::step::{DbOp, Job, Op};
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long a replica may take to replay the primary's last WAL.
pub const CATCH_UP: Duration = Duration::from_secs(60);
/// How long a promoted database may take to take writes.
pub const WRITABLE: Duration = Duration::from_secs(60);

fn plan_of(request: &ActionRequest, title: String, steps: Vec<PlannedStep>) -> Plan {
    Plan {
        request: request.clone(),
        title,
        steps,
        confirm_text: Some(request.target.name.clone()),
        undo: None,
        reason: None,
        changes: Vec::new(),
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    }
}

/// What was read, or the refusal to plan without it.
fn read(seen: &Seen) -> Result<&DbSeen, Refusal> {
    seen.db
        .as_ref()
        .ok_or_else(|| Refusal::new("the databases were not read: a defect of touban"))
}

/// The target as read, or a refusal naming why it could not be.
fn target<'a>(request: &ActionRequest, db: &'a DbSeen) -> Result<&'a DbReading, Refusal> {
    db.target.as_ref().map_err(|why| {
        Refusal::new(format!(
            "cannot read {}: {why}; nothing was changed",
            request.target.name
        ))
    })
}

/// The request for the same target with another action.
fn other(request: &ActionRequest, kind: ActionKind) -> ActionRequest {
    ActionRequest {
        kind,
        ..request.clone()
    }
}

/// Why the target cannot be promoted at all, if it cannot.
fn not_promotable(name: &str, t: &DbReading) -> Option<Refusal> {
    if !t.in_recovery {
        return Some(Refusal::new(format!(
            "{name} is not a replica (not in recovery) and has not exactly one subscription to switch over through: it takes writes already (with several subscriptions, name the pair's in [[replication]] subscription); nothing was changed"
        )));
    }
    if t.paused {
        return Some(Refusal::instead(
            format!(
                "{name}'s replay is paused: what it received is not applied; nothing was changed"
            ),
            format!("resume it on {name} (SELECT pg_wal_replay_resume()) and plan again"),
        ));
    }
    None
}

/// How far the replica's replay is behind `primary_lsn`, in words.
pub fn behind_words(t: &DbReading, primary_lsn: Option<u64>) -> String {
    match (t.lsn, primary_lsn) {
        (Some(r), Some(p)) if p > r => format!(
            "replayed to {}, the primary is at {} ({} bytes behind)",
            lsn_text(r),
            lsn_text(p),
            p - r
        ),
        (Some(r), Some(_)) => format!("replayed to {}: caught up", lsn_text(r)),
        _ => "replay position not reported".to_owned(),
    }
}

/// The check that the new primary `name` takes writes, as a step.
fn writes_step(name: &str) -> PlannedStep {
    PlannedStep::new(
        format!("verify {name} takes writes"),
        StepKind::Verify,
        &format!("{name} is promoted"),
        "pg_is_in_recovery(); BEGIN; CREATE TEMPORARY TABLE …; SELECT txid_current(); COMMIT",
        &format!(
            "a primary, not read-only, a transaction committed, within {} s",
            WRITABLE.as_secs()
        ),
    )
}

/// The fence of `primary`, as a step of a switchover.
fn fence_step(primary: &str) -> PlannedStep {
    PlannedStep::new(
        format!("fence {primary}: read-only, its sessions ended"),
        StepKind::Mutate,
        &format!("{primary} answers as the primary"),
        "ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf(); pg_terminate_backend() of every other client session",
        "a new session reads default_transaction_read_only = on, no session begun before it left; applications reconnect read-only",
    )
}

/// The steps of a switchover of `primary` (read as `p`) to `name`, its
/// replica as `replica` says it is read.
pub(super) fn switchover_steps(
    name: &str,
    primary: &str,
    replica: &str,
    p: &DbReading,
) -> Vec<PlannedStep> {
    let fenced = if p.read_only {
        format!("{primary} is fenced already (read-only)")
    } else {
        format!("{primary} takes writes ({} other sessions)", p.sessions)
    };
    vec![
        PlannedStep::new(
            format!("check {primary} is the primary and {name} streams from it"),
            StepKind::Check,
            &fenced,
            "pg_is_in_recovery(), pg_stat_wal_receiver, and pg_control_system() where the role may read it",
            &format!("{name}: {replica}"),
        ),
        fence_step(primary),
        PlannedStep::new(
            format!("wait until {name} has replayed {primary}'s last WAL"),
            StepKind::Verify,
            &format!("{primary} is fenced"),
            &format!(
                "pg_current_wal_insert_lsn() on {primary}, then pg_last_wal_replay_lsn() on {name}, until both are still"
            ),
            &format!(
                "replayed to at least that LSN, within {} s: every acknowledged commit is on {name}",
                CATCH_UP.as_secs()
            ),
        ),
        PlannedStep::new(
            format!("promote {name}"),
            StepKind::Mutate,
            &format!("{name} has replayed everything {primary} wrote"),
            &format!("SELECT pg_promote(true, {PROMOTE_SECONDS})"),
            "pg_is_in_recovery() = false",
        ),
        writes_step(name),
    ]
}

/// The plan for a planned switchover of `primary` to the target: its
/// physical replica, or (`subscription` given, or the target not in
/// recovery with one subscription) its logical subscriber.
pub fn switchover(
    request: &ActionRequest,
    primary: &str,
    subscription: Option<&str>,
    seen: &Seen,
) -> Result<Job, Refusal> {
    let db = read(seen)?;
    let name = &request.target.name;
    let t = target(request, db)?;
    let p = match &db.primary {
        Some((_, Ok(p))) => p,
        Some((_, Err(why))) if !db.primary_down => {
            return Err(Refusal::new(format!(
                "the primary {primary} cannot be read ({why}), but it takes TCP connections: it is not down; fix touban's access to it and plan again; nothing was changed"
            )));
        }
        Some((_, Err(why))) => {
            return Err(Refusal::instead(
                format!("the primary {primary} does not answer ({why}): a planned switchover fences it first; nothing was changed"),
                format!("if {primary} is down, promote {name} without it (what it committed after {name}'s last replayed transaction is lost)"),
            )
            .offering(other(request, ActionKind::Promote { primary: primary.to_owned(), subscription: None })));
        }
        None => return Err(Refusal::new("the primary was not read: a defect of touban")),
    };
    if p.in_recovery {
        return Err(Refusal::new(format!(
            "{primary} is not a primary (it is in recovery): name the database that takes writes; nothing was changed"
        )));
    }
    if !p.overrides.is_empty() {
        return Err(Refusal::instead(
            format!(
                "{primary}: default_transaction_read_only is set for {} of their own: the fence (ALTER SYSTEM) would not hold for their sessions; nothing was changed",
                p.overrides.join(", ")
            ),
            "reset those settings (ALTER ROLE … RESET default_transaction_read_only / ALTER DATABASE … RESET) and plan again",
        ));
    }
    if !t.in_recovery {
        let only = match t.subscriptions.as_slice() {
            [one] => Some(one.name.as_str()),
            _ => None,
        };
        if let Some(sub) = subscription.or(only) {
            return logical::switchover(request, primary, sub, t, p);
        }
    }
    if let Some(refusal) = not_promotable(name, t) {
        return Err(refusal);
    }
    if let (Some(a), Some(b)) = (&p.system, &t.system)
        && a != b
    {
        return Err(Refusal::new(format!(
            "{name} is not a physical replica of {primary} (system identifiers {b} and {a} differ); nothing was changed"
        )));
    }
    if t.receiver.as_deref() != Some("streaming") {
        return Err(Refusal::new(format!(
            "{name} is not streaming from {primary} (WAL receiver: {}): it could not catch up before the promotion; nothing was changed",
            t.receiver.as_deref().unwrap_or("none")
        )));
    }
    let steps = switchover_steps(name, primary, &behind_words(t, p.lsn), p);
    let mut plan = plan_of(request, format!("switch over {primary} → {name}"), steps);
    plan.changes = vec![
        format!("{primary}: default_transaction_read_only off → on, its client sessions ended"),
        format!("{name}: replica → primary (a new timeline)"),
        format!(
            "applications still pointed at {primary} get read-only errors until re-pointed at {name}"
        ),
        format!(
            "the fence stops well-behaved clients only (a session may SET default_transaction_read_only off and write); locking the application roles out (`:lockout`) is not offered before the promotion: role attributes replicate to {name}; once promoted, `:lockout {primary}` holds for every client"
        ),
    ];
    plan.undo = Some(format!(
        "before the promotion, lift the fence (unfence {primary}); after it, {primary} must be rebuilt as {name}'s replica (pg_rewind or a new base backup): `:failback-region` waits for that, then switches back"
    ));
    Ok(Job {
        plan,
        ops: switchover_ops(primary),
        access: Vec::new(),
    })
}

/// What a physical switchover from `primary` does, step by step.
pub(super) fn switchover_ops(primary: &str) -> Vec<Op> {
    vec![
        Op::Db(DbOp::Replica {
            primary: primary.to_owned(),
            planned: true,
        }),
        Op::Db(DbOp::Fence {
            db: primary.to_owned(),
            read_only: true,
        }),
        Op::Db(DbOp::AwaitReplayed {
            primary: primary.to_owned(),
            within: CATCH_UP,
        }),
        Op::Db(DbOp::Promote),
        Op::Db(DbOp::AwaitWritable { within: WRITABLE }),
    ]
}

/// What a promotion without the primary may lose, from what the replica
/// last replayed.
fn loss_bound(primary: &str, t: &DbReading, now: jiff::Timestamp) -> String {
    let replayed = t.lsn.map_or_else(|| "?".to_owned(), lsn_text);
    let received = t.received.map_or_else(|| "?".to_owned(), lsn_text);
    match t.replayed_at {
        Some(at) => format!(
            "what {primary} committed after {} ({} s ago: the last transaction replayed here) and did not stream is lost; WAL received to {received}, replayed to {replayed} (the rest is replayed before the promotion)",
            at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            now.duration_since(at).as_secs().max(0)
        ),
        None => format!(
            "no transaction was replayed here since it started: what {primary} committed and did not stream is lost; WAL received to {received}, replayed to {replayed}"
        ),
    }
}

/// Why the target may not be promoted without `primary`, if it may not:
/// the primary answers (or is merely unreadable), or the target is no
/// physical replica.
fn not_without(
    request: &ActionRequest,
    primary: &str,
    db: &DbSeen,
    t: &DbReading,
) -> Option<Refusal> {
    primary_not_gone(request, primary, db).or_else(|| not_promotable(&request.target.name, t))
}

/// Why `primary` is not gone, if it is not: it answers, or takes TCP
/// connections (then a promotion beside it could make two primaries).
fn primary_not_gone(request: &ActionRequest, primary: &str, db: &DbSeen) -> Option<Refusal> {
    let name = &request.target.name;
    if let Some((_, Ok(p))) = &db.primary {
        if p.in_recovery {
            return Some(Refusal::new(format!(
                "{primary} answers and is in recovery (a replica): name the database that was primary; nothing was changed"
            )));
        }
        return Some(Refusal::instead(
            format!("{primary} answers as a primary: a promotion without it would make two primaries; nothing was changed"),
            format!("a planned switchover, which fences {primary} first and loses nothing"),
        )
        .offering(other(request, ActionKind::Switchover { primary: primary.to_owned(), subscription: None })));
    }
    if let Some((_, Err(why))) = &db.primary
        && !db.primary_down
    {
        return Some(Refusal::new(format!(
            "{primary} cannot be read ({why}), but it takes TCP connections: it is not down, and promoting {name} beside it could make two primaries; nothing was changed"
        )));
    }
    None
}

/// The plan for promoting the target without its primary, which does not
/// answer.
pub fn promote(
    request: &ActionRequest,
    primary: &str,
    subscription: Option<&str>,
    seen: &Seen,
) -> Result<Job, Refusal> {
    let db = read(seen)?;
    let name = &request.target.name;
    let t = target(request, db)?;
    let down = match &db.primary {
        Some((_, Err(why))) => why.clone(),
        _ => "not read".to_owned(),
    };
    if !t.in_recovery && !t.subscriptions.is_empty() {
        // A logical subscriber: its source gone, it is promoted by
        // stopping what fed it.
        if let Some(refusal) = primary_not_gone(request, primary, db) {
            return Err(refusal);
        }
        return match subscription.or(match t.subscriptions.as_slice() {
            [one] => Some(one.name.as_str()),
            _ => None,
        }) {
            Some(sub) if t.subscriptions.iter().any(|s| s.name == sub) => {
                Ok(logical::promote(request, primary, sub, &down))
            }
            Some(sub) => Err(Refusal::new(format!(
                "{name} has no subscription {sub} (the pair's in [[replication]]); nothing was changed"
            ))),
            None => Err(Refusal::new(format!(
                "{name} has {} subscriptions and none is named: say the pair's in [[replication]] subscription; nothing was changed",
                t.subscriptions.len()
            ))),
        };
    }
    if let Some(refusal) = not_without(request, primary, db, t) {
        return Err(refusal);
    }
    let loss = loss_bound(primary, t, jiff::Timestamp::now());
    let steps = vec![
        PlannedStep::new(
            format!("check {primary} still does not answer and {name} is a replica"),
            StepKind::Check,
            &format!("{primary}: {down}"),
            "connect to both; pg_is_in_recovery() on the replica",
            &loss,
        ),
        PlannedStep::new(
            format!("promote {name} without {primary}"),
            StepKind::Mutate,
            &format!("{primary} does not answer"),
            &format!("SELECT pg_promote(true, {PROMOTE_SECONDS})"),
            "pg_is_in_recovery() = false",
        ),
        writes_step(name),
        PlannedStep::new(
            format!("fence {primary} if it answers again"),
            StepKind::Mutate,
            &format!("{name} is the primary"),
            &format!(
                "connect to {primary}; if it answers as a primary: ALTER SYSTEM SET default_transaction_read_only = on, its sessions ended"
            ),
            &format!(
                "{primary} fenced, or not answering: fence it when it returns (fence {primary}), before anything writes to it"
            ),
        ),
    ];
    let mut plan = plan_of(request, format!("promote {name} without {primary}"), steps);
    plan.changes = vec![
        format!("{name}: replica → primary (a new timeline)"),
        format!("data-loss bound: {loss}"),
        format!(
            "{primary}, if it returns, is a second primary until fenced: touban fences it (read-only) if it answers by the last step; `:lockout {primary}` then locks its application roles out, the fence that holds for every client"
        ),
    ];
    plan.undo = Some(format!(
        "none: {name} is a primary from here; {primary} must be rebuilt as its replica (pg_rewind or a new base backup): `:failback-region` waits for that, then switches back"
    ));
    Ok(Job {
        plan,
        ops: vec![
            Op::Db(DbOp::Replica {
                primary: primary.to_owned(),
                planned: false,
            }),
            Op::Db(DbOp::Promote),
            Op::Db(DbOp::AwaitWritable { within: WRITABLE }),
            Op::Db(DbOp::FenceIfBack {
                db: primary.to_owned(),
            }),
        ],
        access: Vec::new(),
    })
}

/// The plan for fencing the target (read-only, its sessions ended) or
/// lifting its fence.
pub fn fence(request: &ActionRequest, read_only: bool, seen: &Seen) -> Result<Job, Refusal> {
    let db = read(seen)?;
    let name = &request.target.name;
    let t = target(request, db)?;
    if t.in_recovery {
        return Err(Refusal::new(format!(
            "{name} is a replica (in recovery): it takes no writes, there is nothing to {}; nothing was changed",
            if read_only { "fence" } else { "lift" }
        )));
    }
    if !read_only
        && let Some((partner, Ok(other))) = &db.primary
        && !other.in_recovery
        && !other.read_only
        && other.subscriptions.iter().all(|x| !x.enabled)
    {
        return Err(Refusal::instead(
            format!(
                "{partner}, the other end of {name}'s [[replication]] pair, takes writes: lifting {name}'s fence would make two primaries; nothing was changed"
            ),
            format!("rebuild {name} as {partner}'s replica first, or fence {partner}"),
        ));
    }
    if t.read_only == read_only {
        return Err(Refusal::new(format!(
            "{name} is {} already (default_transaction_read_only = {}): nothing to do",
            if read_only { "fenced" } else { "not fenced" },
            if read_only { "on" } else { "off" }
        )));
    }
    let (title, call, expect, change) = if read_only {
        (
            format!("fence {name}: read-only, its sessions ended"),
            "ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf(); pg_terminate_backend() of every other client session",
            "a new session reads default_transaction_read_only = on",
            format!(
                "{name}: default_transaction_read_only off → on, its {} other client sessions ended (applications reconnect read-only)",
                t.sessions
            ),
        )
    } else {
        (
            format!("lift {name}'s fence"),
            "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()",
            "a new session reads default_transaction_read_only = off",
            format!("{name}: default_transaction_read_only on → off: it takes writes again"),
        )
    };
    let steps = vec![
        PlannedStep::new(
            format!("check {name} answers as a primary"),
            StepKind::Check,
            "it answers",
            "pg_is_in_recovery()",
            "false",
        ),
        PlannedStep::new(
            title.clone(),
            StepKind::Mutate,
            "it is a primary",
            call,
            expect,
        ),
    ];
    let mut plan = plan_of(request, title, steps);
    plan.changes = vec![change];
    if read_only {
        plan.changes.push(format!(
            "the fence stops well-behaved clients only: a session may SET default_transaction_read_only off and write; the stronger fence is `:lockout {name}` (its app_roles NOLOGIN, their sessions ended), {}",
            if t.senders.iter().any(|s| s.physical) {
                "not offered while a physical replica streams from it (role attributes replicate)"
            } else {
                "offered: no physical replica streams from it"
            }
        ));
    }
    plan.undo = Some(if read_only {
        format!("unfence {name}")
    } else {
        format!("fence {name}")
    });
    Ok(Job {
        plan,
        ops: vec![
            Op::Db(DbOp::Primary),
            Op::Db(DbOp::Fence {
                db: name.clone(),
                read_only,
            }),
        ],
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::action::{ObjectKind, Target};

    fn request(kind: ActionKind) -> ActionRequest {
        ActionRequest {
            kind,
            target: Target {
                region: "korea".into(),
                cluster: "dr-postgres".into(),
                namespace: String::new(),
                kind: ObjectKind::Database,
                name: "dr-postgres".into(),
            },
            dry_run: false,
        }
    }

    fn primary() -> DbReading {
        DbReading {
            lsn: Some(0x300_0100),
            version: 150_000,
            sessions: 3,
            system: Some("7".into()),
            ..DbReading::default()
        }
    }

    fn replica() -> DbReading {
        DbReading {
            in_recovery: true,
            lsn: Some(0x300_0000),
            received: Some(0x300_0100),
            receiver: Some("streaming".into()),
            system: Some("7".into()),
            ..primary()
        }
    }

    fn seen(target: Result<DbReading, String>, p: Result<DbReading, String>) -> Seen {
        Seen {
            db: Some(DbSeen {
                target,
                primary_down: p.is_err(),
                primary: Some(("tokyo-postgres".into(), p)),
            }),
            ..Seen::default()
        }
    }

    #[test]
    fn a_switchover_fences_waits_promotes_and_verifies() {
        let r = request(ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        });
        let job = switchover(
            &r,
            "tokyo-postgres",
            None,
            &seen(Ok(replica()), Ok(primary())),
        )
        .expect("a plan");
        assert_eq!(job.ops.len(), job.plan.steps.len());
        assert_eq!(job.plan.confirm_text.as_deref(), Some("dr-postgres"));
        assert!(
            job.plan.steps[0].expect.contains("256 bytes behind"),
            "{:?}",
            job.plan.steps[0]
        );
        assert!(matches!(
            job.ops[1],
            Op::Db(DbOp::Fence {
                read_only: true,
                ..
            })
        ));
        assert!(matches!(job.ops[3], Op::Db(DbOp::Promote)));
    }

    #[test]
    fn each_failover_is_refused_where_the_other_is_the_safe_one() {
        let s = ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        };
        let p = ActionKind::Promote {
            primary: "tokyo-postgres".into(),
            subscription: None,
        };
        let down = seen(Ok(replica()), Err("no answer within 10 s".into()));
        let refused =
            switchover(&request(s.clone()), "tokyo-postgres", None, &down).expect_err("refused");
        assert_eq!(refused.offer.map(|o| o.kind), Some(p.clone()));
        let job = promote(&request(p.clone()), "tokyo-postgres", None, &down).expect("a promotion");
        assert!(
            job.plan
                .changes
                .iter()
                .any(|c| c.contains("data-loss bound"))
        );
        // Unreadable (a password refused) but taking connections: not down.
        let mut unreadable = seen(Ok(replica()), Err("password authentication failed".into()));
        if let Some(db) = unreadable.db.as_mut() {
            db.primary_down = false;
        }
        assert!(promote(&request(p.clone()), "tokyo-postgres", None, &unreadable).is_err());
        let refused = switchover(&request(s.clone()), "tokyo-postgres", None, &unreadable)
            .expect_err("refused");
        assert!(
            refused.offer.is_none(),
            "no promotion offered: {}",
            refused.why
        );
        let up = seen(Ok(replica()), Ok(primary()));
        let refused = promote(&request(p), "tokyo-postgres", None, &up).expect_err("refused");
        assert_eq!(refused.offer.map(|o| o.kind), Some(s.clone()));
        let logical = seen(Ok(primary()), Ok(primary()));
        let why = switchover(&request(s.clone()), "tokyo-postgres", None, &logical)
            .expect_err("refused")
            .why;
        assert!(why.contains("not a replica"), "{why}");
        let other_system = seen(
            Ok(DbReading {
                system: Some("8".into()),
                ..replica()
            }),
            Ok(primary()),
        );
        assert!(switchover(&request(s.clone()), "tokyo-postgres", None, &other_system).is_err());
        let cut = seen(
            Ok(DbReading {
                receiver: None,
                ..replica()
            }),
            Ok(primary()),
        );
        let why = switchover(&request(s), "tokyo-postgres", None, &cut)
            .expect_err("refused")
            .why;
        assert!(why.contains("not streaming"), "{why}");
    }

    #[test]
    fn a_fence_is_planned_only_where_it_changes_something() {
        let f = request(ActionKind::Fence {
            read_only: true,
            partner: None,
        });
        let fenced = Seen {
            db: Some(DbSeen {
                target: Ok(DbReading {
                    read_only: true,
                    ..primary()
                }),
                primary: None,
                primary_down: false,
            }),
            ..Seen::default()
        };
        assert!(fence(&f, true, &fenced).is_err());
        assert!(fence(&f, false, &fenced).is_ok());
        let on_replica = Seen {
            db: Some(DbSeen {
                target: Ok(replica()),
                primary: None,
                primary_down: false,
            }),
            ..Seen::default()
        };
        assert!(fence(&f, true, &on_replica).is_err());
    }
}

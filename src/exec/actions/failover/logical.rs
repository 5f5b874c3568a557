//! A switchover to a logical subscriber (the seed's RDS → Azure path):
//! the subscriber takes writes already, so it is "promoted" by stopping
//! what feeds it and making its sequences safe. The source is fenced, the
//! subscription waited for until it has applied the source's last WAL,
//! disabled, and every sequence set past the source's last value
//! (sequences are not replicated logically: without this, the first insert
//! on the new primary would reuse an id). Without its source (unplanned),
//! the source's last values cannot be read: each sequence is set past the
//! highest value in use in the column it numbers, by a gap.

use super::{CATCH_UP, WRITABLE, fence_step, plan_of};
use crate::exec::backend::DbReading;
use crate::exec::backend::postgres::lsn_text;
use crate::exec::step::{DbOp, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::{PlannedStep, Refusal, StepKind};

/// The steps of a logical switchover of `primary` to `name` through
/// `sub`.
fn steps(name: &str, primary: &str, sub: &str, p: &DbReading) -> Vec<PlannedStep> {
    let wal = p.lsn.map_or_else(|| "?".to_owned(), lsn_text);
    vec![
        PlannedStep::new(
            format!(
                "check {primary} is the primary and {name}'s subscription {sub} streams from it"
            ),
            StepKind::Check,
            &format!("{primary} at WAL {wal}"),
            &format!("pg_subscription on {name}; pg_stat_replication on {primary}"),
            "the subscription enabled, its link streaming",
        ),
        fence_step(primary),
        PlannedStep::new(
            format!("wait until {sub} has applied {primary}'s last WAL"),
            StepKind::Verify,
            &format!("{primary} is fenced"),
            &format!(
                "pg_current_wal_insert_lsn() on {primary}, then the confirmed_flush_lsn of {sub}'s slot there"
            ),
            &format!(
                "applied to at least that LSN, within {} s: every acknowledged commit is on {name}",
                CATCH_UP.as_secs()
            ),
        ),
        PlannedStep::new(
            format!("disable subscription {sub} on {name}"),
            StepKind::Mutate,
            "everything is applied",
            &format!("ALTER SUBSCRIPTION {sub} DISABLE"),
            "pg_subscription.subenabled = false: nothing more is applied from the source",
        ),
        PlannedStep::new(
            format!("advance {name}'s sequences past {primary}'s"),
            StepKind::Mutate,
            &format!("{primary} is fenced (its sequences move no more)"),
            &format!(
                "pg_sequences.last_value on {primary}; SELECT setval(seq, value, true) on {name} for each that is behind"
            ),
            "every sequence on the new primary at or past the source's",
        ),
        PlannedStep::new(
            format!("verify {name} takes writes"),
            StepKind::Verify,
            "the subscription is disabled",
            "BEGIN; CREATE TEMPORARY TABLE …; SELECT txid_current(); COMMIT",
            &format!(
                "not read-only, a transaction committed, within {} s",
                WRITABLE.as_secs()
            ),
        ),
    ]
}

/// The plan for a switchover of `primary` to its subscriber `t` (the
/// target) through subscription `sub`, both read as `t` and `p`.
pub(super) fn switchover(
    request: &ActionRequest,
    primary: &str,
    sub: &str,
    t: &DbReading,
    p: &DbReading,
) -> Result<Job, Refusal> {
    let name = &request.target.name;
    match t
        .subscriptions
        .iter()
        .find(|x| x.name == sub)
        .map(|x| x.enabled)
    {
        None => {
            return Err(Refusal::new(format!(
                "{name} has no subscription {sub} (it has {}); nothing was changed",
                if t.subscriptions.is_empty() {
                    "none".to_owned()
                } else {
                    t.subscriptions
                        .iter()
                        .map(|x| x.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        }
        Some(false) => {
            return Err(Refusal::new(format!(
                "{name}'s subscription {sub} is disabled: it is not fed, there is nothing to catch up and switch over from; nothing was changed"
            )));
        }
        Some(true) => {}
    }
    let Some(link) = p.senders.iter().find(|s| s.name == sub) else {
        return Err(Refusal::new(format!(
            "{primary} has no link for {sub} in pg_stat_replication: the subscription is not connected, {name} could not catch up; nothing was changed"
        )));
    };
    if link.state != "streaming" {
        return Err(Refusal::new(format!(
            "{sub}'s link on {primary} is {}, not streaming; nothing was changed",
            link.state
        )));
    }
    let mut plan = plan_of(
        request,
        format!("switch over {primary} → {name} (logical)"),
        steps(name, primary, sub, p),
    );
    plan.changes = vec![
        format!("{primary}: default_transaction_read_only off → on, its client sessions ended"),
        format!(
            "{name}: subscription {sub} enabled → disabled (it and its slot on {primary} stay, for a failback; the slot keeps WAL on {primary} until dropped)"
        ),
        format!("{name}: each sequence behind {primary}'s set to {primary}'s last value"),
        format!(
            "applications still pointed at {primary} get read-only errors until re-pointed at {name}"
        ),
        format!(
            "the fence stops well-behaved clients only (a session may SET default_transaction_read_only off and write); `:lockout {primary}` (its app_roles NOLOGIN) holds for every client and is safe on a logical pair: roles do not replicate logically"
        ),
    ];
    plan.undo = Some(format!(
        "before the subscription is disabled, lift the fence (unfence {primary}); after it, re-enable {sub} only once {primary} has nothing {name} does not (writes on {name} are not sent back)"
    ));
    let (primary, subscription) = (primary.to_owned(), sub.to_owned());
    Ok(Job {
        plan,
        ops: vec![
            Op::Db(DbOp::Subscriber {
                primary: primary.clone(),
                subscription: subscription.clone(),
            }),
            Op::Db(DbOp::Fence {
                db: primary.clone(),
                read_only: true,
            }),
            Op::Db(DbOp::AwaitApplied {
                primary: primary.clone(),
                subscription: subscription.clone(),
                within: CATCH_UP,
            }),
            Op::Db(DbOp::DisableSubscription { subscription }),
            Op::Db(DbOp::AdvanceSequences { primary }),
            Op::Db(DbOp::AwaitWritable { within: WRITABLE }),
        ],
        access: Vec::new(),
    })
}

/// How far past the highest value in use an unplanned promotion sets a
/// sequence, in increments: what the lost source handed out and never
/// sent stays unused, for a reconciliation.
pub const GAP: i64 = 1_000_000;

/// The plan for promoting a logical subscriber whose source does not
/// answer: the subscription disabled, each sequence set past the data it
/// numbers, writes verified, the source fenced should it return.
pub(super) fn promote(request: &ActionRequest, primary: &str, sub: &str, down: &str) -> Job {
    let name = &request.target.name;
    let steps = vec![
        PlannedStep::new(
            format!("check {primary} still does not answer and {name} subscribes through {sub}"),
            StepKind::Check,
            &format!("{primary}: {down}"),
            "connect to both; pg_subscription on the subscriber; a TCP connection to the source",
            &format!("{primary} does not answer, not even TCP; {sub} is there"),
        ),
        PlannedStep::new(
            format!("disable {sub} on {name}"),
            StepKind::Mutate,
            &format!("{primary} does not answer"),
            &format!("ALTER SUBSCRIPTION {sub} DISABLE (local: its slot on {primary} stays)"),
            "pg_subscription.subenabled = false",
        ),
        PlannedStep::new(
            format!("set {name}'s sequences past the data they number"),
            StepKind::Mutate,
            &format!("{sub} disabled: nothing more arrives"),
            "max() of each sequence's owning column; setval(seq, max + gap × increment) where the sequence is behind it",
            &format!(
                "each sequence owned by a column at or past its highest value in use by {GAP} increments; those owned by none named"
            ),
        ),
        super::writes_step(name),
        PlannedStep::new(
            format!("fence {primary} if it answers again"),
            StepKind::Mutate,
            &format!("{name} takes writes"),
            &format!(
                "connect to {primary}; if it answers as a primary: ALTER SYSTEM SET default_transaction_read_only = on, its sessions ended"
            ),
            &format!(
                "{primary} fenced, or not answering: fence it when it returns (`:fence {primary}`, or `:lockout {primary}`, which holds for every client and is safe: roles do not replicate logically)"
            ),
        ),
    ];
    let mut plan = plan_of(
        request,
        format!("promote {name} without {primary} (logical)"),
        steps,
    );
    plan.changes = vec![
        format!(
            "{name}: subscription {sub} enabled → disabled (it and its slot on {primary} stay)"
        ),
        format!(
            "{name}: each sequence behind the highest value in use in its column set {GAP} increments past it ({primary}'s last values cannot be read; ids it handed out and never sent stay unused)"
        ),
        format!(
            "data-loss bound: what {primary} committed and {name} had not applied is lost; touban cannot read it from {name} once {primary} is gone: the last lag the Failover pane read (its replication row) is the bound"
        ),
        format!(
            "{primary}, if it returns, is a second primary until fenced: touban fences it (read-only) if it answers by the last step"
        ),
    ];
    plan.undo = Some(format!(
        "none once {name} has taken writes: re-enabling {sub} would apply {primary}'s writes on top of them; rebuild {primary} from {name} to fail back"
    ));
    Job {
        plan,
        ops: vec![
            Op::Db(DbOp::Orphaned {
                primary: primary.to_owned(),
                subscription: sub.to_owned(),
            }),
            Op::Db(DbOp::DisableSubscription {
                subscription: sub.to_owned(),
            }),
            Op::Db(DbOp::AdvancePastData { gap: GAP }),
            Op::Db(DbOp::AwaitWritable { within: WRITABLE }),
            Op::Db(DbOp::FenceIfBack {
                db: primary.to_owned(),
            }),
        ],
        access: Vec::new(),
    }
}

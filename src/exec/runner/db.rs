//! The steps of a PostgreSQL failover or fence. Each reads the databases
//! again before it acts and converges: a fence in place is not written
//! again, a replica promoted already is not promoted again, so a resumed
//! job ends where an uninterrupted one would. A dry run checks the role
//! may do each change and changes nothing.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Done, POLL};
use crate::exec::backend::postgres::lsn_text;
use crate::exec::backend::{Backend, DbReading, Failure};
use crate::exec::step::{DbOp, Job};

fn failure(what: String) -> Failure {
    Failure { what, status: None }
}

// Every step answers a Result: a step that is done reads as one.
#[allow(clippy::unnecessary_wraps)]
fn done(said: String) -> Result<Done, Failure> {
    Ok(Done { said, call: None })
}

/// Performs one step of a database job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &DbOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let name = &job.plan.request.target.name;
    let dry_run = job.plan.request.dry_run;
    match op {
        DbOp::Replica { primary, planned } => {
            replica(backend, name, primary, *planned, resuming).await
        }
        DbOp::Primary => {
            let t = backend.db_read(name).await?;
            if t.in_recovery {
                return Err(failure(format!(
                    "{name} is in recovery now (a replica): nothing to fence"
                )));
            }
            done(format!("{name} answers as a primary"))
        }
        DbOp::Fence { db, read_only } => fence(backend, db, *read_only, dry_run).await,
        DbOp::AwaitReplayed { primary, within } => {
            if dry_run {
                let p = backend.db_read(primary).await?;
                let t = backend.db_read(name).await?;
                return done(format!(
                    "dry run: {name} {}",
                    super::super::actions::failover::behind_words(&t, p.lsn)
                ));
            }
            await_replayed(backend, name, primary, *within, cancel, resuming).await
        }
        DbOp::PromoteRebuilt if dry_run => promote_rebuilt_dry_run(backend, name).await,
        DbOp::ReplicaRebuilt { .. } | DbOp::AwaitResynced { .. } => {
            failback(backend, name, op, dry_run, cancel, resuming).await
        }
        DbOp::Promote | DbOp::PromoteRebuilt => {
            let t = backend.db_read(name).await?;
            if !t.in_recovery {
                return done(format!(
                    "{name} is a primary already (promoted before): nothing done"
                ));
            }
            backend.db_promote(name, dry_run).await?;
            if dry_run {
                return done(format!(
                    "dry run: the role may promote {name}; not promoted"
                ));
            }
            done(format!("{name} promoted"))
        }
        DbOp::AwaitWritable { within } => {
            if dry_run {
                return done("dry run: nothing promoted, nothing to verify".into());
            }
            await_writable(backend, name, *within, cancel).await
        }
        DbOp::FenceIfBack { db } => fence_if_back(backend, db, dry_run).await,
        DbOp::Lockout { roles, locked } => lockout(backend, name, roles, *locked, dry_run).await,
        DbOp::Orphaned {
            primary,
            subscription,
        } => orphaned(backend, name, primary, subscription, resuming).await,
        DbOp::AdvancePastData { gap } => {
            advance_past_data(backend, name, *gap, dry_run, resuming).await
        }
        DbOp::AwaitLockedOut { roles, locked } => {
            locked_out(backend, name, roles, *locked, dry_run).await
        }
        DbOp::Subscriber {
            primary,
            subscription,
        } => subscriber(backend, name, primary, subscription, resuming).await,
        DbOp::AwaitApplied {
            primary,
            subscription,
            within,
        } => {
            if dry_run {
                return done(format!(
                    "dry run: nothing fenced, nothing for {subscription} to catch up"
                ));
            }
            await_applied(backend, name, primary, subscription, *within, cancel).await
        }
        DbOp::DisableSubscription { subscription } => {
            disable(backend, name, subscription, dry_run).await
        }
        DbOp::AdvanceSequences { primary } => {
            advance_sequences(backend, name, primary, dry_run).await
        }
    }
}

/// Disables the target's subscription, unless it is already; verified.
async fn disable<B: Backend>(
    backend: &B,
    name: &str,
    subscription: &str,
    dry_run: bool,
) -> Result<Done, Failure> {
    let t = backend.db_read(name).await?;
    if !enabled(&t, subscription) {
        return done(format!(
            "subscription {subscription} is disabled already: nothing done"
        ));
    }
    backend
        .db_disable_subscription(name, subscription, dry_run)
        .await?;
    if dry_run {
        return done(format!(
            "dry run: the role may disable {subscription}; not disabled"
        ));
    }
    let after = backend.db_read(name).await?;
    if enabled(&after, subscription) {
        return Err(failure(format!(
            "subscription {subscription} is still enabled after ALTER SUBSCRIPTION … DISABLE"
        )));
    }
    done(format!(
        "subscription {subscription} disabled: nothing more is applied"
    ))
}

/// Whether the database's subscription `name` is enabled.
fn enabled(t: &DbReading, name: &str) -> bool {
    t.subscriptions.iter().any(|x| x.name == name && x.enabled)
}

/// The target subscribes to `primary` through `subscription`, which
/// streams (resumed: or is disabled already, after the catch-up).
async fn subscriber<B: Backend>(
    backend: &B,
    name: &str,
    primary: &str,
    subscription: &str,
    resuming: bool,
) -> Result<Done, Failure> {
    let (t, p) = tokio::join!(backend.db_read(name), backend.db_read(primary));
    let (t, p) = (t?, p?);
    if p.in_recovery {
        return Err(failure(format!(
            "{primary} is in recovery: it is not the primary"
        )));
    }
    match t
        .subscriptions
        .iter()
        .find(|x| x.name == subscription)
        .map(|x| x.enabled)
    {
        None => Err(failure(format!(
            "{name} has no subscription {subscription}"
        ))),
        Some(false) if resuming => done(format!(
            "subscription {subscription} is disabled already: switched over before this job was interrupted"
        )),
        Some(false) => Err(failure(format!(
            "{name}'s subscription {subscription} is disabled: not fed"
        ))),
        Some(true) => match p.senders.iter().find(|s| s.name == subscription) {
            Some(link) if link.state == "streaming" => done(format!(
                "{primary} is the primary{}; {subscription} streams, applied to {}",
                if p.read_only { " (fenced)" } else { "" },
                link.replayed.map_or_else(|| "?".into(), lsn_text)
            )),
            Some(link) => Err(failure(format!(
                "{subscription}'s link on {primary} is {}, not streaming",
                link.state
            ))),
            None => Err(failure(format!(
                "{primary} has no link for {subscription}: the subscription is not connected"
            ))),
        },
    }
}

/// Waits until the subscription's slot on the source has been flushed by
/// the subscriber up to the source's WAL (its insert position, read after
/// the fence); read again and waited for until it no longer moves.
async fn await_applied<B: Backend>(
    backend: &B,
    name: &str,
    primary: &str,
    subscription: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let t = backend.db_read(name).await?;
    let Some(slot) = t
        .subscriptions
        .iter()
        .find(|x| x.name == subscription)
        .and_then(|x| x.slot.clone())
    else {
        return Err(failure(format!(
            "{name}'s subscription {subscription} has no slot: nothing shows what it has applied"
        )));
    };
    let start = Instant::now();
    let mut wanted: Option<u64> = None;
    loop {
        let p = backend.db_read(primary).await?;
        if p.in_recovery || !p.read_only {
            return Err(failure(format!(
                "{primary} is not fenced: its last WAL is not final"
            )));
        }
        let flushed = p
            .slots
            .iter()
            .find(|(n, _)| *n == slot)
            .and_then(|(_, l)| *l);
        let end = p.lsn;
        // Done when the subscriber has flushed the WAL end, and that end is
        // the one seen the round before (nothing more was written).
        if let (Some(f), Some(e)) = (flushed, end)
            && f >= e
            && p.writing == 0
            && wanted == Some(e)
        {
            return done(format!(
                "{subscription} flushed to {} ≥ {primary}'s {} after {:.1} s: every acknowledged commit is there",
                lsn_text(f),
                lsn_text(e),
                start.elapsed().as_secs_f64()
            ));
        }
        wanted = end;
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failure(format!(
                "{subscription} (slot {slot}) has flushed {primary}'s WAL only to {} of {} after {} s{}; {primary} stays fenced: lift the fence (unfence {primary}) to give up",
                flushed.map_or_else(|| "?".into(), lsn_text),
                end.map_or_else(|| "?".into(), lsn_text),
                start.elapsed().as_secs(),
                if enabled(&t, subscription) {
                    ""
                } else {
                    " (the subscription is disabled)"
                }
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sets each of the target's sequences that is behind `primary`'s (by
/// its direction: a descending one is behind when higher) to its last
/// value there; converges (one at or past it is left). A sequence the role
/// may not read on either side fails the step: its value is not known.
async fn advance_sequences<B: Backend>(
    backend: &B,
    name: &str,
    primary: &str,
    dry_run: bool,
) -> Result<Done, Failure> {
    let (source, target) = tokio::join!(backend.db_sequences(primary), backend.db_sequences(name));
    let (source, target) = (source?, target?);
    let unreadable: Vec<&str> = source
        .iter()
        .chain(&target)
        .filter(|q| !q.readable)
        .map(|q| q.name.as_str())
        .collect();
    if !unreadable.is_empty() {
        return Err(failure(format!(
            "the role may not read sequences {}: their values are not known (GRANT SELECT on them)",
            unreadable.join(", ")
        )));
    }
    let past = |mine: Option<i64>, theirs: i64, increment: i64| {
        mine.is_some_and(|m| {
            if increment < 0 {
                m <= theirs
            } else {
                m >= theirs
            }
        })
    };
    let mut behind = Vec::new();
    let mut missing = Vec::new();
    for q in &source {
        // Never used on the source: nothing to be past.
        let Some(value) = q.last else { continue };
        match target.iter().find(|t| t.name == q.name) {
            None => missing.push(q.name.clone()),
            Some(t) if past(t.last, value, q.increment) => {}
            Some(_) => behind.push((q.name.clone(), value)),
        }
    }
    if !missing.is_empty() {
        return Err(failure(format!(
            "{name} lacks sequences {primary} has: {} (create them first)",
            missing.join(", ")
        )));
    }
    backend.db_set_sequences(name, &behind, dry_run).await?;
    let of = source.len();
    let set = behind.len();
    if dry_run {
        return done(format!(
            "dry run: {set} of {of} sequences behind {primary}'s; the role may set them; none set"
        ));
    }
    if set == 0 {
        return done(format!(
            "every sequence of {name} is at or past {primary}'s ({of} read): nothing set"
        ));
    }
    let after = backend.db_sequences(name).await?;
    let still: Vec<&str> = behind
        .iter()
        .filter(|(seq, value)| {
            !after.iter().any(|a| {
                a.name == *seq
                    && past(
                        a.last,
                        *value,
                        source
                            .iter()
                            .find(|q| q.name == *seq)
                            .map_or(1, |q| q.increment),
                    )
            })
        })
        .map(|(seq, _)| seq.as_str())
        .collect();
    if !still.is_empty() {
        return Err(failure(format!(
            "sequences still behind {primary}'s after setval: {}",
            still.join(", ")
        )));
    }
    done(format!(
        "{set} of {of} sequences set past {primary}'s last values ({})",
        first_set(&behind)
    ))
}

/// The target is a replica of `primary` (planned: which answers as the
/// primary; unplanned: which does not answer).
async fn replica<B: Backend>(
    backend: &B,
    name: &str,
    primary: &str,
    planned: bool,
    resuming: bool,
) -> Result<Done, Failure> {
    let (t, p) = tokio::join!(backend.db_read(name), backend.db_read(primary));
    let t = t?;
    if !t.in_recovery {
        if resuming {
            return done(format!(
                "{name} is a primary already: promoted before this job was interrupted"
            ));
        }
        return Err(failure(format!(
            "{name} is not in recovery: it is not a replica (any more)"
        )));
    }
    match (planned, p) {
        (true, Err(f)) => Err(failure(format!(
            "the primary {primary} does not answer: {}",
            f.what
        ))),
        (true, Ok(p)) if p.in_recovery => Err(failure(format!(
            "{primary} is in recovery: it is not the primary"
        ))),
        (true, Ok(p)) => {
            if let (Some(a), Some(b)) = (&p.system, &t.system)
                && a != b
            {
                return Err(failure(format!(
                    "{name} is not a physical replica of {primary} (system identifiers differ)"
                )));
            }
            if t.receiver.as_deref() != Some("streaming") && !p.read_only {
                return Err(failure(format!(
                    "{name} is not streaming from {primary} (WAL receiver: {})",
                    t.receiver.as_deref().unwrap_or("none")
                )));
            }
            done(format!(
                "{primary} is the primary{}; {name} streams from it, {}",
                if p.read_only { " (fenced)" } else { "" },
                super::super::actions::failover::behind_words(&t, p.lsn)
            ))
        }
        (false, Err(f)) if backend.db_reachable(primary).await.unwrap_or(true) => {
            Err(failure(format!(
                "{primary} takes TCP connections but cannot be read ({}): it is not down; promoting {name} could make two primaries",
                f.what
            )))
        }
        (false, Ok(p)) if !p.in_recovery && !p.read_only => Err(failure(format!(
            "{primary} answers again as a primary: promoting {name} now would make two primaries; plan a switchover instead"
        ))),
        (false, _) => done(format!(
            "{primary} does not answer as a primary; {name} is a replica, WAL received to {}, replayed to {}",
            t.received.map_or_else(|| "?".into(), lsn_text),
            t.lsn.map_or_else(|| "?".into(), lsn_text)
        )),
    }
}

/// Fences `db` or lifts its fence, unless it is so already; verified
/// from a new session.
async fn fence<B: Backend>(
    backend: &B,
    db: &str,
    read_only: bool,
    dry_run: bool,
) -> Result<Done, Failure> {
    let before = backend.db_read(db).await?;
    if !read_only && !before.read_only {
        return done(format!("{db} is not fenced already: nothing written"));
    }
    if read_only && !before.overrides.is_empty() {
        return Err(failure(format!(
            "{db}: default_transaction_read_only is set for {} of their own (ALTER ROLE / ALTER DATABASE … SET): their sessions would not be fenced; reset those first",
            before.overrides.join(", ")
        )));
    }
    // Fenced already (a job resumed after the reload): the sessions begun
    // before it are ended again all the same, so none is left writing.
    let again = read_only && before.read_only;
    let ended = backend.db_fence(db, read_only, dry_run).await?;
    if dry_run {
        return done(format!(
            "dry run: the role may {} {db}; nothing written",
            if read_only {
                "fence"
            } else {
                "lift the fence of"
            }
        ));
    }
    let after = backend.db_read(db).await?;
    if after.read_only != read_only {
        return Err(failure(format!(
            "{db}: a new session reads default_transaction_read_only = {} after the change",
            if after.read_only { "on" } else { "off" }
        )));
    }
    if again {
        return done(format!(
            "{db} was fenced already; the sessions begun before it ended again ({ended}), none left"
        ));
    }
    if read_only {
        let ended = match ended {
            1 => "1 client session ended".to_owned(),
            n => format!("{n} client sessions ended"),
        };
        done(format!(
            "{db} fenced: a new session reads default_transaction_read_only = on; {ended}"
        ))
    } else {
        done(format!(
            "{db}'s fence lifted: a new session reads default_transaction_read_only = off"
        ))
    }
}

/// Waits until the target has replayed what `primary` wrote, read once
/// now (after its fence).
async fn await_replayed<B: Backend>(
    backend: &B,
    name: &str,
    primary: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let first = backend.db_read(name).await?;
    if !first.in_recovery && resuming {
        return done(format!("{name} is a primary already: promoted before"));
    }
    let p = backend.db_read(primary).await?;
    if p.in_recovery || !p.read_only {
        return Err(failure(format!(
            "{primary} is {}: its last WAL is not final",
            if p.in_recovery {
                "in recovery"
            } else {
                "not fenced"
            }
        )));
    }
    let start = Instant::now();
    let mut last: Option<u64> = None;
    loop {
        // The primary's WAL end read again each round: done when the
        // replica has replayed it, no session is in a writing
        // transaction, and the end did not move since the round before.
        let p = backend.db_read(primary).await?;
        if !p.read_only {
            return Err(failure(format!(
                "{primary} is not fenced any more: its last WAL is not final"
            )));
        }
        let t: DbReading = backend.db_read(name).await?;
        if let (Some(end), Some(r)) = (p.lsn, t.lsn)
            && r >= end
            && p.writing == 0
            && last == Some(end)
        {
            return done(format!(
                "{name} replayed to {} ≥ {primary}'s {} (no writing session, the end stable) after {:.1} s: every acknowledged commit is there",
                lsn_text(r),
                lsn_text(end),
                start.elapsed().as_secs_f64()
            ));
        }
        last = p.lsn;
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failure(format!(
                "{name} has not replayed {primary}'s WAL to {} after {} s ({}{}); {primary} stays fenced: lift the fence (unfence {primary}) to give up",
                p.lsn.map_or_else(|| "?".into(), lsn_text),
                start.elapsed().as_secs(),
                super::super::actions::failover::behind_words(&t, p.lsn),
                if p.writing > 0 {
                    format!("; {} sessions still in a writing transaction", p.writing)
                } else {
                    String::new()
                }
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the target is a primary that takes writes.
async fn await_writable<B: Backend>(
    backend: &B,
    name: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let t = backend.db_read(name).await;
        let why = match &t {
            Ok(t) if t.in_recovery => "still in recovery".to_owned(),
            Ok(t) if t.read_only => "read-only (default_transaction_read_only = on)".to_owned(),
            Ok(_) => match backend.db_write_check(name).await {
                Ok(()) => {
                    return done(format!(
                        "{name} is a primary: a transaction committed after {:.1} s",
                        start.elapsed().as_secs_f64()
                    ));
                }
                Err(f) => f.what,
            },
            Err(f) => f.what.clone(),
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failure(format!(
                "{name} takes no writes after {} s: {why}",
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A failback's own steps: the check that the rebuilt target streams from
/// the primary (its dry run says where the rebuild stands), and the wait
/// for the rebuild.
async fn failback<B: Backend>(
    backend: &B,
    name: &str,
    op: &DbOp,
    dry_run: bool,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    match op {
        DbOp::ReplicaRebuilt { primary } if dry_run => {
            let t = backend.db_read(name).await;
            done(format!(
                "dry run: {}; checked again when the failback runs",
                match t {
                    Err(f) => format!("{name} does not answer ({}): being rebuilt", f.what),
                    Ok(t) if !t.in_recovery => {
                        format!("{name} answers as a primary: not rebuilt yet")
                    }
                    Ok(t) => format!(
                        "{name} is in recovery, WAL receiver {} (from {primary} once rebuilt)",
                        t.receiver.as_deref().unwrap_or("none")
                    ),
                }
            ))
        }
        DbOp::ReplicaRebuilt { primary } => replica(backend, name, primary, true, resuming).await,
        DbOp::AwaitResynced {
            primary,
            rpo_seconds,
            within,
        } => {
            Resync {
                name,
                primary,
                rpo_seconds: *rpo_seconds,
                within: *within,
            }
            .perform(backend, dry_run, cancel)
            .await
        }
        _ => Err(failure("not a failback step: a defect of touban".into())),
    }
}

/// Fences `db`, the old primary, if it answers as a primary again.
async fn fence_if_back<B: Backend>(backend: &B, db: &str, dry_run: bool) -> Result<Done, Failure> {
    match backend.db_read(db).await {
        Err(f) => done(format!(
            "{db} does not answer ({}): fence it when it returns (fence {db}), before anything writes to it",
            f.what
        )),
        Ok(old) if old.in_recovery => done(format!(
            "{db} answers in recovery (a replica): it takes no writes, nothing to fence"
        )),
        Ok(old) if old.read_only => done(format!("{db} answers, fenced already")),
        Ok(_) => fence(backend, db, true, dry_run).await.map(|d| Done {
            said: format!("{db} answered as a second primary: {}", d.said),
            call: None,
        }),
    }
}

/// The target's subscription lost its source, which does not answer.
async fn orphaned<B: Backend>(
    backend: &B,
    name: &str,
    primary: &str,
    subscription: &str,
    resuming: bool,
) -> Result<Done, Failure> {
    let (t, p) = tokio::join!(backend.db_read(name), backend.db_read(primary));
    let t = t?;
    let Some(sub) = t.subscriptions.iter().find(|s| s.name == subscription) else {
        return Err(failure(format!(
            "{name} has no subscription {subscription}"
        )));
    };
    if !sub.enabled && resuming {
        // The promotion's own first change: a later step fences the old
        // source should it answer again.
        return done(format!(
            "{subscription} is disabled already: promoted before this job was interrupted"
        ));
    }
    if let Ok(p) = p {
        return Err(failure(format!(
            "{primary} answers again{}: promoting {name} beside it would make two primaries; plan a switchover instead",
            if p.read_only { " (fenced)" } else { "" }
        )));
    }
    if backend.db_reachable(primary).await.unwrap_or(true) {
        return Err(failure(format!(
            "{primary} takes TCP connections but cannot be read: it is not down; promoting {name} could make two primaries"
        )));
    }
    done(format!(
        "{primary} does not answer; {name} subscribes through {subscription}, {}, its source gone",
        if sub.enabled {
            "enabled"
        } else {
            "disabled already (by hand)"
        }
    ))
}

/// Sets each sequence behind the data it numbers past it by `gap`
/// increments; those owned by no column, or descending, are named.
async fn advance_past_data<B: Backend>(
    backend: &B,
    name: &str,
    gap: i64,
    dry_run: bool,
    resuming: bool,
) -> Result<Done, Failure> {
    let (sequences, highs) =
        tokio::join!(backend.db_sequences(name), backend.db_sequence_highs(name));
    let (sequences, highs) = (sequences?, highs?);
    let mut set = Vec::new();
    let mut by_hand = Vec::new();
    for q in &sequences {
        let high = highs.iter().find(|h| h.name == q.name);
        match high {
            Some(h) if h.owner.is_none() => {
                by_hand.push(format!("{} (owned by no column)", q.name));
            }
            _ if q.increment < 0 => by_hand.push(format!("{} (descending)", q.name)),
            _ if !q.readable => by_hand.push(format!("{} (not readable by the role)", q.name)),
            Some(h) => {
                // An empty table numbers nothing yet: the source may have
                // handed out ids all the same.
                let top = h.high.unwrap_or(0);
                let step = gap.saturating_mul(q.increment);
                let last = q.last.unwrap_or(0);
                // Past the data by the gap already (kept so by hand), or,
                // resumed, at or past it: set by the earlier run and used
                // since, not to be moved again.
                if last >= top.saturating_add(step) || (resuming && last >= top) {
                    continue;
                }
                set.push((q.name.clone(), top.max(last).saturating_add(step)));
            }
            None => by_hand.push(format!("{} (not read)", q.name)),
        }
    }
    backend.db_set_sequences(name, &set, dry_run).await?;
    let hand = if by_hand.is_empty() {
        String::new()
    } else {
        format!("; not set, set by hand: {}", by_hand.join(", "))
    };
    if dry_run {
        return done(format!(
            "dry run: {} of {} sequences behind the data in use; the role may set them; none set{hand}",
            set.len(),
            sequences.len()
        ));
    }
    if set.is_empty() {
        return done(format!(
            "every sequence of {name} is at or past the data it numbers ({} read): nothing set{hand}",
            sequences.len()
        ));
    }
    let after = backend.db_sequences(name).await?;
    let behind: Vec<&str> = set
        .iter()
        .filter(|(seq, want)| {
            !after
                .iter()
                .any(|a| a.name == *seq && a.last.is_some_and(|l| l >= *want))
        })
        .map(|(seq, _)| seq.as_str())
        .collect();
    if !behind.is_empty() {
        return Err(failure(format!(
            "sequences not past the data after setval: {}",
            behind.join(", ")
        )));
    }
    done(format!(
        "{} of {} sequences set {gap} increments past the highest value in use ({}){hand}",
        set.len(),
        sequences.len(),
        first_set(&set)
    ))
}

/// The first sequences set and their values, for what a step says.
fn first_set(set: &[(String, i64)]) -> String {
    set.iter()
        .take(3)
        .map(|(s, v)| format!("{s} → {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Locks the roles out of `name` (or lets them in): the roles not so
/// yet altered, then (locking) every session of theirs ended.
async fn lockout<B: Backend>(
    backend: &B,
    name: &str,
    roles: &[String],
    locked: bool,
    dry_run: bool,
) -> Result<Done, Failure> {
    let t = backend.db_read(name).await?;
    if t.in_recovery {
        return Err(failure(format!(
            "{name} is in recovery now (a replica): role changes are made on its primary"
        )));
    }
    if locked && let Some(r) = t.senders.iter().find(|s| s.physical) {
        return Err(failure(format!(
            "{name} streams to the physical replica {}: the role change would reach it too",
            if r.name.is_empty() {
                "(unnamed)"
            } else {
                r.name.as_str()
            }
        )));
    }
    let before = backend.db_logins(name, roles).await?;
    let todo: Vec<String> = before
        .iter()
        .filter(|l| l.exists && l.can_login == locked)
        .map(|l| l.role.clone())
        .collect();
    let sessions: i64 = before.iter().map(|l| l.sessions).sum();
    if todo.is_empty() && (!locked || sessions == 0) {
        return done(format!(
            "{} {} already: nothing done",
            roles.join(", "),
            if locked {
                "locked out (NOLOGIN, no session)"
            } else {
                "may log in"
            }
        ));
    }
    // Every role is altered, those already so too, so that a locked
    // role's sessions are still ended.
    let ended = backend.db_lockout(name, roles, locked, dry_run).await?;
    if dry_run {
        return done(format!(
            "dry run: the role may {} {}; nothing changed",
            if locked { "lock out" } else { "let in" },
            roles.join(", ")
        ));
    }
    done(if locked {
        format!(
            "{} locked out of {name} (NOLOGIN); {ended} of their sessions ended",
            roles.join(", ")
        )
    } else {
        format!("{} may log in to {name} again (LOGIN)", roles.join(", "))
    })
}

/// Verifies a lockout (or its lifting) from a new reading.
async fn locked_out<B: Backend>(
    backend: &B,
    name: &str,
    roles: &[String],
    locked: bool,
    dry_run: bool,
) -> Result<Done, Failure> {
    if dry_run {
        return done("dry run: nothing locked out, nothing to verify".into());
    }
    // A session ended a moment ago may still be leaving.
    let start = Instant::now();
    let mut now = backend.db_logins(name, roles).await?;
    while locked && now.iter().any(|l| l.sessions > 0) && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(POLL).await;
        now = backend.db_logins(name, roles).await?;
    }
    let wrong: Vec<String> = now
        .iter()
        .filter(|l| l.can_login == locked || (locked && l.sessions > 0))
        .map(|l| {
            if l.can_login == locked {
                format!(
                    "{} {}",
                    l.role,
                    if locked {
                        "may log in"
                    } else {
                        "may not log in"
                    }
                )
            } else {
                format!(
                    "{} has {} session(s) left (a superuser's cannot be ended by a non-superuser)",
                    l.role, l.sessions
                )
            }
        })
        .collect();
    if !wrong.is_empty() {
        return Err(failure(format!("{name}: {}", wrong.join("; "))));
    }
    done(if locked {
        format!(
            "{name}: pg_roles reads {} NOLOGIN, no session of theirs left",
            roles.join(", ")
        )
    } else {
        format!("{name}: pg_roles reads {} LOGIN", roles.join(", "))
    })
}

/// A failback's promotion in a dry run: while the target is being
/// rebuilt there is nothing to check yet, and it says so.
async fn promote_rebuilt_dry_run<B: Backend>(backend: &B, name: &str) -> Result<Done, Failure> {
    match backend.db_read(name).await {
        Err(f) => done(format!(
            "dry run: {name} does not answer ({}): being rebuilt; whether the role may promote it is known once it answers",
            f.what
        )),
        Ok(t) if !t.in_recovery => done(format!(
            "dry run: {name} answers as a primary: it is rebuilt as a replica first"
        )),
        Ok(_) => backend.db_promote(name, true).await.map(|()| Done {
            said: format!("dry run: the role may promote {name}; not promoted"),
            call: None,
        }),
    }
}

/// The wait for a rebuilt old primary to stream from the database that
/// took over.
struct Resync<'a> {
    name: &'a str,
    primary: &'a str,
    rpo_seconds: u64,
    within: Duration,
}

/// Where a resync stands, as read once.
enum Stage {
    /// The roles are switched back already (an earlier run).
    Back(String),
    /// Resynced: the target streams from the primary, caught up.
    Resynced { lag: String, fenced: bool },
    /// Not yet: why.
    Waiting(String),
}

impl Resync<'_> {
    /// Reads both and says where the resync stands.
    async fn stage<B: Backend>(&self, backend: &B) -> Result<Stage, Failure> {
        let (name, primary) = (self.name, self.primary);
        let (t, p) = tokio::join!(backend.db_read(name), backend.db_read(primary));
        let p = p.map_err(|f| {
            failure(format!(
                "{primary}, the primary, does not answer: {}",
                f.what
            ))
        })?;
        let t = match t {
            Err(f) => {
                return Ok(Stage::Waiting(format!(
                    "{name} does not answer ({})",
                    f.what
                )));
            }
            Ok(t) => t,
        };
        if !t.in_recovery {
            if !t.read_only && (p.in_recovery || p.read_only) {
                return Ok(Stage::Back(format!(
                    "{name} takes writes and {primary} is {}: switched back before (an earlier run); nothing to wait for",
                    if p.in_recovery { "a replica" } else { "fenced" }
                )));
            }
            return Ok(Stage::Waiting(format!(
                "{name} answers as a primary{}: not rebuilt yet",
                if t.read_only {
                    " (fenced)"
                } else {
                    " (NOT fenced: two primaries)"
                }
            )));
        }
        if p.in_recovery {
            return Err(failure(format!(
                "{primary} is in recovery: it is not the primary to resync from"
            )));
        }
        if let (Some(a), Some(b)) = (&p.system, &t.system)
            && a != b
        {
            return Ok(Stage::Waiting(format!(
                "{name} is in recovery but not from {primary}'s system (identifiers {b} and {a} differ)"
            )));
        }
        if t.receiver.as_deref() != Some("streaming") {
            return Ok(Stage::Waiting(format!(
                "{name} is in recovery, WAL receiver {}",
                t.receiver.as_deref().unwrap_or("none")
            )));
        }
        let behind = match (p.lsn, t.lsn) {
            (Some(end), Some(r)) => end.saturating_sub(r),
            _ => u64::MAX,
        };
        let age = t
            .replayed_at
            .map(|at| jiff::Timestamp::now().duration_since(at).as_secs());
        let lag = match (behind, age) {
            (0, _) => "replayed to the primary's WAL".to_owned(),
            (_, Some(s)) if u64::try_from(s).is_ok_and(|s| s <= self.rpo_seconds) => {
                format!("{s} s behind (RPO {} s)", self.rpo_seconds)
            }
            _ => {
                return Ok(Stage::Waiting(format!(
                    "{name} streams from {primary}, catching up: {}",
                    super::super::actions::failover::behind_words(&t, p.lsn)
                )));
            }
        };
        Ok(Stage::Resynced {
            lag,
            fenced: t.read_only,
        })
    }

    /// The step: waits, or (a dry run) reads once.
    async fn perform<B: Backend>(
        &self,
        backend: &B,
        dry_run: bool,
        cancel: &watch::Receiver<bool>,
    ) -> Result<Done, Failure> {
        if dry_run {
            self.dry_run(backend).await
        } else {
            self.run(backend, cancel).await
        }
    }

    /// Reads once: what the wait would find now.
    async fn dry_run<B: Backend>(&self, backend: &B) -> Result<Done, Failure> {
        done(match self.stage(backend).await? {
            Stage::Back(said) => format!("dry run: {said}"),
            Stage::Resynced { lag, .. } => format!(
                "dry run: {} streams from {}, {lag}: resynced already",
                self.name, self.primary
            ),
            Stage::Waiting(why) => format!(
                "dry run: {why}; the failback would wait here until the operator has rebuilt it"
            ),
        })
    }

    /// Waits until the target is resynced, then lifts a fence it carries.
    async fn run<B: Backend>(
        &self,
        backend: &B,
        cancel: &watch::Receiver<bool>,
    ) -> Result<Done, Failure> {
        let start = Instant::now();
        loop {
            match self.stage(backend).await? {
                Stage::Back(said) => return done(said),
                Stage::Resynced { lag, fenced } => {
                    let lifted = if fenced {
                        backend.db_fence(self.name, false, false).await?;
                        if backend.db_read(self.name).await?.read_only {
                            return Err(failure(format!(
                                "{} still reads default_transaction_read_only = on after ALTER SYSTEM RESET: it is set in postgresql.conf (or a role's or database's own setting); promoted, it would take no writes. Remove it there and reload; nothing was switched back",
                                self.name
                            )));
                        }
                        "; the fence it carried lifted (ALTER SYSTEM RESET default_transaction_read_only), read back off"
                    } else {
                        ""
                    };
                    return done(format!(
                        "{} streams from {}, {lag}, after {} s{lifted}",
                        self.name,
                        self.primary,
                        start.elapsed().as_secs()
                    ));
                }
                Stage::Waiting(why) => {
                    if start.elapsed() >= self.within || *cancel.borrow() {
                        return Err(failure(format!(
                            "{} is not resynced after {} s: {why}; nothing was switched back, {} stays the primary",
                            self.name,
                            start.elapsed().as_secs(),
                            self.primary
                        )));
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

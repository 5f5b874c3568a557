//! The steps of a cache failover. Each reads the cache's primary again
//! first and converges: a cache whose primary is already the replica
//! planned (or, behind Sentinel, any other server) is failed over and is
//! not failed over again.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Done, POLL};
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{CacheOp, Job};

fn failure(what: String) -> Failure {
    Failure { what, status: None }
}

/// Performs one step of a cache job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &CacheOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let name = &job.plan.request.target.name;
    let dry_run = job.plan.request.dry_run;
    let said = |said: String| Ok(Done { said, call: None });
    match op {
        CacheOp::Expect { primary, to } => {
            let c = backend.cache_read(name).await?;
            if c.primary != *primary && c.role == "master" && resuming {
                return said(format!(
                    "{name}'s primary is {} already: failed over before this job was interrupted",
                    c.primary
                ));
            }
            if c.primary != *primary {
                return Err(failure(format!(
                    "{name}'s primary is {} now, not {primary} as planned: plan again",
                    c.primary
                )));
            }
            if c.role != "master" {
                return Err(failure(format!(
                    "{primary} answers as {}, not as the primary",
                    c.role
                )));
            }
            match c.replicas.iter().find(|r| r.addr == *to) {
                Some(r) if r.state == "online" => said(format!(
                    "{primary} is the primary; {to} online, {} bytes behind",
                    c.offset.saturating_sub(r.offset)
                )),
                Some(r) => Err(failure(format!("{to} is {}, not online", r.state))),
                None if c.sentinel && c.replicas.iter().any(|r| r.state == "online") => {
                    said(format!(
                        "{primary} is the primary; {to} is gone, the Sentinel picks another online replica"
                    ))
                }
                None => Err(failure(format!("{primary} lists no replica {to} any more"))),
            }
        }
        CacheOp::Failover { primary, to } => {
            let c = backend.cache_read(name).await?;
            if c.primary != *primary && c.role == "master" {
                return said(format!(
                    "{name}'s primary is {} already: nothing sent",
                    c.primary
                ));
            }
            backend.cache_failover(name, primary, to, dry_run).await?;
            if dry_run {
                return said(format!(
                    "dry run: the failover of {name} could start (Redis has no dry run); nothing sent"
                ));
            }
            said(format!("failover of {name} from {primary} started"))
        }
        CacheOp::AwaitPrimary { from, within } => {
            if dry_run {
                return said("dry run: nothing failed over, nothing to wait for".into());
            }
            await_primary(backend, name, from, *within, cancel).await
        }
        CacheOp::ExpectDead { dead, to } => expect_dead(backend, name, dead, to, resuming).await,
        CacheOp::Promote { to } => promote(backend, name, to, dry_run).await,
        CacheOp::Repoint { server, to } => repoint(backend, name, server, to, dry_run).await,
        CacheOp::AwaitPromoted { to, others, within } => {
            if dry_run {
                return said("dry run: nothing promoted, nothing to wait for".into());
            }
            await_promoted(backend, name, to, others, *within, cancel).await
        }
    }
}

/// `REPLICAOF NO ONE` on `to`, unless it is a primary already.
async fn promote<B: Backend>(
    backend: &B,
    name: &str,
    to: &str,
    dry_run: bool,
) -> Result<Done, Failure> {
    let said = |said: String| Ok(Done { said, call: None });
    let m = backend.cache_member(name, to).await?;
    if m.role == "master" {
        return said(format!("{to} is a primary already: nothing sent"));
    }
    if dry_run {
        return said(format!(
            "dry run: {to} answers as a replica at offset {}; REPLICAOF NO ONE not sent",
            m.offset
        ));
    }
    backend.cache_promote(name, to).await?;
    said(format!(
        "REPLICAOF NO ONE on {to}: it takes writes from offset {}",
        m.offset
    ))
}

/// `REPLICAOF to` on `server`, unless it replicates from `to` already; a
/// server that does not answer is named, not an error.
async fn repoint<B: Backend>(
    backend: &B,
    name: &str,
    server: &str,
    to: &str,
    dry_run: bool,
) -> Result<Done, Failure> {
    let said = |said: String| Ok(Done { said, call: None });
    let m = match backend.cache_member(name, server).await {
        Ok(m) => m,
        Err(f) => {
            return said(format!(
                "{server} does not answer ({}): not re-pointed; should it return as a primary, re-point it (REPLICAOF {})",
                f.what,
                to.replace(':', " ")
            ));
        }
    };
    if m.role == "slave" && m.upstream.as_deref() == Some(to) {
        return said(format!(
            "{server} replicates from {to} already: nothing sent"
        ));
    }
    if dry_run {
        return said(format!(
            "dry run: {server} answers as {}; REPLICAOF {to} not sent",
            m.role
        ));
    }
    backend.cache_repoint(name, server, to).await?;
    said(format!(
        "REPLICAOF {} on {server} (it was {}{})",
        to.replace(':', " "),
        m.role,
        m.upstream.map(|u| format!(" of {u}")).unwrap_or_default()
    ))
}

/// The primary `dead` still does not answer as one, and `to` is its
/// replica; resumed, a `to` that is the primary already passes.
async fn expect_dead<B: Backend>(
    backend: &B,
    name: &str,
    dead: &str,
    to: &str,
    resuming: bool,
) -> Result<Done, Failure> {
    let m = backend.cache_member(name, to).await?;
    if resuming && m.role == "master" {
        return Ok(Done {
            said: format!("{to} is the primary already: promoted before this job was interrupted"),
            call: None,
        });
    }
    let gone = match backend.cache_member(name, dead).await {
        Ok(d) if d.role == "master" => {
            return Err(failure(format!(
                "{dead} answers as a primary again: fail {name} over with :cache-failover instead (nothing lost)"
            )));
        }
        Ok(d) => format!("{dead} answers as {}", d.role),
        Err(f) => format!("{dead} does not answer ({})", f.what),
    };
    if m.role != "slave" {
        return Err(failure(format!(
            "{to} answers as {}, not as a replica",
            m.role
        )));
    }
    if m.linked {
        return Err(failure(format!(
            "{to}'s link to {dead} is up again: the primary is alive; fail {name} over with :cache-failover instead (nothing lost)"
        )));
    }
    Ok(Done {
        said: format!(
            "{gone}; {to} is a replica at offset {}{}",
            m.offset,
            m.down_for
                .map(|s| format!(", its link down {s} s"))
                .unwrap_or_default()
        ),
        call: None,
    })
}

/// Waits until `to` answers as the primary and each of `others`
/// replicates from it, linked.
async fn await_promoted<B: Backend>(
    backend: &B,
    name: &str,
    to: &str,
    others: &[String],
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let mut why = Vec::new();
        match backend.cache_member(name, to).await {
            Ok(m) if m.role == "master" => {}
            Ok(m) => why.push(format!("{to} answers as {}", m.role)),
            Err(f) => why.push(f.what),
        }
        for other in others {
            match backend.cache_member(name, other).await {
                Ok(m) if m.upstream.as_deref() == Some(to) && m.linked => {}
                Ok(m) => why.push(format!(
                    "{other} is {} of {}, link {}",
                    m.role,
                    m.upstream.as_deref().unwrap_or("none"),
                    if m.linked { "up" } else { "down" }
                )),
                Err(f) => why.push(f.what),
            }
        }
        if why.is_empty() {
            return Ok(Done {
                said: format!(
                    "{to} is {name}'s primary after {:.1} s; {}",
                    start.elapsed().as_secs_f64(),
                    if others.is_empty() {
                        "no other replica to link".to_owned()
                    } else {
                        format!("{} linked to it", others.join(", "))
                    }
                ),
                call: None,
            });
        }
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failure(format!(
                "{name}: {to} is not the primary with its replicas linked after {} s: {}",
                start.elapsed().as_secs(),
                why.join("; ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until a primary other than `from` answers as one (and `from`,
/// read directly, replicates from it).
async fn await_primary<B: Backend>(
    backend: &B,
    name: &str,
    from: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let why = match backend.cache_read(name).await {
            Ok(c) if c.primary != from && c.role == "master" => {
                let old = if c.replicas.iter().any(|r| r.addr == from) {
                    format!("{from} replicates from it")
                } else {
                    format!("{from} not listed as its replica yet")
                };
                return Ok(Done {
                    said: format!(
                        "{} is {name}'s primary after {:.1} s; {old}",
                        c.primary,
                        start.elapsed().as_secs_f64()
                    ),
                    call: None,
                });
            }
            Ok(c) => format!(
                "{} answers as {} ({})",
                c.primary,
                c.role,
                c.failover_state.as_deref().unwrap_or("no failover state")
            ),
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failure(format!(
                "{name} has no new primary after {} s: {why}",
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

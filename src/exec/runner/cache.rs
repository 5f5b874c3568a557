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

//! The steps on a load-balancer pool. Each reads the pool first and
//! converges: a pool found as wanted is not written again.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Done, POLL};
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{Job, TrafficOp};

fn word(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

/// Performs one step of a pool job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &TrafficOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    let said = |said: String| Ok(Done { said, call: None });
    match op {
        TrafficOp::Expect { enabled } => {
            let p = backend.pool_read(t).await?;
            if p.enabled == *enabled {
                return said(format!(
                    "{} is {}: {}",
                    p.name,
                    word(p.enabled),
                    p.summary()
                ));
            }
            if resuming {
                return said(format!(
                    "{} is {} already: found as wanted (written before the interruption, or by someone else)",
                    p.name,
                    word(p.enabled)
                ));
            }
            Err(Failure {
                what: format!(
                    "{} is {} now, not {} as planned: someone changed it; plan again",
                    p.name,
                    word(p.enabled),
                    word(*enabled)
                ),
                status: None,
            })
        }
        TrafficOp::Set { enabled } => {
            let p = backend.pool_read(t).await?;
            if p.enabled == *enabled {
                return said(format!(
                    "{} is {} already: nothing written",
                    p.name,
                    word(p.enabled)
                ));
            }
            backend.pool_set(t, *enabled, dry_run).await?;
            if dry_run {
                return said(format!(
                    "dry run: {} answers with this token (Cloudflare has no dry run); nothing written",
                    p.name
                ));
            }
            said(format!("{} answered {}", p.name, word(*enabled)))
        }
        TrafficOp::Await { enabled, within } => {
            if dry_run {
                return said("dry run: nothing written, nothing to read back".into());
            }
            await_state(backend, job, *enabled, *within, cancel).await
        }
        TrafficOp::Serving { within } => {
            let p = backend.pool_read(t).await?;
            if dry_run {
                return said(format!("dry run: {} reads {}", p.name, p.summary()));
            }
            serving(backend, job, *within, cancel).await
        }
    }
}

/// Reads the pool until it is enabled and every monitor sees it healthy.
async fn serving<B: Backend>(
    backend: &B,
    job: &Job,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let start = Instant::now();
    loop {
        let why = match backend.pool_read(t).await {
            Ok(p) if p.enabled && p.healthy == Some(true) => {
                return Ok(Done {
                    said: format!("{} serves: {}", t.region, p.summary()),
                    call: None,
                });
            }
            Ok(p) => p.summary(),
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(Failure {
                what: format!(
                    "{} does not serve after {} s: its pool is {why}",
                    t.region,
                    start.elapsed().as_secs()
                ),
                status: None,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Reads the pool until the balancer reports it as wanted.
async fn await_state<B: Backend>(
    backend: &B,
    job: &Job,
    enabled: bool,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let start = Instant::now();
    loop {
        let why = match backend.pool_read(t).await {
            Ok(p) if p.enabled == enabled => {
                return Ok(Done {
                    said: format!("the balancer reports {}: {}", p.name, p.summary()),
                    call: None,
                });
            }
            Ok(p) => format!("{} still {}", p.name, word(p.enabled)),
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(Failure {
                what: format!(
                    "the pool is not {} after {} s: {why}",
                    word(enabled),
                    start.elapsed().as_secs()
                ),
                status: None,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

//! The steps of an Azure read replica's promotion. Each reads the server
//! first and converges: a server found promoted is not promoted again,
//! and one found in an operation (a promotion sent before an
//! interruption) is waited for, not sent another.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Done;
use crate::exec::backend::azure::{FlexServer, Operation};
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{AzureOp, Job};

/// How often Azure is asked again: its operations take minutes.
const POLL: Duration = Duration::from_secs(1);
/// How long a resumed promotion watches a ready replica before sending:
/// a promotion the interrupted run sent may not show on the server yet.
const RESUME_WATCH: Duration = Duration::from_secs(15);

fn failed(what: String) -> Failure {
    Failure { what, status: None }
}

/// Performs one step of a promotion.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &AzureOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let name = job.plan.request.target.name.as_str();
    let dry_run = job.plan.request.dry_run;
    let said = |said: String| Ok(Done { said, call: None });
    match op {
        AzureOp::Expect => {
            let s = backend.azure_read(name).await?;
            if s.is_replica() && s.ready() {
                return said(s.summary());
            }
            if resuming && !s.ready() {
                return said(format!(
                    "{name} is {}: an operation runs on it (a promotion sent before the interruption?): the next step waits for it",
                    s.summary()
                ));
            }
            if resuming && !s.is_replica() {
                return said(format!(
                    "{name} is promoted already ({}): sent before the interruption, or by someone else",
                    s.summary()
                ));
            }
            Err(failed(format!(
                "{name} is {} now, not a ready replica as planned from: plan again",
                s.summary()
            )))
        }
        AzureOp::Promote { forced, within } => {
            let start = Instant::now();
            let mut s = settled(backend, name, *within, cancel).await?;
            let watched = resuming && s.is_replica() && !dry_run;
            if watched {
                s = watch_resumed(backend, name, *within, cancel).await?;
            }
            if !s.is_replica() {
                return said(format!("{name} is {} already: nothing sent", s.summary()));
            }
            let operation = backend.azure_promote(name, *forced, dry_run).await?;
            if dry_run {
                return said(format!(
                    "dry run: {name} answers with this token (Resource Manager has no dry run of an update); nothing sent"
                ));
            }
            let Some(url) = operation else {
                return said(
                    "Azure accepted the promotion and gave no operation to follow: the next step reads the server"
                        .into(),
                );
            };
            let mut done = follow(
                backend,
                name,
                &url,
                within.saturating_sub(start.elapsed()),
                cancel,
            )
            .await?;
            if watched {
                done.said = format!(
                    "resumed, no promotion under way after {} s of reads: sent by this run (one the interrupted run sent and that ended Failed is in the server's activity log); {}",
                    RESUME_WATCH.as_secs(),
                    done.said
                );
            }
            Ok(done)
        }
        AzureOp::Await { within } => {
            if dry_run {
                return said("dry run: nothing sent, nothing to verify".into());
            }
            serving(backend, name, *within, cancel).await
        }
    }
}

/// The server once no operation runs on it (Ready), read again while
/// one does (a promotion sent before an interruption).
async fn settled<B: Backend>(
    backend: &B,
    name: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<FlexServer, Failure> {
    let start = Instant::now();
    loop {
        let s = backend.azure_read(name).await?;
        if s.ready() {
            return Ok(s);
        }
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "{name} is still {} after {} s: an operation on it runs; nothing sent",
                s.state,
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A resumed promotion's server, read for [`RESUME_WATCH`]: once a
/// promotion the interrupted run sent shows (the server `Updating`),
/// waited for; else the ready replica as last read.
async fn watch_resumed<B: Backend>(
    backend: &B,
    name: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<FlexServer, Failure> {
    let start = Instant::now();
    loop {
        let s = backend.azure_read(name).await?;
        if !s.ready() {
            return settled(backend, name, within, cancel).await;
        }
        if !s.is_replica() || start.elapsed() >= RESUME_WATCH || *cancel.borrow() {
            return Ok(s);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows Azure's operation until it ends.
async fn follow<B: Backend>(
    backend: &B,
    name: &str,
    url: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let why = match backend.azure_operation(name, url).await {
            Ok(Operation::Succeeded) => {
                return Ok(Done {
                    said: format!(
                        "Azure: the promotion of {name} Succeeded after {} s",
                        start.elapsed().as_secs()
                    ),
                    call: None,
                });
            }
            Ok(Operation::Failed(why)) => {
                return Err(failed(format!(
                    "Azure: the promotion of {name} ended {why}: read the server's activity log; this run sent it once"
                )));
            }
            Ok(Operation::Running(status)) => status,
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "the promotion of {name} is not done after {} s ({why}): it may still run in Azure; touban did not cancel it; resume, or read the server",
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Reads the server until Azure reports it standalone and ready, then its
/// exporter (where one is configured) until it answers as a primary.
async fn serving<B: Backend>(
    backend: &B,
    name: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let why = match backend.azure_read(name).await {
            Ok(s) if s.ready() && !s.is_replica() => match backend.db_exported(name).await {
                None => {
                    return Ok(Done {
                        said: format!(
                            "Azure reports {name} {}; no exporter is configured to read it from the database's side",
                            s.summary()
                        ),
                        call: None,
                    });
                }
                Some(Ok(d)) if d.up && d.role.as_deref() == Some("primary") => {
                    return Ok(Done {
                        said: format!(
                            "Azure reports {name} {}; its postgres_exporter: a primary",
                            s.summary()
                        ),
                        call: None,
                    });
                }
                Some(Ok(d)) => format!(
                    "Azure reports it promoted; its exporter: {}",
                    if d.up {
                        d.role.unwrap_or_else(|| "role not reported".into())
                    } else {
                        "pg_up 0".into()
                    }
                ),
                Some(Err(f)) => format!("Azure reports it promoted; its exporter: {}", f.what),
            },
            Ok(s) => format!("Azure reports {}", s.summary()),
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "{name} does not serve as a primary after {} s: {why}",
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(super::POLL).await;
    }
}

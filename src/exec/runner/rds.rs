//! The steps of an RDS failover or read-replica promotion. Each reads the
//! instance first and converges: one found with its primary in the
//! standby's zone, or promoted, is not sent the call again, and one found
//! rebooting or modifying (a call sent before an interruption) is waited
//! for, not sent another.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Done;
use crate::exec::backend::rds::RdsInstance;
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{Job, RdsOp};

/// How often RDS is asked again: its changes take minutes.
const POLL: Duration = Duration::from_secs(1);

fn failed(what: String) -> Failure {
    Failure { what, status: None }
}

fn summary(i: &RdsInstance) -> String {
    let role = match &i.source {
        Some(s) => format!("read replica of {s}"),
        None if i.multi_az => format!(
            "Multi-AZ, primary in {}, standby in {}",
            i.zone,
            i.secondary.as_deref().unwrap_or("?")
        ),
        None => format!("standalone in {}", i.zone),
    };
    format!("{} {}, {role}", i.identifier, i.status)
}

/// Performs one step of an RDS job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &RdsOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let name = job.plan.request.target.name.as_str();
    let dry_run = job.plan.request.dry_run;
    let said = |said: String| Ok(Done { said, call: None });
    match op {
        RdsOp::ExpectMultiAz { zone, standby } => {
            let i = backend.rds_describe(name).await?;
            if resuming && (i.zone == *standby || i.status == "rebooting") {
                return said(format!(
                    "{}: failed over, or failing over, before this job was interrupted",
                    summary(&i)
                ));
            }
            if i.status == "available" && i.multi_az && i.zone == *zone {
                return said(summary(&i));
            }
            Err(failed(format!(
                "{} now, not available with its primary in {zone} as planned from: plan again",
                summary(&i)
            )))
        }
        RdsOp::Failover { zone, standby } => {
            failover(backend, name, zone, standby, dry_run, resuming).await
        }
        RdsOp::AwaitFailedOver { standby, within } => {
            if dry_run {
                return said("dry run: nothing failed over, nothing to wait for".into());
            }
            wait(backend, name, *within, cancel, |i| {
                (i.status == "available" && i.zone == *standby)
                    .then(|| format!("available with its primary in {standby}"))
            })
            .await
        }
        RdsOp::ExpectReplica { source } => {
            let i = backend.rds_describe(name).await?;
            if resuming && (i.source.is_none() || i.status == "modifying") {
                return said(format!(
                    "{}: promoted, or being promoted, before this job was interrupted",
                    summary(&i)
                ));
            }
            if i.status == "available" && i.source.as_deref() == Some(source.as_str()) {
                return said(summary(&i));
            }
            Err(failed(format!(
                "{} now, not an available read replica of {source} as planned from: plan again",
                summary(&i)
            )))
        }
        RdsOp::Promote { source } => {
            let i = backend.rds_describe(name).await?;
            if i.source.is_none() || (resuming && i.status == "modifying") {
                return said(format!("{}: nothing sent", summary(&i)));
            }
            if i.status != "available" {
                return Err(failed(format!(
                    "{} now, not available: nothing sent; plan again once it is",
                    summary(&i)
                )));
            }
            if dry_run {
                return said(format!(
                    "dry run: {} could be promoted (RDS has no dry run); nothing sent",
                    i.identifier
                ));
            }
            backend.rds_promote(name).await?;
            said(format!(
                "PromoteReadReplica {} sent: replication from {source} ends",
                i.identifier
            ))
        }
        RdsOp::AwaitPromoted { within } => {
            if dry_run {
                return said("dry run: nothing promoted, nothing to wait for".into());
            }
            wait(backend, name, *within, cancel, |i| {
                (i.status == "available" && i.source.is_none())
                    .then(|| "available and standalone".to_owned())
            })
            .await
        }
    }
}

/// `RebootDBInstance` with `ForceFailover`, unless the primary is in the
/// standby's zone already or (resumed) a failover is under way.
async fn failover<B: Backend>(
    backend: &B,
    name: &str,
    zone: &str,
    standby: &str,
    dry_run: bool,
    resuming: bool,
) -> Result<Done, Failure> {
    let said = |said: String| Ok(Done { said, call: None });
    let i = backend.rds_describe(name).await?;
    if i.zone == *standby || (resuming && i.status == "rebooting") {
        return said(format!("{}: nothing sent", summary(&i)));
    }
    if i.status != "available" {
        return Err(failed(format!(
            "{} now, not available: nothing sent; plan again once it is",
            summary(&i)
        )));
    }
    // The interrupted run may have sent it a moment before RDS
    // showed it: a failover started and not completed is that one.
    if resuming
        && backend.rds_events(name).await.is_ok_and(|e| {
            e.iter()
                .rev()
                .find(|m| m.contains("failover"))
                .is_some_and(|m| m.contains("started"))
        })
    {
        return said(format!(
            "{}: a failover started and not completed is in its events (the interrupted run's): nothing sent",
            summary(&i)
        ));
    }
    if dry_run {
        return said(format!(
            "dry run: {} could fail over from {zone} (RDS has no dry run); nothing sent",
            i.identifier
        ));
    }
    backend.rds_failover(name).await?;
    said(format!(
        "RebootDBInstance {} ForceFailover=true sent: its standby in {standby} takes over",
        i.identifier
    ))
}

/// Polls the instance until `done` says what it is, then adds what RDS's
/// events say of it; fails after `within` or when cancelled, with what
/// it was last.
async fn wait<B: Backend>(
    backend: &B,
    name: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
    done: impl Fn(&RdsInstance) -> Option<String>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let last = match backend.rds_describe(name).await {
            Ok(i) => {
                if let Some(what) = done(&i) {
                    let events = match backend.rds_events(name).await {
                        Ok(e) if !e.is_empty() => {
                            let n = e.len().saturating_sub(3);
                            format!("; events: {}", e.get(n..).unwrap_or_default().join(" · "))
                        }
                        Ok(_) => String::new(),
                        Err(f) => format!("; its events not read: {}", f.what),
                    };
                    return Ok(Done {
                        said: format!(
                            "{} {what} after {:.1} s{events}",
                            i.identifier,
                            start.elapsed().as_secs_f64()
                        ),
                        call: None,
                    });
                }
                summary(&i)
            }
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "{name}: not done after {} s: {last}",
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

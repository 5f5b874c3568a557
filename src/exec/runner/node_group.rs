//! The steps of sizing a node group. Each reads the group first and
//! converges: one found with the sizes wanted is not sent them again, one
//! found updating (a change sent before an interruption) is waited for,
//! not sent another; the nodes are counted in the cluster itself.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Done;
use crate::exec::actions::node_group::{sizes_of, sizes_text};
use crate::exec::backend::nodepool::{NodePool, Sizes, Standing};
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{Job, NodeGroupOp};
use crate::model::action::Target;

/// How often the cloud and the cluster are asked again.
const POLL: Duration = Duration::from_secs(1);

fn failed(what: String) -> Failure {
    Failure { what, status: None }
}

/// Whether the group has every size `to` names.
fn has(p: &NodePool, to: Sizes) -> bool {
    let is = |want: Option<u32>, got: Option<u32>| want.is_none_or(|w| Some(w) == got);
    is(to.min, p.min) && is(to.desired, Some(p.desired)) && is(to.max, p.max)
}

// A step's every answer is a `Result`: this one, an `Ok`.
#[allow(clippy::unnecessary_wraps)]
fn said(said: String) -> Result<Done, Failure> {
    Ok(Done { said, call: None })
}

/// Performs one step of a node group job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &NodeGroupOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    match op {
        NodeGroupOp::Expect { from, to } => {
            let p = backend.node_pool(t).await?;
            if resuming && (!p.settled() || has(&p, *to)) {
                return said(format!(
                    "{}: sized, or being sized, before this job was interrupted",
                    p.summary()
                ));
            }
            if p.settled() && sizes_of(&p) == *from {
                return said(p.summary());
            }
            Err(failed(format!(
                "{} now, not settled at {} as planned from: plan again",
                p.summary(),
                sizes_text(from.min, from.desired, from.max)
            )))
        }
        NodeGroupOp::Set { to, within } => {
            let start = Instant::now();
            let mut p = backend.node_pool(t).await?;
            if !p.settled() && !dry_run {
                // A change sent before an interruption: waited for.
                p = settled(backend, t, *within, cancel).await?;
            }
            if has(&p, *to) {
                return said(format!("{}: nothing sent", p.summary()));
            }
            if !p.settled() {
                return Err(failed(format!(
                    "{}: a change runs on it; nothing sent; plan again once it is done",
                    p.summary()
                )));
            }
            if dry_run {
                return said(format!(
                    "dry run: {} could be sized to {} (the cloud has no dry run of it); nothing sent",
                    p.summary(),
                    sizes_text(to.min, to.desired, to.max)
                ));
            }
            let id = Box::pin(backend.node_pool_set(t, *to)).await?;
            let Some(id) = id else {
                let p = settled(backend, t, within.saturating_sub(start.elapsed()), cancel).await?;
                return said(format!(
                    "sent; the cloud gave no update to follow: {} after {:.1} s",
                    p.summary(),
                    start.elapsed().as_secs_f64()
                ));
            };
            follow(
                backend,
                t,
                &id,
                within.saturating_sub(start.elapsed()),
                cancel,
            )
            .await
        }
        NodeGroupOp::AwaitNodes {
            at_least,
            at_most,
            planned,
            within,
        } => {
            if dry_run {
                return said("dry run: nothing sized, nothing to wait for".into());
            }
            nodes(backend, t, (*at_least, *at_most), *planned, *within, cancel).await
        }
    }
}

/// The group once no change runs on it.
async fn settled<B: Backend>(
    backend: &B,
    t: &Target,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<NodePool, Failure> {
    let start = Instant::now();
    loop {
        let p = backend.node_pool(t).await?;
        if p.settled() {
            return Ok(p);
        }
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "{} still after {} s: the change on it has not ended",
                p.summary(),
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows the cloud's change `id` until it ends.
async fn follow<B: Backend>(
    backend: &B,
    t: &Target,
    id: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    let short = id.rsplit('/').next().unwrap_or(id);
    let short = short.split('?').next().unwrap_or(short);
    loop {
        let last = match Box::pin(backend.node_pool_standing(t, id)).await {
            Ok(Standing::Succeeded) => {
                let p = backend.node_pool(t).await?;
                return said(format!(
                    "update {short} succeeded after {:.1} s: {}",
                    start.elapsed().as_secs_f64(),
                    p.summary()
                ));
            }
            Ok(Standing::Failed(why)) => {
                return Err(failed(format!("the cloud's update {short} failed: {why}")));
            }
            Ok(Standing::Running(s)) => s,
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "update {short} not done after {} s: {last}",
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the cluster has between `lo` and `hi` of the group's
/// nodes, every one Ready.
async fn nodes<B: Backend>(
    backend: &B,
    t: &Target,
    (lo, hi): (u32, u32),
    planned: u32,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    let p = backend.node_pool(t).await?;
    let label = p.cloud.label();
    loop {
        let last = match backend.labelled_nodes(t, label, &t.name).await {
            Ok(n) => {
                let count = u32::try_from(n.len()).unwrap_or(u32::MAX);
                let ready = n.iter().filter(|(_, r)| *r).count();
                if (lo..=hi).contains(&count) && ready == n.len() {
                    return said(format!(
                        "{count} node(s) of {} Ready in {} after {:.1} s ({planned} when planned)",
                        t.name,
                        t.cluster,
                        start.elapsed().as_secs_f64()
                    ));
                }
                format!("{count} node(s), {ready} Ready")
            }
            Err(f) => f.what,
        };
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(failed(format!(
                "{}: not {} after {} s: {last}",
                t.name,
                if lo == hi {
                    format!("{lo} Ready node(s)")
                } else {
                    format!("{lo} to {hi} Ready node(s)")
                },
                start.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

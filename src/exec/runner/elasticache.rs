//! The steps of an ElastiCache `TestFailover`. Each reads the replication
//! group first and converges: a node group found with another primary is
//! not sent the call again, and (resumed) one whose last test failover
//! was called and not yet finished is waited for, not sent another; a
//! second call while the first replacement runs would count against the
//! quota and, in cluster mode, be refused.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Done;
use crate::exec::actions::elasticache::{CALLED, RECOVERED};
use crate::exec::backend::elasticache::{CacheEvent, NodeGroup, ReplicationGroup};
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{ElastiCacheOp, Job};

/// How often ElastiCache is asked again: its changes take minutes.
const POLL: Duration = Duration::from_secs(1);
/// The events read to follow a failover: the last hour's.
const MINUTES: i32 = 60;

fn failed(what: String) -> Failure {
    Failure { what, status: None }
}

fn node_group<'a>(g: &'a ReplicationGroup, id: &str) -> Result<&'a NodeGroup, Failure> {
    g.node_groups
        .iter()
        .find(|n| n.id == id)
        .ok_or_else(|| failed(format!("{}: no node group {id} now: plan again", g.id)))
}

fn summary(g: &ReplicationGroup, n: &NodeGroup) -> String {
    format!(
        "{} {}, node group {} {}, primary {}",
        g.id,
        g.status,
        n.id,
        n.status,
        n.primary().map_or("unreported", |p| p.cluster.as_str())
    )
}

/// Whether the events since the last test failover of `node_group` say
/// the old primary `from`'s recovery is finished; `None` when no test
/// failover of it is in the events at all.
fn recovered(events: &[CacheEvent], group: &str, node_group: &str, from: &str) -> Option<bool> {
    let called = format!("{CALLED} {node_group}");
    let last = events
        .iter()
        .rposition(|e| e.source == group && e.message.starts_with(&called))?;
    Some(
        events
            .get(last..)
            .unwrap_or_default()
            .iter()
            .any(|e| e.source == from && e.message.starts_with(RECOVERED)),
    )
}

/// Performs one step of an ElastiCache job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &ElastiCacheOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let name = job.plan.request.target.name.as_str();
    let dry_run = job.plan.request.dry_run;
    let said = |said: String| Ok(Done { said, call: None });
    match op {
        ElastiCacheOp::Expect {
            node_group: id,
            primary,
        } => {
            let g = backend.elasticache_describe(name).await?;
            let n = node_group(&g, id)?;
            let now = n.primary().map(|p| p.cluster.as_str());
            if resuming && (now != Some(primary.as_str()) || n.status != "available") {
                return said(format!(
                    "{}: failed over, or failing over, before this job was interrupted",
                    summary(&g, n)
                ));
            }
            if g.status == "available"
                && g.automatic_failover == "enabled"
                && n.status == "available"
                && now == Some(primary.as_str())
            {
                return said(summary(&g, n));
            }
            Err(failed(format!(
                "{} now, not available with automatic failover and primary {primary} as planned from: plan again",
                summary(&g, n)
            )))
        }
        ElastiCacheOp::TestFailover {
            node_group: id,
            primary,
        } => {
            let g = backend.elasticache_describe(name).await?;
            let n = node_group(&g, id)?;
            if n.primary().map(|p| p.cluster.as_str()) != Some(primary.as_str()) {
                return said(format!("{}: nothing sent", summary(&g, n)));
            }
            if resuming {
                // The interrupted run may have called it a moment before
                // the group showed it: a test failover called and not
                // finished is that one.
                let events = backend.elasticache_events(name, MINUTES).await?;
                if recovered(&events, &g.id, id, primary) == Some(false) {
                    return said(format!(
                        "{}: a test failover of node group {id} called and not finished is in its events (the interrupted run's): nothing sent",
                        summary(&g, n)
                    ));
                }
            }
            if g.status != "available" || n.status != "available" {
                return Err(failed(format!(
                    "{} now, not available: nothing sent; plan again once it is",
                    summary(&g, n)
                )));
            }
            if dry_run {
                return said(format!(
                    "dry run: node group {id} of {} could fail over (ElastiCache has no dry run); nothing sent",
                    g.id
                ));
            }
            backend.elasticache_test_failover(name, id).await?;
            said(format!(
                "TestFailover {} NodeGroupId={id} sent: ElastiCache promotes a replica and replaces {primary}",
                g.id
            ))
        }
        ElastiCacheOp::AwaitFailedOver {
            node_group: id,
            from,
            within,
        } => {
            if dry_run {
                return said("dry run: nothing failed over, nothing to wait for".into());
            }
            wait(backend, name, id, from, *within, cancel).await
        }
    }
}

/// Polls the group until another node is `id`'s primary, the group and
/// node group are available, and the events say `from`'s recovery is
/// finished; fails after `within` or when cancelled, with what it was
/// last.
async fn wait<B: Backend>(
    backend: &B,
    name: &str,
    id: &str,
    from: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    loop {
        let last = match backend.elasticache_describe(name).await {
            Ok(g) => match node_group(&g, id) {
                Ok(n) => {
                    let now = n.primary().map(|p| p.cluster.clone());
                    let moved = now.as_deref().is_some_and(|p| p != from);
                    let available = g.status == "available" && n.status == "available";
                    if moved && available {
                        match backend.elasticache_events(name, MINUTES).await {
                            Ok(events) if recovered(&events, &g.id, id, from) == Some(true) => {
                                let mine: Vec<&str> = events
                                    .iter()
                                    .filter(|e| e.message.contains(id) || e.source == from)
                                    .map(|e| e.message.as_str())
                                    .collect();
                                let n = mine.len().saturating_sub(4);
                                return Ok(Done {
                                    said: format!(
                                        "{} node group {id}: primary {} (was {from}) after {:.1} s; events: {}",
                                        g.id,
                                        now.unwrap_or_default(),
                                        start.elapsed().as_secs_f64(),
                                        mine.get(n..).unwrap_or_default().join(" · ")
                                    ),
                                    call: None,
                                });
                            }
                            Ok(_) => format!(
                                "{}; {from}'s recovery not finished in the events",
                                summary(&g, n)
                            ),
                            Err(f) => {
                                format!("{}; its events not read: {}", summary(&g, n), f.what)
                            }
                        }
                    } else {
                        summary(&g, n)
                    }
                }
                Err(f) => f.what,
            },
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

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn event(source: &str, message: &str) -> CacheEvent {
        CacheEvent {
            at: jiff::Timestamp::UNIX_EPOCH,
            source: source.into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_last_test_failover_counts_and_its_recovery_must_follow_it() {
        let called = event("rg", "Test Failover API called for node group 0001");
        let done = event("rg-001", "Finished recovery for cache nodes 0001");
        assert_eq!(recovered(&[], "rg", "0001", "rg-001"), None);
        assert_eq!(
            recovered(std::slice::from_ref(&called), "rg", "0001", "rg-001"),
            Some(false)
        );
        assert_eq!(
            recovered(&[called.clone(), done.clone()], "rg", "0001", "rg-001"),
            Some(true)
        );
        // An earlier recovery does not finish a later call.
        assert_eq!(
            recovered(&[called.clone(), done, called], "rg", "0001", "rg-001"),
            Some(false)
        );
    }
}

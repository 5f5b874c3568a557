//! The steps of an ElastiCache `TestFailover`. Each reads the replication
//! group first and converges: a node group found with another primary is
//! not sent the call again, and (resumed) one whose last test failover
//! was called and not yet finished is waited for, not sent another; a
//! second call while the first replacement runs would count against the
//! quota and, in cluster mode, be refused.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::Done;
use crate::exec::actions::elasticache::{CALLED, COMPLETED, RECOVERED};
use crate::exec::backend::elasticache::{CacheEvent, NodeGroup, ReplicationGroup};
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{ElastiCacheOp, Job};

/// How often ElastiCache is asked again: its changes take minutes, and
/// its events are the region's.
const POLL: Duration = Duration::from_secs(5);
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

/// What the events say of the last test failover of `node_group` on
/// `group`: `None` when none is in them; else whether it is still
/// pending (no failover completed on the group after it) and whether the
/// old primary `from`'s recovery is finished after it.
fn last_call(
    events: &[CacheEvent],
    group: &str,
    node_group: &str,
    from: &str,
) -> Option<(bool, bool)> {
    let called = format!("{CALLED} {node_group}");
    let last = events
        .iter()
        .rposition(|e| e.source == group && e.message.starts_with(&called))?;
    let after = events.get(last..).unwrap_or_default();
    let completed = after
        .iter()
        .any(|e| e.source == group && e.message.starts_with(COMPLETED));
    let recovered = after
        .iter()
        .any(|e| e.source == from && e.message.starts_with(RECOVERED));
    Some((!completed && !recovered, recovered))
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
                if last_call(&events, &g.id, id, primary).is_some_and(|(pending, _)| pending) {
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
                            // Recovered after the last call, or no call in
                            // the last hour's events (it ended before).
                            Ok(events)
                                if last_call(&events, &g.id, id, from)
                                    .is_none_or(|(_, recovered)| recovered) =>
                            {
                                let members: Vec<&str> =
                                    n.members.iter().map(|m| m.cluster.as_str()).collect();
                                let mine: Vec<&str> = events
                                    .iter()
                                    .filter(|e| {
                                        e.source == g.id || members.contains(&e.source.as_str())
                                    })
                                    .map(|e| e.message.as_str())
                                    .collect();
                                let k = mine.len().saturating_sub(4);
                                return Ok(Done {
                                    said: format!(
                                        "{} node group {id}: primary {} (was {from}) after {:.1} s; events: {}",
                                        g.id,
                                        now.unwrap_or_default(),
                                        start.elapsed().as_secs_f64(),
                                        mine.get(k..).unwrap_or_default().join(" · ")
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
        let why = if *cancel.borrow() {
            "cancelled"
        } else if start.elapsed() >= within {
            "not done"
        } else {
            tokio::time::sleep(POLL).await;
            continue;
        };
        return Err(failed(format!(
            "{name}: {why} after {} s: {last}; the failover may still be under way in ElastiCache (resumed, the job sends nothing twice; `aws elasticache describe-events --source-type replication-group --source-identifier {name}` follows it)",
            start.elapsed().as_secs()
        )));
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
    fn the_last_test_failover_is_pending_until_it_completes_and_done_once_recovered() {
        let called = event("rg", "Test Failover API called for node group 0001");
        let completed = event(
            "rg",
            "Failover from primary node rg-001 to replica node rg-002 completed",
        );
        let done = event("rg-001", "Finished recovery for cache nodes 0001");
        assert_eq!(last_call(&[], "rg", "0001", "rg-001"), None);
        assert_eq!(
            last_call(std::slice::from_ref(&called), "rg", "0001", "rg-001"),
            Some((true, false))
        );
        let all = [called.clone(), completed, done];
        assert_eq!(last_call(&all, "rg", "0001", "rg-001"), Some((false, true)));
        // A failover that made rg-002 primary, then a job planned from
        // rg-002 and killed before its call: nothing pending, the call is
        // sent; rg-002's recovery is not the earlier one's.
        assert_eq!(
            last_call(&all, "rg", "0001", "rg-002"),
            Some((false, false))
        );
        // An earlier recovery does not finish a later call.
        let mut later = all.to_vec();
        later.push(called);
        assert_eq!(
            last_call(&later, "rg", "0001", "rg-001"),
            Some((true, false))
        );
    }
}

//! An Azure Database for PostgreSQL flexible server read replica promoted
//! to a standalone server through Azure Resource Manager, planned from the
//! server as ARM reports it now and its lag as its postgres_exporter
//! reads it. Planned, Azure waits until the replica has what its source
//! wrote; forced, it promotes with what the replica has. Either way the
//! replication link ends: the old primary is not made a replica, and it
//! is not fenced by this action (the operator fences it, or stops its
//! writers, before confirming: the plan and the region runbook say so).

use std::time::Duration;

use super::Seen;
use crate::exec::backend::azure::{API_VERSION, FlexServer};
use crate::exec::step::{AzureOp, Job, Op};
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long Azure's promotion may take (minutes on Azure).
pub const PROMOTED: Duration = Duration::from_secs(30 * 60);
/// How long the promoted server may take to read as a primary.
pub const SERVING: Duration = Duration::from_secs(5 * 60);

/// What was read of the server, or the refusal to plan without it.
fn server<'a>(request: &ActionRequest, seen: &'a Seen) -> Result<&'a FlexServer, Refusal> {
    match &seen.azure {
        Some(Ok(s)) => Ok(s),
        Some(Err(why)) => Err(Refusal::new(format!(
            "cannot read {} from Azure: {why}; nothing was changed",
            request.target.name
        ))),
        None => Err(Refusal::new("the server was not read: a defect of touban")),
    }
}

/// The replica's lag and link as its exporter reads them, in words, and
/// whether its WAL receiver streams (unknown: `None`).
fn lag_words(seen: &Seen) -> (String, Option<bool>) {
    match &seen.exported {
        Some(Ok(d)) => {
            let lag = d.replay_lag.map_or_else(
                || "lag not reported".to_owned(),
                |l| format!("lag {l:.1} s"),
            );
            match &d.wal_receiver {
                Some(r) => (
                    format!("{lag}, WAL receiver {r}, per postgres_exporter"),
                    Some(r == "streaming"),
                ),
                None => (format!("{lag}, per postgres_exporter"), None),
            }
        }
        Some(Err(why)) => (format!("lag unknown: its exporter: {why}"), None),
        None => ("lag unknown: no exporter is configured".to_owned(), None),
    }
}

/// What the promotion changes, in live values.
fn changes(name: &str, primary: &str, s: &FlexServer, forced: bool, seen: &Seen) -> Vec<String> {
    let (lag, streaming) = lag_words(seen);
    let mut changes = vec![format!("{name}: {} · {lag}", s.summary())];
    if let Some(source) = s.source.as_deref().filter(|x| *x != primary) {
        changes.push(format!(
            "Azure names {source} as {name}'s source, not {primary} as [[replication]] says: check which server it replicates from before confirming"
        ));
    }
    changes.extend([
        format!(
            "{name} becomes a standalone server that takes writes; replication from {primary} ends and is not set up again (failing back rebuilds {primary} as {name}'s replica)"
        ),
    ]);
    if forced {
        changes.push(format!(
            "forced: promoted now with what {name} has: what {primary} committed that {name} had not replayed is lost ({lag})"
        ));
    } else {
        changes.push(format!(
            "planned: Azure promotes once {name} has what {primary} wrote; if {primary} does not answer, the promotion waits and fails: promote forced instead"
        ));
        if streaming == Some(false) {
            changes.push(format!(
                "{name}'s WAL receiver is not streaming: {primary} may be down or cut off; a planned promotion may not complete"
            ));
        }
    }
    changes.push(format!(
        "{primary} is not fenced by this action: writes it takes after the promotion are on {primary} alone, and with both taking writes there are two primaries; fence it or stop its writers before confirming"
    ));
    changes
}

/// The promotion's steps.
fn steps(name: &str, primary: &str, s: &FlexServer, option: &str) -> Vec<PlannedStep> {
    vec![
        PlannedStep::new(
            format!("check {name} is a ready read replica"),
            StepKind::Check,
            &s.summary(),
            &format!("GET …/flexibleServers/{name}?api-version={API_VERSION}"),
            "state Ready, a replica (AsyncReplica or GeoAsyncReplica), as planned from",
        ),
        PlannedStep::new(
            format!("promote {name} to a standalone server ({option})"),
            StepKind::Mutate,
            &format!("{name} is a ready replica of {primary}"),
            &format!(
                "PATCH …/flexibleServers/{name} {{\"properties\":{{\"replica\":{{\"promoteMode\":\"Standalone\",\"promoteOption\":\"{option}\"}}}}}}, then GET its Azure-AsyncOperation until it ends"
            ),
            &format!(
                "the operation Succeeded, within {} min",
                PROMOTED.as_secs() / 60
            ),
        ),
        PlannedStep::new(
            format!("verify {name} serves as a primary"),
            StepKind::Verify,
            "Azure reports the promotion done",
            "GET the server; GET its postgres_exporter /metrics",
            &format!(
                "Azure: Ready, not a replica; the exporter: pg_replication_is_replica 0; within {} min",
                SERVING.as_secs() / 60
            ),
        ),
    ]
}

/// The plan for promoting the target, the replica of `primary`.
pub fn plan(
    request: &ActionRequest,
    primary: &str,
    forced: bool,
    seen: &Seen,
) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let s = server(request, seen)?;
    if !s.is_replica() {
        return Err(Refusal::new(format!(
            "{name} is not a read replica ({}): promoted already, or never one; nothing to do",
            s.summary()
        )));
    }
    if !s.ready() {
        return Err(Refusal::new(format!(
            "{name} is {}, not Ready: an operation on it is running; wait for it and plan again; nothing was changed",
            s.state
        )));
    }
    let broken = s
        .replication_state
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("Broken"));
    let (lag, _) = lag_words(seen);
    if !forced && broken {
        return Err(Refusal::instead(
            format!("{name}'s replication from {primary} is Broken: a planned promotion waits for data that cannot come; nothing was changed"),
            format!("promote it forced: what {primary} wrote and {name} has not ({lag}) is lost"),
        )
        .offering(ActionRequest {
            kind: ActionKind::PromoteReplica {
                primary: primary.to_owned(),
                forced: true,
            },
            ..request.clone()
        }));
    }
    let option = if forced { "Forced" } else { "Planned" };
    let changes = changes(name, primary, s, forced, seen);
    let steps = steps(name, primary, s, option);
    let plan = Plan {
        request: request.clone(),
        title: format!("promote {name} ({option}), replacing {primary}"),
        steps,
        confirm_text: Some(name.clone()),
        undo: None,
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: vec![
            Op::Azure(AzureOp::Expect),
            Op::Azure(AzureOp::Promote {
                forced,
                within: PROMOTED,
            }),
            Op::Azure(AzureOp::Await { within: SERVING }),
        ],
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::action::{ObjectKind, Target};
    use crate::model::data::DbStatus;

    fn request(forced: bool) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::PromoteReplica {
                primary: "pg-tokyo".into(),
                forced,
            },
            target: Target {
                region: "korea".into(),
                cluster: "pg-korea".into(),
                namespace: String::new(),
                kind: ObjectKind::Database,
                name: "pg-korea".into(),
            },
            dry_run: false,
        }
    }

    fn seen(role: &str, replication: &str, receiver: &str) -> Seen {
        Seen {
            azure: Some(Ok(FlexServer {
                name: "pg-korea".into(),
                state: "Ready".into(),
                role: role.into(),
                replication_state: Some(replication.into()),
                source: Some("pg-tokyo".into()),
                location: "koreacentral".into(),
            })),
            exported: Some(Ok(DbStatus {
                replay_lag: Some(2.5),
                wal_receiver: Some(receiver.into()),
                ..DbStatus::default()
            })),
            ..Seen::default()
        }
    }

    #[test]
    fn a_planned_promotion_states_the_lag_the_link_it_ends_and_the_fence_it_leaves() {
        let job = plan(
            &request(false),
            "pg-tokyo",
            false,
            &seen("AsyncReplica", "Active", "streaming"),
        )
        .expect("a plan");
        assert_eq!(
            job.plan.title,
            "promote pg-korea (Planned), replacing pg-tokyo"
        );
        assert_eq!(job.plan.confirm_text.as_deref(), Some("pg-korea"));
        assert_eq!(
            job.plan.changes[0],
            "pg-korea: Ready, AsyncReplica of pg-tokyo (replication Active), koreacentral · lag 2.5 s, WAL receiver streaming, per postgres_exporter"
        );
        assert!(job.plan.changes.iter().any(|c| c.contains("two primaries")));
        assert!(
            job.plan.steps[1]
                .call
                .contains("\"promoteOption\":\"Planned\"")
        );
        let forced = plan(
            &request(true),
            "pg-tokyo",
            true,
            &seen("AsyncReplica", "Active", "waiting"),
        )
        .expect("a plan");
        assert!(
            forced.plan.changes[2].contains("is lost (lag 2.5 s, WAL receiver waiting"),
            "{:?}",
            forced.plan.changes
        );
    }

    #[test]
    fn a_broken_link_offers_forced_and_a_standalone_server_is_refused() {
        let r = plan(
            &request(false),
            "pg-tokyo",
            false,
            &seen("AsyncReplica", "Broken", "stopped"),
        )
        .expect_err("refused");
        assert!(r.why.contains("is Broken"), "{}", r.why);
        assert!(r.offer.is_some_and(|o| o.kind
            == ActionKind::PromoteReplica {
                primary: "pg-tokyo".into(),
                forced: true
            }));
        let r = plan(
            &request(true),
            "pg-tokyo",
            true,
            &seen("None", "Active", "streaming"),
        )
        .expect_err("refused");
        assert!(r.why.contains("not a read replica"), "{}", r.why);
    }
}

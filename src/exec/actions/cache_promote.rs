//! An unplanned Redis promotion: the primary does not answer, so its most
//! caught-up replica (of those configured in `replicas`, each read for
//! itself) is made the primary with `REPLICAOF NO ONE`, the other replicas
//! are re-pointed to it, and the old primary too should it answer again
//! (Redis keeps a restarted primary's role: left alone it would be a second
//! primary). Replication is asynchronous: what the old primary acknowledged
//! after the replica's offset is lost, and the plan says so.

use std::time::Duration;

use super::Seen;
use crate::exec::backend::CacheMember;
use crate::exec::step::{CacheOp, Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the replicas may take to answer to the new primary.
pub const LINKED: Duration = Duration::from_secs(60);

/// What a replica holds of the lost primary, for the plan.
fn holds(m: &CacheMember) -> String {
    match m.down_for {
        Some(s) => format!("offset {}, its link down {s} s", m.offset),
        None => format!("offset {}", m.offset),
    }
}

/// Why the primary is taken for dead, the replica to promote and those
/// that answer; or why no promotion is planned.
fn choose<'s>(
    name: &str,
    seen: &'s Seen,
) -> Result<(String, &'s CacheMember, Vec<&'s CacheMember>), Refusal> {
    let why_dead = match &seen.cache {
        Some(Ok(c)) if c.role == "master" => {
            return Err(Refusal::instead(
                format!(
                    "{name}: its primary {} answers; a promotion would leave two primaries and lose what it takes meanwhile; nothing was changed",
                    c.primary
                ),
                format!(
                    ":cache-failover {name} fails it over with the primary's help (writes paused until the replica has them: nothing lost)"
                ),
            ));
        }
        Some(Ok(c)) => format!("{} answers as {}", c.primary, c.role),
        Some(Err(why)) => why.clone(),
        None => return Err(Refusal::new("the cache was not read: a defect of touban")),
    };
    if seen.cache_members.is_empty() {
        return Err(Refusal::instead(
            format!(
                "{name}: its primary does not answer ({why_dead}) and no replica is configured to promote; nothing was changed"
            ),
            format!(
                "list its replicas in the config ([[caches]] name = \"{name}\", replicas = [\"host:port\", …]): the primary that would list them does not answer"
            ),
        ));
    }
    let answering: Vec<&CacheMember> = seen
        .cache_members
        .iter()
        .filter_map(|(_, m)| m.as_ref().ok())
        .collect();
    // A replica whose link is up hears from the primary: it is alive,
    // though touban cannot read it (credentials, a network cut).
    if let Some(m) = answering.iter().find(|m| m.linked) {
        return Err(Refusal::instead(
            format!(
                "{name}: its replica {} reports its link to {} up: the primary is alive, though touban cannot read it ({why_dead}); a promotion would make two primaries; nothing was changed",
                m.addr,
                m.upstream.as_deref().unwrap_or("its primary")
            ),
            format!(
                "check touban's reach to the primary (direct.url, its password, the network); once it answers, :cache-failover {name} loses nothing"
            ),
        ));
    }
    let mut upstreams: Vec<&str> = answering
        .iter()
        .filter_map(|m| m.upstream.as_deref())
        .collect();
    upstreams.sort_unstable();
    upstreams.dedup();
    if upstreams.len() > 1 {
        return Err(Refusal::new(format!(
            "{name}: its replicas name different primaries ({}): which one was lost is not clear; nothing was changed",
            upstreams.join(", ")
        )));
    }
    if let Some(m) = answering.iter().find(|m| m.role == "master") {
        return Err(Refusal::new(format!(
            "{name}: its replica {} answers as a primary already (promoted before?); promoting another would make two; nothing was changed",
            m.addr
        )));
    }
    let Some(to) = answering
        .iter()
        .copied()
        .filter(|m| m.role == "slave")
        .max_by_key(|m| (m.offset, std::cmp::Reverse(m.addr.clone())))
    else {
        let why: Vec<String> = seen
            .cache_members
            .iter()
            .map(|(addr, m)| match m {
                Ok(m) => format!("{addr} answers as {}", m.role),
                Err(why) => format!("{addr}: {why}"),
            })
            .collect();
        return Err(Refusal::new(format!(
            "{name}: its primary does not answer ({why_dead}) and no replica answers to promote ({}); nothing was changed",
            why.join("; ")
        )));
    };
    Ok((why_dead, to, answering))
}

/// The plan's steps: check, promote, re-point each other replica and the
/// old primary, verify.
fn steps(
    name: &str,
    why_dead: &str,
    to: &CacheMember,
    dead: &str,
    others: &[String],
    linked: &[String],
    loss: &str,
) -> Vec<PlannedStep> {
    let mut steps = vec![
        PlannedStep::new(
            format!(
                "check {dead} does not answer and {} is its replica",
                to.addr
            ),
            StepKind::Check,
            &format!("{dead}: {why_dead}"),
            "INFO replication on the primary and on each configured replica",
            &format!("{} replicates from {dead} at {}", to.addr, holds(to)),
        ),
        PlannedStep::new(
            format!("promote {} to {name}'s primary", to.addr),
            StepKind::Mutate,
            &format!("{} is a replica", to.addr),
            &format!("REPLICAOF NO ONE on {}", to.addr),
            &format!("{} takes writes; {loss}", to.addr),
        ),
    ];
    for other in others {
        steps.push(PlannedStep::new(
            format!("re-point {other} to {}", to.addr),
            StepKind::Mutate,
            &format!("{} is the primary", to.addr),
            &format!("REPLICAOF {} on {other}", to.addr.replace(':', " ")),
            &format!("{other} replicates from {} (a full resync)", to.addr),
        ));
    }
    steps.push(PlannedStep::new(
        format!("re-point the old primary {dead} should it answer"),
        StepKind::Mutate,
        &format!("{dead} answers again (else it is named, not waited for)"),
        &format!("REPLICAOF {} on {dead}", to.addr.replace(':', " ")),
        &format!(
            "{dead} replicates from {}, not a second primary; its writes since are discarded",
            to.addr
        ),
    ));
    steps.push(PlannedStep::new(
        format!("wait until {} answers as {name}'s primary", to.addr),
        StepKind::Verify,
        "the promotion sent",
        &format!("INFO replication on {} and each replica", to.addr),
        &format!(
            "{} a primary; {} linked to it, within {} s",
            to.addr,
            if linked.is_empty() {
                "no other replica".to_owned()
            } else {
                linked.join(", ")
            },
            LINKED.as_secs()
        ),
    ));
    steps
}

/// The plan for promoting the target cache's most caught-up replica.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    let name = &request.target.name;
    let (why_dead, to, answering) = choose(name, seen)?;
    let dead = to.upstream.clone().unwrap_or_else(|| "its primary".into());
    let others: Vec<String> = seen
        .cache_members
        .iter()
        .map(|(addr, _)| addr.clone())
        .filter(|a| *a != to.addr)
        .collect();
    // Those that answer now are waited for; the others are re-pointed if
    // they answer by then, and named.
    let linked: Vec<String> = answering
        .iter()
        .filter(|m| m.addr != to.addr)
        .map(|m| m.addr.clone())
        .collect();
    let loss = format!(
        "what {dead} acknowledged after {}'s {} is lost (Redis replicates asynchronously)",
        to.addr,
        holds(to)
    );
    let steps = steps(name, &why_dead, to, &dead, &others, &linked, &loss);
    let plan = Plan {
        request: request.clone(),
        title: format!("promote {} without {name}'s primary {dead}", to.addr),
        steps,
        confirm_text: Some(name.clone()),
        undo: Some(format!(
            "none: once {dead} answers again as {}'s replica, :cache-failover {name} makes it the primary again, losing nothing",
            to.addr
        )),
        reason: None,
        changes: vec![
            format!("{name}: primary {dead} → {}", to.addr),
            format!("data-loss bound: {loss}"),
            format!(
                "clients must be pointed at {} (and the config's direct.url, which names {dead}, changed to it)",
                to.addr
            ),
        ],
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    let mut ops = vec![
        Op::Cache(CacheOp::ExpectDead {
            dead: dead.clone(),
            to: to.addr.clone(),
        }),
        Op::Cache(CacheOp::Promote {
            to: to.addr.clone(),
        }),
    ];
    ops.extend(others.iter().map(|other| {
        Op::Cache(CacheOp::Repoint {
            server: other.clone(),
            to: to.addr.clone(),
        })
    }));
    ops.push(Op::Cache(CacheOp::Repoint {
        server: dead,
        to: to.addr.clone(),
    }));
    ops.push(Op::Cache(CacheOp::AwaitPromoted {
        to: to.addr.clone(),
        others: linked,
        within: LINKED,
    }));
    Ok(Job {
        plan,
        ops,
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::exec::backend::CacheReading;
    use crate::model::action::{ActionKind, ObjectKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::CachePromote,
            target: Target {
                region: "tokyo".into(),
                cluster: "cache".into(),
                namespace: String::new(),
                kind: ObjectKind::Cache,
                name: "cache".into(),
            },
            dry_run: false,
        }
    }

    fn member(addr: &str, role: &str, offset: i64) -> (String, Result<CacheMember, String>) {
        (
            addr.into(),
            Ok(CacheMember {
                addr: addr.into(),
                role: role.into(),
                upstream: Some("10.0.0.1:6379".into()),
                linked: false,
                down_for: Some(12),
                offset,
            }),
        )
    }

    fn seen(
        cache: Result<CacheReading, String>,
        members: Vec<(String, Result<CacheMember, String>)>,
    ) -> Seen {
        Seen {
            cache: Some(cache),
            cache_members: members,
            ..Seen::default()
        }
    }

    #[test]
    fn the_most_caught_up_replica_is_promoted_and_the_rest_re_pointed() {
        let s = seen(
            Err("connection refused".into()),
            vec![
                member("10.0.0.2:6379", "slave", 900),
                member("10.0.0.3:6379", "slave", 1000),
                ("10.0.0.4:6379".into(), Err("connection refused".into())),
            ],
        );
        let job = plan(&request(), &s).expect("a plan");
        assert_eq!(
            job.plan.title,
            "promote 10.0.0.3:6379 without cache's primary 10.0.0.1:6379"
        );
        assert!(
            job.plan.changes[1]
                .contains("after 10.0.0.3:6379's offset 1000, its link down 12 s is lost"),
            "{:?}",
            job.plan.changes
        );
        let repointed: Vec<&str> = job
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Cache(CacheOp::Repoint { server, .. }) => Some(server.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            repointed,
            ["10.0.0.2:6379", "10.0.0.4:6379", "10.0.0.1:6379"]
        );
        assert_eq!(job.plan.confirm_text.as_deref(), Some("cache"));
    }

    #[test]
    fn a_primary_that_answers_or_a_second_one_refuses() {
        let primary = CacheReading {
            primary: "10.0.0.1:6379".into(),
            role: "master".into(),
            ..CacheReading::default()
        };
        let refused = plan(&request(), &seen(Ok(primary), vec![])).expect_err("refused");
        assert!(refused.why.contains("answers"), "{}", refused.why);
        let two = seen(
            Err("refused".into()),
            vec![
                member("10.0.0.2:6379", "master", 1),
                member("10.0.0.3:6379", "slave", 1),
            ],
        );
        let refused = plan(&request(), &two).expect_err("refused");
        assert!(
            refused.why.contains("answers as a primary already"),
            "{}",
            refused.why
        );
        let mut alive = member("10.0.0.2:6379", "slave", 1);
        if let Ok(m) = &mut alive.1 {
            m.linked = true;
        }
        let refused =
            plan(&request(), &seen(Err("WRONGPASS".into()), vec![alive])).expect_err("refused");
        assert!(
            refused.why.contains("reports its link to 10.0.0.1:6379 up"),
            "{}",
            refused.why
        );
        let none = plan(&request(), &seen(Err("refused".into()), vec![])).expect_err("refused");
        assert!(
            none.why.contains("no replica is configured"),
            "{}",
            none.why
        );
    }
}

//! Enabling or disabling a region's pool in the global load balancer,
//! planned from the pool as the balancer reports it now. Disabling is
//! what keeps users away from a region whatever its health: Cloudflare
//! sends traffic back to an enabled pool on its own once its monitors
//! see it healthy again, so marking a region unhealthy is not enough.

use std::time::Duration;

use super::Seen;
use crate::exec::step::{Job, Op, TrafficOp};
use crate::model::action::ActionRequest;
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the balancer may take to report the pool as written.
pub const SETTLED: Duration = Duration::from_secs(30);

/// The plan for setting the target pool's `enabled`.
pub fn plan(request: &ActionRequest, enabled: bool, seen: &Seen) -> Result<Job, Refusal> {
    let t = &request.target;
    let pool = match &seen.pool {
        Some(Ok(p)) => p,
        Some(Err(why)) => {
            return Err(Refusal::new(format!(
                "cannot read the {} pool: {why}; nothing was changed",
                t.region
            )));
        }
        None => return Err(Refusal::new("the pool was not read: a defect of touban")),
    };
    let word = |e: bool| if e { "enabled" } else { "disabled" };
    let verb = if enabled { "enable" } else { "disable" };
    if pool.enabled == enabled {
        return Err(Refusal::new(format!(
            "{} ({}) is {} already: nothing to do",
            pool.name,
            t.region,
            word(enabled)
        )));
    }
    let mut others = Vec::new();
    if !enabled {
        others = beside(request, pool, seen)?;
    }
    let effect = if enabled {
        format!(
            "the balancer may send users to {} again (now: {})",
            t.region,
            pool.summary()
        )
    } else {
        format!(
            "the balancer sends {} no users, healthy or not; they go to each load balancer's other pools",
            t.region
        )
    };
    let steps = vec![
        PlannedStep::new(
            format!("check {} is {}", pool.name, word(pool.enabled)),
            StepKind::Check,
            &format!("pool {}", pool.id),
            &format!("GET …/load_balancers/pools/{}", pool.id),
            &format!("{} as planned from", word(pool.enabled)),
        ),
        PlannedStep::new(
            format!("{verb} {}", pool.name),
            StepKind::Mutate,
            &format!("{} is {}", pool.name, word(pool.enabled)),
            &format!(
                "PATCH …/load_balancers/pools/{} {{\"enabled\": {enabled}}}",
                pool.id
            ),
            &format!("the pool answered {}", word(enabled)),
        ),
        PlannedStep::new(
            format!("read {} back", pool.name),
            StepKind::Verify,
            "the write was answered",
            &format!("GET …/load_balancers/pools/{}", pool.id),
            &format!("{} within {} s", word(enabled), SETTLED.as_secs()),
        ),
    ];
    let plan = Plan {
        request: request.clone(),
        title: format!("{verb} {} ({}) in the load balancer", pool.name, t.region),
        steps,
        // Moving users is what a typed name is for.
        confirm_text: Some(pool.name.clone()),
        undo: Some(format!(
            "{} it again",
            if enabled { "disable" } else { "enable" }
        )),
        reason: None,
        changes: [
            format!("{}: enabled {} → {}", pool.name, pool.enabled, enabled),
            effect,
        ]
        .into_iter()
        .chain(others)
        .collect(),
        dry_run: None,
        // A read-back that fails leaves the pool as the balancer has it:
        // nothing to undo automatically.
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: vec![
            Op::Traffic(TrafficOp::Expect {
                enabled: pool.enabled,
            }),
            Op::Traffic(TrafficOp::Set { enabled }),
            Op::Traffic(TrafficOp::Await {
                enabled,
                within: SETTLED,
            }),
        ],
        access: Vec::new(),
    })
}

/// Before a pool is disabled: the balancer's other pools, one line each,
/// or a refusal when none of those read is enabled and healthy (users
/// would go to each load balancer's fallback pool), offering to enable a
/// disabled one first. A pool that cannot be read is said, not refused on.
fn beside(
    request: &ActionRequest,
    pool: &crate::model::traffic::PoolStatus,
    seen: &Seen,
) -> Result<Vec<String>, Refusal> {
    use crate::model::action::ActionKind;
    let serving = |p: &crate::model::traffic::PoolStatus| p.enabled && p.healthy == Some(true);
    let mut lines = Vec::new();
    let mut unread = false;
    for (region, read) in &seen.other_pools {
        match read {
            Ok(p) if serving(p) => lines.push(format!(
                "{} ({region}): {}: takes the users",
                p.name,
                p.summary()
            )),
            Ok(p) => lines.push(format!(
                "{} ({region}): {}: would take no users",
                p.name,
                p.summary()
            )),
            Err(why) => {
                unread = true;
                lines.push(format!(
                    "the {region} pool could not be read ({why}): check it serves before confirming"
                ));
            }
        }
    }
    if unread
        || seen
            .other_pools
            .iter()
            .any(|(_, r)| r.as_ref().is_ok_and(serving))
    {
        return Ok(lines);
    }
    let why = if seen.other_pools.is_empty() {
        format!(
            "{} is the only pool in [traffic]: disabled, every user goes to each load balancer's fallback pool; nothing was changed",
            pool.name
        )
    } else {
        format!(
            "disabling {} leaves no enabled, healthy pool ({}): users would go to each load balancer's fallback pool; nothing was changed",
            pool.name,
            lines.join("; ")
        )
    };
    let disabled = seen.other_pools.iter().find_map(|(region, r)| match r {
        Ok(p) if !p.enabled => Some((region, p)),
        _ => None,
    });
    Err(match disabled {
        Some((region, p)) => Refusal::instead(
            why,
            format!("enable {} first (`:enable-pool {region}`)", p.name),
        )
        .offering(ActionRequest {
            kind: ActionKind::TrafficPool { enabled: true },
            target: crate::model::action::Target {
                region: region.clone(),
                name: p.id.clone(),
                ..request.target.clone()
            },
            dry_run: false,
        }),
        None => Refusal::new(why),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};
    use crate::model::traffic::PoolStatus;

    fn request(enabled: bool) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::TrafficPool { enabled },
            target: Target {
                region: "tokyo".into(),
                cluster: "traffic".into(),
                namespace: "023e105f4ecef8ad9ca31a8372d0c353".into(),
                kind: ObjectKind::Pool,
                name: "17b5962d775c646f3f9725cbc7a53df4".into(),
            },
            dry_run: false,
        }
    }

    fn status(name: &str, enabled: bool) -> PoolStatus {
        PoolStatus {
            id: format!("{name}-id"),
            name: name.into(),
            enabled,
            disabled_at: None,
            healthy: enabled.then_some(true),
            origins: (1, 1),
            failure: None,
        }
    }

    fn seen(enabled: bool) -> Seen {
        Seen {
            pool: Some(Ok(status("iworkz-tokyo", enabled))),
            other_pools: vec![("korea".into(), Ok(status("iworkz-korea", true)))],
            ..Seen::default()
        }
    }

    #[test]
    fn disabling_the_last_pool_that_serves_is_refused_offering_to_enable_another() {
        let korea_off = Seen {
            other_pools: vec![("korea".into(), Ok(status("iworkz-korea", false)))],
            ..seen(true)
        };
        let r = plan(&request(false), false, &korea_off).expect_err("refused");
        assert!(
            r.why.contains("leaves no enabled, healthy pool"),
            "{}",
            r.why
        );
        assert_eq!(
            r.instead.as_deref(),
            Some("enable iworkz-korea first (`:enable-pool korea`)")
        );
        let offer = r.offer.expect("an offer");
        assert_eq!(offer.kind, ActionKind::TrafficPool { enabled: true });
        assert_eq!(
            (offer.target.region.as_str(), offer.target.name.as_str()),
            ("korea", "iworkz-korea-id")
        );
        let alone = Seen {
            other_pools: Vec::new(),
            ..seen(true)
        };
        let r = plan(&request(false), false, &alone).expect_err("refused");
        assert!(r.why.contains("the only pool"), "{}", r.why);
        // One that cannot be read is said in the plan, not refused on.
        let unread = Seen {
            other_pools: vec![("korea".into(), Err("Cloudflare: HTTP 500".into()))],
            ..seen(true)
        };
        let job = plan(&request(false), false, &unread).expect("a plan");
        assert!(
            job.plan
                .changes
                .iter()
                .any(|c| c.contains("could not be read"))
        );
    }

    #[test]
    fn disabling_is_planned_from_the_pool_as_read_and_names_what_it_moves() {
        let job = plan(&request(false), false, &seen(true)).expect("a plan");
        assert_eq!(
            job.plan.title,
            "disable iworkz-tokyo (tokyo) in the load balancer"
        );
        assert_eq!(job.plan.confirm_text.as_deref(), Some("iworkz-tokyo"));
        assert!(matches!(
            job.ops[0],
            Op::Traffic(TrafficOp::Expect { enabled: true })
        ));
        assert!(job.plan.changes[1].contains("no users, healthy or not"));
        assert!(
            job.plan.changes[2]
                .contains("iworkz-korea (korea): enabled, healthy (1/1 origins): takes the users"),
            "{:?}",
            job.plan.changes
        );
        assert!(job.plan.steps[1].call.ends_with("{\"enabled\": false}"));
    }

    #[test]
    fn a_pool_already_as_asked_is_refused_and_an_unread_one_says_why() {
        let r = plan(&request(false), false, &seen(false)).expect_err("refused");
        assert!(r.why.contains("disabled already"), "{}", r.why);
        let unread = Seen {
            pool: Some(Err("Cloudflare: HTTP 403".into())),
            ..Seen::default()
        };
        let r = plan(&request(true), true, &unread).expect_err("refused");
        assert!(r.why.contains("HTTP 403") && r.why.contains("nothing was changed"));
    }
}

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
    let effect = if enabled {
        format!(
            "the balancer may send users to {} again (now: {})",
            t.region,
            pool.summary()
        )
    } else {
        format!(
            "the balancer sends {} no users, healthy or not; they go to each load balancer's other pools (or its fallback pool): check those are enabled and healthy",
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
        changes: vec![
            format!("{}: enabled {} → {}", pool.name, pool.enabled, enabled),
            effect,
        ],
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

    fn seen(enabled: bool) -> Seen {
        Seen {
            pool: Some(Ok(PoolStatus {
                id: "17b5962d775c646f3f9725cbc7a53df4".into(),
                name: "iworkz-tokyo".into(),
                enabled,
                disabled_at: None,
                healthy: Some(true),
                origins: (1, 1),
                failure: None,
            })),
            ..Seen::default()
        }
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

//! Re-point applications at a promoted database: the key of a ConfigMap or
//! Secret that holds the database's address gets the new `host:port` (in
//! a URL only the authority's host and port change: the user, password,
//! database and options stay), then each deployment that reads it is
//! restarted as `kubectl rollout restart` does, so that its pods read the
//! new address.
//!
//! Only hosts are planned, shown, checkpointed and audited: the value
//! itself (a Secret's password) is read and written by the runner inside
//! one step and goes nowhere else. The write is a compare-and-swap (a
//! JSON patch whose `test` holds the value read), and each step converges:
//! a resumed job finds the key pointing at the new host and writes
//! nothing, a deployment already restarted at the planned time is not
//! restarted again.

use super::Seen;
use super::restart::DEADLINE;
use crate::exec::step::{Access, ConfigOp, Job, Op};
use crate::model::action::{ActionRequest, ObjectKind};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// Whether `host` is only an address: `host[:port]`, a bracketed IPv6
/// address, or a comma-separated list of them (libpq's multi-host form).
pub fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | ',' | '[' | ']')
        })
}

/// Where a URL's address is: the byte range of its host and port, after
/// the user part (which ends at the last `@` before the path, as libpq
/// reads it: a password may hold `?` or `#`) and before the path, query
/// or fragment.
fn address(value: &str) -> Option<std::ops::Range<usize>> {
    let (scheme, rest) = value.split_once("://")?;
    let base = scheme.len() + 3;
    let slash = rest.find('/').unwrap_or(rest.len());
    let start = rest
        .get(..slash)
        .and_then(|a| a.rfind('@'))
        .map_or(0, |i| i + 1);
    let after = rest.get(start..)?;
    let end = start + after.find(['/', '?', '#']).unwrap_or(after.len());
    Some(base + start..base + end)
}

/// The `host[:port]` a value points at: a URL's address without its user
/// and password, or the value itself when it is a bare address; `None`
/// when what was found is not an address (an empty host, a libpq keyword
/// string): never a piece of the value that could hold its password.
pub fn host_of(value: &str) -> Option<&str> {
    let host = match address(value) {
        Some(r) => value.get(r)?,
        None => value.trim(),
    };
    valid_host(host).then_some(host)
}

/// `value` pointed at `host`: a URL with its address replaced (everything
/// else kept byte for byte), a bare address replaced.
pub fn rewrite(value: &str, host: &str) -> String {
    match address(value) {
        Some(r) => format!(
            "{}{host}{}",
            value.get(..r.start).unwrap_or_default(),
            value.get(r.end..).unwrap_or_default()
        ),
        None => host.to_owned(),
    }
}

/// The object's kind as the API and the plan name it.
fn noun(kind: ObjectKind) -> (&'static str, &'static str) {
    match kind {
        ObjectKind::Secret => ("secret", "secrets"),
        _ => ("configmap", "configmaps"),
    }
}

/// The host the key points at as read, or why there is none.
fn pointed_at(seen: &Seen, object: &str, key: &str) -> Result<String, Refusal> {
    let value = match &seen.config {
        Some(Ok(Some(v))) => v,
        Some(Ok(None)) => {
            return Err(Refusal::instead(
                format!("{object} has no key {key}"),
                "say in [[databases.consumers]] which key holds the database's address",
            ));
        }
        Some(Err(why)) => return Err(Refusal::new(format!("{object}: {why}"))),
        None => return Err(Refusal::new(format!("{object} was not read: plan again"))),
    };
    host_of(value.reveal())
        .map(str::to_owned)
        .ok_or_else(|| Refusal::new(format!("{object}'s {key} is empty: no address to re-point")))
}

/// The plan for pointing the target's `key` at `host` and restarting
/// `restart`.
pub fn plan(
    request: &ActionRequest,
    key: &str,
    host: &str,
    restart: &[String],
    seen: &Seen,
) -> Result<Job, Refusal> {
    let t = &request.target;
    if !matches!(t.kind, ObjectKind::ConfigMap | ObjectKind::Secret) {
        return Err(Refusal::new(format!(
            "{t} holds no configuration: re-pointing writes a ConfigMap's or Secret's key"
        )));
    }
    let (noun, plural) = noun(t.kind);
    let object = format!("{noun} {}/{} in {}", t.namespace, t.name, t.cluster);
    let from = pointed_at(seen, &object, key)?;
    if seen.now.is_empty() {
        return Err(Refusal::new(
            "no time of planning to write: a defect of touban, nothing was planned",
        ));
    }
    let path = format!("/api/v1/namespaces/{}/{plural}/{}", t.namespace, t.name);
    let already = from == host;
    let mut steps = vec![PlannedStep {
        title: if already {
            format!("check {key} points at {host}")
        } else {
            format!("point {key} of {noun} {} at {host}", t.name)
        },
        kind: if already {
            StepKind::Check
        } else {
            StepKind::Mutate
        },
        precondition: format!("{key} still points at {from} (or at {host} already)"),
        call: if already {
            format!("GET {path}")
        } else {
            format!("PATCH {path} (JSON patch: test the value read, replace its host)")
        },
        expect: format!("{key} points at {host}; the rest of its value unchanged"),
    }];
    let mut ops = vec![Op::Config(ConfigOp::PointAt {
        key: key.to_owned(),
        from: from.clone(),
        to: host.to_owned(),
    })];
    let mut changes = vec![if already {
        format!(
            "{object}: {key} points at {host} already: nothing to write; the deployments are restarted still, for no pod to hold an address read before"
        )
    } else {
        format!("{object}: {key} {from} → {host} (only the host changes)")
    }];
    // Pods read their configuration when they start: a key changed under
    // them (by this job before an interruption, or by hand) is read by
    // their replacements only, so the restarts are planned either way.
    for (step, op, change) in restarts(t, key, host, restart, &seen.now) {
        steps.push(step);
        ops.push(op);
        if !change.is_empty() {
            changes.push(change);
        }
    }
    let plan = Plan {
        request: request.clone(),
        title: if already {
            format!(
                "{key} of {noun} {} points at {host} already; restart {}",
                t.name,
                if restart.is_empty() {
                    "nothing".to_owned()
                } else {
                    restart.join(", ")
                }
            )
        } else {
            format!(
                "re-point {key} of {noun} {} at {host} and restart {}",
                t.name,
                if restart.is_empty() {
                    "nothing".to_owned()
                } else {
                    restart.join(", ")
                }
            )
        },
        steps,
        confirm_text: None,
        undo: (!already).then(|| format!("re-point {key} at {from} and restart again")),
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    };
    let mut access = vec![
        Access::new("get", "", plural),
        Access::new("patch", "", plural),
    ];
    if !restart.is_empty() {
        access.push(Access::new("get", "apps", "deployments"));
        access.push(Access::new("patch", "apps", "deployments"));
    }
    Ok(Job { plan, ops, access })
}

/// Each deployment of `restart` restarted at `at` and waited for: the
/// steps, their operations and the plan's line of each (empty: none).
fn restarts(
    t: &crate::model::action::Target,
    key: &str,
    host: &str,
    restart: &[String],
    at: &str,
) -> Vec<(PlannedStep, Op, String)> {
    let mut all = Vec::new();
    for d in restart {
        let dpath = format!("/apis/apps/v1/namespaces/{}/deployments/{d}", t.namespace);
        all.push((
            PlannedStep {
                title: format!("restart {d}'s pods, for them to read {key}"),
                kind: StepKind::Mutate,
                precondition: format!("{key} points at {host}"),
                call: format!(
                    "PATCH {dpath} spec.template.metadata.annotations.{}={at}",
                    crate::projection::RESTARTED_AT
                ),
                expect: "a new pod template (a deployment that runs no pod is left as it is)"
                    .into(),
            },
            Op::Config(ConfigOp::Restart {
                deployment: d.clone(),
                at: at.to_owned(),
            }),
            format!("{d}: restarted at {at}"),
        ));
        all.push((
            PlannedStep {
                title: format!("wait for {d}'s new pods updated and available"),
                kind: StepKind::Verify,
                precondition: "the restart was accepted".into(),
                call: format!("GET {dpath} until done"),
                expect: "every pod new, updated and available, old pods gone, within the progress deadline"
                    .into(),
            },
            Op::Config(ConfigOp::AwaitRestarted {
                deployment: d.clone(),
                at: at.to_owned(),
                within: DEADLINE,
            }),
            String::new(),
        ));
    }
    all
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::exec::backend::KeyValue;
    use crate::model::action::{ActionKind, Target};

    #[test]
    fn a_url_keeps_everything_but_its_host() {
        let url = "postgres://app:s3cr%40t@tokyo.rds.amazonaws.com:5432/iworkz?sslmode=require";
        assert_eq!(host_of(url), Some("tokyo.rds.amazonaws.com:5432"));
        assert_eq!(
            rewrite(url, "seoul.postgres.database.azure.com:5432"),
            "postgres://app:s3cr%40t@seoul.postgres.database.azure.com:5432/iworkz?sslmode=require"
        );
        assert_eq!(rewrite("redis://cache:6379", "b:6380"), "redis://b:6380");
        assert_eq!(host_of("db.internal:5432"), Some("db.internal:5432"));
        assert_eq!(rewrite("db.internal", "b:5432"), "b:5432");
        assert_eq!(host_of("postgres://u@/db"), None);
        assert_eq!(host_of(""), None);
        // A password may hold `?` and `#`: the user part ends at the last
        // `@` before the path, as libpq reads it.
        let odd = "postgres://app:ab?c#d@tokyo:5432/db?sslmode=require";
        assert_eq!(host_of(odd), Some("tokyo:5432"));
        assert_eq!(
            rewrite(odd, "seoul:5432"),
            "postgres://app:ab?c#d@seoul:5432/db?sslmode=require"
        );
        assert_eq!(host_of("redis://cache:6379?db=1"), Some("cache:6379"));
        // A libpq keyword string is no address: refused, never quoted.
        assert_eq!(host_of("host=tokyo password=hunter2"), None);
        assert_eq!(host_of("postgres://[::1]:5432/db"), Some("[::1]:5432"));
    }

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Repoint {
                key: "DATABASE_URL".into(),
                host: "seoul:5432".into(),
                restart: vec!["backend-api-blue".into()],
            },
            target: Target {
                region: "korea".into(),
                cluster: "aks-korea".into(),
                namespace: "prod".into(),
                kind: ObjectKind::Secret,
                name: "backend-api-secrets".into(),
            },
            dry_run: false,
        }
    }

    fn seen(value: Option<&str>) -> Seen {
        Seen {
            config: Some(Ok(value.map(|v| KeyValue(v.to_owned())))),
            now: "2026-12-07T06:00:00Z".into(),
            ..Seen::default()
        }
    }

    #[test]
    fn the_plan_names_hosts_and_never_the_secret() {
        let secret = "postgres://app:hunter2@tokyo:5432/iworkz";
        let job = plan(
            &request(),
            "DATABASE_URL",
            "seoul:5432",
            &["backend-api-blue".into()],
            &seen(Some(secret)),
        )
        .expect("planned");
        let all = format!("{:?} {:?}", job.plan, job.ops);
        assert!(!all.contains("hunter2"), "{all}");
        assert!(
            job.plan.changes[0].contains("DATABASE_URL tokyo:5432 → seoul:5432"),
            "{:?}",
            job.plan.changes
        );
        assert_eq!(job.ops.len(), 3, "the write, a restart and its wait");
        assert!(format!("{:?}", seen(Some(secret))).contains("KeyValue(…)"));
    }

    #[test]
    fn a_key_pointing_there_already_is_not_written_but_its_readers_restart() {
        let job = plan(
            &request(),
            "DATABASE_URL",
            "seoul:5432",
            &["backend-api-blue".into()],
            &seen(Some("postgres://app:x@seoul:5432/iworkz")),
        )
        .expect("planned");
        assert_eq!(job.ops.len(), 3, "the check, a restart and its wait");
        assert_eq!(job.plan.steps[0].kind, StepKind::Check);
        let missing = plan(&request(), "DATABASE_URL", "seoul:5432", &[], &seen(None));
        assert!(missing.is_err_and(|r| r.why.contains("has no key DATABASE_URL")));
    }
}

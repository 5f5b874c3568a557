//! Redis failover through the executor against real servers: a primary
//! and its replica failed over by Redis's own coordinated FAILOVER (the
//! keys on the new primary, the old one its replica), and the same behind
//! a real Sentinel (`SENTINEL FAILOVER`, followed to the primary it names);
//! each run again converging without failing over twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use touban::config::Platform;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::backend::redis::Reach;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};

mod common;

use common::exec::said;

use common::Process;
use common::redis::{redis_cli, redis_server, wait_ready};

fn backend(kind: &str, port: u16, extra: &str) -> KubeBackend {
    let platform = Platform::parse(
        "test config",
        &format!(
            "{}\n[[caches]]\nname = \"cache\"\nregion = \"tokyo\"\nkind = \"{kind}\"\ndirect = {{ url = \"redis://127.0.0.1:{port}\" }}\n{extra}",
            common::TWO_REGIONS
        ),
    )
    .expect("valid config");
    let reach = platform
        .caches
        .iter()
        .filter_map(|c| {
            Some((
                c.name.get_ref().clone(),
                Reach {
                    kind: c.kind,
                    direct: c.direct.clone()?,
                    master_name: c.master_name.clone(),
                    replicas: c.replicas.clone(),
                },
            ))
        })
        .collect();
    KubeBackend::new(BTreeMap::new()).with_caches(reach)
}

fn request() -> ActionRequest {
    ActionRequest {
        kind: ActionKind::CacheFailover,
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

/// A primary on `p` and its replica on `r`, the replica linked.
fn pair(dir: &std::path::Path, p: u16, r: u16) -> (Process, Process) {
    let primary = redis_server(dir, p, None);
    let rdir = dir.join("replica");
    std::fs::create_dir_all(&rdir).expect("dir");
    let replica = redis_server(&rdir, r, Some(p));
    wait_ready(p);
    wait_ready(r);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !redis_cli(p, &["INFO", "replication"]).contains("state=online") {
        assert!(Instant::now() < deadline, "the replica never came online");
        std::thread::sleep(Duration::from_millis(50));
    }
    (primary, replica)
}

fn role(port: u16) -> String {
    redis_cli(port, &["ROLE"])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinated_failover_swaps_the_roles_and_keeps_the_keys() {
    let dir = tempfile::tempdir().expect("temp");
    let (p, r) = (common::free_port(), common::free_port());
    let _servers = pair(dir.path(), p, r);
    for i in 0..100 {
        redis_cli(p, &["SET", &format!("session:{i}"), "alive"]);
    }
    let backend = backend("redis", p, "");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let job = runner::prepare(&backend, &request(), true)
        .await
        .expect("a plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some("cache"));
    assert!(
        job.plan.steps[1]
            .call
            .starts_with(&format!("FAILOVER TO 127.0.0.1 {r}")),
        "{:?}",
        job.plan.steps[1]
    );
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("cache failover: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert_eq!(role(r), "master");
    assert_eq!(role(p), "slave", "the old primary replicates from the new");
    assert_eq!(redis_cli(r, &["DBSIZE"]), "100");
    assert_eq!(redis_cli(r, &["GET", "session:99"]), "alive");
    // Run again (resumed): nothing is failed over twice.
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].contains("nothing sent"), "{steps:?}");
    assert_eq!(role(r), "master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_sentinel_the_failover_is_the_sentinel_s_and_is_followed() {
    let dir = tempfile::tempdir().expect("temp");
    let (p, r, s) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let _servers = pair(dir.path(), p, r);
    let _sentinel = common::redis::sentinel(dir.path(), s, p);
    wait_ready(s);
    let backend = backend("redis-sentinel", s, "master_name = \"mymaster\"\n");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    // The plan is refused until the Sentinel has heard from the replica
    // (it would answer NOGOODSLAVE): the refusal says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        match runner::prepare(&backend, &request(), true).await {
            Ok(job) => break job,
            Err(refusal) => {
                assert!(Instant::now() < deadline, "still refused: {}", refusal.why);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    assert!(
        job.plan.title.contains("behind Sentinel"),
        "{}",
        job.plan.title
    );
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("sentinel failover: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    let named = redis_cli(s, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    assert!(named.ends_with(&r.to_string()), "{named}");
    assert_eq!(role(r), "master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: the primary lost, a replica promoted, the old primary back and re-pointed
async fn with_the_primary_dead_the_most_caught_up_replica_is_promoted_and_the_old_one_re_pointed_on_return()
 {
    let dir = tempfile::tempdir().expect("temp");
    let (p, r1, r2) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let (primary, replica) = pair(dir.path(), p, r1);
    let r2dir = dir.path().join("replica2");
    std::fs::create_dir_all(&r2dir).expect("dir");
    let _second = redis_server(&r2dir, r2, Some(p));
    wait_ready(r2);
    let deadline = Instant::now() + Duration::from_secs(20);
    while redis_cli(p, &["INFO", "replication"])
        .matches("state=online")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "the replicas never came online");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..100 {
        redis_cli(p, &["SET", &format!("session:{i}"), "alive"]);
    }
    assert_eq!(
        redis_cli(p, &["WAIT", "2", "10000"]),
        "2",
        "both replicas acknowledge the writes"
    );
    // Both hold every key before the primary dies: a replica still in its
    // first sync would be promoted empty.
    let deadline = Instant::now() + Duration::from_secs(20);
    while [r1, r2].iter().any(|r| redis_cli(*r, &["DBSIZE"]) != "100") {
        assert!(
            Instant::now() < deadline,
            "the replicas never held the keys"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let backend = backend(
        "redis",
        p,
        &format!("replicas = [\"127.0.0.1:{r1}\", \"127.0.0.1:{r2}\"]\n"),
    );
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let promote = ActionRequest {
        kind: ActionKind::CachePromote,
        ..request()
    };
    // While the primary answers, a promotion is refused for the failover.
    let refused = runner::prepare(&backend, &promote, true)
        .await
        .expect_err("refused while the primary answers");
    assert!(refused.why.contains("answers"), "{}", refused.why);
    assert!(
        refused
            .instead
            .as_deref()
            .is_some_and(|i| i.contains(":cache-failover")),
        "{refused:?}"
    );

    // The primary dies; the coordinated failover cannot be planned and
    // says what can.
    drop(primary);
    let deadline = Instant::now() + Duration::from_secs(20);
    while [r1, r2]
        .iter()
        .any(|r| !redis_cli(*r, &["INFO", "replication"]).contains("master_link_status:down"))
    {
        assert!(
            Instant::now() < deadline,
            "the replicas never saw the primary gone"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = runner::prepare(&backend, &request(), true)
        .await
        .expect_err("no failover without the primary");
    assert!(
        refused
            .instead
            .as_deref()
            .is_some_and(|i| i.contains(":cache-promote cache")),
        "{refused:?}"
    );
    let job = runner::prepare(&backend, &promote, true)
        .await
        .expect("a plan");
    eprintln!("{:#?}", job.plan.steps);
    assert_eq!(job.plan.confirm_text.as_deref(), Some("cache"));
    assert!(
        job.plan
            .changes
            .iter()
            .any(|c| c.starts_with("data-loss bound: what 127.0.0.1:")),
        "{:?}",
        job.plan.changes
    );
    // The most caught-up: the primary's last pings may have reached one
    // replica and not the other.
    let offset = |port: u16| -> i64 {
        redis_cli(port, &["INFO", "replication"])
            .lines()
            .find_map(|l| l.strip_prefix("slave_repl_offset:"))
            .and_then(|o| o.trim().parse().ok())
            .expect("an offset")
    };
    let (to, other) = if job
        .plan
        .title
        .starts_with(&format!("promote 127.0.0.1:{r1} "))
    {
        (r1, r2)
    } else {
        (r2, r1)
    };
    assert!(
        job.plan.title.starts_with(&format!(
            "promote 127.0.0.1:{to} without cache's primary 127.0.0.1:{p}"
        )),
        "{}",
        job.plan.title
    );
    assert!(
        offset(to) >= offset(other),
        "the most caught-up is promoted"
    );
    // A dry run sends nothing.
    let mut dry = job.clone();
    dry.plan.request.dry_run = true;
    let (outcome, events) = common::exec::run_job(&backend, &dry, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    assert_eq!(role(to), "slave", "a dry run promotes nothing");

    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("cache promotion: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert_eq!(role(to), "master");
    assert_eq!(role(other), "slave");
    assert!(
        redis_cli(other, &["INFO", "replication"]).contains(&format!("master_port:{to}")),
        "the other replica follows the new primary"
    );
    assert_eq!(redis_cli(to, &["DBSIZE"]), "100");
    assert_eq!(
        redis_cli(to, &["SET", "after", "promotion"]),
        "OK",
        "it takes writes"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains(&format!("127.0.0.1:{p} does not answer"))),
        "the old primary, gone, is named: {steps:?}"
    );

    // The old primary returns, empty and a primary again, as a restarted
    // Redis does: the job run again (resumed) re-points it and sends
    // nothing twice.
    let _back = redis_server(dir.path(), p, None);
    wait_ready(p);
    assert_eq!(role(p), "master", "two primaries until it is re-pointed");
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    eprintln!("resumed: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[0].contains("promoted before"), "{steps:?}");
    assert!(steps[1].contains("nothing sent"), "{steps:?}");
    assert!(steps[2].contains("already"), "{steps:?}");
    assert_eq!(
        role(p),
        "slave",
        "the old primary is re-pointed, not a second primary"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while redis_cli(p, &["DBSIZE"]) != "101" {
        assert!(Instant::now() < deadline, "the old primary never resynced");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(replica);
}

//! Amazon RDS and ElastiCache through the executor and the real
//! `aws-sdk-rds` / `aws-sdk-elasticache`: the Tokyo database's Multi-AZ
//! failover and its read replica's promotion against the sandbox's RDS,
//! and the Tokyo cache's TestFailover against the sandbox's ElastiCache
//! (each takes simulated time, as AWS takes real time), each run again or
//! resumed after the call was sent without sending it twice; and the same
//! SDK calls against moto, an independent emulator, where moto implements
//! them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use touban::config::Platform;
use touban::exec::audit::AuditLog;
use touban::exec::backend::Backend;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::sandbox::cloudwatch::{AWS_REGION, CACHE, DB};
use touban::sandbox::rds::REPLICA;

mod common;

use common::exec::said;

/// A backend reaching `identifiers` (database name = instance id) at `endpoint`.
fn backend(endpoint: &str, identifiers: &[&str]) -> KubeBackend {
    let mut text = common::TWO_REGIONS.to_owned();
    for id in identifiers {
        let _ = write!(
            text,
            "\n[[databases]]\nname = \"{id}\"\nregion = \"tokyo\"\nkind = \"postgres\"\n\
             cloudwatch = {{ identifier = \"{id}\", aws_region = \"{AWS_REGION}\", endpoint = \"{endpoint}\", anonymous = true }}\n\
             rds = {{ identifier = \"{id}\", aws_region = \"{AWS_REGION}\", endpoint = \"{endpoint}\", anonymous = true }}\n"
        );
    }
    let platform = Platform::parse("test config", &text).expect("valid config");
    KubeBackend::new(BTreeMap::new()).with_rds(
        platform
            .databases
            .iter()
            .filter_map(|d| Some((d.name.get_ref().clone(), d.rds.clone()?)))
            .collect(),
    )
}

fn request(kind: ActionKind, db: &str) -> ActionRequest {
    ActionRequest {
        kind,
        target: Target {
            region: "tokyo".into(),
            cluster: db.into(),
            namespace: String::new(),
            kind: ObjectKind::Database,
            name: db.into(),
        },
        dry_run: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokyo_database_fails_over_to_its_standby_s_zone_and_a_resumed_job_sends_nothing_twice()
{
    let sandbox = common::calm(7, 10.0).await;
    let backend = backend(&sandbox.rds, &[DB]);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let job = runner::prepare(&backend, &request(ActionKind::RdsFailover, DB), true)
        .await
        .expect("a plan");
    assert_eq!(
        job.plan.title,
        format!("fail RDS {DB} over from ap-northeast-1a to ap-northeast-1c")
    );
    assert_eq!(job.plan.confirm_text.as_deref(), Some(DB));
    assert_eq!(
        job.plan.steps[1].call,
        format!("RebootDBInstance {DB} ForceFailover=true")
    );

    // A dry run reads and sends nothing.
    let mut dry = job.clone();
    dry.plan.request.dry_run = true;
    let (outcome, events) = common::exec::run_job(&backend, &dry, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    let i = backend.rds_describe(DB).await.expect("describe");
    assert_eq!(
        (i.status.as_str(), i.zone.as_str()),
        ("available", "ap-northeast-1a")
    );

    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("rds failover: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    let i = backend.rds_describe(DB).await.expect("describe");
    assert_eq!(
        i.zone, "ap-northeast-1c",
        "the standby's zone is the primary's"
    );
    assert_eq!(i.secondary.as_deref(), Some("ap-northeast-1a"));
    assert!(
        steps[2].contains(
            "events: Multi-AZ instance failover started. · Multi-AZ instance failover completed."
        ),
        "{steps:?}"
    );
    // Run again (resumed): the failover is there; nothing is sent.
    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].ends_with("nothing sent"), "{steps:?}");
    assert_eq!(sandbox.rds_api.changing(), 0);

    // Killed right after the reboot was sent: the next console resumes,
    // finds it rebooting, sends nothing and waits for the failover.
    let back = runner::prepare(&backend, &request(ActionKind::RdsFailover, DB), true)
        .await
        .expect("a plan back");
    backend
        .rds_failover(DB)
        .await
        .expect("the interrupted run's call");
    let (outcome, events) = common::exec::run_job(&backend, &back, 4, &audit, &who, true).await;
    let steps = said(&events);
    eprintln!("resumed after its call: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[0].contains("before this job was interrupted"),
        "{steps:?}"
    );
    assert!(
        steps[1].contains("rebooting") && steps[1].ends_with("nothing sent"),
        "{steps:?}"
    );
    let i = backend.rds_describe(DB).await.expect("describe");
    assert_eq!(i.zone, "ap-northeast-1a");
    let audit_text = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert!(
        audit_text.contains("RebootDBInstance"),
        "the audit log has the call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_replica_is_promoted_and_what_cannot_be_is_refused() {
    let sandbox = common::calm(8, 10.0).await;
    let backend = backend(&sandbox.rds, &[DB, REPLICA]);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    // The replica has no standby; the primary is no replica.
    let refused = runner::prepare(&backend, &request(ActionKind::RdsFailover, REPLICA), true)
        .await
        .expect_err("no standby");
    assert!(refused.why.contains("is not Multi-AZ"), "{}", refused.why);
    let refused = runner::prepare(&backend, &request(ActionKind::RdsPromote, DB), true)
        .await
        .expect_err("no replica");
    assert!(
        refused.why.contains("is no read replica"),
        "{}",
        refused.why
    );
    let job = runner::prepare(&backend, &request(ActionKind::RdsPromote, REPLICA), true)
        .await
        .expect("a plan");
    assert_eq!(
        job.plan.title,
        format!("promote RDS read replica {REPLICA} (from {DB})")
    );
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("rds promotion: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    let i = backend.rds_describe(REPLICA).await.expect("describe");
    assert_eq!(
        (i.status.as_str(), i.source.as_deref()),
        ("available", None)
    );
    let primary = backend.rds_describe(DB).await.expect("describe");
    assert!(primary.replicas.is_empty(), "{primary:?}");
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].ends_with("nothing sent"), "{steps:?}");
}

/// The SDK calls against moto: an instance and its replica created with
/// the SDK, read and planned from, the reboot with failover and the
/// promotion accepted (moto simulates neither's effect), events read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_moto_the_same_calls_read_fail_over_and_promote() {
    let (_moto, url) = common::moto::moto_server();
    let sdk = aws_sdk_rds::Client::from_conf(
        aws_sdk_rds::config::Builder::new()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_sdk_rds::config::Region::new(AWS_REGION))
            .endpoint_url(&url)
            .credentials_provider(aws_sdk_rds::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    );
    sdk.create_db_instance()
        .db_instance_identifier("orders")
        .db_instance_class("db.r6g.large")
        .engine("postgres")
        .master_username("touban")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .multi_az(true)
        .send()
        .await
        .expect("moto creates the instance");
    sdk.create_db_instance_read_replica()
        .db_instance_identifier("orders-ro")
        .source_db_instance_identifier("orders")
        .send()
        .await
        .expect("moto creates the replica");
    let backend = backend(&url, &["orders", "orders-ro"]);
    let i = backend.rds_describe("orders").await.expect("describe");
    assert!(i.multi_az, "{i:?}");
    assert_eq!(i.replicas, ["orders-ro"]);
    // moto reports no SecondaryAvailabilityZone (RDS does, for Multi-AZ):
    // without it the failover could not be verified, and the plan says so.
    let refused = runner::prepare(&backend, &request(ActionKind::RdsFailover, "orders"), true)
        .await
        .expect_err("no standby zone from moto");
    assert!(
        refused.why.contains("names no standby zone"),
        "{}",
        refused.why
    );
    backend
        .rds_failover("orders")
        .await
        .expect("moto accepts RebootDBInstance with ForceFailover");
    let job = runner::prepare(
        &backend,
        &request(ActionKind::RdsPromote, "orders-ro"),
        true,
    )
    .await
    .expect("a promotion plan from moto's reading");
    assert_eq!(
        job.plan.title,
        "promote RDS read replica orders-ro (from orders)"
    );
    backend
        .rds_promote("orders-ro")
        .await
        .expect("moto accepts PromoteReadReplica");
    // moto 5.2.5 keeps the replica's source after it: the job's wait for
    // a standalone instance is proven against the sandbox only.
    let events = backend
        .rds_events("orders")
        .await
        .expect("moto answers DescribeEvents");
    eprintln!("moto's events: {events:?}");
}

/// A backend reaching ElastiCache replication groups `identifiers` (cache
/// name = group id) at `endpoint`.
fn cache_backend(endpoint: &str, identifiers: &[&str]) -> KubeBackend {
    let mut text = common::TWO_REGIONS.to_owned();
    for id in identifiers {
        let _ = write!(
            text,
            "\n[[caches]]\nname = \"{id}\"\nregion = \"tokyo\"\nkind = \"redis\"\n\
             cloudwatch = {{ identifier = \"{id}\", aws_region = \"{AWS_REGION}\", endpoint = \"{endpoint}\", anonymous = true }}\n\
             elasticache = {{ identifier = \"{id}\", aws_region = \"{AWS_REGION}\", endpoint = \"{endpoint}\", anonymous = true }}\n"
        );
    }
    let platform = Platform::parse("test config", &text).expect("valid config");
    KubeBackend::new(BTreeMap::new()).with_elasticache(
        platform
            .caches
            .iter()
            .filter_map(|c| Some((c.name.get_ref().clone(), c.elasticache.clone()?)))
            .collect(),
    )
}

fn cache_request(cache: &str) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::ElastiCacheFailover,
        target: Target {
            region: "tokyo".into(),
            cluster: cache.into(),
            namespace: String::new(),
            kind: ObjectKind::Cache,
            name: cache.into(),
        },
        dry_run: false,
    }
}

async fn primary_of(backend: &KubeBackend, cache: &str) -> String {
    let g = backend.elasticache_describe(cache).await.expect("describe");
    g.node_groups[0]
        .primary()
        .expect("a primary")
        .cluster
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokyo_cache_fails_over_by_test_failover_and_a_resumed_job_calls_it_once() {
    let sandbox = common::calm(9, 10.0).await;
    let backend = cache_backend(&sandbox.elasticache, &[CACHE]);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");

    // Without automatic failover, TestFailover cannot run: refused.
    sandbox.elasticache_api.set_automatic_failover(false);
    let refused = runner::prepare(&backend, &cache_request(CACHE), true)
        .await
        .expect_err("automatic failover off");
    assert!(
        refused.why.contains("automatic failover disabled"),
        "{}",
        refused.why
    );
    sandbox.elasticache_api.set_automatic_failover(true);

    let (first, second) = (format!("{CACHE}-001"), format!("{CACHE}-002"));
    let job = runner::prepare(&backend, &cache_request(CACHE), true)
        .await
        .expect("a plan");
    assert_eq!(
        job.plan.title,
        format!("fail ElastiCache {CACHE} over (1 node group)")
    );
    assert_eq!(job.plan.confirm_text.as_deref(), Some(CACHE));
    assert_eq!(
        job.plan.steps[1].call,
        format!("TestFailover {CACHE} NodeGroupId=0001")
    );
    let changes = job.plan.changes.join("\n");
    assert!(changes.contains("1 of 15 node groups"), "{changes}");
    assert!(changes.contains("not as an operational tool"), "{changes}");

    // A dry run reads, and calls nothing.
    let mut dry = job.clone();
    dry.plan.request.dry_run = true;
    let (outcome, events) = common::exec::run_job(&backend, &dry, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    assert_eq!(sandbox.elasticache_api.calls(), 0);
    assert_eq!(primary_of(&backend, CACHE).await, first);

    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("elasticache failover: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert_eq!(primary_of(&backend, CACHE).await, second);
    assert!(
        steps[2].contains(&format!("primary {second} (was {first})"))
            && steps[2].contains("Finished recovery for cache nodes 0001"),
        "{steps:?}"
    );
    assert_eq!(sandbox.elasticache_api.calls(), 1);
    // Run again (resumed): the primary moved; nothing is called.
    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].ends_with("nothing sent"), "{steps:?}");
    assert_eq!(sandbox.elasticache_api.calls(), 1);

    // Killed before its call, resumed: the last call in the events is
    // the earlier job's, completed; this one's is sent.
    let back = runner::prepare(&backend, &cache_request(CACHE), true)
        .await
        .expect("a plan back");
    let (outcome, events) = common::exec::run_job(&backend, &back, 3, &audit, &who, true).await;
    let steps = said(&events);
    eprintln!("resumed before its call: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].contains("sent: ElastiCache promotes"), "{steps:?}");
    assert_eq!(sandbox.elasticache_api.calls(), 2);
    assert_eq!(primary_of(&backend, CACHE).await, first);

    // Killed right after the call: the next console resumes, finds it
    // called and not finished, calls nothing and waits for it.
    let back = runner::prepare(&backend, &cache_request(CACHE), true)
        .await
        .expect("a plan back");
    backend
        .elasticache_test_failover(CACHE, "0001")
        .await
        .expect("the interrupted run's call");
    let (outcome, events) = common::exec::run_job(&backend, &back, 3, &audit, &who, true).await;
    let steps = said(&events);
    eprintln!("resumed: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[0].contains("before this job was interrupted"),
        "{steps:?}"
    );
    assert!(steps[1].ends_with("nothing sent"), "{steps:?}");
    assert_eq!(sandbox.elasticache_api.calls(), 3, "called once, not twice");
    assert_eq!(primary_of(&backend, CACHE).await, second);
    assert!(!sandbox.elasticache_api.changing());
    let audit_text = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert!(
        audit_text.contains("TestFailover"),
        "the audit log has the call"
    );
}

/// The SDK calls against moto: a replication group created with the SDK
/// and read as the planner reads it (members, roles, automatic failover).
/// moto 5.2.5 implements neither TestFailover nor ElastiCache's
/// DescribeEvents: both answer with an error, and the plan, which counts
/// the quota from the events, is refused saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_moto_the_replication_group_is_read_as_elasticache_reports_it() {
    let (_moto, url) = common::moto::moto_server();
    let sdk = aws_sdk_elasticache::Client::from_conf(
        aws_sdk_elasticache::config::Builder::new()
            .behavior_version(aws_sdk_elasticache::config::BehaviorVersion::latest())
            .region(aws_sdk_elasticache::config::Region::new(AWS_REGION))
            .endpoint_url(&url)
            .credentials_provider(aws_sdk_elasticache::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    );
    sdk.create_replication_group()
        .replication_group_id("sessions")
        .replication_group_description("touban's test group")
        .engine("redis")
        .cache_node_type("cache.r6g.large")
        // moto 5.2.5 makes replicas from ReplicasPerNodeGroup only (AWS
        // also from NumCacheClusters with cluster mode off).
        .replicas_per_node_group(1)
        .automatic_failover_enabled(true)
        .multi_az_enabled(true)
        .send()
        .await
        .expect("moto creates the replication group");
    let backend = cache_backend(&url, &["sessions"]);
    let g = backend
        .elasticache_describe("sessions")
        .await
        .expect("describe");
    eprintln!("moto's group: {g:?}");
    assert_eq!(g.id, "sessions");
    assert_eq!(g.automatic_failover, "enabled");
    assert_eq!(g.node_groups.len(), 1, "{g:?}");
    let n = &g.node_groups[0];
    assert!(n.primary().is_some(), "{n:?}");
    assert_eq!(n.replicas().count(), 1, "{n:?}");
    let events = backend.elasticache_events("sessions", 60).await;
    eprintln!("moto's DescribeEvents: {events:?}");
    let called = backend.elasticache_test_failover("sessions", &n.id).await;
    eprintln!("moto's TestFailover: {called:?}");
    assert!(called.is_err(), "moto 5.2.5 has no TestFailover");
    assert!(
        events.is_err(),
        "moto 5.2.5 has no ElastiCache DescribeEvents"
    );
    let refused = runner::prepare(&backend, &cache_request("sessions"), true)
        .await
        .expect_err("no events from moto");
    assert!(refused.why.contains("DescribeEvents"), "{}", refused.why);
}

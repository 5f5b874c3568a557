//! An Azure Database for PostgreSQL flexible server read replica promoted
//! through the executor, against the sandbox's Azure Resource Manager
//! subset (api-version 2024-08-01: the server's `GET`, its `PATCH` with
//! `properties.replica`, the `Azure-AsyncOperation` it answers with):
//! a dry run sends nothing, a promotion is followed to its end and
//! verified from the database's own exporter, a job killed after it
//! resumes without promoting again, a planned promotion whose source is
//! down fails and offers nothing it cannot do, a forced one sent before
//! an interruption is waited for rather than sent twice, and a wrong
//! token is refused without being shown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use touban::config::Platform;
use touban::exec::audit::AuditLog;
use touban::exec::backend::azure::Arm;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::sandbox::azure::SERVER;
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

use common::exec::said;

const PRIMARY: &str = "iworkz-production-postgres";

/// The sandbox's config, as the console would read it.
fn platform(sandbox: &Sandbox, dir: &std::path::Path) -> Platform {
    let (_, config) = sandbox.write_config(dir).expect("config");
    Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("read"),
    )
    .expect("valid config")
}

/// Korea's database's client, as the console makes it.
fn arm(platform: &Platform) -> Arm {
    let db = platform
        .databases
        .iter()
        .find(|d| d.name.get_ref() == SERVER)
        .expect("Korea's database");
    Arm::new(
        db.azure.as_ref().expect("its azure reference"),
        db.exporter.as_ref().map(|e| e.get_ref().clone()),
    )
    .expect("a client")
}

fn request(forced: bool, dry_run: bool) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::PromoteReplica {
            primary: PRIMARY.into(),
            forced,
        },
        target: Target {
            region: "korea".into(),
            cluster: SERVER.into(),
            namespace: String::new(),
            kind: ObjectKind::Database,
            name: SERVER.into(),
        },
        dry_run,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: dry run, kill, resume, verify, refusal
async fn an_azure_replica_is_promoted_followed_verified_and_a_killed_job_resumes_without_promoting_again()
 {
    let sandbox = common::calm(31, 2.0).await;
    let dir = tempfile::tempdir().expect("temp");
    let platform = platform(&sandbox, dir.path());
    let client = arm(&platform);
    let s = client.server().await.expect("the server");
    assert_eq!(
        s.summary(),
        "Ready, AsyncReplica of iworkz-production-postgres (replication Active), koreacentral"
    );
    let backend = Arc::new(
        KubeBackend::new(BTreeMap::new())
            .with_azure([(SERVER.to_owned(), Ok(client.clone()))].into()),
    );
    let audit_path = dir.path().join("audit.jsonl");
    let audit = Arc::new(AuditLog::open(&audit_path).expect("audit log"));
    let who = Who::new("sandbox", "test@touban");

    // A dry run: planned, checked with the token, nothing sent.
    let dry = runner::prepare(backend.as_ref(), &request(false, true), false)
        .await
        .expect("a plan");
    assert!(
        dry.plan
            .dry_run
            .as_deref()
            .is_some_and(|d| d.contains("no dry run of an update")),
        "{:?}",
        dry.plan.dry_run
    );
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &dry, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    assert_eq!(sandbox.azure_api.patches(), 0, "a dry run sends nothing");

    // The plan, in live values: the server as Azure reports it, the lag
    // as its exporter reads it, the link it ends, the fence it leaves.
    let job = runner::prepare(backend.as_ref(), &request(false, false), false)
        .await
        .expect("a plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some(SERVER));
    assert!(
        job.plan.changes[0].starts_with(
            "iworkz-dr-postgres: Ready, AsyncReplica of iworkz-production-postgres (replication Active), koreacentral · lag "
        ) && job.plan.changes[0].ends_with("WAL receiver streaming, per postgres_exporter"),
        "{:?}",
        job.plan.changes
    );
    assert!(
        job.plan.changes.iter().any(|c| c.contains("two primaries")),
        "{:?}",
        job.plan.changes
    );

    // For real, killed once the promotion is done (at its verification):
    // answers slowed so the kill lands in a call.
    sandbox.azure_api.set_latency(Duration::from_millis(300));
    let running = common::exec::spawn_job(
        Arc::clone(&backend),
        job.clone(),
        2,
        Arc::clone(&audit),
        who.clone(),
    );
    common::exec::kill_at_step(running, 3).await;
    sandbox.azure_api.set_latency(Duration::ZERO);
    assert_eq!(
        sandbox.azure_api.patches(),
        1,
        "promoted once before the kill"
    );

    // Resumed: every step finds it done and sends nothing.
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 2, &audit, &who, true).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    let words = said(&events);
    assert!(
        words.iter().any(|w| w.contains("promoted already")),
        "{words:#?}"
    );
    assert!(
        words.iter().any(|w| w.contains("already: nothing sent")),
        "{words:#?}"
    );
    assert!(
        words
            .iter()
            .any(|w| w.contains("its postgres_exporter: a primary")),
        "{words:#?}"
    );
    assert_eq!(sandbox.azure_api.patches(), 1, "not promoted twice");

    // The database's own reading says primary; Azure says standalone.
    let s = client.server().await.expect("the server");
    assert_eq!(s.summary(), "Ready, None, koreacentral");
    let exported = client.exported().await.expect("an exporter").expect("read");
    assert_eq!(exported.role.as_deref(), Some("primary"));

    // Asked again: refused, there is nothing to promote.
    let again = runner::prepare(backend.as_ref(), &request(true, false), false)
        .await
        .expect_err("refused");
    assert!(again.why.contains("not a read replica"), "{}", again.why);

    let text = std::fs::read_to_string(&audit_path).expect("audit log");
    assert!(
        text.contains(r#""action":{"action":"promote-replica","primary":"iworkz-production-postgres","forced":false}"#),
        "{text}"
    );
    assert!(
        !text.contains(&sandbox.azure_token),
        "the token is never written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: source down, planned fails, forced resumes
async fn a_planned_promotion_without_its_source_fails_and_a_forced_one_sent_before_a_crash_is_not_sent_twice()
 {
    // Tokyo's database fails at simulated second 60: a second here.
    let sandbox = Sandbox::start(Options {
        seed: 32,
        speed: 60.0,
        scenario: Scenario::OutageTokyo,
        ..Options::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let platform = platform(&sandbox, dir.path());
    let client = arm(&platform);
    let backend = KubeBackend::new(BTreeMap::new())
        .with_azure([(SERVER.to_owned(), Ok(client.clone()))].into());
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("sandbox", "test@touban");
    let waiting = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(Ok(d)) = client.exported().await
                && d.wal_receiver.as_deref() == Some("waiting")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(waiting.is_ok(), "the replica's receiver waits for Tokyo");

    // Planned: the plan says the link does not stream; Azure's promotion
    // waits for the source and fails; nothing changed.
    let planned = runner::prepare(&backend, &request(false, false), false)
        .await
        .expect("a plan");
    assert!(
        planned
            .plan
            .changes
            .iter()
            .any(|c| c.contains("WAL receiver is not streaming")),
        "{:?}",
        planned.plan.changes
    );
    let (outcome, events) = common::exec::run_job(&backend, &planned, 1, &audit, &who, false).await;
    assert!(matches!(outcome, JobOutcome::Failed { .. }), "{outcome:?}");
    let failed = format!("{events:?}");
    assert!(
        failed.contains("Promote with the forced option"),
        "{failed}"
    );
    assert!(client.server().await.expect("read").is_replica());

    // Forced, its promotion sent and the console gone before following
    // it: resumed, the job waits for that operation and sends none.
    let forced = runner::prepare(&backend, &request(true, false), false)
        .await
        .expect("a plan");
    assert!(
        forced
            .plan
            .changes
            .iter()
            .any(|c| c.contains("is lost (lag")),
        "{:?}",
        forced.plan.changes
    );
    assert!(client.promote(true).await.expect("sent").is_some());
    let sent = sandbox.azure_api.patches();
    let (outcome, events) = common::exec::run_job(&backend, &forced, 2, &audit, &who, true).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    assert_eq!(sandbox.azure_api.patches(), sent, "not sent twice");
    let words = said(&events);
    assert!(
        words.iter().any(|w| w.contains("an operation runs on it")),
        "{words:#?}"
    );
    assert!(!client.server().await.expect("read").is_replica());

    // A wrong token: refused with what to do, the token never shown.
    let mut wrong = platform.clone();
    let db = wrong
        .databases
        .iter_mut()
        .find(|d| d.name.get_ref() == SERVER)
        .expect("Korea's database");
    let path = dir.path().join("wrong-token");
    std::fs::write(&path, "not-the-token\n").expect("write");
    db.azure.as_mut().expect("azure").token = toml::Spanned::new(
        0..0,
        touban::config::platform::SecretRef {
            env: None,
            file: Some(path),
        },
    );
    let e = arm(&wrong).server().await.expect_err("refused");
    assert!(
        e.contains("HTTP 401")
            && e.contains("(InvalidAuthenticationToken)")
            && e.contains("az account get-access-token"),
        "{e}"
    );
    assert!(!e.contains("not-the-token"), "{e}");
}

//! Checkpoints: a console whose executor dies in the middle of a
//! blue-green job (against a `touban sandbox` in its own process, which
//! outlives it) leaves the job's checkpoint in the state directory; the
//! next console's executor finds it at its start, offers it as
//! interrupted, and resumes it to where an uninterrupted run ends, its
//! checkpoint gone after. A checkpoint of another world (another cluster
//! uid) is never resumed, and is forgotten on request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use tokio::sync::mpsc;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::checkpoint::Checkpoints;
use touban::exec::runner::Who;
use touban::exec::task::{self, Executor};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::model::{ExecCommand, JobEvent, JobId, JobOutcome};

mod common;

const NS: &str = "iworkz-production";
const IMAGE: &str = "iworkz/backend-api:2.15.0";

fn deploy() -> ActionRequest {
    ActionRequest {
        kind: ActionKind::BlueGreen {
            image: Some(IMAGE.to_owned()),
            scale_down_delay: Duration::from_secs(1),
        },
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::Release,
            name: "backend-api".into(),
        },
        dry_run: false,
    }
}

fn scale_web_frontend() -> ActionRequest {
    ActionRequest {
        kind: ActionKind::Scale { replicas: 5 },
        target: Target {
            kind: ObjectKind::Deployment,
            name: "web-frontend-blue".into(),
            ..deploy().target
        },
        dry_run: false,
    }
}

/// A console's executor: its command sender, its task and its events.
struct Console {
    exec: mpsc::UnboundedSender<ExecCommand>,
    handle: tokio::task::JoinHandle<()>,
    events: mpsc::UnboundedReceiver<JobEvent>,
}

fn console(client: &kube::Client, dir: &std::path::Path, operator: &str) -> Console {
    let (tx, events) = mpsc::unbounded_channel();
    let (exec, handle) = task::spawn(
        Executor {
            backend: Arc::new(KubeBackend::new(BTreeMap::from([(
                "eks-tokyo".to_owned(),
                client.clone(),
            )]))),
            audit: Arc::new(AuditLog::open(&dir.join("audit.jsonl")).expect("audit log")),
            who: Arc::new(Who::new("sandbox", operator)),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: Some(Arc::new(Checkpoints::new(dir.join("jobs")))),
            coordination: None,
            runbooks: Vec::new(),
        },
        tx,
    );
    Console {
        exec,
        handle,
        events,
    }
}

impl Console {
    fn send(&self, c: ExecCommand) {
        self.exec.send(c).expect("the executor listens");
    }

    /// The first event `f` matches, within two minutes.
    async fn until(&mut self, what: &str, f: impl Fn(&JobEvent) -> bool) -> JobEvent {
        tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                let e = self.events.recv().await.expect("the executor reports");
                if f(&e) {
                    return e;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {what} within two minutes"))
    }

    async fn outcome(&mut self, id: u64) -> JobOutcome {
        match self
            .until(
                "the end",
                |e| matches!(e, JobEvent::Finished { id: i, .. } if i.0 == id),
            )
            .await
        {
            JobEvent::Finished { outcome, .. } => outcome,
            _ => unreachable!(),
        }
    }
}

fn checkpoint_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("jobs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the dead console's checkpoint can be found: its job's own
/// task lets go of the lock once the runtime drops it, a moment after the
/// abort (a console's process that dies lets go at its exit).
async fn until_unlocked(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while Checkpoints::new(dir.join("jobs")).load().0.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dead console's checkpoint stays locked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the executor has forgotten every checkpoint: it does once
/// the job's task has ended, a moment after the job reported its end.
async fn until_forgotten(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !checkpoint_files(dir).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "a job that succeeded leaves no checkpoint: {:?}",
            checkpoint_files(dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_its_console_left_is_found_at_the_next_start_and_resumed_to_the_same_end() {
    let dir = tempfile::tempdir().expect("temp");
    let (_sandbox, client) = common::exec::separate_sandbox(dir.path()).await;

    // The first console plans and confirms the deploy; it dies once the
    // Services are switched (step 5 begins).
    let mut first = console(&client, dir.path(), "aiko@bastion-1");
    first.send(ExecCommand::Plan {
        id: JobId(1),
        request: deploy(),
    });
    let planned = first
        .until("a plan", |e| matches!(e, JobEvent::Planned { .. }))
        .await;
    assert!(
        matches!(&planned, JobEvent::Planned { plan, .. } if plan.is_ok()),
        "{planned:?}"
    );
    first.send(ExecCommand::Confirm {
        id: JobId(1),
        dry_run: false,
        reason: "INC-7 release 2.15.0".into(),
    });
    first
        .until("the switch", |e| {
            matches!(e, JobEvent::Step { index: 5, .. })
        })
        .await;
    first.handle.abort();
    assert!(first.handle.await.is_err_and(|e| e.is_cancelled()));
    assert_eq!(checkpoint_files(dir.path()).len(), 1, "left behind");
    until_unlocked(dir.path()).await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let colour = |s: Service| {
        s.spec
            .and_then(|s| s.selector)
            .and_then(|s| s.get("color").cloned())
    };
    assert_eq!(
        colour(services.get("backend-api-service").await.expect("get")).as_deref(),
        Some("green"),
        "killed after the switch"
    );

    // The next console (another session, on another bastion) finds it at
    // once, as interrupted.
    let mut second = console(&client, dir.path(), "aiko@bastion-2");
    let found = second
        .until("the found job", |e| matches!(e, JobEvent::Queued { .. }))
        .await;
    assert!(
        matches!(&found, JobEvent::Queued { id: JobId(1), title, .. } if title.contains(IMAGE)),
        "{found:?}"
    );
    let JobOutcome::Failed(why) = second.outcome(1).await else {
        panic!("offered as interrupted");
    };
    assert!(
        why.contains("interrupted") && why.contains("aiko@bastion-1") && why.contains("r resumes"),
        "{why}"
    );

    // Resumed: it takes back its own Lease (no waiting for it to run
    // out) and converges to where an uninterrupted run ends.
    second.send(ExecCommand::Resume { id: JobId(1) });
    let outcome = second.outcome(1).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    let blue = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("backend-api-blue")
        .await
        .expect("get");
    assert_eq!(blue.spec.and_then(|s| s.replicas), Some(0), "blue retired");
    until_forgotten(dir.path()).await;
    // Its records name the job it resumes: the key it ran under.
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit log");
    let records: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let first_key = records
        .iter()
        .find(|r| r["operator"] == "aiko@bastion-1")
        .map(|r| format!("{}/{}", r["session"].as_str().unwrap_or(""), r["job"]))
        .expect("the first console's records");
    let resumed: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["operator"] == "aiko@bastion-2")
        .collect();
    assert!(
        !resumed.is_empty() && resumed.iter().all(|r| r["resumes"] == first_key.as_str()),
        "{first_key}: {resumed:#?}"
    );
    drop(second.exec);
    second.handle.await.expect("ends");

    another_world_is_never_resumed(&client, dir.path()).await;
}

/// A checkpoint of another world (its cluster uid is not this one's):
/// offered, never resumed, and forgotten on request.
async fn another_world_is_never_resumed(client: &kube::Client, dir: &std::path::Path) {
    // A checkpoint of another world: its cluster uid is not this one's.
    let store = Checkpoints::new(dir.join("jobs"));
    let (none, _) = store.load();
    assert!(none.is_empty());
    let stale = touban::exec::checkpoint::Checkpoint {
        key: "20260101T000000Z-1/4".into(),
        operator: "bo@bastion-9".into(),
        started: "2026-01-01T00:00:00Z".into(),
        world: touban::exec::checkpoint::World {
            server: None,
            uid: Some("00000000-0000-4000-8000-000000000000".into()),
        },
        job: touban::exec::runner::prepare(
            &KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), client.clone())])),
            &scale_web_frontend(),
            true,
        )
        .await
        .expect("a plan"),
    };
    store.save(&stale).expect("save");
    let mut third = console(client, dir, "aiko@bastion-3");
    assert!(matches!(third.outcome(1).await, JobOutcome::Failed(_)));
    third.send(ExecCommand::Resume { id: JobId(1) });
    let JobOutcome::Failed(why) = third.outcome(1).await else {
        panic!("refused");
    };
    assert!(why.contains("another world"), "{why}");
    assert_eq!(checkpoint_files(dir).len(), 1, "kept to forget");
    third.send(ExecCommand::Cancel { id: JobId(1) });
    assert_eq!(third.outcome(1).await, JobOutcome::Cancelled);
    assert!(checkpoint_files(dir).is_empty(), "forgotten");
}

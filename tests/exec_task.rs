//! The executor's task against the sandbox through kube-rs: a plan comes
//! back for the app to show, only a confirmed plan runs, one job at a time
//! per target (a second one waits its turn, is then checked against what
//! the first left, and is planned again to confirm again), jobs of different targets side by side, a waiting
//! job cancelled never starts, a declined plan is written down and nothing
//! is done, and the task ends when the console drops its sender.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use tokio::sync::mpsc;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::Who;
use touban::exec::task::{self, Executor};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::model::plan::Plan;
use touban::model::{ExecCommand, JobEvent, JobId, JobOutcome};

mod common;

const NS: &str = "iworkz-production";

fn scale(name: &str, replicas: u32) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::Scale { replicas },
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::Deployment,
            name: name.into(),
        },
        dry_run: false,
    }
}

/// The executor on Tokyo's cluster, writing to `audit`: its sender, its
/// task, and its events.
fn executor(
    client: kube::Client,
    audit: &std::path::Path,
) -> (
    mpsc::UnboundedSender<ExecCommand>,
    tokio::task::JoinHandle<()>,
    Events,
) {
    let (events_tx, rx) = mpsc::unbounded_channel();
    let (exec, handle) = task::spawn(
        Executor {
            backend: Arc::new(KubeBackend::new(BTreeMap::from([(
                "eks-tokyo".to_owned(),
                client,
            )]))),
            audit: Arc::new(AuditLog::open(audit).expect("audit log")),
            who: Arc::new(Who::new("sandbox", "test@touban")),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: None,
            coordination: None,
            runbooks: Vec::new(),
        },
        events_tx,
    );
    let events = Events {
        rx,
        seen: Vec::new(),
        unclaimed: Vec::new(),
    };
    (exec, handle, events)
}

/// Events as they come, with a deadline. Jobs side by side end in any
/// order: an event passed over while waiting for another is kept for the
/// next wait ([`Events::until`]), unless a wait wants a new one
/// ([`Events::next`]).
struct Events {
    rx: mpsc::UnboundedReceiver<JobEvent>,
    seen: Vec<JobEvent>,
    unclaimed: Vec<JobEvent>,
}

impl Events {
    /// The first event passed over or to come that matches `f`.
    async fn until(&mut self, what: &str, f: impl Fn(&JobEvent) -> bool) -> JobEvent {
        if let Some(i) = self.unclaimed.iter().position(&f) {
            return self.unclaimed.remove(i);
        }
        self.next(what, f).await
    }

    /// The first event to come that matches `f` (those passed over before
    /// are not looked at).
    async fn next(&mut self, what: &str, f: impl Fn(&JobEvent) -> bool) -> JobEvent {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let e = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within a minute: {:#?}", self.seen))
                .unwrap_or_else(|| panic!("the executor ended before {what}: {:#?}", self.seen));
            self.seen.push(e.clone());
            if f(&e) {
                return e;
            }
            self.unclaimed.push(e);
        }
    }

    async fn planned(&mut self, id: u64) -> Plan {
        let e = self
            .until(
                "a plan",
                |e| matches!(e, JobEvent::Planned { id: i, .. } if i.0 == id),
            )
            .await;
        let JobEvent::Planned { plan, .. } = e else {
            unreachable!()
        };
        plan.expect("a plan, not a refusal")
    }

    async fn finished(&mut self, id: u64) -> JobOutcome {
        let e = self
            .until(
                "the end",
                |e| matches!(e, JobEvent::Finished { id: i, .. } if i.0 == id),
            )
            .await;
        let JobEvent::Finished { outcome, .. } = e else {
            unreachable!()
        };
        outcome
    }

    /// Where in the events seen so far the first event matching `f` is.
    fn position(&self, f: impl Fn(&JobEvent) -> bool) -> Option<usize> {
        self.seen.iter().position(f)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: the queue from plan to shutdown
async fn one_job_per_target_targets_side_by_side_cancel_and_decline() {
    let sandbox = common::calm(12, 4.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let dir = tempfile::tempdir().expect("temp");
    let audit_path = dir.path().join("audit.jsonl");
    let (exec, _handle, mut events) = executor(client, &audit_path);
    let send = |c: ExecCommand| exec.send(c).expect("the executor listens");

    // Planned: nothing runs until confirmed.
    send(ExecCommand::Plan {
        id: JobId(1),
        request: scale("web-frontend-blue", 6),
    });
    let plan = events.planned(1).await;
    assert_eq!(plan.title, "scale web-frontend-blue from 4 to 6");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(
        d.spec.and_then(|s| s.replicas),
        Some(4),
        "nothing before confirmation"
    );

    // Three more plans: the same target twice, another target once.
    for (id, name, n) in [
        (2, "web-frontend-blue", 5),
        (3, "web-frontend-green", 2),
        (4, "web-frontend-blue", 7),
    ] {
        send(ExecCommand::Plan {
            id: JobId(id),
            request: scale(name, n),
        });
        events.planned(id).await;
    }
    // Confirmed in order: #2 and #4 wait for #1; #3 runs beside it.
    for id in [1, 2, 3, 4] {
        send(ExecCommand::Confirm {
            id: JobId(id),
            dry_run: false,
            reason: format!("queue test #{id}"),
        });
    }
    let queued = events
        .until(
            "#2 queued",
            |e| matches!(e, JobEvent::Queued { id, .. } if id.0 == 2),
        )
        .await;
    assert!(
        matches!(&queued, JobEvent::Queued { title, .. } if title.contains("after #1 on the same target")),
        "{queued:?}"
    );
    // #4 is cancelled while it waits: it never starts.
    send(ExecCommand::Cancel { id: JobId(4) });
    assert_eq!(events.finished(4).await, JobOutcome::Cancelled);

    let mut ended = BTreeMap::new();
    for _ in 0..3 {
        let e = events
            .until("a job's end", |e| matches!(e, JobEvent::Finished { .. }))
            .await;
        if let JobEvent::Finished { id, outcome, .. } = e {
            ended.insert(id.0, outcome);
        }
    }
    assert_eq!(ended.get(&1), Some(&JobOutcome::Succeeded), "{ended:?}");
    assert_eq!(ended.get(&3), Some(&JobOutcome::Succeeded), "{ended:?}");
    // #2 was planned from 4 replicas; #1 left 6: its check says so and it
    // writes nothing.
    assert!(
        matches!(ended.get(&2), Some(JobOutcome::Failed(why)) if why.contains("step 1 of 3") && why.contains("wants 6 replicas now, not the 4 planned from")),
        "{ended:?}"
    );
    // It is planned again from what #1 left, to confirm again; declined.
    let again = events.planned(2).await;
    assert!(
        again.title.contains("from 6 to") && again.title.contains("confirm again"),
        "{}",
        again.title
    );
    send(ExecCommand::Decline { id: JobId(2) });
    assert_eq!(events.finished(2).await, JobOutcome::Cancelled);
    let step = |id: u64| move |e: &JobEvent| matches!(e, JobEvent::Step { id: i, .. } if i.0 == id);
    let finished =
        |id: u64| move |e: &JobEvent| matches!(e, JobEvent::Finished { id: i, .. } if i.0 == id);
    let (first_of_2, end_of_1) = (
        events.position(step(2)).expect("#2 ran"),
        events.position(finished(1)).expect("#1 ended"),
    );
    assert!(
        first_of_2 > end_of_1,
        "#2 started only after #1 ended: {:#?}",
        events.seen
    );
    let (first_of_3, end_of_1) = (events.position(step(3)).expect("#3 ran"), end_of_1);
    assert!(
        first_of_3 < end_of_1,
        "#3 ran beside #1: {:#?}",
        events.seen
    );
    assert!(events.position(step(4)).is_none(), "#4 never started");
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(6));
    let d = deployments.get("web-frontend-green").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(2));

    // Declined: written down, nothing done.
    send(ExecCommand::Plan {
        id: JobId(5),
        request: scale("web-frontend-blue", 9),
    });
    events.planned(5).await;
    send(ExecCommand::Decline { id: JobId(5) });
    assert_eq!(events.finished(5).await, JobOutcome::Cancelled);
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(6));

    // A refusal comes back as the plan's answer.
    send(ExecCommand::Plan {
        id: JobId(6),
        request: scale("no-such-deployment", 3),
    });
    let e = events
        .until(
            "#6's answer",
            |e| matches!(e, JobEvent::Planned { id, .. } if id.0 == 6),
        )
        .await;
    assert!(
        matches!(&e, JobEvent::Planned { plan, .. } if plan.as_ref().as_ref().is_err_and(|r| r.why.contains("no-such-deployment"))),
        "{e:?}"
    );

    // The console drops its sender: the task ends.
    drop(exec);
    let end = tokio::time::timeout(Duration::from_secs(10), events.rx.recv()).await;
    assert!(
        matches!(end, Ok(None)),
        "the executor ends with its sender: {end:?}"
    );

    let text = std::fs::read_to_string(&audit_path).expect("audit log");
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let of = |job: u64| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["job"] == job)
            .map(|r| r["event"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(of(4), ["planned", "declined"]);
    assert_eq!(of(5), ["planned", "declined"]);
    assert_eq!(of(6), ["refused"]);
    assert_eq!(of(1).last().map(String::as_str), Some("finished"));
    assert!(
        records
            .iter()
            .filter(|r| r["job"] == 1 && r["event"] != "planned")
            .all(|r| r["reason"] == "queue test #1"),
        "every record of a confirmed job carries its reason: {text}"
    );
    assert!(
        records
            .iter()
            .all(|r| r["session"] == records[0]["session"] && r["operator"] == "test@touban"),
        "{text}"
    );
}

/// A running job cancelled stops before its next step (here: while it
/// waits) and says cancelled; when the console goes, a plan not confirmed
/// is declined and recorded, a running job is cancelled, and the task ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancels_and_the_console_leaving_ends_everything() {
    let sandbox = common::calm(13, 0.2).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let dir = tempfile::tempdir().expect("temp");
    let audit_path = dir.path().join("audit.jsonl");
    let (exec, handle, mut events) = executor(client, &audit_path);
    let send = |c: ExecCommand| exec.send(c).expect("the executor listens");
    // At a fifth of real time the new pods take long: the job waits.
    for (id, name) in [
        (1, "web-frontend-blue"),
        (2, "web-frontend-green"),
        (3, "ai-services-blue"),
    ] {
        send(ExecCommand::Plan {
            id: JobId(id),
            request: scale(name, 9),
        });
        events.planned(id).await;
    }
    for id in [1, 2] {
        send(ExecCommand::Confirm {
            id: JobId(id),
            dry_run: false,
            reason: "cancel test".into(),
        });
        events
            .until(
                "the wait",
                |e| matches!(e, JobEvent::Step { id: i, index: 3, .. } if i.0 == id),
            )
            .await;
    }
    send(ExecCommand::Cancel { id: JobId(1) });
    assert_eq!(events.finished(1).await, JobOutcome::Cancelled);
    // Resumed from its first step: the write is found done, not redone.
    send(ExecCommand::Resume { id: JobId(1) });
    let redone = events
        .next(
            "the resumed write",
            |e| matches!(e, JobEvent::StepEnded { id: i, index: 2, .. } if i.0 == 1),
        )
        .await;
    assert!(
        matches!(&redone, JobEvent::StepEnded { said, .. } if said.contains("nothing written")),
        "{redone:?}"
    );
    // Only a job that failed or was cancelled is resumed.
    send(ExecCommand::Resume { id: JobId(3) });
    assert!(matches!(events.finished(3).await, JobOutcome::Refused(_)));

    // The console goes: #3 (planned) is declined, #2 (running) cancelled.
    drop(exec);
    tokio::time::timeout(Duration::from_secs(15), handle)
        .await
        .expect("the executor ends soon after the console")
        .expect("and does not panic");
    let mut ended = BTreeMap::new();
    while let Ok(e) = events.rx.try_recv() {
        if let JobEvent::Finished { id, outcome, .. } = e {
            ended.insert(id.0, outcome);
        }
    }
    assert_eq!(ended.get(&1), Some(&JobOutcome::Cancelled), "{ended:?}");
    assert_eq!(ended.get(&2), Some(&JobOutcome::Cancelled), "{ended:?}");
    assert_eq!(ended.get(&3), Some(&JobOutcome::Cancelled), "{ended:?}");
    let text = std::fs::read_to_string(&audit_path).expect("audit log");
    let outcome_of = |job: u64, event: &str| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|r| r["job"] == job && r["event"] == event)
            .and_then(|r| r["outcome"].as_str().map(str::to_owned))
    };
    assert_eq!(
        outcome_of(3, "declined").as_deref(),
        Some("the console stopped before it was confirmed")
    );
    assert_eq!(outcome_of(1, "finished").as_deref(), Some("cancelled"));
    assert_eq!(outcome_of(2, "finished").as_deref(), Some("cancelled"));
}

/// A plan whose ground moved between confirmation and run (someone
/// scaled the deployment meanwhile): the job fails its precondition
/// before writing anything, is read and planned again, and the new plan
/// (from the new count) is shown to confirm again, never run silently;
/// confirmed, it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_plans_again_and_asks_again() {
    use kube::api::{Patch, PatchParams};
    let sandbox = common::calm(14, 4.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let dir = tempfile::tempdir().expect("temp");
    let (exec, _handle, mut events) = executor(client, &dir.path().join("audit.jsonl"));
    let send = |c: ExecCommand| exec.send(c).expect("the executor listens");
    send(ExecCommand::Plan {
        id: JobId(1),
        request: scale("web-frontend-blue", 6),
    });
    assert_eq!(
        events.planned(1).await.title,
        "scale web-frontend-blue from 4 to 6"
    );
    // Someone else scales it before the operator confirms.
    let five = serde_json::json!({"spec": {"replicas": 5}});
    deployments
        .patch_scale(
            "web-frontend-blue",
            &PatchParams::default(),
            &Patch::Merge(&five),
        )
        .await
        .expect("scale");
    send(ExecCommand::Confirm {
        id: JobId(1),
        dry_run: false,
        reason: "INC-9".into(),
    });
    let JobOutcome::Failed(why) = events.finished(1).await else {
        panic!("its precondition fails");
    };
    assert!(why.contains("step 1"), "{why}");
    let again = events.planned(1).await;
    assert!(
        again
            .title
            .starts_with("scale web-frontend-blue from 5 to 6")
            && again.title.contains("confirm again"),
        "{}",
        again.title
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(
        d.spec.and_then(|s| s.replicas),
        Some(5),
        "nothing runs before it is confirmed again"
    );
    send(ExecCommand::Confirm {
        id: JobId(1),
        dry_run: false,
        reason: "INC-9".into(),
    });
    assert_eq!(events.finished(1).await, JobOutcome::Succeeded);
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(6));
}

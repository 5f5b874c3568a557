//! Silences through the executor's task against a real Alertmanager: an
//! alert posted to it is silenced with matchers from its labels, created by
//! the console's operator with the job's reason as comment, shown silenced
//! by the Alertmanager; then the silence is expired and the alert is active
//! again. An Alertmanager that refuses a silence shows its own error text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::Who;
use touban::exec::task::{self, Executor};
use touban::model::action::{ActionKind, ActionRequest, Matcher, ObjectKind, Target};
use touban::model::{ExecCommand, JobEvent, JobId, JobOutcome};

mod common;

fn request(kind: ActionKind) -> ActionRequest {
    ActionRequest {
        kind,
        target: Target {
            region: "tokyo".into(),
            cluster: "alertmanager".into(),
            namespace: String::new(),
            kind: ObjectKind::Silence,
            name: "ServiceDown".into(),
        },
        dry_run: false,
    }
}

/// The job's plan, confirmed with `reason`, run to its end.
async fn run(
    exec: &mpsc::UnboundedSender<ExecCommand>,
    rx: &mut mpsc::UnboundedReceiver<JobEvent>,
    id: u64,
    request: ActionRequest,
    reason: &str,
) -> (
    Result<touban::model::plan::Plan, String>,
    Option<JobOutcome>,
) {
    exec.send(ExecCommand::Plan {
        id: JobId(id),
        request,
    })
    .expect("sent");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let e = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("an answer within a minute")
            .expect("the executor listens");
        match e {
            JobEvent::Planned { id: i, plan } if i.0 == id => match *plan {
                Ok(plan) => {
                    exec.send(ExecCommand::Confirm {
                        id: JobId(id),
                        dry_run: false,
                        reason: reason.into(),
                    })
                    .expect("sent");
                    let outcome = loop {
                        let e = tokio::time::timeout_at(deadline, rx.recv())
                            .await
                            .expect("the end within a minute")
                            .expect("the executor listens");
                        if let JobEvent::Finished { id: i, outcome, .. } = e
                            && i.0 == id
                        {
                            break outcome;
                        }
                    };
                    return (Ok(plan), Some(outcome));
                }
                Err(refusal) => return (Err(refusal.why), None),
            },
            _ => {}
        }
    }
}

/// The Alertmanager's view of the alert: its state and silences.
async fn alert_status(http: &reqwest::Client, base: &str) -> (String, Vec<String>) {
    let alerts: Vec<Value> = http
        .get(format!("{base}/api/v2/alerts?silenced=true&active=true"))
        .send()
        .await
        .expect("alerts")
        .json()
        .await
        .expect("json");
    let a = alerts
        .iter()
        .find(|a| a.pointer("/labels/alertname") == Some(&json!("ServiceDown")))
        .expect("the alert");
    let state = a
        .pointer("/status/state")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let by = a
        .pointer("/status/silencedBy")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (state.to_owned(), by)
}

/// A real Alertmanager holding one firing alert, ServiceDown; the process
/// and its base URL.
async fn alertmanager_with_an_alert(dir: &std::path::Path) -> (common::Process, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = common::free_port();
    let am = common::alertmanager::alertmanager(dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if http
                .get(format!("{base}/-/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "the Alertmanager is ready within 30 s");
    let labels =
        json!({"alertname": "ServiceDown", "instance": "10.0.1.5:3000", "severity": "critical"});
    http.post(format!("{base}/api/v2/alerts"))
        .json(&json!([{"labels": labels, "annotations": {"summary": "backend down"}}]))
        .send()
        .await
        .expect("post an alert")
        .error_for_status()
        .expect("accepted");

    (am, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_silenced_by_the_operator_and_the_silence_expired() {
    common::need("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("temp");
    let (_am, base) = alertmanager_with_an_alert(dir.path()).await;
    let http = reqwest::Client::new();
    let backend = KubeBackend::new(BTreeMap::new())
        .with_alertmanagers(BTreeMap::from([("alertmanager".to_owned(), base.clone())]));
    let audit_path = dir.path().join("audit.jsonl");
    let (events, mut rx) = mpsc::unbounded_channel();
    let (exec, _task) = task::spawn(
        Executor {
            backend: Arc::new(backend),
            audit: Arc::new(AuditLog::open(&audit_path).expect("audit log")),
            who: Arc::new(Who::new("iworkz-production", "aiko@bastion-1")),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: None,
            coordination: None,
            runbooks: Vec::new(),
        },
        events,
    );

    // Silenced, by the console's operator whatever the request says.
    let silence = request(ActionKind::Silence {
        matchers: vec![
            Matcher::equal("alertname", "ServiceDown"),
            Matcher::parse("instance=~\"10\\.0\\.1\\..*\"").expect("a matcher"),
        ],
        duration: Duration::from_secs(3600),
        created_by: "someone-else".into(),
    });
    let (plan, outcome) = run(&exec, &mut rx, 1, silence, "backend-api maintenance").await;
    let plan = plan.expect("a plan");
    assert!(
        plan.title.starts_with("silence ServiceDown in tokyo"),
        "{}",
        plan.title
    );
    assert_eq!(outcome, Some(JobOutcome::Succeeded));
    let silences: Vec<Value> = http
        .get(format!("{base}/api/v2/silences"))
        .send()
        .await
        .expect("silences")
        .json()
        .await
        .expect("json");
    let s = silences.first().expect("one silence");
    assert_eq!(s["createdBy"], "aiko@bastion-1");
    assert_eq!(s["comment"], "backend-api maintenance");
    assert_eq!(s.pointer("/status/state"), Some(&json!("active")));
    let id = s["id"].as_str().expect("an id").to_owned();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let status = alert_status(&http, &base).await;
            if status.0 == "suppressed" {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the alert is suppressed");
    assert_eq!(seen.1, std::slice::from_ref(&id));

    // Expired: the alert is active again.
    let (_, outcome) = run(
        &exec,
        &mut rx,
        2,
        request(ActionKind::Expire {
            ids: vec![id.clone()],
        }),
        "maintenance over",
    )
    .await;
    assert_eq!(outcome, Some(JobOutcome::Succeeded));
    let active = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if alert_status(&http, &base).await.0 == "active" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(active.is_ok(), "active again once the silence is expired");

    // The Alertmanager refuses a matcher it cannot compile: its text.
    let broken = request(ActionKind::Silence {
        matchers: vec![
            Matcher::equal("alertname", "ServiceDown"),
            Matcher::parse("instance=~\"(\"").expect("parses as text"),
        ],
        duration: Duration::from_secs(600),
        created_by: String::new(),
    });
    let (_, outcome) = run(&exec, &mut rx, 3, broken, "a typo").await;
    assert!(
        matches!(&outcome, Some(JobOutcome::Failed(why)) if why.contains("HTTP 400")),
        "{outcome:?}"
    );

    audit_says(&audit_path);
}

/// The audit log: the silence's records with the reason, and no operator
/// but the console's.
fn audit_says(audit_path: &std::path::Path) {
    let text = std::fs::read_to_string(audit_path).expect("audit");
    assert!(text.contains("\"action\":\"silence\""), "{text}");
    assert!(text.contains("backend-api maintenance"));
    assert!(
        !text.contains("someone-else"),
        "the request's createdBy is never used"
    );
}

/// An executor silencing on `base`, its Leases in `coordination` (a
/// cluster of `client`'s sandbox, or one that does not answer).
fn executor(
    client: &kube::Client,
    base: &str,
    audit: &std::path::Path,
    coordination: &str,
) -> (
    mpsc::UnboundedSender<ExecCommand>,
    mpsc::UnboundedReceiver<JobEvent>,
) {
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), client.clone())]))
        .with_alertmanagers(BTreeMap::from([(
            "alertmanager".to_owned(),
            base.to_owned(),
        )]));
    let (events, rx) = mpsc::unbounded_channel();
    let (exec, _task) = task::spawn(
        Executor {
            backend: Arc::new(backend),
            audit: Arc::new(AuditLog::open(audit).expect("audit log")),
            who: Arc::new(Who::new("iworkz-production", "aiko@bastion-1")),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: None,
            coordination: Some(Target {
                region: "seoul".into(),
                cluster: coordination.into(),
                namespace: "default".into(),
                kind: ObjectKind::Silence,
                name: String::new(),
            }),
            runbooks: Vec::new(),
        },
        events,
    );
    (exec, rx)
}

/// A silence has no cluster of its own: its job holds its Lease in the
/// coordination cluster (a second console's Lease there refuses it, as
/// for any target); with no coordination cluster answering, the plan
/// says so, asks for `override` typed, and every record of the job that
/// ran without a Lease says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_holds_its_lease_in_the_coordination_cluster_or_runs_on_override() {
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
    use kube::Api;
    common::need("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("temp");
    let (_am, base) = alertmanager_with_an_alert(dir.path()).await;
    let sandbox = common::calm(41, 4.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let silence = || {
        request(ActionKind::Silence {
            matchers: vec![Matcher::equal("alertname", "ServiceDown")],
            duration: Duration::from_secs(600),
            created_by: String::new(),
        })
    };

    // Another console holds the silence's Lease: refused, its holder named.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let now = k8s_openapi::jiff::Timestamp::now();
    let held = Lease {
        metadata: ObjectMeta {
            name: Some("touban.silence.alertmanager.servicedown".into()),
            annotations: Some(BTreeMap::from([
                ("touban.io/job".to_owned(), "other/1".to_owned()),
                (
                    "touban.io/action".to_owned(),
                    "silence ServiceDown".to_owned(),
                ),
                ("touban.io/step".to_owned(), "1/3".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("bo@bastion-2".into()),
            lease_duration_seconds: Some(30),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    };
    leases
        .create(&kube::api::PostParams::default(), &held)
        .await
        .expect("the other console's lease");
    let audit = dir.path().join("audit.jsonl");
    let (exec, mut rx) = executor(&client, &base, &audit, "eks-tokyo");
    let (plan, outcome) = run(&exec, &mut rx, 1, silence(), "maintenance").await;
    let plan = plan.expect("a plan");
    assert_eq!(
        plan.lease.as_ref().map(|l| l.cluster.as_str()),
        Some("eks-tokyo")
    );
    assert_eq!(plan.lease_override, None);
    assert!(
        matches!(&outcome, Some(JobOutcome::Failed(why)) if why.contains("locked by bo@bastion-2")),
        "{outcome:?}"
    );

    // It is given back: the silence runs, and gives its own back.
    leases
        .delete(
            "touban.silence.alertmanager.servicedown",
            &kube::api::DeleteParams::default(),
        )
        .await
        .expect("delete");
    let (_, outcome) = run(&exec, &mut rx, 2, silence(), "maintenance").await;
    assert_eq!(outcome, Some(JobOutcome::Succeeded));
    let left = leases
        .get_opt("touban.silence.alertmanager.servicedown")
        .await
        .expect("get");
    assert!(left.is_none(), "given back: {left:?}");

    // No coordination cluster answers: the plan says so and needs the
    // override typed; what runs says so in every record.
    let lone = dir.path().join("lone.jsonl");
    let (exec, mut rx) = executor(&client, &base, &lone, "aks-nowhere");
    let (plan, outcome) = run(&exec, &mut rx, 1, silence(), "on override").await;
    let plan = plan.expect("a plan");
    assert_eq!(plan.confirm_text.as_deref(), Some("override"));
    assert!(
        plan.lease_override
            .as_deref()
            .is_some_and(|w| w.contains("aks-nowhere") && w.contains("no Lease")),
        "{:?}",
        plan.lease_override
    );
    assert_eq!(outcome, Some(JobOutcome::Succeeded));
    let text = std::fs::read_to_string(&lone).expect("audit");
    let records: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(records.len() >= 4, "{text}");
    assert!(
        records.iter().all(|r| r["lease_override"]
            .as_str()
            .is_some_and(|w| w.contains("aks-nowhere"))),
        "{text}"
    );
}

/// A silence job resumed (its console died after the create) finds the
/// silence it made and makes no second one; a different reason is a
/// different silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_silence_finds_the_one_it_made() {
    common::need("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("temp");
    let (_am, base) = alertmanager_with_an_alert(dir.path()).await;
    let backend = KubeBackend::new(BTreeMap::new())
        .with_alertmanagers(BTreeMap::from([("alertmanager".to_owned(), base.clone())]));
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("iworkz-production", "aiko@bastion-1");
    let mut job = touban::exec::runner::prepare(
        &backend,
        &request(ActionKind::Silence {
            matchers: vec![
                Matcher::equal("alertname", "ServiceDown"),
                Matcher::parse("instance!~\"10\\.9\\..*\"").expect("a matcher"),
            ],
            duration: Duration::from_secs(1800),
            created_by: "aiko@bastion-1".into(),
        }),
        false,
    )
    .await
    .expect("a plan");
    job.plan.reason = Some("INC-11 noisy during the fix".into());
    let (first, _) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    assert_eq!(first, JobOutcome::Succeeded);
    let (again, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    assert_eq!(again, JobOutcome::Succeeded, "{events:#?}");
    assert!(
        events.iter().any(
            |e| matches!(e, JobEvent::StepEnded { said, .. } if said.contains("there already"))
        ),
        "{events:#?}"
    );
    let count = |silences: &[Value], comment: &str| {
        silences
            .iter()
            .filter(|s| {
                s["comment"] == comment && s.pointer("/status/state") == Some(&json!("active"))
            })
            .count()
    };
    let http = reqwest::Client::new();
    let list = || async {
        http.get(format!("{base}/api/v2/silences"))
            .send()
            .await
            .expect("silences")
            .json::<Vec<Value>>()
            .await
            .expect("json")
    };
    assert_eq!(
        count(&list().await, "INC-11 noisy during the fix"),
        1,
        "no second silence"
    );

    job.plan.reason = Some("INC-12".into());
    let (other, _) = common::exec::run_job(&backend, &job, 2, &audit, &who, true).await;
    assert_eq!(other, JobOutcome::Succeeded);
    assert_eq!(
        count(&list().await, "INC-12"),
        1,
        "another reason: its own silence"
    );
}

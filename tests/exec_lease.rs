//! Two consoles, one target: while a job runs it holds the target's Lease
//! (holder the operator, the job's intent in its annotations, renewed with
//! the step reached), so another console's job on the same target is
//! refused with the holder's name; when the job ends the Lease is given
//! back; a Lease whose console died (run out) is taken over. Against the
//! sandbox through kube-rs.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::model::{JobEvent, JobOutcome};

mod common;

const NS: &str = "iworkz-production";
const LEASE: &str = "touban.deployment.web-frontend-blue";

fn scale(replicas: u32) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::Scale { replicas },
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::Deployment,
            name: "web-frontend-blue".into(),
        },
        dry_run: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_console_is_refused_with_the_holder_and_a_dead_one_s_lease_is_taken_over() {
    let sandbox = common::calm(21, 0.2).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let backend = std::sync::Arc::new(KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        client,
    )])));
    let dir = tempfile::tempdir().expect("temp");
    let audit = std::sync::Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("log"));

    // Console A scales; at a fifth of real time it waits long for pods.
    let job_a = runner::prepare(backend.as_ref(), &scale(9), true)
        .await
        .expect("a plan");
    let common::exec::Running {
        task: task_a,
        events: mut rx_a,
        cancel: cancel_a,
    } = common::exec::spawn_job(
        backend.clone(),
        job_a,
        1,
        audit.clone(),
        Who::new("sandbox", "aiko@bastion-1"),
    );
    while let Some(e) = rx_a.recv().await {
        if matches!(e, JobEvent::Step { index: 3, .. }) {
            break;
        }
    }
    // The Lease is on the cluster, with the job's intent.
    let lease = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let l = leases.get(LEASE).await.expect("the lease exists");
            let step = l
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("touban.io/step"))
                .cloned();
            if step.as_deref() == Some("3/3") {
                break l;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("renewed with the step reached");
    let spec = lease.spec.clone().expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("aiko@bastion-1"));
    assert_eq!(spec.lease_duration_seconds, Some(30));
    let annotations = lease.metadata.annotations.clone().expect("annotations");
    assert_eq!(
        annotations.get("touban.io/action").map(String::as_str),
        Some("scale web-frontend-blue from 4 to 9")
    );

    // Console B, same target: refused, naming who holds it. (The consoles
    // share this process, so their sessions may match: the job ids differ.)
    let job_b = runner::prepare(backend.as_ref(), &scale(8), true)
        .await
        .expect("a plan");
    let who_b = Who::new("sandbox", "jun@bastion-2");
    let (outcome, _) =
        common::exec::run_job(backend.as_ref(), &job_b, 2, &audit, &who_b, false).await;
    assert!(
        matches!(&outcome, JobOutcome::Failed(why) if why.contains("locked by aiko@bastion-1") && why.contains("scale web-frontend-blue from 4 to 9") && why.contains("step 3/3")),
        "{outcome:?}"
    );

    // A ends (cancelled): the Lease is given back.
    cancel_a.send(true).expect("cancel");
    let a = task_a.await.expect("A's task");
    assert_eq!(a, JobOutcome::Cancelled);
    assert!(
        leases.get_opt(LEASE).await.expect("read").is_none(),
        "given back at the end"
    );

    a_dead_console_s_lease_is_taken_over(backend.as_ref(), &leases, &audit, &who_b).await;
}

/// A console that died leaves a Lease that runs out: taken over.
async fn a_dead_console_s_lease_is_taken_over(
    backend: &KubeBackend,
    leases: &Api<Lease>,
    audit: &AuditLog,
    who: &Who,
) {
    let stale = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let micro = k8s_openapi::jiff::Timestamp::from_microsecond(stale.as_microsecond())
        .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime)
        .expect("time");
    let ghost: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": LEASE, "namespace": NS,
                     "annotations": {"touban.io/job": "dead/7", "touban.io/step": "2/3",
                                     "touban.io/action": "scale web-frontend-blue from 9 to 2"}},
        "spec": {"holderIdentity": "ghost@bastion-0", "leaseDurationSeconds": 30},
    }))
    .expect("lease");
    let mut ghost = ghost;
    if let Some(spec) = ghost.spec.as_mut() {
        spec.acquire_time = Some(micro.clone());
        spec.renew_time = Some(micro);
    }
    leases
        .create(&kube::api::PostParams::default(), &ghost)
        .await
        .expect("a dead console's lease");
    let job_c = runner::prepare(backend, &scale(5), true)
        .await
        .expect("a plan");
    let (outcome, events) = tokio::time::timeout(
        Duration::from_secs(120),
        common::exec::run_job(backend, &job_c, 3, audit, who, false),
    )
    .await
    .expect("ends");
    assert_eq!(outcome, JobOutcome::Succeeded, "taken over and run");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, JobEvent::Step { index: 2, .. })),
        "it wrote"
    );
    assert!(leases.get_opt(LEASE).await.expect("read").is_none());
}

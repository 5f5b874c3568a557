//! The executor's scale against the sandbox through kube-rs: planned from
//! what the cluster says, refused where an HPA scales the target, run step
//! by step with kubectl's rollout rules as verification, recorded in the
//! audit log, reported as job events; a dry run changes nothing; the
//! read-only user's 403 fails the job at the write, saying what is missing.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use touban::exec::audit::AuditLog;
use touban::exec::backend::Backend;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::model::{JobEvent, JobId, JobOutcome};

mod common;

const NS: &str = "iworkz-production";

fn scale(name: &str, replicas: u32, dry_run: bool) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::Scale { replicas },
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::Deployment,
            name: name.into(),
        },
        dry_run,
    }
}

fn who() -> Who {
    Who::new("sandbox", "test@touban")
}

/// Runs one job and collects its events.
async fn run(
    backend: &KubeBackend,
    request: &ActionRequest,
    id: u64,
    audit: &AuditLog,
) -> (JobOutcome, Vec<JobEvent>) {
    let planned = runner::prepare(backend, request, true).await;
    runner::record_plan(audit, &who(), JobId(id), request, &planned).expect("recorded");
    let job = planned.expect("a plan");
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        common::exec::run_job(backend, &job, id, audit, &who(), false),
    )
    .await
    .expect("the job ends within a minute")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_plans_runs_verifies_and_records() {
    let sandbox = common::calm(5, 10.0).await;
    let operator = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), operator.clone())]));
    let deployments: Api<Deployment> = Api::namespaced(operator, NS);
    let dir = tempfile::tempdir().expect("temp");
    let audit_path = dir.path().join("audit.jsonl");
    let audit = AuditLog::open(&audit_path).expect("audit log");

    // An HPA scales backend-api-blue: sent to the HPA's bounds.
    let hpa_target = scale("backend-api-blue", 10, false);
    let planned = runner::prepare(&backend, &hpa_target, true).await;
    runner::record_plan(&audit, &who(), JobId(9), &hpa_target, &planned).expect("recorded");
    let refused = planned.expect_err("refused");
    assert!(
        refused.why.contains("scaled by the HPA backend-api-hpa"),
        "{refused:?}"
    );
    assert!(
        refused
            .instead
            .is_some_and(|i| i.contains("backend-api-hpa's minimum to 10"))
    );

    // A dry run: accepted by the server, nothing changes.
    let before = deployments.get("web-frontend-blue").await.expect("get");
    let from = before
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .expect("replicas");
    let (outcome, _) = run(&backend, &scale("web-frontend-blue", 7, true), 1, &audit).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    let after = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(
        after.spec.and_then(|s| s.replicas),
        Some(from),
        "a dry run changes nothing"
    );

    // The real scale: every replica updated and available when it ends.
    let (outcome, events) = run(&backend, &scale("web-frontend-blue", 7, false), 2, &audit).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:?}");
    let d = deployments.get("web-frontend-blue").await.expect("get");
    let status = d.status.expect("status");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(7));
    assert_eq!(status.available_replicas, Some(7));
    assert_eq!(status.updated_replicas, Some(7));
    let steps: Vec<(usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::Step { index, of, .. } => Some((*index, *of)),
            _ => None,
        })
        .collect();
    assert_eq!(steps, [(1, 3), (2, 3), (3, 3)]);
    assert!(
        matches!(events.first(), Some(JobEvent::Queued { title, .. }) if title == &format!("scale web-frontend-blue from {from} to 7"))
    );
    assert!(matches!(
        events.last(),
        Some(JobEvent::Finished {
            outcome: JobOutcome::Succeeded,
            ..
        })
    ));

    changed_behind_the_plan(&backend, &deployments, &audit).await;

    down_then_a_conflict(&backend, &deployments, &audit).await;

    // The read-only user: the RBAC preflight (a SelfSubjectAccessReview
    // per verb) refuses the plan before anything is written.
    let viewer = KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        common::kube_client(&sandbox, "eks-tokyo-readonly").await,
    )]));
    let request = scale("web-frontend-blue", 4, false);
    let planned = runner::prepare(&viewer, &request, true).await;
    runner::record_plan(&audit, &who(), JobId(10), &request, &planned).expect("recorded");
    let denied = planned.expect_err("refused by the preflight");
    assert!(
        denied
            .why
            .contains("may not patch deployments/scale (apps) in namespace iworkz-production")
            && denied.why.contains("may only read")
            && denied.why.contains("nothing was changed"),
        "{denied:?}"
    );
    // Planned with the operator's credentials, run with the viewer's (a
    // permission taken away in between): the first write, the target's
    // Lease, is refused with 403 and says what is missing.
    let job = runner::prepare(&backend, &request, true)
        .await
        .expect("a plan");
    let (outcome, _) = common::exec::run_job(&viewer, &job, 4, &audit, &who(), false).await;
    assert!(
        matches!(&outcome, JobOutcome::Failed(why) if why.contains("HTTP 403") && why.contains("may not write lease in namespace iworkz-production") && why.contains("nothing was done")),
        "{outcome:?}"
    );

    audit_says(&audit_path, &sandbox.kubeconfig());
}

/// Down from 6 to 2, done only when the old pods are gone; then a write
/// with a resourceVersion that is no longer current: a 409, never an
/// overwrite.
async fn down_then_a_conflict(
    backend: &KubeBackend,
    deployments: &Api<Deployment>,
    audit: &AuditLog,
) {
    // Down from 6 to 2: done only when the old pods are gone, not when
    // kubectl would call it complete.
    let (outcome, _) = run(backend, &scale("web-frontend-blue", 2, false), 5, audit).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    let status = deployments
        .get("web-frontend-blue")
        .await
        .expect("get")
        .status
        .expect("status");
    assert_eq!(
        (status.replicas, status.available_replicas),
        (Some(2), Some(2)),
        "no old pod left when it ends"
    );

    // A write with a resourceVersion that is no longer current is a 409,
    // never an overwrite.
    let target = scale("web-frontend-blue", 3, false).target;
    let conflict = backend
        .scale(&target, 3, false, Some("1"))
        .await
        .expect_err("a stale resourceVersion is refused");
    assert_eq!(conflict.status, Some(409), "{conflict:?}");
    assert!(
        conflict.what.contains("changed since it was read"),
        "{conflict:?}"
    );
}

/// Planned from a deployment that then changed behind the plan's back: the
/// first step fails before anything is written.
async fn changed_behind_the_plan(
    backend: &KubeBackend,
    deployments: &Api<Deployment>,
    audit: &AuditLog,
) {
    let job = runner::prepare(backend, &scale("web-frontend-blue", 5, false), true)
        .await
        .expect("a plan");
    let patch = kube::api::Patch::Merge(serde_json::json!({"spec": {"replicas": 6}}));
    deployments
        .patch_scale(
            "web-frontend-blue",
            &kube::api::PatchParams::default(),
            &patch,
        )
        .await
        .expect("someone else scales it");
    let (outcome, _) = common::exec::run_job(backend, &job, 3, audit, &who(), false).await;
    assert!(
        matches!(&outcome, JobOutcome::Failed(why) if why.contains("step 1 of 3") && why.contains("plan again")),
        "{outcome:?}"
    );
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(6), "nothing written");
}

/// The audit log: a line per event, each parses, each names the target,
/// and no token of the kubeconfig is in it.
fn audit_says(audit_path: &std::path::Path, kubeconfig: &str) {
    // The audit log: a line per event, each parses, each names the target.
    let text = std::fs::read_to_string(audit_path).expect("audit log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let of_job = |job: u64| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["job"] == job).collect()
    };
    let events: Vec<&str> = of_job(2)
        .iter()
        .map(|l| l["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        events,
        [
            "planned",
            "confirmed",
            "step-started",
            "step-ended",
            "step-started",
            "step-ended",
            "step-started",
            "step-ended",
            "finished"
        ]
    );
    let write = of_job(2)
        .into_iter()
        .find(|l| l["event"] == "step-ended" && l["step"] == 2)
        .expect("the write's record");
    assert_eq!(write["status"], 200);
    assert!(write["resource_version_before"].is_string(), "{write}");
    assert!(write["resource_version_after"].is_string(), "{write}");
    assert_ne!(
        write["resource_version_before"],
        write["resource_version_after"]
    );
    assert_eq!(write["object"], "Deployment/web-frontend-blue");
    assert_eq!(write["operator"], "test@touban");
    let dry = of_job(1);
    assert_eq!(
        dry.first().map(|l| &l["event"]),
        Some(&serde_json::json!("planned"))
    );
    assert!(dry.len() > 2 && dry.iter().all(|l| l["dry_run"] == true));
    let refused = of_job(9);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["event"], "refused");
    assert!(
        refused[0]["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("instead: "))
    );
    let preflight = of_job(10);
    assert_eq!(preflight.len(), 1, "refused, nothing run: {preflight:?}");
    assert_eq!(preflight[0]["event"], "refused");
    let denied = of_job(4);
    assert!(
        denied.iter().all(|l| l["event"] != "step-ended"),
        "no step ran: {denied:?}"
    );
    assert!(
        denied.last().is_some_and(|l| l["event"] == "finished"
            && l["outcome"]
                .as_str()
                .is_some_and(|o| o.contains("lease") && o.contains("HTTP 403"))),
        "{denied:?}"
    );
    // No token of the kubeconfig reaches the log.
    for token in kubeconfig
        .lines()
        .filter_map(|l| l.trim().strip_prefix("token: "))
    {
        assert!(!text.contains(token), "a token in the audit log");
    }
}

/// A job killed midway (after its write, while it waits) and resumed from
/// its first step ends where an uninterrupted run would, writing nothing
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_midway_resumes_to_the_same_end() {
    let sandbox = common::calm(6, 2.0).await;
    let operator = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = std::sync::Arc::new(KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        operator.clone(),
    )])));
    let deployments: Api<Deployment> = Api::namespaced(operator, NS);
    let dir = tempfile::tempdir().expect("temp");
    let audit_path = dir.path().join("audit.jsonl");
    let request = scale("web-frontend-blue", 9, false);
    let job = runner::prepare(backend.as_ref(), &request, true)
        .await
        .expect("a plan");

    // Run it, and kill it once it waits (step 3: the write is done). The
    // resumed job is the same job (session and id): it takes its own Lease
    // back, which still names it.
    let who = who();
    let common::exec::Running {
        task,
        events: mut rx,
        ..
    } = common::exec::spawn_job(
        std::sync::Arc::clone(&backend),
        job.clone(),
        1,
        std::sync::Arc::new(AuditLog::open(&audit_path).expect("audit log")),
        who.clone(),
    );
    while let Some(e) = rx.recv().await {
        if matches!(e, JobEvent::Step { index: 3, .. }) {
            task.abort();
            break;
        }
        assert!(
            !matches!(e, JobEvent::Finished { .. }),
            "killed before it ends: {e:?}"
        );
    }
    assert!(
        task.await.is_err_and(|e| e.is_cancelled()),
        "the job was killed"
    );

    // Resumed: converges, writes nothing, ends with every replica up.
    let audit = AuditLog::open(&audit_path).expect("audit log");
    let (outcome, _) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, true),
    )
    .await
    .expect("the resumed job ends within a minute");
    assert_eq!(outcome, JobOutcome::Succeeded);
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(d.spec.as_ref().and_then(|s| s.replicas), Some(9));
    let status = d.status.expect("status");
    assert_eq!(
        (status.replicas, status.available_replicas),
        (Some(9), Some(9))
    );

    let text = std::fs::read_to_string(&audit_path).expect("audit log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let writes: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["event"] == "step-ended" && l["step"] == 2)
        .collect();
    assert_eq!(writes.len(), 2, "the write's step, run and resumed");
    assert_eq!(writes[0]["outcome"], "spec.replicas=9 accepted");
    assert_eq!(
        writes[1]["outcome"],
        "already wants 9 replicas: nothing written"
    );
    assert!(
        lines.iter().any(|l| l["event"] == "confirmed"
            && l["detail"] == "resumed: scale web-frontend-blue from 4 to 9"),
        "{text}"
    );
}

/// The HPA's bounds, as a scale of its target is sent to: backend-api-hpa's
/// minimum raised to 5 in Tokyo (it scales backend-api-blue); the write
/// carries the bounds read, the HPA controller moves the deployment inside
/// them, and the job ends when every replica is up. A plan made before
/// someone else changed the bounds fails its check, writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpa_bounds_move_the_target_inside_them() {
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    let sandbox = common::calm(8, 10.0).await;
    let operator = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), operator.clone())]));
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(operator.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(operator, NS);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let bounds = |min: Option<u32>, max: Option<u32>| ActionRequest {
        kind: ActionKind::HpaBounds { min, max },
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::HorizontalPodAutoscaler,
            name: "backend-api-hpa".into(),
        },
        dry_run: false,
    };

    // The scale of backend-api-blue offers exactly this request.
    let refused = runner::prepare(&backend, &scale("backend-api-blue", 5, false), true)
        .await
        .expect_err("an HPA scales it");
    let offer = refused.offer.expect("the HPA's bounds offered");
    assert_eq!(*offer, bounds(Some(5), None));

    let before = deployments.get("backend-api-blue").await.expect("get");
    let from = before
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .expect("replicas");
    assert!(from < 5, "below the new minimum before: {from}");
    let (outcome, events) = run(&backend, &offer, 1, &audit).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:?}");
    let h = hpas.get("backend-api-hpa").await.expect("get");
    let max = h.spec.as_ref().map(|s| s.max_replicas).expect("max");
    assert_eq!(h.spec.as_ref().and_then(|s| s.min_replicas), Some(5));
    let d = deployments.get("backend-api-blue").await.expect("get");
    let wants = d.spec.as_ref().and_then(|s| s.replicas).expect("replicas");
    assert!(
        (5..=max).contains(&wants),
        "the HPA moved its target inside 5–{max}: {wants}"
    );
    assert_eq!(
        d.status.and_then(|s| s.available_replicas),
        Some(wants),
        "every replica up when the job ends"
    );

    // Planned, then changed by someone else: the check fails, nothing
    // is written.
    let job = runner::prepare(&backend, &bounds(Some(6), None), true)
        .await
        .expect("a plan");
    hpas.patch(
        "backend-api-hpa",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"spec": {"maxReplicas": 12}})),
    )
    .await
    .expect("patched by someone else");
    let (outcome, _) = common::exec::run_job(&backend, &job, 2, &audit, &who(), false).await;
    assert!(
        matches!(&outcome, JobOutcome::Failed(why) if why.contains("step 1 of 3") && why.contains("between 5 and 12 now, not the 5–") && why.contains("plan again")),
        "{outcome:?}"
    );
    let h = hpas.get("backend-api-hpa").await.expect("get");
    assert_eq!(
        h.spec.as_ref().and_then(|s| s.min_replicas),
        Some(5),
        "nothing written"
    );
}

/// A rollout restart as kubectl does it: the template's restartedAt set to
/// the time of planning, a new revision rolled out by the deployment's
/// strategy, the job done when every pod is new and no old one runs. Run
/// again as a resume, it finds the annotation there and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: the restart, its Events, its resume
async fn restart_rolls_new_pods_and_a_resume_writes_nothing() {
    let sandbox = common::calm(9, 10.0).await;
    let operator = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), operator.clone())]));
    let deployments: Api<Deployment> = Api::namespaced(operator, NS);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let revision = |d: &Deployment| {
        d.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .and_then(|r| r.parse::<u32>().ok())
            .expect("a revision")
    };
    let before = deployments.get("web-frontend-blue").await.expect("get");
    let request = ActionRequest {
        kind: ActionKind::Restart,
        ..scale("web-frontend-blue", 0, false)
    };
    let job = runner::prepare(&backend, &request, true)
        .await
        .expect("a plan");
    assert_eq!(job.plan.title, "restart web-frontend-blue (4 pods)");
    let (outcome, events) = run(&backend, &request, 1, &audit).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:?}");
    let after = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(revision(&after), revision(&before) + 1, "a new revision");
    let at = after
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get("kubectl.kubernetes.io/restartedAt"))
        .cloned()
        .expect("restartedAt set");
    assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
    let status = after.status.clone().expect("status");
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.available_replicas
        ),
        (Some(4), Some(4), Some(4)),
        "every pod new and available, no old one"
    );

    // Its start and end are Events on the deployment, as kubectl shows them.
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(common::kube_client(&sandbox, "eks-tokyo").await, NS);
    let ours: Vec<(String, String)> = events
        .list(&kube::api::ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("web-frontend-blue"))
        .filter_map(|e| Some((e.reason?, e.message?)))
        .filter(|(r, _)| r.starts_with("Touban"))
        .collect();
    let mut reasons: Vec<&str> = ours.iter().map(|(r, _)| r.as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        ["ToubanJobStarted", "ToubanJobSucceeded"],
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .all(|(_, m)| m
                .starts_with("test@touban: restart web-frontend-blue (4 pods) (touban job ")),
        "{ours:?}"
    );

    // The same job resumed: converged, nothing written.
    let job = {
        // The job that ran: planned with the annotation it wrote.
        let mut j = runner::prepare(&backend, &request, true)
            .await
            .expect("a plan");
        for op in &mut j.ops {
            if let touban::exec::step::Op::Restart { at: a }
            | touban::exec::step::Op::AwaitRestarted { at: a, .. } = op
            {
                a.clone_from(&at);
            }
        }
        if let Some(touban::exec::step::Op::ExpectGeneration { generation }) = j.ops.first_mut() {
            *generation = before.metadata.generation.expect("generation");
        }
        j
    };
    let (outcome, _) = common::exec::run_job(&backend, &job, 1, &audit, &who(), true).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    let again = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(revision(&again), revision(&after), "no second restart");
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    let resumed_write = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|r| r["event"] == "step-ended" && r["step"] == 2)
        .expect("the resumed write step");
    assert!(
        resumed_write["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("already restarted") && o.contains("nothing written")),
        "{resumed_write}"
    );
}

/// A pod deleted for its Deployment to replace it: deleted by uid, done
/// when it is gone and the Deployment is whole again; a second run of the
/// same plan (a resume) finds it gone and deletes nothing; a plan whose pod
/// was replaced behind it fails its check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_replaced_and_a_resume_deletes_nothing() {
    use k8s_openapi::api::core::v1::Pod;
    let sandbox = common::calm(8, 10.0).await;
    let operator = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), operator.clone())]));
    let pods: Api<Pod> = Api::namespaced(operator.clone(), NS);
    let of_blue = kube::api::ListParams::default().labels("app=web-frontend,color=blue");
    let names = |l: &kube::core::ObjectList<Pod>| -> Vec<String> {
        l.items
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    };
    let before = names(&pods.list(&of_blue).await.expect("list"));
    let victim = before.first().expect("a pod").clone();
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let request = ActionRequest {
        kind: ActionKind::DeletePod,
        target: Target {
            kind: ObjectKind::Pod,
            name: victim.clone(),
            ..scale("web-frontend-blue", 0, false).target
        },
        dry_run: false,
    };
    let job = runner::prepare(&backend, &request, true)
        .await
        .expect("a plan");
    assert!(
        job.plan.title.contains("(of web-frontend-blue)"),
        "{}",
        job.plan.title
    );
    let (outcome, events) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        common::exec::run_job(&backend, &job, 1, &audit, &who(), false),
    )
    .await
    .expect("ends within a minute");
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    let after = names(&pods.list(&of_blue).await.expect("list"));
    assert!(!after.contains(&victim), "{after:?}");
    assert_eq!(after.len(), before.len(), "replaced: {after:?}");
    let d = Api::<Deployment>::namespaced(operator, NS)
        .get("web-frontend-blue")
        .await
        .expect("get");
    assert_eq!(d.status.and_then(|s| s.available_replicas), Some(4));

    // The same plan resumed: the pod is gone, nothing is deleted.
    let (outcome, _) = common::exec::run_job(&backend, &job, 1, &audit, &who(), true).await;
    assert_eq!(outcome, JobOutcome::Succeeded);
    assert_eq!(names(&pods.list(&of_blue).await.expect("list")), after);
    // Run fresh, the plan finds its pod gone: it fails its check.
    let (outcome, _) = common::exec::run_job(&backend, &job, 2, &audit, &who(), false).await;
    assert!(
        matches!(&outcome, JobOutcome::Failed(why) if why.contains("gone since it was planned")),
        "{outcome:?}"
    );
}

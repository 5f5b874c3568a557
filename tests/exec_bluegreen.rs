//! The blue-green deploy against the sandbox through kube-rs: backend-api
//! in Tokyo (live blue, its HPA on blue) gets a new image on green, traffic
//! switches once green is saturated, the HPA follows, and the revert
//! while blue is still scaled switches it all back. A watcher on the
//! Services checks every selector it sees: never without a colour, never
//! aimed at a colour with no Ready pod.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::api::ListParams;
use kube::runtime::watcher;
use tokio::sync::watch;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::model::{JobEvent, JobOutcome};

mod common;

const NS: &str = "iworkz-production";
const IMAGE: &str = "iworkz/backend-api:2.15.0";

fn blue_green(image: Option<&str>, delay: Duration) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::BlueGreen {
            image: image.map(str::to_owned),
            scale_down_delay: delay,
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

/// The colours the Services' selectors were seen with, in order, and what
/// was wrong with any.
type Seen = Arc<Mutex<(Vec<String>, Vec<String>)>>;

/// Ready pods of `app` in `colour`.
async fn ready_pods(pods: &Api<Pod>, app: &str, colour: &str) -> usize {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app},color={colour}")))
        .await
        .expect("list pods");
    list.items
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count()
}

/// Watches the release's Services; each selector seen is checked at once.
/// Returns the selectors seen and what was wrong with any.
fn watch_services(client: kube::Client) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new((Vec::new(), Vec::new())));
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client, NS);
    let record = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        let config = watcher::Config::default().labels("app=backend-api");
        let mut events = watcher::watcher(services, config).boxed();
        while let Some(event) = events.next().await {
            let (watcher::Event::Apply(s) | watcher::Event::InitApply(s)) =
                event.expect("the watch holds")
            else {
                continue;
            };
            let selector = s.spec.and_then(|s| s.selector).unwrap_or_default();
            let colour = selector.get("color").cloned();
            let wrong = match &colour {
                None => Some(format!("a selector with no colour: {selector:?}")),
                Some(c) if ready_pods(&pods, "backend-api", c).await == 0 => {
                    Some(format!("aimed at {c}, which has no Ready pod"))
                }
                Some(_) => None,
            };
            let mut seen = record.lock().expect("lock");
            seen.0.push(colour.unwrap_or_default());
            seen.1.extend(wrong);
        }
    });
    (seen, task)
}

/// The Service routes to `live` and the HPA scales it; `old` is still
/// scaled.
async fn assert_live(client: &kube::Client, live: &str, old: &str) {
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let svc = services.get("backend-api-service").await.expect("get");
    let colour = svc
        .spec
        .and_then(|s| s.selector)
        .and_then(|s| s.get("color").cloned());
    assert_eq!(colour.as_deref(), Some(live));
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), NS);
    let hpa = hpas.get("backend-api-hpa").await.expect("get");
    assert_eq!(
        hpa.spec.map(|s| s.scale_target_ref.name),
        Some(format!("backend-api-{live}")),
        "the HPA follows the switch"
    );
    if old == "blue" {
        let blue = Api::<Deployment>::namespaced(client.clone(), NS)
            .get("backend-api-blue")
            .await
            .expect("get");
        assert!(
            blue.spec.and_then(|s| s.replicas).unwrap_or(0) > 0,
            "blue stays scaled while held"
        );
    }
}

/// The deploy's plan, held 60 s after the switch; a bad image refused
/// before it.
async fn plan_deploy(backend: &KubeBackend) -> touban::exec::step::Job {
    // A bad image is refused before a plan is made.
    let bad = runner::prepare(
        backend,
        &blue_green(Some("backend api:2"), Duration::ZERO),
        true,
    )
    .await
    .expect_err("refused");
    assert!(bad.why.contains("not an image reference"), "{bad:?}");

    // The deploy, held 60 s after the switch: run until it holds.
    let job = runner::prepare(
        backend,
        &blue_green(Some(IMAGE), Duration::from_secs(60)),
        true,
    )
    .await
    .expect("a plan");
    assert_eq!(
        job.plan.confirm_text.as_deref(),
        Some("backend-api"),
        "primary: typed"
    );
    assert!(
        job.plan
            .dry_run
            .as_deref()
            .is_some_and(|d| d.contains("accepts every change")),
        "{:?}",
        job.plan.dry_run
    );
    assert_eq!(job.ops.len(), 8, "{:#?}", job.plan.steps);
    job
}

/// Runs the deploy until it holds the old colour (step 7): its task and
/// its cancel.
async fn run_until_held(
    backend: &Arc<KubeBackend>,
    audit: &Arc<AuditLog>,
    who: &Who,
    job: touban::exec::step::Job,
) -> (tokio::task::JoinHandle<JobOutcome>, watch::Sender<bool>) {
    let common::exec::Running {
        task: deploy,
        events: mut rx,
        cancel: cancel_deploy,
    } = common::exec::spawn_job(backend.clone(), job, 1, audit.clone(), who.clone());
    let mut endpoints_said = String::new();
    let held = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(e) = rx.recv().await {
            match e {
                JobEvent::StepEnded { index: 5, said, .. } => endpoints_said = said,
                JobEvent::Step { index: 7, .. } => return true,
                JobEvent::Finished { outcome, .. } => panic!("ended before the hold: {outcome:?}"),
                _ => {}
            }
        }
        false
    })
    .await
    .expect("the deploy reaches its hold within two minutes");
    assert!(held);
    println!("blue-green switch: {endpoints_said}");
    assert!(
        endpoints_said.contains("ms after the switch"),
        "{endpoints_said}"
    );

    (deploy, cancel_deploy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_deploy_switches_when_saturated_moves_the_hpa_and_reverts() {
    let sandbox = common::calm(31, 10.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = Arc::new(KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        client.clone(),
    )])));
    let dir = tempfile::tempdir().expect("temp");
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("log"));
    let who = Who::new("sandbox", "test@touban");
    let (seen, watching) = watch_services(client.clone());

    let job = plan_deploy(backend.as_ref()).await;
    let (deploy, cancel_deploy) = run_until_held(&backend, &audit, &who, job).await;

    assert_live(&client, "green", "blue").await;
    let green = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("backend-api-green")
        .await
        .expect("get");
    assert_eq!(
        green
            .spec
            .and_then(|s| s.template.spec)
            .map(|p| p.containers[0].image.clone()),
        Some(Some(IMAGE.to_owned()))
    );

    // The revert, while blue is still scaled: the running deploy is
    // cancelled in its hold (blue stays up), the same switch goes back.
    cancel_deploy.send(true).expect("cancel");
    assert_eq!(
        deploy.await.expect("the deploy's task"),
        JobOutcome::Cancelled
    );
    let revert = runner::prepare(
        backend.as_ref(),
        &blue_green(None, Duration::from_secs(1)),
        true,
    )
    .await
    .expect("a revert plan");
    assert!(
        revert
            .plan
            .title
            .starts_with("revert backend-api: traffic green → blue"),
        "{}",
        revert.plan.title
    );
    let (outcome, events) = tokio::time::timeout(
        Duration::from_secs(120),
        common::exec::run_job(backend.as_ref(), &revert, 2, &audit, &who, false),
    )
    .await
    .expect("the revert ends within two minutes");
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    assert_live(&client, "blue", "green").await;
    let green = Api::<Deployment>::namespaced(client.clone(), NS)
        .get("backend-api-green")
        .await
        .expect("get");
    assert_eq!(
        green.spec.and_then(|s| s.replicas),
        Some(0),
        "the reverted colour retired"
    );

    // What the watcher saw: both switches, no selector ever wrong.
    tokio::time::sleep(Duration::from_millis(500)).await;
    watching.abort();
    let (colours, wrong) = seen.lock().expect("lock").clone();
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(
        colours
            .windows(2)
            .any(|w| w[0] == "blue" && w[1] == "green")
            && colours
                .windows(2)
                .any(|w| w[0] == "green" && w[1] == "blue"),
        "{colours:?}"
    );
}

/// The seed's own defect, in Korea: backend-api-hpa targets
/// `backend-api`, which blue / green does not have. The fix moves it to
/// the live colour read from the Services, and the HPA controller then
/// holds that colour inside the HPA's bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_s_hpa_in_korea_is_moved_to_the_live_colour() {
    let sandbox = common::calm(32, 10.0).await;
    let client = common::kube_client(&sandbox, "aks-korea").await;
    let backend = KubeBackend::new(BTreeMap::from([("aks-korea".to_owned(), client.clone())]));
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("log");
    let request = ActionRequest {
        kind: ActionKind::RetargetHpa,
        target: Target {
            region: "korea".into(),
            cluster: "aks-korea".into(),
            namespace: NS.into(),
            kind: ObjectKind::HorizontalPodAutoscaler,
            name: "backend-api-hpa".into(),
        },
        dry_run: false,
    };
    let job = runner::prepare(&backend, &request, false)
        .await
        .expect("a plan");
    assert_eq!(
        job.plan.changes,
        ["backend-api-hpa: spec.scaleTargetRef.name backend-api → backend-api-blue"]
    );
    let who = Who::new("sandbox", "test@touban");
    let (outcome, events) = tokio::time::timeout(
        Duration::from_secs(120),
        common::exec::run_job(&backend, &job, 1, &audit, &who, false),
    )
    .await
    .expect("ends within two minutes");
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    let hpa = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), NS)
        .get("backend-api-hpa")
        .await
        .expect("get");
    let (min, target) = hpa
        .spec
        .map(|s| (s.min_replicas.unwrap_or(1), s.scale_target_ref.name))
        .expect("spec");
    assert_eq!(target, "backend-api-blue");
    let blue = Api::<Deployment>::namespaced(client, NS)
        .get("backend-api-blue")
        .await
        .expect("get");
    assert!(
        blue.spec.and_then(|s| s.replicas).unwrap_or(0) >= min,
        "the HPA now scales the live colour"
    );
    // Fixed, it is nothing to fix.
    let again = runner::prepare(&backend, &request, false)
        .await
        .expect_err("refused");
    assert!(again.why.contains("nothing to fix"), "{again:?}");
}

/// A console killed in the middle of a blue-green job (its task aborted
/// once traffic has moved), against a sandbox in its own process that
/// outlives it: the job resumed from its first step converges (the
/// prepared colour and the switched Service are found done, nothing is
/// written twice) and ends where an uninterrupted run would: green live,
/// the HPA on green, blue at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_blue_green_job_resumes_against_a_separate_sandbox_to_the_same_end() {
    let dir = tempfile::tempdir().expect("temp");
    let (_sandbox, client) = common::exec::separate_sandbox(dir.path()).await;
    let backend = Arc::new(KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        client.clone(),
    )])));
    let audit_path = dir.path().join("audit.jsonl");
    let who = Who::new("sandbox", "test@touban");
    let job = runner::prepare(
        backend.as_ref(),
        &blue_green(Some(IMAGE), Duration::from_secs(1)),
        true,
    )
    .await
    .expect("a plan");

    // Killed once the Services are switched (step 5 begins).
    let running = common::exec::spawn_job(
        backend.clone(),
        job.clone(),
        1,
        Arc::new(AuditLog::open(&audit_path).expect("audit log")),
        who.clone(),
    );
    common::exec::kill_at_step(running, 5).await;

    // Resumed (the same job: its Lease still names it).
    let audit = AuditLog::open(&audit_path).expect("audit log");
    let (outcome, events) = tokio::time::timeout(
        Duration::from_secs(120),
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, true),
    )
    .await
    .expect("the resumed job ends within two minutes");
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    let said: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::StepEnded { said, .. } => Some(said.clone()),
            _ => None,
        })
        .collect();
    assert!(
        said[1].contains("nothing written"),
        "the prepared colour found done: {said:?}"
    );
    assert!(
        said[3].contains("nothing written"),
        "the switch found done: {said:?}"
    );
    assert_live(&client, "green", "green").await;
    let blue = Api::<Deployment>::namespaced(client, NS)
        .get("backend-api-blue")
        .await
        .expect("get");
    assert_eq!(blue.spec.and_then(|s| s.replicas), Some(0), "blue retired");
}

/// Leaves backend-api (with a second Service, backend-api-internal) as a
/// console that died between its two Service patches would: the
/// internal Service on green, the main one on blue, the job's Lease run
/// out with its intent.
async fn leave_half_switched(
    client: &kube::Client,
    backend: &Arc<KubeBackend>,
    audit: &Arc<AuditLog>,
) {
    use k8s_openapi::api::coordination::v1::Lease;
    use kube::api::{Patch, PatchParams, PostParams};
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let mut internal: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "backend-api-internal", "labels": {"app": "backend-api"}},
        "spec": {"selector": {"app": "backend-api", "color": "blue"},
            "ports": [{"name": "http", "port": 80, "targetPort": 3000}]}
    }))
    .expect("a Service");
    internal = services
        .create(&PostParams::default(), &internal)
        .await
        .expect("create");
    assert!(internal.metadata.uid.is_some());
    // The first console: killed once its switch is made (step 5 begins).
    let job = runner::prepare(
        backend.as_ref(),
        &blue_green(Some(IMAGE), Duration::from_secs(1)),
        true,
    )
    .await
    .expect("a plan");
    let running = common::exec::spawn_job(
        backend.clone(),
        job,
        1,
        audit.clone(),
        Who::new("sandbox", "aiko@bastion-1"),
    );
    common::exec::kill_at_step(running, 5).await;
    // As if it had died between its two patches, long enough ago for its
    // Lease to run out.
    let back = serde_json::json!({"spec": {"selector": {"color": "blue"}}});
    services
        .patch(
            "backend-api-service",
            &PatchParams::default(),
            &Patch::Merge(&back),
        )
        .await
        .expect("patch");
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let lease = leases
        .get("touban.release.backend-api")
        .await
        .expect("its Lease");
    let annotations = lease.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.get("touban.io/switch").map(String::as_str),
        Some("blue->green"),
        "the intent is on the cluster: {annotations:?}"
    );
    let old = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(120))
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let ran_out = serde_json::json!({"spec": {"renewTime": old}});
    leases
        .patch(
            "touban.release.backend-api",
            &PatchParams::default(),
            &Patch::Merge(&ran_out),
        )
        .await
        .expect("patch the lease");
}

/// A console that died between the two Service patches of its switch
/// (backend-api has a second Service here; the switch is stopped after
/// it, and the second Service set back, as the dead console left it; its
/// Lease run out): "Services disagree" from another console is not a bare
/// refusal but the repair its Lease's intent allows. The revert switches
/// the Service that moved back to blue, never through an empty selector,
/// and retires green.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_left_half_switched_by_a_dead_console_is_repaired_from_another() {
    let sandbox = common::calm(33, 10.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let backend = Arc::new(KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        client.clone(),
    )])));
    let dir = tempfile::tempdir().expect("temp");
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("log"));
    let (seen, watching) = watch_services(client.clone());
    leave_half_switched(&client, &backend, &audit).await;

    // Another console: a deploy of a new image is refused with the way
    // out, the revert is the repair.
    let other = Who::new("sandbox", "bo@bastion-2");
    let new_image = runner::prepare(
        backend.as_ref(),
        &blue_green(Some("iworkz/backend-api:2.16.0"), Duration::from_secs(1)),
        true,
    )
    .await
    .expect_err("refused");
    assert!(
        new_image.why.contains("half-switched")
            && new_image
                .instead
                .as_deref()
                .is_some_and(|i| i.contains("revert")),
        "{new_image:?}"
    );
    let repair = runner::prepare(
        backend.as_ref(),
        &blue_green(None, Duration::from_secs(1)),
        true,
    )
    .await
    .expect("the repair");
    assert!(
        repair
            .plan
            .title
            .starts_with("repair backend-api: switch back to blue")
            && repair.plan.title.contains("aiko@bastion-1"),
        "{}",
        repair.plan.title
    );
    let (outcome, events) = tokio::time::timeout(
        Duration::from_secs(120),
        common::exec::run_job(backend.as_ref(), &repair, 1, &audit, &other, false),
    )
    .await
    .expect("the repair ends within two minutes");
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    // Its own job, linked to the one it reverts.
    let reverts = repair.plan.reverts.clone().expect("linked");
    assert!(reverts.ends_with("/1"), "{reverts}");
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit log");
    let linked = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["operator"] == "bo@bastion-2")
        .all(|r| r["reverts"] == reverts.as_str());
    assert!(linked, "every record of the repair names {reverts}: {log}");
    for name in ["backend-api-service", "backend-api-internal"] {
        let s = services.get(name).await.expect("get");
        let colour = s
            .spec
            .and_then(|s| s.selector)
            .and_then(|s| s.get("color").cloned());
        assert_eq!(colour.as_deref(), Some("blue"), "{name}");
    }
    let green = Api::<Deployment>::namespaced(client, NS)
        .get("backend-api-green")
        .await
        .expect("get");
    assert_eq!(
        green.spec.and_then(|s| s.replicas),
        Some(0),
        "green retired"
    );
    watching.abort();
    let (colours, wrong) = seen.lock().expect("lock").clone();
    assert!(wrong.is_empty(), "{wrong:?} in {colours:?}");
}

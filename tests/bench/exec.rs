//! The executor's figures against the sandbox (in this process, hurried
//! tenfold), printed, never asserted:
//!
//! - from the operator's confirmation to the job's first step (the Lease
//!   read and taken, the start Event written, the step's first call made):
//!   p50 / p99 over 30 scales through the executor's task;
//! - a blue-green switch, from the selector patch to the Endpoints holding
//!   only the new colour's pods, seen by watchers on both (p50 / max over 6
//!   deploys alternating the colours).
//!
//! `cargo bench --bench exec`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::Api;
use kube::runtime::watcher;
use tokio::sync::mpsc;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::Who;
use touban::exec::task::{self, Executor};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::model::{ExecCommand, JobEvent, JobId, JobOutcome};
use touban::sandbox::{Options, Sandbox, Scenario};

const NS: &str = "iworkz-production";

fn target(kind: ObjectKind, name: &str) -> Target {
    Target {
        region: "tokyo".into(),
        cluster: "eks-tokyo".into(),
        namespace: NS.into(),
        kind,
        name: name.into(),
    }
}

/// The `per_cent`th percentile of sorted figures.
fn percentile(sorted: &[Duration], per_cent: usize) -> Duration {
    let at = (sorted.len().saturating_sub(1) * per_cent + 50) / 100;
    sorted.get(at).copied().unwrap_or_default()
}

/// Plans, confirms and runs one job; when it was confirmed and when its
/// first step began.
async fn one(
    exec: &mpsc::UnboundedSender<ExecCommand>,
    rx: &mut mpsc::UnboundedReceiver<JobEvent>,
    id: u64,
    request: ActionRequest,
) -> (Duration, JobOutcome) {
    exec.send(ExecCommand::Plan {
        id: JobId(id),
        request,
    })
    .expect("sent");
    let mut confirmed = None;
    let mut first = None;
    loop {
        let e = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("an event within two minutes")
            .expect("the executor listens");
        match e {
            JobEvent::Planned { plan, .. } => {
                if let Err(refusal) = *plan {
                    panic!("refused: {refusal:?}");
                }
                confirmed = Some(Instant::now());
                exec.send(ExecCommand::Confirm {
                    id: JobId(id),
                    dry_run: false,
                    reason: "benchmark".into(),
                })
                .expect("sent");
            }
            JobEvent::Step { index: 1, .. } if first.is_none() => first = Some(Instant::now()),
            JobEvent::Finished { outcome, .. } => {
                let took = match (confirmed, first) {
                    (Some(c), Some(f)) => f - c,
                    _ => Duration::ZERO,
                };
                return (took, outcome);
            }
            _ => {}
        }
    }
}

/// Watches the release's Service and Endpoints; for each selector change,
/// how long until the Endpoints held only pods of the new colour.
fn switch_watch(client: kube::Client) -> Arc<Mutex<Vec<Duration>>> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let changed: Arc<Mutex<Option<(String, Instant)>>> = Arc::new(Mutex::new(None));
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let endpoints: Api<Endpoints> = Api::namespaced(client, NS);
    let name = "backend-api-service";
    let by_name = watcher::Config::default().fields(&format!("metadata.name={name}"));
    {
        let changed = Arc::clone(&changed);
        let config = by_name.clone();
        tokio::spawn(async move {
            let mut last: Option<String> = None;
            let mut events = watcher::watcher(services, config).boxed();
            while let Some(Ok(e)) = events.next().await {
                if let watcher::Event::Apply(s) | watcher::Event::InitApply(s) = e {
                    let colour = s
                        .spec
                        .and_then(|s| s.selector)
                        .and_then(|s| s.get("color").cloned());
                    if last.is_some()
                        && colour != last
                        && let Some(c) = &colour
                    {
                        *changed.lock().expect("lock") = Some((c.clone(), Instant::now()));
                    }
                    last = colour;
                }
            }
        });
    }
    {
        let out = Arc::clone(&out);
        tokio::spawn(async move {
            let mut events = watcher::watcher(endpoints, by_name).boxed();
            while let Some(Ok(e)) = events.next().await {
                let (watcher::Event::Apply(ep) | watcher::Event::InitApply(ep)) = e else {
                    continue;
                };
                let pods: Vec<String> = ep
                    .subsets
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s.addresses.into_iter().flatten())
                    .filter_map(|a| a.target_ref.and_then(|r| r.name))
                    .collect();
                let mut pending = changed.lock().expect("lock");
                if let Some((colour, at)) = pending.as_ref() {
                    let prefix = format!("backend-api-{colour}-");
                    if !pods.is_empty() && pods.iter().all(|p| p.starts_with(&prefix)) {
                        out.lock().expect("lock").push(at.elapsed());
                        *pending = None;
                    }
                }
            }
        });
    }
    out
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let sandbox = Sandbox::start(Options {
        seed: 7,
        pods: 0,
        speed: 10.0,
        scenario: Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig()).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions {
        context: Some("eks-tokyo".into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let dir = tempfile::tempdir().expect("temp");
    let (events, mut rx) = mpsc::unbounded_channel();
    let (exec, _task) = task::spawn(
        Executor {
            backend: Arc::new(KubeBackend::new(BTreeMap::from([(
                "eks-tokyo".to_owned(),
                client.clone(),
            )]))),
            audit: Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("log")),
            who: Arc::new(Who::new("sandbox", "bench@touban")),
            primary: std::collections::BTreeSet::new(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            // As a console runs: each job's checkpoint written (and its
            // world read) before its first step.
            checkpoints: Some(Arc::new(touban::exec::checkpoint::Checkpoints::new(
                dir.path().join("jobs"),
            ))),
            coordination: None,
            runbooks: Vec::new(),
        },
        events,
    );

    let mut firsts = Vec::new();
    for i in 0..30 {
        let replicas = if i % 2 == 0 { 5 } else { 4 };
        let request = ActionRequest {
            kind: ActionKind::Scale { replicas },
            target: target(ObjectKind::Deployment, "web-frontend-blue"),
            dry_run: false,
        };
        let (took, outcome) = one(&exec, &mut rx, i + 1, request).await;
        assert_eq!(outcome, JobOutcome::Succeeded, "scale {i}");
        firsts.push(took);
    }
    firsts.sort();
    println!(
        "confirmation to the first step (Lease, start Event, first call): p50 {:.1} ms, p99 {:.1} ms over {}",
        percentile(&firsts, 50).as_secs_f64() * 1e3,
        percentile(&firsts, 99).as_secs_f64() * 1e3,
        firsts.len()
    );

    let switches = switch_watch(client);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..6u64 {
        let request = ActionRequest {
            kind: ActionKind::BlueGreen {
                image: Some(format!("iworkz/backend-api:3.{i}.0")),
                scale_down_delay: Duration::ZERO,
            },
            target: target(ObjectKind::Release, "backend-api"),
            dry_run: false,
        };
        let (_, outcome) = one(&exec, &mut rx, 100 + i, request).await;
        assert_eq!(outcome, JobOutcome::Succeeded, "deploy {i}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = switches.lock().expect("lock").clone();
    seen.sort();
    println!(
        "blue-green switch, selector patch to Endpoints on the new colour only: p50 {:.1} ms, max {:.1} ms over {}",
        percentile(&seen, 50).as_secs_f64() * 1e3,
        seen.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        seen.len()
    );
}

//! The Kubernetes source against the sandbox, through the real kube-rs
//! client and the config and kubeconfig the sandbox writes: rows reach the
//! app's state through the channel, a scale shows after its watch event,
//! and a crash-looping pod is counted and turns the cluster's health.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::mpsc;
use touban::app::{App, Event};
use touban::config::Platform;
use touban::model::cluster::Health;
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

/// A sandbox, and an app whose cluster sources watch it through the
/// config and kubeconfig it wrote.
async fn watched(seed: u64) -> (Sandbox, tempfile::TempDir, App, mpsc::Receiver<Event>) {
    let sandbox = Sandbox::start(Options {
        seed,
        pods: 0,
        speed: 10.0,
        scenario: Scenario::Calm,
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let mut loaded = common::loaded("default", "default");
    loaded.platform = Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("read"),
    )
    .expect("the sandbox's config is valid");
    let app = App::new(loaded, common::fixed_now());
    let (tx, rx) = mpsc::channel(1024);
    touban::sources::cluster::spawn(app.platform(), &tx);
    (sandbox, dir, app, rx)
}

/// Tokyo's deployments, through kube-rs as the operator.
async fn tokyo_deployments(sandbox: &Sandbox) -> Api<Deployment> {
    let kubeconfig = Kubeconfig::from_yaml(&sandbox.kubeconfig()).expect("kubeconfig");
    let options = KubeConfigOptions {
        context: Some("eks-tokyo".into()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    Api::namespaced(
        Client::try_from(config).expect("client"),
        "iworkz-production",
    )
}

/// Feeds events to the app until `done` holds (30 s at most).
async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Event>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(app) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        if let Ok(Some(event)) = tokio::time::timeout(left, rx.recv()).await {
            app.handle(event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_source_fills_the_app_and_follows_changes() {
    let (sandbox, _dir, mut app, mut rx) = watched(31).await;

    until(&mut app, &mut rx, "both clusters listed and ready", |a| {
        let ready = |name: &str, pods: usize| {
            a.cluster(name).is_some_and(|c| {
                let s = c.summary();
                s.nodes > 0 && s.pods == pods && s.pods_not_ready == 0 && s.health.0 == Health::Ok
            })
        };
        ready("eks-tokyo", 9) && ready("aks-korea", 4)
    })
    .await;
    let tokyo = app.cluster("eks-tokyo").expect("tokyo").summary();
    assert_eq!(
        (tokyo.nodes_ready, tokyo.nodes, tokyo.deployments),
        (9, 9, 6)
    );
    assert!(
        app.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .is_live()
    );
    let compute = app
        .cluster("eks-tokyo")
        .expect("tokyo")
        .nodes
        .values()
        .filter(|n| n.group == "compute-optimized")
        .count();
    assert_eq!(compute, 2, "node groups come from the nodes' labels");

    let deployments = tokyo_deployments(&sandbox).await;
    deployments
        .patch_scale(
            "web-frontend-blue",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 6}})),
        )
        .await
        .expect("scale");
    until(&mut app, &mut rx, "the scale in the app's state", |a| {
        a.cluster("eks-tokyo")
            .and_then(|c| c.deployments.get("iworkz-production/web-frontend-blue"))
            .is_some_and(|d| d.desired == 6)
    })
    .await;

    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "backend-api", "image": "iworkz/backend-api:2.15.0-crash"}]}}}});
    deployments
        .patch(
            "backend-api-blue",
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
        .expect("set image");
    until(&mut app, &mut rx, "a crash-looping pod counted", |a| {
        a.cluster("eks-tokyo")
            .is_some_and(|c| c.summary().crash_looping >= 1)
    })
    .await;
    let s = app.cluster("eks-tokyo").expect("tokyo").summary();
    assert_eq!(s.health.0, Health::Crit, "{:?}", s.health);
    assert!(s.health.1.contains("crash-looping"), "{:?}", s.health);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_api_turns_stale_keeps_its_rows_and_recovers() {
    let (sandbox, _dir, mut app, mut rx) = watched(32).await;
    let pods = |a: &App| a.cluster("eks-tokyo").map_or(0, |c| c.pods.len());
    let state = |a: &App| {
        a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .clone()
    };
    until(&mut app, &mut rx, "Tokyo listed", |a| pods(a) == 9).await;

    // A re-list (history compacted: 410 and list again) never empties the table.
    sandbox.clusters[0].store.compact();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            app.handle(event);
            assert_eq!(
                pods(&app),
                9,
                "the table stays whole while the watcher lists again"
            );
        }
    }

    sandbox.set_api_down("eks-tokyo", true);
    until(&mut app, &mut rx, "Tokyo stale", |a| {
        matches!(state(a), touban::model::SourceState::Stale { .. })
    })
    .await;
    assert_eq!(pods(&app), 9, "a stale cluster keeps its last rows");
    assert!(
        app.source("korea", touban::model::SourceKind::Cluster, "aks-korea")
            .is_live(),
        "Korea is not held up by Tokyo"
    );

    sandbox.set_api_down("eks-tokyo", false);
    until(&mut app, &mut rx, "Tokyo live again", |a| {
        state(a).is_live()
    })
    .await;
    let deployments = tokyo_deployments(&sandbox).await;
    deployments
        .patch_scale(
            "ai-services-blue",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    until(&mut app, &mut rx, "changes flowing again", |a| {
        a.cluster("eks-tokyo")
            .and_then(|c| c.deployments.get("iworkz-production/ai-services-blue"))
            .is_some_and(|d| d.desired == 3)
    })
    .await;
}

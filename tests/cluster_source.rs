//! The Kubernetes source against the sandbox, through the real kube-rs
//! client and the config and kubeconfig the sandbox writes: rows reach the
//! app's state through the channel, a scale shows after its watch event,
//! and a crash-looping pod is counted and turns the cluster's health.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use touban::app::overlay::Overlay;
use touban::app::{App, Effect};
use touban::model::cluster::Health;
use touban::model::{Command, Pane, rollout};
use touban::sandbox::Sandbox;

mod common;

/// Tokyo's deployments, through kube-rs as the operator.
async fn tokyo_deployments(sandbox: &Sandbox) -> Api<Deployment> {
    Api::namespaced(
        common::kube_client(sandbox, "eks-tokyo").await,
        "iworkz-production",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_source_fills_the_app_and_follows_changes() {
    let (sandbox, _dir, mut app, mut rx) = common::watched(31).await;

    common::until(&mut app, &mut rx, "both clusters listed and ready", |a| {
        let ready = |name: &str, pods: usize| {
            a.cluster(name).is_some_and(|c| {
                let s = c.summary(a.now());
                s.nodes > 0 && s.pods == pods && s.pods_not_ready == 0 && s.health.0 == Health::Ok
            })
        };
        // Live once every watch is heard from and the probe answers.
        let live = |region: &str, name: &str| {
            a.source(region, touban::model::SourceKind::Cluster, name)
                .is_live()
        };
        ready("eks-tokyo", 9) && ready("aks-korea", 4) && live("tokyo", "eks-tokyo")
    })
    .await;
    let tokyo = app.cluster("eks-tokyo").expect("tokyo").summary(app.now());
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
    common::until(&mut app, &mut rx, "the scale in the app's state", |a| {
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
    common::until(&mut app, &mut rx, "a crash-looping pod counted", |a| {
        a.cluster("eks-tokyo")
            .is_some_and(|c| c.summary(a.now()).crash_looping >= 1)
    })
    .await;
    let s = app.cluster("eks-tokyo").expect("tokyo").summary(app.now());
    assert_eq!(s.health.0, Health::Crit, "{:?}", s.health);
    assert!(s.health.1.contains("crash-looping"), "{:?}", s.health);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_watched_and_what_the_panes_derive_holds() {
    let (_sandbox, _dir, mut app, mut rx) = common::watched(33).await;
    // ReplicaSets, Services, HPAs, events and ConfigMaps are watched too,
    // and what the Rollouts and Scaling panes derive from them holds.
    common::until(&mut app, &mut rx, "every kind listed", |a| {
        ["eks-tokyo", "aks-korea"].iter().all(|n| {
            a.cluster(n).is_some_and(|c| {
                c.replica_sets.len() >= 6
                    && c.deployments.len() == 6
                    && c.summary(a.now()).health.0 == Health::Ok
                    && c.services.len() == 3
                    && c.hpas.len() == 1
                    && c.config_maps.len() == 1
                    && !c.events.is_empty()
                    // The pod watch can trail the deployments' statuses.
                    && c.pods.values().filter(|p| p.ready == p.containers).count()
                        >= c.deployments.values().map(|d| usize::try_from(d.desired).unwrap_or(0)).sum()
            })
        })
    })
    .await;
    let tokyo = app.cluster("eks-tokyo").expect("tokyo");
    let korea = app.cluster("aks-korea").expect("korea");
    let releases = rollout::releases(tokyo);
    let apps: Vec<(&str, Option<&str>)> = releases.iter().map(|r| (r.app, r.live())).collect();
    assert_eq!(
        apps,
        [
            ("ai-services", Some("blue")),
            ("backend-api", Some("blue")),
            ("web-frontend", Some("blue"))
        ]
    );
    assert!(rollout::release_findings(&releases).is_empty());
    let blue = &tokyo.deployments["iworkz-production/backend-api-blue"];
    assert_eq!(
        rollout::rollout_state(blue),
        rollout::RolloutState::Complete
    );
    assert_eq!(
        rollout::revisions(tokyo, blue)[0].image,
        "iworkz/backend-api:2.14.0"
    );
    let korea_hpa = &korea.hpas["iworkz-production/backend-api-hpa"];
    let fault = rollout::hpa_fault(korea, &rollout::releases(korea), korea_hpa)
        .expect("Korea's HPA aims at a Deployment that does not exist");
    assert!(fault.contains("backend-api-blue"), "{fault}");
    let drift = rollout::drift(tokyo, korea, true);
    assert!(
        drift
            .iter()
            .any(|d| d.subject == "iworkz-production/backend-api-config" && !d.expected),
        "{drift:?}"
    );
    assert!(
        drift.iter().all(|d| d.what != "image"),
        "both regions run the same images: {drift:?}"
    );

    // Enter on a pod asks for it whole; the detail fetcher answers with
    // its YAML.
    app.run(Command::Focus(Pane::Cluster));
    let effects = app.run(Command::Select);
    let [Effect::FetchDetail(asked)] = effects.as_slice() else {
        panic!("Enter on a pod fetches it: {effects:?}")
    };
    let (tx, more) = tokio::sync::mpsc::channel(16);
    let details = touban::sources::cluster::spawn_details(app.platform(), &tx);
    details.send(asked.clone()).expect("fetcher alive");
    let mut rx = more;
    common::until(&mut app, &mut rx, "the pod's YAML", |a| {
        matches!(
            a.overlays().last(),
            Some(Overlay::Detail { text: Some(_), .. })
        )
    })
    .await;
    let Some(Overlay::Detail {
        object,
        text: Some(yaml),
        ..
    }) = app.overlays().last()
    else {
        unreachable!("waited for it")
    };
    let yaml = yaml.as_ref().expect("fetched");
    assert_eq!(object.kind, "Pod");
    assert!(yaml.contains("kind: Pod"), "{yaml}");
    assert!(yaml.contains(&format!("name: {}", object.name)), "{yaml}");
    assert!(!yaml.contains("managedFields"), "{yaml}");
    app.run(Command::Back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_api_turns_stale_keeps_its_rows_and_recovers() {
    let (sandbox, _dir, mut app, mut rx) = common::watched(32).await;
    let pods = |a: &App| a.cluster("eks-tokyo").map_or(0, |c| c.pods.len());
    let state = |a: &App| {
        a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .clone()
    };
    common::until(&mut app, &mut rx, "Tokyo listed", |a| pods(a) == 9).await;

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
    common::until(&mut app, &mut rx, "Tokyo stale", |a| {
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
    common::until(&mut app, &mut rx, "Tokyo live again", |a| {
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
    common::until(&mut app, &mut rx, "changes flowing again", |a| {
        a.cluster("eks-tokyo")
            .and_then(|c| c.deployments.get("iworkz-production/ai-services-blue"))
            .is_some_and(|d| d.desired == 3)
    })
    .await;
}

/// The sandbox's kubeconfig with the operator's token replaced by an
/// `exec` credential plugin: `script` (a shell script written beside it).
fn kubeconfig_with_plugin(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    script: &str,
    env: &str,
) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let plugin = dir.join("credential-plugin.sh");
    std::fs::write(&plugin, format!("#!/bin/sh\n{script}\n")).expect("plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let original = sandbox.kubeconfig();
    let token_line = format!("    token: {}\n", sandbox.operator_token);
    let exec = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"--token=argument-secret\"]\n      env:{env}\n      interactiveMode: IfAvailable\n",
        plugin.display()
    );
    assert!(original.contains(&token_line));
    let path = dir.join("kubeconfig-exec");
    std::fs::write(&path, original.replacen(&token_line, &exec, 1)).expect("kubeconfig");
    path
}

/// An app whose one cluster (Tokyo) authenticates through `kubeconfig`.
fn app_on(kubeconfig: &std::path::Path) -> (App, tokio::sync::mpsc::Receiver<touban::app::Event>) {
    let src = format!(
        "{}\n[[clusters]]\nname = \"eks-tokyo\"\nregion = \"tokyo\"\ncontext = \"eks-tokyo\"\nkubeconfig = \"{}\"\n",
        common::TWO_REGIONS,
        kubeconfig.display()
    );
    let mut loaded = common::loaded("default", "default");
    loaded.platform = touban::config::Platform::parse("test.toml", &src).expect("valid");
    let app = App::new(loaded, std::time::SystemTime::now());
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    touban::sources::cluster::spawn(app.platform(), &tx);
    (app, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_plugin_s_token_is_handed_to_kube_and_its_failures_name_only_the_plugin() {
    let sandbox = Sandbox::start(touban::sandbox::Options {
        seed: 5,
        pods: 0,
        speed: 10.0,
        scenario: touban::sandbox::Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    // A plugin that answers the ExecCredential protocol with the token.
    let good = kubeconfig_with_plugin(
        &sandbox,
        dir.path(),
        &format!(
            "test \"$(cat)\" = \"\" || exit 9\ncase \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 8;; esac\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'",
            sandbox.operator_token
        ),
        "\n      - name: AWS_PROFILE\n        value: iworkz",
    );
    let (mut app, mut rx) = app_on(&good);
    common::until(
        &mut app,
        &mut rx,
        "Tokyo live through the plugin's token",
        |a| {
            a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
                .is_live()
                && a.cluster("eks-tokyo").is_some_and(|c| c.pods.len() == 9)
        },
    )
    .await;

    // A plugin that fails, with a secret in its environment and arguments.
    let bad = kubeconfig_with_plugin(
        &sandbox,
        dir.path(),
        "echo 'error: the session token is expired' >&2\nexit 3",
        "\n      - name: AWS_SECRET_ACCESS_KEY\n        value: environment-secret",
    );
    let (mut app, mut rx) = app_on(&bad);
    common::until(&mut app, &mut rx, "Tokyo failing on the plugin", |a| {
        a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .failure()
            .is_some_and(|m| m.contains("credential-plugin.sh"))
    })
    .await;
    let state = app.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo");
    let message = state.failure().unwrap_or_default();
    assert!(
        message.contains("kube exec plugin `credential-plugin.sh` failed (exit status: 3)"),
        "{message}"
    );
    for secret in [
        "environment-secret",
        "argument-secret",
        "KUBERNETES_EXEC_INFO",
        "--token",
    ] {
        assert!(!message.contains(secret), "{secret} in: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_fails_is_said_as_it_changes_and_a_never_connected_cluster_is_no_stale_one() {
    let (sandbox, dir, mut app, mut rx) = common::watched(34).await;
    let tokyo = |a: &App| {
        a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .clone()
    };
    common::until(&mut app, &mut rx, "Tokyo live", |a| tokyo(a).is_live()).await;
    sandbox.set_api_status("eks-tokyo", Some(500));
    common::until(&mut app, &mut rx, "Tokyo stale on a 500", |a| {
        matches!(tokyo(a), touban::model::SourceState::Stale { ref why, .. } if why.contains("500"))
    })
    .await;
    sandbox.set_api_status("eks-tokyo", Some(403));
    common::until(&mut app, &mut rx, "the reason now a 403", |a| {
        matches!(tokyo(a), touban::model::SourceState::Stale { ref why, .. } if why.contains("403"))
    })
    .await;
    sandbox.set_api_status("eks-tokyo", None);
    common::until(&mut app, &mut rx, "Tokyo live again", |a| {
        tokyo(a).is_live()
    })
    .await;

    // A cluster that has never answered is an error, never stale.
    let src = format!(
        "{}\n[[clusters]]\nname = \"nowhere\"\nregion = \"tokyo\"\ncontext = \"eks-tokyo\"\nkubeconfig = \"{}\"\n",
        common::TWO_REGIONS,
        dir.path().join("no-such-kubeconfig").display()
    );
    let mut loaded = common::loaded("default", "default");
    loaded.platform = touban::config::Platform::parse("test.toml", &src).expect("valid");
    let mut app = App::new(loaded, std::time::SystemTime::now());
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    touban::sources::cluster::spawn(app.platform(), &tx);
    common::until(&mut app, &mut rx, "the cluster in error", |a| {
        matches!(
            a.source("tokyo", touban::model::SourceKind::Cluster, "nowhere"),
            touban::model::SourceState::Error { .. }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_with_watches_open_is_stale_within_a_probe_and_stays_stale() {
    use touban::sandbox::api::Outage;
    let (sandbox, _dir, mut app, mut rx) = common::watched(35).await;
    let tokyo = |a: &App| {
        a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .clone()
    };
    for outage in [Outage::BlackHole, Outage::Dead] {
        common::until(&mut app, &mut rx, "Tokyo live", |a| tokyo(a).is_live()).await;
        let cut = Instant::now();
        sandbox.set_api_outage("eks-tokyo", outage);
        common::until(&mut app, &mut rx, "Tokyo stale", |a| {
            matches!(tokyo(a), touban::model::SourceState::Stale { .. })
        })
        .await;
        println!(
            "figure: {outage} outage, open watches: stale after {} ms",
            cut.elapsed().as_millis()
        );
        // However long it lasts, and whatever an old stream delivers, it
        // never reads live again until the server is back.
        let hold = Instant::now();
        while hold.elapsed() < Duration::from_secs(8) {
            if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                app.handle(e);
            }
            assert!(!tokyo(&app).is_live(), "{outage}: live during the outage");
        }
        sandbox.set_api_outage("eks-tokyo", Outage::None);
    }
    common::until(&mut app, &mut rx, "Tokyo live after both", |a| {
        tokyo(a).is_live()
    })
    .await;
}

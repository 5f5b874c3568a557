//! DR readiness against the sandbox: every check read from the real
//! sources the console runs (the cluster watchers, the exporters), each
//! driven red by the sandbox and back.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;
use touban::app::App;
use touban::app::Event;
use touban::model::Command;
use touban::model::Pane;
use touban::model::Update;
use touban::model::readiness::{Drill, Drills, Mark, Readiness};
use touban::sandbox::Scenario;

mod common;

/// Seoul's readiness, the only DR region of the sandbox's config.
fn seoul(app: &App) -> Readiness {
    let mut all = app.readiness();
    assert_eq!(all.len(), 1, "one DR region");
    all.remove(0)
}

/// The mark of the check of `area` (the first, when there are several).
fn mark(app: &App, area: &str) -> Option<Mark> {
    seoul(app)
        .checks
        .iter()
        .find(|c| c.area == area)
        .map(|c| c.mark)
}

fn why(app: &App, area: &str) -> String {
    seoul(app)
        .checks
        .iter()
        .filter(|c| c.area == area)
        .map(|c| format!("{} {}: {}", c.mark.word(), c.subject, c.why))
        .collect::<Vec<_>>()
        .join("\n")
}

fn every_source_live(app: &App) -> bool {
    app.platform()
        .source_ids()
        .iter()
        .all(|id| app.source(&id.region, id.kind, &id.name).is_live())
}

const NS: &str = "iworkz-production";

/// Merge-patches an object through the real client, as an operator would.
async fn patch<K>(api: &Api<K>, name: &str, body: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap_or_else(|e| panic!("patch {name}: {e}"));
}

async fn live_console(scenario: Scenario, seed: u64) -> Console {
    let (sandbox, dir, mut app, mut rx) = common::console_in(scenario, seed).await;
    common::until(&mut app, &mut rx, "every source live", every_source_live).await;
    common::until(&mut app, &mut rx, "a replication reading", |a| {
        mark(a, "replication") != Some(Mark::Unknown)
    })
    .await;
    Console {
        sandbox,
        _dir: dir,
        app,
        rx,
    }
}

struct Console {
    sandbox: touban::sandbox::Sandbox,
    _dir: tempfile::TempDir,
    app: App,
    rx: tokio::sync::mpsc::Receiver<touban::app::Event>,
}

impl Console {
    /// Feeds the app until the check of `area` is `want`.
    async fn until(&mut self, area: &str, want: Mark) {
        let what = format!("{area} {}", want.word());
        common::until(&mut self.app, &mut self.rx, &what, |a| {
            mark(a, area) == Some(want)
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calm_sandbox_is_ready_but_for_its_drift_which_fixed_and_broken_again_shows() {
    let mut c = live_console(Scenario::Calm, 3).await;
    let r = seoul(&c.app);
    let marks: Vec<(&str, Mark)> = r.checks.iter().map(|x| (x.area, x.mark)).collect();
    assert_eq!(
        marks,
        [
            ("replication", Mark::Ok),
            ("cache", Mark::Skip),
            ("capacity", Mark::Ok),
            ("drift", Mark::Warn),
            ("hpa", Mark::Warn),
            ("reachable", Mark::Ok),
            ("traffic", Mark::Ok),
            ("failback", Mark::Ok),
            ("drill", Mark::Warn),
        ],
        "{r:#?}"
    );
    assert_eq!(
        why(&c.app, "drill"),
        "warn runbook: no drill on record · `touban drill` runs one"
    );
    // The sandbox seeds Korea's ConfigMap drift and its HPA fault.
    assert!(
        why(&c.app, "drift").contains("backend-api-config data"),
        "{}",
        why(&c.app, "drift")
    );
    assert!(why(&c.app, "hpa").contains("targets Deployment backend-api, which does not exist"));
    assert_eq!(
        r.summary(),
        (
            Mark::Warn,
            "Seoul ready (lag 0.4 s / RPO 30 s) · 3 warnings".into()
        )
    );
    c.app.run(Command::Focus(Pane::Failover));
    let screen = common::text(&common::render(&c.app, 120, 30));
    assert!(
        screen.contains("DR READINESS Tokyo → Seoul ready (lag 0.4 s / RPO 30 s) · 3 warnings"),
        "{screen}"
    );
    assert!(
        screen.contains("lag 0.4 s within RPO 30 s · azure-replica"),
        "{screen}"
    );
    assert!(screen.contains("no cache in Seoul"), "{screen}");

    // Fixed: Korea's ConfigMap set to Tokyo's data, its HPA aimed at the
    // live colour.
    let tokyo = common::kube_client(&c.sandbox, "eks-tokyo").await;
    let korea = common::kube_client(&c.sandbox, "aks-korea").await;
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(tokyo.clone(), NS);
    let data = maps
        .get("backend-api-config")
        .await
        .expect("Tokyo's ConfigMap")
        .data;
    let korea_maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(korea.clone(), NS);
    patch(&korea_maps, "backend-api-config", json!({"data": data})).await;
    c.until("drift", Mark::Ok).await;
    let hpas: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> =
        Api::namespaced(korea.clone(), NS);
    patch(
        &hpas,
        "backend-api-hpa",
        json!({"spec": {"scaleTargetRef": {"name": "backend-api-blue"}}}),
    )
    .await;
    c.until("hpa", Mark::Ok).await;
    // A drill that passed an hour ago, as the audit log would say.
    let mut drills = Drills::default();
    drills.fold([Drill {
        from: "tokyo".into(),
        to: "korea".into(),
        at: c.app.now() - std::time::Duration::from_secs(3600),
        dry_run: true,
        passed: true,
        outcome: "succeeded: Seoul ready".into(),
    }]);
    c.app.handle(Event::Update(Update::Drills(drills)));
    assert_eq!(
        why(&c.app, "drill"),
        "ok runbook: last drill 1 h ago passed"
    );
    assert_eq!(
        seoul(&c.app).summary(),
        (Mark::Ok, "Seoul ready (lag 0.4 s / RPO 30 s)".into())
    );
    c.app.run(Command::Focus(Pane::Overview));
    let screen = common::text(&common::render(&c.app, 120, 30));
    assert!(
        screen.contains("DR ready (lag 0.4 s / RPO 30 s)"),
        "{screen}"
    );

    // Broken again: Korea's live frontend on another image.
    let deployments: Api<Deployment> = Api::namespaced(korea, NS);
    let image = |tag: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "web-frontend", "image": format!("iworkz/web-frontend:{tag}")}]}}}});
    patch(&deployments, "web-frontend-blue", image("3.1.4")).await;
    c.until("drift", Mark::Warn).await;
    assert_eq!(
        why(&c.app, "drift"),
        "warn eks-tokyo→aks-korea: iworkz-production/web-frontend image 3.2.0 ≠ 3.1.4"
    );
    patch(&deployments, "web-frontend-blue", image("3.2.0")).await;
    c.until("drift", Mark::Ok).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_over_the_rpo_and_a_second_primary_block_the_takeover_until_they_clear() {
    let mut c = live_console(Scenario::Calm, 4).await;
    c.sandbox.sim.lock().expect("sim").korea_lag = Some(120.0);
    c.until("replication", Mark::Fail).await;
    let (worst, verdict) = seoul(&c.app).summary();
    assert_eq!(worst, Mark::Fail);
    assert!(
        verdict.starts_with("Seoul not ready · iworkz-dr-postgres: lag 120 s over RPO 30 s"),
        "{verdict}"
    );
    c.sandbox.sim.lock().expect("sim").korea_lag = Some(20.0);
    c.until("replication", Mark::Warn).await;
    assert!(why(&c.app, "replication").contains("lag 20 s over half of RPO 30 s"));
    c.sandbox.sim.lock().expect("sim").korea_lag = None;
    c.until("replication", Mark::Ok).await;

    // Korea's database promoted while Tokyo's still takes writes.
    c.sandbox.sim.lock().expect("sim").regions[1].databases[0].role = "primary";
    c.until("primaries", Mark::Fail).await;
    assert_eq!(mark(&c.app, "replication"), Some(Mark::Fail));
    assert_eq!(
        why(&c.app, "primaries"),
        "fail iworkz-production-postgres+iworkz-dr-postgres: both accept writes: split brain; fence one before traffic moves"
    );
    c.sandbox.sim.lock().expect("sim").regions[1].databases[0].role = "replica";
    c.until("replication", Mark::Ok).await;
    assert_eq!(mark(&c.app, "primaries"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_follows_cordoned_nodes_and_requests_and_an_api_outage_is_never_ready() {
    let mut c = live_console(Scenario::Calm, 5).await;
    c.until("capacity", Mark::Ok).await;
    let korea = common::kube_client(&c.sandbox, "aks-korea").await;
    let nodes: Api<Node> = Api::all(korea);
    let names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for n in &names {
        patch(&nodes, n, json!({"spec": {"unschedulable": true}})).await;
    }
    c.until("capacity", Mark::Warn).await;
    let w = why(&c.app, "capacity");
    assert!(
        w.contains(
            "Seoul: can host 0 % of Tokyo's load (0 nodes for 9 pods); node group max allows"
        ),
        "{w}"
    );
    // Tokyo's AI pods asking for more than Korea's node groups can grow to.
    let tokyo = common::kube_client(&c.sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(tokyo, NS);
    let cpu = |q: &str| json!({"spec": {"template": {"spec": {"containers": [{"name": "ai-services", "resources": {"requests": {"cpu": q}}}]}}}});
    patch(&deployments, "ai-services-blue", cpu("200")).await;
    c.until("capacity", Mark::Fail).await;
    assert!(why(&c.app, "capacity").contains("node group max allows only"));
    patch(&deployments, "ai-services-blue", cpu("1")).await;
    for n in &names {
        patch(&nodes, n, json!({"spec": {"unschedulable": false}})).await;
    }
    c.until("capacity", Mark::Ok).await;

    // Korea's API server dies: not reachable, and what rests on it is
    // unknown, never its last reading.
    c.sandbox
        .set_api_outage("aks-korea", touban::sandbox::api::Outage::Dead);
    c.until("reachable", Mark::Fail).await;
    assert_eq!(mark(&c.app, "capacity"), Some(Mark::Unknown));
    assert_eq!(mark(&c.app, "drift"), Some(Mark::Unknown));
    assert_eq!(seoul(&c.app).verdict().0, Mark::Fail);
    assert!(why(&c.app, "reachable").starts_with("fail Seoul: aks-korea "));
    c.sandbox
        .set_api_outage("aks-korea", touban::sandbox::api::Outage::None);
    c.until("reachable", Mark::Ok).await;
    c.until("capacity", Mark::Ok).await;

    // Tokyo's API server dies: the load to take over is the one it had,
    // said so; Korea's own checks stay current.
    c.sandbox
        .set_api_outage("eks-tokyo", touban::sandbox::api::Outage::Dead);
    common::until(&mut c.app, &mut c.rx, "Tokyo's cluster not live", |a| {
        !a.source("tokyo", touban::model::SourceKind::Cluster, "eks-tokyo")
            .is_live()
    })
    .await;
    // At best a warning: never ok on what is not live.
    assert_eq!(mark(&c.app, "capacity"), Some(Mark::Warn));
    let w = why(&c.app, "capacity");
    assert!(
        w.ends_with("· by Tokyo's last known load (eks-tokyo not answering)"),
        "{w}"
    );
    assert!(why(&c.app, "drift").ends_with("· against eks-tokyo as last known"));
    assert_eq!(mark(&c.app, "reachable"), Some(Mark::Ok));
}

/// The sandbox's Cloudflare pools, through touban's own client, as an
/// operator on Cloudflare's dashboard would change them.
fn cloudflare(c: &Console) -> touban::sources::traffic::Cloudflare {
    let t = c
        .app
        .platform()
        .traffic
        .as_ref()
        .expect("[traffic] in the sandbox's config");
    touban::sources::traffic::Cloudflare::new(t).expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_balancer_s_pools_and_the_failback_hazard_follow_the_pools_and_the_roles() {
    use touban::sandbox::cloudflare::POOLS;
    let mut c = live_console(Scenario::Calm, 6).await;
    c.until("traffic", Mark::Ok).await;
    assert_eq!(
        why(&c.app, "traffic"),
        "ok iworkz-korea: enabled, healthy (1/1 origins): the balancer can send users to Seoul"
    );
    assert_eq!(
        why(&c.app, "failback"),
        "ok Tokyo pool: iworkz-tokyo enabled and Tokyo's database the primary: no failback hazard"
    );
    let cf = cloudflare(&c);
    let (tokyo, korea) = (POOLS[0].1, POOLS[1].1);

    // Korea's pool disabled: the balancer would send it no one.
    assert!(!cf.set_enabled(korea, false).await.expect("disable"));
    c.until("traffic", Mark::Fail).await;
    assert!(
        why(&c.app, "traffic")
            .contains("disabled, not health-checked: the balancer sends Seoul no users"),
        "{}",
        why(&c.app, "traffic")
    );
    assert!(cf.set_enabled(korea, true).await.expect("enable"));
    c.until("traffic", Mark::Ok).await;

    // Korea promoted while Tokyo's pool is enabled: failback would split
    // the brain.
    c.sandbox.sim.lock().expect("sim").regions[1].databases[0].role = "primary";
    c.until("failback", Mark::Fail).await;
    assert!(
        why(&c.app, "failback")
            .contains("iworkz-tokyo is enabled while Seoul's database is the primary"),
        "{}",
        why(&c.app, "failback")
    );
    // Tokyo's pool disabled, as the runbook does: no hazard.
    assert!(!cf.set_enabled(tokyo, false).await.expect("disable"));
    c.until("failback", Mark::Ok).await;
    // Korea back to a replica with Tokyo's pool still disabled: users go
    // to a read-only database.
    c.sandbox.sim.lock().expect("sim").regions[1].databases[0].role = "replica";
    c.until("failback", Mark::Fail).await;
    assert!(
        why(&c.app, "failback").contains("disabled while Tokyo's database is still the primary"),
        "{}",
        why(&c.app, "failback")
    );
    assert!(cf.set_enabled(tokyo, true).await.expect("enable"));
    c.until("failback", Mark::Ok).await;
}

//! Snapshots of every Kubernetes view from sandbox-derived state: the
//! sandbox (calm) is watched through the real kube-rs source until it has
//! settled, then each view is drawn at 80x24 and 160x48. Times in the
//! updates are moved so that the sandbox started 10.5 minutes before the
//! fixed clock: ages read the same on every run.

use std::time::{Duration, Instant, SystemTime};

use touban::app::{App, Event};
use touban::model::cluster::{ClusterChange, RowChange};
use touban::model::{Command, Pane, SourceState, Update};

mod common;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// Moves every time an update carries by `f`, and pins the one figure
/// that moves with the sandbox's clock.
fn shift(update: &mut Update, f: &dyn Fn(SystemTime) -> SystemTime) {
    fn rows<T>(change: &mut RowChange<T>, each: impl Fn(&mut T)) {
        match change {
            RowChange::Listed(_, rows) => rows.iter_mut().for_each(each),
            RowChange::Applied(row) => each(row),
            RowChange::Deleted(_) => {}
        }
    }
    let opt = |t: &mut Option<SystemTime>| *t = t.map(f);
    match update {
        Update::SourceState { state, .. } => match state {
            SourceState::Connecting { since }
            | SourceState::Error { since, .. }
            | SourceState::Stale { since, .. } => *since = f(*since),
            SourceState::Live { at } => *at = f(*at),
            SourceState::NotConnected => {}
        },
        Update::Cluster { change, .. } => match change.as_mut() {
            ClusterChange::Nodes(_) | ClusterChange::Services(_) | ClusterChange::ConfigMaps(_) => {
            }
            ClusterChange::Deployments(c) => rows(c, |r| opt(&mut r.created)),
            ClusterChange::Pods(c) => rows(c, |r| opt(&mut r.created)),
            ClusterChange::ReplicaSets(c) => rows(c, |r| opt(&mut r.created)),
            ClusterChange::Hpas(c) => rows(c, |r| {
                opt(&mut r.last_scale);
                // The sandbox's CPU load follows a ten-minute sine: pinned.
                r.cpu.current = r.cpu.current.map(|_| 50);
            }),
            ClusterChange::Events(c) => rows(c, |r| opt(&mut r.last)),
        },
        Update::Detail { .. }
        | Update::Alerts { .. }
        | Update::Data { .. }
        | Update::CloudWatch { .. }
        | Update::Figures { .. } => {}
    }
}

/// Whether both clusters are listed in full and settled.
fn settled(a: &App) -> bool {
    [("eks-tokyo", 9), ("aks-korea", 4)]
        .iter()
        .all(|(n, pods)| {
            a.cluster(n).is_some_and(|c| {
                let s = c.summary();
                s.pods == *pods
                    && s.pods_not_ready == 0
                    && s.nodes > 0
                    && c.deployments.len() == 6
                    && c.deployments.values().all(|d| d.revision.is_some())
                    && c.replica_sets.len() == 6
                    && c.services.len() == 3
                    && c.hpas.len() == 1
                    && c.config_maps.len() == 1
                    && !c.events.is_empty()
            })
        })
        && a.cluster("eks-tokyo")
            .is_some_and(|c| c.hpas.values().all(|h| h.cpu.current.is_some()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubernetes_view_from_the_sandbox() {
    let (_sandbox, _dir, mut app, mut rx) = common::watched(7).await;
    let started = SystemTime::now();
    let base = common::fixed_now() - Duration::from_secs(630);
    let f = move |t: SystemTime| base + t.duration_since(started).unwrap_or(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Settled, then a quiet second so late events are in.
    let mut quiet_from: Option<Instant> = None;
    while quiet_from.is_none_or(|t| t.elapsed() < Duration::from_secs(1)) {
        assert!(Instant::now() < deadline, "the sandbox did not settle");
        if let Ok(Some(Event::Update(mut u))) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            shift(&mut u, &f);
            app.handle(Event::Update(u));
        }
        if quiet_from.is_none() && settled(&app) {
            quiet_from = Some(Instant::now());
        }
    }

    let snap = |name: &str, app: &App| {
        for (w, h) in SIZES {
            insta::assert_snapshot!(
                format!("{name}_{w}x{h}"),
                common::text(&common::render(app, w, h))
            );
        }
    };
    snap("overview", &app);
    app.run(Command::Focus(Pane::Cluster));
    for view in ["pods", "deployments", "nodes", "events"] {
        snap(&format!("cluster_{view}"), &app);
        app.run(Command::NextView);
    }
    // One namespace, sorted by restarts.
    app.run(Command::Namespace("iworkz-production".into()));
    app.run(Command::Sort);
    app.run(Command::Sort);
    snap("cluster_pods_one_namespace", &app);
    app.run(Command::Focus(Pane::Rollouts));
    snap("rollouts", &app);
    app.run(Command::Focus(Pane::Scaling));
    snap("scaling", &app);
}

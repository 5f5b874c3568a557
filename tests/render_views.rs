//! Snapshots of every Kubernetes view from sandbox-derived state: the
//! sandbox (calm) is watched through the real kube-rs source until it has
//! settled, then each view is drawn at 80x24 and 160x48. Times in the
//! updates are moved so that the sandbox started 10.5 minutes before the
//! fixed clock: ages read the same on every run.

use std::time::{Duration, Instant, SystemTime};

use touban::app::{App, Event};
use touban::model::alert::{AlertRow, AlertSnapshot, AlertState, Origin};
use touban::model::cluster::{ClusterChange, RowChange};
use touban::model::data::{AiStatus, CacheStatus, DataStatus, DbStatus, Probe};
use touban::model::{Command, Pane, SourceId, SourceKind, SourceState, Update};

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
        | Update::LogLines { .. }
        | Update::LogEnded { .. }
        | Update::Alerts { .. }
        | Update::Data { .. }
        | Update::CloudWatch { .. }
        | Update::Figures { .. } => {}
        Update::CloudGroups { groups, .. } => groups.at = f(groups.at),
        Update::Drills(d) => {
            d.read = d.read.map(&f);
            for run in &mut d.last {
                run.at = f(run.at);
            }
        }
    }
}

/// Whether both clusters are listed in full and settled.
fn settled(a: &App) -> bool {
    [("eks-tokyo", 9), ("aks-korea", 4)]
        .iter()
        .all(|(n, pods)| {
            a.cluster(n).is_some_and(|c| {
                let s = c.summary(a.now());
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

/// The sandbox's world watched until settled, times moved so that the
/// sandbox started 10.5 minutes before the fixed clock.
async fn settled_app(seed: u64) -> (touban::sandbox::Sandbox, tempfile::TempDir, App) {
    let (sandbox, dir, mut app, mut rx) = common::watched(seed).await;
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
    (sandbox, dir, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubernetes_view_from_the_sandbox() {
    let (_sandbox, _dir, mut app) = settled_app(7).await;

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
    // The filter matches the cluster column too: every table keeps Korea's
    // rows, none of Tokyo's.
    app.run(Command::Filter);
    for c in "aks-korea".chars() {
        app.handle(Event::Key(touban::model::Key::char(c)));
    }
    app.handle(Event::Key(touban::model::Key::plain(
        touban::model::KeyCode::Enter,
    )));
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(!screen.contains("eks-tokyo "), "{screen}");
    // The selection (Enter opens its source) is on a cluster on screen.
    assert_eq!(
        app.selected_source(Pane::Scaling).map(|id| id.name),
        Some("aks-korea".to_owned())
    );
    for table in [
        "backend-api-hpa",
        "general",
        "iworkz-production/backend-api",
    ] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with("aks-korea") && l.contains(table)),
            "{table} of aks-korea kept:\n{screen}"
        );
    }
}

fn set(app: &mut App, region: &str, kind: SourceKind, name: &str, state: SourceState) {
    app.handle(Event::Update(Update::SourceState {
        id: SourceId::new(region, kind, name),
        state,
    }));
}

fn data(app: &mut App, region: &str, kind: SourceKind, name: &str, status: DataStatus) {
    app.handle(Event::Update(Update::Data {
        id: SourceId::new(region, kind, name),
        status: Box::new(status),
    }));
}

fn alert(
    region: &str,
    source: &str,
    name: &str,
    severity: &str,
    labels: &[(&str, &str)],
) -> AlertRow {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain([
            ("alertname".to_owned(), name.to_owned()),
            ("severity".to_owned(), severity.to_owned()),
        ])
        .collect();
    labels.sort();
    AlertRow {
        fingerprint: format!("{region}-{name}"),
        region: region.into(),
        source: source.into(),
        origin: Some(Origin::Alertmanager),
        name: name.into(),
        severity: severity.into(),
        team: "platform".into(),
        state: Some(AlertState::Firing),
        since: Some(common::fixed_now() - Duration::from_secs(240)),
        summary: format!("{name} (test)"),
        labels,
        ..AlertRow::default()
    }
}

/// Every source of the region whose column spans `columns` is on screen:
/// its name (or, for alert sources in the compact layout, the alerts line)
/// and the frontend.
fn every_cell_visible(app: &App, screen: &str, region: &str, columns: std::ops::Range<usize>) {
    // By display columns: a double-width character takes two.
    let column: String = screen
        .lines()
        .map(|l| {
            let mut at = 0;
            let mut out = String::new();
            for c in l.chars() {
                if columns.contains(&at) {
                    out.push(c);
                }
                at += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            }
            out + "\n"
        })
        .collect();
    for id in app.platform().source_ids() {
        // The load balancer's pools are the Failover pane's, not a cell.
        if id.region != region || id.kind == SourceKind::Traffic {
            continue;
        }
        let shown = match id.kind {
            SourceKind::Alerts => format!("{} ", touban::i18n::t(app.language(), "header-alerts")),
            _ => id.name.chars().take(8).collect(),
        };
        assert!(column.contains(&shown), "{id} not on screen:\n{column}");
    }
    assert!(
        column.contains("web-frontend"),
        "the frontend cell:\n{column}"
    );
}

/// The Overview at 80x24 in the incidents scenario's worst minute (a pod
/// crash-looping in Tokyo, its alert and the AI latency alert firing, the
/// AI p95 over its threshold) and in outage-tokyo (Tokyo's API black-holed,
/// its database down, its cache and AI unreachable, Seoul fine): every cell
/// of both regions on screen, the verdicts whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_at_80x24_in_the_incidents_and_the_outage() {
    let (_sandbox, _dir, mut app) = settled_app(8).await;
    incidents(&mut app);
    let screen = common::text(&common::render(&app, 80, 24));
    every_cell_visible(&app, &screen, "tokyo", 0..40);
    every_cell_visible(&app, &screen, "korea", 40..80);
    insta::assert_snapshot!("overview_incidents_80x24", screen);

    outage(&mut app);
    let screen = common::text(&common::render(&app, 80, 24));
    every_cell_visible(&app, &screen, "tokyo", 0..40);
    every_cell_visible(&app, &screen, "korea", 40..80);
    assert!(!screen.contains("alerts Tok 0"), "{screen}");
    insta::assert_snapshot!("overview_outage_80x24", screen);
    // Wide, the Tokyo cluster's problem counts are unknown, never zero.
    let wide = common::text(&common::render(&app, 160, 48));
    let tokyo_column: String = wide
        .lines()
        .map(|l| l.chars().take(80).collect::<String>() + "\n")
        .collect();
    assert!(
        tokyo_column.contains("? not ready · ? crash-looping"),
        "{wide}"
    );
    assert!(!tokyo_column.contains("0 not ready"), "{wide}");
    let tokyo = app.region_verdict("tokyo");
    assert_eq!(
        tokyo.level,
        touban::model::verdict::Level::Crit,
        "{tokyo:?}"
    );
}

/// The incidents scenario's worst minute: the AI latency over its
/// threshold for three polls, two alerts firing in Tokyo, the rest live.
/// A healthy-looking data tier: an AI service with the given p95, a database
/// in a role, a cache.
fn healthy_data() -> (
    impl Fn(f64) -> DataStatus,
    impl Fn(&str, bool) -> DataStatus,
    DataStatus,
) {
    let probe = |code: u16| {
        Some(Probe {
            outcome: Ok(code),
            latency: Duration::from_millis(4),
        })
    };
    let healthy_ai = move |p95: f64| {
        DataStatus::Ai(AiStatus {
            health: probe(200),
            ready: probe(200),
            p95_inference: Some(p95),
            accuracy: Some(0.93),
            error_rate: Some(0.004),
            ..AiStatus::default()
        })
    };
    let db = |role: &str, up: bool| {
        DataStatus::Database(DbStatus {
            via: "exporter",
            up,
            role: Some(role.into()),
            connections: Some((48.0, 200.0)),
            replay_lag: (role == "replica").then_some(0.3),
            ..DbStatus::default()
        })
    };
    let cache = DataStatus::Cache(CacheStatus {
        via: "exporter",
        up: true,
        role: Some("master".into()),
        memory: Some((2.0e9, 6.0e9)),
        hit_rate: Some(0.97),
        ..CacheStatus::default()
    });
    (healthy_ai, db, cache)
}

fn incidents(app: &mut App) {
    let now = common::fixed_now();
    let (healthy_ai, db, cache) = healthy_data();
    for region in ["tokyo", "korea"] {
        for id in app.platform().source_ids() {
            if id.region == region && id.kind != SourceKind::Cluster {
                set(
                    app,
                    region,
                    id.kind,
                    &id.name,
                    SourceState::Live { at: now },
                );
            }
        }
    }
    data(
        app,
        "tokyo",
        SourceKind::Database,
        "iworkz-production-postgres",
        db("primary", true),
    );
    data(
        app,
        "korea",
        SourceKind::Database,
        "iworkz-dr-postgres",
        db("replica", true),
    );
    data(
        app,
        "tokyo",
        SourceKind::Cache,
        "iworkz-production-redis",
        cache.clone(),
    );
    // Incidents: the AI latency over its threshold for three polls, two
    // alerts firing in Tokyo.
    for _ in 0..3 {
        data(
            app,
            "tokyo",
            SourceKind::AiService,
            "ai-services",
            healthy_ai(3.2),
        );
    }
    data(
        app,
        "korea",
        SourceKind::AiService,
        "ai-services",
        healthy_ai(0.4),
    );
    let firing = vec![
        alert(
            "tokyo",
            "alertmanager",
            "PodCrashLooping",
            "critical",
            &[
                ("namespace", "iworkz-production"),
                ("pod", "backend-api-blue-7d9f8b6c4-x2k9p"),
            ],
        ),
        alert(
            "tokyo",
            "alertmanager",
            "AIModelInferenceLatency",
            "warning",
            &[("service", "ai-services")],
        ),
    ];
    app.handle(Event::Update(Update::Alerts {
        id: SourceId::new("tokyo", SourceKind::Alerts, "alertmanager"),
        snapshot: AlertSnapshot {
            alerts: firing,
            ..AlertSnapshot::default()
        },
    }));
}

/// outage-tokyo: Tokyo's API black-holed with its watches open, its
/// database down, cache and AI not answering, its Alertmanager silent.
fn outage(app: &mut App) {
    let now = common::fixed_now();
    let db = |up: bool| {
        DataStatus::Database(DbStatus {
            via: "exporter",
            up,
            role: Some("primary".into()),
            connections: Some((48.0, 200.0)),
            ..DbStatus::default()
        })
    };
    let since = now - Duration::from_secs(40);
    set(
        app,
        "tokyo",
        SourceKind::Cluster,
        "eks-tokyo",
        SourceState::Stale {
            since,
            why: "API not answering (no answer within 5 s) for 40 s; watch still streaming".into(),
        },
    );
    data(
        app,
        "tokyo",
        SourceKind::Database,
        "iworkz-production-postgres",
        db(false),
    );
    for (kind, name, why) in [
        (
            SourceKind::Cache,
            "iworkz-production-redis",
            "no answer within 5 s",
        ),
        (
            SourceKind::AiService,
            "ai-services",
            "neither /health nor /ready answers: timed out",
        ),
        (SourceKind::Alerts, "alertmanager", "no answer within 5 s"),
    ] {
        set(
            app,
            "tokyo",
            kind,
            name,
            SourceState::Stale {
                since,
                why: why.into(),
            },
        );
    }
}

/// Every pane in Japanese and Korean at 80×24, on the incidents' worst
/// minute: double-width words hold the layout (nothing pushed off a line,
/// both regions' columns whole), the catalogue's words in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pane_in_japanese_and_korean_at_80x24() {
    use touban::i18n::Language;
    let (_sandbox, _dir, mut app) = settled_app(8).await;
    incidents(&mut app);
    for (lang, overview) in [(Language::Ja, "概要"), (Language::Ko, "개요")] {
        app.set_language(lang);
        for &pane in Pane::ALL {
            app.run(touban::model::Command::Focus(pane));
            let screen = common::text(&common::render(&app, 80, 24));
            assert!(screen.contains(overview), "{screen}");
            for line in screen.lines() {
                assert_eq!(
                    unicode_width::UnicodeWidthStr::width(line),
                    80,
                    "a line not 80 columns wide in {} {pane}: {line:?}\n{screen}",
                    lang.code()
                );
            }
            insta::assert_snapshot!(format!("{}_{}_80x24", lang.code(), pane.name()), screen);
        }
    }
    app.run(touban::model::Command::Focus(Pane::Overview));
    let screen = common::text(&common::render(&app, 80, 24));
    every_cell_visible(&app, &screen, "tokyo", 0..40);
    every_cell_visible(&app, &screen, "korea", 40..80);
}

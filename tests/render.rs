//! Render tests: insta snapshots of `TestBackend` frames from fixed state.
//! Theme snapshots keep styles (the buffer's Debug form lists style runs),
//! so a change of colour shows in review; pane snapshots keep the text.

mod common;

use std::time::Duration;

use common::{app, fixed_now, loaded, render, text};
use touban::app::overlay::{ConfirmDialog, Confirmed};
use touban::app::{App, Event};
use touban::config::platform::Language;
use touban::model::{
    JobEvent, JobId, Key, KeyCode, Pane, SourceId, SourceKind, SourceState, Update,
};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn keys(app: &mut App, typed: &str) {
    for c in typed.chars() {
        app.handle(Event::Key(Key::char(c)));
    }
}

fn press(app: &mut App, code: KeyCode) {
    app.handle(Event::Key(Key::plain(code)));
}

#[test]
fn shell_in_each_theme() {
    for theme in ["default", "light", "high-contrast", "mono"] {
        for (w, h) in SIZES {
            let app = App::new(loaded(theme, "default"), fixed_now());
            insta::assert_debug_snapshot!(format!("shell_{theme}_{w}x{h}"), render(&app, w, h));
        }
    }
}

#[test]
fn every_pane_at_both_sizes() {
    for &pane in Pane::ALL {
        for (w, h) in SIZES {
            let mut app = app();
            app.run(touban::model::Command::Focus(pane));
            insta::assert_snapshot!(
                format!("pane_{}_{w}x{h}", pane.name()),
                text(&render(&app, w, h))
            );
        }
    }
}

#[test]
fn source_health_shows_state_and_age() {
    let mut app = app();
    let at = |secs| fixed_now() - Duration::from_secs(secs);
    let updates = [
        (
            SourceId::new("tokyo", SourceKind::Cluster, "eks-tokyo"),
            SourceState::Live { at: at(2) },
        ),
        (
            SourceId::new("korea", SourceKind::Cluster, "aks-korea"),
            SourceState::Error {
                message: "connect to 10.1.0.1:443: connection refused".into(),
                since: at(75),
            },
        ),
        (
            SourceId::new("tokyo", SourceKind::Database, "iworkz-production-postgres"),
            SourceState::Stale {
                since: at(600),
                why: "the API server stopped answering".into(),
            },
        ),
        (
            SourceId::new("korea", SourceKind::AiService, "ai-services"),
            SourceState::Connecting { since: at(1) },
        ),
    ];
    for (id, state) in updates {
        app.handle(Event::Update(Update::SourceState { id, state }));
    }
    insta::assert_snapshot!("overview_with_source_states", text(&render(&app, 160, 30)));
}

#[test]
fn help_is_built_from_the_keymap() {
    let mut app = App::new(loaded("default", "vim"), fixed_now());
    keys(&mut app, "?");
    insta::assert_snapshot!("help_vim_160x48", text(&render(&app, 160, 48)));
    let mut app = app_with_pane(Pane::Alerts);
    keys(&mut app, "?");
    insta::assert_snapshot!("help_default_80x24", text(&render(&app, 80, 24)));
    // Its end: the commands in one column however long their names, and
    // the legend of states, one key away.
    for _ in 0..20 {
        press(&mut app, KeyCode::PageDown);
    }
    let end = text(&render(&app, 120, 72));
    insta::assert_snapshot!("help_end_120x60", end);
    let doc_at = |name: &str| {
        end.lines().find(|l| l.contains(name)).map(|l| {
            let at = l.find(name).unwrap_or(0) + name.len();
            at + l[at..].len() - l[at..].trim_start().len()
        })
    };
    assert!(end.contains(":node-group GROUP SIZE "), "{end}");
    assert!(
        end.contains("between its steps; forget one"),
        "a doc comment's lines joined by a space:\n{end}"
    );
    assert_eq!(
        doc_at(":cache-failover CACHE"),
        doc_at(":sort"),
        "docs aligned:\n{end}"
    );
    for word in ["live", "stale", "error", "pending", "starting", "unknown"] {
        assert!(
            end.lines()
                .any(|l| l.trim_start_matches(['║', ' ']).starts_with(word)),
            "`{word}` in the legend:\n{end}"
        );
    }
}

fn app_with_pane(pane: Pane) -> App {
    let mut app = app();
    app.run(touban::model::Command::Focus(pane));
    app
}

#[test]
fn command_line_with_completions() {
    let mut app = app();
    keys(&mut app, ":");
    press(&mut app, KeyCode::Tab);
    insta::assert_snapshot!("command_line_completion_80x24", text(&render(&app, 80, 24)));
}

#[test]
fn filter_line_and_filtered_title() {
    let mut app = app_with_pane(Pane::Data);
    keys(&mut app, "/dr");
    insta::assert_snapshot!("filter_typing_80x24", text(&render(&app, 80, 24)));
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("filter_applied_80x24", text(&render(&app, 80, 24)));
}

#[test]
fn confirm_dialogs() {
    let mut quitting = app();
    quitting.handle(Event::Job(JobEvent::Queued {
        id: JobId(1),
        title: "scale backend-api-blue to 6".into(),
        at: fixed_now(),
    }));
    keys(&mut quitting, "q");
    assert!(
        !quitting.should_quit(),
        "a running job makes quit ask first"
    );
    insta::assert_debug_snapshot!("confirm_quit_80x24", render(&quitting, 80, 24));

    let mut app = app();
    app.confirm(
        ConfirmDialog::new(
            "Fail over the database to Seoul",
            vec![
                ("region".into(), "Tokyo → Seoul".into()),
                ("database".into(), "iworkz-production-postgres".into()),
            ],
            "Promotes the Seoul replica. This cannot be undone from touban.",
            Confirmed::Quit,
        )
        .typed("iworkz-production-postgres"),
    );
    keys(&mut app, "iworkz");
    insta::assert_snapshot!("confirm_typed_80x24", text(&render(&app, 80, 24)));
}

#[test]
fn jobs_pane_folds_job_events() {
    let mut app = app_with_pane(Pane::Jobs);
    let events = [
        JobEvent::Queued {
            id: JobId(1),
            title: "scale backend-api-blue to 6".into(),
            at: fixed_now() - Duration::from_secs(90),
        },
        JobEvent::Step {
            id: JobId(1),
            step: "patch deployments/backend-api-blue/scale".into(),
            index: 1,
            of: 2,
        },
        JobEvent::Finished {
            id: JobId(1),
            outcome: touban::model::JobOutcome::Succeeded,
            at: fixed_now(),
        },
        JobEvent::Queued {
            id: JobId(2),
            title: "restart ai-services-green".into(),
            at: fixed_now() - Duration::from_secs(5),
        },
        JobEvent::Step {
            id: JobId(2),
            step: "wait for rollout".into(),
            index: 2,
            of: 3,
        },
    ];
    for e in events {
        app.handle(Event::Job(e));
    }
    insta::assert_snapshot!("jobs_80x24", text(&render(&app, 80, 24)));
}

#[test]
fn japanese_titles_fit_a_narrow_pane_bar() {
    let mut loaded = loaded("default", "default");
    loaded.platform.settings.language = Some(Language::Ja);
    let app = App::new(loaded, fixed_now());
    insta::assert_snapshot!("overview_ja_80x24", text(&render(&app, 80, 24)));
}

#[test]
fn read_only_shows_its_badge() {
    let mut loaded = loaded("default", "default");
    loaded.read_only_flag = true;
    let app = App::new(loaded, fixed_now());
    let screen = text(&render(&app, 80, 24));
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(" READ-ONLY ")),
        "{screen}"
    );
}

#[test]
fn a_read_only_cluster_is_named_in_the_badge() {
    let mut loaded = loaded("default", "default");
    if let Some(korea) = loaded
        .platform
        .clusters
        .iter_mut()
        .find(|c| c.name.get_ref() == "aks-korea")
    {
        korea.read_only = Some(true);
    }
    let app = App::new(loaded, fixed_now());
    let screen = text(&render(&app, 80, 24));
    assert!(
        screen
            .lines()
            .next()
            .is_some_and(|l| l.ends_with(" READ-ONLY: aks-korea ")),
        "{screen}"
    );
}

#[test]
fn keymap_warnings_reach_the_footer_and_the_messages_overlay() {
    let mut loaded = loaded("default", "default");
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keymaps/user.toml"
    ))
    .expect("fixture");
    loaded.warnings = loaded.keymap.merge("keymap.toml", &src);
    let mut app = App::new(loaded, fixed_now());
    insta::assert_snapshot!("keymap_warnings_footer_80x24", text(&render(&app, 80, 24)));
    keys(&mut app, "!");
    insta::assert_snapshot!(
        "keymap_warnings_messages_120x30",
        text(&render(&app, 120, 30))
    );
}

#[test]
fn overview_cluster_cells_from_watched_state() {
    use touban::model::cluster::{ClusterChange, DeploymentRow, NodeRow, PodRow, RowChange};
    let mut app = app();
    let id = SourceId::new("tokyo", SourceKind::Cluster, "eks-tokyo");
    let node = |i: usize| NodeRow {
        name: format!("ip-10-0-1-{i}"),
        group: "general".into(),
        zone: "ap-northeast-1a".into(),
        instance_type: "m6i.large".into(),
        ready: true,
        unschedulable: false,
        taints: vec![],
        allocatable: (2000, 8 << 30),
    };
    let pod = |name: &str, status: &str, ready: u16| PodRow {
        namespace: "iworkz-production".into(),
        name: name.into(),
        status: status.into(),
        ready,
        containers: 1,
        restarts: if status == "CrashLoopBackOff" { 7 } else { 0 },
        node: "ip-10-0-1-0".into(),
        created: None,
        startup: std::time::Duration::ZERO,
        labels: vec![],
        ports: vec![8080],
        container_names: vec!["backend-api".into()],
    };
    let deployment = DeploymentRow {
        namespace: "iworkz-production".into(),
        name: "backend-api-blue".into(),
        desired: 3,
        ready: 2,
        updated: 3,
        available: 2,
        image: "iworkz/backend-api:2.14.0".into(),
        color: Some("blue".into()),
        progressing: Some("ReplicaSetUpdated".into()),
        replicas: 3,
        generation: 2,
        observed_generation: 2,
        app: Some("backend-api".into()),
        revision: Some(2),
        created: None,
        restarted_at: None,
        requests: (250, 512 << 20),
    };
    for change in [
        ClusterChange::Nodes(RowChange::Listed(None, (0..9).map(node).collect())),
        ClusterChange::Deployments(RowChange::Listed(None, vec![deployment])),
        ClusterChange::Pods(RowChange::Listed(
            None,
            vec![
                pod("backend-api-blue-a", "Running", 1),
                pod("backend-api-blue-b", "Running", 1),
                pod("backend-api-blue-c", "CrashLoopBackOff", 0),
            ],
        )),
    ] {
        app.handle(Event::Update(Update::Cluster {
            id: id.clone(),
            change: Box::new(change),
        }));
    }
    app.handle(Event::Update(Update::SourceState {
        id,
        state: SourceState::Live {
            at: fixed_now() - Duration::from_secs(1),
        },
    }));
    for (w, h) in SIZES {
        insta::assert_snapshot!(
            format!("overview_cluster_cell_{w}x{h}"),
            text(&render(&app, w, h))
        );
    }
    // The same state in the Cluster pane, each view, and filtered by status.
    app.run(touban::model::Command::Focus(Pane::Cluster));
    for view in ["pods", "deployments", "nodes"] {
        insta::assert_snapshot!(
            format!("cluster_{view}_100x20"),
            text(&render(&app, 100, 20))
        );
        app.run(touban::model::Command::NextView);
    }
    keys(&mut app, "/crash");
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("cluster_pods_filtered_100x20", text(&render(&app, 100, 20)));
}

#[test]
fn alerts_pane_groups_by_severity_and_team_and_sets_silenced_apart() {
    use touban::model::alert::{AlertRow, AlertSnapshot, AlertState, Origin};
    let mut app = app();
    let alert = |name: &str, severity: &str, team: &str, state: AlertState, ago: u64| {
        let labels: Vec<(String, String)> = vec![
            ("alertname".into(), name.into()),
            ("severity".into(), severity.into()),
            ("team".into(), team.into()),
        ];
        AlertRow {
            fingerprint: touban::model::alert::fingerprint(
                labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            region: "tokyo".into(),
            source: "alertmanager".into(),
            origin: Some(Origin::Alertmanager),
            name: name.into(),
            severity: severity.into(),
            team: team.into(),
            state: Some(state),
            since: Some(fixed_now() - Duration::from_secs(ago)),
            fires_at: (state == AlertState::Pending).then(|| fixed_now() + Duration::from_secs(40)),
            summary: format!("{name}: what the rule says"),
            labels,
            ..AlertRow::default()
        }
    };
    let snapshot = AlertSnapshot {
        alerts: vec![
            alert(
                "HighAPILatency",
                "warning",
                "backend",
                AlertState::Silenced,
                900,
            ),
            alert(
                "PodCrashLooping",
                "critical",
                "platform",
                AlertState::Firing,
                300,
            ),
            alert(
                "AIModelInferenceLatency",
                "warning",
                "ai",
                AlertState::Firing,
                120,
            ),
            alert(
                "ServiceDown",
                "critical",
                "platform",
                AlertState::Pending,
                20,
            ),
            alert(
                "AIModelAccuracyDrop",
                "critical",
                "ai",
                AlertState::Firing,
                60,
            ),
        ],
        silences: vec![],
        malformed: 0,
    };
    app.handle(Event::Update(Update::Alerts {
        id: SourceId::new("tokyo", SourceKind::Alerts, "alertmanager"),
        snapshot,
    }));
    app.handle(Event::Update(Update::SourceState {
        id: SourceId::new("tokyo", SourceKind::Alerts, "alertmanager"),
        state: SourceState::Live { at: fixed_now() },
    }));
    // Not yet seen: the header marks two new critical alerts.
    insta::assert_snapshot!("alerts_new_in_header_120x30", text(&render(&app, 120, 30)));
    app.run(touban::model::Command::Focus(Pane::Alerts));
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("alerts_{w}x{h}"), text(&render(&app, w, h)));
    }
    app.run(touban::model::Command::Select);
    insta::assert_snapshot!("alerts_detail_100x30", text(&render(&app, 100, 30)));
}

#[test]
#[allow(clippy::too_many_lines)] // the figures of three sources, spelled out
fn data_and_ai_panes_show_figures_against_thresholds() {
    use touban::model::data::{
        AiStatus, CacheStatus, DataStatus, DbStatus, History, Probe, ReplicaLink,
    };
    let mut app = app();
    let history = |v: &[f64]| History(v.iter().copied().collect());
    let update = |app: &mut App, region: &str, kind: SourceKind, name: &str, status: DataStatus| {
        let id = SourceId::new(region, kind, name);
        app.handle(Event::Update(Update::SourceState {
            id: id.clone(),
            state: SourceState::Live { at: fixed_now() },
        }));
        app.handle(Event::Update(Update::Data {
            id,
            status: Box::new(status),
        }));
    };
    update(
        &mut app,
        "tokyo",
        SourceKind::Database,
        "iworkz-production-postgres",
        DataStatus::Database(DbStatus {
            via: "direct",
            up: true,
            role: Some("primary".into()),
            version: Some("16.4".into()),
            uptime: Some(Duration::from_secs(9 * 86_400)),
            connections: Some((172.0, 200.0)),
            cache_hit: Some(0.991),
            longest_transaction: Some(Duration::from_secs(42)),
            replicas: vec![ReplicaLink {
                name: "iworkz-dr (10.1.0.5)".into(),
                state: "streaming".into(),
                lag_bytes: Some(16_384.0),
                lag_seconds: Some(0.4),
            }],
            connections_history: history(&[0.5, 0.6, 0.8, 0.86]),
            ..DbStatus::default()
        }),
    );
    update(
        &mut app,
        "korea",
        SourceKind::Database,
        "iworkz-dr-postgres",
        DataStatus::Database(DbStatus {
            via: "exporter",
            up: true,
            role: Some("replica".into()),
            connections: Some((12.0, 200.0)),
            replay_lag: Some(340.0),
            lag_history: history(&[1.0, 40.0, 120.0, 340.0]),
            ..DbStatus::default()
        }),
    );
    update(
        &mut app,
        "tokyo",
        SourceKind::Cache,
        "iworkz-production-redis",
        DataStatus::Cache(CacheStatus {
            via: "exporter",
            up: true,
            role: Some("master".into()),
            clients: Some(70.0),
            memory: Some((7.5e9, 8.0e9)),
            hit_rate: Some(0.93),
            ops: Some(1250.0),
            evictions: Some(0.0),
            memory_history: history(&[0.8, 0.85, 0.9, 0.94]),
            ..CacheStatus::default()
        }),
    );
    let ok = |ms| Probe {
        outcome: Ok(200),
        latency: Duration::from_millis(ms),
    };
    update(
        &mut app,
        "tokyo",
        SourceKind::AiService,
        "ai-services",
        DataStatus::Ai(AiStatus {
            health: Some(ok(3)),
            ready: Some(Probe {
                outcome: Ok(503),
                latency: Duration::from_millis(5),
            }),
            p95_inference: Some(3.1),
            accuracy: Some(0.83),
            error_rate: Some(0.012),
            p95_history: history(&[0.9, 1.0, 2.6, 3.1]),
            accuracy_history: history(&[0.92, 0.9, 0.86, 0.83]),
            metrics_error: None,
        }),
    );
    update(
        &mut app,
        "korea",
        SourceKind::AiService,
        "ai-services",
        DataStatus::Ai(AiStatus {
            health: Some(ok(2)),
            ready: Some(ok(2)),
            p95_inference: Some(0.9),
            accuracy: Some(0.91),
            error_rate: Some(0.004),
            ..AiStatus::default()
        }),
    );
    for (w, h) in SIZES {
        insta::assert_snapshot!(
            format!("overview_data_cells_{w}x{h}"),
            text(&render(&app, w, h))
        );
    }
    for pane in [Pane::Data, Pane::Ai] {
        app.run(touban::model::Command::Focus(pane));
        for (w, h) in SIZES {
            insta::assert_snapshot!(
                format!("{}_figures_{w}x{h}", pane.name()),
                text(&render(&app, w, h))
            );
        }
    }
    source_details(&mut app);
}

/// Enter on a source in the Data, AI, Failover and Scaling panes opens it
/// whole: state, endpoints, figures, thresholds, and how long each crossed
/// rule has held.
fn source_details(app: &mut App) {
    use touban::model::Command;
    // The AI pane (focused last): Tokyo's service, first in its list.
    press(app, KeyCode::Enter);
    let ai = text(&render(app, 110, 40));
    insta::assert_snapshot!("ai_source_detail_110x40", ai);
    for said in [
        "ai-services · AI service · Tokyo",
        "Reads from",
        "degraded above 2 s",
        "failing below 85 %",
        "held 1/3 polls",
    ] {
        assert!(ai.contains(said), "`{said}` in:\n{ai}");
    }
    press(app, KeyCode::Esc);
    // The Data pane: down once from Tokyo's database is Tokyo's cache.
    app.run(Command::Focus(Pane::Data));
    app.run(Command::Down);
    press(app, KeyCode::Enter);
    let cache = text(&render(app, 110, 40));
    for said in [
        "iworkz-production-redis · cache · Tokyo",
        "degraded above 85 % of maxmemory",
        "memory",
    ] {
        assert!(cache.contains(said), "`{said}` in:\n{cache}");
    }
    press(app, KeyCode::Esc);
    // Scaling: a cluster, read from its kubeconfig context.
    app.run(Command::Focus(Pane::Scaling));
    press(app, KeyCode::Enter);
    let cluster = text(&render(app, 110, 40));
    assert!(
        cluster.contains("· Kubernetes cluster · Tokyo"),
        "{cluster}"
    );
    assert!(cluster.contains("context"), "{cluster}");
    press(app, KeyCode::Esc);
    // Jobs: with no job, Enter opens nothing.
    app.run(Command::Focus(Pane::Jobs));
    press(app, KeyCode::Enter);
    assert!(app.overlays().is_empty());
}

/// The Failover pane's readiness block from hand-fed readings: a logical
/// pair read on the primary, Korea too small now but able to grow, its
/// ConfigMap drifted, every source live.
#[test]
fn failover_readiness_from_fed_state() {
    use touban::model::cluster::{ClusterChange, ConfigMapRow, DeploymentRow, NodeRow, RowChange};
    let mut app = app();
    let at = fixed_now() - Duration::from_secs(3);
    for id in app.platform().source_ids() {
        app.handle(Event::Update(Update::SourceState {
            id,
            state: SourceState::Live { at },
        }));
    }
    let node = |i: usize| NodeRow {
        name: format!("aks-general-{i}"),
        group: "general".into(),
        ready: true,
        allocatable: (2000, 8 << 30),
        ..NodeRow::default()
    };
    let deployment = |replicas: i32| DeploymentRow {
        namespace: "iworkz-production".into(),
        name: "backend-api".into(),
        desired: replicas,
        ready: replicas,
        available: replicas,
        image: "iworkz/backend-api:2.14.0".into(),
        requests: (1000, 2 << 30),
        ..DeploymentRow::default()
    };
    let config = |hash: u64| ConfigMapRow {
        namespace: "iworkz-production".into(),
        name: "backend-api-config".into(),
        keys: 5,
        hash,
    };
    let fed = [
        ("eks-tokyo", "tokyo", vec![], 12, 0xd7e5_5347_0000_0000),
        (
            "aks-korea",
            "korea",
            (0..2).map(node).collect(),
            1,
            0xb2a5_c54e_0000_0000,
        ),
    ];
    for (name, region, nodes, replicas, hash) in fed {
        let id = SourceId::new(region, SourceKind::Cluster, name);
        for change in [
            ClusterChange::Nodes(RowChange::Listed(None, nodes)),
            ClusterChange::Deployments(RowChange::Listed(None, vec![deployment(replicas)])),
            ClusterChange::ConfigMaps(RowChange::Listed(None, vec![config(hash)])),
        ] {
            app.handle(Event::Update(Update::Cluster {
                id: id.clone(),
                change: Box::new(change),
            }));
        }
    }
    feed_pair(&mut app);
    app.run(touban::model::Command::Focus(Pane::Failover));
    for (w, h) in SIZES {
        insta::assert_snapshot!(
            format!("failover_readiness_{w}x{h}"),
            text(&render(&app, w, h))
        );
    }
    app.run(touban::model::Command::Focus(Pane::Overview));
    let overview = text(&render(&app, 160, 48));
    assert!(
        overview.contains("DR ready (lag 12 s / RPO 30 s) · 4 warnings"),
        "{overview}"
    );
}

/// The example's replication pair as read: Tokyo's primary directly, its
/// subscription 12 s behind; Korea's subscriber, writable, by its exporter.
fn feed_pair(app: &mut App) {
    use touban::model::data::{DataStatus, DbStatus, ReplicaLink};
    let db = |region: &str, name: &str, status: DbStatus| {
        Event::Update(Update::Data {
            id: SourceId::new(region, SourceKind::Database, name),
            status: Box::new(DataStatus::Database(status)),
        })
    };
    app.handle(db(
        "tokyo",
        "iworkz-production-postgres",
        DbStatus {
            via: "direct",
            up: true,
            role: Some("primary".into()),
            replicas: vec![ReplicaLink {
                name: "iworkz_dr".into(),
                state: "streaming".into(),
                lag_bytes: Some(4096.0),
                lag_seconds: Some(12.0),
            }],
            ..DbStatus::default()
        },
    ));
    app.handle(db(
        "korea",
        "iworkz-dr-postgres",
        DbStatus {
            via: "exporter",
            up: true,
            role: Some("primary".into()),
            ..DbStatus::default()
        },
    ));
    // The load balancer's pools, both enabled and healthy.
    for (region, name) in [("tokyo", "iworkz-tokyo"), ("korea", "iworkz-korea")] {
        app.handle(Event::Update(Update::Data {
            id: SourceId::new(
                region,
                SourceKind::Traffic,
                touban::config::platform::TRAFFIC,
            ),
            status: Box::new(DataStatus::Pool(touban::model::traffic::PoolStatus {
                id: format!("{name}-pool-id"),
                name: name.into(),
                enabled: true,
                disabled_at: None,
                healthy: Some(true),
                origins: (1, 1),
                failure: None,
            })),
        }));
    }
}

/// `:language ko` switches the interface at run time, `:language xx` is
/// refused with the choices (in Korean now, as every status-line message),
/// and LANG-style codes read as their language.
#[test]
fn the_language_command_switches_the_interface_at_run_time() {
    use touban::i18n::Language;
    let mut app = App::new(loaded("default", "default"), fixed_now());
    assert!(text(&render(&app, 80, 24)).contains("Overview"));
    app.run(touban::model::Command::Language("ko".into()));
    let screen = text(&render(&app, 80, 24));
    assert!(
        screen.contains("개요") && !screen.contains("Overview"),
        "{screen}"
    );
    app.run(touban::model::Command::Language("xx".into()));
    assert_eq!(
        app.status().map(|m| m.text.as_str()),
        Some("알 수 없는 언어 `xx`: en, ja, ko 중 하나를 지정")
    );
    assert_eq!(app.language(), Language::Ko);
    app.run(touban::model::Command::Language("en".into()));
    app.run(touban::model::Command::Language("xx".into()));
    assert_eq!(
        app.status().map(|m| m.text.as_str()),
        Some("unknown language `xx`: expected en, ja or ko")
    );
    assert_eq!(Language::from_code("ja_JP.UTF-8"), Some(Language::Ja));
    assert_eq!(Language::from_code("ko-KR"), Some(Language::Ko));
    assert_eq!(Language::from_code("C.UTF-8"), None);
}

/// A refused action is said in the console's language, the reason and the
/// pane named in it too; the command it quotes stays as typed.
#[test]
fn a_refused_action_is_said_in_the_console_language() {
    use touban::i18n::Language;
    let mut app = App::new(loaded("default", "default"), fixed_now());
    app.run(touban::model::Command::Scale("3".into()));
    assert_eq!(
        app.status().map(|m| m.text.as_str()),
        Some(
            "`scale 3`: the Overview pane has no deployment to act on: select one in the Cluster pane's Deployments view or the Rollouts pane"
        )
    );
    app.set_language(Language::Ja);
    app.run(touban::model::Command::Scale("3".into()));
    assert_eq!(
        app.status().map(|m| m.text.as_str()),
        Some(
            "`scale 3`: 概要ペインには操作対象のデプロイメントなし: クラスタペインのデプロイメントビューかロールアウトペインで選択"
        )
    );
}

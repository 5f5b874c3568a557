//! The alert sources against real servers: a Prometheus loaded with the
//! seed's ten rules, scraping a target this test serves and stops, and
//! sending to a real Alertmanager; and the sandbox (its Alertmanagers
//! while `incidents` plays, its CloudWatch alarms in `outage-tokyo`).
//! Everything reaches the app through the channel, as in the console.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use touban::app::{App, Event};
use touban::config::Platform;
use touban::model::alert::AlertState;
use touban::model::{Command as Cmd, Pane, SourceKind, SourceState};
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

use common::Process;

/// A Prometheus with the seed's rules, scraping `target_port` each second
/// and sending alerts to the Alertmanager on `am_port`.
fn prometheus(dir: &std::path::Path, am_port: u16, target_port: u16) -> (Process, u16) {
    let rules =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/iworkz.rules.yml");
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{am_port}\"]\nscrape_configs:\n  - job_name: backend-api\n    static_configs:\n      - targets: [\"127.0.0.1:{target_port}\"]\n",
            rules.display()
        ),
    )
    .expect("write prometheus.yml");
    let prom_port = common::free_port();
    let server = Process(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    (server, prom_port)
}

/// Silences `alertname` for an hour through the Alertmanager API.
fn silence(am_port: u16, alertname: &str, comment: &str) {
    let silence = serde_json::json!({
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": false, "isEqual": true}],
        "startsAt": jiff::Timestamp::now().to_string(),
        "endsAt": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string(),
        "createdBy": "on-call", "comment": comment,
    });
    let out = Command::new("curl")
        .args([
            "-sS",
            "--fail-with-body",
            "-XPOST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &silence.to_string(),
            &format!("http://127.0.0.1:{am_port}/api/v2/silences"),
        ])
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// ServiceDown while pending: when it fires, its labels, its graph.
fn check_pending(app: &App) {
    let pending = app
        .alert_rows()
        .into_iter()
        .find(|a| a.name == "ServiceDown")
        .cloned()
        .expect("pending");
    assert!(pending.fires_at.is_some(), "{pending:?}");
    assert_eq!(
        (pending.severity.as_str(), pending.team.as_str()),
        ("critical", "platform")
    );
    assert!(
        pending
            .generator_url
            .as_deref()
            .is_some_and(|u| u.contains("/graph?g0.expr=up")),
        "{pending:?}"
    );
}

/// A scrape target that answers until dropped.
async fn target() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { "# TYPE backend_up gauge\nbackend_up 1\n" }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, task)
}

/// An app whose alert sources are those of `config`'s `[[alert_sources]]`.
fn app_with(sources: &str) -> (App, mpsc::Receiver<Event>) {
    let config = format!("{}{sources}", common::TWO_REGIONS);
    let mut loaded = common::loaded("default", "default");
    loaded.platform = Platform::parse("test config", &config).expect("valid config");
    let app = App::new(loaded, std::time::SystemTime::now());
    let (tx, rx) = mpsc::channel(1024);
    touban::sources::alerts::spawn(app.platform(), &tx);
    (app, rx)
}

fn state_of(app: &App, name: &str) -> Option<AlertState> {
    app.alert_rows()
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.state())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_is_pending_then_fires_then_is_silenced_and_survives_an_alertmanager_restart()
{
    common::need("prometheus", "prometheus");
    common::need("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = tempfile::tempdir().expect("temp");
    let am_port = common::free_port();
    let mut am = common::alertmanager::alertmanager(dir.path(), am_port);
    let (target_port, target_task) = target().await;
    let (_prometheus, prom_port) = prometheus(dir.path(), am_port, target_port);
    let (mut app, mut rx) = app_with(&format!(
        "\n[[alert_sources]]\nname = \"alertmanager\"\nregion = \"tokyo\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:{am_port}\"\ninterval_seconds = 1\n\n[[alert_sources]]\nname = \"prometheus\"\nregion = \"tokyo\"\nkind = \"prometheus\"\nurl = \"http://127.0.0.1:{prom_port}\"\ninterval_seconds = 1\n"
    ));
    let live = |a: &App, name: &str| a.source("tokyo", SourceKind::Alerts, name).is_live();
    common::until_for(&mut app, &mut rx, 30, "both sources live", |a| {
        live(a, "alertmanager") && live(a, "prometheus")
    })
    .await;
    assert_eq!(app.alert_counts("tokyo"), Some((0, 0, 0)));

    // The target goes down: ServiceDown is pending (its `for` is 1 min)...
    target_task.abort();
    common::until_for(&mut app, &mut rx, 30, "ServiceDown pending", |a| {
        state_of(a, "ServiceDown") == Some(AlertState::Pending)
    })
    .await;
    check_pending(&app);
    // ...then fires, seen through Prometheus and the Alertmanager and shown once.
    common::until_for(&mut app, &mut rx, 120, "ServiceDown firing", |a| {
        state_of(a, "ServiceDown") == Some(AlertState::Firing)
            && a.alert_rows().iter().any(|r| {
                r.name == "ServiceDown"
                    && r.origin == Some(touban::model::alert::Origin::Alertmanager)
            })
    })
    .await;
    assert_eq!(
        app.alert_rows()
            .iter()
            .filter(|a| a.name == "ServiceDown")
            .count(),
        1,
        "one alert, though two sources report it"
    );
    assert_eq!(app.alert_counts("tokyo"), Some((1, 0, 0)));
    // Seen first through the Alertmanager (listed first): with its group.
    let grouped = app
        .alert_rows()
        .into_iter()
        .find(|r| r.name == "ServiceDown")
        .and_then(|r| r.group.clone());
    assert_eq!(
        grouped,
        Some(("on-call: alertname=ServiceDown".to_owned(), 1)),
        "the Alertmanager's group, by the route's group_by"
    );
    app.run(Cmd::Focus(Pane::Alerts));
    let screen = common::text(&common::render(&app, 120, 30));
    assert!(
        screen.contains("critical")
            && screen.contains("platform")
            && screen.contains("ServiceDown"),
        "{screen}"
    );

    // A silence made through the Alertmanager API shows the alert silenced.
    silence(am_port, "ServiceDown", "target retired");
    common::until_for(&mut app, &mut rx, 30, "ServiceDown silenced", |a| {
        a.alert_rows().iter().any(|r| {
            r.name == "ServiceDown"
                && r.origin == Some(touban::model::alert::Origin::Alertmanager)
                && r.state() == AlertState::Silenced
        })
    })
    .await;
    assert_eq!(app.silences().count(), 1);
    assert_eq!(
        app.silences().next().map(|s| s.comment.as_str()),
        Some("target retired")
    );

    // The Alertmanager stops: stale, its last alerts kept; back: live.
    drop(am);
    common::until_for(&mut app, &mut rx, 30, "alertmanager stale", |a| {
        matches!(
            a.source("tokyo", SourceKind::Alerts, "alertmanager"),
            SourceState::Stale { .. }
        )
    })
    .await;
    assert!(
        app.alert_rows().iter().any(|r| r.name == "ServiceDown"),
        "a stale source keeps its alerts"
    );
    am = common::alertmanager::alertmanager(dir.path(), am_port);
    common::until_for(&mut app, &mut rx, 30, "alertmanager live again", |a| {
        live(a, "alertmanager")
    })
    .await;
    drop(am);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_incidents_fire_in_order_and_its_cloudwatch_alarms_show() {
    let sandbox = Sandbox::start(Options {
        seed: 5,
        pods: 0,
        speed: 30.0,
        scenario: Scenario::Incidents,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let mut loaded = common::loaded("default", "default");
    let mut text = std::fs::read_to_string(&config).expect("read");
    for kind in ["alertmanager", "prometheus"] {
        text = text.replace(
            &format!("kind = \"{kind}\"\n"),
            &format!("kind = \"{kind}\"\ninterval_seconds = 1\n"),
        );
    }
    loaded.platform = Platform::parse("sandbox config", &text).expect("valid");
    let mut app = App::new(loaded, std::time::SystemTime::now());
    let (tx, mut rx) = mpsc::channel(1024);
    touban::sources::alerts::spawn(app.platform(), &tx);
    // The sandbox's Prometheus knows an alert while it is pending, before
    // the Alertmanager hears of it.
    let mut pending_first = None;

    // AIModelInferenceLatency (from 60 s, for 3 min) before PodCrashLooping
    // (from 120 s, for 5 min), as the scenario tells it.
    let mut order: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while order.len() < 2 {
        assert!(Instant::now() < deadline, "alerts did not fire: {order:?}");
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            app.handle(e);
        }
        for a in app.alert_rows() {
            if pending_first.is_none() && a.name == "AIModelInferenceLatency" {
                pending_first = Some(a.state());
            }
            if a.state() == AlertState::Firing
                && ["AIModelInferenceLatency", "PodCrashLooping"].contains(&a.name.as_str())
                && !order.contains(&a.name)
            {
                order.push(a.name.clone());
            }
        }
    }
    assert_eq!(order, ["AIModelInferenceLatency", "PodCrashLooping"]);
    assert_eq!(
        pending_first,
        Some(AlertState::Pending),
        "seen pending first"
    );
    let crash = app
        .alert_rows()
        .into_iter()
        .find(|a| a.name == "PodCrashLooping")
        .cloned()
        .expect("crash");
    assert_eq!(
        (crash.region.as_str(), crash.team.as_str()),
        ("tokyo", "platform")
    );
    assert!(
        crash
            .label("pod")
            .is_some_and(|p| p.starts_with("backend-api-blue-"))
    );
    // The jump key lands on the pod, in the Cluster pane, filtered to it.
    app.run(Cmd::Focus(Pane::Alerts));
    app.run(Cmd::Top);
    let i = app
        .visible_alerts()
        .iter()
        .position(|a| a.name == "PodCrashLooping")
        .expect("listed");
    for _ in 0..i {
        app.run(Cmd::Down);
    }
    app.run(Cmd::Jump);
    assert_eq!(app.focus(), Pane::Cluster);
    assert_eq!(app.filter(Pane::Cluster), crash.label("pod"));
    // CloudWatch: the sandbox's alarms are read through the SDK (in
    // `incidents` none is in ALARM; the source is live and reports none).
    assert!(
        app.source("tokyo", SourceKind::Alerts, "cloudwatch-alarms")
            .is_live(),
        "{:?}",
        app.source("tokyo", SourceKind::Alerts, "cloudwatch-alarms")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_alarms_of_the_outage_show() {
    let sandbox = Sandbox::start(Options {
        seed: 6,
        pods: 0,
        speed: 30.0,
        scenario: Scenario::OutageTokyo,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let mut loaded = common::loaded("default", "default");
    let text = std::fs::read_to_string(&config).expect("read").replace(
        "anonymous = true\n",
        "anonymous = true\ninterval_seconds = 1\n",
    );
    loaded.platform = Platform::parse("sandbox config", &text).expect("valid");
    let mut app = App::new(loaded, std::time::SystemTime::now());
    let (tx, mut rx) = mpsc::channel(1024);
    touban::sources::alerts::spawn(app.platform(), &tx);
    common::until_for(&mut app, &mut rx, 60, "the RDS alarm", |a| {
        a.alert_rows().iter().any(|r| {
            r.origin == Some(touban::model::alert::Origin::CloudWatch)
                && r.name.ends_with("-connections-low")
                && r.severity == "critical"
        })
    })
    .await;
    let alarm = app
        .alert_rows()
        .into_iter()
        .find(|r| r.name.ends_with("-connections-low"))
        .cloned()
        .expect("alarm");
    assert_eq!(alarm.label("namespace"), Some("AWS/RDS"));
    assert!(alarm.label("DBInstanceIdentifier").is_some(), "{alarm:?}");
}

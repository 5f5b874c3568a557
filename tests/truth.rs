//! What the console shows is never better than what it knows: stale
//! sources draw last-known verdicts, never green; alert counts are unknown
//! while an alert source is; a firing alert marks the cell it is about; a
//! threshold crossed once is pending, not red; a region says its worst.
//! Against the sandbox where a cluster is involved, with hand-made updates
//! for the rest.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use touban::app::{App, Event};
use touban::model::alert::{AlertRow, AlertSnapshot, AlertState, Origin};
use touban::model::cluster::Health;
use touban::model::data::{AiStatus, DataStatus, Probe};
use touban::model::verdict::{Known, Level};
use touban::model::{SourceId, SourceKind, SourceState, Update};

mod common;

fn set(app: &mut App, region: &str, kind: SourceKind, name: &str, state: SourceState) {
    app.handle(Event::Update(Update::SourceState {
        id: SourceId::new(region, kind, name),
        state,
    }));
}

fn alerts(app: &mut App, region: &str, name: &str, alerts: Vec<AlertRow>) {
    app.handle(Event::Update(Update::Alerts {
        id: SourceId::new(region, SourceKind::Alerts, name),
        snapshot: AlertSnapshot {
            alerts,
            ..AlertSnapshot::default()
        },
    }));
}

fn live() -> SourceState {
    SourceState::Live {
        at: common::fixed_now(),
    }
}

fn stale(why: &str) -> SourceState {
    SourceState::Stale {
        since: common::fixed_now() - Duration::from_secs(60),
        why: why.into(),
    }
}

/// The alert sources of the test config (`common::app`'s).
fn alert_sources(app: &App) -> Vec<(String, String)> {
    app.platform()
        .alert_sources
        .iter()
        .map(|a| (a.region.get_ref().clone(), a.name.get_ref().clone()))
        .collect()
}

#[test]
fn with_every_alert_source_stale_the_header_shows_no_count() {
    let mut app = common::app();
    for (region, name) in alert_sources(&app) {
        set(&mut app, &region, SourceKind::Alerts, &name, live());
        alerts(&mut app, &region, &name, Vec::new());
    }
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(screen.contains("alerts Tokyo 0 · Seoul 0"), "{screen}");
    for (region, name) in alert_sources(&app) {
        set(
            &mut app,
            &region,
            SourceKind::Alerts,
            &name,
            stale("no answer within 5 s"),
        );
    }
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(screen.contains("alerts Tokyo ? · Seoul ?"), "{screen}");
    assert!(!screen.contains("no alert firing"), "{screen}");
    assert!(screen.contains("? alerts not known"), "{screen}");
    let known = app.alert_knowledge("tokyo");
    assert!(!known.complete());
    // Blind in alerts: never an ok region.
    assert!(app.region_verdict("tokyo").level >= Level::Stale);
}

#[test]
fn a_threshold_crossed_in_one_poll_is_pending_not_red() {
    let mut app = common::app();
    let ai = |error_rate: f64| {
        let probe = || {
            Some(Probe {
                outcome: Ok(200),
                latency: Duration::from_millis(4),
            })
        };
        Event::Update(Update::Data {
            id: SourceId::new("korea", SourceKind::AiService, "ai-services"),
            status: Box::new(DataStatus::Ai(AiStatus {
                health: probe(),
                ready: probe(),
                error_rate: Some(error_rate),
                accuracy: Some(0.93),
                p95_inference: Some(0.4),
                ..AiStatus::default()
            })),
        })
    };
    set(
        &mut app,
        "korea",
        SourceKind::AiService,
        "ai-services",
        live(),
    );
    let health = |app: &App| {
        app.cell("korea", SourceKind::AiService, "ai-services")
            .health
    };
    app.handle(ai(0.01));
    assert_eq!(health(&app), Health::Ok);
    // One noisy poll: pending, in the warning role, never failing.
    app.handle(ai(0.09));
    let v = app.cell("korea", SourceKind::AiService, "ai-services");
    assert_eq!(v.health, Health::Pending);
    assert!(v.why.starts_with("1/3 · errors 9.0 %"), "{}", v.why);
    app.handle(ai(0.01));
    assert_eq!(health(&app), Health::Ok);
    // Held for three polls: failing.
    for _ in 0..2 {
        app.handle(ai(0.09));
        assert_eq!(health(&app), Health::Pending);
    }
    app.handle(ai(0.09));
    assert_eq!(health(&app), Health::Crit);
    // A probe failing is a state, not a threshold: at once.
    let mut down = AiStatus {
        health: Some(Probe {
            outcome: Ok(503),
            latency: Duration::from_millis(4),
        }),
        ..AiStatus::default()
    };
    down.ready = down.health.clone();
    app.handle(Event::Update(Update::Data {
        id: SourceId::new("korea", SourceKind::AiService, "ai-services"),
        status: Box::new(DataStatus::Ai(down)),
    }));
    assert_eq!(health(&app), Health::Crit);
}

#[test]
fn a_stale_data_source_shows_its_last_verdict_as_last_known() {
    let mut app = common::app();
    let id = SourceId::new("tokyo", SourceKind::AiService, "ai-services");
    set(
        &mut app,
        "tokyo",
        SourceKind::AiService,
        "ai-services",
        live(),
    );
    let probe = Some(Probe {
        outcome: Ok(200),
        latency: Duration::from_millis(3),
    });
    app.handle(Event::Update(Update::Data {
        id,
        status: Box::new(DataStatus::Ai(AiStatus {
            health: probe.clone(),
            ready: probe,
            ..AiStatus::default()
        })),
    }));
    assert_eq!(
        app.cell("tokyo", SourceKind::AiService, "ai-services")
            .level(),
        Level::Ok
    );
    set(
        &mut app,
        "tokyo",
        SourceKind::AiService,
        "ai-services",
        stale("neither /health nor /ready answers: timed out"),
    );
    let v = app.cell("tokyo", SourceKind::AiService, "ai-services");
    assert!(matches!(v.known, Known::Stale { .. }), "{v:?}");
    assert_eq!(v.level(), Level::Stale);
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(
        screen.contains("last known: ok healthy, ready, within thresholds"),
        "{screen}"
    );
    let r = app.region_verdict("tokyo");
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("ai-services: neither /health nor /ready answers")),
        "{r:?}"
    );
}

async fn tokyo_services(sandbox: &touban::sandbox::Sandbox) -> Api<Service> {
    Api::namespaced(
        common::kube_client(sandbox, "eks-tokyo").await,
        "iworkz-production",
    )
}

fn frontend(app: &App) -> touban::model::verdict::Verdict {
    app.frontend_cells("tokyo")
        .into_iter()
        .next()
        .expect("Tokyo's frontend cell")
        .verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_down_and_a_service_with_no_pods_make_the_frontend_fail() {
    let (sandbox, _dir, mut app, mut rx) = common::watched(41).await;
    common::until(&mut app, &mut rx, "a healthy frontend", |a| {
        a.source("tokyo", SourceKind::Cluster, "eks-tokyo")
            .is_live()
            && frontend(a).level() == Level::Ok
    })
    .await;
    // ServiceDown for the frontend's Service, critical, while its pods are
    // all ready: the cell fails and names the alert.
    let down = AlertRow {
        fingerprint: "f1".into(),
        region: "tokyo".into(),
        source: "alertmanager".into(),
        origin: Some(Origin::Alertmanager),
        name: "ServiceDown".into(),
        severity: "critical".into(),
        team: "platform".into(),
        state: Some(AlertState::Firing),
        since: Some(SystemTime::now()),
        labels: vec![
            ("alertname".into(), "ServiceDown".into()),
            ("instance".into(), "web-frontend-service:9090".into()),
            ("service".into(), "web-frontend-service".into()),
            ("severity".into(), "critical".into()),
        ],
        ..AlertRow::default()
    };
    alerts(&mut app, "tokyo", "alertmanager", vec![down]);
    let v = frontend(&app);
    assert_eq!(v.level(), Level::Crit, "{v:?}");
    assert_eq!(v.alerts, [("ServiceDown".to_owned(), Health::Crit)]);
    assert_eq!(v.health, Health::Ok, "the data itself looks healthy");
    let r = app.region_verdict("tokyo");
    assert_eq!(r.level, Level::Crit);
    assert!(
        r.reasons.iter().any(|x| x.contains("ServiceDown firing")),
        "{r:?}"
    );
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(screen.contains("failing ⚑ ServiceDown"), "{screen}");
    alerts(&mut app, "tokyo", "alertmanager", Vec::new());
    assert_eq!(frontend(&app).level(), Level::Ok);

    // The Service switched to the colour with no pods: failing, whatever
    // the other colour's pods say.
    tokyo_services(&sandbox)
        .await
        .patch(
            "web-frontend-service",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"selector": {"color": "green"}}})),
        )
        .await
        .expect("switch the Service");
    common::until(&mut app, &mut rx, "the frontend failing", |a| {
        frontend(a).level() == Level::Crit
    })
    .await;
    let v = frontend(&app);
    assert_eq!(v.health, Health::Crit, "{v:?}");
    assert!(v.why.contains("green"), "{v:?}");
}

/// Only Prometheus knows an alert before it fires: while no Prometheus
/// source is live, the Alerts pane says pending alerts may be missing, and
/// an empty list is not "none" while any alert source is not live.
#[test]
fn without_a_live_prometheus_pending_alerts_are_unknown() {
    let mut app = common::app();
    app.run(touban::model::Command::Focus(touban::model::Pane::Alerts));
    let sources = alert_sources(&app);
    let kind = |app: &App, region: &str, name: &str| {
        app.platform()
            .alert_sources
            .iter()
            .find(|a| a.region.get_ref() == region && a.name.get_ref() == name)
            .map(|a| a.kind)
    };
    for (region, name) in &sources {
        if kind(&app, region, name) != Some(touban::config::platform::AlertSourceKind::Prometheus) {
            set(&mut app, region, SourceKind::Alerts, name, live());
            alerts(&mut app, region, name, Vec::new());
        }
    }
    let screen = common::text(&common::render(&app, 160, 40));
    assert!(screen.contains("pending alerts may be missing"), "{screen}");
    // The Prometheus source is one of Tokyo's alert sources: while it is
    // not live, "none" is only of the sources that answer.
    assert!(
        screen.contains("no alert firing among the sources that answer"),
        "{screen}"
    );
    assert!(!screen.contains("no alert firing or pending"), "{screen}");
    for (region, name) in &sources {
        set(&mut app, region, SourceKind::Alerts, name, live());
        alerts(&mut app, region, name, Vec::new());
    }
    let screen = common::text(&common::render(&app, 160, 40));
    assert!(screen.contains("no alert firing or pending"), "{screen}");
    assert!(
        !screen.contains("pending alerts may be missing"),
        "{screen}"
    );
}

/// An alert marks the database or cache it names exactly (by name or its
/// CloudWatch identifier), not every cell whose name contains a label's
/// value; a release's alerts are its own, not a longer name's.
#[test]
fn alerts_mark_only_the_cells_they_name() {
    let mut app = common::app();
    for (region, name) in alert_sources(&app) {
        set(&mut app, &region, SourceKind::Alerts, &name, live());
        alerts(&mut app, &region, &name, Vec::new());
    }
    let firing = |labels: &[(&str, &str)]| AlertRow {
        fingerprint: format!("{labels:?}"),
        name: "SomethingWrong".into(),
        severity: "critical".into(),
        region: "tokyo".into(),
        source: "alertmanager".into(),
        origin: Some(Origin::Alertmanager),
        state: Some(AlertState::Firing),
        since: Some(SystemTime::now()),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..AlertRow::default()
    };
    // `datname` is a database inside a server: it names no cell.
    alerts(
        &mut app,
        "tokyo",
        "alertmanager",
        vec![
            firing(&[("datname", "iworkz")]),
            firing(&[("deployment", "web-frontend-canary-webhook")]),
        ],
    );
    for (kind, name) in [
        (SourceKind::Database, "iworkz-production-postgres"),
        (SourceKind::Cache, "iworkz-production-redis"),
    ] {
        assert!(
            app.cell("tokyo", kind, name).alerts.is_empty(),
            "{name} is not what `datname=iworkz` names"
        );
    }
    // The database by its CloudWatch identifier, when it has one, else by
    // its name.
    let db = app
        .platform()
        .databases
        .iter()
        .find(|d| d.region.get_ref() == "tokyo")
        .expect("a Tokyo database")
        .clone();
    let by = db
        .cloudwatch
        .as_ref()
        .map_or_else(|| db.name.get_ref().clone(), |c| c.identifier.clone());
    alerts(
        &mut app,
        "tokyo",
        "alertmanager",
        vec![firing(&[("DBInstanceIdentifier", &by)])],
    );
    let v = app.cell("tokyo", SourceKind::Database, db.name.get_ref());
    assert_eq!(v.alerts, [("SomethingWrong".to_owned(), Health::Crit)]);
    assert!(
        app.cell("tokyo", SourceKind::Cache, "iworkz-production-redis")
            .alerts
            .is_empty()
    );
}

//! Logs in the console against the sandbox, through the real fetcher
//! (kube-rs `log_stream`): `l` on a deployment streams its pods
//! interleaved with a short pod prefix, the view follows, searches and
//! highlights, holds still, saves what it holds, reopens for another
//! window of time, and closes its streams; a pod's previous run is its
//! crash's stack trace.

mod common;

use std::time::Duration;

use common::{render, text};
use tokio::sync::mpsc;
use touban::app::overlay::Overlay;
use touban::app::{App, Effect, Event};
use touban::model::logs::LogCommand;
use touban::model::{Command, Key, KeyCode, Pane};
use touban::sandbox::Scenario;

fn deployment(name: &str) -> touban::model::cluster::ObjectRef {
    touban::model::cluster::ObjectRef {
        cluster: "eks-tokyo".into(),
        kind: "Deployment",
        namespace: Some("iworkz-production".into()),
        name: name.into(),
    }
}

/// The open log view.
fn view(app: &App) -> &touban::app::logs::LogView {
    app.overlays()
        .iter()
        .find_map(|o| match o {
            Overlay::Logs(v) => Some(&**v),
            _ => None,
        })
        .expect("a log view is open")
}

/// Runs `command`, sends its log effects to the fetcher, returns the rest.
fn run(app: &mut App, command: Command, logs: &mpsc::UnboundedSender<LogCommand>) -> Vec<Effect> {
    forward(app.run(command), logs)
}

fn key(app: &mut App, k: Key, logs: &mpsc::UnboundedSender<LogCommand>) -> Vec<Effect> {
    forward(app.handle(Event::Key(k)), logs)
}

fn forward(effects: Vec<Effect>, logs: &mpsc::UnboundedSender<LogCommand>) -> Vec<Effect> {
    effects
        .into_iter()
        .filter(|e| match e {
            Effect::Logs(c) => {
                logs.send(c.clone()).expect("the fetcher listens");
                false
            }
            _ => true,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: open, follow, search, hold, save, reopen, close
async fn l_on_a_deployment_streams_its_pods_interleaved_and_the_view_searches_holds_and_saves() {
    let (_sandbox, _dir, mut app) = common::world(Scenario::Calm, 41).await;
    let (tx, mut rx) = mpsc::channel(1024);
    let fetchers = touban::sources::spawn_all(
        app.platform(),
        &tx,
        touban::sources::Intervals::every(Duration::from_secs(1)),
    );
    common::until(&mut app, &mut rx, "web-frontend-blue listed", |a| {
        a.cluster("eks-tokyo").is_some_and(|c| {
            c.deployments
                .contains_key("iworkz-production/web-frontend-blue")
        })
    })
    .await;
    // The detail view's related objects and events, from what the
    // cluster source holds.
    common::until(&mut app, &mut rx, "its events listed", |a| {
        let r = a.related(&deployment("web-frontend-blue"));
        r.events.iter().any(|e| e.reason == "ScalingReplicaSet")
            && r.objects.iter().filter(|o| o.how == "Pod").count() == 4
            && r.objects.iter().any(|o| o.how == "routed by Service")
    })
    .await;
    let r = app.related(&deployment("web-frontend-blue"));
    assert!(
        r.objects
            .iter()
            .any(|o| o.how == "ReplicaSet" && o.name.starts_with("web-frontend-blue-")),
        "{r:?}"
    );
    assert!(
        r.objects.iter().any(|o| o.how == "routed by Service"),
        "{r:?}"
    );
    let pod = r
        .objects
        .iter()
        .find(|o| o.how == "Pod")
        .expect("a pod")
        .name
        .clone();
    let of_pod = app.related(&touban::model::cluster::ObjectRef {
        kind: "Pod",
        name: pod.clone(),
        ..deployment("")
    });
    assert!(
        of_pod
            .objects
            .iter()
            .any(|o| o.how == "of Deployment" && o.name == "web-frontend-blue"),
        "{of_pod:?}"
    );
    assert!(
        of_pod.objects.iter().any(|o| o.how == "on Node"),
        "{of_pod:?}"
    );
    run(&mut app, Command::Focus(Pane::Rollouts), &fetchers.logs);
    let row = app
        .rollout_rows()
        .iter()
        .position(|(c, d)| *c == "eks-tokyo" && d.name == "web-frontend-blue")
        .expect("the row");
    for _ in 0..row {
        run(&mut app, Command::Down, &fetchers.logs);
    }
    let rest = run(&mut app, Command::Logs, &fetchers.logs);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(view(&app).object.kind, "Deployment");
    assert_eq!(view(&app).object.name, "web-frontend-blue");

    // Every pod of the four, their lines interleaved, nginx's shape.
    common::until(&mut app, &mut rx, "lines of four pods", |a| {
        let v = view(a);
        let pods: std::collections::BTreeSet<_> =
            v.ring.iter().filter_map(|l| l.pod.clone()).collect();
        pods.len() == 4 && v.ring.len() >= 12
    })
    .await;
    let v = view(&app);
    assert!(v.follow);
    assert!(
        v.ring
            .iter()
            .all(|l| l.text.contains("HTTP/1.1\" ") && l.text.starts_with("10.0.")),
        "{:?}",
        v.ring.iter().take(3).collect::<Vec<_>>()
    );
    let screen = text(&render(&app, 160, 40));
    assert!(
        screen.contains("Logs · Deployment iworkz-production/web-frontend-blue (eks-tokyo)"),
        "{screen}"
    );
    assert!(screen.contains("following"), "{screen}");
    assert!(screen.contains(" │ 10.0."), "the pod prefix:\n{screen}");

    // Search: typed after `/`, the view holds on the last match.
    key(&mut app, Key::char('/'), &fetchers.logs);
    for c in "favicon".chars() {
        key(&mut app, Key::char(c), &fetchers.logs);
    }
    key(&mut app, Key::plain(KeyCode::Enter), &fetchers.logs);
    common::until(&mut app, &mut rx, "a favicon line", |a| {
        a.overlays().iter().any(|o| matches!(o, Overlay::Logs(v) if v.ring.iter().any(|l| l.text.contains("/favicon.ico"))))
    })
    .await;
    key(&mut app, Key::char('N'), &fetchers.logs);
    let v = view(&app);
    assert_eq!(v.search.as_deref(), Some("favicon"));
    assert!(!v.follow, "held on the match");
    assert!(
        v.ring
            .get(v.top)
            .is_some_and(|l| l.text.contains("/favicon.ico")),
        "{:?}",
        v.ring.get(v.top)
    );
    let held = v.top;
    let received = v.ring.received;
    common::until(&mut app, &mut rx, "more lines", |a| {
        view(a).ring.received > received + 8
    })
    .await;
    assert_eq!(view(&app).top, held, "holding still while lines arrive");

    // Save: what the ring holds, each line with its pod.
    let saved = key(&mut app, Key::char('s'), &fetchers.logs);
    let Some(Effect::SaveLog { stem, text: file }) = saved.first() else {
        panic!("no save: {saved:?}");
    };
    assert!(stem.starts_with("eks-tokyo-web-frontend-blue-"), "{stem}");
    assert_eq!(file.lines().count(), view(&app).ring.len());
    assert!(file.lines().all(|l| l.contains(" | 10.0.")), "{file}");

    // `t`: the last 10 minutes, streamed again from scratch.
    let old = view(&app).id;
    key(&mut app, Key::char('t'), &fetchers.logs);
    let v = view(&app);
    assert_ne!(v.id, old);
    assert_eq!(v.params.since_seconds, Some(600));
    assert_eq!(v.params.tail_lines, Some(20_000));
    common::until(&mut app, &mut rx, "the window's lines", |a| {
        view(a).ring.len() >= 8
    })
    .await;

    // Closed: its streams end (nothing more arrives for it).
    key(&mut app, Key::plain(KeyCode::Esc), &fetchers.logs);
    assert!(app.overlays().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_s_previous_run_is_the_stack_trace_of_its_crash() {
    let sandbox = common::calm(43, 10.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client.clone(), "iworkz-production");
    deployments
        .patch(
            "backend-api-blue",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(
                serde_json::json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "backend-api", "image": "iworkz/backend-api:2.15.0-crash"}
                ]}}}}),
            ),
        )
        .await
        .expect("set the crashing image");
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(client, "iworkz-production");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let crashed = loop {
        let list = pods
            .list(&kube::api::ListParams::default().labels("app=backend-api"))
            .await
            .expect("list");
        let found = list.items.into_iter().find(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.last_state
                            .as_ref()
                            .is_some_and(|l| l.terminated.is_some())
                    })
                })
        });
        if let Some(p) = found {
            break p.metadata.name.unwrap_or_default();
        }
        assert!(std::time::Instant::now() < deadline, "no pod crashed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let previous = pods
        .logs(
            &crashed,
            &kube::api::LogParams {
                previous: true,
                ..kube::api::LogParams::default()
            },
        )
        .await
        .expect("the previous run's log");
    assert!(previous.contains("ECONNREFUSED"), "{previous}");
    assert!(previous.contains("    at "), "a stack trace: {previous}");
    let tail = pods
        .logs(
            &crashed,
            &kube::api::LogParams {
                previous: true,
                tail_lines: Some(2),
                ..kube::api::LogParams::default()
            },
        )
        .await
        .expect("its tail");
    assert_eq!(tail.lines().count(), 2, "{tail}");
}

#[test]
fn a_search_over_lines_whose_case_changes_their_length_draws_without_a_panic() {
    let mut app = common::app();
    let _asked = app.open_logs_for(deployment("backend-api-blue"));
    let id = view(&app).id;
    app.handle(Event::Update(touban::model::Update::LogLines {
        id,
        pod: Some("x2k4l".into()),
        lines: vec!["İstanbul Ω i".to_owned(), "plain line i".to_owned()],
    }));
    for c in ['/', 'i'] {
        app.handle(Event::Key(Key::char(c)));
    }
    app.handle(Event::Key(Key::plain(KeyCode::Enter)));
    // Held on the last match; from the top, the line whose lower case is
    // longer is drawn (its highlight cut short where offsets part).
    let screen = text(&render(&app, 100, 20));
    assert!(screen.contains("plain line i"), "{screen}");
    app.handle(Event::Key(Key::char('g')));
    let screen = text(&render(&app, 100, 20));
    assert!(
        screen.contains("İstanbul Ω i") && screen.contains("plain line i"),
        "{screen}"
    );
}

/// `c` in a pod's log view steps through its containers (kubectl's `-c`)
/// and back to the default one; `y` copies the lines on screen, `Y` every
/// line kept. In-process: the sandbox's pods have one container each.
#[test]
fn c_chooses_the_container_and_y_copies_the_lines_of_the_log_view() {
    use touban::model::cluster::{ClusterChange, ObjectRef, PodRow, RowChange};
    use touban::model::{SourceId, SourceKind, Update};
    let mut app = common::app();
    let pod = PodRow {
        namespace: "iworkz-production".into(),
        name: "backend-api-blue-7f9c4".into(),
        status: "Running".into(),
        ready: 2,
        containers: 2,
        container_names: vec!["api".into(), "envoy".into()],
        ..PodRow::default()
    };
    app.handle(Event::Update(Update::Cluster {
        id: SourceId::new("tokyo", SourceKind::Cluster, "eks-tokyo"),
        change: Box::new(ClusterChange::Pods(RowChange::Listed(None, vec![pod]))),
    }));
    let object = ObjectRef::from_key(
        "eks-tokyo",
        "Pod",
        "iworkz-production/backend-api-blue-7f9c4",
    );
    app.open_logs_for(object);
    let opened = |effects: &[Effect]| {
        effects.iter().find_map(|e| match e {
            Effect::Logs(LogCommand::Open { params, .. }) => Some(params.container.clone()),
            _ => None,
        })
    };
    let press = |app: &mut App, c: char| app.handle(Event::Key(Key::char(c)));
    assert_eq!(opened(&press(&mut app, 'c')), Some(Some("api".into())));
    assert_eq!(opened(&press(&mut app, 'c')), Some(Some("envoy".into())));
    assert_eq!(
        opened(&press(&mut app, 'c')),
        Some(None),
        "back to the default"
    );
    let Some(Overlay::Logs(view)) = app.overlays().last() else {
        panic!("the log view is open");
    };
    let id = view.id;
    app.handle(Event::Update(Update::LogLines {
        id,
        pod: None,
        lines: (1..=100).map(|i| format!("line {i}")).collect(),
    }));
    // Drawn, the view knows how many lines it shows: following, the last.
    let _ = text(&render(&app, 80, 24));
    let Some(Overlay::Logs(view)) = app.overlays().last() else {
        panic!("the log view is open");
    };
    let rows = view.rows.get();
    assert!(rows > 5 && rows < 24, "{rows}");
    let copied = |effects: Vec<Effect>| {
        effects.into_iter().find_map(|e| match e {
            Effect::Copy(text) => Some(text),
            _ => None,
        })
    };
    let shown = copied(press(&mut app, 'y')).expect("y copies");
    assert_eq!(shown.lines().count(), rows);
    assert!(shown.ends_with("line 100\n"), "{shown}");
    let all = copied(press(&mut app, 'Y')).expect("Y copies");
    assert_eq!(all.lines().count(), 100);
    assert!(
        app.status()
            .is_some_and(|m| m.text.contains("every line of the log (100 lines)")),
        "{:?}",
        app.status()
    );
}

//! The terminal's doors out of the console: `x` hands the terminal to
//! `kubectl exec -it` and takes it back, `F` runs `kubectl port-forward` in
//! the background and lists it in the Jobs pane. The sandbox serves no exec
//! or port-forward, so the command lines are checked as built, the loop's
//! hand-off and restore in order, and the port-forward runner on a stand-in
//! kubectl (a shell script that speaks its lines).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{fixed_now, render, text};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use touban::app::forward::{HandOff, HandedBack};
use touban::app::overlay::Overlay;
use touban::app::{App, Effect, Event};
use touban::model::cluster::{ClusterChange, PodRow, RowChange};
use touban::model::forward::{ForwardCommand, ForwardEvent, ForwardId};
use touban::model::{Key, KeyCode, SourceId, SourceKind, Update};
use touban::tui::{self, Outside};

/// The example's Tokyo cluster with one pod that declares port 8080, the
/// Cluster pane focused on it.
fn app_on_a_pod(read_only: bool) -> App {
    let mut loaded = common::loaded("default", "default");
    loaded.read_only_flag = read_only;
    let mut app = App::new(loaded, fixed_now());
    let pod = PodRow {
        namespace: "iworkz-production".into(),
        name: "backend-api-blue-7f9c4".into(),
        status: "Running".into(),
        ready: 1,
        containers: 1,
        node: "ip-10-0-1-0".into(),
        ports: vec![8080, 9090],
        ..PodRow::default()
    };
    app.handle(Event::Update(Update::Cluster {
        id: SourceId::new("tokyo", SourceKind::Cluster, "eks-tokyo"),
        change: Box::new(ClusterChange::Pods(RowChange::Listed(None, vec![pod]))),
    }));
    app.handle(Event::Key(Key::char('2')));
    app
}

fn status(app: &App) -> String {
    app.status().map(|m| m.text.clone()).unwrap_or_default()
}

/// What the loop asked of the terminal, in order.
#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
    answer: Option<HandedBack>,
}

impl Outside for &mut Recorder {
    fn effect(&mut self, _: Effect) -> Option<Event> {
        None
    }

    fn reclaim(&mut self) {
        self.calls.push("reclaim".into());
    }

    fn hand_off(&mut self, hand: &HandOff) -> HandedBack {
        self.calls
            .push(format!("hand-off: {}", hand.argv.join(" ")));
        self.answer.clone().unwrap_or(Ok(Some(0)))
    }
}

async fn run_keys(app: App, keys: &str, outside: &mut Recorder) -> (App, u64) {
    let (tx, rx) = mpsc::channel(tui::CHANNEL);
    for c in keys.chars() {
        tx.send(Event::Key(Key::char(c))).await.expect("queued");
    }
    drop(tx);
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
    let (app, stats) = tui::run(&mut terminal, app, rx, outside, Instant::now())
        .await
        .expect("loop");
    (app, stats.frames)
}

#[tokio::test(start_paused = true)]
async fn x_hands_the_terminal_to_kubectl_exec_in_the_pod_then_takes_it_back() {
    let mut outside = Recorder::default();
    let (app, frames) = run_keys(app_on_a_pod(false), "x", &mut outside).await;
    assert_eq!(
        outside.calls,
        [
            "hand-off: kubectl --context eks-tokyo exec -it -n iworkz-production backend-api-blue-7f9c4 -- sh -c command -v bash >/dev/null 2>&1 && exec bash || exec sh",
            "reclaim",
        ]
    );
    assert!(frames >= 2, "drawn again after the hand-off: {frames}");
    assert_eq!(
        status(&app),
        "shell in eks-tokyo pod/backend-api-blue-7f9c4 ended; the console is back"
    );

    // kubectl failing (no shell in the image, say) is said, as a warning.
    let mut outside = Recorder {
        answer: Some(Ok(Some(126))),
        ..Recorder::default()
    };
    let (app, _) = run_keys(app_on_a_pod(false), "x", &mut outside).await;
    assert!(
        status(&app).contains("kubectl exited with status 126"),
        "{}",
        status(&app)
    );
    let mut outside = Recorder {
        answer: Some(Err(
            "cannot run `kubectl`: not found; install kubectl or set settings.kubectl to its path"
                .into(),
        )),
        ..Recorder::default()
    };
    let (app, _) = run_keys(app_on_a_pod(false), "x", &mut outside).await;
    assert!(
        status(&app).contains("settings.kubectl"),
        "{}",
        status(&app)
    );
}

#[tokio::test(start_paused = true)]
async fn read_only_refuses_a_shell_and_a_port_forward_and_a_non_pod_gets_a_hint() {
    let mut outside = Recorder::default();
    let (app, _) = run_keys(app_on_a_pod(true), "x", &mut outside).await;
    assert_eq!(outside.calls, Vec::<String>::new(), "nothing handed over");
    assert!(
        status(&app)
            .starts_with("refused: shell in pod/backend-api-blue-7f9c4: touban is read-only"),
        "{}",
        status(&app)
    );
    let mut app = app_on_a_pod(true);
    assert!(app.handle(Event::Key(Key::char('F'))).is_empty());
    assert!(
        status(&app).starts_with("refused: port-forward"),
        "{}",
        status(&app)
    );

    // The Overview has no pod (and `x` is the Cluster pane's key).
    let mut app = common::app();
    app.run(touban::model::Command::Shell);
    assert!(
        status(&app).contains("select a pod first"),
        "{}",
        status(&app)
    );
}

#[test]
fn f_asks_for_the_port_offering_the_declared_one_then_lists_the_forward_in_jobs() {
    let mut app = app_on_a_pod(false);
    app.handle(Event::Key(Key::char('F')));
    let Some(Overlay::CommandLine(line)) = app.overlays().last() else {
        panic!("the command line is open: {:?}", app.overlays());
    };
    assert_eq!(line.editor.text(), "port-forward 8080");
    // The operator picks the local port too.
    for _ in 0..4 {
        app.handle(Event::Key(Key::plain(KeyCode::Backspace)));
    }
    for c in "18080:8080".chars() {
        app.handle(Event::Key(Key::char(c)));
    }
    let effects = app.handle(Event::Key(Key::plain(KeyCode::Enter)));
    assert_eq!(
        effects,
        [Effect::Forward(ForwardCommand::Start {
            id: ForwardId(1),
            argv: "kubectl --context eks-tokyo port-forward --address 127.0.0.1 -n iworkz-production pod/backend-api-blue-7f9c4 18080:8080"
                .split(' ')
                .map(str::to_owned)
                .collect(),
        })]
    );
    app.handle(Event::Forward(ForwardEvent::Listening {
        id: ForwardId(1),
        local: "127.0.0.1:18080".into(),
    }));
    app.handle(Event::Key(Key::char('9')));
    let screen = text(&render(&app, 120, 30));
    assert!(
        screen.contains("pf1")
            && screen.contains("port-forward eks-tokyo pod/backend-api-blue-7f9c4 :8080")
            && screen.contains("forwarding 127.0.0.1:18080 → :8080"),
        "{screen}"
    );
    // `c` on it stops it; once stopped, `c` forgets it.
    let effects = app.handle(Event::Key(Key::char('c')));
    assert_eq!(
        effects,
        [Effect::Forward(ForwardCommand::Stop(ForwardId(1)))]
    );
    app.handle(Event::Forward(ForwardEvent::Ended {
        id: ForwardId(1),
        why: None,
    }));
    assert!(text(&render(&app, 120, 30)).contains("stopped"));
    assert!(app.handle(Event::Key(Key::char('c'))).is_empty());
    assert!(app.forwards().is_empty());

    // A typo is refused before kubectl runs.
    let mut app = app_on_a_pod(false);
    let effects = app.run(touban::model::Command::PortForward("http".into()));
    assert!(effects.is_empty());
    assert!(
        status(&app).contains("`http` is not a port"),
        "{}",
        status(&app)
    );
}

/// A stand-in kubectl: a script with this body, executable.
fn script(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

async fn next_forward(rx: &mut mpsc::Receiver<Event>) -> ForwardEvent {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Event::Forward(e))) => return e,
            Ok(Some(_)) => {}
            other => panic!("no port-forward event: {other:?}"),
        }
    }
}

fn alive(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file).expect("the stand-in wrote its pid");
    Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_reads_kubectl_s_address_stops_it_on_request_and_says_why_one_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid = dir.path().join("pid");
    let kubectl = script(
        dir.path(),
        "kubectl",
        &format!(
            "echo $$ > {}\necho 'Forwarding from 127.0.0.1:43117 -> 8080'\necho 'Forwarding from [::1]:43117 -> 8080'\nexec sleep 600",
            pid.display()
        ),
    );
    let (tx, mut rx) = mpsc::channel(64);
    let forwards = tui::handoff::Forwards::spawn(tx);
    assert!(forwards.send(ForwardCommand::Start {
        id: ForwardId(1),
        argv: vec![kubectl.clone(), "port-forward".into()],
    }));
    assert_eq!(
        next_forward(&mut rx).await,
        ForwardEvent::Listening {
            id: ForwardId(1),
            local: "127.0.0.1:43117".into()
        }
    );
    assert!(alive(&pid));
    assert!(forwards.send(ForwardCommand::Stop(ForwardId(1))));
    assert_eq!(
        next_forward(&mut rx).await,
        ForwardEvent::Ended {
            id: ForwardId(1),
            why: None
        }
    );
    assert!(!alive(&pid), "SIGTERM ended it");

    // kubectl's own error line is why it ended.
    let failing = script(
        dir.path(),
        "failing",
        "echo 'error: unable to forward port because pod is not running. Current status=Pending' >&2\nexit 1",
    );
    assert!(forwards.send(ForwardCommand::Start {
        id: ForwardId(2),
        argv: vec![failing],
    }));
    assert_eq!(
        next_forward(&mut rx).await,
        ForwardEvent::Ended {
            id: ForwardId(2),
            why: Some(
                "error: unable to forward port because pod is not running. Current status=Pending"
                    .into()
            )
        }
    );

    // One not found says what to do.
    assert!(forwards.send(ForwardCommand::Start {
        id: ForwardId(3),
        argv: vec![dir.path().join("missing").display().to_string()],
    }));
    let ForwardEvent::Ended { why: Some(why), .. } = next_forward(&mut rx).await else {
        panic!("it cannot start");
    };
    assert!(
        why.contains("not found; install kubectl or set settings.kubectl"),
        "{why}"
    );

    // The console ending stops every forward still running.
    assert!(forwards.send(ForwardCommand::Start {
        id: ForwardId(4),
        argv: vec![kubectl],
    }));
    assert!(matches!(
        next_forward(&mut rx).await,
        ForwardEvent::Listening { .. }
    ));
    assert!(alive(&pid));
    drop(forwards);
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(&pid) {
        assert!(
            Instant::now() < deadline,
            "the forward outlived the console"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

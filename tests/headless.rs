//! The app driven headless through its channel: the real event loop on a
//! `TestBackend`, on tokio's paused clock so frame pacing is deterministic.

mod common;

use std::time::{Duration, Instant};

use common::{app, fixed_now, text};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use touban::app::{App, Event};
use touban::model::{
    JobEvent, JobId, Key, KeyCode, Pane, SourceId, SourceKind, SourceState, Update,
};
use touban::tui::{self, LoopStats};

type Run = (App, LoopStats, Terminal<TestBackend>);

/// Starts the loop on its own task; returns the sender and the task.
fn start(app: App) -> (mpsc::Sender<Event>, tokio::task::JoinHandle<Run>) {
    let (tx, rx) = mpsc::channel(tui::CHANNEL);
    let task = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
        let (app, stats) = tui::run(&mut terminal, app, rx, |_| None, Instant::now())
            .await
            .expect("loop");
        (app, stats, terminal)
    });
    (tx, task)
}

async fn send_keys(tx: &mpsc::Sender<Event>, keys: &[Key]) {
    for k in keys {
        tx.send(Event::Key(*k)).await.expect("loop alive");
    }
}

fn chars(s: &str) -> Vec<Key> {
    s.chars().map(Key::char).collect()
}

fn live(name: &str, region: &str) -> Event {
    Event::Update(Update::SourceState {
        id: SourceId::new(region, SourceKind::Cluster, name),
        state: SourceState::Live { at: fixed_now() },
    })
}

#[tokio::test(start_paused = true)]
async fn commands_updates_and_jobs_flow_through_the_channel() {
    let (tx, task) = start(app());
    send_keys(&tx, &chars("3?")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    send_keys(&tx, &[Key::plain(KeyCode::Esc)]).await;
    send_keys(&tx, &chars(":theme light")).await;
    send_keys(&tx, &[Key::plain(KeyCode::Enter)]).await;
    tx.send(live("eks-tokyo", "tokyo")).await.expect("alive");
    tx.send(Event::Job(JobEvent::Queued {
        id: JobId(7),
        title: "restart backend-api-blue".into(),
        at: fixed_now(),
    }))
    .await
    .expect("alive");
    tokio::time::sleep(Duration::from_millis(50)).await;
    send_keys(&tx, &chars("q")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // q with a running job asks first: the loop goes on until told to stop.
    tx.send(Event::Shutdown("test")).await.expect("alive");
    let (app, stats, terminal) = task.await.expect("loop task");

    assert_eq!(app.focus(), Pane::Data);
    assert!(
        matches!(app.overlays(), [touban::app::overlay::Overlay::Confirm(_)]),
        "help closed by Esc, then only the quit confirmation: {:?}",
        app.overlays()
    );
    assert_eq!(app.theme().name, "light");
    assert!(
        app.source("tokyo", SourceKind::Cluster, "eks-tokyo")
            .is_live()
    );
    assert_eq!(app.jobs().len(), 1);
    assert_eq!(app.running_jobs(), 1);
    assert!(stats.frames >= 2, "{stats:?}");

    let screen = text(terminal.backend().buffer());
    assert!(screen.contains("sources 1/13 live"), "{screen}");
    assert!(
        screen.contains("Quit touban"),
        "the confirm dialog is up:\n{screen}"
    );
    assert!(screen.contains("[ Cancel ]"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn confirming_quit_ends_the_loop() {
    let (tx, task) = start(app());
    tx.send(Event::Job(JobEvent::Queued {
        id: JobId(1),
        title: "scale".into(),
        at: fixed_now(),
    }))
    .await
    .expect("alive");
    send_keys(&tx, &chars("q")).await;
    send_keys(&tx, &[Key::plain(KeyCode::Tab), Key::plain(KeyCode::Enter)]).await;
    let (app, _, _) = task.await.expect("loop task");
    assert!(app.should_quit());
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_events_is_drawn_once() {
    let (tx, rx) = mpsc::channel(tui::CHANNEL);
    for i in 0..500 {
        let region = if i % 2 == 0 { "tokyo" } else { "korea" };
        let name = if i % 2 == 0 { "eks-tokyo" } else { "aks-korea" };
        tx.send(live(name, region)).await.expect("queued");
    }
    tx.send(Event::Key(Key::char('q'))).await.expect("queued");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    let (_, stats) = tui::run(&mut terminal, app(), rx, |_| None, Instant::now())
        .await
        .expect("loop");
    assert_eq!(stats.events, 501);
    assert_eq!(
        stats.frames, 1,
        "the first frame only: the burst and the quit were handled together"
    );
}

#[tokio::test(start_paused = true)]
async fn frames_are_paced_to_one_per_16_ms() {
    let (tx, task) = start(app());
    // 200 changes, one every millisecond.
    for i in 0..200 {
        let state = if i % 2 == 0 {
            SourceState::Live { at: fixed_now() }
        } else {
            SourceState::Connecting { since: fixed_now() }
        };
        tx.send(Event::Update(Update::SourceState {
            id: SourceId::new("tokyo", SourceKind::Cluster, "eks-tokyo"),
            state,
        }))
        .await
        .expect("alive");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    send_keys(&tx, &chars("q")).await;
    let (_, stats, _) = task.await.expect("loop task");
    assert_eq!(stats.events, 201);
    // 200 ms of changes at most one frame per 16 ms: about 13, never 200.
    assert!((8..=16).contains(&stats.frames), "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn ticks_redraw_only_when_a_clock_reads_differently() {
    let (tx, task) = start(app());
    tokio::time::sleep(Duration::from_millis(20)).await;
    for ms in [100, 400, 900] {
        tx.send(Event::Tick(fixed_now() + Duration::from_millis(ms)))
            .await
            .expect("alive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, idle, _) = {
        // Same second: the clocks read 12:04:05 still.
        tx.send(Event::Shutdown("test")).await.expect("alive");
        task.await.expect("loop task")
    };
    assert_eq!(idle.frames, 1, "{idle:?}");

    let (tx, task) = start(app());
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send(Event::Tick(fixed_now() + Duration::from_secs(1)))
        .await
        .expect("alive");
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send(Event::Shutdown("test")).await.expect("alive");
    let (app, stats, terminal) = task.await.expect("loop task");
    assert_eq!(stats.frames, 2, "{stats:?}");
    assert!(app.should_quit());
    assert!(text(terminal.backend().buffer()).contains("Tokyo 12:04:06 JST"));
}

#[tokio::test(start_paused = true)]
async fn the_loop_ends_when_every_sender_is_gone() {
    let (tx, task) = start(app());
    drop(tx);
    let (app, stats, _) = task.await.expect("loop task");
    assert!(!app.should_quit());
    assert_eq!(stats.frames, 1);
}

/// The vim keymap, the Jobs pane focused, three jobs queued.
async fn jobs_pane_with_three_jobs() -> (mpsc::Sender<Event>, tokio::task::JoinHandle<Run>) {
    let (tx, task) = start(App::new(common::loaded("default", "vim"), fixed_now()));
    send_keys(&tx, &chars("9")).await;
    for i in 0..3 {
        let queued = JobEvent::Queued {
            id: JobId(i),
            title: format!("job {i}"),
            at: fixed_now(),
        };
        tx.send(Event::Job(queued)).await.expect("alive");
    }
    (tx, task)
}

#[tokio::test(start_paused = true)]
async fn a_chord_waits_for_its_second_key() {
    let (tx, task) = jobs_pane_with_three_jobs().await;
    send_keys(&tx, &chars("G")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    send_keys(&tx, &chars("g")).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send(Event::Shutdown("test")).await.expect("alive");
    let (app, _, terminal) = task.await.expect("loop task");
    assert_eq!(app.cursor(Pane::Jobs), 2, "one g is pending, not yet `top`");
    assert!(
        text(terminal.backend().buffer()).contains("g …"),
        "the footer shows the pending chord"
    );

    let (tx, task) = jobs_pane_with_three_jobs().await;
    send_keys(&tx, &chars("Ggg")).await;
    tx.send(Event::Shutdown("test")).await.expect("alive");
    let (app, _, _) = task.await.expect("loop task");
    assert_eq!(app.cursor(Pane::Jobs), 0);
}

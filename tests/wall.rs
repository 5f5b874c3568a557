//! The wallboard's behaviour, driven through the app's events: it rotates
//! on the clock, pauses and steps on its keys, holds the Overview while a
//! critical alert is new (not one that was old when it started), keeps a
//! ticker of what fired and resolved, binds no action, and is drawn whole
//! from 120×30 to 400×100.

mod common;

use std::time::{Duration, SystemTime};

use common::{fixed_now, render, text};
use touban::app::wall::Wall;
use touban::app::{App, Event};
use touban::model::alert::{AlertRow, AlertSnapshot, AlertState};
use touban::model::{Key, Pane, SourceId, SourceKind, SourceState, Update};

fn wall_app() -> App {
    let mut loaded = common::loaded("high-contrast", "default");
    loaded.keymap = touban::config::Keymap::wall().0;
    let mut app = App::new(loaded, fixed_now());
    app.enter_wall(Wall::new(
        vec![Pane::Overview, Pane::Alerts, Pane::Rollouts],
        Duration::from_secs(15),
        Duration::from_secs(300),
    ));
    for id in app.platform().source_ids() {
        app.handle(Event::Update(Update::SourceState {
            id,
            state: SourceState::Live { at: fixed_now() },
        }));
    }
    app
}

fn tick(app: &mut App, secs: u64) {
    app.handle(Event::Tick(fixed_now() + Duration::from_secs(secs)));
}

fn critical(name: &str, since: SystemTime) -> AlertRow {
    AlertRow {
        fingerprint: format!("fp-{name}"),
        region: "tokyo".into(),
        source: "alertmanager".into(),
        name: name.into(),
        severity: "critical".into(),
        state: Some(AlertState::Firing),
        since: Some(since),
        labels: vec![("alertname".into(), name.into())],
        ..AlertRow::default()
    }
}

fn alerts(app: &mut App, rows: Vec<AlertRow>) {
    app.handle(Event::Update(Update::Alerts {
        id: SourceId::new("tokyo", SourceKind::Alerts, "alertmanager"),
        snapshot: AlertSnapshot {
            alerts: rows,
            ..AlertSnapshot::default()
        },
    }));
}

fn showing(app: &App) -> Pane {
    app.wall().expect("a wall").showing().0
}

#[test]
fn it_rotates_on_the_clock_pauses_and_steps_on_its_keys() {
    let mut app = wall_app();
    tick(&mut app, 1);
    assert_eq!(app.focus(), Pane::Overview);
    tick(&mut app, 15);
    assert_eq!(
        app.focus(),
        Pane::Overview,
        "not yet: 15 s from the first tick"
    );
    tick(&mut app, 16);
    assert_eq!((app.focus(), showing(&app)), (Pane::Alerts, Pane::Alerts));
    tick(&mut app, 31);
    assert_eq!(app.focus(), Pane::Rollouts);
    tick(&mut app, 46);
    assert_eq!(app.focus(), Pane::Overview, "round again");

    // Space pauses: the clock no longer moves it; tab still does.
    app.handle(Event::Key(Key::char(' ')));
    assert!(app.wall().expect("wall").paused);
    tick(&mut app, 200);
    assert_eq!(app.focus(), Pane::Overview);
    app.handle(Event::Key(Key::plain(touban::model::KeyCode::Tab)));
    assert_eq!(app.focus(), Pane::Alerts);
    app.handle(Event::Key(Key::plain(touban::model::KeyCode::BackTab)));
    assert_eq!(app.focus(), Pane::Overview);
    app.handle(Event::Key(Key::char(' ')));
    tick(&mut app, 214);
    assert_eq!(app.focus(), Pane::Overview, "resumed: a whole period first");
    tick(&mut app, 216);
    assert_eq!(app.focus(), Pane::Alerts);
}

#[test]
fn a_new_critical_alert_holds_the_overview_an_old_one_does_not_and_both_are_told() {
    let mut app = wall_app();
    // Firing for an hour when the wall starts: old news, no hold.
    alerts(
        &mut app,
        vec![critical(
            "DiskFull",
            fixed_now() - Duration::from_secs(3600),
        )],
    );
    tick(&mut app, 1);
    tick(&mut app, 16);
    assert_eq!(app.focus(), Pane::Alerts, "an old alert holds nothing");
    assert!(app.wall().expect("wall").held_by.is_none());

    // A new one: the Overview at once, held past the rotation's due time.
    alerts(
        &mut app,
        vec![
            critical("DiskFull", fixed_now() - Duration::from_secs(3600)),
            critical("ServiceDown", fixed_now() + Duration::from_secs(20)),
        ],
    );
    tick(&mut app, 20);
    assert_eq!(app.focus(), Pane::Overview);
    assert_eq!(
        app.wall().expect("wall").held_by.as_deref(),
        Some("ServiceDown in Tokyo")
    );
    tick(&mut app, 120);
    assert_eq!(app.focus(), Pane::Overview, "held while it is new");
    // Keys cannot take the held wall away from the Overview for long:
    // the next tick brings it back.
    app.handle(Event::Key(Key::plain(touban::model::KeyCode::Tab)));
    tick(&mut app, 121);
    assert_eq!(app.focus(), Pane::Overview);

    // Past the hold (300 s), the rotation resumes from the Overview.
    tick(&mut app, 330);
    assert!(app.wall().expect("wall").held_by.is_none());
    assert_eq!(app.focus(), Pane::Overview);
    tick(&mut app, 346);
    assert_eq!(app.focus(), Pane::Alerts);

    // Resolved: told in the ticker, newest first, with the firing.
    alerts(
        &mut app,
        vec![critical(
            "DiskFull",
            fixed_now() - Duration::from_secs(3600),
        )],
    );
    tick(&mut app, 347);
    let told: Vec<String> = app
        .wall()
        .expect("wall")
        .ticker(fixed_now() + Duration::from_secs(347))
        .map(|t| t.text.clone())
        .collect();
    assert_eq!(
        told.iter().take(2).cloned().collect::<Vec<_>>(),
        [
            "ServiceDown resolved in Tokyo",
            "ServiceDown fired in Tokyo"
        ],
        "{told:?}"
    );
    assert!(!told.iter().any(|t| t.contains("DiskFull")), "{told:?}");
}

#[test]
fn no_key_of_the_wall_acts_or_opens_the_command_line() {
    let mut app = wall_app();
    for c in ['S', 'R', 'd', 'z', ':', '/', 'y', '1', '5'] {
        let effects = app.handle(Event::Key(Key::char(c)));
        assert!(effects.is_empty(), "{c} asked {effects:?}");
        assert!(app.overlays().is_empty(), "{c} opened {:?}", app.overlays());
    }
    assert!(
        app.read_only(),
        "the wall is read-only whatever the config says"
    );
    // q asks first: the shared screen does not go back to the shell on a
    // stray key.
    app.handle(Event::Key(Key::char('q')));
    assert!(!app.should_quit());
    assert_eq!(app.overlays().len(), 1);
}

#[test]
fn the_wall_is_drawn_whole_from_120x30_to_400x100() {
    let mut app = wall_app();
    tick(&mut app, 1);
    let wide = text(&render(&app, 200, 50));
    insta::assert_snapshot!("wall_200x50", wide);
    let small = text(&render(&app, 120, 30));
    insta::assert_snapshot!("wall_120x30", small);
    let huge = text(&render(&app, 400, 100));
    assert!(huge.contains("当番 touban wall"), "{huge}");
    for screen in [&wide, &small, &huge] {
        assert!(screen.contains("what changed, last 10 min"), "{screen}");
        assert!(screen.contains("sources"), "{screen}");
        assert!(screen.contains("space pause"), "{screen}");
    }
}

#[test]
fn alerts_read_after_the_wall_starts_are_dated_by_their_start_not_by_their_arrival() {
    let mut loaded = common::loaded("high-contrast", "default");
    loaded.keymap = touban::config::Keymap::wall().0;
    let mut app = App::new(loaded, fixed_now());
    app.enter_wall(Wall::new(
        vec![Pane::Overview, Pane::Alerts],
        Duration::from_secs(15),
        Duration::from_secs(300),
    ));
    // The first tick: no alert source has answered yet.
    tick(&mut app, 1);
    for id in app.platform().source_ids() {
        app.handle(Event::Update(Update::SourceState {
            id,
            state: SourceState::Live { at: fixed_now() },
        }));
    }
    alerts(
        &mut app,
        vec![critical(
            "DiskFull",
            fixed_now() - Duration::from_secs(3600),
        )],
    );
    tick(&mut app, 2);
    assert!(
        app.wall().expect("wall").held_by.is_none(),
        "an hour-old alert is not new"
    );
    let told: Vec<String> = app
        .wall()
        .expect("wall")
        .ticker(fixed_now() + Duration::from_secs(2))
        .map(|t| t.text.clone())
        .collect();
    assert!(!told.iter().any(|t| t.contains("DiskFull")), "{told:?}");
    tick(&mut app, 17);
    assert_eq!(app.focus(), Pane::Alerts, "the rotation goes on");
}

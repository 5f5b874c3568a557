//! The terminal and the event loop. Every producer (terminal input, the
//! clock, signals, sources, the executor) sends an [`Event`] into one
//! channel; the loop drains what is pending, folds it into the app, and
//! draws once if anything changed, at most one frame per 16 ms. The loop is
//! generic over the ratatui backend, so tests drive it headless.

pub mod guard;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::time::Instant as FrameClock;

use crossterm::event::{Event as TermEvent, EventStream, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{App, Effect, Event};
use crate::model::{Key, KeyCode, Modifiers};
use crate::ui::{self, Styles};

/// The shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(16);

/// Capacity of the event channel.
pub const CHANNEL: usize = 1024;

/// What the loop measured, for the log and for benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopStats {
    /// Frames drawn.
    pub frames: u64,
    /// Events handled.
    pub events: u64,
    /// From `started` to the first frame.
    pub first_frame: Option<Duration>,
}

/// Runs the console until it quits or every sender is gone. Each effect
/// the app asks for goes to `effects`, which may answer at once with an
/// event (a request it cannot take). Returns the app (for tests to
/// inspect) and what the loop measured.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    mut app: App,
    mut events: mpsc::Receiver<Event>,
    mut effects: impl FnMut(Effect) -> Option<Event>,
    started: Instant,
) -> Result<(App, LoopStats), B::Error> {
    let mut styles = Styles::resolve(app.theme());
    let mut theme_generation = app.theme_generation();
    let mut stats = LoopStats::default();
    // Frame pacing runs on tokio's clock, so tests can pause and step it.
    let mut last_frame: Option<FrameClock> = None;
    let mut need_draw = app.take_dirty();
    loop {
        if app.should_quit() {
            break;
        }
        if need_draw {
            let due = last_frame.map_or_else(FrameClock::now, |t| t + FRAME);
            if FrameClock::now() >= due {
                if app.theme_generation() != theme_generation {
                    styles = Styles::resolve(app.theme());
                    theme_generation = app.theme_generation();
                }
                terminal.draw(|frame| ui::draw(&app, &styles, frame))?;
                stats.frames += 1;
                last_frame = Some(FrameClock::now());
                need_draw = false;
                if stats.first_frame.is_none() {
                    let elapsed = started.elapsed();
                    stats.first_frame = Some(elapsed);
                    tracing::info!(
                        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                        "first frame drawn"
                    );
                }
            } else {
                tokio::select! {
                    event = events.recv() => match event {
                        Some(event) => feed(&mut app, event, &mut effects, &mut stats),
                        None => break,
                    },
                    () = tokio::time::sleep_until(due) => {}
                }
                drain(&mut app, &mut events, &mut effects, &mut stats);
                need_draw |= app.take_dirty();
                continue;
            }
        }
        let Some(event) = events.recv().await else {
            break;
        };
        feed(&mut app, event, &mut effects, &mut stats);
        drain(&mut app, &mut events, &mut effects, &mut stats);
        need_draw |= app.take_dirty();
    }
    tracing::info!(
        frames = stats.frames,
        events = stats.events,
        "event loop ended"
    );
    Ok((app, stats))
}

/// Hands one event to the app and its effects to `effects`, folding any
/// immediate answer back in.
fn feed(
    app: &mut App,
    event: Event,
    effects: &mut impl FnMut(Effect) -> Option<Event>,
    stats: &mut LoopStats,
) {
    let mut pending = vec![event];
    while let Some(event) = pending.pop() {
        stats.events += 1;
        pending.extend(app.handle(event).into_iter().filter_map(&mut *effects));
    }
}

fn drain(
    app: &mut App,
    events: &mut mpsc::Receiver<Event>,
    effects: &mut impl FnMut(Effect) -> Option<Event>,
    stats: &mut LoopStats,
) {
    while let Ok(event) = events.try_recv() {
        feed(app, event, effects, stats);
        if app.should_quit() {
            break;
        }
    }
}

/// Forwards terminal input. When the terminal goes away (end of input, or
/// an error reading it), asks the app to shut down.
pub fn spawn_input(tx: mpsc::Sender<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut stream = EventStream::new();
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
                    match convert_key(key) {
                        Some(k) => Event::Key(k),
                        None => continue,
                    }
                }
                Ok(TermEvent::Resize(..)) => Event::Resize,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!("reading the terminal failed: {e}");
                    break;
                }
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Event::Shutdown("terminal input closed")).await;
    })
}

/// Sends a tick at each whole second, when clock labels may change.
pub fn spawn_clock(tx: mpsc::Sender<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let into_second = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_micros());
            tokio::time::sleep(Duration::from_micros(u64::from(1_000_000 - into_second))).await;
            if tx.send(Event::Tick(SystemTime::now())).await.is_err() {
                return;
            }
        }
    })
}

/// Turns SIGTERM, SIGHUP (the SSH session dropped) and SIGINT into a
/// shutdown, so the terminal is restored and no process is left spinning.
pub fn spawn_signals(tx: mpsc::Sender<Event>) -> std::io::Result<JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        let why = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
            _ = int.recv() => "SIGINT",
        };
        let _ = tx.send(Event::Shutdown(why)).await;
    }))
}

fn convert_key(k: KeyEvent) -> Option<Key> {
    use crossterm::event::KeyCode as C;
    let code = match k.code {
        C::Char(c) => KeyCode::Char(c),
        C::Enter => KeyCode::Enter,
        C::Esc => KeyCode::Esc,
        C::Tab => KeyCode::Tab,
        C::BackTab => KeyCode::BackTab,
        C::Backspace => KeyCode::Backspace,
        C::Delete => KeyCode::Delete,
        C::Insert => KeyCode::Insert,
        C::Up => KeyCode::Up,
        C::Down => KeyCode::Down,
        C::Left => KeyCode::Left,
        C::Right => KeyCode::Right,
        C::Home => KeyCode::Home,
        C::End => KeyCode::End,
        C::PageUp => KeyCode::PageUp,
        C::PageDown => KeyCode::PageDown,
        C::F(n) => KeyCode::F(n),
        _ => return None,
    };
    let mods = Modifiers {
        ctrl: k.modifiers.contains(KeyModifiers::CONTROL),
        alt: k.modifiers.contains(KeyModifiers::ALT),
        shift: k.modifiers.contains(KeyModifiers::SHIFT),
    };
    Some(Key { code, mods }.normalized())
}

//! The terminal and the event loop. Every producer (terminal input, the
//! clock, signals, sources, the executor) sends an [`Event`] into one
//! channel; the loop drains what is pending, folds it into the app, and
//! draws once if anything changed, at most one frame per 16 ms. The loop is
//! generic over the ratatui backend, so tests drive it headless.

pub mod guard;
pub mod handoff;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::time::Instant as FrameClock;

use crossterm::event::{Event as TermEvent, EventStream, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::app::{App, Effect, Event, TerminalRequest};
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

/// What the loop hands to the world outside it: the app's effects, and
/// the terminal for job control.
pub trait Outside {
    /// Carries out an effect; may answer at once with an event (a request
    /// that cannot be taken).
    fn effect(&mut self, effect: Effect) -> Option<Event>;

    /// Gives the terminal back and stops the process; returns once it has
    /// been continued (`fg`).
    fn suspend(&mut self) {}

    /// Takes the terminal again (raw mode, alternate screen).
    fn reclaim(&mut self) {}

    /// Gives the terminal to a program until it ends (`kubectl exec -it`);
    /// the terminal is taken back by [`Outside::reclaim`] after.
    fn hand_off(&mut self, hand: &crate::app::forward::HandOff) -> crate::app::forward::HandedBack {
        Err(format!("no terminal to hand to {}", hand.what))
    }
}

/// A closure that takes effects: for tests and headless runs, with no
/// terminal to give back.
impl<F: FnMut(Effect) -> Option<Event>> Outside for F {
    fn effect(&mut self, effect: Effect) -> Option<Event> {
        self(effect)
    }
}

/// The real terminal: job control through the terminal guard, and the
/// input reader's switch for hand-offs.
pub struct RealTerminal<F> {
    /// Where effects go.
    pub effects: F,
    /// The input reader's switch.
    pub input: handoff::InputSwitch,
}

impl<F: FnMut(Effect) -> Option<Event>> Outside for RealTerminal<F> {
    fn effect(&mut self, effect: Effect) -> Option<Event> {
        (self.effects)(effect)
    }

    fn hand_off(&mut self, hand: &crate::app::forward::HandOff) -> crate::app::forward::HandedBack {
        tracing::info!(what = hand.what, "the terminal is handed over");
        let result = handoff::hand_off(&mut self.input, hand);
        tracing::info!(what = hand.what, ?result, "the terminal is back");
        result
    }

    fn suspend(&mut self) {
        guard::release();
        tracing::info!("suspended");
        // Stop the whole job (a wrapper script too), as a shell expects;
        // this returns once the job is continued.
        if let Err(e) = rustix::process::kill_current_process_group(rustix::process::Signal::STOP) {
            tracing::warn!("cannot stop for job control: {e}");
        }
    }

    fn reclaim(&mut self) {
        if let Err(e) = guard::claim() {
            tracing::warn!("cannot take the terminal back: {e}");
        }
    }
}

/// The OSC 52 sequence that puts `text` on the clipboard of the terminal
/// the operator sits at (`c`: the clipboard selection), through SSH and
/// tmux (`set -s set-clipboard on`), ended with BEL as xterm and tmux
/// accept.
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Writes [`osc52`] of `text` to the terminal, between frames, as a frame
/// is written: whole, and only while the terminal is the console's.
pub fn copy(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = guard::TtyWriter::default();
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

/// Runs the console until it quits or every sender is gone. Each effect
/// the app asks for goes to `outside`, with the terminal when the app is
/// suspended. Returns the app (for tests to inspect) and what the loop
/// measured.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    mut app: App,
    mut events: mpsc::Receiver<Event>,
    mut effects: impl Outside,
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
        if let Some(request) = app.take_terminal_request() {
            match request {
                TerminalRequest::Suspend => effects.suspend(),
                TerminalRequest::HandOff(hand) => {
                    let result = effects.hand_off(&hand);
                    let what = hand.what;
                    feed(
                        &mut app,
                        Event::HandedBack { what, result },
                        &mut effects,
                        &mut stats,
                    );
                }
                TerminalRequest::Reclaim => {}
            }
            effects.reclaim();
            // Whatever the screen shows now is not ours: redraw it whole.
            let size = terminal.size()?;
            terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))?;
            need_draw = true;
            last_frame = None;
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
fn feed(app: &mut App, event: Event, outside: &mut impl Outside, stats: &mut LoopStats) {
    let mut pending = vec![event];
    while let Some(event) = pending.pop() {
        stats.events += 1;
        pending.extend(
            app.handle(event)
                .into_iter()
                .filter_map(|e| outside.effect(e)),
        );
    }
}

fn drain(
    app: &mut App,
    events: &mut mpsc::Receiver<Event>,
    effects: &mut impl Outside,
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
/// an error reading it), asks the app to shut down. The switch returned
/// pauses it while the terminal is handed to another program.
pub fn spawn_input(tx: mpsc::Sender<Event>) -> handoff::InputSwitch {
    let (switch, mut paused, idle) = handoff::InputSwitch::new();
    tokio::spawn(async move {
        // crossterm's reader panics when it cannot open the terminal (a
        // session killed while starting): ask it first, without waiting.
        if let Err(e) = crossterm::event::poll(Duration::ZERO) {
            tracing::info!("the terminal went away before it could be read: {e}");
            let _ = tx.send(Event::Shutdown("terminal input closed")).await;
            return;
        }
        loop {
            // Paused: each pause acknowledged by its number while the
            // terminal is not read, until the switch resumes.
            let (asked, n) = *paused.borrow_and_update();
            if asked {
                idle.send_replace(n);
                if paused.changed().await.is_err() {
                    return;
                }
                continue;
            }
            match read_input(&tx, &mut paused).await {
                Reading::Paused => {}
                Reading::Closed => return,
                Reading::Ended => break,
            }
        }
        let _ = tx.send(Event::Shutdown("terminal input closed")).await;
    });
    switch
}

/// How reading the terminal stopped.
enum Reading {
    /// Asked to let go of the terminal: the reader is dropped.
    Paused,
    /// The app is gone.
    Closed,
    /// The terminal is.
    Ended,
}

async fn read_input(
    tx: &mpsc::Sender<Event>,
    paused: &mut tokio::sync::watch::Receiver<(bool, u64)>,
) -> Reading {
    let mut stream = EventStream::new();
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            changed = paused.wait_for(|p| p.0) => {
                // Dropping the stream wakes crossterm's polling thread and
                // ends it: nothing reads the terminal but its new owner.
                drop(stream);
                return if changed.is_ok() { Reading::Paused } else { Reading::Closed };
            }
        };
        let Some(event) = event else {
            return Reading::Ended;
        };
        let event = match event {
            Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
                match convert_key(key) {
                    Some(k) => Event::Key(k),
                    None => continue,
                }
            }
            Ok(TermEvent::Resize(..)) => Event::Resize,
            Ok(_) => continue,
            Err(e) if guard::terminal_gone(&e) => {
                tracing::info!("the terminal went away: {e}");
                return Reading::Ended;
            }
            Err(e) => {
                tracing::error!("reading the terminal failed: {e}");
                return Reading::Ended;
            }
        };
        // A full channel must not keep the reader from hearing a pause:
        // the loop that would drain it is the one waiting for the pause.
        tokio::select! {
            sent = tx.send(event) => if sent.is_err() {
                return Reading::Closed;
            },
            changed = paused.wait_for(|p| p.0) => {
                drop(stream);
                return if changed.is_ok() { Reading::Paused } else { Reading::Closed };
            }
        }
    }
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
/// shutdown, so the terminal is restored and no process is left spinning;
/// a second one while shutting down ends the process at once (the
/// terminal restored first). SIGTSTP suspends to the shell as a terminal
/// program should, and SIGCONT (after `fg`, or after an uncatchable
/// SIGSTOP) takes the terminal back and redraws it.
pub fn spawn_signals(tx: mpsc::Sender<Event>) -> std::io::Result<JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut tstp = signal(SignalKind::from_raw(rustix::process::Signal::TSTP.as_raw()))?;
    let mut cont = signal(SignalKind::from_raw(rustix::process::Signal::CONT.as_raw()))?;
    Ok(tokio::spawn(async move {
        let mut stopping = false;
        loop {
            let (event, code) = tokio::select! {
                _ = term.recv() => (Event::Shutdown("SIGTERM"), 143),
                _ = hup.recv() => (Event::Shutdown("SIGHUP"), 129),
                _ = int.recv() => (Event::Shutdown("SIGINT"), 130),
                _ = tstp.recv() => (Event::Suspend, 0),
                _ = cont.recv() => (Event::Continued, 0),
            };
            let keyboard = matches!(event, Event::Suspend | Event::Shutdown("SIGINT"));
            if keyboard && handoff::HANDED_OFF.load(std::sync::atomic::Ordering::SeqCst) {
                tracing::info!(
                    "a keyboard signal while the terminal is handed over: its program's"
                );
                continue;
            }
            if let Event::Shutdown(why) = event {
                if stopping {
                    guard::release_for_exit();
                    tracing::warn!(
                        signal = why,
                        "a second signal while shutting down: exiting now"
                    );
                    crate::logging::flush();
                    std::process::exit(code);
                }
                stopping = true;
            }
            // Never wait here on a full channel: the next signal must be heard.
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(event).await;
            });
        }
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

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_is_the_clipboard_selection_in_base64_ended_by_bel() {
        assert_eq!(super::osc52("eks-tokyo"), "\x1b]52;c;ZWtzLXRva3lv\x07");
        assert_eq!(super::osc52(""), "\x1b]52;c;\x07");
    }
}

//! The terminal guard: raw mode and the alternate screen on entry, and a
//! release that runs on every exit path (normal return, error, panic,
//! signal) and on job control (suspended with Ctrl-Z or SIGTSTP, claimed
//! again on SIGCONT).
//!
//! Frames are written through [`TtyWriter`], which holds a frame's bytes
//! and writes them whole under the same lock that releasing takes: once
//! the terminal is released nothing more is drawn, so a panic in a task
//! while a frame is being written never leaves fragments on the shell.
//! Releasing is idempotent and never panics, so the panic hook, `Drop`
//! and the normal path can all call it.

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};

/// The terminal is ours: raw mode, alternate screen.
static OWNED: AtomicBool = AtomicBool::new(false);
/// Taken to write a frame, and to claim or release the terminal.
static TTY: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread is inside a frame's write (a panic there must not wait
    /// for the lock it holds).
    static WRITING: Cell<bool> = const { Cell::new(false) };
}

fn lock() -> MutexGuard<'static, ()> {
    TTY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds the terminal in raw mode on the alternate screen until dropped.
#[derive(Debug)]
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Enters raw mode and the alternate screen.
    pub fn enter() -> io::Result<TerminalGuard> {
        claim()?;
        Ok(TerminalGuard(()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        release();
    }
}

/// Takes the terminal (again): raw mode re-applied even if crossterm
/// believes it is on (after `fg` the shell may have reset the terminal),
/// the alternate screen, the cursor hidden.
pub fn claim() -> io::Result<()> {
    let _held = lock();
    let _ = disable_raw_mode();
    enable_raw_mode()?;
    OWNED.store(true, Ordering::SeqCst);
    if let Err(e) = execute!(io::stdout(), EnterAlternateScreen, cursor::Hide) {
        release_locked();
        return Err(e);
    }
    Ok(())
}

fn release_locked() {
    if OWNED.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// Gives the terminal back: leaves the alternate screen, shows the
/// cursor and ends raw mode, once, after any frame being written. Errors
/// are ignored: the terminal may already be gone (SIGHUP).
pub fn release() {
    let _held = lock();
    release_locked();
}

/// The old name of [`release`].
pub fn restore() {
    release();
}

/// For the panic hook and a forced exit: releases the terminal without
/// waiting long for a frame in flight (a writer stuck on a paused or dead
/// terminal), and keeps the lock so that nothing is drawn afterwards.
pub fn release_for_exit() {
    if WRITING.with(Cell::get) {
        // Panicked inside our own frame write: the lock is this thread's.
        release_locked();
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(500);
    let held = loop {
        match TTY.try_lock() {
            Ok(g) => break Some(g),
            Err(TryLockError::Poisoned(p)) => break Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => break None,
        }
    };
    release_locked();
    // Never unlocked: any later frame blocks until the process exits.
    std::mem::forget(held);
}

/// Whether the terminal is ours right now.
pub fn owned() -> bool {
    OWNED.load(Ordering::SeqCst)
}

/// Where ratatui writes frames: a frame's bytes are held until flushed,
/// then written whole while the terminal is ours, and dropped once it has
/// been released.
#[derive(Debug, Default)]
pub struct TtyWriter {
    frame: Vec<u8>,
}

impl Write for TtyWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.frame.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let frame = std::mem::take(&mut self.frame);
        let _held = lock();
        if !OWNED.load(Ordering::SeqCst) {
            return Ok(());
        }
        WRITING.with(|w| w.set(true));
        let mut out = io::stdout().lock();
        let written = out.write_all(&frame).and_then(|()| out.flush());
        WRITING.with(|w| w.set(false));
        written
    }
}

/// Whether an I/O error means the terminal went away (the SSH session or
/// the terminal emulator closed): a hang-up, not a failure to report.
pub fn terminal_gone(e: &io::Error) -> bool {
    const EIO: i32 = 5;
    const ENXIO: i32 = 6;
    const EPIPE: i32 = 32;
    const ENOTTY: i32 = 25;
    e.kind() == io::ErrorKind::BrokenPipe
        || e.kind() == io::ErrorKind::UnexpectedEof
        || e.raw_os_error()
            .is_some_and(|n| matches!(n, EIO | ENXIO | EPIPE | ENOTTY))
}

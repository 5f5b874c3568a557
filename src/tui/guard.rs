//! The terminal guard: raw mode and the alternate screen on entry, and a
//! restore that runs on every exit path (normal return, error, panic,
//! signal). Restoring is idempotent and never panics, so the panic hook,
//! `Drop` and the normal path can all call it.

use std::io::{Write, stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};

static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Holds the terminal in raw mode on the alternate screen until dropped.
#[derive(Debug)]
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Enters raw mode and the alternate screen.
    pub fn enter() -> std::io::Result<TerminalGuard> {
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        if let Err(e) = execute!(stdout(), EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(e);
        }
        Ok(TerminalGuard(()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor and ends raw mode, once.
/// Errors are ignored: the terminal may already be gone (SIGHUP).
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = stdout();
        let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

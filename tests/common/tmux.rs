//! A tmux server of a test's own, to run the built binary in a real
//! terminal: keys sent, the screen captured. The shell is `sh` (dash, no
//! line editor), so a terminal left in raw mode shows up: the next command
//! line would never run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of this test's own, killed when the test ends.
pub struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    pub fn new(name: &str) -> Tmux {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "tmux is missing: install it with `apt-get install -y tmux` (tests/run.sh does this)"
        );
        Tmux {
            socket: format!("touban-e2e-{}-{name}", std::process::id()),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-u")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Starts a session running `command` in a `w` x `h` terminal, with the
    /// XDG directories in the test's temp dir so no user file is read.
    pub fn start(&self, w: u16, h: u16, command: &str) {
        let env = format!(
            "env -u NO_COLOR -u TOUBAN_CONFIG -u LC_ALL -u LC_MESSAGES RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 TERM=xterm-256color LANG=C.UTF-8 XDG_CONFIG_HOME={} XDG_STATE_HOME={} PS1='shell> ' ",
            self.path("config").display(),
            self.path("state").display()
        );
        let out = self.cmd(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
            &format!("{env}{command}"),
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "send-keys {keys:?}");
    }

    /// Types a line of text and Enter.
    pub fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// Waits until the screen satisfies `f` (10 s at most, then fails with the screen).
    pub fn wait(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        self.wait_for_secs(10, what, f)
    }

    /// Waits until the screen satisfies `f` (`secs` at most, then fails
    /// with the screen).
    pub fn wait_for_secs(&self, secs: u64, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if f(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of the test's logs (`*.log` beside the session, and
    /// the audit log under the state directory): what a screen cut at its
    /// width leaves out of a failure.
    fn logs(&self) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        files.sort();
        files.push(self.path("state").join("touban/audit.jsonl"));
        let mut out = String::new();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            out.push_str("--- the last lines of ");
            out.push_str(&file.display().to_string());
            out.push_str(":\n");
            for line in tail {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("`{text}`"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// Finds `Tokyo HH:MM:SS JST` style clocks.
pub fn has_clock(screen: &str, region: &str, zone: &str) -> bool {
    screen.match_indices(&format!("{region} ")).any(|(i, m)| {
        let rest = &screen[i + m.len()..];
        let time: Vec<char> = rest.chars().take(8).collect();
        time.len() == 8
            && time.iter().enumerate().all(|(j, c)| {
                if j == 2 || j == 5 {
                    *c == ':'
                } else {
                    c.is_ascii_digit()
                }
            })
            && rest[8..].starts_with(&format!(" {zone}"))
    })
}

/// Checks the terminal is back in cooked mode with echo: if touban had
/// left raw mode on, Enter would not end this command line.
pub fn assert_terminal_restored(t: &Tmux) {
    t.line("stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo|icrnl)' | tr '\\n' ' '; echo STTY-DONE");
    let output = |s: &str| {
        s.lines()
            .find(|l| l.ends_with("STTY-DONE") && !l.contains("stty"))
            .map(str::to_owned)
    };
    let screen = t.wait("the stty output", |s| output(s).is_some());
    let line = output(&screen).unwrap_or_default();
    assert!(
        line.contains("icrnl icanon echo"),
        "terminal modes after exit: {line}\n{screen}"
    );
}

/// The bytes of `raw` that are not part of an escape sequence.
pub fn strip_escapes(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == 0x1b {
            i += 1;
            match raw.get(i) {
                // CSI: parameters, then a final byte in @..~
                Some(b'[') => {
                    i += 1;
                    while i < raw.len() && !(0x40..=0x7e).contains(&raw[i]) {
                        i += 1;
                    }
                    i += 1;
                }
                // Charset designation: ESC ( B and the like.
                Some(b'(' | b')') => i += 2,
                _ => i += 1,
            }
        } else {
            if !raw[i].is_ascii_control() {
                out.push(raw[i]);
            }
            i += 1;
        }
    }
    out
}

/// The demo directories (`demo-PID`) under a state directory.
pub fn demo_dirs(state: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(state)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("demo-"))
        })
        .collect();
    dirs.sort();
    dirs
}

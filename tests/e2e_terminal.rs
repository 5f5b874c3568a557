//! End to end, the binary as a terminal program: job control (Ctrl-Z,
//! SIGTSTP, `fg`), a second signal during a slow shutdown, a session killed
//! while starting, no terminal at all, a closed pipe, private files, and
//! two demos side by side.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tmux::{Tmux, assert_terminal_restored, demo_dirs};

/// The built binary.
const BIN: &str = env!("CARGO_BIN_EXE_touban");

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs touban as a job of the shell, its pid written to a file; returns
/// the pid. (No `; echo` after it: when a job stops, the shell goes on
/// with the rest of the line.)
fn start_under_shell(t: &Tmux, args: &str) -> String {
    t.start(120, 40, "sh");
    t.wait_for("shell>");
    let pidfile = t.path("pid");
    t.line(&format!(
        "sh -c 'echo $$ > {}; exec {BIN} --log-file {} {args}'",
        pidfile.display(),
        t.path("touban.log").display()
    ));
    t.wait_for("当番 touban");
    std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .to_owned()
}

fn signal(pid: &str, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), pid])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn ctrl_z_and_sigtstp_suspend_to_the_shell_and_fg_redraws() {
    let t = Tmux::new("tstp");
    let pid = start_under_shell(&t, "");
    // Ctrl-Z (a key in raw mode): the terminal is given back, the job stops.
    t.keys(&["C-z"]);
    t.wait("the shell's prompt back", |s| {
        !s.contains("当番 touban") && s.lines().any(|l| l.starts_with("shell>"))
    });
    assert_terminal_restored(&t);
    t.line("fg");
    let screen = t.wait_for("当番 touban");
    assert!(
        screen.contains("1 Overview"),
        "fg redraws the whole screen:\n{screen}"
    );
    t.keys(&["3"]);
    t.wait_for(" Data ─");

    // SIGTSTP from another process: the same.
    signal(&pid, "TSTP");
    t.wait("the shell's prompt after SIGTSTP", |s| {
        !s.contains("当番 touban")
    });
    assert_terminal_restored(&t);
    t.line("fg");
    t.wait_for("当番 touban");
    t.keys(&["q"]);
    wait_gone(&pid);
    assert_terminal_restored(&t);
}

fn wait_gone(pid: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(Instant::now() < deadline, "touban {pid} still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigstop_then_sigcont_takes_the_terminal_back() {
    let t = Tmux::new("stop");
    let pid = start_under_shell(&t, "");
    // SIGSTOP cannot be caught: the shell takes the terminal as touban
    // left it (raw, its screen), and prints over it.
    signal(&pid, "STOP");
    t.wait("the shell's word after SIGSTOP", |s| s.contains("Stopped"));
    // The terminal is still raw (nothing could restore it): Enter sends a
    // bare CR, so end the line with ctrl-j.
    t.keys(&["-l", "fg"]);
    t.keys(&["C-j"]);
    // SIGCONT: raw mode re-applied and the screen redrawn whole.
    // The old frame is still on screen under the shell's words: wait for
    // a redraw that wiped them.
    let screen = t.wait("the screen redrawn whole", |s| {
        s.contains("1 Overview") && !s.contains("Stopped") && !s.contains("fg")
    });
    assert!(screen.contains("当番 touban"), "{screen}");
    t.keys(&["5"]);
    t.wait_for(" Rollouts ─");
    t.keys(&["q"]);
    wait_gone(&pid);
    assert_terminal_restored(&t);
}

#[test]
fn a_second_sigterm_during_a_slow_shutdown_exits_at_once() {
    let t = Tmux::new("twice");
    let pid = start_under_shell(&t, "hang-test");
    signal(&pid, "TERM");
    // The first is a clean shutdown, which hangs here on purpose.
    t.wait("the terminal given back", |s| !s.contains("当番 touban"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(&pid), "the hang test hangs in its shutdown");
    let sent = Instant::now();
    signal(&pid, "TERM");
    let deadline = sent + Duration::from_secs(10);
    while alive(&pid) {
        assert!(
            Instant::now() < deadline,
            "still running 10 s after the second SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "figure: second SIGTERM to exit: {} ms",
        sent.elapsed().as_millis()
    );
    assert_terminal_restored(&t);
    let log = std::fs::read_to_string(t.path("touban.log")).unwrap_or_default();
    assert!(log.contains("a second signal while shutting down"), "{log}");
}

#[test]
fn a_session_killed_while_starting_shuts_down_cleanly() {
    for attempt in 0..8u64 {
        let t = Tmux::new(&format!("early{attempt}"));
        let log = t.path("early.log");
        t.start(100, 30, &format!("{BIN} --log-file {}", log.display()));
        let pid_out = t.cmd(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        let pid = String::from_utf8_lossy(&pid_out.stdout).trim().to_owned();
        // Killed at a different point of the start each time.
        std::thread::sleep(Duration::from_millis(attempt * 20));
        t.cmd(&["kill-session", "-t", "main"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid.is_empty() && alive(&pid) {
            assert!(
                Instant::now() < deadline,
                "attempt {attempt}: still running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            !text.contains(" ERROR "),
            "attempt {attempt}: a hang-up while starting is no error:\n{text}"
        );
    }
}

#[test]
fn without_a_terminal_it_says_so_in_one_line() {
    let dir = tempfile::tempdir().expect("temp");
    let out = Command::new(BIN)
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("needs a terminal"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn printing_commands_end_quietly_on_a_closed_pipe() {
    for args in [
        &["info"][..],
        &["config", "example"],
        &["completions", "bash"],
    ] {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        // The reader goes away before a byte is read: `| head -0`.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_log_and_the_demo_files_are_private_and_two_demos_keep_their_own_worlds() {
    let one = Tmux::new("demo-a");
    let two = Tmux::new("demo-b");
    // Both demos share one state directory, as one user's two consoles.
    let state = one.path("state");
    for (t, name) in [(&one, "a"), (&two, "b")] {
        t.start(160, 48, "sh");
        t.wait_for("shell>");
        t.line(&format!(
            "XDG_STATE_HOME={} {BIN} --log-file {}/touban/{name}.log demo --scenario calm; echo EXIT:$?",
            state.display(),
            state.display()
        ));
        t.wait_for("当番 touban │ sandbox");
    }
    let dirs = demo_dirs(&state.join("touban"));
    assert_eq!(dirs.len(), 2, "a directory per demo: {dirs:?}");
    for d in &dirs {
        assert_eq!(mode(d), 0o700, "{}", d.display());
        assert_eq!(mode(&d.join("kubeconfig")), 0o600, "bearer tokens inside");
    }
    let tokens: Vec<String> = dirs
        .iter()
        .map(|d| std::fs::read_to_string(d.join("kubeconfig")).expect("kubeconfig"))
        .collect();
    assert_ne!(tokens[0], tokens[1], "each world its own tokens and ports");
    assert_eq!(mode(&state.join("touban")), 0o700);
    assert_eq!(mode(&state.join("touban/a.log")), 0o600);
    // Each console reaches its own API server: Enter on a pod fetches it.
    for t in [&one, &two] {
        t.keys(&["2"]);
        t.wait_for("Running");
        t.keys(&["Enter"]);
        t.wait_for("kind: Pod");
        t.keys(&["Escape"]);
    }
    for t in [&one, &two] {
        t.keys(&["q"]);
        t.wait_for("EXIT:0");
    }
    assert!(
        demo_dirs(&state.join("touban")).is_empty(),
        "removed on exit"
    );
}

#[test]
fn a_hanging_credential_plugin_freezes_nothing_and_never_gets_the_terminal() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = Tmux::new("plugin");
    let plugin = t.path("hang.sh");
    // It writes to stderr, tries to read the operator's keys, then hangs.
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho PLUGIN-STDERR-TEXT >&2\nread line && echo \"GOT $line\" >&2\nexec sleep 1017\n",
    )
    .expect("plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let kubeconfig = t.path("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\ncontexts:\n- name: one\n  context:\n    cluster: c\n    user: u\n- name: two\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: IfAvailable\ncurrent-context: one\n",
            plugin.display()
        ),
    )
    .expect("kubeconfig");
    let config = t.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[[clusters]]\nname = \"eks-tokyo\"\nregion = \"tokyo\"\ncontext = \"one\"\nkubeconfig = \"{k}\"\n\n[[clusters]]\nname = \"aks-korea\"\nregion = \"korea\"\ncontext = \"two\"\nkubeconfig = \"{k}\"\n",
            common::TWO_REGIONS,
            k = kubeconfig.display()
        ),
    )
    .expect("config");
    let pid = start_under_shell(&t, &format!("--config {}", config.display()));
    // Keys typed while both plugins run reach touban, not the plugins.
    t.keys(&["-l", "3"]);
    let data = t.wait_for(" Data ─");
    let clock = |s: &str| s.lines().nth(1).unwrap_or_default().to_owned();
    let before = clock(&data);
    t.keys(&["1"]);
    let later = t.wait("the clock moving on", |s| {
        clock(s) != before && s.contains(" Overview ─")
    });
    assert!(
        !later.contains("PLUGIN-STDERR-TEXT") && !later.contains("GOT"),
        "{later}"
    );
    // At its deadline each plugin is killed, and the cells say so.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let s = t.screen();
        let log = std::fs::read_to_string(t.path("touban.log")).unwrap_or_default();
        if s.matches("error").count() >= 2
            && s.matches("kube exec plugin `hang.sh`").count() >= 2
            && log
                .matches("gave no credential within 20 s: killed")
                .count()
                >= 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no plugin timeout shown:\n{s}\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = Command::new("pgrep")
        .args(["-f", "sleep 1017"])
        .output()
        .expect("pgrep");
    assert!(
        left.stdout.is_empty(),
        "a killed plugin left: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    assert!(!t.screen().contains("PLUGIN-STDERR-TEXT"));
    let log = std::fs::read_to_string(t.path("touban.log")).unwrap_or_default();
    assert!(
        log.contains("exec plugin said: PLUGIN-STDERR-TEXT"),
        "its stderr goes to the log:\n{log}"
    );
    let sent = Instant::now();
    t.keys(&["q"]);
    wait_gone(&pid);
    println!(
        "figure: q to exit with two plugins killed: {} ms",
        sent.elapsed().as_millis()
    );
    assert_terminal_restored(&t);
}

//! End to end: the built binary in a real terminal (tmux), keys sent and the
//! screen captured. The shell is `sh` (dash, no line editor), so a terminal
//! left in raw mode shows up: the next command line would never run.
//!
//! Figures (time to first frame, bytes written while idle) are printed, not
//! asserted against a clock: the machines are shared and noisy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::Process;
use common::tmux::{Tmux, assert_terminal_restored, has_clock, strip_escapes};

const BIN: &str = env!("CARGO_BIN_EXE_touban");

fn first_frame_micros(log: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(log).ok()?;
    let at = text.rfind("micros=")?;
    text[at + 7..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Starts `touban demo ARGS` in a 160×48 shell pane of `t`, its log in the
/// pane's directory; the shell prints `EXIT:<code>` when it ends.
fn demo(t: &Tmux, args: &str) {
    t.start(160, 48, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "{BIN} --log-file {} demo {args}; echo EXIT:$?",
        t.path("demo.log").display()
    ));
}

#[test]
fn starts_shows_clocks_help_and_panes_then_quits_to_the_shell() {
    let t = Tmux::new("tour");
    t.start(160, 48, "sh");
    t.wait_for("shell>");
    let log = t.path("tour.log");
    t.line(&format!("{BIN} --log-file {}; echo EXIT:$?", log.display()));

    // The first frame whole (its footer is its last line): a capture can
    // land while a frame is half written.
    let screen = t.wait("the first frame whole", |s| {
        s.contains("当番 touban") && s.contains("? help  : command")
    });
    assert!(screen.contains("iworkz-production"), "{screen}");
    assert!(
        has_clock(&screen, "Tokyo", "JST"),
        "Tokyo clock in JST:\n{screen}"
    );
    assert!(
        has_clock(&screen, "Seoul", "KST"),
        "Seoul clock in KST:\n{screen}"
    );
    assert!(
        screen.lines().next().is_some_and(|l| l.ends_with(" LIVE")),
        "the mode badge:\n{screen}"
    );
    assert!(
        screen.contains("1 Overview  2 Cluster  3 Data"),
        "the pane bar:\n{screen}"
    );
    assert!(
        screen.contains("? help  : command"),
        "footer hints:\n{screen}"
    );
    assert!(
        screen.contains("eks-tokyo") && screen.contains("aks-korea"),
        "{screen}"
    );

    t.keys(&["?"]);
    t.wait_for("Help: keys and commands");
    // Escape alone: a key right after it would read as Alt+key.
    t.keys(&["Escape"]);
    t.wait("help to close", |s| !s.contains("Help: keys and commands"));
    t.keys(&["3"]);
    let data = t.wait_for(" Data ─");
    assert!(data.contains("iworkz-production-redis"), "{data}");

    t.keys(&[":"]);
    t.keys(&["-l", "theme mono"]);
    t.keys(&["Enter"]);
    t.keys(&["7"]);
    t.wait_for(" Scaling ─");

    t.keys(&["q"]);
    let after = t.wait_for("EXIT:0");
    assert!(
        !after.contains("当番 touban"),
        "the alternate screen was left:\n{after}"
    );
    assert_terminal_restored(&t);
    if let Some(us) = first_frame_micros(&log) {
        println!(
            "figure: start to first frame {}.{:03} ms (debug build, 160x48)",
            us / 1000,
            us % 1000
        );
    }
}

#[test]
fn a_bad_config_exits_2_with_file_line_column_and_an_untouched_terminal() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config/invalid/unknown_region.toml");
    let dir = tempfile::tempdir().expect("temp");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&fixture)
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .expect("run touban");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "nothing written to the terminal: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "{}:11:10: unknown region `osaka`: expected one of `tokyo`",
        fixture.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    // `config check` says the same, and accepts the example.
    let check = Command::new(BIN)
        .args(["config", "check"])
        .arg(&fixture)
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .expect("check");
    assert_eq!(check.status.code(), Some(2));
    let example = Command::new(BIN)
        .args(["config", "example"])
        .output()
        .expect("example");
    let example_file = dir.path().join("example.toml");
    std::fs::write(&example_file, &example.stdout).expect("write example");
    let ok = Command::new(BIN)
        .args(["config", "check"])
        .arg(&example_file)
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .expect("check");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let said = String::from_utf8_lossy(&ok.stdout);
    // The file named on the command line is named as itself, not as
    // `--config`; counts of one are singular.
    let expected = format!("ok: {}: environment", example_file.display());
    assert!(said.starts_with(&expected), "{said}");
    assert!(!said.contains("(--config)"), "{said}");
    assert!(said.contains(", 2 regions, "), "{said}");
    assert!(said.contains(", 1 cache, "), "{said}");
}

#[test]
fn sigterm_restores_the_terminal_and_exits() {
    let t = Tmux::new("term");
    t.start(100, 30, "sh");
    t.wait_for("shell>");
    let pidfile = t.path("pid");
    t.line(&format!(
        "sh -c 'echo $$ > {}; exec {BIN} --log-file {}'; echo EXIT:$?",
        pidfile.display(),
        t.path("term.log").display()
    ));
    t.wait_for("当番 touban");
    let pid = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .to_owned();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let after = t.wait_for("EXIT:0");
    assert!(!after.contains("当番 touban"), "{after}");
    assert_terminal_restored(&t);
}

#[test]
fn sighup_from_a_dropped_session_ends_the_process() {
    let t = Tmux::new("hup");
    // touban is the pane's own process, as under `ssh bastion touban`.
    t.start(
        100,
        30,
        &format!("{BIN} --log-file {}", t.path("hup.log").display()),
    );
    t.wait_for("当番 touban");
    let pid_out = t.cmd(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
    let pid = String::from_utf8_lossy(&pid_out.stdout).trim().to_owned();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists(), "touban runs as pid {pid}");
    // Killing the session hangs up its terminal: SIGHUP, as when SSH drops.
    t.cmd(&["kill-session", "-t", "main"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "touban (pid {pid}) still runs 10 s after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(t.path("hup.log")).unwrap_or_default();
    // Either the hangup is handled first, or the next draw finds the
    // terminal gone; both end the process and say why in the log.
    assert!(
        log.contains("why=\"SIGHUP\"")
            || log.contains("terminal input closed")
            || log.contains("the terminal went away"),
        "{log}"
    );
    assert!(!log.contains(" ERROR "), "a hang-up is no error:\n{log}");
}

/// Left alone at 200×50 (the size it was measured at beside kdash), once its
/// sources have settled, the console writes within the idle budget of
/// 100 B/s: the two clocks and coarse ages of the sources that are not live,
/// nothing rewritten that did not change.
/// The bytes the pane's program writes in 10 s (tmux's pipe-pane into
/// `name` in the test's directory).
fn written_in_10_s(t: &Tmux, name: &str) -> Vec<u8> {
    let out = t.path(name);
    let pipe = t.cmd(&[
        "pipe-pane",
        "-o",
        "-t",
        "main",
        &format!("cat >> {}", out.display()),
    ]);
    assert!(pipe.status.success());
    std::thread::sleep(Duration::from_secs(10));
    t.cmd(&["pipe-pane", "-t", "main"]);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::read(&out).unwrap_or_default()
}

#[test]
fn idle_writes_little_and_only_what_changed() {
    let t = Tmux::new("idle");
    t.start(
        200,
        50,
        &format!("{BIN} --log-file {}", t.path("idle.log").display()),
    );
    let started = Instant::now();
    t.wait_for("当番 touban");
    // The built-in example's sources cannot connect here: they settle as
    // stale within seconds, and their ages are exact for ten seconds, then
    // coarser. Measure from then on.
    // Every source settled (none connecting or not connected yet), then
    // past the ten seconds of exact ages: a loaded machine settles later.
    t.wait_for_secs(60, "every source settled as stale", |s| {
        s.contains("stale") && !s.contains("connecting") && !s.contains("not connected")
    });
    let settled = Instant::now();
    std::thread::sleep(
        Duration::from_secs(11)
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(11).saturating_sub(settled.elapsed())),
    );
    let bytes = written_in_10_s(&t, "idle.out");
    let printable = strip_escapes(&bytes);
    println!(
        "figure: idle for 10 s at 200x50: {} bytes written ({} B/s), printable text {:?}",
        bytes.len(),
        bytes.len() / 10,
        String::from_utf8_lossy(&printable)
    );
    assert!(!printable.is_empty(), "the clocks change within 10 s");
    assert!(
        bytes.len() <= 1000,
        "idle budget 100 B/s: {} bytes in 10 s",
        bytes.len()
    );
    // Only clock digits and ages change: no line is rewritten whole.
    assert!(
        printable
            .iter()
            .all(|b| b.is_ascii_digit() || b":sm ".contains(b)),
        "only clock digits and ages may change while idle: {:?}",
        String::from_utf8_lossy(&printable)
    );
    t.keys(&["q"]);
}

/// A panic anywhere restores the terminal, prints color-eyre's report, and
/// ends the process with status 101.
#[test]
fn a_panic_restores_the_terminal_then_reports() {
    // The crash test redraws without pause: a frame may be being written
    // when the panic comes. Nothing of it may reach the shell's screen.
    for run in 0..3 {
        let t = Tmux::new(&format!("panic{run}"));
        panic_once(&t);
    }
}

fn panic_once(t: &Tmux) {
    t.start(120, 40, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "{BIN} --log-file {} crash-test; echo EXIT:$?",
        t.path("panic.log").display()
    ));
    let after = t.wait_for("EXIT:101");
    assert!(
        !after.contains('│') && !after.contains("Overview"),
        "frame fragments on the shell:\n{after}"
    );
    assert!(after.contains("The application panicked"), "{after}");
    assert!(
        after.contains("crash test: a panic in a background task"),
        "{after}"
    );
    assert!(
        !after.contains("当番 touban"),
        "the alternate screen was left:\n{after}"
    );
    assert_terminal_restored(t);
}

/// `touban demo`: the sandbox in-process and the console on the config it
/// wrote, with both regions' clusters; q stops both.
#[test]
fn demo_starts_the_sandbox_and_the_console_on_it() {
    let t = Tmux::new("demo");
    demo(&t, "--speed 10");
    let screen = t.wait_for("当番 touban │ sandbox");
    assert!(
        screen.contains("eks-tokyo") && screen.contains("aks-korea"),
        "{screen}"
    );
    assert!(
        has_clock(&screen, "Tokyo", "JST") && has_clock(&screen, "Seoul", "KST"),
        "{screen}"
    );
    // Every cell of both regions fills: clusters, databases, cache, AI
    // services, alert sources, and each region's frontend.
    let live = t.wait("every source live", |s| s.contains("sources 14/14 live"));
    let settled = t.wait("a frontend cell per region", |s| {
        s.matches("web-frontend blue 3.2.0").count() == 2
    });
    // The world was settled before it was served: its first seconds show
    // no rollout half done, no pod still starting, nothing degraded.
    for screen in [&live, &settled] {
        for word in ["degraded", "failing", "below desired", "starting"] {
            assert!(!screen.contains(word), "{word} at start:\n{screen}");
        }
    }
    // The cluster source lists the sandbox: the Cluster pane shows its pods.
    t.keys(&["2"]);
    t.wait_for("backend-api-blue-");
    t.wait_for("Running");
    t.keys(&["]"]);
    t.wait_for("iworkz/backend-api:2.14.0");
    t.keys(&["7"]);
    let scaling = t.wait_for(" Scaling ─");
    assert!(scaling.contains("compute-optimized"), "{scaling}");
    let demo = common::tmux::demo_dirs(&t.path("state/touban"));
    let [demo] = demo.as_slice() else {
        panic!("one demo, one directory of its own: {demo:?}")
    };
    let config =
        std::fs::read_to_string(demo.join("config.toml")).expect("the demo wrote its config");
    assert!(config.contains("kubeconfig = "), "{config}");
    let kubeconfig = std::fs::read_to_string(demo.join("kubeconfig")).expect("and its kubeconfig");
    assert!(
        kubeconfig.contains("server: https://127.0.0.1:"),
        "{kubeconfig}"
    );
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
    assert!(!demo.exists(), "the demo's directory goes with it");
}

/// `touban sandbox` in a process of its own (it outlives the consoles
/// pointed at it), its config and kubeconfig written in `t`'s `sandbox/`:
/// the process, the config and the kubeconfig.
fn sandbox_process(t: &Tmux) -> (Process, PathBuf, PathBuf) {
    sandbox_process_in(t, "calm")
}

/// [`sandbox_process`] in `scenario`.
fn sandbox_process_in(t: &Tmux, scenario: &str) -> (Process, PathBuf, PathBuf) {
    let dir = t.path("sandbox");
    let sandbox = Process(
        Command::new(BIN)
            .args(["--log-file"])
            .arg(t.path("sandbox.log"))
            .args([
                "sandbox",
                "--scenario",
                scenario,
                "--speed",
                "10",
                "--write-config",
            ])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start touban sandbox"),
    );
    let config = dir.join("config.toml");
    let kubeconfig = dir.join("kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(config.exists() && kubeconfig.exists()) {
        assert!(Instant::now() < deadline, "the sandbox wrote no config");
        std::thread::sleep(Duration::from_millis(50));
    }
    (sandbox, config, kubeconfig)
}

#[test]
fn kubectl_scale_against_the_sandbox_shows_on_a_console_pointed_at_it() {
    let t = Tmux::new("scale");
    let (_sandbox, config, kubeconfig) = sandbox_process(&t);
    t.start(160, 48, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "{BIN} --log-file {} --config {}; echo EXIT:$?",
        t.path("console.log").display(),
        config.display()
    ));
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["2", "]"]);
    t.wait("web-frontend-blue at 4/4", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend-blue") && l.contains("4/4"))
    });
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--context",
            "eks-tokyo",
            "-n",
            "iworkz-production",
            "scale",
            "deployment/web-frontend-blue",
            "--replicas=6",
        ])
        .output()
        .expect("kubectl is installed (tests/run.sh checks)");
    assert!(
        out.status.success(),
        "kubectl scale: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let screen = t.wait("web-frontend-blue scaled to 6", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend-blue") && l.contains("/6"))
    });
    let line = screen
        .lines()
        .find(|l| l.contains("web-frontend-blue"))
        .unwrap_or_default();
    println!("after kubectl scale: {line}");
    t.wait("all six ready", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend-blue") && l.contains("6/6"))
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

#[test]
fn in_the_demo_an_alert_fires_and_the_jump_key_lands_on_its_pod() {
    let t = Tmux::new("jump");
    demo(&t, "--speed 30");
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["8"]);
    // At 30x, PodCrashLooping fires about 14 s in (120 s + its 5 min `for`).
    let deadline = Instant::now() + Duration::from_secs(60);
    let screen = loop {
        let s = t.screen();
        if s.lines()
            .any(|l| l.contains("PodCrashLooping") && l.contains("firing"))
        {
            break s;
        }
        assert!(Instant::now() < deadline, "no alert fired:\n{s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        screen.contains("critical") && screen.contains("platform"),
        "{screen}"
    );
    assert!(screen.contains("alerts Tokyo 1 crit"), "{screen}");
    let row = screen
        .lines()
        .position(|l| l.contains("PodCrashLooping"))
        .expect("listed");
    let first = screen
        .lines()
        .position(|l| l.starts_with("SEVERITY"))
        .expect("header")
        + 1;
    for _ in first..row {
        t.keys(&["Down"]);
    }
    t.keys(&["w"]);
    let cluster = t.wait_for("ns iworkz-production");
    assert!(
        cluster.contains(" Cluster  /backend-api-blue-"),
        "{cluster}"
    );
    t.wait("the crash-looping pod, alone", |s| {
        s.contains("1 rows") && s.contains("backend-api-blue-") && s.contains("CrashLoopBackOff")
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// `y` and `Y` reach the clipboard through OSC 52: tmux, told to take
/// applications' clipboard writes (`set -s set-clipboard on`, as over SSH
/// into a tmux), keeps each as a paste buffer, read back here.
#[test]
fn y_copies_the_selected_name_and_shift_y_the_object_s_yaml_through_osc_52() {
    let t = Tmux::new("copy");
    demo(&t, "--scenario calm");
    let set = t.cmd(&["set-option", "-s", "set-clipboard", "on"]);
    assert!(set.status.success(), "{set:?}");
    t.wait_for("当番 touban │ sandbox");
    let buffer = || String::from_utf8_lossy(&t.cmd(&["show-buffer"]).stdout).into_owned();

    t.keys(&["y"]);
    t.wait_for("copied cluster name (9 bytes) through OSC 52");
    assert_eq!(buffer(), "eks-tokyo");

    // The Cluster pane's selected pod: its name, then its YAML, fetched.
    t.keys(&["2"]);
    let screen = t.wait("pods listed", |s| s.contains("Running"));
    t.keys(&["y"]);
    t.wait_for("copied pod name");
    let name = buffer();
    assert!(
        !name.is_empty() && screen.contains(&name),
        "{name:?} is not a pod on screen:\n{screen}"
    );
    t.keys(&["Y"]);
    t.wait_for("copied the YAML of Pod");
    let yaml = buffer();
    assert!(
        yaml.contains("kind: Pod") && yaml.contains(&format!("name: {name}")),
        "{yaml}"
    );
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// The wallboard at 200×50 on the demo: the banner per region in large
/// letters, the rotation moving on its own, the Overview held once the
/// demo's critical alert fires, no action on any key, and leaving asks
/// first. Then the idle figure: `touban wall` on the built-in example
/// (every source stale) writing only what changes.
#[test]
fn the_wallboard_rotates_holds_on_a_new_critical_alert_and_writes_little_idle() {
    let t = Tmux::new("wall");
    t.start(200, 50, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "{BIN} --log-file {} demo --wall --speed 30 --seconds 2; echo EXIT:$?",
        t.path("wall.log").display()
    ));
    let first = t.wait("the first frame", |s| {
        s.contains("当番 touban wall") && s.contains("space pause")
    });
    // TOKYO in quadrant letters: the banner is large.
    assert!(
        first
            .lines()
            .next()
            .is_some_and(|l| l.contains('▛') || l.contains('▜')),
        "{first}"
    );
    t.wait("the rotation on the Alerts pane", |s| {
        s.contains("alerts (2/4)")
    });
    t.wait("the rotation on the Rollouts pane", |s| {
        s.contains("rollouts (3/4)")
    });
    // Keys that act in the console do nothing here.
    t.keys(&["S", ":", "z"]);
    // At 30x, PodCrashLooping fires about 14 s in: held on the Overview.
    t.wait_for_secs(60, "the Overview held", |s| {
        s.contains("held on the Overview: PodCrashLooping in Tokyo is new")
    });
    std::thread::sleep(Duration::from_secs(5));
    let held = t.screen();
    assert!(
        held.contains("held on the Overview") && held.contains(" Overview ─"),
        "still held after more than two periods:\n{held}"
    );
    assert!(
        held.contains("PodCrashLooping fired in Tokyo"),
        "the ticker says it:\n{held}"
    );
    assert!(!held.contains("command:"), "no command line:\n{held}");
    t.keys(&["q"]);
    t.wait_for("Leave the wallboard");
    t.keys(&["Tab", "Enter"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);

    // Idle: the built-in example's sources settle stale; the wall's clocks
    // are to the minute and its rotation an hour.
    t.line(&format!(
        "{BIN} --log-file {} wall --seconds 3600; echo EXIT:$?",
        t.path("idle.log").display()
    ));
    let started = Instant::now();
    t.wait_for_secs(60, "every source settled as stale", |s| {
        (s.contains("STALE") || s.contains("ERROR"))
            && !s.contains("connecting")
            && !s.contains("not connected")
    });
    std::thread::sleep(Duration::from_secs(11).saturating_sub(started.elapsed()));
    let bytes = written_in_10_s(&t, "wall-idle.out");
    println!(
        "figure: the wallboard idle for 10 s at 200x50: {} bytes written, printable text {:?}",
        bytes.len(),
        String::from_utf8_lossy(&strip_escapes(&bytes))
    );
    assert!(
        bytes.len() <= 1000,
        "idle budget 100 B/s: {} bytes in 10 s",
        bytes.len()
    );
    t.keys(&["q"]);
    t.wait_for("Leave the wallboard");
    t.keys(&["Tab", "Enter"]);
    t.wait_for("EXIT:0");
}

/// The executor from the console: in the demo, web-frontend-blue (which no
/// HPA scales) is scaled to 10 through the plan and the confirm dialog,
/// the Cluster pane shows 10/10, the Jobs pane the job succeeded with its
/// steps, and the demo's audit log (kept apart from a real one) has it.
#[test]
#[allow(clippy::too_many_lines)] // one story: from the selection to the audit log
fn in_the_demo_web_frontend_scales_to_10_through_the_confirm_dialog() {
    let t = Tmux::new("scale");
    demo(&t, "--scenario calm --speed 10");
    t.wait_for("sources 14/14 live");
    t.keys(&["2", "]"]);
    t.wait_for("iworkz/web-frontend:3.2.0");
    // Only web-frontend-blue, selected.
    t.keys(&["/"]);
    t.keys(&["-l", "web-frontend-blue"]);
    t.keys(&["Enter"]);
    t.wait("web-frontend-blue alone", |s| {
        s.contains("1 rows") && s.contains("4/4")
    });
    // `S` asks for the replicas on the command line; a bad number is
    // refused before anything is planned.
    t.keys(&["S"]);
    t.wait_for(":scale");
    t.keys(&["-l", "ten"]);
    t.keys(&["Enter"]);
    t.wait_for("the replicas must be a whole number");
    t.keys(&["S"]);
    t.keys(&["-l", "10"]);
    t.keys(&["Enter"]);
    t.wait_for("Scale web-frontend-blue from 4 to 10");
    // Its buttons are its last line: the whole dialog is drawn.
    let dialog = t.wait_for("[ Confirm ]");
    for field in [
        "Tokyo (primary)",
        "eks-tokyo",
        "iworkz-production",
        "Deployment web-frontend-blue",
        "PATCH …/deployments/web-frontend-blue/scale",
        "Undo: scale web-frontend-blue back to 4",
        "[ Cancel ]",
        "[ Dry run ]",
        "[ Confirm ]",
    ] {
        assert!(dialog.contains(field), "{field} in:\n{dialog}");
    }
    // Enter on the dialog as it opens is Cancel: nothing is done.
    t.keys(&["Enter"]);
    t.wait_for("not confirmed: nothing done");
    t.keys(&["S"]);
    t.keys(&["-l", "10"]);
    t.keys(&["Enter"]);
    t.wait_for("Scale web-frontend-blue from 4 to 10");
    t.keys(&["Tab", "Tab", "Enter"]);
    // The reason is required: Enter on an empty one does nothing.
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "e2e: load test"]);
    t.keys(&["Enter"]);
    t.wait_for("confirmed: the Jobs pane (9) follows it");
    t.wait("10 of 10 ready in the Cluster pane", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend-blue") && l.contains("10/10"))
    });
    t.keys(&["9"]);
    let jobs = t.wait("the job succeeded", |s| {
        s.lines()
            .any(|l| l.contains("scale web-frontend-blue from 4 to 10") && l.contains("succeeded"))
    });
    assert!(
        jobs.lines().any(|l| l.contains("cancelled")),
        "the declined plan is listed too:\n{jobs}"
    );
    t.keys(&["End", "Enter"]);
    let detail = t.wait_for("saw     10 of 10 updated and available");
    assert!(detail.contains("✓ 2. scale web-frontend-blue"), "{detail}");
    // Esc and q apart: together a terminal reads them as Alt-q.
    t.keys(&["Escape"]);
    t.wait("the detail closed", |s| !s.contains("saw     "));
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
    let audit = std::fs::read_to_string(t.path("state/touban/audit.demo.jsonl"))
        .expect("the demo's own audit log");
    let events: Vec<String> = audit
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            assert_eq!(v["environment"], "sandbox", "{l}");
            if v["event"] != "planned" && v["event"] != "declined" {
                assert_eq!(v["reason"], "e2e: load test", "{l}");
            }
            v["event"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        events,
        [
            "planned",
            "declined",
            "planned",
            "confirmed",
            "step-started",
            "step-ended",
            "step-started",
            "step-ended",
            "step-started",
            "step-ended",
            "finished"
        ],
        "{audit}"
    );
    assert!(
        !t.path("state/touban/audit.jsonl").exists(),
        "the demo writes nothing to the real audit log"
    );
}

/// From the Scaling pane, Korea selected, `:node-group general +2` plans
/// the agent pool's count through Resource Manager; confirmed, the two
/// new nodes join the cluster and turn Ready, and the pane shows them.
#[test]
fn in_the_demo_korea_s_node_pool_is_raised_by_two_from_the_scaling_pane() {
    let t = Tmux::new("nodes");
    demo(&t, "--scenario calm --speed 10");
    t.wait_for("sources 14/14 live");
    t.keys(&["7"]);
    let korea = |n: &'static str| {
        move |s: &str| {
            s.lines()
                .any(|l| l.contains("aks-korea") && l.contains("general") && l.contains(n))
        }
    };
    t.wait("Korea's general pool at 3 nodes", korea("3/3 ready"));
    t.keys(&["Down"]);
    t.keys(&[":"]);
    t.keys(&["-l", "node-group general +2"]);
    t.keys(&["Enter"]);
    let dialog = t.wait_for("[ Confirm ]");
    for field in [
        "Size node group general in aks-korea to desired 5",
        "PUT agentPools/general count 5",
        "general: desired 3 → 5",
    ] {
        assert!(dialog.contains(field), "{field} in:\n{dialog}");
    }
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "e2e: capacity for the failover drill"]);
    t.keys(&["Enter"]);
    t.wait_for("confirmed: the Jobs pane (9) follows it");
    t.wait(
        "the two new nodes Ready in the Scaling pane",
        korea("5/5 ready"),
    );
    // The cloud's sizes are read every 15 s: the row then says desired 5,
    // the nodes matching it, the pool settled.
    t.wait_for_secs(40, "the cloud's desired 5 in the Scaling pane", |s| {
        s.lines().any(|l| {
            l.contains("aks-korea")
                && l.contains("general")
                && l.contains(" 5 ")
                && l.contains("5/5 ready")
                && !l.contains('≠')
                && l.contains("Succeeded")
        })
    });
    t.keys(&["9"]);
    t.wait("the job succeeded", |s| {
        s.lines()
            .any(|l| l.contains("size node group general in aks-korea") && l.contains("succeeded"))
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// `:apply iworkz` in the demo: the diff of the server's dry run in the
/// plan's overlay, scrolled; confirmed with the set's name typed and a
/// reason, Tokyo's green Deployments are applied and rolled out, and then
/// Korea's plan opens by itself (staged), declined here.
#[test]
fn in_the_demo_apply_shows_the_diff_applies_tokyo_then_plans_korea() {
    let t = Tmux::new("apply");
    demo(&t, "--scenario calm --speed 10");
    t.wait_for("sources 14/14 live");
    t.keys(&[":"]);
    t.keys(&["-l", "apply iworkz"]);
    t.keys(&["Enter"]);
    t.wait_for_secs(30, "the plan's overlay", |s| {
        s.contains("Apply iworkz to eks-tokyo: 0 created, 3 changed, 5 unchanged")
            && s.contains("type iworkz to confirm")
    });
    t.keys(&["NPage"]);
    let scrolled = t.wait_for_secs(10, "the Deployments' changes, scrolled to", |s| {
        s.contains("~ spec.replicas: 0 → 3")
    });
    assert!(scrolled.contains("(PgUp PgDn"), "{scrolled}");
    t.keys(&["-l", "iworkz"]);
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "e2e: staged apply"]);
    t.keys(&["Enter"]);
    t.wait_for_secs(90, "Korea's plan, once Tokyo rolled out", |s| {
        s.contains("Apply iworkz to aks-korea")
    });
    t.keys(&["Escape"]);
    t.wait_for("not confirmed: nothing done");
    t.keys(&["9"]);
    t.wait("Tokyo's apply succeeded", |s| {
        s.lines()
            .any(|l| l.contains("apply iworkz to eks-tokyo") && l.contains("succeeded"))
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// In Tokyo an HPA scales backend-api-blue: `scale 10` on it is refused,
/// and the refusal offers backend-api-hpa's minimum of 10 instead, planned
/// and confirmed from the same dialog chain; the job ends succeeded once
/// the HPA has moved the deployment.
#[test]
fn in_the_demo_a_scale_of_an_hpa_s_target_raises_the_hpa_s_minimum() {
    let t = Tmux::new("hpa");
    demo(&t, "--scenario calm --speed 10");
    t.wait_for("sources 14/14 live");
    t.keys(&["5"]);
    t.wait_for("backend-api-blue");
    t.keys(&["/"]);
    t.keys(&["-l", "backend-api-blue"]);
    t.keys(&["Enter"]);
    t.keys(&[":"]);
    t.keys(&["-l", "scale 10"]);
    t.keys(&["Enter"]);
    let offer = t.wait_for("Refused: plan this instead?");
    assert!(
        offer.contains("scaled by the HPA backend-api-hpa"),
        "{offer}"
    );
    assert!(offer.contains("minimum to 10"), "{offer}");
    t.keys(&["Tab", "Enter"]);
    let plan = t.wait_for("Set backend-api-hpa's bounds from");
    assert!(
        plan.contains("HorizontalPodAutoscaler backend-api-hpa"),
        "{plan}"
    );
    assert!(
        plan.contains("PATCH …/horizontalpodautoscalers/backend-api-hpa"),
        "{plan}"
    );
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "hold 10 for the campaign"]);
    t.keys(&["Enter"]);
    t.keys(&["9"]);
    t.wait("the HPA job succeeded", |s| {
        s.lines()
            .any(|l| l.contains("set backend-api-hpa's bounds") && l.contains("succeeded"))
    });
    t.keys(&["5"]);
    t.wait("backend-api-blue at 10", |s| {
        s.lines()
            .any(|l| l.contains("backend-api-blue") && l.contains("10/10"))
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// In the demo, a blue-green deploy of web-frontend from the Rollouts
/// pane: `D` asks for the image starting from the live one, the plan
/// needs the release's name typed (Tokyo is primary), traffic moves to
/// green once it is Ready; `V` while blue is still held switches it back.
/// From the Rollouts pane: web-frontend deployed blue-green with
/// iworkz/web-frontend:3.3.0, confirmed with its name typed and a reason;
/// the confirm dialog as it was shown.
fn deploy_3_3_0(t: &Tmux) -> String {
    t.keys(&["5"]);
    t.wait_for("web-frontend-blue");
    t.keys(&["/"]);
    t.keys(&["-l", "web-frontend"]);
    t.keys(&["Enter"]);
    t.keys(&["D"]);
    t.wait_for(":deploy iworkz/web-frontend:3.2.0");
    t.keys(&["BSpace", "BSpace", "BSpace", "BSpace", "BSpace"]);
    t.keys(&["-l", "3.3.0"]);
    t.keys(&["Enter"]);
    // The dialog's last line: a frame caught mid-draw holds only its top.
    t.wait_for("Deploy iworkz/web-frontend:3.3.0 to web-frontend");
    let dialog = t.wait_for("type web-frontend to confirm");
    t.keys(&["-l", "web-frontend"]);
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "release 3.3.0"]);
    t.keys(&["Enter"]);
    dialog
}

#[test]
fn in_the_demo_a_blue_green_deploy_switches_and_its_revert_switches_back() {
    let t = Tmux::new("bluegreen");
    demo(&t, "--scenario calm --speed 10");
    t.wait_for("sources 14/14 live");
    let dialog = deploy_3_3_0(&t);
    for field in [
        "Tokyo (primary)",
        "web-frontend-service: spec.selector.color blue → green",
        "type web-frontend to confirm",
    ] {
        assert!(dialog.contains(field), "{field} in:\n{dialog}");
    }
    t.wait("traffic on green", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend eks-tokyo") && l.contains("live green"))
    });
    t.keys(&["9"]);
    t.wait("the deploy holds blue", |s| {
        s.lines()
            .any(|l| l.contains("deploy iworkz/web-frontend:3.3.0") && l.contains("6/7"))
    });
    t.keys(&["5"]);
    t.keys(&["V"]);
    t.wait_for("Revert web-frontend: traffic green → blue");
    t.keys(&["-l", "web-frontend"]);
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "3.3.0 errors"]);
    t.keys(&["Enter"]);
    t.wait("traffic back on blue", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend eks-tokyo") && l.contains("live blue"))
    });
    // The deploy was cancelled in its hold; the revert holds green.
    t.keys(&["9"]);
    t.wait("the deploy cancelled, the revert holding", |s| {
        s.lines()
            .any(|l| l.contains("deploy iworkz/web-frontend:3.3.0") && l.contains("cancelled"))
            && s.lines()
                .any(|l| l.contains("revert web-frontend") && l.contains("6/7"))
    });
    // Quitting with a job running asks first.
    t.keys(&["q"]);
    t.wait_for("running jobs  1");
    t.keys(&["Tab", "Enter"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// In the demo, an alert that fires is silenced from the Alerts pane: `z`
/// opens the command line on `silence 1h` and the alert's labels, the plan
/// goes to the Alertmanager of its region, the reason becomes the
/// silence's comment, and the pane shows it silenced at the next poll;
/// `Z` expires it.
#[test]
fn in_the_demo_an_alert_is_silenced_and_the_silence_expired() {
    let t = Tmux::new("silence");
    demo(&t, "--speed 30");
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["8"]);
    t.keys(&["/"]);
    t.keys(&["-l", "PodCrashLooping"]);
    t.keys(&["Enter"]);
    t.wait_for_secs(60, "the alert firing", |s| {
        s.lines()
            .any(|l| l.contains("PodCrashLooping") && l.contains("firing"))
    });
    t.keys(&["z"]);
    t.wait_for(":silence 1h alertname=\"PodCrashLooping\"");
    t.keys(&["Enter"]);
    t.wait_for("Silence PodCrashLooping in tokyo for 1.0 h");
    // The dialog whole: a capture can land while a frame is half written.
    t.wait_for("POST /api/v2/silences");
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "known crash, fix deploying"]);
    t.keys(&["Enter"]);
    t.wait_for_secs(30, "the alert silenced", |s| {
        s.lines()
            .any(|l| l.contains("PodCrashLooping") && l.contains("silenced"))
    });
    t.keys(&["Z"]);
    t.wait_for("Expire the silences of PodCrashLooping in tokyo");
    t.keys(&["Tab", "Tab", "Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "fixed"]);
    t.keys(&["Enter"]);
    t.wait_for_secs(30, "the alert firing again", |s| {
        s.lines()
            .any(|l| l.contains("PodCrashLooping") && l.contains("firing"))
            && !s
                .lines()
                .any(|l| l.contains("PodCrashLooping") && l.contains("silenced"))
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// In the demo's Tokyo outage, Korea's database (an Azure flexible server
/// read replica in the sandbox) is promoted from the command line:
/// `:promote` plans a Forced promotion through Resource Manager (Tokyo's
/// database does not answer), with the loss it risks; Confirm needs the
/// database's name typed and a reason; Korea's exporter then reads it as
/// a primary, and the audit log has the promotion.
#[test]
fn in_the_demo_s_tokyo_outage_korea_s_azure_replica_is_promoted_through_the_confirm_dialog() {
    let t = Tmux::new("azure");
    demo(&t, "--scenario outage-tokyo --speed 10");
    t.wait_for("sources 14/14 live");
    t.keys(&["3"]);
    // Tokyo's database fails at simulated second 60: Korea's replica
    // then waits for it.
    t.wait_for_secs(60, "Korea's replica waiting for Tokyo", |s| {
        s.contains("receiver waiting")
    });
    t.keys(&[":"]);
    t.keys(&["-l", "promote"]);
    t.keys(&["Enter"]);
    t.wait_for("Promote iworkz-dr-postgres (Forced), replacing iworkz-production-postgres");
    let dialog = t.wait_for("[ Confirm ]");
    for field in [
        "PATCH …/flexibleServers/iworkz-dr-postgres",
        "then GET its Azure-AsyncOperation until it ends",
        "replayed is lost (lag ",
        "type iworkz-dr-postgres to confirm",
    ] {
        assert!(dialog.contains(field), "{field} in:\n{dialog}");
    }
    t.keys(&["Tab", "Tab"]);
    t.keys(&["-l", "iworkz-dr-postgres"]);
    t.keys(&["Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "e2e: Tokyo's database is gone"]);
    t.keys(&["Enter"]);
    t.wait_for("confirmed: the Jobs pane (9) follows it");
    t.keys(&["3"]);
    t.wait_for_secs(60, "Korea's database read as a primary", |s| {
        s.contains("primary · via exporter")
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
    let audit = std::fs::read_to_string(t.path("state/touban/audit.demo.jsonl"))
        .expect("the demo's own audit log");
    let finished = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .find(|v| v["event"] == "finished" && v["action"]["action"] == "promote-replica")
        .unwrap_or_else(|| panic!("the promotion's end in:\n{audit}"));
    assert!(
        finished["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("succeeded")),
        "{finished:#}"
    );
    assert_eq!(finished["action"]["forced"], true, "{finished:#}");
}

/// In the demo, the Tokyo database's Multi-AZ failover through RDS's API
/// (the sandbox's), from the command line through the confirm dialog:
/// the audit log has its end, and RDS reports the primary in the other
/// zone.
#[test]
fn in_the_demo_the_tokyo_database_fails_over_to_its_rds_standby_through_the_confirm_dialog() {
    let t = Tmux::new("rds");
    demo(&t, "--scenario calm --speed 10");
    t.wait_for("sources 14/14 live");
    t.keys(&[":"]);
    t.keys(&["-l", "rds-failover iworkz-production-postgres"]);
    t.keys(&["Enter"]);
    let dialog = t.wait_for("[ Confirm ]");
    for field in [
        "Fail RDS iworkz-production-postgres over from ap-northeast-1a to",
        "RebootDBInstance iworkz-production-postgres ForceFailover=true",
        "RDS answers for the instance with these credentials",
        "type iworkz-production-postgres to confirm",
    ] {
        assert!(dialog.contains(field), "{field} in:\n{dialog}");
    }
    t.keys(&["Tab", "Tab"]);
    t.keys(&["-l", "iworkz-production-postgres"]);
    t.keys(&["Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "e2e: the AZ's storage is degraded"]);
    t.keys(&["Enter"]);
    t.wait_for("confirmed: the Jobs pane (9) follows it");
    let audit_path = t.path("state/touban/audit.demo.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let finished = loop {
        let audit = std::fs::read_to_string(&audit_path).unwrap_or_default();
        if let Some(v) = audit
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"] == "finished" && v["action"]["action"] == "rds-failover")
        {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no end of the failover in:\n{audit}\n{}",
            t.screen()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert!(
        finished["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("succeeded")),
        "{finished:#}"
    );
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// A console killed (SIGKILL) in the middle of a blue-green deploy, with
/// the sandbox in a process of its own: the next console started finds
/// the job in the Jobs pane as interrupted, `r` resumes it, and it ends
/// as an uninterrupted run would; its checkpoint is gone after.
#[test]
fn a_console_killed_mid_deploy_leaves_its_job_to_the_next_one_to_resume() {
    let t = Tmux::new("killed");
    let (_sandbox, config, _) = sandbox_process(&t);
    // The old colour held 20 s after the switch: time to kill it there.
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[settings]\nscale_down_delay_seconds = 20\n");
    std::fs::write(&config, text).expect("config");
    let console = |log: &str| {
        format!(
            "{BIN} --log-file {} --config {}",
            t.path(log).display(),
            config.display()
        )
    };
    t.start(160, 48, &console("first.log"));
    t.wait_for("当番 touban │ sandbox");
    deploy_3_3_0(&t);
    t.keys(&["9"]);
    t.wait_for_secs(60, "the deploy in its hold", |s| {
        s.lines()
            .any(|l| l.contains("deploy iworkz/web-frontend:3.3.0") && l.contains("6/7"))
    });
    let jobs = t.path("state").join("touban/jobs");
    let left = || std::fs::read_dir(&jobs).map_or(0, Iterator::count);
    assert_eq!(left(), 1, "its checkpoint while it runs");
    let killed = Command::new("pkill")
        .args(["-KILL", "-f"])
        .arg(t.path("first.log"))
        .status()
        .expect("pkill");
    assert!(killed.success(), "the console was running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.cmd(&["has-session", "-t", "main"]).status.success() {
        assert!(Instant::now() < deadline, "the killed console's pane stays");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(left(), 1, "the checkpoint outlives the console");

    // The next console: the job is there, interrupted; r resumes it.
    t.start(160, 48, &console("second.log"));
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["9"]);
    t.wait_for_secs(20, "the interrupted job", |s| {
        s.lines()
            .any(|l| l.contains("deploy iworkz/web-frontend:3.3.0") && l.contains("failed"))
            && s.contains("interrupted")
    });
    t.keys(&["r"]);
    t.wait_for_secs(120, "the resumed deploy to succeed", |s| {
        s.lines()
            .any(|l| l.contains("deploy iworkz/web-frontend:3.3.0") && l.contains("succeeded"))
    });
    t.keys(&["5"]);
    t.wait_for_secs(20, "green live, blue retired", |s| {
        s.lines()
            .any(|l| l.contains("web-frontend eks-tokyo") && l.contains("live green"))
    });
    assert_eq!(left(), 0, "a job that succeeded leaves no checkpoint");
    t.keys(&["q"]);
}

/// The region runbook end to end on the sandbox's Tokyo outage (the
/// sandbox a process of its own): `:failover-region` plans every part
/// (Korea scaled, its Azure replica promoted Forced since Tokyo's database
/// is gone, Tokyo's pool disabled, Korea's to serve) with the region's
/// name typed; it waits for the operator (`p`) before the promotion and
/// before moving the users; the console is killed during the promotion
/// (the runbook's step 5); the next console resumes it with `r` and it
/// ends with Korea
/// serving, promoted once, its RTO in the audit log, and no moment with
/// two primaries on screen.
#[test]
#[allow(clippy::too_many_lines)] // one story: plan, kill at step 5, resume, serve
fn the_region_runbook_killed_at_its_promotion_is_resumed_by_the_next_console_and_korea_serves() {
    let t = Tmux::new("runbook");
    let (_sandbox, config, _) = sandbox_process_in(&t, "outage-tokyo");
    let console = |log: &str| {
        format!(
            "{BIN} --log-file {} --config {}",
            t.path(log).display(),
            config.display()
        )
    };
    let two_primaries = |s: &str| s.contains("report themselves primary");
    t.start(160, 48, &console("first.log"));
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["3"]);
    t.wait_for_secs(60, "Korea's replica waiting for Tokyo", |s| {
        s.contains("receiver waiting")
    });
    t.keys(&[":"]);
    t.keys(&["-l", "failover-region"]);
    t.keys(&["Enter"]);
    let dialog = t.wait_for_secs(60, "the runbook's plan", |s| {
        s.contains("Fail tokyo over to korea: 6 parts, 23 steps") && s.contains("[ Confirm ]")
    });
    assert!(dialog.contains("type korea to confirm"), "{dialog}");
    t.keys(&["Tab", "Tab"]);
    t.keys(&["-l", "korea"]);
    t.keys(&["Enter"]);
    t.wait_for("Why? It goes to the audit log");
    t.keys(&["-l", "e2e: Tokyo is down"]);
    t.keys(&["Enter"]);
    t.keys(&["9"]);
    // Korea scaled, it waits for the operator before the promotion; p
    // lets it go on.
    let at_gate = |t: &Tmux, step: &str| {
        t.wait_for_secs(120, "the runbook at its gate", |s| {
            s.lines()
                .any(|l| l.contains("fail tokyo over to korea") && l.contains(step))
        });
        t.keys(&["p"]);
    };
    at_gate(&t, "10/23");
    // Killed while Azure promotes Korea's database (step 12 of 23).
    let screen = t.wait_for_secs(120, "the runbook at its promotion", |s| {
        s.lines()
            .any(|l| l.contains("fail tokyo over to korea") && l.contains("12/23"))
    });
    assert!(!two_primaries(&screen), "{screen}");
    let killed = Command::new("pkill")
        .args(["-KILL", "-f"])
        .arg(t.path("first.log"))
        .status()
        .expect("pkill");
    assert!(killed.success(), "the console was running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.cmd(&["has-session", "-t", "main"]).status.success() {
        assert!(Instant::now() < deadline, "the killed console's pane stays");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The next console finds it interrupted; r resumes it to the end.
    t.start(160, 48, &console("second.log"));
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["9"]);
    t.wait_for_secs(20, "the interrupted runbook", |s| {
        s.lines()
            .any(|l| l.contains("fail tokyo over to korea") && l.contains("failed"))
            && s.contains("interrupted")
    });
    t.keys(&["r"]);
    // Resumed from its first step, it asks again at each gate.
    at_gate(&t, "10/23");
    at_gate(&t, "19/23");
    t.wait_for_secs(180, "the resumed runbook to succeed", |s| {
        s.lines()
            .any(|l| l.contains("fail tokyo over to korea") && l.contains("succeeded"))
    });
    t.keys(&["3"]);
    let data = t.wait_for_secs(30, "Korea's database a primary", |s| {
        s.contains("primary · via exporter")
    });
    assert!(!two_primaries(&data), "{data}");
    t.keys(&["q"]);
    let audit = std::fs::read_to_string(t.path("state/touban/audit.jsonl")).expect("the audit log");
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let end = records
        .iter()
        .rfind(|v| v["event"] == "finished" && v["action"]["action"] == "region-failover")
        .unwrap_or_else(|| panic!("the runbook's end in:\n{audit}"));
    assert!(
        end["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("succeeded: korea serves, ")
                && o.contains(
                    " s after the job first began (the RTO, its interruption included; "
                )),
        "the resumed runbook's RTO counts from its first start: {end:#}"
    );
    // The figure the closing note quotes.
    eprintln!("figure: the runbook's end: {}", end["outcome"]);
    // Promoted once: one step of the promotion wrote, the resumed one
    // found it done.
    let promoted: Vec<&str> = records
        .iter()
        .filter(|v| v["event"] == "step-ended")
        .filter_map(|v| v["outcome"].as_str())
        .filter(|o| {
            o.contains("promotion of iworkz-dr-postgres Succeeded")
                || o.contains(
                    "iworkz-dr-postgres is Ready, None, koreacentral already: nothing sent",
                )
        })
        .collect();
    assert!(
        promoted.iter().any(|o| o.contains("nothing sent")),
        "the resumed promotion sent nothing: {promoted:#?}\n{audit}"
    );
}

/// `x` hands the terminal to kubectl and takes it back; `F` starts a
/// port-forward the Jobs pane lists, stopped when the console quits. The
/// sandbox has no exec or port-forward: a stand-in kubectl first on PATH
/// records its command line, plays a shell that stops itself first (as
/// Ctrl-Z would: the console continues it), exits with what is typed and
/// leaves the terminal raw (as a killed kubectl does: the console restores
/// the modes), and prints kubectl's `Forwarding from` line.
/// A stand-in kubectl in `t`'s `bin/`: `exec` stops itself (as a shell
/// that takes the terminal would) then asks for an exit status;
/// `port-forward` writes its pid and forwards until killed. Returns the
/// directory, the file of the arguments it was run with, and the file of
/// the forward's pid.
fn standin_kubectl(t: &Tmux) -> (PathBuf, PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = t.path("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let args = t.path("kubectl-args");
    let pid = t.path("forward-pid");
    let kubectl = bin.join("kubectl");
    std::fs::write(
        &kubectl,
        format!(
            r#"#!/bin/sh
echo "$@" >> {args}
case " $* " in
  *" exec "*) kill -STOP $$; printf 'STAND-IN SHELL: exit status? '; read code; stty raw -echo; exit "${{code:-0}}" ;;
  *" port-forward "*) echo $$ > {pid}; echo 'Forwarding from 127.0.0.1:43117 -> 8080'; exec sleep 600 ;;
esac
"#,
            args = args.display(),
            pid = pid.display()
        ),
    )
    .expect("write the stand-in");
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (bin, args, pid)
}

/// A console killed outright (SIGKILL: no handler runs) leaves no
/// port-forward behind: the kernel ends it with its parent.
#[test]
fn a_console_killed_outright_leaves_no_port_forward_behind() {
    common::need("setpriv", "util-linux");
    let t = Tmux::new("forward-kill");
    let (bin, _, pid) = standin_kubectl(&t);
    t.start(160, 48, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "PATH={}:$PATH {BIN} --log-file {} demo --scenario calm; echo EXIT:$?",
        bin.display(),
        t.path("demo.log").display()
    ));
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["2"]);
    t.wait("pods listed", |s| s.contains("Running"));
    t.keys(&["F"]);
    t.wait("the port asked", |s| s.contains(":port-forward 8000"));
    t.keys(&["Enter"]);
    t.keys(&["9"]);
    t.wait_for("forwarding 127.0.0.1:43117 → :8000");
    let forward = std::fs::read_to_string(&pid).expect("the forward wrote its pid");
    let proc = PathBuf::from(format!("/proc/{}", forward.trim()));
    assert!(proc.exists());
    // The console's pid: its demo's state directory is named for it.
    let console = std::fs::read_dir(t.path("state/touban"))
        .expect("the state directory")
        .filter_map(Result::ok)
        .find_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("demo-"))
                .map(str::to_owned)
        })
        .expect("the demo's directory");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &console])
        .status()
        .expect("kill");
    assert!(killed.success());
    t.wait_for("EXIT:137");
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc.exists() {
        assert!(
            Instant::now() < deadline,
            "the port-forward outlived the console killed outright"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn x_hands_the_terminal_to_kubectl_exec_and_f_forwards_a_port_listed_in_jobs() {
    let t = Tmux::new("handoff");
    let (bin, args, pid) = standin_kubectl(&t);
    t.start(160, 48, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "PATH={}:$PATH {BIN} --log-file {} demo --scenario calm; echo EXIT:$?",
        bin.display(),
        t.path("demo.log").display()
    ));
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["2"]);
    t.wait("pods listed", |s| s.contains("Running"));

    // The shell: the console steps aside, the pod's shell has the screen.
    t.keys(&["x"]);
    t.wait_for("STAND-IN SHELL: exit status?");
    t.line("0");
    t.wait_for("; the console is back");
    let recorded = std::fs::read_to_string(&args).expect("kubectl ran");
    assert!(
        recorded.contains("--context eks-tokyo exec -it -n ")
            && recorded
                .contains(" -- sh -c command -v bash >/dev/null 2>&1 && exec bash || exec sh")
            && recorded.contains("--kubeconfig "),
        "{recorded}"
    );
    // Keys reach the console again, not a reader left behind.
    t.keys(&["?"]);
    t.wait_for("Help");
    t.keys(&["Escape"]);

    // A shell that fails stays on screen until Enter.
    t.keys(&["x"]);
    t.wait_for("STAND-IN SHELL: exit status?");
    t.line("3");
    t.wait_for("kubectl exited with status 3. Press Enter to return to the console.");
    t.keys(&["Enter"]);
    t.wait_for("kubectl exited with status 3 (its message was on the screen");

    // The port-forward: asked, started, listed with its address.
    // The pod's first declared port is offered.
    t.keys(&["F"]);
    t.wait("the port asked", |s| s.contains(":port-forward 8000"));
    t.keys(&["Enter"]);
    t.keys(&["9"]);
    t.wait_for("forwarding 127.0.0.1:43117 → :8000");
    let forward = std::fs::read_to_string(&pid).expect("the forward wrote its pid");
    let proc = PathBuf::from(format!("/proc/{}", forward.trim()));
    assert!(proc.exists());
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc.exists() {
        assert!(
            Instant::now() < deadline,
            "the port-forward outlived the console"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_terminal_restored(&t);
}

/// `l` on a pod of the demo streams its log in the view: lines arrive,
/// `/` finds one and holds there, `y` copies the screen's lines through
/// OSC 52, `esc` closes the view and the console is as it was.
#[test]
fn l_streams_a_pod_s_log_searches_copies_and_closes() {
    let t = Tmux::new("logs");
    demo(&t, "--scenario calm");
    let set = t.cmd(&["set-option", "-s", "set-clipboard", "on"]);
    assert!(set.status.success(), "{set:?}");
    t.wait_for("当番 touban │ sandbox");
    t.keys(&["2"]);
    t.wait("pods listed", |s| s.contains("Running"));
    t.keys(&["l"]);
    t.wait("log lines", |s| {
        s.contains("Logs · ") && s.contains("following") && !s.contains(" · 0 lines")
    });
    t.keys(&["/"]);
    t.line("POST");
    t.wait("the search held", |s| s.contains(" · held · "));
    t.keys(&["y"]);
    t.wait_for("log lines on screen");
    let buffer = String::from_utf8_lossy(&t.cmd(&["show-buffer"]).stdout).into_owned();
    assert!(!buffer.is_empty(), "copied");
    t.keys(&["Escape"]);
    t.wait("the view closed", |s| {
        !s.contains("Logs · ") && s.contains("Running")
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

/// With no language in the config, the locale chooses it: a Korean
/// operator's `LANG` gives the console in Korean; `:language en` switches
/// back at run time.
#[test]
fn lang_ko_gives_the_console_in_korean_and_the_command_switches_back() {
    let t = Tmux::new("lang");
    t.start(160, 48, "sh");
    t.wait_for("shell>");
    t.line(&format!(
        "LANG=ko_KR.UTF-8 {BIN} --log-file {} demo --scenario calm; echo EXIT:$?",
        t.path("demo.log").display()
    ));
    t.wait("Korean titles", |s| {
        s.contains("개요") && s.contains("클러스터")
    });
    t.keys(&[":"]);
    t.line("language en");
    t.wait("English titles", |s| {
        s.contains("Overview") && !s.contains("개요")
    });
    t.keys(&["q"]);
    t.wait_for("EXIT:0");
    assert_terminal_restored(&t);
}

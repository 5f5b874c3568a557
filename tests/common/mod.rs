//! Helpers shared by the integration tests: a fixed clock, the built-in
//! example loaded without touching the user's files, and rendering through
//! ratatui's `TestBackend`.
#![allow(dead_code)]

pub mod alertmanager;
pub mod exec;
pub mod faults;
pub mod moto;
pub mod postgres;
pub mod redis;
pub mod tmux;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use tokio::sync::mpsc;
use touban::app::App;
use touban::app::Event;
use touban::config::Platform;
use touban::config::{self, ConfigOrigin, Loaded, Overrides, Paths};
use touban::sandbox::{Options, Sandbox, Scenario};
use touban::ui::{self, Styles};

/// 2026-11-29T03:04:05Z: 12:04:05 in Tokyo and Seoul.
pub fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_921_445)
}

/// Paths where no user file exists, so only built-ins are loaded.
pub fn isolated_paths(origin: ConfigOrigin) -> Paths {
    let none = PathBuf::from("/nonexistent/touban-test");
    Paths {
        config: origin,
        config_dir: none.clone(),
        themes_dir: none.join("themes"),
        keymap_file: none.join("keymap.toml"),
        state_dir: none.clone(),
        log_file: none.join("touban.log"),
        audit_log: none.join("audit.jsonl"),
        jobs_dir: none.join("jobs"),
    }
}

/// The built-in example with a theme and keymap.
pub fn loaded(theme: &str, keymap: &str) -> Loaded {
    let overrides = Overrides {
        theme: Some(theme.to_owned()),
        keymap: Some(keymap.to_owned()),
        ..Overrides::default()
    };
    config::load(&isolated_paths(ConfigOrigin::BuiltIn), &overrides)
        .expect("the built-in example loads")
}

/// The app on the built-in example, default theme, at the fixed time.
pub fn app() -> App {
    App::new(loaded("default", "default"), fixed_now())
}

/// Draws the app at `w` x `h` and returns the buffer.
pub fn render(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    let styles = Styles::resolve(app.theme());
    terminal.draw(|f| ui::draw(app, &styles, f)).expect("draw");
    terminal.backend().buffer().clone()
}

/// The buffer's text, a line per row, trailing spaces kept so widths show.
pub fn text(buffer: &Buffer) -> String {
    let w = usize::from(buffer.area.width);
    let mut out = String::new();
    for row in buffer.content.chunks(w) {
        let mut skip = 0;
        for cell in row {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            out.push_str(cell.symbol());
            skip = unicode_width::UnicodeWidthStr::width(cell.symbol()).saturating_sub(1);
        }
        out.push('\n');
    }
    out
}

/// A sandbox (calm, hurried tenfold), and an app whose cluster sources
/// watch it through the config and kubeconfig it wrote.
pub async fn watched(seed: u64) -> (Sandbox, tempfile::TempDir, App, mpsc::Receiver<Event>) {
    watched_in(Scenario::Calm, seed).await
}

/// As [`watched`], in another scenario.
pub async fn watched_in(
    scenario: Scenario,
    seed: u64,
) -> (Sandbox, tempfile::TempDir, App, mpsc::Receiver<Event>) {
    let (sandbox, dir, app) = world(scenario, seed).await;
    let (tx, rx) = mpsc::channel(1024);
    touban::sources::cluster::spawn(app.platform(), &tx);
    (sandbox, dir, app, rx)
}

/// A calm sandbox of `seed`, no filler pods, at `pace` times real time.
pub async fn calm(seed: u64, pace: f64) -> Sandbox {
    Sandbox::start(Options {
        seed,
        pods: 0,
        speed: pace,
        scenario: Scenario::Calm,
        ..Options::default()
    })
    .await
    .expect("sandbox")
}

/// A sandbox (hurried tenfold) and an app on the config it wrote, no
/// source started yet.
pub async fn world(scenario: Scenario, seed: u64) -> (Sandbox, tempfile::TempDir, App) {
    let sandbox = Sandbox::start(Options {
        seed,
        pods: 0,
        speed: 10.0,
        scenario,
        ..Options::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let mut loaded = loaded("default", "default");
    loaded.platform = Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("read"),
    )
    .expect("the sandbox's config is valid");
    (sandbox, dir, App::new(loaded, fixed_now()))
}

/// A sandbox and an app with every source the console starts (clusters,
/// alerts, databases, caches, AI services, CloudWatch, PromQL), polled
/// each second; detail requests go to the returned sender.
pub async fn console_in(
    scenario: Scenario,
    seed: u64,
) -> (Sandbox, tempfile::TempDir, App, mpsc::Receiver<Event>) {
    let (sandbox, dir, app) = world(scenario, seed).await;
    let (tx, rx) = mpsc::channel(1024);
    touban::sources::spawn_all(
        app.platform(),
        &tx,
        touban::sources::Intervals::every(Duration::from_secs(1)),
    );
    (sandbox, dir, app, rx)
}

/// Feeds events to the app until `done` holds (30 s at most).
pub async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Event>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    until_for(app, rx, 30, what, done).await;
}

/// Feeds events to the app until `done` holds (`secs` at most), moving
/// its clock along (ages, pending alerts' time left).
pub async fn until_for(
    app: &mut App,
    rx: &mut mpsc::Receiver<Event>,
    secs: u64,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            app.handle(event);
        }
        app.handle(Event::Tick(SystemTime::now()));
    }
}

/// The start of a test config: Tokyo (primary) and Seoul (DR).
pub const TWO_REGIONS: &str = "environment = \"test\"\n\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\n\n[[regions]]\nname = \"korea\"\ndisplay = \"Seoul\"\nrole = \"dr\"\ntime_zone = \"Asia/Seoul\"\n";

/// Fails with the install command when `binary` is not on PATH: a fixture
/// never skips silently.
pub fn need(binary: &str, package: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {binary}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{binary} is missing: install it with `apt-get install -y {package}` (tests/run.sh does this)"
    );
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server process, killed and reaped when dropped.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A kube-rs client to the sandbox's cluster through one of the contexts
/// of its kubeconfig (`eks-tokyo`, `aks-korea`, `eks-tokyo-readonly`, …).
pub async fn kube_client(sandbox: &touban::sandbox::Sandbox, context: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig())
        .expect("the sandbox's kubeconfig parses");
    let options = kube::config::KubeConfigOptions {
        context: Some(context.to_owned()),
        ..kube::config::KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Confirms job `id`'s plan dialog as an operator does: `name` typed,
/// then `reason`; fails unless the confirmation is sent.
pub fn confirm_typed(app: &mut App, id: touban::model::JobId, name: &str, reason: &str) {
    use touban::app::Effect;
    use touban::model::{ExecCommand, Key, KeyCode};
    let mut effects = Vec::new();
    for c in name.chars() {
        effects.extend(app.handle(Event::Key(Key::char(c))));
    }
    for code in [KeyCode::Tab, KeyCode::Tab, KeyCode::Enter] {
        effects.extend(app.handle(Event::Key(Key::plain(code))));
    }
    for c in reason.chars() {
        effects.extend(app.handle(Event::Key(Key::char(c))));
    }
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Exec(ExecCommand::Confirm { id: c, .. }) if *c == id)),
        "confirmed with {name} typed: {effects:?}"
    );
}

//! Command-line parsing and wiring: load the configuration (before touching
//! the terminal, so a bad file leaves the terminal as it was), set up the
//! log, the hooks and the terminal, then run the console.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::builder::{PossibleValue, PossibleValuesParser, StringValueParser, TypedValueParser};
use clap::{CommandFactory, Parser, Subcommand};
use color_eyre::eyre::{self, WrapErr};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::app::App;
use crate::config::{self, ConfigError, ConfigOrigin, Keymap, Overrides, Paths, ThemeSet};
use crate::model::verdict::plural;
use crate::tui::{self, guard::TerminalGuard};

/// 当番 touban: the on-call console for a multi-region platform.
#[derive(Debug, Parser)]
#[command(name = "touban", version, about, long_about = None)]
pub struct Cli {
    /// The platform file (else $TOUBAN_CONFIG, else ~/.config/touban/config.toml, else the built-in example).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Colour theme: default, light, high-contrast, mono, or one in the themes directory.
    #[arg(long, global = true, value_name = "NAME", hide_possible_values = true, value_parser = Offered(&config::theme::BUILT_IN_NAMES))]
    pub theme: Option<String>,
    /// Keymap: default or vim (your keymap.toml merges over it).
    #[arg(long, global = true, value_name = "NAME", hide_possible_values = true, value_parser = Offered(&config::keymap::BUILT_IN_NAMES))]
    pub keymap: Option<String>,
    /// Refuse every mutating action, whatever the config says.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Write the debug log here instead of the XDG state directory.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// What to do (default: the console).
    #[command(subcommand)]
    pub command: Option<Sub>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Print or check configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the paths in use: config, themes, keymap, log, audit log.
    Info,
    /// Print the audit log: what was planned, confirmed, refused and done.
    Audit {
        /// Only records of the last DURATION (`1h`, `30m`, `2d`).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// The records as the JSON lines they are, for scripts.
        #[arg(long)]
        json: bool,
        /// The demo's audit log instead (`audit.demo.jsonl`).
        #[arg(long)]
        demo: bool,
    },
    /// Check, from the shell, whether each DR region could take over now:
    /// every readiness check with its value; exits 1 when one is not ready.
    Drill(drill::DrillArgs),
    /// Print the whole platform's state once every source has answered
    /// (text, `--json` or `--yaml`), and exit.
    Snapshot(headless::SnapshotArgs),
    /// Judge the platform by the console's rules, one line per rule that
    /// does not hold; exits 0 ok, 1 warning, 2 critical, 3 unknown.
    Check(headless::CheckArgs),
    /// Apply a `[[manifests]]` set: the server's dry-run diff, then a
    /// server-side apply cluster by cluster, each rollout followed; exits
    /// 0 applied, 1 refused or failed, 2 a configuration error.
    Apply(apply::ApplyArgs),
    /// Terraform or OpenTofu on an `[[infrastructure]]` directory: `plan`
    /// saves a plan and prints what it changes; `apply` applies that plan
    /// (the name typed when it destroys or replaces).
    Infra {
        /// plan or apply.
        #[command(subcommand)]
        command: infra::InfraCommand,
    },
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The console on the simulated platform, started in-process: nothing
    /// else to install or run.
    Demo {
        /// The simulated world.
        #[command(flatten)]
        world: WorldArgs,
        /// As the wallboard (`touban wall`) on it.
        #[arg(long)]
        wall: bool,
        /// With `--wall`: how it rotates.
        #[command(flatten)]
        wall_args: WallArgs,
    },
    /// The wallboard for the incident room's shared screen: read-only, no
    /// action bound, rotating through the `[wall]` panes, holding the
    /// Overview while a critical alert is new.
    Wall(WallArgs),
    /// Serve the simulated platform alone: a Kubernetes API server per
    /// cluster (eks-tokyo, aks-korea) on loopback, until interrupted.
    Sandbox {
        /// Write `kubeconfig` and `config.toml` here (default: the state dir's `sandbox/`).
        #[arg(long, value_name = "DIR")]
        write_config: Option<PathBuf>,
        /// The simulated world.
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Start the console and panic in a background task after its first
    /// frame: proves the terminal is restored and the report printed.
    #[command(hide = true)]
    CrashTest,
    /// Start the console and, told to stop, hang in its shutdown: proves a
    /// second signal ends it at once.
    #[command(hide = true)]
    HangTest,
}

/// How the wallboard rotates.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WallArgs {
    /// Seconds each pane is shown (default: the config's `[wall] seconds`, 15).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: Option<u64>,
}

impl WallArgs {
    /// The wallboard the config's `[wall]` and these flags describe.
    fn board(&self, config: &config::platform::Wall) -> crate::app::wall::Wall {
        let every = self.seconds.unwrap_or(*config.seconds.get_ref());
        crate::app::wall::Wall::new(
            config.panes.clone(),
            std::time::Duration::from_secs(every),
            std::time::Duration::from_secs(config.hold_seconds),
        )
    }
}

/// The console's configuration; the wall's own keymap for the wall (the
/// user's keymap is not merged: it could bind an action).
fn load_console(
    paths: &Paths,
    overrides: &Overrides,
    wall: bool,
) -> Result<config::Loaded, ExitCode> {
    let mut loaded = config::load(paths, overrides).map_err(|e| config_failed(&e))?;
    if wall {
        let (keymap, warnings) = Keymap::wall();
        loaded.keymap = keymap;
        loaded.warnings.extend(warnings);
    }
    Ok(loaded)
}

/// The wall is read-only whatever the config says, and high-contrast
/// unless a theme is asked for: it is read from across a room.
fn wall_overrides(overrides: &Overrides, wall: bool) -> Overrides {
    let mut o = overrides.clone();
    if wall {
        o.read_only = true;
        o.theme.get_or_insert_with(|| "high-contrast".to_owned());
    }
    o
}

/// How `demo` and `sandbox` build the simulated world.
#[derive(Debug, Clone, clap::Args)]
pub struct WorldArgs {
    /// About this many pods per cluster (filler namespaces make up the rest).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pods: usize,
    /// Run the world this many times faster than real time.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    speed: f64,
    /// Seed of generated names: the same seed, the same world.
    #[arg(long, default_value_t = 1, value_name = "S")]
    seed: u64,
    /// What happens: calm, incidents, outage-tokyo.
    #[arg(
        long,
        default_value = "incidents",
        value_name = "NAME",
        value_parser = PossibleValuesParser::new(crate::sandbox::Scenario::NAMES)
            .try_map(|s| s.parse::<crate::sandbox::Scenario>())
    )]
    scenario: crate::sandbox::Scenario,
    /// How the outage's API server fails: black-hole (nothing answers, open
    /// watches go silent) or dead (refused, open watches cut).
    #[arg(
        long,
        default_value = "black-hole",
        value_name = "HOW",
        value_parser = PossibleValuesParser::new(["black-hole", "dead"])
            .try_map(|s| s.parse::<crate::sandbox::api::Outage>())
    )]
    outage: crate::sandbox::api::Outage,
}

/// Accepts any name (a theme may be one of the user's) but offers the
/// built-in ones to the shell's completion, which would otherwise offer
/// file names.
#[derive(Clone)]
struct Offered(&'static [&'static str]);

impl TypedValueParser for Offered {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|n| PossibleValue::new(*n))))
    }
}

impl From<WorldArgs> for crate::sandbox::Options {
    fn from(w: WorldArgs) -> crate::sandbox::Options {
        crate::sandbox::Options {
            seed: w.seed,
            pods: w.pods,
            speed: w.speed,
            scenario: w.scenario,
            outage: w.outage,
        }
    }
}

/// `touban config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the built-in example platform (the seed's), to start a config from.
    Example,
    /// Check a platform file (default: the one touban would use), themes and keymap.
    Check {
        /// The file to check.
        file: Option<PathBuf>,
    },
}

/// How often the console reads the audit log for drills run elsewhere.
const DRILLS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Exit status for a configuration error.
pub const EXIT_CONFIG: u8 = 2;

/// Prints to stdout; when the reader has gone (`touban info | head -1`),
/// ends quietly with success, as a filter in a pipeline should.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

mod apply;
mod drill;
mod headless;
mod infra;

/// See [`out!`].
pub(crate) fn write_out(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        report(&format!("touban: cannot write to stdout: {e}"));
        std::process::exit(1);
    }
}

/// Runs touban with the process's arguments.
pub fn main() -> ExitCode {
    let started = Instant::now();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli, started) {
        Ok(code) => code,
        Err(e) => {
            report(&format!("touban: {e:?}"));
            ExitCode::FAILURE
        }
    }
}

/// A command line clap refuses: its message, and its exit status, except
/// that `touban check` exits 3 (unknown), so that a typo in a pipeline's
/// gate never reads as critical.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    let shown = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    let checking = std::env::args().skip(1).any(|a| a == "check");
    if checking && !shown {
        return ExitCode::from(crate::model::snapshot::Status::Unknown.code());
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_CONFIG))
}

fn run(cli: Cli, started: Instant) -> eyre::Result<ExitCode> {
    let paths = match Paths::discover(cli.config.as_deref(), cli.log_file.as_deref()) {
        Ok(p) => p,
        Err(message) => {
            report(&format!("touban: {message}"));
            // A gate must not read a broken config as an outage.
            let code = if matches!(cli.command, Some(Sub::Check(_))) {
                crate::model::snapshot::Status::Unknown.code()
            } else {
                EXIT_CONFIG
            };
            return Ok(ExitCode::from(code));
        }
    };
    let overrides = Overrides {
        theme: cli.theme.clone(),
        keymap: cli.keymap.clone(),
        read_only: cli.read_only,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    };
    match cli.command {
        Some(Sub::Config {
            action: ConfigAction::Example,
        }) => {
            out!("{}", config::platform::EXAMPLE.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Config {
            action: ConfigAction::Check { file },
        }) => Ok(check(&paths, file.as_deref(), &overrides)),
        Some(Sub::Info) => {
            info(&paths);
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Audit { since, json, demo }) => Ok(audit(&paths, since.as_deref(), json, demo)),
        Some(Sub::Drill(args)) => drill::drill(&paths, &overrides, &args),
        Some(Sub::Snapshot(args)) => headless::snapshot(&paths, &overrides, &args),
        Some(Sub::Check(args)) => Ok(headless::check(&paths, &overrides, &args)),
        Some(Sub::Apply(args)) => apply::apply(&paths, &overrides, &args),
        Some(Sub::Infra { command }) => infra::infra(&paths, &overrides, &command),
        Some(Sub::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "touban", &mut script);
            out!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Sandbox {
            write_config,
            world,
        }) => {
            let dir = write_config.unwrap_or_else(|| paths.state_dir.join("sandbox"));
            sandbox(&dir, world.into())
        }
        Some(Sub::Demo {
            world,
            wall,
            wall_args,
        }) => console(
            &paths,
            &overrides,
            started,
            Mode::Demo(world.into()),
            wall.then_some(&wall_args),
        ),
        Some(Sub::Wall(args)) => console(&paths, &overrides, started, Mode::Console, Some(&args)),
        Some(Sub::CrashTest) => console(&paths, &overrides, started, Mode::CrashTest, None),
        Some(Sub::HangTest) => console(&paths, &overrides, started, Mode::HangTest, None),
        None => console(&paths, &overrides, started, Mode::Console, None),
    }
}

fn config_failed(e: &ConfigError) -> ExitCode {
    report(&format!("touban: configuration error\n{e}"));
    ExitCode::from(EXIT_CONFIG)
}

fn check(paths: &Paths, file: Option<&Path>, overrides: &Overrides) -> ExitCode {
    let mut paths = paths.clone();
    if let Some(f) = file {
        paths.config = ConfigOrigin::Argument(f.to_owned());
    }
    match config::load(&paths, overrides) {
        Ok(loaded) => {
            let p = &loaded.platform;
            out!(
                "ok: {}: environment {}, {}, {}, {}, {}, {}, {}; theme {}, keymap {}",
                paths.config.describe(),
                p.environment,
                plural(p.regions.len(), "region"),
                plural(p.clusters.len(), "cluster"),
                plural(p.databases.len(), "database"),
                plural(p.caches.len(), "cache"),
                plural(p.ai_services.len(), "AI service"),
                plural(p.alert_sources.len(), "alert source"),
                loaded.theme,
                loaded.keymap.name,
            );
            for w in &loaded.warnings {
                out!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => config_failed(&e),
    }
}

fn info(paths: &Paths) {
    let exists = |p: &Path| if p.exists() { "" } else { " (not present)" };
    out!("config       {}", paths.config.describe());
    out!(
        "config dir   {}{}",
        paths.config_dir.display(),
        exists(&paths.config_dir)
    );
    out!(
        "themes dir   {}{}",
        paths.themes_dir.display(),
        exists(&paths.themes_dir)
    );
    out!(
        "keymap file  {}{}",
        paths.keymap_file.display(),
        exists(&paths.keymap_file)
    );
    out!("log file     {}", paths.log_file.display());
    out!("audit log    {}", paths.audit_log.display());
    out!("checkpoints  {}", paths.jobs_dir.display());
    match ThemeSet::load(Some(&paths.themes_dir)) {
        Ok(set) => out!(
            "themes       {}",
            set.names().collect::<Vec<_>>().join(", ")
        ),
        Err(e) => out!("themes       error: {e}"),
    }
    out!(
        "keymaps      {}",
        Keymap::built_in_names().collect::<Vec<_>>().join(", ")
    );
}

/// `touban audit`: the audit log's records, since a while ago if asked.
fn audit(paths: &Paths, since: Option<&str>, json: bool, demo: bool) -> ExitCode {
    let since = match since.map(str::parse::<jiff::SignedDuration>) {
        None => None,
        Some(Ok(d)) => Some(jiff::Timestamp::now() - d.abs()),
        Some(Err(e)) => {
            report(&format!(
                "touban audit: --since {}: {e} (give a duration such as 1h, 30m or 2d)",
                since.unwrap_or_default()
            ));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let path = if demo {
        paths.state_dir.join("audit.demo.jsonl")
    } else {
        paths.audit_log.clone()
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report(&format!(
                "touban audit: no audit log at {} yet: nothing has been done from this machine",
                path.display()
            ));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            report(&format!(
                "touban audit: cannot read {}: {e}",
                path.display()
            ));
            return ExitCode::FAILURE;
        }
    };
    let (lines, skipped) = crate::exec::audit::show(&text, since, json);
    for line in lines {
        out!("{line}");
    }
    if skipped > 0 {
        report(&format!(
            "touban audit: {} of {} are not records (cut by a crash mid-write?) and were skipped",
            plural(skipped, "line"),
            path.display()
        ));
    }
    ExitCode::SUCCESS
}

/// Serves the sandbox until SIGINT or SIGTERM.
fn sandbox(dir: &Path, options: crate::sandbox::Options) -> eyre::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    runtime.block_on(async {
        let started = Instant::now();
        let sandbox = crate::sandbox::Sandbox::start(options)
            .await
            .wrap_err("cannot start the sandbox's servers on 127.0.0.1")?;
        let (kubeconfig, config) = sandbox
            .write_config(dir)
            .wrap_err_with(|| format!("cannot write the sandbox's config to {} (pass --write-config DIR)", dir.display()))?;
        out!("touban sandbox: up in {} ms (scenario {}, speed {}x)\n{}", started.elapsed().as_millis(), options.scenario, options.speed, summary(&sandbox));
        out!(
            "kubeconfig  {}\nconfig      {}\n\n  export KUBECONFIG={}\n  kubectl get pods -A          # operator contexts: eks-tokyo, aks-korea\n  kubectl --context eks-tokyo-readonly get pods   # the read-only user\n  touban --config {}\n\nCtrl-C stops it.",
            kubeconfig.display(),
            config.display(),
            kubeconfig.display(),
            config.display()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).wrap_err("cannot install signal handlers")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        drop(sandbox);
        eyre::Ok(ExitCode::SUCCESS)
    })
}

/// What the sandbox serves, a line each.
fn summary(sandbox: &crate::sandbox::Sandbox) -> String {
    let deployment = crate::sandbox::resource::Resource::of_kind("Deployment")
        .unwrap_or_else(|| unreachable!("served"));
    let pod = crate::sandbox::resource::Resource::of_kind("Pod")
        .unwrap_or_else(|| unreachable!("served"));
    let mut out = String::new();
    for c in &sandbox.clusters {
        let _ = writeln!(
            out,
            "  kubernetes      {:<28} {}  ({} deployments, {} pods)",
            c.name,
            c.url,
            c.store.all(deployment).len(),
            c.store.all(pod).len()
        );
    }
    for e in &sandbox.endpoints {
        let _ = writeln!(
            out,
            "  {:<15} {:<28} {}/metrics",
            e.job,
            format!("{} {}", e.region, e.name),
            e.url
        );
    }
    for (region, url) in &sandbox.alertmanagers {
        let _ = writeln!(out, "  alertmanager    {region:<28} {url}/api/v2/alerts");
    }
    for (region, url) in &sandbox.prometheus {
        let _ = writeln!(out, "  prometheus      {region:<28} {url}/api/v1/rules");
    }
    let _ = writeln!(
        out,
        "  cloudwatch      {:<28} {}",
        crate::sandbox::cloudwatch::AWS_REGION,
        sandbox.cloudwatch
    );
    out
}

/// Exit status after a panic (as Rust's default).
pub const EXIT_PANIC: i32 = 101;

/// How the console runs.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// On the configured platform.
    Console,
    /// On a sandbox started in-process (`touban demo`).
    Demo(crate::sandbox::Options),
    /// On the configured platform, panicking after the first frame.
    CrashTest,
    /// On the configured platform, hanging once told to stop.
    HangTest,
}

/// A demo's own directory for the config and kubeconfig of its world,
/// removed when the demo ends: two demos never share files.
struct DemoDir(PathBuf);

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo's world: a sandbox started in-process, and the config and
/// kubeconfig it wrote in a directory of this demo's own. The console
/// reaches the sandbox only through them, exactly as it reaches a real
/// platform.
fn demo_world(
    runtime: &tokio::runtime::Runtime,
    paths: &mut Paths,
    options: crate::sandbox::Options,
) -> eyre::Result<(crate::sandbox::Sandbox, DemoDir)> {
    let sandbox = runtime
        .block_on(crate::sandbox::Sandbox::start(options))
        .wrap_err("cannot start the sandbox's servers on 127.0.0.1")?;
    let dir = DemoDir(paths.state_dir.join(format!("demo-{}", std::process::id())));
    // What is done to the demo's world is written down apart from what is
    // done to a real platform.
    paths.audit_log = paths.state_dir.join("audit.demo.jsonl");
    paths.jobs_dir = paths.state_dir.join("jobs.demo");
    let (_, config) = sandbox
        .write_config(&dir.0)
        .wrap_err_with(|| format!("cannot write the demo's config to {}", dir.0.display()))?;
    paths.config = ConfigOrigin::Sandbox(config);
    Ok((sandbox, dir))
}

/// The runtime of the console and the drill: two workers, as the
/// machines it runs on have few cores to spare.
fn runtime() -> eyre::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")
}

fn console(
    paths: &Paths,
    overrides: &Overrides,
    started: Instant,
    mode: Mode,
    wall: Option<&WallArgs>,
) -> eyre::Result<ExitCode> {
    let overrides = &wall_overrides(overrides, wall.is_some());
    let runtime = runtime()?;
    let mut paths = paths.clone();
    let (sandbox, demo_dir) = match mode {
        Mode::Demo(options) => {
            let (sandbox, dir) = demo_world(&runtime, &mut paths, options)?;
            (Some(sandbox), Some(dir))
        }
        Mode::Console | Mode::CrashTest | Mode::HangTest => (None, None),
    };
    let loaded = match load_console(&paths, overrides, wall.is_some()) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let read_only_flag = loaded.read_only_flag;
    if !has_terminal() {
        return Ok(ExitCode::FAILURE);
    }
    crate::logging::init(&paths.log_file).wrap_err_with(|| {
        format!(
            "cannot open the log file {} (pass --log-file)",
            paths.log_file.display()
        )
    })?;
    install_hooks()?;
    tracing::info!(config = %paths.config.describe(), theme = %loaded.theme, keymap = %loaded.keymap.name, "touban starting");
    let result = runtime.block_on(async {
        let (tx, rx) = mpsc::channel(tui::CHANNEL);
        // Signals first: a session killed while starting ends cleanly.
        tui::spawn_signals(tx.clone()).wrap_err("cannot install signal handlers")?;
        let mut app = App::new(loaded, SystemTime::now());
        // No language set: the one the locale names (LANG=ko_KR.UTF-8).
        if app.platform().settings.language.is_none()
            && let Some(lang) = crate::i18n::Language::from_env()
        {
            app.set_language(lang);
        }
        if let Some(w) = wall {
            app.enter_wall(w.board(&app.platform().wall));
        }
        let _guard = TerminalGuard::enter()
            .wrap_err("cannot put the terminal in raw mode: is stdout a terminal?")?;
        let mut terminal = Terminal::new(CrosstermBackend::new(tui::guard::TtyWriter::default()))
            .wrap_err("cannot open the terminal")?;
        let input = tui::spawn_input(tx.clone());
        tui::spawn_clock(tx.clone());
        let forwards = tui::handoff::Forwards::spawn(tx.clone());
        let fetchers = spawn_sources(app.platform(), &paths, &tx);
        let (exec, executor) = spawn_executor(app.platform(), read_only_flag, &paths, &tx)?;
        if matches!(mode, Mode::CrashTest) {
            crash_test(&tx);
        }
        drop(tx);
        let result = tui::run(
            &mut terminal,
            app,
            rx,
            tui::RealTerminal {
                effects: route(fetchers, exec, forwards, paths.state_dir.join("logs")),
                input,
            },
            started,
        )
        .await;
        // Give the terminal back before ratatui's Terminal is dropped: its
        // drop shows the cursor, which on a dead terminal (SIGHUP) would
        // fail into an eprintln!, a panic. Released, it writes nothing.
        tui::guard::release();
        drop(terminal);
        await_executor(executor).await;

        let (_, stats) = result.wrap_err("drawing the terminal failed")?;
        if matches!(mode, Mode::HangTest) {
            tracing::info!("hang test: hanging in the shutdown");
            std::thread::sleep(std::time::Duration::from_secs(600));
        }
        eyre::Ok(stats)
    });
    drop(sandbox);
    drop(demo_dir);
    // The input reader may be parked in a blocking read: do not wait for it.
    runtime.shutdown_background();
    let _ = std::io::stdout().flush();
    let code = match &result {
        Ok(stats) => {
            tracing::info!(frames = stats.frames, "touban stopped");
            ExitCode::SUCCESS
        }
        // A terminal that went away (SSH dropped) fails the next write:
        // a hang-up, said as such, not an error.
        Err(e)
            if e.chain()
                .filter_map(|c| c.downcast_ref::<std::io::Error>())
                .any(tui::guard::terminal_gone) =>
        {
            tracing::info!("touban stopped: the terminal went away ({e:#})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("touban stopped: {e:#}");
            ExitCode::FAILURE
        }
    };
    crate::logging::flush();
    match result {
        Err(e) if code == ExitCode::FAILURE => Err(e),
        _ => Ok(code),
    }
}

/// `--crash-test`: frames drawn without pause, and a panic in a background
/// task while one may be being written.
fn crash_test(tx: &mpsc::Sender<crate::app::Event>) {
    let redraw = tx.clone();
    tokio::spawn(async move {
        while redraw.send(crate::app::Event::Resize).await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    });
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        panic!("crash test: a panic in a background task");
    });
}

/// Every source the console reads, the audit log's drills among them;
/// returns where detail requests go.
fn spawn_sources(
    platform: &config::Platform,
    paths: &Paths,
    tx: &mpsc::Sender<crate::app::Event>,
) -> crate::sources::Fetchers {
    crate::sources::drills::spawn(paths.audit_log.clone(), tx, DRILLS_EVERY);
    crate::sources::spawn_all(platform, tx, crate::sources::Intervals::CONSOLE)
}

/// The console has gone, and its sender with it: the executor cancels
/// what runs between steps and writes down what it declines, in a bounded
/// while, the terminal already given back.
async fn await_executor(executor: tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(std::time::Duration::from_secs(15), executor)
        .await
        .is_err()
    {
        tracing::warn!(
            "the executor did not end within 15 s of the console; its audit log says how far each job got"
        );
    }
}

/// Each region runbook that may run: (primary region, DR region).
fn runbooks(platform: &config::Platform) -> Vec<(String, String)> {
    use config::platform::Role;
    let names = |role| {
        platform
            .regions
            .iter()
            .filter(move |r| r.role == role)
            .map(|r| r.name.get_ref().clone())
    };
    names(Role::Primary)
        .flat_map(|p| names(Role::Dr).map(move |d| (p.clone(), d)))
        .collect()
}

/// The Azure flexible servers the executor may promote, by database name.
fn azure_servers(
    platform: &config::Platform,
) -> std::collections::BTreeMap<String, Result<crate::exec::backend::azure::Arm, String>> {
    platform
        .databases
        .iter()
        .filter_map(|d| {
            let arm = crate::exec::backend::azure::Arm::new(
                d.azure.as_ref()?,
                d.exporter.as_ref().map(|e| e.get_ref().clone()),
            );
            Some((d.name.get_ref().clone(), arm))
        })
        .collect()
}

/// The executor on the configured clusters, its job events forwarded to
/// the app's channel; the audit log is opened first (a console that cannot
/// write it down does not act).
fn spawn_executor(
    platform: &config::Platform,
    read_only_flag: bool,
    paths: &Paths,
    tx: &mpsc::Sender<crate::app::Event>,
) -> eyre::Result<(
    mpsc::UnboundedSender<crate::model::ExecCommand>,
    tokio::task::JoinHandle<()>,
)> {
    let audit = open_audit(paths)?;
    let mut backend = crate::exec::backend::kube::KubeBackend::for_clusters(&platform.clusters)
        .with_manifests(
            &platform.manifests,
            paths
                .config
                .path()
                .and_then(std::path::Path::parent)
                .map(std::path::Path::to_path_buf),
        )
        .with_infrastructure(
            &platform.infrastructure,
            paths
                .config
                .path()
                .and_then(std::path::Path::parent)
                .map(std::path::Path::to_path_buf),
            paths.state_dir.clone(),
        );
    if let Some(t) = &platform.traffic {
        backend = backend.with_traffic(crate::sources::traffic::Cloudflare::new(t));
    }
    backend = backend.with_azure(azure_servers(platform)).with_rds(
        platform
            .databases
            .iter()
            .filter_map(|d| Some((d.name.get_ref().clone(), d.rds.clone()?)))
            .collect(),
    );
    backend = backend.with_elasticache(
        platform
            .caches
            .iter()
            .filter_map(|c| Some((c.name.get_ref().clone(), c.elasticache.clone()?)))
            .collect(),
    );
    let executor = crate::exec::task::Executor {
        backend: std::sync::Arc::new(
            backend
                .with_alertmanagers(
                    platform
                        .alert_sources
                        .iter()
                        .filter(|s| s.kind == config::platform::AlertSourceKind::Alertmanager)
                        .filter_map(|s| {
                            Some((s.name.get_ref().clone(), s.url.as_ref()?.get_ref().clone()))
                        })
                        .collect(),
                )
                .with_data_tier(platform),
        ),
        audit: std::sync::Arc::new(audit),
        who: std::sync::Arc::new(crate::exec::runner::Who::new(
            &platform.environment,
            &operator(platform),
        )),
        primary: platform
            .regions
            .iter()
            .filter(|r| r.role == config::platform::Role::Primary)
            .map(|r| r.name.get_ref().clone())
            .collect(),
        read_only: platform
            .clusters
            .iter()
            .map(|c| {
                let name = c.name.get_ref();
                let by = config::read_only_for(read_only_flag, platform, Some(name));
                (name.clone(), by.map(|b| b.to_string()))
            })
            .collect(),
        read_only_elsewhere: config::read_only_for(read_only_flag, platform, None)
            .map(|b| b.to_string()),
        checkpoints: Some(std::sync::Arc::new(
            crate::exec::checkpoint::Checkpoints::new(&paths.jobs_dir),
        )),
        coordination: platform.coordination().map(|(cluster, region, namespace)| {
            crate::model::action::Target {
                region,
                cluster,
                namespace,
                kind: crate::model::action::ObjectKind::Silence,
                name: String::new(),
            }
        }),
        runbooks: runbooks(platform),
    };
    let (events, mut rx) = mpsc::unbounded_channel();
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if forward.send(crate::app::Event::Job(e)).await.is_err() {
                break;
            }
        }
    });
    Ok(crate::exec::task::spawn(executor, events))
}

/// Who acts, for the audit log: the config's `operator`, else
/// `$USER@host`.
fn operator(platform: &config::Platform) -> String {
    if let Some(o) = platform
        .settings
        .operator
        .as_deref()
        .filter(|o| !o.is_empty())
    {
        return o.to_owned();
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_of_uid)
        .unwrap_or_else(|| "unknown".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{user}@{host}")
}

/// The name of the process's user in /etc/passwd, when $USER is not set
/// (a service, a bare `su`).
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut fields = l.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// Whether stdin and stdout are a terminal; if not, says so in one line.
fn has_terminal() -> bool {
    use std::io::IsTerminal as _;
    let yes = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !yes {
        report(
            "touban: the console needs a terminal (stdin and stdout must be one); \
             `touban --help` lists the commands that print instead",
        );
    }
    yes
}

/// Where the console's effects go: detail fetches to the fetcher, requests
/// of jobs to the executor. A request that cannot be taken is answered at
/// once.
fn route(
    fetchers: crate::sources::Fetchers,
    exec: mpsc::UnboundedSender<crate::model::ExecCommand>,
    forwards: tui::handoff::Forwards,
    logs_dir: PathBuf,
) -> impl FnMut(crate::app::Effect) -> Option<crate::app::Event> {
    let crate::sources::Fetchers { details, logs } = fetchers;
    move |effect| match effect {
        crate::app::Effect::Forward(command) => {
            let id = match &command {
                crate::model::forward::ForwardCommand::Start { id, .. }
                | crate::model::forward::ForwardCommand::Stop(id) => *id,
            };
            (!forwards.send(command)).then(|| {
                crate::app::Event::Forward(crate::model::forward::ForwardEvent::Ended {
                    id,
                    why: Some("the port-forward runner has stopped (see the log); restart touban to forward".to_owned()),
                })
            })
        }
        crate::app::Effect::Logs(command) => logs.send(command).err().map(|_| {
            crate::app::Event::Notice(
                "the log fetcher has stopped (see the log); restart touban to see logs".to_owned(),
            )
        }),
        crate::app::Effect::SaveLog { stem, text } => save_log(&logs_dir, &stem, &text)
            .err()
            .map(crate::app::Event::Notice),
        crate::app::Effect::Exec(command) => exec.send(command).err().map(|failed| {
            let id = match failed.0 {
                crate::model::ExecCommand::Plan { id, .. }
                | crate::model::ExecCommand::Confirm { id, .. }
                | crate::model::ExecCommand::Decline { id }
                | crate::model::ExecCommand::Cancel { id }
                | crate::model::ExecCommand::Proceed { id }
                | crate::model::ExecCommand::Resume { id } => id,
            };
            crate::app::Event::Job(crate::model::JobEvent::Finished {
                id,
                outcome: crate::model::JobOutcome::Failed(
                    "the executor has stopped (see the log); restart touban to act".to_owned(),
                ),
                at: SystemTime::now(),
            })
        }),
        crate::app::Effect::Copy(text) => tui::copy(&text).err().map(|e| {
            crate::app::Event::Notice(format!(
                "cannot write the copy to the terminal: {e}; nothing was copied"
            ))
        }),
        crate::app::Effect::FetchDetail(object) => details.send(object).err().map(|failed| {
            crate::app::Event::Update(crate::model::Update::Detail {
                object: failed.0,
                yaml: Err(
                    "the detail fetcher has stopped; restart touban to fetch objects".to_owned(),
                ),
            })
        }),
    }
}

/// Writes a log view's lines as `DIR/STEM.log` (the directory private to
/// the user, as the state directory is).
fn save_log(dir: &Path, stem: &str, text: &str) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt as _;
    let path = dir.join(format!("{stem}.log"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| format!("cannot save the log as {}: {e}", path.display()))
}

/// color-eyre's hooks, with the terminal released before a panic report
/// (after any frame being written, and with no frame drawn after it).
/// A panic anywhere (the loop, or any task) ends the process: a console
/// whose terminal has been restored must not go on drawing into the shell.
fn install_hooks() -> eyre::Result<()> {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    eyre_hook.install()?;
    std::panic::set_hook(Box::new(move |info| {
        tui::guard::release_for_exit();
        // The log keeps where it happened, whatever the terminal's state.
        tracing::error!(
            "panic: {info}\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        report(&panic_hook.panic_report(info).to_string());
        crate::logging::flush();
        std::process::exit(EXIT_PANIC);
    }));
    Ok(())
}

/// The audit log, opened for a command that acts: one that cannot write
/// it down does not act.
fn open_audit(paths: &Paths) -> eyre::Result<crate::exec::audit::AuditLog> {
    crate::exec::audit::AuditLog::open(&paths.audit_log).wrap_err_with(|| {
        format!(
            "cannot open the audit log {} (its directory must be writable)",
            paths.audit_log.display()
        )
    })
}

/// Asks `question` on the terminal and returns the answer, trimmed;
/// `None` when stdin is no terminal (`unattended` says what a pipeline
/// passes instead) or nothing could be read.
fn ask(question: &str, unattended: &str) -> Option<String> {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        report(&format!("touban: stdin is not a terminal: {unattended}"));
        return None;
    }
    let _ = write!(std::io::stderr(), "{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).ok()?;
    Some(line.trim().to_owned())
}

/// Writes to stderr, ignoring failure: after SIGHUP the terminal is gone,
/// and `eprintln!` would panic (inside the panic hook: an abort).
fn report(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

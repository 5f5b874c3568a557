//! Command-line parsing and wiring: load the configuration (before touching
//! the terminal, so a bad file leaves the terminal as it was), set up the
//! log, the hooks and the terminal, then run the console.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime};

use clap::{CommandFactory, Parser, Subcommand};
use color_eyre::eyre::{self, WrapErr};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::app::App;
use crate::config::{self, ConfigError, ConfigOrigin, Keymap, Overrides, Paths, ThemeSet};
use crate::tui::{self, guard::TerminalGuard};

/// 当番 touban: the on-call console for a multi-region platform.
#[derive(Debug, Parser)]
#[command(name = "touban", version, about, long_about = None)]
pub struct Cli {
    /// The platform file (else $TOUBAN_CONFIG, else ~/.config/touban/config.toml, else the built-in example).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Colour theme: default, light, high-contrast, mono, or one in the themes directory.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Keymap: default or vim (your keymap.toml merges over it).
    #[arg(long, global = true, value_name = "NAME")]
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
    },
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
    #[arg(long, default_value = "incidents", value_name = "NAME")]
    scenario: crate::sandbox::Scenario,
}

impl From<WorldArgs> for crate::sandbox::Options {
    fn from(w: WorldArgs) -> crate::sandbox::Options {
        crate::sandbox::Options {
            seed: w.seed,
            pods: w.pods,
            speed: w.speed,
            scenario: w.scenario,
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

/// Exit status for a configuration error.
pub const EXIT_CONFIG: u8 = 2;

/// Runs touban with the process's arguments.
pub fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    match run(cli, started) {
        Ok(code) => code,
        Err(e) => {
            report(&format!("touban: {e:?}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, started: Instant) -> eyre::Result<ExitCode> {
    let paths = match Paths::discover(cli.config.as_deref(), cli.log_file.as_deref()) {
        Ok(p) => p,
        Err(message) => {
            report(&format!("touban: {message}"));
            return Ok(ExitCode::from(EXIT_CONFIG));
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
            print!("{}", config::platform::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Config {
            action: ConfigAction::Check { file },
        }) => Ok(check(&paths, file.as_deref(), &overrides)),
        Some(Sub::Info) => {
            info(&paths);
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "touban", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Some(Sub::Sandbox {
            write_config,
            world,
        }) => {
            let dir = write_config.unwrap_or_else(|| paths.state_dir.join("sandbox"));
            sandbox(&dir, world.into())
        }
        Some(Sub::Demo { world }) => console(&paths, &overrides, started, Mode::Demo(world.into())),
        Some(Sub::CrashTest) => console(&paths, &overrides, started, Mode::CrashTest),
        None => console(&paths, &overrides, started, Mode::Console),
    }
}

fn config_failed(e: &ConfigError) -> ExitCode {
    report(&format!("touban: configuration error\n{e}"));
    ExitCode::from(EXIT_CONFIG)
}

fn check(paths: &Paths, file: Option<&Path>, overrides: &Overrides) -> ExitCode {
    let mut paths = paths.clone();
    if let Some(f) = file {
        paths.config = ConfigOrigin::Flag(f.to_owned());
    }
    match config::load(&paths, overrides) {
        Ok(loaded) => {
            let p = &loaded.platform;
            println!(
                "ok: {}: environment {}, {} regions, {} clusters, {} databases, {} caches, {} AI services, {} alert sources; theme {}, keymap {}",
                paths.config.describe(),
                p.environment,
                p.regions.len(),
                p.clusters.len(),
                p.databases.len(),
                p.caches.len(),
                p.ai_services.len(),
                p.alert_sources.len(),
                loaded.theme,
                loaded.keymap.name,
            );
            for w in &loaded.warnings {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => config_failed(&e),
    }
}

fn info(paths: &Paths) {
    let exists = |p: &Path| if p.exists() { "" } else { " (not present)" };
    println!("config       {}", paths.config.describe());
    println!(
        "config dir   {}{}",
        paths.config_dir.display(),
        exists(&paths.config_dir)
    );
    println!(
        "themes dir   {}{}",
        paths.themes_dir.display(),
        exists(&paths.themes_dir)
    );
    println!(
        "keymap file  {}{}",
        paths.keymap_file.display(),
        exists(&paths.keymap_file)
    );
    println!("log file     {}", paths.log_file.display());
    println!("audit log    {}", paths.audit_log.display());
    match ThemeSet::load(Some(&paths.themes_dir)) {
        Ok(set) => println!(
            "themes       {}",
            set.names().collect::<Vec<_>>().join(", ")
        ),
        Err(e) => println!("themes       error: {e}"),
    }
    println!(
        "keymaps      {}",
        Keymap::built_in_names().collect::<Vec<_>>().join(", ")
    );
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
        println!("touban sandbox: up in {} ms (scenario {}, speed {}x)\n{}", started.elapsed().as_millis(), options.scenario, options.speed, summary(&sandbox));
        println!(
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
}

fn console(
    paths: &Paths,
    overrides: &Overrides,
    started: Instant,
    mode: Mode,
) -> eyre::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let mut paths = paths.clone();
    // The demo's console reaches the sandbox only through the config and
    // kubeconfig it writes, exactly as it reaches a real platform.
    let sandbox = match mode {
        Mode::Demo(options) => {
            let sandbox = runtime
                .block_on(crate::sandbox::Sandbox::start(options))
                .wrap_err("cannot start the sandbox's servers on 127.0.0.1")?;
            let dir = paths.state_dir.join("demo");
            let (_, config) = sandbox
                .write_config(&dir)
                .wrap_err_with(|| format!("cannot write the demo's config to {}", dir.display()))?;
            paths.config = ConfigOrigin::Sandbox(config);
            Some(sandbox)
        }
        Mode::Console | Mode::CrashTest => None,
    };
    let loaded = match config::load(&paths, overrides) {
        Ok(l) => l,
        Err(e) => return Ok(config_failed(&e)),
    };
    init_log(&paths.log_file)?;
    install_hooks()?;
    tracing::info!(config = %paths.config.describe(), theme = %loaded.theme, keymap = %loaded.keymap.name, "touban starting");
    let crash_test = matches!(mode, Mode::CrashTest);
    let result = runtime.block_on(async {
        let (tx, rx) = mpsc::channel(tui::CHANNEL);
        let app = App::new(loaded, SystemTime::now());
        let _guard = TerminalGuard::enter()
            .wrap_err("cannot put the terminal in raw mode: is stdout a terminal?")?;
        let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))
            .wrap_err("cannot open the terminal")?;
        tui::spawn_input(tx.clone());
        tui::spawn_clock(tx.clone());
        tui::spawn_signals(tx.clone()).wrap_err("cannot install signal handlers")?;
        let details =
            crate::sources::spawn_all(app.platform(), &tx, crate::sources::Intervals::CONSOLE);
        drop(tx);
        if crash_test {
            tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                panic!("crash test: a panic in a background task");
            });
        }
        let result = tui::run(&mut terminal, app, rx, route(details), started).await;
        // ratatui's Terminal shows the cursor when dropped and, if the
        // terminal is gone (SIGHUP), eprintln!s the failure: a panic on a
        // dead pty. Show it here; if that fails, let the terminal go
        // without its drop (the guard restores the rest).
        if terminal.show_cursor().is_err() {
            std::mem::forget(terminal);
        }
        let (_, stats) = result.wrap_err("drawing the terminal failed")?;
        eyre::Ok(stats)
    });
    drop(sandbox);
    // The input reader may be parked in a blocking read: do not wait for it.
    runtime.shutdown_background();
    let _ = std::io::stdout().flush();
    match &result {
        Ok(stats) => tracing::info!(frames = stats.frames, "touban stopped"),
        // A terminal that went away (SSH dropped) fails the next draw: say so
        // in the log, where the operator will look for why it ended.
        Err(e) => tracing::error!("touban stopped: {e:#}"),
    }
    flush_log();
    result.map(|_| ExitCode::SUCCESS)
}

/// Where the console's effects go: detail fetches to the fetcher. A
/// request that cannot be taken is answered at once.
fn route(
    details: mpsc::UnboundedSender<crate::model::cluster::ObjectRef>,
) -> impl FnMut(crate::app::Effect) -> Option<crate::app::Event> {
    move |effect| match effect {
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

/// Logs to a file, never to the terminal, through a background writer so
/// that logging never blocks the event loop. [`flush_log`] flushes it.
fn init_log(path: &Path) -> eyre::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).wrap_err_with(|| {
            format!(
                "cannot create the log directory {} (pass --log-file)",
                dir.display()
            )
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .wrap_err_with(|| {
            format!(
                "cannot open the log file {} (pass --log-file)",
                path.display()
            )
        })?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOUBAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    if let Ok(mut slot) = LOG_GUARD.lock() {
        *slot = Some(guard);
    }
    Ok(())
}

/// color-eyre's hooks, with the terminal restored before a panic report.
/// A panic anywhere (the loop, or any task) ends the process: a console
/// whose terminal has been restored must not go on drawing into the shell.
fn install_hooks() -> eyre::Result<()> {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    eyre_hook.install()?;
    std::panic::set_hook(Box::new(move |info| {
        tui::guard::restore();
        // The log keeps where it happened, whatever the terminal's state.
        tracing::error!(
            "panic: {info}\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        report(&panic_hook.panic_report(info).to_string());
        flush_log();
        std::process::exit(EXIT_PANIC);
    }));
    Ok(())
}

/// Writes to stderr, ignoring failure: after SIGHUP the terminal is gone,
/// and `eprintln!` would panic (inside the panic hook: an abort).
fn report(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The log writer's guard: dropping it flushes the log. Held here so that
/// the panic hook can flush before `process::exit`, which runs no drops.
static LOG_GUARD: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

fn flush_log() {
    if let Ok(mut guard) = LOG_GUARD.lock() {
        guard.take();
    }
}

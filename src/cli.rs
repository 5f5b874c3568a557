//! Command-line parsing and wiring: load the configuration (before touching
//! the terminal, so a bad file leaves the terminal as it was), set up the
//! log, the hooks and the terminal, then run the console.

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
use crate::config::{
    self, ConfigError, ConfigOrigin, Keymap, Overrides, Paths, Platform, ThemeSet,
};
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
            eprintln!("touban: {e:?}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, started: Instant) -> eyre::Result<ExitCode> {
    let paths = match Paths::discover(cli.config.as_deref(), cli.log_file.as_deref()) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("touban: {message}");
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
        None => console(&paths, &overrides, started),
    }
}

fn config_failed(e: &ConfigError) -> ExitCode {
    eprintln!("touban: configuration error\n{e}");
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

fn console(paths: &Paths, overrides: &Overrides, started: Instant) -> eyre::Result<ExitCode> {
    let loaded = match config::load(paths, overrides) {
        Ok(l) => l,
        Err(e) => return Ok(config_failed(&e)),
    };
    let _log = init_log(&paths.log_file)?;
    install_hooks()?;
    tracing::info!(config = %paths.config.describe(), theme = %loaded.theme, keymap = %loaded.keymap.name, "touban starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
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
        drop(tx);
        let (_, stats) = tui::run(&mut terminal, app, rx, started)
            .await
            .wrap_err("drawing the terminal failed")?;
        eyre::Ok(stats)
    });
    // The input reader may be parked in a blocking read: do not wait for it.
    runtime.shutdown_background();
    let _ = std::io::stdout().flush();
    result.map(|_| ExitCode::SUCCESS)
}

/// Logs to a file, never to the terminal. The returned guard flushes the
/// log when dropped.
fn init_log(path: &Path) -> eyre::Result<tracing_appender::non_blocking::WorkerGuard> {
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
    Ok(guard)
}

/// color-eyre's hooks, with the terminal restored before a panic report.
fn install_hooks() -> eyre::Result<()> {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    eyre_hook.install()?;
    std::panic::set_hook(Box::new(move |info| {
        tui::guard::restore();
        tracing::error!("panic: {info}");
        eprintln!("{}", panic_hook.panic_report(info));
    }));
    Ok(())
}

#[doc(hidden)]
pub fn platform_example() -> Platform {
    Platform::parse("built-in example", config::platform::EXAMPLE)
        .unwrap_or_else(|e| panic!("the built-in example is invalid: {e}"))
}

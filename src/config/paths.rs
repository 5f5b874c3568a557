//! Where touban's files are: the config file (`--config`, then
//! `TOUBAN_CONFIG`, then the XDG config dir, else the built-in example),
//! user themes and keymap, the log file and the audit log (XDG state dir).

use std::path::{Path, PathBuf};

use etcetera::BaseStrategy;

/// Where the platform file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// `--config FILE`.
    Flag(PathBuf),
    /// `touban config check FILE`: the file named on the command line.
    Argument(PathBuf),
    /// `TOUBAN_CONFIG=FILE`.
    Env(PathBuf),
    /// `$XDG_CONFIG_HOME/touban/config.toml`.
    Xdg(PathBuf),
    /// Written by `touban demo` for the sandbox it started.
    Sandbox(PathBuf),
    /// None of those: the built-in example.
    BuiltIn,
}

impl ConfigOrigin {
    /// The file, if there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigOrigin::Flag(p)
            | ConfigOrigin::Argument(p)
            | ConfigOrigin::Env(p)
            | ConfigOrigin::Xdg(p)
            | ConfigOrigin::Sandbox(p) => Some(p),
            ConfigOrigin::BuiltIn => None,
        }
    }

    /// How the file is named in messages.
    pub fn describe(&self) -> String {
        match self {
            ConfigOrigin::Flag(p) => format!("{} (--config)", p.display()),
            ConfigOrigin::Env(p) => format!("{} (TOUBAN_CONFIG)", p.display()),
            ConfigOrigin::Argument(p) | ConfigOrigin::Xdg(p) => p.display().to_string(),
            ConfigOrigin::Sandbox(p) => format!("{} (touban demo)", p.display()),
            ConfigOrigin::BuiltIn => "built-in example (touban config example)".to_owned(),
        }
    }
}

/// Every path touban uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The platform file's origin.
    pub config: ConfigOrigin,
    /// `$XDG_CONFIG_HOME/touban`.
    pub config_dir: PathBuf,
    /// User themes: `<config_dir>/themes`.
    pub themes_dir: PathBuf,
    /// User keymap: `<config_dir>/keymap.toml`.
    pub keymap_file: PathBuf,
    /// `$XDG_STATE_HOME/touban`: logs, the audit log, the sandbox's files.
    pub state_dir: PathBuf,
    /// The debug log.
    pub log_file: PathBuf,
    /// The audit log (append-only JSON lines).
    pub audit_log: PathBuf,
    /// The checkpoints of jobs that run or were left unfinished.
    pub jobs_dir: PathBuf,
}

impl Paths {
    /// Works the paths out from the flags and the environment.
    pub fn discover(config_flag: Option<&Path>, log_flag: Option<&Path>) -> Result<Paths, String> {
        let xdg = etcetera::base_strategy::Xdg::new().map_err(|e| {
            format!("cannot find the home directory ({e}): set HOME or XDG_CONFIG_HOME")
        })?;
        let config_dir = xdg.config_dir().join("touban");
        let state_dir = xdg
            .state_dir()
            .unwrap_or_else(|| xdg.home_dir().join(".local/state"))
            .join("touban");
        let xdg_file = config_dir.join("config.toml");
        let config = match (config_flag, std::env::var_os("TOUBAN_CONFIG")) {
            (Some(p), _) => ConfigOrigin::Flag(p.to_owned()),
            (None, Some(p)) if !p.is_empty() => ConfigOrigin::Env(PathBuf::from(p)),
            _ if xdg_file.is_file() => ConfigOrigin::Xdg(xdg_file),
            _ => ConfigOrigin::BuiltIn,
        };
        Ok(Paths {
            config,
            themes_dir: config_dir.join("themes"),
            keymap_file: config_dir.join("keymap.toml"),
            config_dir,
            log_file: log_flag.map_or_else(|| state_dir.join("touban.log"), Path::to_owned),
            audit_log: state_dir.join("audit.jsonl"),
            jobs_dir: state_dir.join("jobs"),
            state_dir,
        })
    }
}

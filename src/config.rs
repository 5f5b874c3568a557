//! Configuration: the platform file, themes and keymaps, parsed, validated
//! and merged over the embedded defaults. Errors name file:line:col.

pub mod error;
pub mod keymap;
pub mod paths;
pub mod platform;
pub mod secret;
pub mod theme;

use std::path::Path;

pub use error::{ConfigError, Located};
pub use keymap::Keymap;
pub use paths::{ConfigOrigin, Paths};
pub use platform::Platform;
pub use theme::{Theme, ThemeSet};

/// Choices from the command line and environment, over the config file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--theme`.
    pub theme: Option<String>,
    /// `--keymap`.
    pub keymap: Option<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `NO_COLOR` is set (and not empty).
    pub no_color: bool,
}

/// Everything loaded, ready for the app.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The platform.
    pub platform: Platform,
    /// Every theme.
    pub themes: ThemeSet,
    /// The theme to start with.
    pub theme: String,
    /// The keymap, with the user's merged in.
    pub keymap: Keymap,
    /// `--read-only` was given: kept apart from the file's settings, which
    /// a cluster's own `read_only` may override and the flag may not.
    pub read_only_flag: bool,
    /// Problems that did not stop the start (keymap warnings).
    pub warnings: Vec<String>,
}

/// Reads the platform file named by `paths` (or the built-in example).
pub fn load_platform(origin: &ConfigOrigin) -> Result<Platform, ConfigError> {
    match origin.path() {
        Some(path) => {
            let src = read(path)?;
            Ok(Platform::parse(&path.display().to_string(), &src)?)
        }
        None => Ok(Platform::parse("built-in example", platform::EXAMPLE)?),
    }
}

/// Loads everything: platform, themes, keymap, with the overrides applied.
pub fn load(paths: &Paths, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let platform = load_platform(&paths.config)?;
    let themes = ThemeSet::load(Some(&paths.themes_dir))?;
    let config_file = paths.config.describe();
    let theme = if let Some(name) = &overrides.theme {
        if let Some(broken) = themes.broken().get(name) {
            return Err(broken.clone().into());
        }
        if themes.get(name).is_none() {
            return Err(ConfigError::Option {
                flag: "--theme",
                message: format!(
                    "unknown theme `{name}`: expected one of {}",
                    themes.names_list()
                ),
            });
        }
        name.clone()
    } else if overrides.no_color {
        "mono".to_owned()
    } else {
        let name = &platform.settings.theme;
        if let Some(broken) = themes.broken().get(name.get_ref()) {
            return Err(broken.clone().into());
        }
        if themes.get(name.get_ref()).is_none() {
            return Err(at_setting(
                paths,
                &config_file,
                name,
                &format!(
                    "unknown theme `{}`: expected one of {}",
                    name.get_ref(),
                    themes.names_list()
                ),
            ));
        }
        name.get_ref().clone()
    };
    let keymap_name = overrides
        .keymap
        .clone()
        .unwrap_or_else(|| platform.settings.keymap.get_ref().clone());
    let Some((mut keymap, mut warnings)) = Keymap::built_in(&keymap_name) else {
        let known: Vec<_> = Keymap::built_in_names().map(|n| format!("`{n}`")).collect();
        let message = format!(
            "unknown keymap `{keymap_name}`: expected one of {}",
            known.join(", ")
        );
        if overrides.keymap.is_some() {
            return Err(ConfigError::Option {
                flag: "--keymap",
                message,
            });
        }
        return Err(at_setting(
            paths,
            &config_file,
            &platform.settings.keymap,
            &message,
        ));
    };
    for (name, why) in themes.broken() {
        if *name != theme {
            warnings.push(format!("theme `{name}` not loaded (not in use): {why}"));
        }
    }
    if paths.keymap_file.exists() {
        match read(&paths.keymap_file) {
            Ok(src) => {
                let before = keymap.clone();
                let file = paths.keymap_file.display().to_string();
                warnings.extend(keymap.merge(&file, &src));
                // A keymap with no way out is refused whole: on call, at
                // night, a console that cannot be quit is worse than the
                // built-in keys.
                if let Some(pane) = keymap.trapped_in() {
                    warnings.push(format!(
                        "{file}: refused, it leaves no way to quit in the {pane} pane (bind `quit` \
                         or `command-line`); the built-in `{}` keymap is in force",
                        before.name
                    ));
                    keymap = before;
                }
            }
            Err(e) => warnings.push(format!("{e}; keymap file ignored")),
        }
    }
    Ok(Loaded {
        platform,
        themes,
        theme,
        keymap,
        read_only_flag: overrides.read_only,
        warnings,
    })
}

/// What made a target read-only, for the refusal to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOnlyBy {
    /// `--read-only` on the command line.
    Flag,
    /// The cluster's own `read_only = true`.
    Cluster(String),
    /// `settings.read_only = true` in the platform file.
    Settings,
}

impl std::fmt::Display for ReadOnlyBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadOnlyBy::Flag => f.write_str("--read-only"),
            ReadOnlyBy::Cluster(c) => write!(f, "read_only = true of cluster `{c}`"),
            ReadOnlyBy::Settings => f.write_str("settings.read_only = true"),
        }
    }
}

impl Loaded {
    /// Whether mutating actions are refused everywhere (the header's badge).
    pub fn read_only(&self) -> bool {
        self.read_only_flag || self.platform.settings.read_only
    }

    /// Why actions on `cluster` (or on no cluster) are refused, if they are:
    /// `--read-only` over the cluster's `read_only` over the settings.
    pub fn read_only_for(&self, cluster: Option<&str>) -> Option<ReadOnlyBy> {
        read_only_for(self.read_only_flag, &self.platform, cluster)
    }
}

/// Why actions on `cluster` (or on no cluster) are refused, if they are:
/// `--read-only` (`flag`) over the cluster's `read_only` over the settings.
pub fn read_only_for(
    flag: bool,
    platform: &platform::Platform,
    cluster: Option<&str>,
) -> Option<ReadOnlyBy> {
    if flag {
        return Some(ReadOnlyBy::Flag);
    }
    let own = cluster.and_then(|name| {
        platform
            .clusters
            .iter()
            .find(|c| c.name.get_ref() == name)
            .and_then(|c| c.read_only)
            .map(|ro| (name, ro))
    });
    match own {
        Some((name, true)) => Some(ReadOnlyBy::Cluster(name.to_owned())),
        Some((_, false)) => None,
        None => platform.settings.read_only.then_some(ReadOnlyBy::Settings),
    }
}

/// An error at a setting of the platform file.
fn at_setting(
    paths: &Paths,
    described: &str,
    value: &toml::Spanned<String>,
    message: &str,
) -> ConfigError {
    let src = paths
        .config
        .path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_else(|| platform::EXAMPLE.to_owned());
    let file = paths
        .config
        .path()
        .map_or_else(|| described.to_owned(), |p| p.display().to_string());
    Located::at(&file, &src, Some(value.span()), message).into()
}

/// The largest configuration, theme or keymap file touban reads: far
/// beyond any real one, and a bound on what a wrong path (`/dev/zero`, a
/// log file) can make it read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads a configuration file of at most [`MAX_FILE_BYTES`].
pub fn read(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let failed = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(failed(std::io::Error::other(format!(
            "larger than {} KiB: not a configuration file (is the path right?)",
            MAX_FILE_BYTES >> 10
        ))));
    }
    Ok(text)
}

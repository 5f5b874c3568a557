//! Colour themes: semantic roles (`ok`, `warn`, `crit`, ...) mapped to
//! styles. Built-in themes live in `themes/*.toml`; a theme of the same name
//! in the user's `themes/` directory overrides only the roles it names, and a
//! new user theme starts from the theme it `extends` (default: `default`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

use super::error::{ConfigError, Located, parse_toml};

/// A terminal colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// The terminal's own default.
    Reset,
    /// One of the 16 ANSI colours, by index 0..=15.
    Ansi(u8),
    /// One of the 256 indexed colours.
    Indexed(u8),
    /// A 24-bit colour.
    Rgb(u8, u8, u8),
}

const ANSI_NAMES: [&str; 16] = [
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "dark-gray",
    "light-red",
    "light-green",
    "light-yellow",
    "light-blue",
    "light-magenta",
    "light-cyan",
    "white",
];

impl std::str::FromStr for Color {
    type Err = String;

    fn from_str(s: &str) -> Result<Color, String> {
        if s == "reset" || s == "default" {
            return Ok(Color::Reset);
        }
        if let Some(i) = ANSI_NAMES.iter().position(|n| *n == s) {
            return Ok(Color::Ansi(u8::try_from(i).unwrap_or(0)));
        }
        if s == "grey" {
            return Ok(Color::Ansi(7));
        }
        if let Some(hex) = s.strip_prefix('#')
            && hex.len() == 6
            && let Ok(v) = u32::from_str_radix(hex, 16)
        {
            let [_, r, g, b] = v.to_be_bytes();
            return Ok(Color::Rgb(r, g, b));
        }
        if let Ok(i) = s.parse::<u8>() {
            return Ok(Color::Indexed(i));
        }
        Err(format!(
            "unknown colour `{s}`: expected reset, {}, `#rrggbb`, or an index 0-255",
            ANSI_NAMES.join(", ")
        ))
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Color, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// How one role looks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct StyleSpec {
    /// Foreground colour.
    #[serde(default)]
    pub fg: Option<Color>,
    /// Background colour.
    #[serde(default)]
    pub bg: Option<Color>,
    /// Bold.
    #[serde(default)]
    pub bold: bool,
    /// Dim.
    #[serde(default)]
    pub dim: bool,
    /// Italic.
    #[serde(default)]
    pub italic: bool,
    /// Underlined.
    #[serde(default)]
    pub underline: bool,
    /// Foreground and background swapped.
    #[serde(default)]
    pub reversed: bool,
    /// Blinking: used only where a theme asks for it.
    #[serde(default)]
    pub blink: bool,
}

/// A role is written either as a colour (`ok = "green"`, the foreground) or
/// as a table (`selection = { fg = "black", bg = "cyan", bold = true }`).
fn style_spec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StyleSpec>, D::Error> {
    struct SpecVisitor;
    impl<'de> Visitor<'de> for SpecVisitor {
        type Value = StyleSpec;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "a colour such as \"green\" or a table such as { fg = \"black\", bg = \"cyan\" }",
            )
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<StyleSpec, E> {
            let fg = s.parse().map_err(E::custom)?;
            Ok(StyleSpec {
                fg: Some(fg),
                ..StyleSpec::default()
            })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StyleSpec, A::Error> {
            StyleSpec::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(SpecVisitor).map(Some)
}

macro_rules! roles {
    ($($role:ident: $doc:literal),* $(,)?) => {
        /// A theme file as written: any subset of the roles.
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ThemeFile {
            /// The theme this one starts from.
            #[serde(default)]
            extends: Option<Spanned<String>>,
            $(
                #[doc = $doc]
                #[serde(default, deserialize_with = "style_spec")]
                $role: Option<StyleSpec>,
            )*
        }

        /// A complete theme: every role has a style.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Theme {
            /// The theme's name.
            pub name: String,
            $(
                #[doc = $doc]
                pub $role: StyleSpec,
            )*
        }

        /// Every role name, as theme files spell them.
        pub const ROLES: &[&str] = &[$(stringify!($role)),*];

        impl Theme {
            fn blank() -> Theme {
                Theme { name: String::new(), $($role: StyleSpec::default(),)* }
            }
        }

        impl ThemeFile {
            fn over(self, base: &Theme, name: &str) -> Theme {
                Theme {
                    name: name.to_owned(),
                    $($role: self.$role.unwrap_or_else(|| base.$role.clone()),)*
                }
            }

            fn missing_roles(&self) -> Vec<&'static str> {
                let mut missing = Vec::new();
                $(if self.$role.is_none() { missing.push(stringify!($role)); })*
                missing
            }
        }
    };
}

roles! {
    text: "Ordinary text.",
    muted: "Secondary text: labels, units, ages.",
    accent: "Emphasis: the product name, headings.",
    title: "Pane and overlay titles.",
    border: "Borders of unfocused panes.",
    border_focus: "Borders of the focused pane.",
    selection: "The selected row or tab.",
    tab: "Pane-bar entries.",
    key: "Key names in hints and help.",
    ok: "Healthy.",
    warn: "Degraded, needs a look.",
    crit: "Failing, needs action.",
    starting: "Pods within their start-up: not ready yet, not failing.",
    unknown: "Not known yet: no data.",
    stale: "Data that stopped updating.",
    danger: "Irreversible actions and their buttons.",
    live_badge: "The LIVE badge (mutating actions enabled).",
    read_only_badge: "The READ-ONLY badge.",
    overlay: "Background of overlays (help, dialogs, command line).",
}

/// The theme `name` of the user's files, over what it extends: the theme
/// named by `extends` (a user theme first, else a built-in), else the
/// built-in of its own name, else `default`. `stack` catches circles.
fn resolve(
    name: &str,
    user: &BTreeMap<String, UserTheme>,
    builtin: &BTreeMap<String, Theme>,
    stack: &mut Vec<String>,
) -> Result<Theme, Located> {
    let Some(entry) = user.get(name) else {
        return builtin.get(name).cloned().ok_or_else(|| Located {
            file: name.to_owned(),
            line: 1,
            col: 1,
            message: format!("no theme `{name}`"),
            line_text: String::new(),
        });
    };
    let (file, src, parsed) = entry.as_ref().map_err(Clone::clone)?;
    stack.push(name.to_owned());
    let base = match &parsed.extends {
        Some(ext) if stack.iter().any(|s| s == ext.get_ref()) => {
            // Extending one's own name reaches for the built-in of that name.
            if ext.get_ref() == name && builtin.contains_key(name) {
                builtin
                    .get(name)
                    .cloned()
                    .ok_or_else(|| unreachable_theme(file, src))
            } else {
                Err(Located::at(
                    file,
                    src,
                    Some(ext.span()),
                    format!(
                        "themes extend each other in a circle: {} -> {}",
                        stack.join(" -> "),
                        ext.get_ref()
                    ),
                ))
            }
        }
        Some(ext) if user.contains_key(ext.get_ref()) || builtin.contains_key(ext.get_ref()) => {
            resolve(ext.get_ref(), user, builtin, stack).map_err(|e| {
                Located::at(
                    file,
                    src,
                    Some(ext.span()),
                    format!("the theme it extends, `{}`, is broken: {e}", ext.get_ref()),
                )
            })
        }
        Some(ext) => {
            let mut known: Vec<&str> = builtin
                .keys()
                .chain(user.keys())
                .map(String::as_str)
                .collect();
            known.sort_unstable();
            known.dedup();
            Err(Located::at(
                file,
                src,
                Some(ext.span()),
                format!(
                    "unknown theme `{}` to extend: expected one of {}",
                    ext.get_ref(),
                    known
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
        None => match builtin.get(name) {
            Some(same) => Ok(same.clone()),
            None if name == "default" => Err(unreachable_theme(file, src)),
            None => resolve("default", user, builtin, stack),
        },
    };
    stack.pop();
    Ok(parsed.clone().over(&base?, name))
}

/// The built-in default is always there; should it not be, say so.
fn unreachable_theme(file: &str, src: &str) -> Located {
    Located::at(file, src, Some(0..0), "no built-in theme to start from")
}

/// The built-in themes' names, as offered to shell completion.
pub const BUILT_IN_NAMES: [&str; 4] = ["default", "light", "high-contrast", "mono"];

/// A built-in theme: its name and file text.
const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// Every theme available: the built-ins, then the user's. A user theme
/// that cannot be read or resolved is set aside with why: fatal only if it
/// is the theme in use, a warning otherwise.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    themes: BTreeMap<String, Theme>,
    /// The built-in default, for a console whose chosen theme is gone.
    fallback: Theme,
    /// User themes that failed, by name.
    broken: BTreeMap<String, Located>,
}

/// A user theme file, read and parsed (or why not).
type UserTheme = Result<(String, String, ThemeFile), Located>;

impl ThemeSet {
    /// Loads the built-in themes and every `*.toml` in `user_dir` (if it
    /// exists). `extends` is resolved by name, whatever the files' order.
    pub fn load(user_dir: Option<&Path>) -> Result<ThemeSet, ConfigError> {
        let mut builtin = BTreeMap::new();
        for (name, src) in BUILT_IN {
            let file = format!("themes/{name}.toml (built in)");
            let parsed: ThemeFile = parse_toml(&file, src)?;
            let missing = parsed.missing_roles();
            if !missing.is_empty() {
                return Err(Located::at(
                    &file,
                    src,
                    Some(0..0),
                    format!(
                        "a built-in theme gives every role; missing: {}",
                        missing.join(", ")
                    ),
                )
                .into());
            }
            let theme = parsed.over(&Theme::blank(), name);
            builtin.insert((*name).to_owned(), theme);
        }
        let fallback = builtin.get("default").cloned().unwrap_or_else(Theme::blank);
        let mut set = ThemeSet {
            themes: builtin.clone(),
            fallback,
            broken: BTreeMap::new(),
        };
        let Some(dir) = user_dir.filter(|d| d.is_dir()) else {
            return Ok(set);
        };
        let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let mut user: BTreeMap<String, UserTheme> = BTreeMap::new();
        for path in entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let file = path.display().to_string();
            let read = match super::read(&path) {
                Ok(src) => parse_toml::<ThemeFile>(&file, &src).map(|t| (file, src, t)),
                Err(e) => Err(Located {
                    file,
                    line: 1,
                    col: 1,
                    message: e.to_string(),
                    line_text: String::new(),
                }),
            };
            user.insert(name, read);
        }
        let names: Vec<String> = user.keys().cloned().collect();
        for name in names {
            match resolve(&name, &user, &builtin, &mut Vec::new()) {
                Ok(theme) => {
                    set.themes.insert(name, theme);
                }
                Err(e) => {
                    set.broken.insert(name, e);
                }
            }
        }
        Ok(set)
    }

    /// User themes that could not be loaded, by name, with why.
    pub fn broken(&self) -> &BTreeMap<String, Located> {
        &self.broken
    }

    /// The theme with this name.
    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.get(name)
    }

    /// The built-in default theme.
    pub fn default_theme(&self) -> &Theme {
        &self.fallback
    }

    /// Every theme's name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.themes.keys().map(String::as_str)
    }

    /// The names, quoted and joined, for error messages.
    pub fn names_list(&self) -> String {
        self.names()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_loads_complete() {
        let set = ThemeSet::load(None).expect("built-in themes");
        for (name, _) in BUILT_IN {
            assert!(set.get(name).is_some(), "{name}");
        }
        let offered: Vec<_> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        assert_eq!(offered, BUILT_IN_NAMES, "completion offers every built-in");
        assert_eq!(
            set.get("default").map(|t| t.ok.fg),
            Some(Some(Color::Ansi(2)))
        );
    }

    #[test]
    fn colours_parse() {
        assert_eq!("#ff8000".parse::<Color>(), Ok(Color::Rgb(255, 128, 0)));
        assert_eq!("light-red".parse::<Color>(), Ok(Color::Ansi(9)));
        assert_eq!("203".parse::<Color>(), Ok(Color::Indexed(203)));
        assert!("#ff80".parse::<Color>().is_err());
        assert!("chartreuse".parse::<Color>().is_err());
    }

    fn user_themes(files: &[(&str, &str)]) -> (tempfile::TempDir, ThemeSet) {
        let dir = tempfile::tempdir().expect("temp");
        for (name, src) in files {
            std::fs::write(dir.path().join(format!("{name}.toml")), src).expect("write");
        }
        let set = ThemeSet::load(Some(dir.path())).expect("themes");
        (dir, set)
    }

    #[test]
    fn a_user_theme_overrides_only_what_it_names() {
        let before = ThemeSet::load(None).expect("built-in themes");
        let (_dir, set) = user_themes(&[("default", "ok = \"#00ff00\"\n")]);
        let after = set.get("default").expect("default");
        assert_eq!(after.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(Some(&after.crit), before.get("default").map(|t| &t.crit));
    }

    #[test]
    fn extends_is_resolved_by_name_and_broken_themes_are_set_aside() {
        // `aa` sorts before `zz`, which it extends; `zz` extends `light`.
        let (_dir, set) = user_themes(&[
            ("aa", "extends = \"zz\"\nok = \"#010203\"\n"),
            ("zz", "extends = \"light\"\ncrit = \"#0a0b0c\"\n"),
            ("bad", "ok = \"chartreuse\"\n"),
            ("loop1", "extends = \"loop2\"\n"),
            ("loop2", "extends = \"loop1\"\n"),
        ]);
        let aa = set.get("aa").expect("aa resolved though zz sorts after it");
        assert_eq!(aa.ok.fg, Some(Color::Rgb(1, 2, 3)));
        assert_eq!(aa.crit.fg, Some(Color::Rgb(10, 11, 12)));
        assert_eq!(aa.text, set.get("light").expect("light").text);
        assert!(set.get("bad").is_none());
        assert!(set.broken()["bad"].message.contains("chartreuse"));
        assert!(
            set.broken()["loop1"].message.contains("circle"),
            "{:?}",
            set.broken()
        );
        assert!(set.get("default").is_some(), "the others load");
    }
}

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
        #[derive(Debug, Default, Deserialize)]
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
    unknown: "Not known yet: no data.",
    stale: "Data that stopped updating.",
    danger: "Irreversible actions and their buttons.",
    live_badge: "The LIVE badge (mutating actions enabled).",
    read_only_badge: "The READ-ONLY badge.",
    overlay: "Background of overlays (help, dialogs, command line).",
}

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

/// Every theme available: the built-ins, then the user's.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    themes: BTreeMap<String, Theme>,
    /// The built-in default, for a console whose chosen theme is gone.
    fallback: Theme,
}

impl ThemeSet {
    /// Loads the built-in themes and every `*.toml` in `user_dir` (if it exists).
    pub fn load(user_dir: Option<&Path>) -> Result<ThemeSet, ConfigError> {
        let mut set = ThemeSet {
            themes: BTreeMap::new(),
            fallback: Theme::blank(),
        };
        for (name, src) in BUILT_IN {
            set.add(name, &format!("themes/{name}.toml (built in)"), src)?;
        }
        if let Some(default) = set.themes.get("default") {
            set.fallback = default.clone();
        }
        if let Some(dir) = user_dir
            && dir.is_dir()
        {
            let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
                path: dir.to_owned(),
                source,
            })?;
            let mut files: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for path in files {
                let src = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                set.add(&name, &path.display().to_string(), &src)?;
            }
        }
        Ok(set)
    }

    /// Adds a theme named `name` from `src`: over the theme of the same name
    /// if there is one, else over the theme it extends.
    pub fn add(&mut self, name: &str, file: &str, src: &str) -> Result<(), Located> {
        let parsed: ThemeFile = parse_toml(file, src)?;
        let base = match (&parsed.extends, self.themes.get(name)) {
            (Some(ext), _) => Some(self.themes.get(ext.get_ref()).ok_or_else(|| {
                Located::at(
                    file,
                    src,
                    Some(ext.span()),
                    format!(
                        "unknown theme `{}` to extend: expected one of {}",
                        ext.get_ref(),
                        self.names_list()
                    ),
                )
            })?),
            (None, Some(same)) => Some(same),
            (None, None) => self.themes.get("default"),
        };
        let theme = if let Some(base) = base {
            let base = base.clone();
            parsed.over(&base, name)
        } else {
            let missing = parsed.missing_roles();
            if !missing.is_empty() {
                return Err(Located::at(
                    file,
                    src,
                    Some(0..0),
                    format!(
                        "a theme with nothing to extend must give every role; missing: {}",
                        missing.join(", ")
                    ),
                ));
            }
            parsed.over(&Theme::blank(), name)
        };
        self.themes.insert(name.to_owned(), theme);
        Ok(())
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

    #[test]
    fn a_user_theme_overrides_only_what_it_names() {
        let mut set = ThemeSet::load(None).expect("built-in themes");
        let before = set.get("default").cloned().expect("default");
        set.add("default", "user.toml", "ok = \"#00ff00\"\n")
            .expect("override");
        let after = set.get("default").expect("default");
        assert_eq!(after.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(after.crit, before.crit);
    }
}

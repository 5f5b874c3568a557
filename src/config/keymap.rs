//! Keymaps: data, not code. A keymap file has a `global` section and one
//! section per pane, each a list of `{ on = "g g", run = "top", desc = "..." }`.
//! A pane's bindings shadow global ones with the same keys. The user's
//! `keymap.toml` merges over the chosen keymap; its unknown keys, commands
//! or sections become warnings shown in the console, never a failed start.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Located, parse_toml};
use crate::model::{Chord, Command, Key, Pane};

/// One binding: keys, the command they run, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The keys, pressed in order.
    pub chord: Chord,
    /// The command run.
    pub command: Command,
    /// What the binding does, for help.
    pub desc: String,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Everywhere, unless a pane binds the same keys.
    Global,
    /// In one pane.
    Pane(Pane),
}

impl Section {
    fn from_name(name: &str) -> Option<Section> {
        if name == "global" {
            Some(Section::Global)
        } else {
            Pane::from_name(name).map(Section::Pane)
        }
    }

    /// The section's name in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Section::Global => "global",
            Section::Pane(p) => p.name(),
        }
    }
}

/// What a sequence of keys means in a pane.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The keys complete this binding.
    Found(&'a Binding),
    /// The keys start a longer chord: wait for the next key.
    Pending,
    /// The keys mean nothing here.
    Unbound,
}

/// A complete keymap.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    /// The keymap's name (`default`, `vim`).
    pub name: String,
    sections: BTreeMap<Section, Vec<Binding>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    on: Spanned<String>,
    run: Spanned<String>,
    #[serde(default)]
    desc: Option<String>,
}

/// The built-in keymaps' names, as offered to shell completion.
pub const BUILT_IN_NAMES: [&str; 2] = ["default", "vim"];

const BUILT_IN: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

impl Keymap {
    /// The names of the built-in keymaps.
    pub fn built_in_names() -> impl Iterator<Item = &'static str> {
        BUILT_IN.iter().map(|(n, _)| *n)
    }

    /// A built-in keymap. Its text is checked by the test suite, so any
    /// warning here is a defect of touban, returned for the caller to show.
    pub fn built_in(name: &str) -> Option<(Keymap, Vec<String>)> {
        let (name, src) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
        let mut keymap = Keymap {
            name: (*name).to_owned(),
            sections: BTreeMap::new(),
        };
        let warnings = keymap.merge(&format!("keymaps/{name}.toml (built in)"), src);
        Some((keymap, warnings))
    }

    /// The wallboard's keymap: rotation, panes, help and quit; no action.
    pub fn wall() -> (Keymap, Vec<String>) {
        let mut keymap = Keymap {
            name: "wall".to_owned(),
            sections: BTreeMap::new(),
        };
        let warnings = keymap.merge(
            "keymaps/wall.toml (built in)",
            include_str!("../../keymaps/wall.toml"),
        );
        (keymap, warnings)
    }

    /// Merges the bindings of `src` over this keymap: the same keys in the
    /// same section replace the old binding, `run = "nothing"` removes it,
    /// new keys are added. Returns a warning per problem, each located to
    /// `file:line:col`; bindings with problems are skipped.
    pub fn merge(&mut self, file: &str, src: &str) -> Vec<String> {
        let raw: BTreeMap<String, Vec<RawBinding>> = match parse_toml(file, src) {
            Ok(raw) => raw,
            Err(e) => return vec![format!("{}: {} (file ignored)", e.position(), e.message)],
        };
        let mut warnings = Vec::new();
        let warn = |warnings: &mut Vec<String>, span, message: String| {
            let at = Located::at(file, src, Some(span), message);
            warnings.push(format!("{}: {}", at.position(), at.message));
        };
        for (section_name, raws) in raw {
            let Some(section) = Section::from_name(&section_name) else {
                let span = raws.first().map_or(0..0, |r| r.on.span());
                let names: Vec<_> = std::iter::once("global")
                    .chain(Pane::ALL.iter().map(|p| p.name()))
                    .collect();
                warn(
                    &mut warnings,
                    span,
                    format!(
                        "unknown section `{section_name}`: expected one of {}",
                        names.join(", ")
                    ),
                );
                continue;
            };
            for r in raws {
                let chord = match r.on.get_ref().parse::<Chord>() {
                    Ok(c) => c,
                    Err(e) => {
                        warn(&mut warnings, r.on.span(), e.0);
                        continue;
                    }
                };
                let command = match r.run.get_ref().parse::<Command>() {
                    Ok(c) => c,
                    Err(e) => {
                        warn(&mut warnings, r.run.span(), e.0);
                        continue;
                    }
                };
                let bindings = self.sections.entry(section).or_default();
                bindings.retain(|b| b.chord != chord);
                if command != Command::Nothing {
                    let desc = r.desc.unwrap_or_else(|| default_desc(&command));
                    bindings.push(Binding {
                        chord,
                        command,
                        desc,
                    });
                }
            }
        }
        warnings.extend(self.shadowed_prefixes());
        warnings
    }

    /// A pane from which the operator could not quit: neither `quit` nor
    /// the command line (`:quit`) is bound there.
    pub fn trapped_in(&self) -> Option<Pane> {
        Pane::ALL.iter().copied().find(|&pane| {
            self.chord_for(pane, &Command::Quit).is_none()
                && self.chord_for(pane, &Command::CommandLine).is_none()
        })
    }

    /// Bindings that can never fire because they are a prefix of a longer
    /// chord in the same section.
    fn shadowed_prefixes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (section, bindings) in &self.sections {
            for b in bindings {
                if let Some(longer) = bindings.iter().find(|o| {
                    o.chord.0.len() > b.chord.0.len() && o.chord.0.starts_with(&b.chord.0)
                }) {
                    out.push(format!(
                        "keymap section `{}`: `{}` never runs `{}` because `{}` starts with it",
                        section.name(),
                        b.chord,
                        b.command,
                        longer.chord
                    ));
                }
            }
        }
        out
    }

    /// The bindings in force in `pane`: the pane's, then global ones whose
    /// keys the pane does not bind.
    pub fn in_pane(&self, pane: Pane) -> impl Iterator<Item = &Binding> {
        let own = self
            .sections
            .get(&Section::Pane(pane))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let global = self
            .sections
            .get(&Section::Global)
            .map(Vec::as_slice)
            .unwrap_or_default();
        own.iter().chain(
            global
                .iter()
                .filter(move |g| !own.iter().any(|o| o.chord == g.chord)),
        )
    }

    /// What `keys` (pressed so far) mean in `pane`.
    pub fn lookup(&self, pane: Pane, keys: &[Key]) -> Lookup<'_> {
        let mut found = None;
        for b in self.in_pane(pane) {
            if b.chord.0.len() > keys.len() && b.chord.0.starts_with(keys) {
                return Lookup::Pending;
            }
            if found.is_none() && b.chord.0 == keys {
                found = Some(b);
            }
        }
        found.map_or(Lookup::Unbound, Lookup::Found)
    }

    /// The first keys bound to `command` in `pane`, for hints.
    pub fn chord_for(&self, pane: Pane, command: &Command) -> Option<&Chord> {
        self.in_pane(pane)
            .find(|b| &b.command == command)
            .map(|b| &b.chord)
    }

    /// Every section with its bindings, global first, for help.
    pub fn sections(&self) -> impl Iterator<Item = (Section, &[Binding])> {
        self.sections.iter().map(|(s, b)| (*s, b.as_slice()))
    }
}

fn default_desc(command: &Command) -> String {
    match command {
        Command::Focus(p) => format!("Focus the {p} pane"),
        Command::Theme(name) => format!("Switch to the {name} theme"),
        other => crate::model::command::COMMANDS
            .iter()
            .find(|c| c.name == other.name())
            .map_or_else(String::new, |c| c.doc.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_keymaps_load_without_warnings() {
        assert_eq!(
            Keymap::built_in_names().collect::<Vec<_>>(),
            BUILT_IN_NAMES,
            "completion offers every built-in"
        );
        for name in Keymap::built_in_names() {
            let (keymap, warnings) = Keymap::built_in(name).expect(name);
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert!(
                keymap.chord_for(Pane::Overview, &Command::Quit).is_some(),
                "{name} binds quit"
            );
            for &pane in Pane::ALL {
                assert!(
                    keymap.chord_for(pane, &Command::Focus(pane)).is_some(),
                    "{name} reaches {pane}"
                );
            }
        }
    }

    #[test]
    fn the_wall_keymap_loads_and_binds_no_action_and_no_command_line() {
        let (keymap, warnings) = Keymap::wall();
        assert!(warnings.is_empty(), "{warnings:?}");
        let bound: Vec<&Command> = keymap
            .sections()
            .flat_map(|(_, b)| b.iter().map(|b| &b.command))
            .collect();
        assert!(bound.contains(&&Command::WallPause), "{bound:?}");
        assert!(bound.contains(&&Command::Quit), "{bound:?}");
        for c in bound {
            assert!(!c.is_action(), "{c:?} is an action");
            assert!(
                !matches!(
                    c,
                    Command::CommandLine | Command::Filter | Command::Focus(_)
                ),
                "{c:?}"
            );
        }
    }

    #[test]
    fn chords_wait_then_fire_and_panes_shadow_global() {
        let mut k = Keymap::default();
        let w = k.merge(
            "k.toml",
            r#"
global = [
  { on = "g g", run = "top" },
  { on = "q", run = "quit" },
]
alerts = [ { on = "q", run = "help", desc = "alerts help" } ]
"#,
        );
        assert!(w.is_empty(), "{w:?}");
        let g = Key::char('g');
        assert_eq!(k.lookup(Pane::Overview, &[g]), Lookup::Pending);
        assert!(
            matches!(k.lookup(Pane::Overview, &[g, g]), Lookup::Found(b) if b.command == Command::Top)
        );
        assert!(
            matches!(k.lookup(Pane::Alerts, &[Key::char('q')]), Lookup::Found(b) if b.command == Command::Help)
        );
        assert!(
            matches!(k.lookup(Pane::Jobs, &[Key::char('q')]), Lookup::Found(b) if b.command == Command::Quit)
        );
        assert_eq!(k.lookup(Pane::Jobs, &[Key::char('x')]), Lookup::Unbound);
    }

    #[test]
    fn user_merge_replaces_removes_and_warns() {
        let (mut k, _) = Keymap::built_in("default").expect("default");
        let warnings = k.merge(
            "user.toml",
            "global = [\n  { on = \"q\", run = \"nothing\" },\n  { on = \"ctrl-banana\", run = \"quit\" },\n  { on = \"x\", run = \"explode\" },\n]\nnope = [ { on = \"a\", run = \"help\" } ]\n",
        );
        assert_eq!(k.lookup(Pane::Overview, &[Key::char('q')]), Lookup::Unbound);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].starts_with("user.toml:3:10: unknown key `ctrl-banana`"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].starts_with("user.toml:4:21: unknown command `explode`"),
            "{}",
            warnings[1]
        );
        assert!(
            warnings[2].starts_with("user.toml:6:17: unknown section `nope`"),
            "{}",
            warnings[2]
        );
    }
}

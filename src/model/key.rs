//! Keys as the keymap names them (`ctrl-c`, `shift-tab`, `g`, `?`), parsed
//! from keymap files and matched against terminal input. The terminal layer
//! converts its own key events into these, so nothing above it depends on the
//! terminal library.

use std::fmt;
use std::str::FromStr;

/// Modifier keys held with a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Modifiers {
    /// Control.
    pub ctrl: bool,
    /// Alt / Meta.
    pub alt: bool,
    /// Shift, kept only for keys that are not characters: a shifted
    /// character arrives as its upper-case or symbol form.
    pub shift: bool,
}

/// The key itself, without modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyCode {
    /// A printable character.
    Char(char),
    /// Enter / Return.
    Enter,
    /// Escape.
    Esc,
    /// Tab.
    Tab,
    /// Shift-Tab.
    BackTab,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Insert.
    Insert,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// A function key, F1 to F24.
    F(u8),
}

/// One key press: a key and its modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// The modifiers held.
    pub mods: Modifiers,
}

impl Key {
    /// A key with no modifiers.
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            mods: Modifiers {
                ctrl: false,
                alt: false,
                shift: false,
            },
        }
    }

    /// A character key with no modifiers.
    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    /// A character key held with Control.
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            mods: Modifiers {
                ctrl: true,
                alt: false,
                shift: false,
            },
        }
    }

    /// The same key in the one form used for matching: a character carries
    /// its case instead of a Shift flag, and Shift-Tab is `BackTab`.
    #[must_use]
    pub fn normalized(mut self) -> Key {
        match self.code {
            KeyCode::Char(c) => {
                if self.mods.shift && c.is_ascii_lowercase() {
                    self.code = KeyCode::Char(c.to_ascii_uppercase());
                }
                self.mods.shift = false;
            }
            KeyCode::Tab if self.mods.shift => {
                self.code = KeyCode::BackTab;
                self.mods.shift = false;
            }
            KeyCode::BackTab => self.mods.shift = false,
            _ => {}
        }
        self
    }
}

/// Why a key name could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParseError(pub String);

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyParseError {}

const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("space", KeyCode::Char(' ')),
];

impl FromStr for Key {
    type Err = KeyParseError;

    /// Reads `x`, `G`, `?`, `enter`, `ctrl-c`, `alt-shift-up`, `f5`, `space`.
    fn from_str(s: &str) -> Result<Key, KeyParseError> {
        let mut mods = Modifiers::default();
        let mut rest = s;
        // A lone "-" is the minus key, not an empty modifier list.
        while rest.len() > 1 {
            let Some((prefix, tail)) = rest.split_once('-') else {
                break;
            };
            match prefix {
                "ctrl" | "c" | "C" => mods.ctrl = true,
                "alt" | "a" | "A" | "meta" | "m" | "M" => mods.alt = true,
                "shift" | "s" | "S" => mods.shift = true,
                _ => break,
            }
            if tail.is_empty() {
                return Err(KeyParseError(format!("`{s}` has a modifier but no key")));
            }
            rest = tail;
        }
        let code = if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == rest) {
            *code
        } else if let Some(n) = rest.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            if !(1..=24).contains(&n) {
                return Err(KeyParseError(format!("`{s}`: function keys are f1 to f24")));
            }
            KeyCode::F(n)
        } else {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => KeyCode::Char(c),
                _ => {
                    return Err(KeyParseError(format!(
                        "unknown key `{s}`: expected one character or one of {}, f1..f24, \
                         with optional ctrl- / alt- / shift- prefixes",
                        NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        };
        Ok(Key { code, mods }.normalized())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.mods.alt {
            f.write_str("alt-")?;
        }
        if self.mods.shift {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => {
                let name = NAMED
                    .iter()
                    .find(|(_, c)| *c == code)
                    .map_or("?", |(n, _)| *n);
                f.write_str(name)
            }
        }
    }
}

/// A sequence of keys pressed one after another, such as `g g`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Chord(pub Vec<Key>);

impl FromStr for Chord {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<Chord, KeyParseError> {
        let keys = s
            .split_whitespace()
            .map(Key::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyParseError(
                "empty key: expected a key such as `q` or `g g`".into(),
            ));
        }
        Ok(Chord(keys))
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_keys() {
        for name in [
            "q", "G", "?", "enter", "ctrl-c", "alt-up", "f5", "space", "-", "backtab",
        ] {
            let key: Key = name.parse().expect(name);
            assert_eq!(key.to_string(), name);
        }
        assert_eq!("shift-tab".parse::<Key>(), Ok(Key::plain(KeyCode::BackTab)));
        assert_eq!("shift-g".parse::<Key>(), Ok(Key::char('G')));
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = "ctrl-banana".parse::<Key>().expect_err("not a key");
        assert!(err.0.starts_with("unknown key `ctrl-banana`"), "{err}");
        assert!("f30".parse::<Key>().is_err());
        assert!("ctrl-".parse::<Key>().is_err());
    }

    #[test]
    fn chords_split_on_spaces() {
        let chord: Chord = "g g".parse().expect("chord");
        assert_eq!(chord.0, vec![Key::char('g'), Key::char('g')]);
        assert!("".parse::<Chord>().is_err());
    }
}

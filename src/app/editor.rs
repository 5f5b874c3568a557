//! A one-line text editor for the command line, the filter line and typed
//! confirmations.

use crate::model::{Key, KeyCode};

/// One line of text and a cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEditor {
    text: String,
    /// Cursor position in characters.
    cursor: usize,
}

impl LineEditor {
    /// An editor holding `text`, cursor at the end.
    pub fn with_text(text: &str) -> LineEditor {
        LineEditor {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor position, in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text, cursor at the end.
    pub fn set(&mut self, text: &str) {
        *self = LineEditor::with_text(text);
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Applies an editing key. Returns whether it was one (and the text or
    /// cursor may have changed).
    pub fn edit(&mut self, key: Key) -> bool {
        let len = self.text.chars().count();
        match (key.code, key.mods.ctrl) {
            (KeyCode::Char('u'), true) => self.set(""),
            (KeyCode::Char('w'), true) => {
                let head: String = self.text.chars().take(self.cursor).collect();
                let trimmed = head.trim_end();
                let keep = trimmed.rfind(' ').map_or(0, |i| i + 1);
                let keep_chars = trimmed[..keep].chars().count();
                let tail: String = self.text.chars().skip(self.cursor).collect();
                self.text = format!("{}{tail}", &trimmed[..keep]);
                self.cursor = keep_chars;
            }
            (KeyCode::Char('a'), true) | (KeyCode::Home, _) => self.cursor = 0,
            (KeyCode::Char('e'), true) | (KeyCode::End, _) => self.cursor = len,
            (KeyCode::Char(c), false) => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            (KeyCode::Backspace, _) if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
            }
            (KeyCode::Delete, _) if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            (KeyCode::Left, _) => self.cursor = self.cursor.saturating_sub(1),
            (KeyCode::Right, _) => self.cursor = (self.cursor + 1).min(len),
            (KeyCode::Backspace | KeyCode::Delete, _) => {}
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> LineEditor {
        let mut e = LineEditor::default();
        for c in s.chars() {
            e.edit(Key::char(c));
        }
        e
    }

    #[test]
    fn edits_in_characters() {
        let mut e = typed("東京 ok");
        e.edit(Key::plain(KeyCode::Left));
        e.edit(Key::plain(KeyCode::Left));
        e.edit(Key::plain(KeyCode::Backspace));
        assert_eq!(e.text(), "東京ok");
        e.edit(Key::ctrl('w'));
        assert_eq!(e.text(), "ok");
        assert_eq!(e.cursor(), 0);
        e.edit(Key::ctrl('e'));
        e.edit(Key::char('!'));
        assert_eq!(e.text(), "ok!");
    }
}

//! Input: where a key goes. The top overlay takes it first; otherwise it
//! extends the chord being typed and is looked up in the keymap for the
//! focused pane. Also keeps the overlay stack and the command-line history.

use crate::config::Keymap;
use crate::config::keymap::Lookup;
use crate::model::{Command, Key, Pane};

use super::overlay::{Outcome, Overlay};

/// What a key turned into.
pub enum Keyed {
    /// The top overlay took it.
    Overlay(Outcome),
    /// A binding matched.
    Command(Command),
    /// A chord is under way, or the key is unbound.
    Nothing,
}

/// Overlays, the chord typed so far and the command-line history.
#[derive(Debug, Default)]
pub struct Input {
    overlays: Vec<Overlay>,
    pending: Vec<Key>,
    history: Vec<String>,
}

impl Input {
    /// Routes one key.
    pub fn key(&mut self, keymap: &Keymap, focus: Pane, key: Key) -> Keyed {
        if let Some(top) = self.overlays.last_mut() {
            return Keyed::Overlay(top.on_key(key));
        }
        self.pending.push(key);
        let mut lookup = keymap.lookup(focus, &self.pending);
        if lookup == Lookup::Unbound && self.pending.len() > 1 {
            // A chord broken off: the last key may start something new.
            self.pending = vec![key];
            lookup = keymap.lookup(focus, &self.pending);
        }
        match lookup {
            Lookup::Found(binding) => {
                let command = binding.command.clone();
                self.pending.clear();
                Keyed::Command(command)
            }
            Lookup::Pending => Keyed::Nothing,
            Lookup::Unbound => {
                self.pending.clear();
                Keyed::Nothing
            }
        }
    }

    /// Opens an overlay, unless one of its kind is already on top.
    pub fn open(&mut self, overlay: Overlay) {
        let same = self
            .overlays
            .last()
            .is_some_and(|top| std::mem::discriminant(top) == std::mem::discriminant(&overlay));
        if !same {
            self.overlays.push(overlay);
        }
    }

    /// Puts an overlay on top, whatever is there.
    pub fn push(&mut self, overlay: Overlay) {
        self.overlays.push(overlay);
    }

    /// Puts an overlay just under the top one: shown when the top one
    /// closes.
    pub fn insert_below_top(&mut self, overlay: Overlay) {
        let at = self.overlays.len().saturating_sub(1);
        self.overlays.insert(at, overlay);
    }

    /// Closes the top overlay.
    pub fn close(&mut self) {
        self.overlays.pop();
    }

    /// Overlays, bottom first.
    pub fn overlays(&self) -> &[Overlay] {
        &self.overlays
    }

    /// Overlays, to update what they show.
    pub fn overlays_mut(&mut self) -> &mut [Overlay] {
        &mut self.overlays
    }

    /// Remembers a command line, newest last, each once.
    pub fn remember(&mut self, text: &str) {
        self.history.retain(|h| h != text);
        self.history.push(text.to_owned());
    }

    /// The command-line history, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Keys of a chord typed so far.
    pub fn pending(&self) -> &[Key] {
        &self.pending
    }
}

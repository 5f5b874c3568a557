//! Overlays: help, the command line, the filter line, the confirmation
//! dialog, the message list and an object's YAML. They stack in z-order; the top one takes
//! keys first and says what should happen with an [`Outcome`].

use crate::model::cluster::ObjectRef;
use crate::model::command::COMMANDS;
use crate::model::{Command, JobId, Key, KeyCode, Pane, SourceId};

use super::editor::LineEditor;

/// What an overlay asks of the app after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stay open.
    Keep,
    /// Close this overlay.
    Close,
    /// Close, and run a command line.
    Submit(String),
    /// Set the filter of a pane (live while typing); close if `close`.
    Filter {
        /// Which pane.
        pane: Pane,
        /// The filter text.
        text: String,
        /// Whether editing is over.
        close: bool,
    },
    /// Close, the operator having confirmed this.
    Confirmed(Confirmed),
    /// Close, the operator having declined this (Cancel, or Esc).
    Declined(Confirmed),
    /// Copy what the view shows.
    Copy,
    /// What a key of the log view asks.
    Logs(super::logs::LogAction),
}

/// What a confirmation dialog confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Quit although jobs are running.
    Quit,
    /// Plan what a refusal offered instead.
    Offer(Box<crate::model::action::ActionRequest>),
    /// Run a planned job.
    Job {
        /// Which job.
        id: JobId,
        /// As a server-side dry run: nothing changed.
        dry_run: bool,
    },
    /// Run a planned job, for this reason (typed by the operator).
    Reasoned {
        /// Which job.
        id: JobId,
        /// As a server-side dry run.
        dry_run: bool,
        /// Why, for the audit log and the target's Events.
        reason: String,
    },
}

/// An overlay.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// A log view.
    Logs(Box<super::logs::LogView>),
    /// Keys and commands.
    Help {
        /// First line shown.
        scroll: u16,
    },
    /// The `:` command line.
    CommandLine(CommandLine),
    /// The `/` filter line of a pane.
    Filter {
        /// The pane filtered.
        pane: Pane,
        /// The filter being typed.
        editor: LineEditor,
        /// The filter before editing, restored by Esc.
        previous: String,
    },
    /// A confirmation dialog.
    Confirm(ConfirmDialog),
    /// The reason for a confirmed job, asked before it runs.
    Reason {
        /// Which job.
        id: JobId,
        /// As a server-side dry run.
        dry_run: bool,
        /// The reason being typed.
        editor: LineEditor,
    },
    /// Warnings and messages.
    Messages {
        /// First line shown.
        scroll: u16,
    },
    /// An alert: every label and annotation, its generator URL and the
    /// silence that covers it.
    Alert {
        /// Which alert.
        fingerprint: String,
        /// First line shown.
        scroll: u16,
    },
    /// A source whole: its state and last error, where it reads from, every
    /// figure, the thresholds they are judged by and how long each rule has
    /// held.
    Source {
        /// Which source.
        id: SourceId,
        /// First line shown.
        scroll: u16,
    },
    /// A job whole: its steps so far and how it ended.
    Job {
        /// Which job.
        id: JobId,
        /// First line shown.
        scroll: u16,
    },
    /// An object, fetched whole, as YAML.
    Detail {
        /// Which object.
        object: ObjectRef,
        /// The YAML or why it could not be fetched; `None` while fetching.
        text: Option<Result<String, String>>,
        /// First line shown.
        scroll: u16,
    },
}

impl Overlay {
    /// Handles a key.
    pub fn on_key(&mut self, key: Key) -> Outcome {
        match self {
            Overlay::Logs(view) => view.on_key(key),
            Overlay::Detail { .. } | Overlay::Alert { .. }
                if matches!(key.code, KeyCode::Char('y' | 'Y')) =>
            {
                Outcome::Copy
            }
            Overlay::Help { scroll }
            | Overlay::Messages { scroll }
            | Overlay::Detail { scroll, .. }
            | Overlay::Source { scroll, .. }
            | Overlay::Job { scroll, .. }
            | Overlay::Alert { scroll, .. } => scroll_keys(scroll, key),
            Overlay::CommandLine(line) => line.on_key(key),
            Overlay::Reason {
                id,
                dry_run,
                editor,
            } => match key.code {
                KeyCode::Esc => Outcome::Declined(Confirmed::Job {
                    id: *id,
                    dry_run: *dry_run,
                }),
                KeyCode::Enter if editor.text().trim().is_empty() => Outcome::Keep,
                KeyCode::Enter => Outcome::Confirmed(Confirmed::Reasoned {
                    id: *id,
                    dry_run: *dry_run,
                    reason: editor.text().trim().to_owned(),
                }),
                _ => {
                    editor.edit(key);
                    Outcome::Keep
                }
            },
            Overlay::Filter {
                pane,
                editor,
                previous,
            } => match key.code {
                KeyCode::Esc => Outcome::Filter {
                    pane: *pane,
                    text: previous.clone(),
                    close: true,
                },
                KeyCode::Enter => Outcome::Filter {
                    pane: *pane,
                    text: editor.text().to_owned(),
                    close: true,
                },
                _ if editor.edit(key) => Outcome::Filter {
                    pane: *pane,
                    text: editor.text().to_owned(),
                    close: false,
                },
                _ => Outcome::Keep,
            },
            Overlay::Confirm(dialog) => dialog.on_key(key),
        }
    }
}

fn scroll_keys(scroll: &mut u16, key: Key) -> Outcome {
    match key.code {
        KeyCode::Esc | KeyCode::Char('q' | '?' | '!') | KeyCode::Enter => return Outcome::Close,
        KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
        KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
        KeyCode::Home | KeyCode::Char('g') => *scroll = 0,
        _ => {}
    }
    Outcome::Keep
}

/// The `:` command line, with completion and history.
#[derive(Debug, Clone)]
pub struct CommandLine {
    /// The text typed.
    pub editor: LineEditor,
    /// Candidates offered by Tab, and which one is shown.
    pub completion: Option<(Vec<String>, usize)>,
    themes: Vec<String>,
    history: Vec<String>,
    history_pos: Option<usize>,
}

impl CommandLine {
    /// A command line that completes these theme names and recalls this history.
    pub fn new(themes: Vec<String>, history: Vec<String>) -> CommandLine {
        CommandLine {
            editor: LineEditor::default(),
            completion: None,
            themes,
            history,
            history_pos: None,
        }
    }

    /// The same command line with `text` typed already.
    #[must_use]
    pub fn with_text(mut self, text: &str) -> CommandLine {
        self.editor = LineEditor::with_text(text);
        self
    }

    fn on_key(&mut self, key: Key) -> Outcome {
        match key.code {
            KeyCode::Esc => return Outcome::Close,
            KeyCode::Enter => {
                let text = self.editor.text().trim().to_owned();
                return if text.is_empty() {
                    Outcome::Close
                } else {
                    Outcome::Submit(text)
                };
            }
            KeyCode::Tab => {
                self.complete(true);
                return Outcome::Keep;
            }
            KeyCode::BackTab => {
                self.complete(false);
                return Outcome::Keep;
            }
            KeyCode::Up | KeyCode::Down => {
                self.recall(key.code == KeyCode::Up);
                return Outcome::Keep;
            }
            _ => {}
        }
        if self.editor.edit(key) {
            self.completion = None;
        }
        Outcome::Keep
    }

    /// The candidates for the word being typed.
    fn candidates(&self, text: &str) -> (String, Vec<String>) {
        match text.split_once(' ') {
            Some(("theme", arg)) => {
                let list = self
                    .themes
                    .iter()
                    .filter(|t| t.starts_with(arg.trim_start()))
                    .cloned()
                    .collect();
                ("theme ".to_owned(), list)
            }
            Some(_) => (String::new(), Vec::new()),
            None => {
                let list = Command::completions()
                    .filter(|c| c.starts_with(text))
                    .map(str::to_owned)
                    .collect();
                (String::new(), list)
            }
        }
    }

    fn complete(&mut self, forward: bool) {
        let (prefix, fresh) = self.candidates(self.editor.text());
        let (list, index) = self.completion.get_or_insert((fresh, usize::MAX));
        if list.is_empty() {
            return;
        }
        *index = match (*index, forward) {
            (usize::MAX, _) => 0,
            (i, true) => (i + 1) % list.len(),
            (i, false) => (i + list.len() - 1) % list.len(),
        };
        let choice = list[*index].clone();
        if list.len() == 1 {
            // The only candidate: accept it, and step into its argument.
            let takes_arg =
                prefix.is_empty() && COMMANDS.iter().any(|c| c.name == choice && c.arg.is_some());
            self.editor.set(&format!(
                "{prefix}{choice}{}",
                if takes_arg { " " } else { "" }
            ));
            self.completion = None;
        } else {
            self.editor.set(&format!("{prefix}{choice}"));
        }
    }

    fn recall(&mut self, older: bool) {
        if self.history.is_empty() {
            return;
        }
        let last = self.history.len() - 1;
        let pos = match (self.history_pos, older) {
            (None, true) => Some(last),
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p < last => Some(p + 1),
            (_, false) => None,
        };
        self.history_pos = pos;
        let text = pos
            .and_then(|p| self.history.get(p))
            .cloned()
            .unwrap_or_default();
        self.editor.set(&text);
        self.completion = None;
    }
}

/// Which button of a confirmation dialog has focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmFocus {
    /// Cancel: where every dialog starts.
    Cancel,
    /// Dry run, where offered: every write checked by the server, nothing
    /// changed.
    DryRun,
    /// Confirm.
    Confirm,
}

/// A confirmation dialog: it names the target, starts on Cancel, and for an
/// irreversible action needs the target's name typed before Confirm works.
#[derive(Debug, Clone)]
pub struct ConfirmDialog {
    /// What will be done ("Quit touban").
    pub title: String,
    /// The target, field by field: cluster, region, namespace, object.
    pub target: Vec<(String, String)>,
    /// What will be done, a line each (a plan's steps).
    pub details: Vec<String>,
    /// What happens, in a sentence.
    pub consequence: String,
    /// For irreversible actions: the text the operator must type.
    pub typed: Option<String>,
    /// What has been typed.
    pub input: LineEditor,
    /// The focused button.
    pub focus: ConfirmFocus,
    /// What confirming does.
    pub on_confirm: Confirmed,
    /// Whether a Dry run button is offered.
    pub dry_run: bool,
    /// Scrolled details (a manifest set's diff): the first line shown,
    /// `None` for a dialog whose details give way when too tall.
    pub scroll: Option<usize>,
    /// The last first line that still fills the window, as last drawn:
    /// what scrolling stops at.
    pub scroll_end: std::cell::Cell<usize>,
}

impl ConfirmDialog {
    /// A dialog focused on Cancel.
    pub fn new(
        title: &str,
        target: Vec<(String, String)>,
        consequence: &str,
        on_confirm: Confirmed,
    ) -> ConfirmDialog {
        ConfirmDialog {
            title: title.to_owned(),
            target,
            details: Vec::new(),
            consequence: consequence.to_owned(),
            typed: None,
            input: LineEditor::default(),
            focus: ConfirmFocus::Cancel,
            on_confirm,
            dry_run: false,
            scroll: None,
            scroll_end: std::cell::Cell::new(usize::MAX),
        }
    }

    /// The same dialog, its details scrolled (PgUp / PgDn, ↑ ↓) when
    /// taller than the terminal, never dropped.
    #[must_use]
    pub fn scrolled(mut self) -> ConfirmDialog {
        self.scroll = Some(0);
        self
    }

    /// The same dialog, listing these lines before its consequence.
    #[must_use]
    pub fn details(mut self, lines: Vec<String>) -> ConfirmDialog {
        self.details = lines;
        self
    }

    /// The same dialog, offering a dry run of what it confirms.
    #[must_use]
    pub fn with_dry_run(mut self) -> ConfirmDialog {
        self.dry_run = true;
        self
    }

    /// The buttons, left to right.
    pub fn buttons(&self) -> &'static [ConfirmFocus] {
        if self.dry_run {
            &[
                ConfirmFocus::Cancel,
                ConfirmFocus::DryRun,
                ConfirmFocus::Confirm,
            ]
        } else {
            &[ConfirmFocus::Cancel, ConfirmFocus::Confirm]
        }
    }

    /// The same dialog, needing `text` typed to confirm.
    #[must_use]
    pub fn typed(mut self, text: &str) -> ConfirmDialog {
        self.typed = Some(text.to_owned());
        self
    }

    /// Whether Confirm would act now.
    pub fn can_confirm(&self) -> bool {
        self.typed.as_deref().is_none_or(|t| self.input.text() == t)
    }

    fn on_key(&mut self, key: Key) -> Outcome {
        if let Some(at) = self.scroll.as_mut() {
            let last = self
                .details
                .len()
                .saturating_sub(1)
                .min(self.scroll_end.get());
            *at = (*at).min(last);
            let moved = match key.code {
                KeyCode::PageDown => Some((*at + 10).min(last)),
                KeyCode::PageUp => Some(at.saturating_sub(10)),
                KeyCode::Down => Some((*at + 1).min(last)),
                KeyCode::Up => Some(at.saturating_sub(1)),
                _ => None,
            };
            if let Some(m) = moved {
                *at = m;
                return Outcome::Keep;
            }
        }
        match key.code {
            KeyCode::Esc => return Outcome::Declined(self.on_confirm.clone()),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                let buttons = self.buttons();
                let at = buttons.iter().position(|b| *b == self.focus).unwrap_or(0);
                let forward = matches!(key.code, KeyCode::Tab | KeyCode::Right);
                let next = if forward {
                    (at + 1) % buttons.len()
                } else {
                    (at + buttons.len() - 1) % buttons.len()
                };
                self.focus = buttons.get(next).copied().unwrap_or(ConfirmFocus::Cancel);
            }
            KeyCode::Enter => {
                return match self.focus {
                    ConfirmFocus::Cancel => Outcome::Declined(self.on_confirm.clone()),
                    ConfirmFocus::DryRun => Outcome::Confirmed(match &self.on_confirm {
                        Confirmed::Job { id, .. } => Confirmed::Job {
                            id: *id,
                            dry_run: true,
                        },
                        other @ (Confirmed::Quit
                        | Confirmed::Offer(_)
                        | Confirmed::Reasoned { .. }) => other.clone(),
                    }),
                    ConfirmFocus::Confirm if self.can_confirm() => {
                        Outcome::Confirmed(self.on_confirm.clone())
                    }
                    ConfirmFocus::Confirm => Outcome::Keep,
                };
            }
            _ if self.typed.is_some() => {
                self.input.edit(key);
            }
            _ => {}
        }
        Outcome::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(o: &mut Overlay, keys: &[Key]) -> Outcome {
        let mut last = Outcome::Keep;
        for k in keys {
            last = o.on_key(*k);
        }
        last
    }

    const TAB: Key = Key::plain(KeyCode::Tab);
    const ENTER: Key = Key::plain(KeyCode::Enter);

    #[test]
    fn confirm_starts_on_cancel_and_needs_the_typed_name() {
        let dialog = ConfirmDialog::new(
            "Fail over",
            vec![("region".into(), "Tokyo".into())],
            "irreversible",
            Confirmed::Quit,
        )
        .typed("tokyo");
        let mut o = Overlay::Confirm(dialog);
        assert_eq!(
            press(&mut o, &[ENTER]),
            Outcome::Declined(Confirmed::Quit),
            "Enter on the initial focus cancels"
        );
        let Overlay::Confirm(d) = &mut o else {
            unreachable!()
        };
        d.focus = ConfirmFocus::Cancel;
        assert_eq!(
            press(&mut o, &[TAB, ENTER]),
            Outcome::Keep,
            "nothing typed: confirm refused"
        );
        let typed: Vec<Key> = "tokyo".chars().map(Key::char).collect();
        press(&mut o, &typed);
        assert_eq!(press(&mut o, &[ENTER]), Outcome::Confirmed(Confirmed::Quit));
    }

    #[test]
    fn command_line_completes_commands_and_theme_names() {
        let mut o = Overlay::CommandLine(CommandLine::new(
            vec!["default".into(), "light".into()],
            vec![],
        ));
        press(&mut o, &[Key::char('o'), Key::char('v'), TAB]);
        let Overlay::CommandLine(line) = &o else {
            unreachable!()
        };
        assert_eq!(line.editor.text(), "overview");
        let mut o = Overlay::CommandLine(CommandLine::new(
            vec!["default".into(), "light".into()],
            vec![],
        ));
        let keys: Vec<Key> = "theme l".chars().map(Key::char).collect();
        press(&mut o, &keys);
        assert_eq!(
            press(&mut o, &[TAB, ENTER]),
            Outcome::Submit("theme light".into())
        );
    }

    #[test]
    fn command_line_recalls_history() {
        let mut o = Overlay::CommandLine(CommandLine::new(
            vec![],
            vec!["alerts".into(), "theme mono".into()],
        ));
        let up = Key::plain(KeyCode::Up);
        assert_eq!(
            press(&mut o, &[up, up, ENTER]),
            Outcome::Submit("alerts".into())
        );
    }

    #[test]
    fn filter_escape_restores_the_previous_filter() {
        let mut o = Overlay::Filter {
            pane: Pane::Alerts,
            editor: LineEditor::with_text("team=ai"),
            previous: "team=ai".into(),
        };
        assert!(
            matches!(press(&mut o, &[Key::char('x')]), Outcome::Filter { ref text, close: false, .. } if text == "team=aix")
        );
        assert!(
            matches!(press(&mut o, &[Key::plain(KeyCode::Esc)]), Outcome::Filter { ref text, close: true, .. } if text == "team=ai")
        );
    }
}

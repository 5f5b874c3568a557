//! The footer: key hints for the focused pane, built from the live keymap,
//! and the latest message or a chord being typed.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{Styles, fit};
use crate::app::{App, Level};
use crate::model::{Command, Key};
use unicode_width::UnicodeWidthStr as _;

/// Draws the footer.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let right = right_side(app, st);
    let right_w = u16::try_from(right.width()).unwrap_or(0).min(area.width);
    let room = usize::from(area.width.saturating_sub(right_w));
    let mut hints = hints(app);
    // Too many to fit: the last ones go first, `help` last of all, so the
    // way to every binding stays on screen.
    let width = |hs: &[(String, Cow<'static, str>, bool)]| {
        1 + hs
            .iter()
            .map(|(k, h, _)| k.width() + h.width() + 3)
            .sum::<usize>()
    };
    while width(&hints) > room {
        let Some(at) = hints.iter().rposition(|(_, _, help)| !help) else {
            break;
        };
        hints.remove(at);
    }
    let mut spans = vec![Span::raw(" ")];
    for (key, hint, _) in hints {
        spans.push(Span::styled(key, st.key));
        spans.push(Span::styled(format!(" {hint}  "), st.muted));
    }
    fit(spans, area.width.saturating_sub(right_w)).render(area, buf);
    right.render(
        Rect {
            x: area.right().saturating_sub(right_w),
            width: right_w,
            ..area
        },
        buf,
    );
}

/// The hints: the focused pane's own bindings first, then the global
/// essentials, each with the keys the keymap binds to it now (and whether
/// it is `help`).
fn hints(app: &App) -> Vec<(String, Cow<'static, str>, bool)> {
    let pane = app.focus();
    let mut commands: Vec<Command> = Vec::new();
    // A command bound to several keys is hinted once, with its first key.
    for c in app
        .keymap()
        .sections()
        .filter(|(s, _)| *s == crate::config::keymap::Section::Pane(pane))
        .flat_map(|(_, b)| b.iter().map(|b| b.command.clone()))
    {
        if !commands.contains(&c) {
            commands.push(c);
        }
    }
    let essentials = [
        Command::Help,
        Command::CommandLine,
        Command::Filter,
        Command::NextPane,
        Command::Quit,
    ];
    for c in essentials {
        if (c != Command::Filter || pane.has_table()) && !commands.contains(&c) {
            commands.push(c);
        }
    }
    if !app.messages().is_empty() {
        commands.push(Command::Messages);
    }
    commands
        .into_iter()
        .filter_map(|c| {
            app.key_hint(&c)
                .map(|k| (k, hint(app.language(), &c), c == Command::Help))
        })
        .collect()
}

/// A command's footer hint in `lang`: a pane's title for a pane.
pub fn hint(lang: crate::i18n::Language, command: &Command) -> Cow<'static, str> {
    if lang == crate::i18n::Language::En {
        return Cow::Borrowed(command.hint());
    }
    if let Command::Focus(pane) = command {
        return super::text::pane_title(*pane, lang);
    }
    let id = format!("hint-{}", command.name());
    if crate::i18n::has(crate::i18n::Language::En, &id) {
        crate::i18n::t(lang, &id)
    } else {
        Cow::Borrowed(command.hint())
    }
}

fn right_side<'a>(app: &'a App, st: &Styles) -> Line<'a> {
    if !app.pending_keys().is_empty() {
        let typed: Vec<String> = app.pending_keys().iter().map(Key::to_string).collect();
        return Line::from(vec![Span::styled(
            format!("{} … ", typed.join(" ")),
            st.key,
        )]);
    }
    match app.status() {
        Some(m) => {
            let style = match m.level {
                Level::Info => st.text,
                Level::Warn => st.warn,
                Level::Error => st.crit,
            };
            Line::from(vec![Span::styled(format!(" {} ", m.text), style)])
        }
        None => Line::default(),
    }
}

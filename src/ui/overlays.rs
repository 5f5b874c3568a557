//! Overlays drawn over the panes, bottom first: help, messages, the
//! confirmation dialog, and the command and filter lines over the footer.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Widget, Wrap};

mod logs;
mod source;

use super::{Styles, centered, fit, text};
use crate::app::editor::LineEditor;
use crate::app::overlay::{CommandLine, ConfirmDialog, ConfirmFocus, Overlay};
use crate::app::{App, Level};
use crate::config::keymap::Section;
use crate::model::Pane;
use crate::model::command::COMMANDS;
use crate::ui::text::tr;
use crate::ui::text::word as tr_word;

/// Draws every overlay over `body` (dialogs) or `foot` (input lines).
pub fn draw(app: &App, st: &Styles, body: Rect, foot: Rect, frame: &mut Frame) {
    for overlay in app.overlays() {
        match overlay {
            Overlay::Logs(view) => logs::draw(st, body, frame, view),
            Overlay::Help { scroll } => scrolled(
                st,
                body,
                frame,
                &format!(" {} ", tr("help-title")),
                help_lines(app, st),
                *scroll,
            ),
            Overlay::Messages { scroll } => scrolled(
                st,
                body,
                frame,
                &tr_word(" Messages "),
                message_lines(app, st),
                *scroll,
            ),
            Overlay::Detail {
                object,
                text,
                scroll,
            } => scrolled(
                st,
                body,
                frame,
                &format!(" {object} "),
                related_lines(app, st, object)
                    .into_iter()
                    .chain(detail_lines(st, text.as_ref()))
                    .collect(),
                *scroll,
            ),
            Overlay::Source { id, scroll } => scrolled(
                st,
                body,
                frame,
                &source::title(app, id),
                source::lines(app, st, id),
                *scroll,
            ),
            Overlay::Job { id, scroll } => scrolled(
                st,
                body,
                frame,
                &source::job_title(*id),
                source::job_lines(app, st, *id),
                *scroll,
            ),
            Overlay::Alert {
                fingerprint,
                scroll,
            } => scrolled(
                st,
                body,
                frame,
                &tr_word(" Alert "),
                alert_lines(app, st, fingerprint),
                *scroll,
            ),
            Overlay::Confirm(dialog) => confirm(st, body, frame, dialog),
            Overlay::CommandLine(line) => command_line(app, st, body, foot, frame, line),
            Overlay::Filter { editor, pane, .. } => {
                input_line(st, foot, frame, &format!("/{} ", pane.name()), editor);
            }
            Overlay::Reason {
                id,
                dry_run,
                editor,
            } => reason(app, st, body, frame, *id, *dry_run, editor),
        }
    }
}

fn popup<'a>(st: &Styles, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(st.border_focus)
        .style(st.overlay)
        .title(Span::styled(title, st.title))
}

fn scrolled(
    st: &Styles,
    body: Rect,
    frame: &mut Frame,
    title: &str,
    lines: Vec<Line<'_>>,
    scroll: u16,
) {
    // Wide enough to read, narrow enough that the eye finds the next line.
    let area = centered(
        body,
        body.width.saturating_sub(4).clamp(40, 110),
        body.height.saturating_sub(2).max(8),
    );
    frame.render_widget(Clear, area);
    let block =
        popup(st, title).title_bottom(Span::styled(tr_word(" ↑↓ scroll · esc close "), st.muted));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = paragraph.line_count(inner.width);
    let max = u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_sub(inner.height);
    paragraph
        .scroll((scroll.min(max), 0))
        .render(inner, frame.buffer_mut());
}

/// Help, from the live keymap (section by section) and the command docs.
fn help_lines<'a>(app: &App, st: &Styles) -> Vec<Line<'a>> {
    let lang = app.language();
    let mut lines = Vec::new();
    let mut sections: Vec<_> = app.keymap().sections().collect();
    sections.sort_by_key(|(s, _)| match s {
        Section::Global => 0,
        Section::Pane(p) => 1 + p.index(),
    });
    for (section, bindings) in sections {
        let title = match section {
            Section::Global => text::tr("help-everywhere").into_owned(),
            Section::Pane(p) => text::trf(
                "help-in-pane",
                [("pane", text::pane_title(p, lang).as_ref().into())],
            ),
        };
        lines.push(Line::from(Span::styled(title, st.accent)));
        for b in bindings {
            // The keymap's own words in English; the catalogue's help for
            // its command in another language.
            let id = format!("cmd-{}", b.command.name());
            let desc = if lang != crate::i18n::Language::En && crate::i18n::has(lang, &id) {
                text::tr(&id).into_owned()
            } else {
                b.desc.clone()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<12}", b.chord.to_string()), st.key),
                Span::styled(desc, st.text),
            ]));
        }
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(
        text::trf(
            "help-commands",
            [(
                "key",
                app.key_hint(&crate::model::Command::CommandLine)
                    .unwrap_or_else(|| ":".into())
                    .into(),
            )],
        ),
        st.accent,
    )));
    let commands: Vec<_> = COMMANDS
        .iter()
        .filter(|c| c.name != "nothing")
        .map(|c| {
            let name = match c.arg {
                Some(arg) => format!(":{} {arg}", c.name),
                None => format!(":{}", c.name),
            };
            let id = format!("cmd-{}", c.name);
            let doc = if lang == crate::i18n::Language::En || !crate::i18n::has(lang, &id) {
                c.doc.clone()
            } else {
                text::tr(&id).into_owned()
            };
            (name, doc)
        })
        .collect();
    // One column for every name, however long, and a space after it.
    let w = commands
        .iter()
        .map(|(n, _)| n.chars().count())
        .chain([":PANE".len()])
        .max()
        .unwrap_or(0)
        + 1;
    for (name, doc) in commands {
        lines.push(Line::from(vec![
            Span::styled(format!("  {name:<w$}"), st.key),
            Span::styled(doc, st.text),
        ]));
    }
    let panes: Vec<_> = Pane::ALL.iter().map(|p| format!(":{}", p.name())).collect();
    lines.push(Line::from(vec![
        Span::styled(format!("  {:<w$}", ":PANE"), st.key),
        Span::styled(
            text::trf("help-focus-pane", [("panes", panes.join(" ").into())]),
            st.text,
        ),
    ]));
    lines.push(Line::default());
    lines.extend(legend(st));
    lines
}

/// What the words for states mean: of a source (how current its data is)
/// and of a verdict (what the data says).
fn legend<'a>(st: &Styles) -> Vec<Line<'a>> {
    use crate::model::SourceState;
    use crate::model::verdict::Level;
    let at = std::time::SystemTime::UNIX_EPOCH;
    let sources = [
        (
            SourceState::Live { at },
            "answering now: what it shows is current",
        ),
        (
            SourceState::Stale {
                since: at,
                why: String::new(),
            },
            "answered before, not now: figures are the last known, with their age",
        ),
        (
            SourceState::Error {
                since: at,
                message: String::new(),
            },
            "never answered: nothing is known",
        ),
        (
            SourceState::Connecting { since: at },
            "first contact under way",
        ),
    ];
    let levels = [
        (Level::Ok, "within every threshold, nothing firing"),
        (
            Level::Starting,
            "pods within their start-up (readiness delay), never restarted",
        ),
        (
            Level::Pending,
            "over a threshold, not yet for long enough (hold_polls) to fail",
        ),
        (
            Level::Stale,
            "last known verdict of a source that is not live",
        ),
        (
            Level::Warn,
            "a warning threshold or alert: short of capacity, slower",
        ),
        (Level::Crit, "a critical threshold or alert: not serving"),
        (Level::Unknown, "not read yet: no verdict"),
    ];
    let mut lines = vec![Line::from(Span::styled(
        tr_word("States of a source (how current)"),
        st.accent,
    ))];
    for (state, what) in sources {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {}", crate::ui::text::pad(&tr_word(state.word()), 14)),
                st.state(&state),
            ),
            Span::styled(tr_word(what), st.text),
        ]));
    }
    lines.push(Line::from(Span::styled(
        tr_word("States of a verdict (what it says)"),
        st.accent,
    )));
    for (level, what) in levels {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {}", crate::ui::text::pad(&tr_word(level.word()), 14)),
                super::panes::level_style(st, level),
            ),
            Span::styled(tr_word(what), st.text),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("  {:<14}", "? or —"), st.unknown),
        Span::styled(
            tr_word("a count or figure its source cannot know now"),
            st.text,
        ),
    ]));
    lines
}

/// An alert whole: what, where, since when, every label and annotation,
/// where it came from, and the silences that cover it.
fn alert_lines<'a>(app: &App, st: &Styles, fingerprint: &str) -> Vec<Line<'a>> {
    let Some(a) = app.alert(fingerprint) else {
        return vec![Line::from(Span::styled(
            tr_word("this alert has resolved: its source no longer reports it"),
            st.muted,
        ))];
    };
    let field = |k: &str, v: String, style| {
        Line::from(vec![
            Span::styled(crate::ui::text::pad(k, 14), st.muted),
            Span::styled(v, style),
        ])
    };
    let mut lines = vec![
        field(&tr_word("alert"), a.name.clone(), st.title),
        field(
            &tr_word("state"),
            format!("{} ({})", tr_word(a.state().word()), a.severity),
            if a.rank() == 0 { st.crit } else { st.warn },
        ),
        field(
            &tr_word("where"),
            format!(
                "{} · {} ({})",
                app.platform().region_display(&a.region),
                a.source,
                a.origin.map_or("", crate::model::alert::Origin::word)
            ),
            st.text,
        ),
        field(
            &tr_word("since"),
            a.since
                .map_or_else(|| "unknown".to_owned(), |t| format!("{} ago", app.age(t))),
            st.text,
        ),
    ];
    if let Some(t) = a.fires_at {
        let left = t
            .duration_since(app.now())
            .map_or_else(|_| "now".to_owned(), crate::model::source::age_label);
        lines.push(field(&tr_word("fires in"), left, st.warn));
    }
    if let Some(u) = &a.generator_url {
        lines.push(field(
            &tr_word("source"),
            crate::config::secret::mask_url(u),
            st.accent,
        ));
    }
    if let Some((group, n)) = &a.group {
        lines.push(field(
            &tr_word("group"),
            format!("{group} ({n} alert(s))"),
            st.text,
        ));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(tr_word("labels"), st.accent)));
    for (k, v) in &a.labels {
        lines.push(field(&format!("  {k}"), v.clone(), st.text));
    }
    lines.push(Line::from(Span::styled(tr_word("annotations"), st.accent)));
    for (k, v) in &a.annotations {
        lines.push(field(&format!("  {k}"), v.clone(), st.text));
    }
    let covering: Vec<_> = app
        .silences()
        .filter(|s| a.silenced_by.contains(&s.id))
        .collect();
    if !a.silenced_by.is_empty() {
        lines.push(Line::from(Span::styled(tr_word("silenced by"), st.accent)));
    }
    for s in &covering {
        lines.push(field(
            &format!("  {}", s.id.chars().take(8).collect::<String>()),
            format!(
                "{} · by {} · \"{}\" · ends in {}",
                s.matchers.join(", "),
                s.created_by,
                s.comment,
                s.ends_at
                    .and_then(|t| t.duration_since(app.now()).ok())
                    .map_or_else(|| "?".to_owned(), crate::model::source::age_label)
            ),
            st.text,
        ));
    }
    if !a.inhibited_by.is_empty() {
        lines.push(field(
            &tr_word("inhibited by"),
            a.inhibited_by.join(", "),
            st.text,
        ));
    }
    lines
}

/// An object's YAML, keys set apart from values; or why it is missing.
/// The objects related to the detail view's object and its events, above
/// its YAML; nothing when the cluster source holds neither.
fn related_lines<'a>(
    app: &App,
    st: &Styles,
    object: &crate::model::cluster::ObjectRef,
) -> Vec<Line<'a>> {
    let r = app.related(object);
    let mut lines = Vec::new();
    if !r.objects.is_empty() {
        lines.push(Line::from(Span::styled(tr_word("RELATED"), st.title)));
        for o in &r.objects {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<18} ", o.how), st.muted),
                Span::styled(o.name.clone(), st.accent),
                Span::styled(format!("  {}", o.state), st.text),
            ]));
        }
        if r.more > 0 {
            lines.push(Line::from(Span::styled(
                format!("  … {} more", r.more),
                st.muted,
            )));
        }
    }
    lines.push(Line::from(Span::styled(
        if r.events.is_empty() {
            "EVENTS  none held for it"
        } else {
            "EVENTS"
        },
        st.title,
    )));
    for e in &r.events {
        let age = e.last.map(|t| app.age(t)).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!("  {age:>6} "), st.muted),
            Span::styled(
                format!("{:<8} ", if e.warning { "Warning" } else { "Normal" }),
                if e.warning { st.warn } else { st.muted },
            ),
            Span::styled(format!("{:<18} ", e.reason), st.text),
            Span::styled(format!("{} ", e.object), st.muted),
            Span::styled(
                if e.count > 1 {
                    format!("{} (×{})", e.message, e.count)
                } else {
                    e.message.clone()
                },
                st.text,
            ),
        ]));
    }
    lines.push(Line::from(Span::styled(tr_word("YAML"), st.title)));
    lines
}

fn detail_lines<'a>(st: &Styles, text: Option<&Result<String, String>>) -> Vec<Line<'a>> {
    match text {
        None => vec![Line::from(Span::styled(tr_word("fetching…"), st.muted))],
        Some(Err(e)) => vec![Line::from(Span::styled(e.clone(), st.crit))],
        Some(Ok(yaml)) => yaml
            .lines()
            .map(|l| {
                let body = l.trim_start_matches([' ', '-']);
                let indent = &l[..l.len() - body.len()];
                match body.split_once(':') {
                    Some((k, v)) if !k.contains(' ') || k.starts_with('"') => Line::from(vec![
                        Span::styled(indent.to_owned(), st.muted),
                        Span::styled(format!("{k}:"), st.accent),
                        Span::styled(v.to_owned(), st.text),
                    ]),
                    _ => Line::from(Span::styled(l.to_owned(), st.text)),
                }
            })
            .collect(),
    }
}

fn message_lines<'a>(app: &App, st: &Styles) -> Vec<Line<'a>> {
    if app.messages().is_empty() {
        return vec![Line::from(Span::styled(
            tr_word("no message in this session"),
            st.muted,
        ))];
    }
    app.messages()
        .iter()
        .map(|m| {
            let (word, style) = match m.level {
                Level::Info => ("info ", st.muted),
                Level::Warn => ("warn ", st.warn),
                Level::Error => ("error", st.crit),
            };
            Line::from(vec![
                Span::styled(format!("{word} "), style),
                Span::styled(m.text.clone(), st.text),
            ])
        })
        .collect()
}

fn confirm(st: &Styles, body: Rect, frame: &mut Frame, d: &ConfirmDialog) {
    let width = body.width.min(if d.details.is_empty() { 64 } else { 78 });
    if let Some(at) = d.scroll {
        return scrolled_confirm(st, body, frame, d, width, at);
    }
    let mut paragraph = Paragraph::new(confirm_lines(st, d, true)).wrap(Wrap { trim: false });
    // Too tall for the terminal (80×24): the steps give way, never the
    // target, the consequence or the buttons.
    if paragraph.line_count(width.saturating_sub(2)) + 2 > usize::from(body.height) {
        paragraph = Paragraph::new(confirm_lines(st, d, false)).wrap(Wrap { trim: false });
    }
    let rows = paragraph.line_count(width.saturating_sub(2));
    let area = centered(body, width, u16::try_from(rows + 2).unwrap_or(u16::MAX));
    frame.render_widget(Clear, area);
    let confirm = tr_word(" Confirm ");
    let block = popup(st, &confirm);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    paragraph.render(inner, frame.buffer_mut());
}

/// A detail line in its diff colour: added, removed, changed.
fn detail_line<'a>(st: &Styles, line: &str) -> Line<'a> {
    let t = line.trim_start();
    let style = if t.starts_with("+ ") {
        st.ok
    } else if t.starts_with("- ") {
        st.crit
    } else if t.starts_with("~ ") {
        st.warn
    } else {
        st.text
    };
    Line::from(Span::styled(line.to_owned(), style))
}

/// A dialog whose details scroll: as many of them as the terminal has
/// room for from `at`, a line saying which, the rest whole.
fn scrolled_confirm(
    st: &Styles,
    body: Rect,
    frame: &mut Frame,
    d: &ConfirmDialog,
    width: u16,
    at: usize,
) {
    let inner_w = width.saturating_sub(2);
    let bare = ConfirmDialog {
        details: Vec::new(),
        ..d.clone()
    };
    let fixed = Paragraph::new(confirm_lines(st, &bare, false))
        .wrap(Wrap { trim: false })
        .line_count(inner_w);
    // The details' window: what the terminal leaves, less the borders and
    // the line that says where the window is.
    let room = usize::from(body.height).saturating_sub(fixed + 3).max(1);
    let total = d.details.len();
    let rows_of = |l: &String| {
        Paragraph::new(l.as_str())
            .wrap(Wrap { trim: false })
            .line_count(inner_w)
            .max(1)
    };
    // The last start that still fills the window, then as many lines
    // from `at` as fit once wrapped.
    let mut last_start = total;
    let mut used = 0;
    while last_start > 0 {
        let r = d.details.get(last_start - 1).map_or(1, rows_of);
        if used + r > room {
            break;
        }
        used += r;
        last_start -= 1;
    }
    let at = at.min(last_start);
    d.scroll_end.set(last_start);
    let mut shown: Vec<&String> = Vec::new();
    let mut used = 0;
    for l in d.details.iter().skip(at) {
        let r = rows_of(l);
        if used + r > room && !shown.is_empty() {
            break;
        }
        used += r;
        shown.push(l);
    }
    let room = shown.len();
    let mut lines = confirm_lines(st, &bare, false);
    let insert = 2 + d.target.len();
    let mut window: Vec<Line<'_>> = shown.iter().map(|l| detail_line(st, l)).collect();
    if total > room {
        window.push(Line::from(Span::styled(
            format!(
                "lines {}–{} of {total} (PgUp PgDn ↑ ↓)",
                at + 1,
                (at + shown.len()).min(total)
            ),
            st.muted,
        )));
    }
    for (i, l) in window.into_iter().enumerate() {
        lines.insert((insert + i).min(lines.len()), l);
    }
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = paragraph.line_count(inner_w);
    let area = centered(body, width, u16::try_from(rows + 2).unwrap_or(u16::MAX));
    frame.render_widget(Clear, area);
    let confirm = tr_word(" Confirm ");
    let block = popup(st, &confirm);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    paragraph.render(inner, frame.buffer_mut());
}

fn confirm_lines<'a>(st: &Styles, d: &ConfirmDialog, details: bool) -> Vec<Line<'a>> {
    let mut lines = vec![
        Line::from(Span::styled(d.title.clone(), st.title)),
        Line::default(),
    ];
    for (k, v) in &d.target {
        lines.push(Line::from(vec![
            Span::styled(crate::ui::text::pad(k, 14), st.muted),
            Span::styled(v.clone(), st.text),
        ]));
    }
    if details {
        for line in &d.details {
            lines.push(detail_line(st, line));
        }
    } else if !d.details.is_empty() {
        lines.push(Line::from(Span::styled(
            tr_word("(the plan's steps need a taller terminal; the Jobs pane shows them: Enter on the job)"),
            st.muted,
        )));
    }
    lines.push(Line::from(Span::styled(d.consequence.clone(), st.warn)));
    if let Some(expected) = &d.typed {
        lines.push(Line::from(vec![
            Span::styled(spaced(&tr("confirm-type-before"), "", " "), st.muted),
            Span::styled(expected.clone(), st.key),
            Span::styled(spaced(&tr("confirm-type-after"), " ", " "), st.muted),
        ]));
        let ok = d.can_confirm();
        lines.push(Line::from(Span::styled(
            format!("> {}", d.input.text()),
            if ok { st.ok } else { st.text },
        )));
    }
    lines.push(Line::default());
    let button = |label: &str, focused: bool, style| {
        Span::styled(
            format!("[ {label} ]"),
            if focused { style } else { st.muted },
        )
    };
    let mut buttons = Vec::new();
    for b in d.buttons() {
        if !buttons.is_empty() {
            buttons.push(Span::raw("   "));
        }
        buttons.push(match b {
            ConfirmFocus::Cancel => button(&tr_word("Cancel"), d.focus == *b, st.selection),
            ConfirmFocus::DryRun => button(&tr_word("Dry run"), d.focus == *b, st.selection),
            ConfirmFocus::Confirm => button(&tr_word("Confirm"), d.focus == *b, st.danger),
        });
    }
    lines.push(Line::from(buttons));
    lines
}

fn reason(
    app: &App,
    st: &Styles,
    body: Rect,
    frame: &mut Frame,
    id: crate::model::JobId,
    dry_run: bool,
    editor: &crate::app::editor::LineEditor,
) {
    let title = app
        .jobs()
        .iter()
        .find(|j| j.id == id)
        .map_or_else(String::new, |j| j.title.clone());
    let what = if dry_run { "Dry run of job" } else { "Job" };
    let lines = vec![
        Line::from(Span::styled(format!("{what} #{}: {title}", id.0), st.title)),
        Line::default(),
        Line::from(Span::styled(
            tr_word("Why? It goes to the audit log and to the target's Events."),
            st.text,
        )),
        Line::from(vec![
            Span::styled("> ", st.key),
            Span::styled(editor.text().to_owned(), st.text),
        ]),
        Line::default(),
        Line::from(Span::styled(
            tr_word("Enter runs it · Esc drops it"),
            st.muted,
        )),
    ];
    let width = body.width.min(72);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = paragraph.line_count(width.saturating_sub(2));
    let area = centered(body, width, u16::try_from(rows + 2).unwrap_or(u16::MAX));
    frame.render_widget(Clear, area);
    let block = popup(st, " Reason ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    paragraph.render(inner, frame.buffer_mut());
}

fn command_line(
    app: &App,
    st: &Styles,
    body: Rect,
    foot: Rect,
    frame: &mut Frame,
    line: &CommandLine,
) {
    let prompt = app
        .key_hint(&crate::model::Command::CommandLine)
        .unwrap_or_else(|| ":".into());
    input_line(st, foot, frame, &prompt, &line.editor);
    let Some((candidates, index)) = &line.completion else {
        return;
    };
    if candidates.is_empty() {
        return;
    }
    let shown = candidates
        .len()
        .min(usize::from(body.height.saturating_sub(2)).max(1))
        .min(10);
    let start = index.saturating_sub(shown - 1);
    let width = candidates.iter().map(String::len).max().unwrap_or(0) + 4;
    let h = u16::try_from(shown).unwrap_or(10) + 2;
    let area = Rect {
        x: foot.x,
        y: foot.y.saturating_sub(h),
        width: u16::try_from(width).unwrap_or(20).min(foot.width),
        height: h,
    };
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(st.border)
        .style(st.overlay);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines: Vec<Line> = candidates
        .iter()
        .enumerate()
        .skip(start)
        .take(shown)
        .map(|(i, c)| {
            Line::from(Span::styled(
                format!(" {c} "),
                if i == *index { st.selection } else { st.text },
            ))
        })
        .collect();
    Paragraph::new(lines).render(inner, frame.buffer_mut());
}

fn input_line(st: &Styles, foot: Rect, frame: &mut Frame, prompt: &str, editor: &LineEditor) {
    frame.render_widget(Clear, foot);
    let line = fit(
        vec![
            Span::styled(prompt.to_owned(), st.key),
            Span::styled(editor.text().to_owned(), st.text),
        ],
        foot.width,
    );
    frame.render_widget(Paragraph::new(line).style(st.overlay), foot);
    let before: String = editor.text().chars().take(editor.cursor()).collect();
    let x = foot.x
        + u16::try_from(
            unicode_width::UnicodeWidthStr::width(prompt)
                + unicode_width::UnicodeWidthStr::width(before.as_str()),
        )
        .unwrap_or(0);
    frame.set_cursor_position((x.min(foot.right().saturating_sub(1)), foot.y));
}

/// `text` with `before` and `after` around it, or nothing when it is empty
/// (a language that needs no word there).
fn spaced(text: &str, before: &str, after: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("{before}{text}{after}")
    }
}

//! The log view over the whole body: the lines on screen only are built,
//! the pod prefix muted, matches of the search highlighted, the end
//! followed or held, long lines wrapped or cut.

use std::fmt::Write as _;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::popup;
use crate::app::logs::LogView;
use crate::model::logs::LogLine;
use crate::ui::text::word as tr_word;
use crate::ui::text::{tr, trf};
use crate::ui::{Styles, fit};

/// Draws the view over `body`.
pub fn draw(st: &Styles, body: Rect, frame: &mut Frame, view: &LogView) {
    frame.render_widget(Clear, body);
    let state = tr_word(if view.follow { "following" } else { "held" });
    let mut title = format!(
        " {} · {} · {state} · {}",
        tr_word("Logs"),
        view.object,
        trf("logs-lines", [("n", view.ring.len().into())])
    );
    if view.ring.dropped > 0 {
        let _ = write!(
            title,
            " ({})",
            trf("logs-dropped", [("n", view.ring.dropped.into())])
        );
    }
    let flags = view.params.describe();
    if !flags.is_empty() {
        let _ = write!(title, " · {flags}");
    }
    title.push(' ');
    let bottom = match &view.editing {
        Some(editor) => format!(" /{}_ ", editor.text()),
        None => format!(" {} ", tr("logs-keys")),
    };
    let block = popup(st, &title).title_bottom(Span::styled(bottom, st.muted));
    let inner = block.inner(body);
    frame.render_widget(block, body);
    let height = usize::from(inner.height);
    let width = usize::from(inner.width.max(1));
    let mut tail: Vec<Line<'_>> = Vec::new();
    for (pod, why) in &view.ended {
        tail.push(Line::from(Span::styled(
            match why {
                Some(w) => format!("— {pod}: {w}"),
                None => format!("— {pod}: the stream ended"),
            },
            if why.is_some() { st.crit } else { st.muted },
        )));
    }
    if view.ring.is_empty() && view.ended.is_empty() {
        tail.push(Line::from(Span::styled(
            tr_word("waiting for the first lines …"),
            st.muted,
        )));
    }
    let room = height.saturating_sub(tail.len());
    view.rows.set(room);
    let (first, last) = window(view, room, width);
    let mut lines: Vec<Line<'_>> = (first..last)
        .filter_map(|i| view.ring.get(i))
        .map(|l| line(st, l, view.search.as_deref()))
        .collect();
    lines.extend(tail);
    if view.wrap {
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .render(inner, frame.buffer_mut());
    } else {
        for (i, l) in lines.into_iter().enumerate() {
            let y = inner.y + u16::try_from(i).unwrap_or(u16::MAX);
            if y >= inner.bottom() {
                break;
            }
            fit(l.spans, inner.width).render(
                Rect {
                    y,
                    height: 1,
                    ..inner
                },
                frame.buffer_mut(),
            );
        }
    }
}

/// The lines shown, `first..last`, in `room` rows of `width` columns:
/// from the end back while following, else from the view's top.
fn window(view: &LogView, room: usize, width: usize) -> (usize, usize) {
    let rows = |l: &LogLine| {
        if view.wrap {
            // As the paragraph will wrap it (at words), not by a guess.
            let text = match &l.pod {
                Some(p) => format!("{p} │ {}", l.text),
                None => l.text.clone(),
            };
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .line_count(u16::try_from(width).unwrap_or(u16::MAX))
                .max(1)
        } else {
            1
        }
    };
    let n = view.ring.len();
    let mut used = 0;
    if view.follow {
        let mut first = n;
        while first > 0 {
            let r = view.ring.get(first - 1).map_or(1, rows);
            if used + r > room {
                break;
            }
            used += r;
            first -= 1;
        }
        (first, n)
    } else {
        let first = view.top.min(n);
        let mut last = first;
        while last < n {
            let r = view.ring.get(last).map_or(1, rows);
            if used + r > room {
                break;
            }
            used += r;
            last += 1;
        }
        (first, last)
    }
}

/// A line: its pod muted, matches of `search` (any case) highlighted.
fn line<'a>(st: &Styles, l: &LogLine, search: Option<&str>) -> Line<'a> {
    let mut spans = Vec::new();
    if let Some(p) = &l.pod {
        spans.push(Span::styled(format!("{p} │ "), st.muted));
    }
    let text = l.text.as_str();
    let Some(needle) = search.filter(|s| !s.is_empty()) else {
        spans.push(Span::styled(text.to_owned(), st.text));
        return Line::from(spans);
    };
    let lower = text.to_lowercase();
    let needle = needle.to_lowercase();
    // Lower-casing may change lengths outside ASCII: highlight only where
    // the byte offsets still line up.
    if lower.len() != text.len() {
        spans.push(Span::styled(text.to_owned(), st.text));
        return Line::from(spans);
    }
    let mut at = 0;
    while let Some(found) = lower[at..].find(&needle) {
        let start = at + found;
        let end = start + needle.len();
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            break;
        }
        spans.push(Span::styled(text[at..start].to_owned(), st.text));
        spans.push(Span::styled(
            text[start..end].to_owned(),
            st.selection.add_modifier(Modifier::BOLD),
        ));
        at = end;
    }
    spans.push(Span::styled(text[at..].to_owned(), st.text));
    Line::from(spans)
}

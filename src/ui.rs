//! Drawing. [`draw`] borrows the app's state and never changes it: a header
//! (environment, region clocks, mode badge, alert and source summaries), the
//! pane bar, the focused pane, the footer of key hints, then overlays in
//! z-order.

mod footer;
mod header;
mod overlays;
pub mod panes;
pub mod styles;
pub mod text;
mod wall;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::app::App;
pub use footer::hint as footer_hint;
pub use styles::Styles;

/// Draws the whole screen.
pub fn draw(app: &App, st: &Styles, frame: &mut Frame) {
    text::set_lang(app.language());
    if let Some(wall) = app.wall() {
        wall::draw(app, wall, st, frame);
        return;
    }
    let area = frame.area();
    frame.buffer_mut().set_style(area, st.text);
    let [head, bar, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(app, st, head, frame.buffer_mut());
    header::draw_pane_bar(app, st, bar, frame.buffer_mut());
    panes::draw(app, st, body, frame.buffer_mut());
    footer::draw(app, st, foot, frame.buffer_mut());
    overlays::draw(app, st, body, foot, frame);
}

/// A line of spans cut to `width` columns, an ellipsis marking the cut.
pub(crate) fn fit(spans: Vec<Span<'_>>, width: u16) -> Line<'_> {
    let width = usize::from(width);
    let mut used = 0;
    let mut out = Vec::with_capacity(spans.len());
    for span in spans {
        let w = span.content.width();
        if used + w <= width {
            used += w;
            out.push(span);
            continue;
        }
        let room = width.saturating_sub(used + 1);
        let mut cut = String::new();
        let mut cw = 0;
        for c in span.content.chars() {
            let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if cw + w > room {
                break;
            }
            cw += w;
            cut.push(c);
        }
        cut.push('…');
        out.push(Span::styled(cut, span.style));
        break;
    }
    Line::from(out)
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

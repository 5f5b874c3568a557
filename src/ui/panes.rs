//! The pane router and what panes share: the frame around a pane, region
//! columns side by side, and a line per source with its health and age.
//! Each pane is one file; adding one is that file plus a line in [`draw`].

mod ai;
mod alerts;
mod cluster;
mod data;
mod failover;
mod jobs;
mod overview;
mod rollouts;
mod scaling;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph, Row, Widget};
use unicode_width::UnicodeWidthStr;

use super::{Styles, text};
use crate::app::App;
use crate::config::platform::Region;
use crate::model::{Pane, SourceKind};

/// Draws the focused pane in `area`.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let pane = app.focus();
    let block = pane_block(app, st, pane);
    let inner = block.inner(area);
    block.render(area, buf);
    match pane {
        Pane::Overview => overview::draw(app, st, inner, buf),
        Pane::Cluster => cluster::draw(app, st, inner, buf),
        Pane::Data => data::draw(app, st, inner, buf),
        Pane::Ai => ai::draw(app, st, inner, buf),
        Pane::Rollouts => rollouts::draw(app, st, inner, buf),
        Pane::Failover => failover::draw(app, st, inner, buf),
        Pane::Scaling => scaling::draw(app, st, inner, buf),
        Pane::Alerts => alerts::draw(app, st, inner, buf),
        Pane::Jobs => jobs::draw(app, st, inner, buf),
    }
}

fn pane_block<'a>(app: &'a App, st: &Styles, pane: Pane) -> Block<'a> {
    let mut title = vec![Span::styled(
        format!(
            " {} ",
            text::pane_title(pane, app.platform().settings.language)
        ),
        st.title,
    )];
    if let Some(filter) = app.filter(pane) {
        title.push(Span::styled(format!(" /{filter} "), st.key));
    }
    // A title rule rather than a frame: region columns inside carry their
    // own frames, and at 80 columns every cell of width counts.
    Block::default()
        .borders(Borders::TOP)
        .border_style(st.border_focus)
        .title(Line::from(title))
}

/// One column per region, side by side, each framed and titled with the
/// region's name, role and location. Returns the inner areas.
fn region_columns<'a>(
    app: &'a App,
    st: &Styles,
    area: Rect,
    buf: &mut Buffer,
) -> Vec<(Rect, &'a Region)> {
    let regions = &app.platform().regions;
    let n = u32::try_from(regions.len().max(1)).unwrap_or(1);
    let columns = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(area);
    let mut out = Vec::new();
    for (region, col) in regions.iter().zip(columns.iter()) {
        let block = region_block(region, st);
        out.push((block.inner(*col), region));
        block.render(*col, buf);
    }
    out
}

fn region_block<'a>(region: &'a Region, st: &Styles) -> Block<'a> {
    let mut title = vec![
        Span::styled(format!(" {} ", region.display), st.accent),
        Span::styled(format!("· {} ", region.role.label()), st.muted),
    ];
    if let Some(loc) = &region.location {
        title.push(Span::styled(format!("· {loc} "), st.muted));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_style(st.border)
        .padding(Padding::horizontal(1))
        .title(Line::from(title))
}

/// A source's name, health word and age. The age has a fixed width, so
/// that as it grows ("9 s" to "10 s") nothing after it moves: idle, only
/// the label's own cells are written. The name is padded to `name_w`
/// (0: as long as it is) and cut with an ellipsis if longer.
fn source_line<'a>(
    app: &App,
    st: &Styles,
    region: &str,
    kind: SourceKind,
    name: &str,
    name_w: usize,
    selected: bool,
) -> Line<'a> {
    let state = app.source(region, kind, name);
    let shown = if name_w > 0 && name.width() > name_w {
        let mut cut: String = name.chars().take(name_w.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        name.to_owned()
    };
    let mut spans = vec![
        Span::styled(if selected { "▸ " } else { "  " }, st.accent),
        Span::styled(
            format!("{shown:<name_w$} "),
            if selected { st.selection } else { st.text },
        ),
        Span::styled(state.word().to_owned(), st.state(state)),
    ];
    if let Some(since) = state.since() {
        spans.push(Span::styled(
            format!(" {:>6} ago", app.age(since)),
            st.muted,
        ));
    }
    if let crate::model::SourceState::Error { message, .. } = state {
        spans.push(Span::styled(format!(" {message}"), st.crit));
    }
    Line::from(spans)
}

/// The name column's width in `area`: the longest name, but leaving room
/// for the marker and the longest state word.
fn name_width(longest: usize, area: Rect) -> usize {
    const STATE: usize = "not connected".len();
    longest
        .min(usize::from(area.width).saturating_sub(2 + 1 + STATE))
        .max(8)
}

/// The line shown where a list is empty: nothing configured, or nothing
/// passing the filter (never the one for the other).
fn empty_line<'a>(app: &App, st: &Styles, pane: Pane, what: &str) -> Line<'a> {
    let text = match app.filter(pane) {
        Some(f) => format!("  no {what} matches /{f}"),
        None => format!("  no {what} configured"),
    };
    Line::from(Span::styled(text, st.muted))
}

/// A section heading inside a pane.
fn heading<'a>(st: &Styles, text: &str) -> Line<'a> {
    Line::from(Span::styled(text.to_uppercase(), st.muted))
}

/// Lines of a pane, each cut at the pane's edge (rows never wrap, so a
/// long URL cannot push the rows below it out of line).
fn note(lines: Vec<Line<'_>>, area: Rect, buf: &mut Buffer) {
    Paragraph::new(lines).render(area, buf);
}

/// Column widths decided here rather than by the layout solver: a table
/// wider than its area leaves the solver a choice, and it does not always
/// make the same one. `Length(n)` wants n; `Min(n)` wants n and takes an
/// equal share of any room left; `Fill` takes a share of the room only.
/// Too narrow: growing columns give up half first, then the widest gives
/// a cell at a time.
fn columns(width: u16, constraints: &[Constraint]) -> Vec<Constraint> {
    let n = constraints.len();
    let gaps = u16::try_from(n.saturating_sub(1)).unwrap_or(u16::MAX);
    let avail = width.saturating_sub(gaps);
    let grows = |c: &Constraint| matches!(c, Constraint::Min(_) | Constraint::Fill(_));
    let mut w: Vec<u16> = constraints
        .iter()
        .map(|c| match c {
            Constraint::Length(v) | Constraint::Min(v) => *v,
            _ => 0,
        })
        .collect();
    let sum = |w: &[u16]| w.iter().map(|v| u32::from(*v)).sum::<u32>();
    let growing: Vec<usize> = (0..n).filter(|i| grows(&constraints[*i])).collect();
    if sum(&w) < u32::from(avail) && !growing.is_empty() {
        let extra = u32::from(avail) - sum(&w);
        let k = u32::try_from(growing.len()).unwrap_or(1);
        for (j, i) in growing.iter().enumerate() {
            let share = extra / k + u32::from(u32::try_from(j).unwrap_or(0) < extra % k);
            w[*i] = w[*i].saturating_add(u16::try_from(share).unwrap_or(u16::MAX));
        }
    }
    let floors: Vec<u16> = (0..n)
        .map(|i| {
            if grows(&constraints[i]) {
                w[i] / 2
            } else {
                w[i]
            }
        })
        .collect();
    for floor_of in [|f: u16| f, |_: u16| 1] {
        while sum(&w) > u32::from(avail) {
            let slack = (0..n)
                .map(|i| (w[i].saturating_sub(floor_of(floors[i])), i))
                .max_by_key(|(s, i)| (*s, std::cmp::Reverse(*i)));
            match slack {
                Some((s, i)) if s > 0 => w[i] -= 1,
                _ => break,
            }
        }
    }
    w.into_iter().map(Constraint::Length).collect()
}

/// A table row; when selected, every cell in the selection's style (a
/// cell's own colour on the selection's background can be unreadable).
fn table_row<'a>(cells: Vec<Span<'a>>, selected: bool, st: &Styles) -> Row<'a> {
    if selected {
        Row::new(
            cells
                .into_iter()
                .map(|c| Span::styled(c.content, st.selection))
                .collect::<Vec<_>>(),
        )
        .style(st.selection)
    } else {
        Row::new(cells)
    }
}

/// Whether `name` passes the pane's filter.
fn passes(app: &App, pane: Pane, name: &str) -> bool {
    app.filter_matches(pane, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_width_the_same_way_every_time() {
        let c = [
            Constraint::Length(18),
            Constraint::Min(22),
            Constraint::Length(7),
            Constraint::Min(20),
        ];
        let total = |v: &[Constraint]| {
            v.iter()
                .map(|c| match c {
                    Constraint::Length(n) => *n,
                    _ => 0,
                })
                .sum::<u16>()
        };
        // Room: growing columns share it.
        let wide = columns(100, &c);
        assert_eq!(wide, columns(100, &c));
        assert_eq!(total(&wide) + 3, 100);
        assert_eq!(wide[2], Constraint::Length(7));
        // Too narrow: growing columns give up first, fixed ones keep.
        let narrow = columns(60, &c);
        assert_eq!(total(&narrow) + 3, 60);
        assert_eq!(
            (narrow[0], narrow[2]),
            (Constraint::Length(18), Constraint::Length(7))
        );
        // Far too narrow: everything gives, nothing panics.
        assert_eq!(total(&columns(10, &c)), 7);
    }
}

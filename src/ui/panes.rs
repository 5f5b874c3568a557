//! The pane router and what panes share: the frame around a pane, region
//! columns side by side, and a line per source with its health and age.
//! Each pane is one file; adding one is that file plus a line in [`draw`].

pub(super) mod ai;
mod alerts;
mod cluster;
pub(super) mod data;
mod failover;
pub(crate) mod jobs;
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
use crate::model::cluster::Health;
use crate::model::verdict::{Known, Level, RegionVerdict, Verdict};
use crate::model::{Pane, SourceKind};
use crate::ui::text::word as tr_word;

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
        format!(" {} ", text::pane_title(pane, app.language())),
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
/// region's name, role and verdict (its worst state and why), the frame in
/// the verdict's colour: "which region, and why" at a glance. Returns the
/// inner areas.
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
        let verdict = app.region_verdict(region.name.get_ref());
        let (block, inside) = region_block(region, st, &verdict, col.width);
        let mut inner = block.inner(*col);
        block.render(*col, buf);
        // Reasons too long for the title: the column's first line.
        if let Some(line) = inside
            && inner.height > 1
        {
            note(vec![line], Rect { height: 1, ..inner }, buf);
            inner.y += 1;
            inner.height -= 1;
        }
        out.push((inner, region));
    }
    out
}

/// The style of a region's level.
pub(super) fn level_style(st: &Styles, level: Level) -> ratatui::style::Style {
    match level {
        Level::Unknown => st.unknown,
        Level::Ok => st.ok,
        Level::Starting => st.starting,
        Level::Pending | Level::Warn => st.warn,
        Level::Stale => st.stale,
        Level::Crit => st.crit,
    }
}

/// A region's frame: the title names it, its role and location, its level
/// and the top reasons; what the title cannot hold whole (narrow columns)
/// is returned as a line for the column's top.
fn region_block<'a>(
    region: &'a Region,
    st: &Styles,
    verdict: &RegionVerdict,
    width: u16,
) -> (Block<'a>, Option<Line<'a>>) {
    let style = level_style(st, verdict.level);
    let room = usize::from(width.saturating_sub(4));
    let head = format!(" {} ", region.display);
    let full_detail = match &region.location {
        Some(loc) => format!("· {} · {loc} ", tr_word(region.role.label())),
        None => format!("· {} ", tr_word(region.role.label())),
    };
    let role = format!("· {} ", tr_word(region.role.label()));
    let why: Vec<std::borrow::Cow<'_, str>> = verdict
        .reasons
        .iter()
        .take(2)
        .map(|r| text::phrase(r))
        .collect();
    let word = format!("· {} ", tr_word(verdict.level.word()));
    let with_reasons = |n: usize| {
        if why.is_empty() {
            word.clone()
        } else {
            format!(
                "· {}: {} ",
                tr_word(verdict.level.word()),
                why[..n].join(" · ")
            )
        }
    };
    // The widest title that fits: everything; without the location; one
    // reason; then the level alone, the reasons inside.
    let candidates = [
        (full_detail.clone(), with_reasons(why.len())),
        (role.clone(), with_reasons(why.len())),
        (role.clone(), with_reasons(why.len().min(1))),
        (String::new(), with_reasons(why.len().min(1))),
    ];
    let fitting = candidates
        .into_iter()
        .find(|(d, w)| head.width() + d.width() + w.width() <= room);
    let (detail, said, inside) = if let Some((d, w)) = fitting {
        (d, w, None)
    } else {
        let line = Line::from(Span::styled(why.join(" · "), style));
        let detail = if head.width() + role.width() + word.width() <= room {
            role
        } else {
            String::new()
        };
        (detail, word, (!why.is_empty()).then_some(line))
    };
    let title = vec![
        Span::styled(head, st.accent),
        Span::styled(detail, st.muted),
        Span::styled(said, style),
    ];
    let border = match style.fg {
        Some(fg) => ratatui::style::Style::default().fg(fg),
        None => style,
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .padding(Padding::horizontal(1))
        .title(cut_at_word(Line::from(title), room));
    (block, inside)
}

/// A source's name, health word and, unless it is live, since when (a
/// live source's age would be rewritten every second for nothing; a stale
/// one's grows in coarse steps). The name is padded to `name_w` (0: as
/// long as it is) and elided in the middle if longer.
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
    let shown = if name_w > 0 {
        text::elide_middle(name, name_w)
    } else {
        name.to_owned()
    };
    let mut spans = vec![
        Span::styled(if selected { "▸ " } else { "  " }, st.accent),
        Span::styled(
            format!("{shown:<name_w$} "),
            if selected { st.selection } else { st.text },
        ),
        Span::styled(tr_word(state.word()), st.state(state)),
    ];
    if !state.is_live()
        && let Some(since) = state.since()
    {
        // Right-aligned in a fixed width, so that a growing age ("9s" to
        // "10s") does not shift, and so rewrite, the rest of the line.
        let age = app.now().duration_since(since).unwrap_or_default();
        spans.push(Span::styled(
            format!(" {:>3}", text::age_short(text::age_coarse(age))),
            st.muted,
        ));
    }
    match state {
        crate::model::SourceState::Error { message, .. } => {
            spans.push(Span::styled(format!(" {message}"), st.crit));
        }
        crate::model::SourceState::Stale { why, .. } => {
            spans.push(Span::styled(format!(" {why}"), st.stale));
        }
        _ => {}
    }
    Line::from(spans)
}

/// A verdict as one line: its health word in its colour (the worst of its
/// data and its alerts), the firing alerts about it, then why. Last known
/// verdicts of a failing source are said so, in the stale role, never in
/// the ok colour; nothing known is a dash.
pub(super) fn verdict_line<'a>(st: &Styles, v: &Verdict, indent: usize) -> Line<'a> {
    let pad = Span::raw(" ".repeat(indent));
    let marks = |style| {
        (!v.alerts.is_empty()).then(|| {
            let names: Vec<&str> = v.alerts.iter().map(|(n, _)| n.as_str()).collect();
            Span::styled(format!("⚑ {} ", names.join(", ")), style)
        })
    };
    let alert_style = |h: Option<Health>| match h {
        Some(Health::Crit) => st.crit,
        _ => st.warn,
    };
    match &v.known {
        Known::NotYet(why) => Line::from(vec![
            pad,
            Span::styled(format!("— {}", text::phrase(why)), st.unknown),
        ]),
        Known::Stale { .. } if v.health == Health::Unknown => {
            Line::from(vec![pad, Span::styled(tr_word("— never read"), st.stale)])
        }
        Known::Stale { .. } => {
            let mut spans = vec![pad, Span::styled(tr_word("last known: "), st.stale)];
            spans.extend(marks(alert_style(v.alert_health())));
            spans.push(Span::styled(
                format!("{} {}", tr_word(v.health.word()), text::phrase(&v.why)),
                st.stale,
            ));
            Line::from(spans)
        }
        Known::Current => {
            let health = v.health.max(v.alert_health().unwrap_or(Health::Unknown));
            let mut spans = vec![
                pad,
                Span::styled(format!("{} ", tr_word(health.word())), st.health(health)),
            ];
            spans.extend(marks(alert_style(v.alert_health())));
            spans.push(Span::styled(text::phrase(&v.why).into_owned(), st.muted));
            Line::from(spans)
        }
    }
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
fn empty_line<'a>(app: &App, st: &Styles, pane: Pane, what: &'static str) -> Line<'a> {
    let what = text::word(what);
    let text = match app.filter(pane) {
        Some(f) => format!(
            "  {}",
            text::trf(
                "empty-matches",
                [("what", what.as_ref().into()), ("filter", f.into())]
            )
        ),
        None => format!(
            "  {}",
            text::trf("empty-configured", [("what", what.as_ref().into())])
        ),
    };
    Line::from(Span::styled(text, st.muted))
}

/// A section heading inside a pane, in the frame's language.
fn heading<'a>(st: &Styles, english: &'static str) -> Line<'a> {
    Line::from(Span::styled(text::word(english).to_uppercase(), st.muted))
}

/// A section heading made of a message with arguments.
fn heading_owned<'a>(st: &Styles, text: &str) -> Line<'a> {
    Line::from(Span::styled(text.to_uppercase(), st.muted))
}

/// A table's header row, each column's name in the frame's language.
fn header_row(names: impl IntoIterator<Item = &'static str>) -> Row<'static> {
    Row::new(names.into_iter().map(text::word).collect::<Vec<_>>())
}

/// Lines of a pane, each cut at the pane's edge (rows never wrap, so a
/// long URL cannot push the rows below it out of line), at a word and
/// marked `…`: a verdict is never cut mid-word.
fn note(lines: Vec<Line<'_>>, area: Rect, buf: &mut Buffer) {
    let width = usize::from(area.width);
    let lines: Vec<Line> = lines.into_iter().map(|l| cut_at_word(l, width)).collect();
    Paragraph::new(lines).render(area, buf);
}

/// A line of at most `width` columns: cut after the last whole word that
/// fits (unless that leaves less than half the line), an ellipsis marking
/// the cut.
pub(super) fn cut_at_word(line: Line<'_>, width: usize) -> Line<'_> {
    use unicode_width::UnicodeWidthChar;
    if line.width() <= width || width == 0 {
        return line;
    }
    let room = width - 1;
    // The column to cut at: after the last word that fits.
    let mut col = 0;
    let mut last_break = None;
    'scan: for span in &line.spans {
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if col + w > room {
                break 'scan;
            }
            if c == ' ' && col > 0 {
                last_break = Some(col);
            }
            col += w;
        }
    }
    let cut = match last_break {
        Some(b) if b * 2 >= room => b,
        _ => col,
    };
    let mut out = Vec::new();
    let mut used = 0;
    let mut last_style = line.style;
    for span in line.spans {
        if used >= cut {
            break;
        }
        let mut text = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > cut {
                break;
            }
            used += w;
            text.push(c);
        }
        last_style = span.style;
        out.push(Span::styled(text, span.style));
    }
    // No separator left dangling before the ellipsis.
    if let Some(last) = out.last_mut() {
        let trimmed = last
            .content
            .trim_end_matches([' ', ',', '·', ':', ';'])
            .to_owned();
        last.content = trimmed.into();
    }
    out.push(Span::styled("…", last_style));
    Line::from(out).style(line.style)
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

/// Figures of a source: as they are when it is live, else all in the stale
/// role (last known), so that no figure of a source that stopped answering
/// is drawn in the ok colour.
pub(super) fn last_known<'a>(st: &Styles, live: bool, lines: Vec<Line<'a>>) -> Vec<Line<'a>> {
    if live {
        return lines;
    }
    lines
        .into_iter()
        .map(|mut l| {
            for s in &mut l.spans {
                s.style = st.stale;
            }
            l
        })
        .collect()
}

/// Whether a source is the one the pane's selection is on (Enter opens it).
fn selected(app: &App, pane: Pane, region: &str, kind: SourceKind, name: &str) -> bool {
    app.selected_source(pane)
        .is_some_and(|id| id.region == region && id.kind == kind && id.name == name)
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

//! Failover: whether each DR region could take over now (the readiness
//! checks, across the top), then which region serves and which stands by,
//! and the health of the data tier each would fail over to or from.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::{heading, note, region_columns, source_line};
use crate::app::App;
use crate::model::readiness::{Mark, Readiness};
use crate::model::{Pane, SourceKind};
use crate::ui::text::trf;
use crate::ui::text::word as tr_word;
use crate::ui::{Styles, text};

/// Draws the failover pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let readiness = app.readiness();
    let blocks = |fold: bool| -> Vec<_> {
        readiness
            .iter()
            .map(|r| readiness_lines(app, st, r, area.width, fold))
            .collect()
    };
    // The readiness block first; the region columns below get what they
    // show (their frame and longest column) as far as the readiness with
    // the checks that hold folded into one line leaves room, and at least
    // eight rows; the block what is left: every check if they fit, else
    // folded, else what fits.
    let columns: Vec<_> = app
        .platform()
        .regions
        .iter()
        .map(|r| region_lines(app, st, r))
        .collect();
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0) + 3; // the frame's two rows and the verdict's line a narrow title leaves
    let (full, folded) = (blocks(false), blocks(true));
    let folded_rows: usize = folded.iter().map(Vec::len).sum();
    let height = usize::from(area.height);
    let below_at_least = tallest.min(height.saturating_sub(folded_rows)).max(8);
    let rows = height.saturating_sub(below_at_least);
    let lines = if full.iter().map(Vec::len).sum::<usize>() <= rows {
        full.into_iter().flatten().collect()
    } else {
        fit(folded, rows, st)
    };
    let top = u16::try_from(lines.len().min(rows)).unwrap_or(u16::MAX);
    if top > 0 {
        note(
            lines,
            Rect {
                height: top,
                ..area
            },
            buf,
        );
    }
    let below = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    // The columns in the platform's order of regions, as drawn.
    for ((inner, _), lines) in region_columns(app, st, below, buf).into_iter().zip(columns) {
        note(lines, inner, buf);
    }
}

/// The regions' readiness lines in `rows`: every region's verdict first,
/// then its checks while they fit, the rest counted on a line of its own.
fn fit<'a>(blocks: Vec<Vec<Line<'a>>>, rows: usize, st: &Styles) -> Vec<Line<'a>> {
    let total: usize = blocks.iter().map(Vec::len).sum();
    if total <= rows {
        return blocks.into_iter().flatten().collect();
    }
    let mut spare = rows.saturating_sub(blocks.len());
    let mut out = Vec::new();
    for block in blocks {
        let mut lines = block.into_iter();
        out.extend(lines.next());
        let checks: Vec<_> = lines.collect();
        if checks.len() <= spare {
            spare -= checks.len();
            out.extend(checks);
            continue;
        }
        let shown = spare.saturating_sub(1);
        let hidden = checks.len() - shown;
        out.extend(checks.into_iter().take(shown));
        if spare > 0 {
            out.push(Line::from(Span::styled(
                format!("  +{hidden} more checks (a taller terminal shows them)"),
                st.muted,
            )));
        }
        spare = 0;
    }
    out
}

/// A DR region's readiness: its verdict, then a row per check (mark, what,
/// of what, why, and the age of what it read); `fold`ed, the checks that
/// hold (and those that do not apply) on one line after the others.
fn readiness_lines<'a>(
    app: &App,
    st: &Styles,
    r: &Readiness,
    width: u16,
    fold: bool,
) -> Vec<Line<'a>> {
    let (mark, verdict) = r.verdict();
    let mut out = vec![Line::from(vec![
        Span::styled(format!("DR READINESS {} → {} ", r.from, r.to), st.muted),
        Span::styled(verdict, st.mark(mark)),
    ])];
    let subject_w = r
        .checks
        .iter()
        .map(|c| UnicodeWidthStr::width(c.subject.as_str()))
        .max()
        .unwrap_or(0)
        .min(if width < 100 { 14 } else { 28 });
    // Folded: what holds, what does not apply, and what waits for its
    // sources' first answer (nothing to show yet); a failure to read and a
    // last known value keep their rows.
    let folded = |c: &&crate::model::readiness::Check| {
        fold && (matches!(c.mark, Mark::Ok | Mark::Skip) || c.pending())
    };
    for c in r.checks.iter().filter(|c| !folded(c)) {
        let age = c.as_of.map_or_else(
            || "  —".to_owned(),
            |at| {
                let age = app.now().duration_since(at).unwrap_or_default();
                format!("{:>3}", text::age_short(text::age_coarse(age)))
            },
        );
        out.push(Line::from(vec![
            Span::styled(
                format!("  {}", crate::ui::text::pad(&tr_word(c.mark.word()), 7)),
                st.mark(c.mark),
            ),
            Span::styled(age, st.muted),
            Span::styled(format!(" {:<12}", c.area), st.muted),
            Span::styled(subject(&c.subject, subject_w), st.text),
            Span::styled(c.why.clone(), st.muted),
        ]));
    }
    let of = |mark: Mark| {
        r.checks
            .iter()
            .filter(|c| folded(c) && c.mark == mark)
            .map(|c| c.area)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ok, skip, unknown) = (of(Mark::Ok), of(Mark::Skip), of(Mark::Unknown));
    if !ok.is_empty() || !skip.is_empty() {
        let mut spans = Vec::new();
        if !ok.is_empty() {
            spans.push(Span::styled(
                format!("  {}", crate::ui::text::pad(&tr_word(Mark::Ok.word()), 7)),
                st.mark(Mark::Ok),
            ));
            spans.push(Span::styled(format!("    {ok}"), st.muted));
        }
        if !skip.is_empty() {
            let n_a = tr_word(Mark::Skip.word());
            spans.push(if ok.is_empty() {
                Span::styled(format!("  {n_a:<7}    {skip}"), st.muted)
            } else {
                Span::styled(format!(" · {n_a} {skip}"), st.muted)
            });
        }
        out.push(Line::from(spans));
    }
    if !unknown.is_empty() {
        out.push(Line::from(vec![
            Span::styled(
                format!(
                    "  {}",
                    crate::ui::text::pad(&tr_word(Mark::Unknown.word()), 7)
                ),
                st.mark(Mark::Unknown),
            ),
            Span::styled(format!("    {unknown}: no answer yet"), st.muted),
        ]));
    }
    out
}

/// A check's subject, elided to `width` cells and padded to them.
fn subject(s: &str, width: usize) -> String {
    let shown = text::elide_middle(s, width);
    let pad = width.saturating_sub(UnicodeWidthStr::width(shown.as_str()));
    format!("{shown}{} ", " ".repeat(pad))
}

/// A region's column: its role, data tier, clusters and load-balancer pool.
fn region_lines<'a>(
    app: &App,
    st: &Styles,
    region: &crate::config::platform::Region,
) -> Vec<Line<'a>> {
    let p = app.platform();
    let r = region.name.get_ref();
    let role = match region.role {
        crate::config::platform::Role::Primary => "serves production",
        crate::config::platform::Role::Dr => "stands by for disaster recovery",
    };
    let mut lines = vec![
        Line::from(Span::styled(
            trf(
                "failover-role",
                [
                    ("region", region.display.as_str().into()),
                    ("role", tr_word(role).as_ref().into()),
                ],
            ),
            st.text,
        )),
        Line::default(),
    ];
    lines.push(heading(st, "data tier"));
    let mut any = false;
    for d in p.databases.iter().filter(|d| d.region.get_ref() == r) {
        lines.push(source_line(
            app,
            st,
            r,
            SourceKind::Database,
            d.name.get_ref(),
            0,
            super::selected(
                app,
                Pane::Failover,
                r,
                SourceKind::Database,
                d.name.get_ref(),
            ),
        ));
        any = true;
    }
    for c in p.caches.iter().filter(|c| c.region.get_ref() == r) {
        lines.push(source_line(
            app,
            st,
            r,
            SourceKind::Cache,
            c.name.get_ref(),
            0,
            super::selected(app, Pane::Failover, r, SourceKind::Cache, c.name.get_ref()),
        ));
        any = true;
    }
    if !any {
        lines.push(Line::from(Span::styled(
            tr_word("  no database or cache configured"),
            st.muted,
        )));
    }
    lines.push(Line::default());
    lines.push(heading(st, "clusters"));
    for c in p.clusters.iter().filter(|c| c.region.get_ref() == r) {
        lines.push(source_line(
            app,
            st,
            r,
            SourceKind::Cluster,
            c.name.get_ref(),
            0,
            super::selected(
                app,
                Pane::Failover,
                r,
                SourceKind::Cluster,
                c.name.get_ref(),
            ),
        ));
    }
    if p.traffic
        .iter()
        .flat_map(|t| &t.pools)
        .any(|x| x.region.get_ref() == r)
    {
        use crate::config::platform::TRAFFIC;
        lines.push(Line::default());
        lines.push(heading(st, "global load balancer"));
        lines.push(source_line(
            app,
            st,
            r,
            SourceKind::Traffic,
            TRAFFIC,
            0,
            super::selected(app, Pane::Failover, r, SourceKind::Traffic, TRAFFIC),
        ));
    }
    lines
}

//! Overview: the regions side by side, a line per cluster, database, cache,
//! AI service and alert source with its state, then its verdict: the worst
//! of what is known, last known when its source fails, marked by the
//! alerts firing about it. When a column is short (80×24) the compact
//! layout drops the section headings and folds the alert sources into one
//! line; a column that still does not fit scrolls with the selection. With
//! room to spare below (200×50), the top firing alerts and the last changes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{heading, name_width, note, region_columns, source_line, verdict_line};
use crate::app::App;
use crate::app::verdicts::AlertKnowledge;
use crate::config::platform::Region;
use crate::model::alert::AlertState;
use crate::model::cluster::ClusterSummary;
use crate::model::{Pane, SourceKind};
use crate::ui::text::word as tr_word;
use crate::ui::text::{trf, word};
use crate::ui::{Styles, text};

/// How much a column shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Section headings, a line per alert source, the cluster's counts.
    Full,
    /// No headings, alert sources on one line, counts on one line.
    Compact,
}

/// Rows the bottom panel needs before it is drawn.
const PANEL_MIN: u16 = 8;

/// Draws the overview.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let regions = &app.platform().regions;
    let selected = app
        .platform()
        .clusters
        .get(app.cursor(Pane::Overview))
        .map(|c| c.name.get_ref().as_str());
    // Full columns when every region fits them; the bottom panel below
    // them when there are rows to spare.
    // Less the frame, and a line for the region's reasons should the
    // title not hold them.
    let inner_h = area.height.saturating_sub(3);
    let full: Vec<Vec<Line>> = regions
        .iter()
        .map(|r| lines(app, st, r, area.width, Layout::Full, selected))
        .collect();
    let tallest = full.iter().map(Vec::len).max().unwrap_or(0);
    let fits_full = tallest <= usize::from(inner_h);
    let spare = inner_h.saturating_sub(u16::try_from(tallest).unwrap_or(u16::MAX));
    let (columns_area, panel) = if fits_full && spare >= PANEL_MIN && area.width >= 120 {
        let h = u16::try_from(tallest).unwrap_or(0) + 2;
        (
            Rect { height: h, ..area },
            Some(Rect {
                y: area.y + h,
                height: area.height - h,
                ..area
            }),
        )
    } else {
        (area, None)
    };
    for (inner, region) in region_columns(app, st, columns_area, buf) {
        let layout = if fits_full {
            Layout::Full
        } else {
            Layout::Compact
        };
        let mut lines = lines(app, st, region, area.width, layout, selected);
        scroll(&mut lines, inner.height, app, st, region, selected);
        note(lines, inner, buf);
    }
    if let Some(panel) = panel {
        bottom_panel(app, st, panel, buf);
    }
}

/// Keeps the selected cluster's line in view when a column is longer
/// than its area, saying how many lines are hidden above and below.
fn scroll(
    lines: &mut Vec<Line<'_>>,
    height: u16,
    app: &App,
    st: &Styles,
    region: &Region,
    selected: Option<&str>,
) {
    let h = usize::from(height);
    if lines.len() <= h || h < 3 {
        return;
    }
    // The selection is drawn with a marker; find it.
    let at = selected
        .filter(|name| {
            app.platform()
                .clusters
                .iter()
                .any(|c| c.name.get_ref() == *name && c.region == region.name)
        })
        .and_then(|_| {
            lines
                .iter()
                .position(|l| l.spans.first().is_some_and(|s| s.content == "▸ "))
        })
        .unwrap_or(0);
    let top = at.saturating_sub(1).min(lines.len() - (h - 1));
    let below = lines.len() - top - (h - 1);
    let mut shown: Vec<Line> = lines.drain(top..top + h - 1).collect();
    if top > 0 {
        shown[0] = Line::from(Span::styled(
            format!("  ↑ {}", trf("overview-more", [("n", top.into())])),
            st.muted,
        ));
    }
    if below > 0 {
        shown.push(Line::from(Span::styled(
            format!("  ↓ {below} more (the selection scrolls)"),
            st.muted,
        )));
    }
    *lines = shown;
}

/// A region's column.
fn lines<'a>(
    app: &App,
    st: &Styles,
    region: &Region,
    width: u16,
    layout: Layout,
    selected: Option<&str>,
) -> Vec<Line<'a>> {
    let p = app.platform();
    let r = region.name.get_ref();
    // The column's inner width: half the pane, less frame and padding.
    let n = u16::try_from(p.regions.len().max(1)).unwrap_or(1);
    let inner = Rect {
        width: (width / n).saturating_sub(4),
        ..Rect::default()
    };
    let name_w = name_width(longest_name(p), inner);
    // A region that took over says so in place of its readiness, and the
    // region it took over from says where its users went: its failures
    // are the outage that was failed over.
    let takeover = app.takeover();
    let mut lines: Vec<Line> = match &takeover {
        Some(t) if t.to == region.display => vec![Line::from(vec![
            Span::styled(tr_word("  DR "), st.muted),
            Span::styled(format!("serves in {}'s place", t.from), st.ok),
            Span::styled(format!(" · {}", t.evidence), st.muted),
        ])],
        Some(t) if t.from == region.display => vec![Line::from(vec![
            Span::styled(format!("  failed over to {}", t.to), st.warn),
            Span::styled(
                format!(": its users are served there ({})", t.evidence),
                st.muted,
            ),
        ])],
        _ => app
            .readiness()
            .into_iter()
            .filter(|x| &x.region == r)
            .map(|x| {
                let (mark, verdict) = x.verdict();
                Line::from(vec![
                    Span::styled(tr_word("  DR "), st.muted),
                    Span::styled(verdict, st.mark(mark)),
                ])
            })
            .collect(),
    };
    lines.extend(source_cells(app, st, r, name_w, layout, selected));
    lines.extend(alert_lines(app, st, r, name_w, layout));
    if app.platform().frontend.is_some() {
        if layout == Layout::Full {
            lines.push(heading(st, "frontend"));
        }
        for f in app.frontend_cells(r) {
            let mut line = verdict_line(st, &f.verdict, 4);
            // Until its cluster is read, the line names the release.
            if !matches!(f.verdict.known, crate::model::verdict::Known::Current) {
                let label = app.platform().frontend.clone().unwrap_or_default();
                line.spans
                    .insert(1, Span::styled(format!("{label} "), st.muted));
            }
            lines.push(line);
        }
    }
    if region.prometheus.is_some() {
        if layout == Layout::Full {
            lines.push(heading(st, "services (promql)"));
        }
        lines.push(source_line(
            app,
            st,
            r,
            SourceKind::Metrics,
            crate::config::platform::PROMETHEUS,
            name_w,
            false,
        ));
        let current = app
            .source(r, SourceKind::Metrics, crate::config::platform::PROMETHEUS)
            .is_live();
        lines.extend(figure_lines(app, st, r, current));
    }
    lines
}

/// Clusters, databases, caches and AI services: a line for each source,
/// a cluster's counts, each verdict.
fn source_cells<'a>(
    app: &App,
    st: &Styles,
    r: &str,
    name_w: usize,
    layout: Layout,
    selected: Option<&str>,
) -> Vec<Line<'a>> {
    let p = app.platform();
    let mut lines = Vec::new();
    let in_region = |region_of: &toml::Spanned<String>| region_of.get_ref() == r;
    let sections: [(&str, SourceKind, Vec<&str>, &str); 4] = [
        (
            "clusters",
            SourceKind::Cluster,
            p.clusters
                .iter()
                .filter(|c| in_region(&c.region))
                .map(|c| c.name.get_ref().as_str())
                .collect(),
            "no cluster configured",
        ),
        (
            "databases",
            SourceKind::Database,
            p.databases
                .iter()
                .filter(|d| in_region(&d.region))
                .map(|d| d.name.get_ref().as_str())
                .collect(),
            "no database configured",
        ),
        (
            "caches",
            SourceKind::Cache,
            p.caches
                .iter()
                .filter(|c| in_region(&c.region))
                .map(|c| c.name.get_ref().as_str())
                .collect(),
            "no cache configured",
        ),
        (
            "ai services",
            SourceKind::AiService,
            p.ai_services
                .iter()
                .filter(|a| in_region(&a.region))
                .map(|a| a.name.get_ref().as_str())
                .collect(),
            "no AI service configured",
        ),
    ];
    for (title, kind, names, empty) in sections {
        if layout == Layout::Full {
            lines.push(heading(st, title));
        }
        if names.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("  {}", tr_word(empty)),
                st.muted,
            )));
        }
        for name in names {
            let is_selected = kind == SourceKind::Cluster && selected == Some(name);
            lines.push(source_line(app, st, r, kind, name, name_w, is_selected));
            if kind == SourceKind::Cluster
                && let Some(cluster) = app.cluster(name)
            {
                let live = app.source(r, kind, name).is_live();
                lines.extend(cluster_counts(
                    st,
                    &cluster.summary(app.now()),
                    live,
                    layout,
                ));
            }
            lines.push(verdict_line(st, &app.cell(r, kind, name), 4));
        }
    }
    lines
}

/// The alert sources (a line each, or one line when compact) and what is
/// known of the region's firing alerts.
fn alert_lines<'a>(
    app: &App,
    st: &Styles,
    region: &str,
    name_w: usize,
    layout: Layout,
) -> Vec<Line<'a>> {
    let names: Vec<&str> = app
        .platform()
        .alert_sources
        .iter()
        .filter(|a| a.region.get_ref() == region)
        .map(|a| a.name.get_ref().as_str())
        .collect();
    let mut lines = Vec::new();
    if layout == Layout::Full {
        lines.push(heading(st, "alert sources"));
    }
    if names.is_empty() {
        lines.push(Line::from(Span::styled(
            tr_word("  no alert source configured"),
            st.muted,
        )));
        return lines;
    }
    let known = app.alert_knowledge(region);
    match layout {
        Layout::Full => {
            for name in &names {
                lines.push(source_line(
                    app,
                    st,
                    region,
                    SourceKind::Alerts,
                    name,
                    name_w,
                    false,
                ));
            }
        }
        Layout::Compact => {
            let live = known.sources - known.not_live.len();
            let mut spans = vec![Span::styled(
                format!(
                    "  {}",
                    trf(
                        "overview-alerts-live",
                        [("live", live.into()), ("all", known.sources.into())]
                    )
                ),
                if known.complete() { st.text } else { st.stale },
            )];
            for (name, word) in &known.not_live {
                spans.push(Span::styled(format!(" · {name} {word}"), st.stale));
            }
            lines.push(Line::from(spans));
        }
    }
    lines.push(alert_count_line(st, &known, layout));
    lines
}

/// The region's firing alerts, as far as they are known: a count only
/// when every alert source is live; "at least" when some are not; never a
/// zero that is not known.
fn alert_count_line<'a>(st: &Styles, known: &AlertKnowledge, layout: Layout) -> Line<'a> {
    let (crit, warn, other) = known.counts;
    let missing: Vec<String> = known
        .not_live
        .iter()
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
    let parts: Vec<String> = [(crit, "critical"), (warn, "warning"), (other, "other")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {}", word(what)))
        .collect();
    let counts = trf("overview-firing", [("counts", parts.join(" · ").into())]);
    let style = if crit > 0 { st.crit } else { st.warn };
    let span = if known.complete() {
        if parts.is_empty() {
            Span::styled(tr_word("no alert firing"), st.ok)
        } else {
            Span::styled(counts, style)
        }
    } else if parts.is_empty() {
        Span::styled(
            trf(
                "overview-alerts-not-known",
                [("missing", missing.join(", ").into())],
            ),
            st.unknown,
        )
    } else if layout == Layout::Full {
        Span::styled(
            trf(
                "overview-at-least",
                [
                    ("counts", counts.as_str().into()),
                    ("missing", missing.join(", ").into()),
                ],
            ),
            style,
        )
    } else {
        // The line above names the sources not live.
        Span::styled(format!("≥ {counts}"), style)
    };
    Line::from(vec![Span::raw("    "), span])
}

/// PromQL figures: a line per service (the figures by `service`), then
/// the region's single figures on one line; in the stale role unless the
/// source is live.
fn figure_lines<'a>(app: &App, st: &Styles, region: &str, current: bool) -> Vec<Line<'a>> {
    let Some(figures) = app.figures(region) else {
        return Vec::new();
    };
    let style = if current { st.muted } else { st.stale };
    let mut per_service: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let mut single = Vec::new();
    for f in figures {
        match &f.values {
            Err(e) => single.push(format!("{}: {e}", f.spec.name)),
            Ok(values) => {
                for (series, v) in values {
                    match series.strip_prefix("service=") {
                        Some(service) if !service.contains(',') => per_service
                            .entry(service.to_owned())
                            .or_default()
                            .push(format!("{} {}", f.spec.name, f.spec.show(*v))),
                        _ if series.is_empty() => {
                            single.push(format!("{} {}", f.spec.name, f.spec.show(*v)));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let mut lines: Vec<Line<'a>> = per_service
        .into_iter()
        .map(|(service, figures)| {
            Line::from(vec![
                Span::styled(format!("    {service:<14}"), st.text),
                Span::styled(figures.join(" · "), style),
            ])
        })
        .collect();
    if !single.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("    {}", single.join(" · ")),
            style,
        )));
    }
    lines
}

/// The longest configured name of anything the overview lists.
fn longest_name(p: &crate::config::Platform) -> usize {
    [
        p.clusters.iter().map(|c| c.name.get_ref().len()).max(),
        p.databases.iter().map(|d| d.name.get_ref().len()).max(),
        p.caches.iter().map(|c| c.name.get_ref().len()).max(),
        p.ai_services.iter().map(|a| a.name.get_ref().len()).max(),
        p.alert_sources.iter().map(|a| a.name.get_ref().len()).max(),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0)
}

/// A cluster's counts: nodes, deployments, pods, then not ready and
/// crash-looping (one line when compact); in the stale role when its
/// source is not live.
fn cluster_counts<'a>(
    st: &Styles,
    s: &ClusterSummary,
    live: bool,
    layout: Layout,
) -> Vec<Line<'a>> {
    let text_style = if live { st.text } else { st.stale };
    // Not live: what is wrong now is unknown (`?`, never a zero); the
    // totals are said to be the last known.
    let count = |n: usize, english: &'static str, bad| {
        let said = word(english);
        if !live {
            return Span::styled(format!("? {said}"), st.unknown);
        }
        Span::styled(format!("{n} {said}"), if n > 0 { bad } else { st.muted })
    };
    let sep = || Span::styled(" · ", st.muted);
    let figures = vec![
        Span::raw("    "),
        Span::styled(word(if live { "" } else { "last known " }), st.stale),
        Span::styled(
            trf(
                "overview-nodes",
                [("ready", s.nodes_ready.into()), ("all", s.nodes.into())],
            ),
            text_style,
        ),
        sep(),
        Span::styled(
            trf(
                "overview-deploys",
                [
                    ("available", s.deployments_available.into()),
                    ("all", s.deployments.into()),
                ],
            ),
            text_style,
        ),
        sep(),
        Span::styled(trf("overview-pods", [("n", s.pods.into())]), text_style),
    ];
    let not_ready = s.pods_not_ready - s.pods_starting.min(s.pods_not_ready);
    let mut problems = vec![
        count(not_ready, "not ready", st.warn),
        sep(),
        count(s.crash_looping, "crash-looping", st.crit),
    ];
    if s.pods_starting > 0 {
        problems.push(sep());
        problems.push(count(s.pods_starting, "starting", st.starting));
    }
    match layout {
        Layout::Full => {
            let mut second = vec![Span::raw("    ")];
            second.extend(problems);
            vec![Line::from(figures), Line::from(second)]
        }
        // The figures alone: the verdict below says the worst problem.
        Layout::Compact => vec![Line::from(figures)],
    }
}

/// Below the columns, with room to spare: the top firing alerts of every
/// region, and the last changes of any cell's state.
fn bottom_panel(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let half = area.width / 2;
    let left = Rect {
        width: half,
        ..area
    };
    let right = Rect {
        x: area.x + half,
        width: area.width - half,
        ..area
    };
    let rows = usize::from(area.height.saturating_sub(1));
    let mut alerts = vec![heading(st, "top firing alerts")];
    let firing: Vec<_> = app
        .alert_rows()
        .into_iter()
        .filter(|a| a.state() == AlertState::Firing)
        .take(rows)
        .collect();
    if firing.is_empty() {
        alerts.push(Line::from(Span::styled(tr_word("  none firing"), st.muted)));
    }
    for a in firing {
        let region = app
            .platform()
            .region(&a.region)
            .map_or(a.region.as_str(), |r| r.display.as_str());
        let style = match a.rank() {
            0 => st.crit,
            1 => st.warn,
            _ => st.text,
        };
        let since = a
            .since
            .and_then(|t| app.now().duration_since(t).ok())
            .map(|d| text::age_short(text::age_coarse(d)))
            .unwrap_or_default();
        alerts.push(Line::from(vec![
            Span::styled(format!("  {:<8} ", a.severity), style),
            Span::styled(format!("{:<24} ", a.name), st.text),
            Span::styled(format!("{region:<7} {since:>4}  "), st.muted),
            Span::styled(a.summary.clone(), st.muted),
        ]));
    }
    note(alerts, left, buf);
    let mut changes = vec![heading(st, "last changes")];
    let log = app.changes();
    if log.is_empty() {
        changes.push(Line::from(Span::styled(
            tr_word("  no change since start"),
            st.muted,
        )));
    }
    for c in log.iter().rev().take(rows) {
        changes.push(Line::from(vec![
            Span::styled(format!("  {} ", c.clock), st.muted),
            Span::styled(format!("{:<7} ", c.region), st.muted),
            Span::styled(format!("{} ", c.what), st.text),
            Span::styled(
                format!("{} → ", tr_word(c.from.word())),
                super::level_style(st, c.from),
            ),
            Span::styled(tr_word(c.to.word()), super::level_style(st, c.to)),
            Span::styled(format!(" {}", c.why), st.muted),
        ]));
    }
    note(changes, right, buf);
}

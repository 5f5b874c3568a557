//! Data: the databases and caches of every region side by side, with how
//! each is reached (direct, exporter, CloudWatch) and its health.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{empty_line, heading, note, passes, region_columns, selected, source_line};
use crate::app::App;
use crate::config::platform::{CloudWatchRef, Direct};
use crate::model::data::{CacheStatus, DataStatus, DbStatus, History, Thresholds};
use crate::model::source::age_label;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;
use crate::ui::text::word as tr_word;

/// Draws the data pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let warnings = split_brain(app, st);
    let area = if warnings.is_empty() {
        area
    } else {
        let n = u16::try_from(warnings.len()).unwrap_or(u16::MAX);
        let [top, rest] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Length(n),
            ratatui::layout::Constraint::Min(1),
        ])
        .areas(area);
        note(warnings, top, buf);
        rest
    };
    for (inner, region) in region_columns(app, st, area, buf) {
        let r = region.name.get_ref();
        let mut lines = vec![heading(st, "databases")];
        let dbs: Vec<_> = p
            .databases
            .iter()
            .filter(|d| d.region.get_ref() == r && passes(app, Pane::Data, d.name.get_ref()))
            .map(|d| {
                let reach = (
                    d.direct.as_ref(),
                    d.exporter.as_ref().map(|e| e.get_ref().as_str()),
                    d.cloudwatch.as_ref(),
                );
                (d.name.get_ref().as_str(), reach)
            })
            .collect();
        if dbs.is_empty() {
            lines.push(empty_line(app, st, Pane::Data, "database"));
        }
        for (name, reached) in dbs {
            lines.extend(cell(app, st, r, SourceKind::Database, name, reached));
        }
        lines.push(Line::default());
        lines.push(heading(st, "caches"));
        let caches: Vec<_> = p
            .caches
            .iter()
            .filter(|c| c.region.get_ref() == r && passes(app, Pane::Data, c.name.get_ref()))
            .map(|c| {
                let reach = (
                    c.direct.as_ref(),
                    c.exporter.as_ref().map(|e| e.get_ref().as_str()),
                    c.cloudwatch.as_ref(),
                );
                (c.name.get_ref().as_str(), reach)
            })
            .collect();
        if caches.is_empty() {
            lines.push(empty_line(app, st, Pane::Data, "cache"));
        }
        for (name, reached) in caches {
            lines.extend(cell(app, st, r, SourceKind::Cache, name, reached));
        }
        note(lines, inner, buf);
    }
}

/// How a database or cache is reached: direct, exporter, CloudWatch.
type Reach<'a> = (
    Option<&'a Direct>,
    Option<&'a str>,
    Option<&'a CloudWatchRef>,
);

/// A database's or cache's cell: its source, verdict, figures and
/// CloudWatch series, or how it is reached until it is read.
fn cell<'a>(
    app: &App,
    st: &Styles,
    r: &str,
    kind: SourceKind,
    name: &str,
    (direct, exporter, cloudwatch): Reach<'_>,
) -> Vec<Line<'a>> {
    let t = &app.platform().thresholds;
    let mut lines = vec![
        source_line(
            app,
            st,
            r,
            kind,
            name,
            0,
            selected(app, Pane::Data, r, kind, name),
        ),
        super::verdict_line(st, &app.cell(r, kind, name), 4),
    ];
    let live = app.source(r, kind, name).is_live();
    match app.data(r, kind, name) {
        Some(DataStatus::Database(status)) => {
            lines.extend(super::last_known(st, live, db_lines(st, status, t)));
        }
        Some(DataStatus::Cache(status)) => {
            lines.extend(super::last_known(st, live, cache_lines(st, status, t)));
        }
        _ => {
            lines.extend(reach(st, direct, exporter, cloudwatch));
            return lines;
        }
    }
    lines.extend(cloudwatch_lines(app, st, app.cloudwatch(r, kind, name)));
    lines
}

/// Two primaries across regions: a split brain, shown above everything.
fn split_brain<'a>(app: &App, st: &Styles) -> Vec<Line<'a>> {
    let mut warnings = Vec::new();
    for (kind, what) in [
        (SourceKind::Database, "databases"),
        (SourceKind::Cache, "caches"),
    ] {
        let primaries = app.primaries(kind);
        if primaries.len() > 1 && app.platform().regions.len() > 1 {
            warnings.push(Line::from(vec![
                Span::styled(
                    format!(" ✖ {} {what} report themselves primary: ", primaries.len()),
                    st.crit,
                ),
                Span::styled(primaries.join(", "), st.text),
                Span::styled(
                    tr_word(" (split brain: demote or re-point the old primary)"),
                    st.muted,
                ),
            ]));
        }
    }
    warnings
}

/// A labelled line of figures.
fn field<'a>(st: &Styles, k: &str, spans: Vec<Span<'a>>) -> Line<'a> {
    let mut out = vec![Span::styled(format!("      {k:<12}"), st.muted)];
    out.extend(spans);
    Line::from(out)
}

/// A share as a bar of `width` cells and a percentage.
pub(super) fn bar<'a>(st: &Styles, share: f64, warn: f64, width: usize) -> Vec<Span<'a>> {
    let share = share.clamp(0.0, 1.0);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let full = ((share * width as f64).round() as usize).min(width);
    let style = if share > warn { st.warn } else { st.ok };
    vec![
        Span::styled("█".repeat(full), style),
        Span::styled("░".repeat(width - full), st.muted),
        Span::styled(format!(" {:>3.0} %", share * 100.0), style),
    ]
}

/// The last `width` points as a sparkline: from 0 to `max` when given (a
/// percentage, a share), else from their lowest to their highest, so a
/// figure that moves a little still shows its shape (a flat one sits in
/// the middle).
pub(super) fn spark(points: &History, width: usize, max: Option<f64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let shown: Vec<f64> = points.0.iter().rev().take(width).rev().copied().collect();
    let (low, high) = match max {
        Some(m) => (0.0, m),
        None => (
            shown.iter().copied().fold(f64::INFINITY, f64::min),
            shown.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
    };
    let span = high - low;
    shown
        .iter()
        .map(|v| {
            let share = if span > f64::EPSILON {
                ((v - low) / span).clamp(0.0, 1.0)
            } else {
                0.5
            };
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (share * 7.0).round() as usize;
            BARS[i.min(7)]
        })
        .collect()
}

pub(in crate::ui) fn db_lines<'a>(st: &Styles, d: &DbStatus, t: &Thresholds) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let mut what = vec![Span::styled(
        d.role.clone().unwrap_or_else(|| "role unknown".into()),
        st.accent,
    )];
    if let Some(v) = &d.version {
        what.push(Span::styled(format!(" · PostgreSQL {v}"), st.text));
    }
    if let Some(u) = d.uptime {
        what.push(Span::styled(format!(" · up {}", age_label(u)), st.muted));
    }
    match d.tls {
        Some(true) => what.push(Span::styled(tr_word(" · TLS"), st.ok)),
        Some(false) => what.push(Span::styled(tr_word(" · unencrypted"), st.warn)),
        None => {}
    }
    what.push(Span::styled(format!(" · via {}", d.via), st.muted));
    lines.push(field(st, "role", what));
    if let Some((used, max)) = d.connections {
        let mut spans = bar(
            st,
            if max > 0.0 { used / max } else { 0.0 },
            t.connections_warn,
            10,
        );
        spans.push(Span::styled(format!(" {used:.0}/{max:.0}"), st.muted));
        lines.push(field(st, "connections", spans));
    }
    if let Some(h) = d.cache_hit {
        lines.push(field(
            st,
            "cache hits",
            vec![Span::styled(format!("{:.1} %", h * 100.0), st.text)],
        ));
    }
    if let Some(l) = d.longest_transaction {
        lines.push(field(
            st,
            "longest tx",
            vec![Span::styled(age_label(l), st.text)],
        ));
    }
    for r in &d.replicas {
        let lag = match (r.lag_seconds, r.lag_bytes) {
            (Some(s), Some(b)) => format!("{s:.1} s · {b:.0} B behind"),
            (Some(s), None) => format!("{s:.1} s behind"),
            (None, Some(b)) => format!("{b:.0} B behind"),
            (None, None) => String::new(),
        };
        lines.push(field(
            st,
            "replica",
            vec![
                Span::styled(format!("{} ", r.name), st.text),
                Span::styled(format!("{} ", r.state), st.ok),
                Span::styled(lag, st.muted),
            ],
        ));
    }
    if d.role.as_deref() == Some("replica") {
        let mut spans = vec![Span::styled(
            d.replay_lag
                .map_or_else(|| "?".into(), |l| format!("{l:.1} s")),
            if d.replay_lag.is_some_and(|l| l > t.lag_warn_seconds) {
                st.warn
            } else {
                st.text
            },
        )];
        if d.replay_paused {
            spans.push(Span::styled(tr_word(" · replay paused"), st.warn));
        }
        if let Some(w) = &d.wal_receiver {
            spans.push(Span::styled(format!(" · receiver {w}"), st.muted));
        }
        spans.push(Span::styled(
            format!(" {}", spark(&d.lag_history, 20, None)),
            st.accent,
        ));
        lines.push(field(st, "replay lag", spans));
        if let Some((received, replayed)) = &d.lsn {
            lines.push(field(
                st,
                "lsn",
                vec![Span::styled(
                    format!("received {received} · replayed {replayed}"),
                    st.muted,
                )],
            ));
        }
    }
    lines
}

pub(in crate::ui) fn cache_lines<'a>(
    st: &Styles,
    c: &CacheStatus,
    t: &Thresholds,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let mut what = vec![Span::styled(
        c.role.clone().unwrap_or_else(|| "role unknown".into()),
        st.accent,
    )];
    if let Some(link) = c.link_up {
        what.push(Span::styled(
            if link { " · link up" } else { " · link down" },
            if link { st.ok } else { st.crit },
        ));
    }
    if let Some(n) = c.clients {
        what.push(Span::styled(format!(" · {n:.0} clients"), st.text));
    }
    what.push(Span::styled(format!(" · via {}", c.via), st.muted));
    lines.push(field(st, "role", what));
    if let Some((primary, replicas)) = &c.sentinel {
        lines.push(field(
            st,
            "sentinel",
            vec![Span::styled(
                format!("primary {primary} · {replicas} replica(s) known"),
                st.text,
            )],
        ));
    }
    if let Some((state, slots, nodes)) = &c.cluster {
        lines.push(field(
            st,
            "cluster",
            vec![Span::styled(
                format!("state {state} · {slots}/16384 slots ok · {nodes} nodes"),
                if state == "ok" { st.ok } else { st.crit },
            )],
        ));
    }
    if let Some((used, max)) = c.memory {
        let mut spans = if max > 0.0 {
            bar(st, used / max, t.cache_memory_warn, 10)
        } else {
            vec![Span::styled(tr_word("no maxmemory"), st.muted)]
        };
        spans.push(Span::styled(
            format!(" {:.0} MiB", used / 1_048_576.0),
            st.muted,
        ));
        spans.push(Span::styled(
            format!(" {}", spark(&c.memory_history, 16, Some(1.0))),
            st.accent,
        ));
        lines.push(field(st, "memory", spans));
    }
    let figures: Vec<String> = [
        c.hit_rate.map(|h| format!("hits {:.1} %", h * 100.0)),
        c.ops.map(|o| format!("{o:.0} ops/s")),
        c.evictions.map(|e| format!("{e:.1} evictions/s")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !figures.is_empty() {
        lines.push(field(
            st,
            "traffic",
            vec![Span::styled(figures.join(" · "), st.text)],
        ));
    }
    for r in &c.replicas {
        lines.push(field(
            st,
            "replica",
            vec![
                Span::styled(format!("{} ", r.name), st.text),
                Span::styled(format!("{} ", r.state), st.ok),
                Span::styled(
                    r.lag_seconds
                        .map(|l| format!("lag {l:.0} s"))
                        .unwrap_or_default(),
                    st.muted,
                ),
            ],
        ));
    }
    lines
}

/// CloudWatch's series: the last value and an hour's sparkline each; when
/// the last fetch failed, what failed and the age of the series kept,
/// drawn as stale.
pub(in crate::ui) fn cloudwatch_lines<'a>(
    app: &App,
    st: &Styles,
    series: Option<&crate::model::data::CloudWatchSeries>,
) -> Vec<Line<'a>> {
    let Some(series) = series else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if let Some((e, since)) = &series.failing {
        let kept = series.read_at.map_or_else(
            || "nothing read yet".to_owned(),
            |t| format!("last good {} ago", app.age(t).trim()),
        );
        lines.push(field(
            st,
            "cloudwatch",
            vec![
                Span::styled(
                    format!("failing {} · {kept}: ", app.age(*since).trim()),
                    st.stale,
                ),
                Span::styled(e.clone(), st.crit),
            ],
        ));
    }
    let value_style = if series.failing.is_some() {
        st.stale
    } else {
        st.text
    };
    lines.extend(
        series
            .metrics
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(metric, values)| {
                let last = values.last().copied().unwrap_or_default();
                let shown = match metric.as_str() {
                    "FreeStorageSpace" => format!("{:.0} GB", last / 1e9),
                    m if m.contains("CPU") || m.contains("Percentage") => format!("{last:.0} %"),
                    "ReplicaLag" => format!("{last:.1} s"),
                    _ => format!("{last:.0}"),
                };
                let history = History(values.iter().copied().collect());
                let percent = metric.contains("CPU") || metric.contains("Percentage");
                field(
                    st,
                    &short_metric(metric),
                    vec![
                        Span::styled(format!("{shown:>8} "), value_style),
                        Span::styled(spark(&history, 30, percent.then_some(100.0)), st.accent),
                    ],
                )
            }),
    );
    lines
}

fn short_metric(m: &str) -> String {
    match m {
        "CPUUtilization" | "EngineCPUUtilization" => "cw cpu".into(),
        "DatabaseConnections" | "CurrConnections" => "cw conns".into(),
        "FreeStorageSpace" => "cw storage".into(),
        "ReplicaLag" => "cw lag".into(),
        "DatabaseMemoryUsagePercentage" => "cw memory".into(),
        other => other.to_owned(),
    }
}

/// How a database or cache is reached. A direct URL is shown as its host
/// only: the user name stays out of shared screens, and the config never
/// holds a password.
pub(in crate::ui) fn reach<'a>(
    st: &Styles,
    direct: Option<&Direct>,
    exporter: Option<&str>,
    cloudwatch: Option<&CloudWatchRef>,
) -> Vec<Line<'a>> {
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("      {k:<11}"), st.muted),
            Span::styled(v, st.text),
        ])
    };
    let mut out = Vec::new();
    if let Some(d) = direct {
        out.push(field("direct", host_of(d.url.get_ref())));
    }
    if let Some(e) = exporter {
        out.push(field("exporter", crate::config::secret::mask_url(e)));
    }
    if let Some(c) = cloudwatch {
        out.push(field(
            "cloudwatch",
            format!("{} ({})", c.identifier, c.aws_region),
        ));
    }
    out
}

/// A URL's scheme, host and port: what a direct connection is, without
/// its user, path or query.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            (None, _) => format!("{}://", u.scheme()),
        },
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn direct_urls_show_only_scheme_and_host() {
        assert_eq!(
            super::host_of("postgres://touban@db.internal:5432/postgres"),
            "postgres://db.internal:5432"
        );
        assert_eq!(super::host_of("redis://h:6379"), "redis://h:6379");
    }
}

//! AI: each AI service of each region: health, readiness and metrics
//! endpoints, and the health of its source.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::data::spark;
use super::{empty_line, note, passes, region_columns, source_line};
use crate::app::App;
use crate::model::data::{AiStatus, DataStatus, Probe, Thresholds};
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;
use crate::ui::text::word as tr_word;

/// Draws the AI pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    for (inner, region) in region_columns(app, st, area, buf) {
        let r = region.name.get_ref();
        let services: Vec<_> = p
            .ai_services
            .iter()
            .filter(|a| a.region.get_ref() == r && passes(app, Pane::Ai, a.name.get_ref()))
            .collect();
        let mut lines = Vec::new();
        if services.is_empty() {
            lines.push(empty_line(app, st, Pane::Ai, "AI service"));
        }
        let field = |k: &str, v: &str| {
            Line::from(vec![
                Span::styled(format!("      {k:<9}"), st.muted),
                Span::styled(v.to_owned(), st.text),
            ])
        };
        for a in services {
            lines.push(source_line(
                app,
                st,
                r,
                SourceKind::AiService,
                a.name.get_ref(),
                0,
                super::selected(app, Pane::Ai, r, SourceKind::AiService, a.name.get_ref()),
            ));
            lines.push(super::verdict_line(
                st,
                &app.cell(r, SourceKind::AiService, a.name.get_ref()),
                4,
            ));
            if let Some(DataStatus::Ai(status)) =
                app.data(r, SourceKind::AiService, a.name.get_ref())
            {
                let live = app
                    .source(r, SourceKind::AiService, a.name.get_ref())
                    .is_live();
                lines.extend(super::last_known(
                    st,
                    live,
                    ai_lines(st, status, &p.thresholds),
                ));
                continue;
            }
            lines.push(field("health", a.health.get_ref()));
            lines.push(field("ready", a.ready.get_ref()));
            if let Some(m) = &a.metrics {
                lines.push(field("metrics", m.get_ref()));
            }
        }
        note(lines, inner, buf);
    }
}

fn probe_span<'a>(st: &Styles, p: Option<&Probe>) -> Span<'a> {
    match p {
        None => Span::styled(tr_word("not probed"), st.unknown),
        Some(p) => match &p.outcome {
            Ok(code) if p.ok() => {
                Span::styled(format!("{code} in {} ms", p.latency.as_millis()), st.ok)
            }
            Ok(code) => Span::styled(format!("HTTP {code}"), st.crit),
            Err(e) => Span::styled(e.clone(), st.crit),
        },
    }
}

/// Probes (after the verdict), then p95 latency and accuracy against their thresholds with
/// sparklines, and the error rate.
pub(in crate::ui) fn ai_lines<'a>(st: &Styles, a: &AiStatus, t: &Thresholds) -> Vec<Line<'a>> {
    let label = |k: &str| Span::styled(format!("      {k:<12}"), st.muted);
    let mut lines = vec![
        Line::from(vec![label("health"), probe_span(st, a.health.as_ref())]),
        Line::from(vec![label("ready"), probe_span(st, a.ready.as_ref())]),
    ];
    if let Some(p95) = a.p95_inference {
        let over = p95 > t.inference_p95_warn_seconds;
        lines.push(Line::from(vec![
            label("p95 latency"),
            Span::styled(
                format!("{p95:>5.2} s"),
                if over { st.warn } else { st.text },
            ),
            Span::styled(
                format!(" / {:.1} s ", t.inference_p95_warn_seconds),
                st.muted,
            ),
            Span::styled(
                spark(&a.p95_history, 24, None),
                if over { st.warn } else { st.accent },
            ),
        ]));
    }
    if let Some(acc) = a.accuracy {
        let under = acc < t.accuracy_crit;
        lines.push(Line::from(vec![
            label("accuracy"),
            Span::styled(
                format!("{acc:>5.3}  "),
                if under { st.crit } else { st.text },
            ),
            Span::styled(format!(" / {:.2} ", t.accuracy_crit), st.muted),
            Span::styled(
                spark(&a.accuracy_history, 24, Some(1.0)),
                if under { st.crit } else { st.accent },
            ),
        ]));
    }
    if let Some(e) = a.error_rate {
        lines.push(Line::from(vec![
            label("errors"),
            Span::styled(
                format!("{:.2} %", e * 100.0),
                if e > t.error_rate_crit {
                    st.crit
                } else {
                    st.text
                },
            ),
            Span::styled(format!(" / {:.0} %", t.error_rate_crit * 100.0), st.muted),
        ]));
    }
    lines
}

//! AI: each AI service of each region: health, readiness and metrics
//! endpoints, and the health of its source.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{empty_line, note, passes, region_columns, source_line};
use crate::app::App;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

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
                false,
            ));
            lines.push(field("health", a.health.get_ref()));
            lines.push(field("ready", a.ready.get_ref()));
            if let Some(m) = &a.metrics {
                lines.push(field("metrics", m.get_ref()));
            }
        }
        note(lines, inner, buf);
    }
}

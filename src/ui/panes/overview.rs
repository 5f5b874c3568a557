//! Overview: the regions side by side, a line per cluster, database, cache,
//! AI service and alert source with its health and the age of its data.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{heading, name_width, note, region_columns, source_line};
use crate::app::App;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

/// Draws the overview.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let selected = p
        .clusters
        .get(app.cursor(Pane::Overview))
        .map(|c| c.name.get_ref().as_str());
    let name_w = [
        p.clusters.iter().map(|c| c.name.get_ref().len()).max(),
        p.databases.iter().map(|d| d.name.get_ref().len()).max(),
        p.caches.iter().map(|c| c.name.get_ref().len()).max(),
        p.ai_services.iter().map(|a| a.name.get_ref().len()).max(),
        p.alert_sources.iter().map(|a| a.name.get_ref().len()).max(),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0);
    for (inner, region) in region_columns(app, st, area, buf) {
        let name_w = name_width(name_w, inner);
        let r = region.name.get_ref();
        let mut lines = Vec::new();
        let section = |title: &str,
                       kind: SourceKind,
                       names: Vec<&str>,
                       empty: &str,
                       lines: &mut Vec<Line>| {
            lines.push(heading(st, title));
            if names.is_empty() {
                lines.push(Line::from(Span::styled(format!("  {empty}"), st.muted)));
            }
            for name in names {
                let is_selected = kind == SourceKind::Cluster && selected == Some(name);
                lines.push(source_line(app, st, r, kind, name, name_w, is_selected));
            }
        };
        let in_region = |region_of: &toml::Spanned<String>| region_of.get_ref() == r;
        section(
            "clusters",
            SourceKind::Cluster,
            p.clusters
                .iter()
                .filter(|c| in_region(&c.region))
                .map(|c| c.name.get_ref().as_str())
                .collect(),
            "no cluster configured",
            &mut lines,
        );
        section(
            "databases",
            SourceKind::Database,
            p.databases
                .iter()
                .filter(|d| in_region(&d.region))
                .map(|d| d.name.get_ref().as_str())
                .collect(),
            "no database configured",
            &mut lines,
        );
        section(
            "caches",
            SourceKind::Cache,
            p.caches
                .iter()
                .filter(|c| in_region(&c.region))
                .map(|c| c.name.get_ref().as_str())
                .collect(),
            "no cache configured",
            &mut lines,
        );
        section(
            "ai services",
            SourceKind::AiService,
            p.ai_services
                .iter()
                .filter(|a| in_region(&a.region))
                .map(|a| a.name.get_ref().as_str())
                .collect(),
            "no AI service configured",
            &mut lines,
        );
        section(
            "alert sources",
            SourceKind::Alerts,
            p.alert_sources
                .iter()
                .filter(|a| in_region(&a.region))
                .map(|a| a.name.get_ref().as_str())
                .collect(),
            "no alert source configured",
            &mut lines,
        );
        note(lines, inner, buf);
    }
}

//! Failover: which region serves and which stands by, and the health of
//! the data tier each would fail over to or from.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{heading, note, region_columns, source_line};
use crate::app::App;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

/// Draws the failover pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    for (inner, region) in region_columns(app, st, area, buf) {
        let r = region.name.get_ref();
        let role = match region.role {
            crate::config::platform::Role::Primary => "serves production",
            crate::config::platform::Role::Dr => "stands by for disaster recovery",
        };
        let mut lines = vec![
            Line::from(Span::styled(format!("{} {role}", region.display), st.text)),
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
                "  no database or cache configured",
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
        note(lines, inner, buf);
    }
}

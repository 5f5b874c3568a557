//! Scaling: node groups against their configured bounds, and (once the
//! cluster reports) HPAs and replicas.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Row, Table, Widget};

use super::{empty_line, note, passes};
use crate::app::App;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

/// Draws the scaling pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let mut rows = Vec::new();
    for c in &p.clusters {
        let state = app.source(c.region.get_ref(), SourceKind::Cluster, c.name.get_ref());
        for g in c
            .node_groups
            .iter()
            .filter(|g| passes(app, Pane::Scaling, g.name.get_ref()))
        {
            rows.push(Row::new(vec![
                Span::styled(c.name.get_ref().clone(), st.text),
                Span::styled(g.name.get_ref().clone(), st.text),
                Span::styled(g.min.to_string(), st.muted),
                Span::styled(g.desired.to_string(), st.text),
                Span::styled(g.max.to_string(), st.muted),
                // Node counts come from the cluster's watcher; none yet.
                Span::styled(format!("— ({})", state.word()), st.state(state)),
            ]));
        }
    }
    if rows.is_empty() {
        note(
            vec![empty_line(app, st, Pane::Scaling, "node group")],
            area,
            buf,
        );
        return;
    }
    let header =
        Row::new(["CLUSTER", "NODE GROUP", "MIN", "DESIRED", "MAX", "NODES"]).style(st.muted);
    Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(20),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(5),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .render(area, buf);
}

//! Rollouts: rollout state, revisions and blue / green colours per cluster.
//! They come from each cluster's deployments; until a cluster reports, its
//! line says so.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{empty_line, heading, note, passes, source_line};
use crate::app::App;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

/// Draws the rollouts pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let mut lines = vec![heading(
        st,
        "deployments and blue / green services, per cluster",
    )];
    let clusters: Vec<_> = p
        .clusters
        .iter()
        .filter(|c| passes(app, Pane::Rollouts, c.name.get_ref()))
        .collect();
    if clusters.is_empty() {
        lines.push(empty_line(app, st, Pane::Rollouts, "cluster"));
    }
    let w = clusters
        .iter()
        .map(|c| c.name.get_ref().len())
        .max()
        .unwrap_or(0);
    for c in clusters {
        lines.push(source_line(
            app,
            st,
            c.region.get_ref(),
            SourceKind::Cluster,
            c.name.get_ref(),
            w,
            false,
        ));
    }
    note(lines, area, buf);
}

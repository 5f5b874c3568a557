//! Cluster: one cluster's nodes, deployments, pods and events. Until its
//! watcher reports, it says how the cluster is reached and what it waits for.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{heading, note, source_line};
use crate::app::App;
use crate::model::SourceKind;
use crate::ui::Styles;

/// Draws the cluster pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let Some(cluster) = app
        .selected_cluster()
        .and_then(|name| p.clusters.iter().find(|c| c.name.get_ref() == name))
    else {
        note(
            vec![Line::from(Span::styled(
                "no cluster configured: add a [[clusters]] table to the config",
                st.muted,
            ))],
            area,
            buf,
        );
        return;
    };
    let region = cluster.region.get_ref();
    let region_name = p
        .region(region)
        .map_or(region.as_str(), |r| r.display.as_str());
    let namespaces = if cluster.namespaces.is_empty() {
        "all".to_owned()
    } else {
        cluster.namespaces.join(", ")
    };
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("  {k:<12}"), st.muted),
            Span::styled(v, st.text),
        ])
    };
    let mut lines = vec![
        source_line(
            app,
            st,
            region,
            SourceKind::Cluster,
            cluster.name.get_ref(),
            cluster.name.get_ref().len(),
            false,
        ),
        field("region", region_name.to_owned()),
        field("context", cluster.context.clone()),
        field(
            "kubeconfig",
            cluster.kubeconfig.as_ref().map_or_else(
                || "default ($KUBECONFIG or ~/.kube/config)".to_owned(),
                |k| k.display().to_string(),
            ),
        ),
        field("namespaces", namespaces),
        Line::default(),
        heading(st, "nodes · deployments · pods · events"),
    ];
    let state = app.source(region, SourceKind::Cluster, cluster.name.get_ref());
    lines.push(Line::from(Span::styled(
        format!(
            "  no data from {} yet ({})",
            cluster.name.get_ref(),
            state.word()
        ),
        st.unknown,
    )));
    let others: Vec<_> = p
        .clusters
        .iter()
        .filter(|c| c.name.get_ref() != cluster.name.get_ref())
        .collect();
    if !others.is_empty() {
        lines.push(Line::default());
        lines.push(heading(st, "other clusters (select one in the overview)"));
        for c in others {
            lines.push(source_line(
                app,
                st,
                c.region.get_ref(),
                SourceKind::Cluster,
                c.name.get_ref(),
                0,
                false,
            ));
        }
    }
    note(lines, area, buf);
}

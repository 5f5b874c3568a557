//! Cluster: one cluster's pods, deployments, nodes and events as tables (only the
//! rows on screen are built, so drawing costs the same at 10 or 10,000).
//! Until its watcher has listed it, the pane says how the cluster is
//! reached and what it waits for.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Widget};

use super::{heading, note, source_line, table_row};
use crate::app::App;
use crate::model::cluster::{ClusterState, ClusterView};
use std::time::SystemTime;

use crate::model::source::age_label;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;
use crate::ui::text::trf;
use crate::ui::text::word as tr_word;

/// Draws the cluster pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let Some((name, cluster)) = app
        .selected_cluster()
        .and_then(|n| app.cluster(n).map(|c| (n, c)))
    else {
        waiting(app, st, area, buf);
        return;
    };
    let query = app.cluster_query();
    let view = query.view;
    let [tabs, table] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let keep = |k: &str| app.filter_matches(Pane::Cluster, k);
    let filtered: Option<&dyn Fn(&str) -> bool> = app.filter(Pane::Cluster).map(|_| &keep as _);
    // The cursor stays on screen; only the rows of the window are built.
    let height = usize::from(table.height.saturating_sub(1)).max(1);
    let window = cluster.window(query, filtered, app.cursor(Pane::Cluster), height);
    tabs_line(app, st, name, area.width, window.total).render(tabs, buf);
    let cursor = app
        .cursor(Pane::Cluster)
        .min(window.total.saturating_sub(1));
    let visible: Vec<(usize, &str)> = window
        .keys
        .iter()
        .copied()
        .enumerate()
        .map(|(i, k)| (window.offset + i, k))
        .collect();
    // Every namespace: a NAMESPACE column, where there is room for it.
    let all = query.namespace.is_none() && area.width >= 100;
    let (header, widths, rows) = match view {
        ClusterView::Pods => pod_table(cluster, &visible, cursor, st, app.now(), all),
        ClusterView::Deployments => deployment_table(cluster, &visible, cursor, st, app.now(), all),
        ClusterView::Nodes => node_table(cluster, &visible, cursor, st),
        ClusterView::Events => event_table(cluster, &visible, cursor, st, app.now()),
    };
    if window.total == 0 {
        let what = tr_word(view.title()).to_lowercase();
        let text = match app.filter(Pane::Cluster) {
            Some(f) => trf(
                "cluster-none-match",
                [("what", what.as_str().into()), ("filter", f.into())],
            ),
            None => trf(
                "cluster-none-in",
                [("what", what.as_str().into()), ("cluster", name.into())],
            ),
        };
        Paragraph::new(Line::from(Span::styled(text, st.muted))).render(table, buf);
        return;
    }
    Table::new(rows, super::columns(table.width, &widths))
        .header(super::header_row(header).style(st.muted))
        .render(table, buf);
}

/// The line above the table: the cluster, whether its rows are the last
/// known, the views (only the one shown when narrow), the namespace, the
/// row count and the sort.
fn tabs_line<'a>(app: &App, st: &Styles, name: &str, width: u16, total: usize) -> Line<'a> {
    let query = app.cluster_query();
    let view = query.view;
    let mut spans = vec![Span::styled(format!(" {name} "), st.accent)];
    // Rows from a source that is not live are what it last said: marked so
    // before anything else on the line.
    let region = app
        .platform()
        .clusters
        .iter()
        .find(|c| c.name.get_ref() == name)
        .map(|c| c.region.get_ref().clone())
        .unwrap_or_default();
    let state = app.source(&region, crate::model::SourceKind::Cluster, name);
    if !state.is_live() {
        let age = state
            .since()
            .and_then(|t| app.now().duration_since(t).ok())
            .map(|d| {
                format!(
                    " {}",
                    crate::ui::text::age_short(crate::ui::text::age_coarse(d))
                )
            })
            .unwrap_or_default();
        spans.push(Span::styled(
            format!(
                " {}{age}: {} ",
                tr_word(state.word()).to_uppercase(),
                tr_word("last known rows")
            ),
            st.stale,
        ));
    }
    // Narrow: only the view shown, between the keys' arrows.
    for v in ClusterView::ALL {
        if v == view {
            spans.push(Span::styled(
                format!(" {} ", tr_word(v.title())),
                st.selection,
            ));
        } else if width >= 100 {
            spans.push(Span::styled(format!(" {} ", tr_word(v.title())), st.tab));
        }
    }
    if view != ClusterView::Nodes {
        spans.push(Span::styled(
            format!("  ns {}", query.namespace.unwrap_or("all")),
            st.text,
        ));
    }
    spans.push(Span::styled(
        format!(
            "  {}",
            trf(
                "cluster-rows",
                [
                    ("n", total.into()),
                    (
                        "sort",
                        tr_word(view.sorts().get(query.sort).copied().unwrap_or("name"))
                            .as_ref()
                            .into()
                    ),
                ]
            )
        ),
        st.muted,
    ));
    Line::from(spans)
}

/// A table's header, column widths and rows.
type Table3<'a> = (Vec<&'static str>, Vec<Constraint>, Vec<Row<'a>>);

/// The pod table: header, widths, and the rows on screen.
fn pod_table<'a>(
    cluster: &ClusterState,
    visible: &[(usize, &str)],
    cursor: usize,
    st: &Styles,
    now: SystemTime,
    all: bool,
) -> Table3<'a> {
    with_namespace(
        all,
        vec!["NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"],
        vec![
            Constraint::Min(33),
            Constraint::Length(5),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Fill(1),
            Constraint::Length(6),
        ],
        visible
            .iter()
            .filter_map(|(i, k)| cluster.pods.get(*k).map(|p| (*i, p)))
            .map(|(i, p)| {
                let age = age(now, p.created);
                let status_style = match p.status.as_str() {
                    "Running" if p.is_ready() => st.ok,
                    "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "Error" => st.crit,
                    _ => st.warn,
                };
                select(
                    all,
                    &p.namespace,
                    vec![
                        Span::styled(p.name.clone(), st.text),
                        Span::styled(format!("{}/{}", p.ready, p.containers), st.text),
                        Span::styled(p.status.clone(), status_style),
                        Span::styled(
                            p.restarts.to_string(),
                            if p.restarts > 0 { st.warn } else { st.muted },
                        ),
                        Span::styled(p.node.clone(), st.muted),
                        Span::styled(age, st.muted),
                    ],
                    i == cursor,
                    st,
                )
            })
            .collect(),
    )
}

/// The deployment table: header, widths, and the rows on screen.
fn deployment_table<'a>(
    cluster: &ClusterState,
    visible: &[(usize, &str)],
    cursor: usize,
    st: &Styles,
    now: SystemTime,
    all: bool,
) -> Table3<'a> {
    with_namespace(
        all,
        vec![
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "COLOR",
            "IMAGE",
        ],
        vec![
            Constraint::Min(22),
            Constraint::Length(7),
            Constraint::Length(11),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Min(20),
        ],
        visible
            .iter()
            .filter_map(|(i, k)| cluster.deployments.get(*k).map(|d| (*i, d)))
            .map(|(i, d)| {
                let stalled = d.progressing.as_deref() == Some("ProgressDeadlineExceeded");
                let ready_style = if stalled {
                    st.crit
                } else if d.available < d.desired {
                    st.warn
                } else {
                    st.ok
                };
                select(
                    all,
                    &d.namespace,
                    vec![
                        Span::styled(d.name.clone(), st.text),
                        Span::styled(format!("{}/{}", d.ready, d.desired), ready_style),
                        Span::styled(d.updated.to_string(), st.text),
                        Span::styled(d.available.to_string(), st.text),
                        Span::styled(age(now, d.created), st.muted),
                        Span::styled(d.color.clone().unwrap_or_default(), st.accent),
                        Span::styled(d.image.clone(), st.muted),
                    ],
                    i == cursor,
                    st,
                )
            })
            .collect(),
    )
}

/// The node table: header, widths, and the rows on screen.
fn node_table<'a>(
    cluster: &ClusterState,
    visible: &[(usize, &str)],
    cursor: usize,
    st: &Styles,
) -> Table3<'a> {
    (
        vec!["GROUP", "NAME", "STATUS", "ZONE", "TYPE", "ALLOC", "TAINTS"],
        vec![
            Constraint::Length(18),
            Constraint::Min(24),
            Constraint::Length(9),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Length(12),
            Constraint::Min(10),
        ],
        visible
            .iter()
            .filter_map(|(i, k)| cluster.nodes.get(*k).map(|n| (*i, n)))
            .map(|(i, n)| {
                let status = match (n.ready, n.unschedulable) {
                    (true, false) => ("Ready", st.ok),
                    (true, true) => ("Cordoned", st.warn),
                    (false, _) => ("NotReady", st.crit),
                };
                select(
                    false,
                    "",
                    vec![
                        Span::styled(n.group.clone(), st.accent),
                        Span::styled(n.name.clone(), st.text),
                        Span::styled(status.0, status.1),
                        Span::styled(n.zone.clone(), st.muted),
                        Span::styled(n.instance_type.clone(), st.muted),
                        Span::styled(n.allocatable_text(), st.muted),
                        Span::styled(n.taints.join(","), st.muted),
                    ],
                    i == cursor,
                    st,
                )
            })
            .collect(),
    )
}

/// The event table: newest first, warnings highlighted.
fn event_table<'a>(
    cluster: &ClusterState,
    visible: &[(usize, &str)],
    cursor: usize,
    st: &Styles,
    now: SystemTime,
) -> Table3<'a> {
    (
        vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        vec![
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(22),
            Constraint::Length(34),
            Constraint::Min(20),
        ],
        visible
            .iter()
            .filter_map(|(i, k)| cluster.events.get(*k).map(|e| (*i, e)))
            .map(|(i, e)| {
                let (word, style) = if e.warning {
                    ("Warning", st.warn)
                } else {
                    ("Normal", st.muted)
                };
                let seen = if e.count > 1 {
                    format!("{} (x{})", age(now, e.last), e.count)
                } else {
                    age(now, e.last)
                };
                select(
                    false,
                    "",
                    vec![
                        Span::styled(seen, st.muted),
                        Span::styled(word, style),
                        Span::styled(e.reason.clone(), if e.warning { st.warn } else { st.text }),
                        Span::styled(e.object.clone(), st.text),
                        Span::styled(e.message.clone(), st.muted),
                    ],
                    i == cursor,
                    st,
                )
            })
            .collect(),
    )
}

/// An age column: how long ago `t` was.
fn age(now: SystemTime, t: Option<SystemTime>) -> String {
    t.and_then(|c| now.duration_since(c).ok())
        .map(age_label)
        .unwrap_or_default()
}

/// Adds a NAMESPACE column first when every namespace is shown.
fn with_namespace<'a>(
    all: bool,
    mut header: Vec<&'static str>,
    mut widths: Vec<Constraint>,
    rows: Vec<Row<'a>>,
) -> Table3<'a> {
    if all {
        header.insert(0, "NAMESPACE");
        widths.insert(0, Constraint::Length(18));
    }
    (header, widths, rows)
}

/// A row of cells, with its namespace first when every namespace is
/// shown, highlighted when selected.
fn select<'a>(
    all: bool,
    namespace: &str,
    mut cells: Vec<Span<'a>>,
    selected: bool,
    st: &Styles,
) -> Row<'a> {
    if all {
        cells.insert(0, Span::styled(namespace.to_owned(), st.muted));
    }
    table_row(cells, selected, st)
}

/// The pane before its cluster is listed: how the cluster is reached.
fn waiting(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let Some(cluster) = app
        .selected_cluster()
        .and_then(|name| p.clusters.iter().find(|c| c.name.get_ref() == name))
    else {
        note(
            vec![Line::from(Span::styled(
                tr_word("no cluster configured: add a [[clusters]] table to the config"),
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
            tr_word(state.word())
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

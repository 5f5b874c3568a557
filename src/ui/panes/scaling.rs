//! Scaling: HPAs (replicas, bounds, utilisation against target, last
//! scale, and faults: a target that does not exist, or a colour that is
//! not live), node groups as their cloud sizes them, and each
//! deployment's replicas (only the rows on screen built).

use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, Widget};

use super::{empty_line, heading, note, passes};
use crate::app::App;
use crate::model::cluster::Utilisation;
use crate::model::rollout::{self, releases};
use crate::model::source::age_label;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;
use crate::ui::text::trf;
use crate::ui::text::word as tr_word;

/// Draws the scaling pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let (hpa_rows, hpa_count) = hpas(app, st);
    let groups = node_groups(app, st);
    let hpa_h = u16::try_from(hpa_count.max(1) + 2).unwrap_or(u16::MAX);
    let group_h = u16::try_from(groups.len().max(1) + 2).unwrap_or(u16::MAX);
    let [a, b, c] = Layout::vertical([
        Constraint::Length(hpa_h),
        Constraint::Length(group_h),
        Constraint::Min(3),
    ])
    .areas(area);
    section(
        st,
        a,
        buf,
        "horizontal pod autoscalers",
        hpa_rows,
        &[
            "CLUSTER", "HPA", "TARGET", "REPLICAS", "MIN", "MAX", "CPU", "MEMORY", "SCALED",
            "FAULT",
        ],
        &[
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(18),
            Constraint::Length(9),
            Constraint::Length(4),
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Min(10),
        ],
        &empty_line(app, st, Pane::Scaling, "HPA"),
    );
    section(
        st,
        b,
        buf,
        "node groups: the cloud's sizes (the config's where unread)",
        groups,
        &[
            "CLUSTER",
            "NODE GROUP",
            "MIN",
            "DESIRED",
            "MAX",
            "NODES",
            "CLOUD",
        ],
        &[
            Constraint::Length(10),
            Constraint::Length(18),
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(22),
            Constraint::Min(9),
        ],
        &empty_line(app, st, Pane::Scaling, "node group"),
    );
    deployments(app, st, c, buf);
}

/// A titled table, or its empty line.
#[allow(clippy::too_many_arguments)]
fn section(
    st: &Styles,
    area: Rect,
    buf: &mut Buffer,
    title: &'static str,
    rows: Vec<Row<'_>>,
    header: &[&'static str],
    widths: &[Constraint],
    empty: &Line<'_>,
) {
    let [t, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    heading(st, title).render(t, buf);
    if rows.is_empty() {
        note(vec![empty.clone()], body, buf);
        return;
    }
    Table::new(rows, super::columns(body.width, widths))
        .header(super::header_row(header.iter().copied()).style(st.muted))
        .render(body, buf);
}

fn utilisation(u: Utilisation) -> String {
    match (u.current, u.target) {
        (_, None) => "—".into(),
        (Some(c), Some(t)) => format!("{c}/{t}%"),
        (None, Some(t)) => format!("?/{t}%"),
    }
}

/// A cluster's name in a table: in the selection's colours when the
/// selection (↑↓, Enter opens its source) is on that cluster.
fn cluster_style(app: &App, st: &Styles, cluster: &str) -> ratatui::style::Style {
    if app
        .selected_source(Pane::Scaling)
        .is_some_and(|id| id.name == cluster)
    {
        st.selection
    } else {
        st.muted
    }
}

/// Every cluster's HPAs, with faults.
fn hpas<'a>(app: &App, st: &Styles) -> (Vec<Row<'a>>, usize) {
    let now: SystemTime = app.now();
    let mut rows = Vec::new();
    for c in &app.platform().clusters {
        let name = c.name.get_ref();
        let Some(state) = app.cluster(name) else {
            continue;
        };
        let rs = releases(state);
        // The filter matches any column that names something: the cluster,
        // the HPA, its target.
        let whole_cluster = passes(app, Pane::Scaling, name);
        for h in state.hpas.values().filter(|h| {
            whole_cluster
                || passes(app, Pane::Scaling, &h.name)
                || passes(app, Pane::Scaling, &h.target)
        }) {
            let fault = rollout::hpa_fault(state, &rs, h);
            let (text, style) = match (&fault, h.failing.first()) {
                (Some(f), _) => (f.clone(), st.crit),
                (None, Some(cond)) => (cond.clone(), st.warn),
                (None, None) => ("none".to_owned(), st.ok),
            };
            rows.push(Row::new(vec![
                Span::styled(name.clone(), cluster_style(app, st, name)),
                Span::styled(h.name.clone(), st.text),
                Span::styled(
                    h.target.clone(),
                    if fault.is_some() { st.crit } else { st.text },
                ),
                Span::styled(format!("{}→{}", h.current, h.desired), st.text),
                Span::styled(h.min.to_string(), st.muted),
                Span::styled(h.max.to_string(), st.muted),
                Span::styled(utilisation(h.cpu), st.text),
                Span::styled(utilisation(h.memory), st.text),
                Span::styled(
                    h.last_scale
                        .and_then(|t| now.duration_since(t).ok())
                        .map_or_else(|| "never".to_owned(), age_label),
                    st.muted,
                ),
                Span::styled(text, style),
            ]));
        }
    }
    let n = rows.len();
    (rows, n)
}

/// A reading of the cloud's older than this is shown as stale.
const CLOUD_STALE: std::time::Duration = std::time::Duration::from_secs(60);

/// The configured node groups: their sizes as the cloud reports them (the
/// config's, muted, where the cluster names no cloud or it was not read),
/// the nodes the watcher sees in each against them, and the cloud's word.
fn node_groups<'a>(app: &App, st: &Styles) -> Vec<Row<'a>> {
    let now = app.now();
    let mut rows = Vec::new();
    for c in &app.platform().clusters {
        let state = app.source(c.region.get_ref(), SourceKind::Cluster, c.name.get_ref());
        let cluster = app.cluster(c.name.get_ref());
        let cloud = app.cloud_groups(c.name.get_ref());
        let has_cloud = c.eks.is_some() || c.aks.is_some();
        let whole_cluster = passes(app, Pane::Scaling, c.name.get_ref());
        for g in c
            .node_groups
            .iter()
            .filter(|g| whole_cluster || passes(app, Pane::Scaling, g.name.get_ref()))
        {
            let read = cloud.and_then(|r| {
                r.groups
                    .iter()
                    .find(|(name, _)| name == g.name.get_ref())
                    .map(|(_, p)| (r.at, p))
            });
            let age = read.and_then(|(at, _)| now.duration_since(at).ok());
            let outdated = age.is_some_and(|a| a > CLOUD_STALE);
            let pool = read
                .and_then(|(_, p)| p.as_ref().ok())
                .filter(|_| !outdated);
            // The cloud's sizes when read, else the config's.
            let (min, desired, max) = match pool {
                Some(p) => (p.min, p.desired, p.max),
                None => (Some(g.min), g.desired, Some(g.max)),
            };
            let nodes = cluster.map(|cl| {
                let of_group = cl.nodes.values().filter(|n| &n.group == g.name.get_ref());
                of_group.fold((0u32, 0u32), |(r, t), n| (r + u32::from(n.ready), t + 1))
            });
            let shown = match nodes {
                None => Span::styled(format!("— ({})", tr_word(state.word())), st.state(state)),
                Some((ready, total)) => {
                    let outside = min.is_some_and(|m| total < m) || max.is_some_and(|m| total > m);
                    let (why, style) = if outside {
                        (" ∉ min..max", st.crit)
                    } else if ready < total {
                        ("", st.warn)
                    } else if total == desired {
                        ("", st.ok)
                    } else if pool.is_some() {
                        (" ≠ desired", st.warn)
                    } else {
                        (" ≠ config", st.warn)
                    };
                    Span::styled(format!("{ready}/{total} ready{why}"), style)
                }
            };
            let word = match read {
                _ if !has_cloud => Span::styled(tr_word("config").into_owned(), st.muted),
                None => Span::styled(tr_word("unread").into_owned(), st.muted),
                Some((_, Err(why))) => {
                    Span::styled(format!("{}: {why}", tr_word("error")), st.crit)
                }
                Some((_, Ok(p))) if outdated => Span::styled(
                    format!(
                        "{} {} ago",
                        p.status,
                        age.map_or_else(String::new, age_label)
                    ),
                    st.warn,
                ),
                Some((_, Ok(p))) => {
                    Span::styled(p.status.clone(), if p.settled() { st.ok } else { st.warn })
                }
            };
            let size = |v: Option<u32>, style| {
                Span::styled(v.map_or_else(|| "—".to_owned(), |v| v.to_string()), style)
            };
            let sized = if pool.is_some() { st.text } else { st.muted };
            rows.push(Row::new(vec![
                Span::styled(
                    c.name.get_ref().clone(),
                    cluster_style(app, st, c.name.get_ref()),
                ),
                Span::styled(g.name.get_ref().clone(), st.text),
                size(min, st.muted),
                size(Some(desired), sized),
                size(max, st.muted),
                shown,
                word,
            ]));
        }
    }
    rows
}

/// Each deployment's replicas, and the HPA that scales it.
fn deployments(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let [t, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let height = usize::from(body.height.saturating_sub(1));
    let mut total = 0;
    let mut rows = Vec::new();
    for c in &app.platform().clusters {
        let name = c.name.get_ref();
        let Some(state) = app.cluster(name) else {
            continue;
        };
        let whole_cluster = passes(app, Pane::Scaling, name);
        for d in state.deployments.values().filter(|d| {
            whole_cluster
                || passes(app, Pane::Scaling, &d.name)
                || passes(app, Pane::Scaling, &format!("{}/{}", d.namespace, d.name))
        }) {
            total += 1;
            if rows.len() >= height {
                continue;
            }
            let hpa = state
                .hpas
                .values()
                .find(|h| h.namespace == d.namespace && h.target == d.name)
                .map_or_else(|| "—".to_owned(), |h| h.name.clone());
            let style = if d.ready < d.desired { st.warn } else { st.ok };
            rows.push(Row::new(vec![
                Span::styled(name.clone(), cluster_style(app, st, name)),
                Span::styled(format!("{}/{}", d.namespace, d.name), st.text),
                Span::styled(format!("{}/{}", d.ready, d.desired), style),
                Span::styled(hpa, st.muted),
            ]));
        }
    }
    super::heading_owned(st, &trf("scaling-replicas-heading", [("n", total.into())]))
        .render(t, buf);
    Table::new(
        rows,
        super::columns(
            body.width,
            &[
                Constraint::Length(10),
                Constraint::Min(30),
                Constraint::Length(8),
                Constraint::Min(10),
            ],
        ),
    )
    .header(super::header_row(["CLUSTER", "DEPLOYMENT", "READY", "HPA"]).style(st.muted))
    .render(body, buf);
}

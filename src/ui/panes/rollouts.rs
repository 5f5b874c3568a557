//! Rollouts: blue / green releases per cluster (which colour is live, both
//! colours side by side), what is wrong with them, drift between the
//! regions, then every deployment's rollout state by kubectl's rules and
//! the selected one's revision history. Until a cluster reports, its line
//! says so.

use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, Widget};

use super::{heading, note, source_line, table_row};
use crate::app::App;
use crate::model::cluster::{DeploymentRow, Health};
use crate::model::rollout::{self, Drift, Release, RolloutState, image_tag, releases};
use crate::model::source::age_label;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;
use crate::ui::text::trf;
use crate::ui::text::word as tr_word;

/// Revisions listed under the table, at most.
const REVISIONS: usize = rollout::SHOWN_REVISIONS;
/// Flag lines, at most (the rest are counted).
const FLAGS: usize = 6;

/// Draws the rollouts pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let listed: Vec<(&str, &crate::model::cluster::ClusterState)> = p
        .clusters
        .iter()
        .filter_map(|c| {
            let name = c.name.get_ref().as_str();
            app.cluster(name).map(|s| (name, s))
        })
        .collect();
    if listed.is_empty() {
        waiting(app, st, area, buf);
        return;
    }
    let per_cluster: Vec<(&str, Vec<Release<'_>>)> =
        listed.iter().map(|(n, c)| (*n, releases(c))).collect();
    // Wide: a line per release per cluster, both colours and the Services.
    // Narrow: a line per release, each cluster's live colour side by side.
    let wide = area.width >= 140;
    let bg = if wide {
        blue_green_lines(app, st, &per_cluster)
    } else {
        live_colour_lines(app, st, &per_cluster)
    };
    let max_flags = if area.height >= 30 { FLAGS } else { FLAGS / 2 };
    let flags = flag_lines(app, st, max_flags);
    let rows = app.rollout_rows();
    let cursor = app.cursor(Pane::Rollouts).min(rows.len().saturating_sub(1));
    let history = rows
        .get(cursor)
        .map(|(c, d)| revision_lines(app, st, c, d))
        .unwrap_or_default();
    let len = |v: &Vec<Line<'_>>| u16::try_from(v.len()).unwrap_or(u16::MAX);
    let [bg_area, flag_area, table_area, history_area] = Layout::vertical([
        Constraint::Length(len(&bg)),
        Constraint::Length(len(&flags)),
        Constraint::Min(4),
        Constraint::Length(len(&history)),
    ])
    .areas(area);
    note(bg, bg_area, buf);
    note(flags, flag_area, buf);
    deployment_table(st, &rows, cursor, table_area, wide, buf);
    note(history, history_area, buf);
}

/// A line per release per cluster: the live colour, then each colour's
/// image tag and ready / desired, then the Services and where they route.
fn blue_green_lines<'a>(
    app: &App,
    st: &Styles,
    per_cluster: &[(&str, Vec<Release<'_>>)],
) -> Vec<Line<'a>> {
    let mut lines = vec![heading(st, "blue / green: live colour per release")];
    let w = per_cluster
        .iter()
        .flat_map(|(_, rs)| rs.iter().map(|r| r.app.len()))
        .max()
        .unwrap_or(0);
    let cw = per_cluster.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    for (cluster, rs) in per_cluster {
        for r in rs
            .iter()
            .filter(|r| app.filter_matches(Pane::Rollouts, r.app))
        {
            let live = r.live();
            let mut spans = vec![
                Span::styled(format!("  {:<w$} ", r.app), st.text),
                Span::styled(format!("{cluster:<cw$} "), st.muted),
                match live {
                    Some(c) => Span::styled(format!("live {c:<6}"), st.ok),
                    None => Span::styled("live ?     ".to_owned(), st.crit),
                },
            ];
            for d in &r.colours {
                let colour = d.color.as_deref().unwrap_or("");
                let style = if Some(colour) == live {
                    st.accent
                } else {
                    st.muted
                };
                spans.push(Span::styled(
                    format!(
                        " │ {colour} {} {}/{}",
                        image_tag(&d.image),
                        d.ready,
                        d.desired
                    ),
                    style,
                ));
            }
            let routes: Vec<String> = r
                .routes
                .iter()
                .map(|x| format!("{}→{}", x.service.name, x.colour.unwrap_or("both")))
                .collect();
            spans.push(Span::styled(format!(" │ {}", routes.join(" ")), st.muted));
            lines.push(Line::from(spans));
        }
    }
    if lines.len() == 1 {
        lines.push(Line::from(Span::styled(
            tr_word("  no deployment has a color label: no blue / green release"),
            st.muted,
        )));
    }
    lines
}

/// A line per release: the live colour, its tag and ready / desired in
/// each cluster, side by side.
fn live_colour_lines<'a>(
    app: &App,
    st: &Styles,
    per_cluster: &[(&str, Vec<Release<'_>>)],
) -> Vec<Line<'a>> {
    let mut lines = vec![heading(st, "blue / green: live colour per release")];
    let mut apps: Vec<(&str, &str)> = per_cluster
        .iter()
        .flat_map(|(_, rs)| rs.iter().map(|r| (r.namespace, r.app)))
        .filter(|(_, a)| app.filter_matches(Pane::Rollouts, a))
        .collect();
    apps.sort_unstable();
    apps.dedup();
    let w = apps.iter().map(|(_, a)| a.len()).max().unwrap_or(0);
    for (ns, name) in apps {
        let mut spans = vec![Span::styled(format!("  {name:<w$}"), st.text)];
        for (cluster, rs) in per_cluster {
            let Some(r) = rs.iter().find(|r| r.namespace == ns && r.app == name) else {
                continue;
            };
            spans.push(Span::styled(format!(" │ {cluster} "), st.muted));
            match r.live_deployment() {
                Some(d) => spans.push(Span::styled(
                    format!(
                        "{} {} {}/{}",
                        d.color.as_deref().unwrap_or(""),
                        image_tag(&d.image),
                        d.ready,
                        d.desired
                    ),
                    if d.ready < d.desired {
                        st.warn
                    } else {
                        st.accent
                    },
                )),
                None => spans.push(Span::styled(tr_word("no live colour"), st.crit)),
            }
        }
        lines.push(Line::from(spans));
    }
    if lines.len() == 1 {
        lines.push(Line::from(Span::styled(
            tr_word("  no deployment has a color label: no blue / green release"),
            st.muted,
        )));
    }
    lines
}

/// Faults of releases and HPAs per cluster, and drift between regions.
fn flag_lines<'a>(app: &App, st: &Styles, max: usize) -> Vec<Line<'a>> {
    let mut found = app.rollout_flags();
    found.retain(|(c, f)| {
        app.filter_matches(Pane::Rollouts, c) || app.filter_matches(Pane::Rollouts, &f.subject)
    });
    let drifts = region_drift(app);
    let flagged = drifts.iter().filter(|(_, d)| !d.expected).count();
    let mut lines = vec![super::heading_owned(
        st,
        &trf(
            "rollouts-flags-heading",
            [("faults", found.len().into()), ("drifts", flagged.into())],
        ),
    )];
    let total = found.len() + drifts.len();
    for (cluster, f) in found.iter().take(max) {
        let style = if f.health == Health::Crit {
            st.crit
        } else {
            st.warn
        };
        lines.push(Line::from(vec![
            Span::styled(
                if f.health == Health::Crit {
                    "  ✖ "
                } else {
                    "  ▲ "
                },
                style,
            ),
            Span::styled(format!("{cluster} {} ", f.subject), st.text),
            Span::styled(f.text.clone(), style),
        ]));
    }
    for (pair, d) in drifts.iter().take(max.saturating_sub(found.len())) {
        let style: Style = if d.expected { st.muted } else { st.warn };
        let why = if d.expected { " (standby)" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(if d.expected { "  · " } else { "  ≠ " }, style),
            Span::styled(format!("{} {} ", d.subject, d.what), st.text),
            Span::styled(format!("{pair}: {} vs {}{why}", d.left, d.right), style),
        ]));
    }
    if total > max {
        lines.push(Line::from(Span::styled(
            format!("  … {} more", total - max),
            st.muted,
        )));
    }
    if total == 0 {
        lines.push(Line::from(Span::styled(
            tr_word("  none: every Service routes to one ready colour, every HPA to a live one, and the regions agree"),
            st.ok,
        )));
    }
    lines
}

/// Drift between the regions that passes the pane's filter, labelled
/// `Tokyo↔Seoul`.
fn region_drift(app: &App) -> Vec<(String, Drift)> {
    app.region_drift()
        .into_iter()
        .filter(|d| app.filter_matches(Pane::Rollouts, &d.drift.subject))
        .map(|d| (d.pair, d.drift))
        .collect()
}

/// Every deployment's rollout state, only the rows on screen built.
fn deployment_table(
    st: &Styles,
    rows: &[(&str, &DeploymentRow)],
    cursor: usize,
    area: Rect,
    wide: bool,
    buf: &mut Buffer,
) {
    let height = usize::from(area.height.saturating_sub(2)).max(1);
    let offset = (cursor + 1).saturating_sub(height);
    let built: Vec<Row<'_>> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, (cluster, d))| {
            let state = rollout::rollout_state(d);
            let style = match state {
                RolloutState::Complete => st.ok,
                RolloutState::Progressing(_) => st.warn,
                RolloutState::Stalled(_) => st.crit,
            };
            table_row(
                vec![
                    Span::styled((*cluster).to_owned(), st.muted),
                    Span::styled(
                        if wide {
                            format!("{}/{}", d.namespace, d.name)
                        } else {
                            d.name.clone()
                        },
                        st.text,
                    ),
                    Span::styled(tr_word(state.word()), style),
                    Span::styled(format!("{}/{}", d.updated, d.desired), st.text),
                    Span::styled(format!("{}/{}", d.available, d.desired), st.text),
                    Span::styled(
                        d.revision.map(|r| r.to_string()).unwrap_or_default(),
                        st.muted,
                    ),
                    Span::styled(image_tag(&d.image).to_owned(), st.accent),
                    Span::styled(state.detail().to_owned(), style),
                ],
                i == cursor,
                st,
            )
        })
        .collect();
    let [title, table] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    super::heading_owned(
        st,
        &trf("rollouts-deployments-heading", [("n", rows.len().into())]),
    )
    .render(title, buf);
    Table::new(
        built,
        super::columns(
            table.width,
            &[
                Constraint::Length(10),
                Constraint::Min(if wide { 40 } else { 20 }),
                Constraint::Length(11),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Fill(1),
            ],
        ),
    )
    .header(
        super::header_row([
            "CLUSTER",
            "DEPLOYMENT",
            "STATE",
            "UPDATED",
            "AVAILABLE",
            "REV",
            "TAG",
            "WAITING FOR",
        ])
        .style(st.muted),
    )
    .render(table, buf);
}

/// The selected deployment's ReplicaSets, newest revision first.
fn revision_lines<'a>(app: &App, st: &Styles, cluster: &str, d: &DeploymentRow) -> Vec<Line<'a>> {
    let Some(state) = app.cluster(cluster) else {
        return Vec::new();
    };
    let revs = rollout::revisions(state, d);
    let picked = app.picked_revision_of(cluster, d);
    let mut lines = vec![super::heading_owned(
        st,
        &trf(
            "rollouts-revisions-heading",
            [
                ("name", d.name.as_str().into()),
                ("cluster", cluster.into()),
            ],
        ),
    )];
    if revs.is_empty() {
        lines.push(Line::from(Span::styled(
            tr_word("  no ReplicaSet seen for it"),
            st.muted,
        )));
    }
    let now: SystemTime = app.now();
    for r in revs.iter().take(REVISIONS) {
        let current = r.revision == d.revision;
        let chosen = picked.is_some() && r.revision == picked;
        let age = r
            .created
            .and_then(|c| now.duration_since(c).ok())
            .map(age_label)
            .unwrap_or_default();
        let line = Line::from(vec![
            Span::styled(
                format!(
                    "{} {} {:>3} ",
                    if chosen { "›" } else { " " },
                    if current { "▸" } else { " " },
                    r.revision.map(|r| r.to_string()).unwrap_or_default()
                ),
                if current { st.accent } else { st.muted },
            ),
            Span::styled(format!("{:<36} ", r.image), st.text),
            Span::styled(format!("{}/{} ready ", r.ready, r.desired), st.muted),
            Span::styled(format!("{age:>6}"), st.muted),
        ]);
        lines.push(if chosen {
            line.style(st.selection)
        } else {
            line
        });
    }
    if revs.len() > REVISIONS {
        lines.push(Line::from(Span::styled(
            format!("  … {} older", revs.len() - REVISIONS),
            st.muted,
        )));
    }
    lines
}

/// The pane before any cluster has been listed.
fn waiting(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let mut lines = vec![heading(
        st,
        "deployments and blue / green services, per cluster",
    )];
    if p.clusters.is_empty() {
        lines.push(Line::from(Span::styled(
            tr_word("  no cluster configured: add a [[clusters]] table to the config"),
            st.muted,
        )));
    }
    let w = p
        .clusters
        .iter()
        .map(|c| c.name.get_ref().len())
        .max()
        .unwrap_or(0);
    for c in &p.clusters {
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

//! Overview: the regions side by side, a line per cluster, database, cache,
//! AI service and alert source with its health and the age of its data.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{heading, name_width, note, region_columns, source_line};
use crate::app::App;
use crate::model::cluster::{ClusterState, Health};
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

/// Draws the overview.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let selected = p
        .clusters
        .get(app.cursor(Pane::Overview))
        .map(|c| c.name.get_ref().as_str());
    let name_w = longest_name(p);
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
                if kind == SourceKind::Cluster
                    && let Some(cluster) = app.cluster(name)
                {
                    lines.extend(cluster_cell(st, cluster));
                }
                if let Some(status) = app.data(r, kind, name) {
                    lines.push(super::data::verdict(
                        st,
                        crate::model::data::health(status, &p.thresholds),
                    ));
                }
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
        lines.extend(tail(app, st, region, name_w));
        note(lines, inner, buf);
    }
}

/// Below the sources: the frontend cell, the alert counts and the PromQL
/// figures, where configured.
fn tail<'a>(
    app: &App,
    st: &Styles,
    region: &crate::config::platform::Region,
    name_w: usize,
) -> Vec<Line<'a>> {
    let r = region.name.get_ref();
    let mut lines: Vec<Line<'a>> = alert_line(app, st, r).into_iter().collect();
    if let Some(app_label) = &app.platform().frontend {
        lines.push(heading(st, "frontend"));
        lines.extend(frontend(app, st, r, app_label));
    }
    if region.prometheus.is_some() {
        lines.extend(services(app, st, r, name_w));
    }
    lines
}

/// The frontend release in each of the region's clusters: its live
/// colour, ready / desired, and the ready pods behind its Services.
fn frontend<'a>(app: &App, st: &Styles, region: &str, label: &str) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    for c in app
        .platform()
        .clusters
        .iter()
        .filter(|c| c.region.get_ref() == region)
    {
        let Some(state) = app.cluster(c.name.get_ref()) else {
            out.push(Line::from(Span::styled(
                format!("  {label} in {}: not listed yet", c.name.get_ref()),
                st.unknown,
            )));
            continue;
        };
        let releases = crate::model::rollout::releases(state);
        let release = releases.iter().find(|r| r.app == label);
        let (health, text) = match release.and_then(|r| r.live_deployment().map(|d| (r, d))) {
            None => (
                Health::Crit,
                format!("{label}: no live colour in {}", c.name.get_ref()),
            ),
            Some((r, d)) => {
                let serving: usize = r.routes.iter().map(|x| x.ready_pods).max().unwrap_or(0);
                let health = if serving == 0 || d.ready == 0 {
                    Health::Crit
                } else if d.ready < d.desired {
                    Health::Warn
                } else {
                    Health::Ok
                };
                (
                    health,
                    format!(
                        "{label} {} {} {}/{} ready · {serving} pods serving",
                        d.color.as_deref().unwrap_or(""),
                        crate::model::rollout::image_tag(&d.image),
                        d.ready,
                        d.desired
                    ),
                )
            }
        };
        out.push(super::data::verdict(st, (health, text)));
    }
    out
}

/// The region's Prometheus and its PromQL figures.
fn services<'a>(app: &App, st: &Styles, r: &str, name_w: usize) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    out.push(heading(st, "services (promql)"));
    out.push(source_line(
        app,
        st,
        r,
        SourceKind::Metrics,
        crate::config::platform::PROMETHEUS,
        name_w,
        false,
    ));
    out.extend(figure_lines(app, st, r));
    out
}

/// PromQL figures: a line per service (the figures by `service`), then
/// the region's single figures on one line.
fn figure_lines<'a>(app: &App, st: &Styles, region: &str) -> Vec<Line<'a>> {
    let Some(figures) = app.figures(region) else {
        return Vec::new();
    };
    let mut per_service: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let mut single = Vec::new();
    for f in figures {
        match &f.values {
            Err(e) => single.push(format!("{}: {e}", f.spec.name)),
            Ok(values) => {
                for (series, v) in values {
                    match series.strip_prefix("service=") {
                        Some(service) if !service.contains(',') => per_service
                            .entry(service.to_owned())
                            .or_default()
                            .push(format!("{} {}", f.spec.name, f.spec.show(*v))),
                        _ if series.is_empty() => {
                            single.push(format!("{} {}", f.spec.name, f.spec.show(*v)));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let mut lines: Vec<Line<'a>> = per_service
        .into_iter()
        .map(|(service, figures)| {
            Line::from(vec![
                Span::styled(format!("    {service:<14}"), st.text),
                Span::styled(figures.join(" · "), st.muted),
            ])
        })
        .collect();
    if !single.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("    {}", single.join(" · ")),
            st.muted,
        )));
    }
    lines
}

/// The longest configured name of anything the overview lists.
fn longest_name(p: &crate::config::Platform) -> usize {
    [
        p.clusters.iter().map(|c| c.name.get_ref().len()).max(),
        p.databases.iter().map(|d| d.name.get_ref().len()).max(),
        p.caches.iter().map(|c| c.name.get_ref().len()).max(),
        p.ai_services.iter().map(|a| a.name.get_ref().len()).max(),
        p.alert_sources.iter().map(|a| a.name.get_ref().len()).max(),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0)
}

/// The region's firing alerts by severity, once its alert sources report.
fn alert_line<'a>(app: &App, st: &Styles, region: &str) -> Option<Line<'a>> {
    let (crit, warn, other) = app.alert_counts(region)?;
    Some(Line::from(vec![
        Span::raw("    "),
        if crit + warn + other == 0 {
            Span::styled("no alert firing", st.ok)
        } else {
            Span::styled(
                format!("{crit} critical · {warn} warning · {other} other firing"),
                if crit > 0 { st.crit } else { st.warn },
            )
        },
    ]))
}

/// A cluster's cell: nodes, deployments and pods, then its health in its
/// colour with the rule that decided it.
fn cluster_cell<'a>(st: &Styles, cluster: &ClusterState) -> Vec<Line<'a>> {
    let s = cluster.summary();
    let (health, why) = &s.health;
    let style = match health {
        Health::Unknown => st.unknown,
        Health::Ok => st.ok,
        Health::Warn => st.warn,
        Health::Crit => st.crit,
    };
    let count = |n: usize, word: &str| {
        Span::styled(
            format!("{n} {word}"),
            if n > 0 { st.warn } else { st.muted },
        )
    };
    vec![
        Line::from(vec![
            Span::raw("    "),
            Span::styled(format!("{}/{} nodes", s.nodes_ready, s.nodes), st.text),
            Span::styled(" · ", st.muted),
            Span::styled(
                format!("{}/{} deploys", s.deployments_available, s.deployments),
                st.text,
            ),
            Span::styled(" · ", st.muted),
            Span::styled(format!("{} pods", s.pods), st.text),
        ]),
        Line::from(vec![
            Span::raw("    "),
            count(s.pods_not_ready, "not ready"),
            Span::styled(" · ", st.muted),
            Span::styled(
                format!("{} crash-looping", s.crash_looping),
                if s.crash_looping > 0 {
                    st.crit
                } else {
                    st.muted
                },
            ),
        ]),
        Line::from(vec![
            Span::raw("    "),
            Span::styled(format!("{} ", health.word()), style),
            Span::styled(why.clone(), st.muted),
        ]),
    ]
}

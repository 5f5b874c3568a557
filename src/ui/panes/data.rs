//! Data: the databases and caches of every region side by side, with how
//! each is reached (direct, exporter, CloudWatch) and its health.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{empty_line, heading, note, passes, region_columns, source_line};
use crate::app::App;
use crate::config::platform::{CloudWatchRef, Direct};
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;

/// Draws the data pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    for (inner, region) in region_columns(app, st, area, buf) {
        let r = region.name.get_ref();
        let mut lines = vec![heading(st, "databases")];
        let dbs: Vec<_> = p
            .databases
            .iter()
            .filter(|d| d.region.get_ref() == r && passes(app, Pane::Data, d.name.get_ref()))
            .collect();
        if dbs.is_empty() {
            lines.push(empty_line(app, st, Pane::Data, "database"));
        }
        for d in dbs {
            lines.push(source_line(
                app,
                st,
                r,
                SourceKind::Database,
                d.name.get_ref(),
                0,
                false,
            ));
            lines.extend(reach(
                st,
                d.direct.as_ref(),
                d.exporter.as_ref().map(|e| e.get_ref().as_str()),
                d.cloudwatch.as_ref(),
            ));
        }
        lines.push(Line::default());
        lines.push(heading(st, "caches"));
        let caches: Vec<_> = p
            .caches
            .iter()
            .filter(|c| c.region.get_ref() == r && passes(app, Pane::Data, c.name.get_ref()))
            .collect();
        if caches.is_empty() {
            lines.push(empty_line(app, st, Pane::Data, "cache"));
        }
        for c in caches {
            lines.push(source_line(
                app,
                st,
                r,
                SourceKind::Cache,
                c.name.get_ref(),
                0,
                false,
            ));
            lines.extend(reach(
                st,
                c.direct.as_ref(),
                c.exporter.as_ref().map(|e| e.get_ref().as_str()),
                c.cloudwatch.as_ref(),
            ));
        }
        note(lines, inner, buf);
    }
}

/// How a database or cache is reached. A direct URL is shown as its host
/// only: the user name stays out of shared screens, and the config never
/// holds a password.
fn reach<'a>(
    st: &Styles,
    direct: Option<&Direct>,
    exporter: Option<&str>,
    cloudwatch: Option<&CloudWatchRef>,
) -> Vec<Line<'a>> {
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("      {k:<11}"), st.muted),
            Span::styled(v, st.text),
        ])
    };
    let mut out = Vec::new();
    if let Some(d) = direct {
        out.push(field("direct", host_of(d.url.get_ref())));
    }
    if let Some(e) = exporter {
        out.push(field("exporter", e.to_owned()));
    }
    if let Some(c) = cloudwatch {
        out.push(field(
            "cloudwatch",
            format!("{} ({})", c.identifier, c.aws_region),
        ));
    }
    out
}

fn host_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn direct_urls_show_only_scheme_and_host() {
        assert_eq!(
            super::host_of("postgres://touban@db.internal:5432/postgres"),
            "postgres://db.internal:5432"
        );
        assert_eq!(super::host_of("redis://h:6379"), "redis://h:6379");
    }
}

//! Alerts: firing and pending alerts of every region, each once, by
//! severity then team, with region, source, since and summary; silenced
//! and inhibited ones apart below. A critical alert not yet seen is marked
//! new. Until an alert source reports, the pane says which sources it
//! waits for, and never shows "no alerts" for alerts it cannot see.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, Widget};

use super::{columns, note, source_line, table_row};
use crate::app::App;
use crate::model::alert::{AlertRow, AlertState};
use crate::model::source::age_label;
use crate::model::{Pane, SourceKind};
use crate::ui::Styles;
use crate::ui::text::trf;
use crate::ui::text::word as tr_word;

/// Draws the alerts pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let mut lines = Vec::new();
    if p.alert_sources.is_empty() {
        lines.push(Line::from(Span::styled(
            tr_word("  no alert source configured: add [[alert_sources]] to the config"),
            st.muted,
        )));
    }
    let w = p
        .alert_sources
        .iter()
        .map(|a| a.name.get_ref().len() + p.region_display(a.region.get_ref()).len() + 3)
        .max()
        .unwrap_or(0);
    for a in &p.alert_sources {
        let label = format!(
            "{} ({})",
            a.name.get_ref(),
            p.region_display(a.region.get_ref())
        );
        let mut line = source_line(
            app,
            st,
            a.region.get_ref(),
            SourceKind::Alerts,
            a.name.get_ref(),
            0,
            false,
        );
        // Show the region beside the name: two regions may name their sources alike.
        line.spans[1] = Span::styled(format!("{label:<w$} "), st.text);
        lines.push(line);
    }
    let malformed = app.malformed_alerts();
    if malformed > 0 {
        lines.push(Line::from(Span::styled(
            format!("  {malformed} alert(s) or rule(s) the sources sent could not be read: skipped (the log has why)"),
            st.warn,
        )));
    }
    // Only Prometheus knows an alert before it fires; Alertmanager and
    // CloudWatch see it once it does.
    let knows_pending = p.alert_sources.iter().any(|a| {
        a.kind == crate::config::platform::AlertSourceKind::Prometheus
            && app
                .source(a.region.get_ref(), SourceKind::Alerts, a.name.get_ref())
                .is_live()
    });
    if !knows_pending && !p.alert_sources.is_empty() {
        lines.push(Line::from(Span::styled(
            tr_word("  pending alerts may be missing: no live prometheus source (Alertmanager and CloudWatch see an alert only once it fires)"),
            st.unknown,
        )));
    }
    let reported = p
        .regions
        .iter()
        .any(|r| app.alert_counts(r.name.get_ref()).is_some());
    // Every region's alert sources live: only then is an empty list "none".
    let all_known = p
        .regions
        .iter()
        .all(|r| app.alert_knowledge(r.name.get_ref()).complete());
    let alerts = app.visible_alerts();
    let [sources, body] = Layout::vertical([
        Constraint::Length(u16::try_from(lines.len()).unwrap_or(u16::MAX)),
        Constraint::Min(1),
    ])
    .areas(area);
    note(lines, sources, buf);
    if alerts.is_empty() {
        let (text, style) = match (reported, app.filter(Pane::Alerts)) {
            (false, _) => (
                "  alerts unknown: no alert source has reported yet".to_owned(),
                st.unknown,
            ),
            (true, Some(f)) => (format!("  no alert matches /{f}"), st.muted),
            (true, None) if !all_known => (
                "  no alert firing among the sources that answer; the others are not live (above)"
                    .to_owned(),
                st.unknown,
            ),
            (true, None) if knows_pending => ("  no alert firing or pending".to_owned(), st.ok),
            (true, None) => (
                "  no alert firing (whether any is pending is not known)".to_owned(),
                st.ok,
            ),
        };
        note(
            vec![Line::default(), Line::from(Span::styled(text, style))],
            body,
            buf,
        );
        return;
    }
    table(app, st, &alerts, body, buf);
}

/// The alerts, active then suppressed under their own heading; only the
/// rows on screen built.
fn table(app: &App, st: &Styles, alerts: &[&AlertRow], area: Rect, buf: &mut Buffer) {
    let [title, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let active = alerts.iter().filter(|a| !a.state().suppressed()).count();
    super::heading_owned(
        st,
        &trf(
            "alerts-heading",
            [
                ("active", active.into()),
                ("quiet", (alerts.len() - active).into()),
            ],
        ),
    )
    .render(title, buf);
    let height = usize::from(rest.height.saturating_sub(2)).max(1);
    let cursor = app.cursor(Pane::Alerts).min(alerts.len().saturating_sub(1));
    let offset = (cursor + 1).saturating_sub(height);
    let mut rows = Vec::new();
    let mut last_group: Option<(bool, u8, &str)> = None;
    for (i, a) in alerts.iter().enumerate().skip(offset).take(height) {
        let group = (a.state().suppressed(), a.rank(), a.team.as_str());
        let first_of_group = last_group != Some(group);
        if a.state().suppressed() && last_group.is_none_or(|g| !g.0) {
            rows.push(Row::new(vec![Span::styled(
                tr_word("SILENCED OR INHIBITED"),
                st.muted,
            )]));
        }
        last_group = Some(group);
        rows.push(alert_row(app, st, a, first_of_group, i == cursor));
    }
    Table::new(
        rows,
        columns(
            rest.width,
            &[
                Constraint::Length(9),
                Constraint::Length(14),
                Constraint::Length(6),
                Constraint::Length(16),
                Constraint::Min(22),
                Constraint::Length(9),
                Constraint::Fill(1),
            ],
        ),
    )
    .header(
        super::header_row([
            "SEVERITY", "TEAM", "REGION", "STATE", "ALERT", "SINCE", "SUMMARY",
        ])
        .style(st.muted),
    )
    .render(rest, buf);
}

fn alert_row<'a>(
    app: &App,
    st: &Styles,
    a: &AlertRow,
    first_of_group: bool,
    selected: bool,
) -> Row<'a> {
    let severity_style = match a.rank() {
        0 => st.crit,
        1 => st.warn,
        _ => st.muted,
    };
    let (state, state_style) = match a.state() {
        AlertState::Pending => (
            match a.fires_at.and_then(|t| t.duration_since(app.now()).ok()) {
                Some(left) => format!("{} {}", tr_word("pending"), age_label(left)),
                None => tr_word("pending").into_owned(),
            },
            st.warn,
        ),
        AlertState::Firing => (tr_word("firing").into_owned(), severity_style),
        other => (tr_word(other.word()).into_owned(), st.muted),
    };
    let new = app.is_new(a) && a.state() == AlertState::Firing;
    let mut name = a.name.clone();
    if new {
        name.insert_str(0, "● ");
    }
    table_row(
        vec![
            Span::styled(
                if first_of_group {
                    a.severity.clone()
                } else {
                    String::new()
                },
                severity_style,
            ),
            Span::styled(
                if first_of_group {
                    a.team.clone()
                } else {
                    String::new()
                },
                st.accent,
            ),
            Span::styled(
                app.platform().region_display(&a.region).to_owned(),
                st.muted,
            ),
            Span::styled(state, state_style),
            Span::styled(name, if new { st.crit } else { st.text }),
            Span::styled(a.since.map(|t| app.age(t)).unwrap_or_default(), st.muted),
            Span::styled(a.summary.clone(), st.text),
        ],
        selected,
        st,
    )
}

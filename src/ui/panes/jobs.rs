//! Jobs: the executor's jobs of this session (queued, running, ended),
//! then the port-forwards it runs, and where the audit log is kept.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Table, Widget};

use super::{empty_line, note, table_row};
use crate::app::forward::{ForwardRow, ForwardState};
use crate::app::{App, JobRow};
use crate::model::{JobOutcome, Pane};
use crate::ui::Styles;
use crate::ui::text::word as tr_word;
use crate::ui::text::{tr, trf};

/// How a job stands, in a few words, and its style.
pub fn state(j: &JobRow, st: &Styles) -> (String, ratatui::style::Style) {
    // Confirmed as a dry run here, or asked as one.
    let dry = j.dry_run
        || j.plan.as_ref().is_some_and(|p| p.request.dry_run)
        || j.request.as_ref().is_some_and(|r| r.dry_run);
    let dry = if dry {
        format!("{} ", tr("job-dry-run"))
    } else {
        String::new()
    };
    let why = |id: &str, why: &str| trf(id, [("why", why.to_owned().into())]);
    match (&j.outcome, &j.step) {
        (Some(JobOutcome::Succeeded), _) => (format!("{dry}{}", tr("job-succeeded")), st.ok),
        (Some(JobOutcome::Failed(w)), _) => (format!("{dry}{}", why("job-failed", w)), st.crit),
        (Some(JobOutcome::Cancelled), _) => (tr("job-cancelled").into_owned(), st.warn),
        (Some(JobOutcome::Refused(w)), _) => (why("job-refused", w), st.crit),
        (None, Some((i, n, step))) => (
            format!(
                "{dry}{}",
                trf(
                    "job-step",
                    [
                        ("i", (*i).into()),
                        ("n", (*n).into()),
                        ("step", step.clone().into())
                    ]
                )
            ),
            st.text,
        ),
        (None, None) if j.confirmed => (tr("job-queued").into_owned(), st.muted),
        (None, None) if j.plan.is_some() => (tr("job-awaiting").into_owned(), st.warn),
        (None, None) => (tr("job-planning").into_owned(), st.muted),
    }
}

/// How a port-forward stands, in a few words, and its style.
fn forward_state(f: &ForwardRow, st: &Styles) -> (String, ratatui::style::Style) {
    match &f.state {
        ForwardState::Starting => (tr("forward-starting").into_owned(), st.muted),
        ForwardState::Listening(local) => (
            trf(
                "forward-listening",
                [
                    ("local", local.clone().into()),
                    ("remote", f.remote.to_string().into()),
                ],
            ),
            st.ok,
        ),
        ForwardState::Stopped => (tr("forward-stopped").into_owned(), st.muted),
        ForwardState::Ended(why) => (trf("forward-ended", [("why", why.clone().into())]), st.crit),
    }
}

/// Draws the jobs pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let jobs: Vec<_> = app
        .jobs()
        .iter()
        .filter(|j| app.filter(Pane::Jobs).is_none_or(|f| j.title.contains(f)))
        .collect();
    let forwards = app.visible_forwards();
    if jobs.is_empty() && forwards.is_empty() {
        let line = if app.filter(Pane::Jobs).is_some() {
            empty_line(app, st, Pane::Jobs, "job")
        } else {
            Line::from(Span::styled(
                tr_word("no job run in this session"),
                st.muted,
            ))
        };
        note(vec![line], area, buf);
        return;
    }
    let cursor = app.cursor(Pane::Jobs);
    let rows = jobs.iter().enumerate().map(|(i, j)| {
        let (state, style) = state(j, st);
        table_row(
            vec![
                Span::styled(format!("#{}", j.id.0), st.muted),
                Span::styled(j.title.clone(), st.text),
                Span::styled(state, style),
                Span::styled(format!("{} ago", app.age(j.queued)), st.muted),
            ],
            i == cursor,
            st,
        )
    });
    let first = jobs.len();
    let forward_rows = forwards.iter().enumerate().map(|(i, f)| {
        let (state, style) = forward_state(f, st);
        table_row(
            vec![
                Span::styled(format!("pf{}", f.id.0), st.muted),
                Span::styled(f.title(), st.text),
                Span::styled(state, style),
                Span::styled(format!("{} ago", app.age(f.started)), st.muted),
            ],
            first + i == cursor,
            st,
        )
    });
    let rows = rows.chain(forward_rows);
    Table::new(
        rows,
        super::columns(
            area.width,
            &[
                Constraint::Length(5),
                Constraint::Min(30),
                Constraint::Min(24),
                Constraint::Length(8),
            ],
        ),
    )
    .header(super::header_row(["JOB", "WHAT", "STATE", "QUEUED"]).style(st.muted))
    .render(area, buf);
}

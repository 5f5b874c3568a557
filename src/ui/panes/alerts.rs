//! Alerts: firing and pending alerts of every region. Until an alert
//! source reports, the pane says which sources it waits for, and never
//! shows "no alerts" for alerts it cannot see.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{heading, note, source_line};
use crate::app::App;
use crate::model::SourceKind;
use crate::ui::Styles;

/// Draws the alerts pane.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let p = app.platform();
    let mut lines = vec![heading(st, "alert sources")];
    if p.alert_sources.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no alert source configured: add [[alert_sources]] to the config",
            st.muted,
        )));
    }
    let w = p
        .alert_sources
        .iter()
        .map(|a| a.name.get_ref().len() + a.region.get_ref().len() + 3)
        .max()
        .unwrap_or(0);
    for a in &p.alert_sources {
        let label = format!("{} ({})", a.name.get_ref(), a.region.get_ref());
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
    let any_live = p.alert_sources.iter().any(|a| {
        app.source(a.region.get_ref(), SourceKind::Alerts, a.name.get_ref())
            .is_live()
    });
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        if any_live {
            "no alert firing"
        } else {
            "alerts unknown: no alert source connected"
        },
        if any_live { st.ok } else { st.unknown },
    )));
    note(lines, area, buf);
}

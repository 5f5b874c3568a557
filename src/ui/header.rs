//! The header (product, environment, mode badge, region clocks, alert and
//! source summaries) and the pane bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use super::{Styles, fit, text};
use crate::app::App;
use crate::model::alert::AlertState;
use crate::model::{Command, Pane, SourceState};

/// Draws the two header lines.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let lang = app.platform().settings.language;
    let [top, clocks] = [
        Rect { height: 1, ..area },
        Rect {
            y: area.y + 1,
            height: 1,
            ..area
        },
    ];

    let badge_text = text::badge(app.read_only(), lang);
    let badge_style = if app.read_only() {
        st.read_only_badge
    } else {
        st.live_badge
    };
    let badge_w = u16::try_from(badge_text.width()).unwrap_or(0);
    let left = vec![
        Span::styled(" 当番 touban", st.accent),
        Span::styled(" │ ", st.muted),
        Span::styled(app.platform().environment.clone(), st.title),
    ];
    fit(left, top.width.saturating_sub(badge_w + 1)).render(top, buf);
    let badge_area = Rect {
        x: top.right().saturating_sub(badge_w),
        width: badge_w.min(top.width),
        ..top
    };
    Span::styled(badge_text, badge_style).render(badge_area, buf);

    let mut spans = vec![Span::raw(" ")];
    for (i, c) in app.clocks().iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(format!("{} ", c.region), st.muted));
        spans.push(Span::styled(c.time.clone(), st.text));
        spans.push(Span::styled(format!(" {}", c.abbreviation), st.muted));
    }
    let summary = summary(app, st, clocks.width);
    let summary_w = u16::try_from(summary.width()).unwrap_or(0);
    fit(spans, clocks.width.saturating_sub(summary_w)).render(clocks, buf);
    let summary_area = Rect {
        x: clocks.right().saturating_sub(summary_w),
        width: summary_w.min(clocks.width),
        ..clocks
    };
    summary.render(summary_area, buf);
}

/// Alert counts and the sources' health, shortened on narrow screens.
fn summary<'a>(app: &App, st: &Styles, width: u16) -> Line<'a> {
    let sources = app.sources();
    let count = |f: fn(&SourceState) -> bool| sources.values().filter(|s| f(s)).count();
    let live = count(SourceState::is_live);
    let failing = count(SourceState::is_failing);
    let waiting = count(|s| {
        matches!(
            s,
            SourceState::NotConnected | SourceState::Connecting { .. }
        )
    });
    let wide = width >= 120;

    let mut spans = Vec::new();
    // Firing alerts per region, once one of its alert sources has
    // reported; until then "—", never a zero touban does not know.
    spans.push(Span::styled("alerts ", st.muted));
    for (i, r) in app.platform().regions.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", st.muted));
        }
        let name = if wide {
            r.display.clone()
        } else {
            r.display.chars().take(3).collect()
        };
        spans.push(Span::styled(format!("{name} "), st.muted));
        match app.alert_counts(r.name.get_ref()) {
            None => spans.push(Span::styled("—", st.unknown)),
            Some((0, 0, _)) => spans.push(Span::styled("0", st.ok)),
            Some((crit, warn, _)) => {
                if crit > 0 {
                    spans.push(Span::styled(
                        if wide {
                            format!("{crit} crit")
                        } else {
                            format!("{crit}c")
                        },
                        st.crit,
                    ));
                }
                if warn > 0 {
                    if crit > 0 {
                        spans.push(Span::raw(" "));
                    }
                    spans.push(Span::styled(
                        if wide {
                            format!("{warn} warn")
                        } else {
                            format!("{warn}w")
                        },
                        st.warn,
                    ));
                }
            }
        }
    }
    let new = app
        .alert_rows()
        .iter()
        .filter(|a| app.is_new(a) && a.state() == AlertState::Firing)
        .count();
    if new > 0 {
        spans.push(Span::styled(format!(" ● {new} new"), st.crit));
    }
    spans.push(Span::styled(" │ ", st.muted));
    spans.push(Span::styled(
        if wide { "sources " } else { "src " },
        st.muted,
    ));
    let live_style = if live == sources.len() && live > 0 {
        st.ok
    } else {
        st.text
    };
    spans.push(Span::styled(
        format!("{live}/{} live", sources.len()),
        live_style,
    ));
    if failing > 0 {
        spans.push(Span::styled(" · ", st.muted));
        spans.push(Span::styled(format!("{failing} failing"), st.crit));
    }
    if wide && waiting > 0 {
        spans.push(Span::styled(" · ", st.muted));
        spans.push(Span::styled(format!("{waiting} not connected"), st.unknown));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// Draws the pane bar: each pane with the key that focuses it.
pub fn draw_pane_bar(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let lang = app.platform().settings.language;
    let entry = |pane: Pane, with_title: bool| {
        let key = app.key_hint(&Command::Focus(pane)).unwrap_or_default();
        let title = if with_title {
            text::pane_title(pane, lang)
        } else {
            ""
        };
        let sep = if key.is_empty() || title.is_empty() {
            ""
        } else {
            " "
        };
        format!(" {key}{sep}{title} ")
    };
    let full: usize = Pane::ALL.iter().map(|p| entry(*p, true).width()).sum();
    // Too narrow for every title: only the focused pane keeps its title.
    let compact = full > usize::from(area.width);
    let spans: Vec<Span> = Pane::ALL
        .iter()
        .map(|&p| {
            let focused = p == app.focus();
            let style = if focused { st.selection } else { st.tab };
            Span::styled(entry(p, focused || !compact), style)
        })
        .collect();
    fit(spans, area.width).render(area, buf);
}

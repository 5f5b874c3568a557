//! The header (product, environment, mode badge, region clocks, alert and
//! source summaries) and the pane bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use super::{Styles, fit, text};
use crate::app::App;
use crate::i18n::{t, tf};
use crate::model::alert::AlertState;
use crate::model::{Command, Pane, SourceState};

/// Draws the two header lines.
pub fn draw(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let lang = app.language();
    let [top, clocks] = [
        Rect { height: 1, ..area },
        Rect {
            y: area.y + 1,
            height: 1,
            ..area
        },
    ];

    // Some clusters read-only, the console not: the badge names them.
    let some = app.read_only_clusters();
    let badge_text = if some.is_empty() {
        text::badge(app.read_only(), lang)
    } else {
        format!(
            "{}: {} ",
            text::badge(true, lang).trim_end(),
            some.join(", ")
        )
    };
    let badge_style = if app.read_only() || !some.is_empty() {
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
    // Both clocks always: the summary takes what they leave, saying less
    // as the screen narrows.
    let clocks_w = u16::try_from(Line::from(spans.clone()).width()).unwrap_or(u16::MAX);
    let room = clocks.width.saturating_sub(clocks_w + 1);
    let summary = (0..=2)
        .map(|terse| summary(app, st, terse))
        .find(|l| l.width() <= usize::from(room))
        .unwrap_or_else(|| summary(app, st, 2));
    let summary_w = u16::try_from(summary.width()).unwrap_or(0).min(room);
    fit(spans, clocks.width.saturating_sub(summary_w)).render(clocks, buf);
    let summary_area = Rect {
        x: clocks.right().saturating_sub(summary_w),
        width: summary_w,
        ..clocks
    };
    fit(summary.spans, summary_w).render(summary_area, buf);
}

/// Alert counts and the sources' health: `terse` 0 says it in words, 1
/// shortens region names and words, 2 keeps only figures.
fn summary<'a>(app: &App, st: &Styles, terse: u8) -> Line<'a> {
    let lang = app.language();
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
    let wide = terse == 0;

    let mut spans = Vec::new();
    // Firing alerts per region: a count only when every alert source of
    // the region is live; "≥" before what is known otherwise; `?` when
    // nothing is; never a zero not known.
    spans.push(Span::styled(
        if terse < 2 {
            format!("{} ", t(lang, "header-alerts"))
        } else {
            "⚑ ".to_owned()
        },
        st.muted,
    ));
    for (i, r) in app.platform().regions.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", st.muted));
        }
        let name: String = match terse {
            0 => r.display.clone(),
            1 => r.display.chars().take(3).collect(),
            _ => r.display.chars().take(1).collect(),
        };
        spans.push(Span::styled(format!("{name} "), st.muted));
        spans.extend(region_alerts(app, st, r.name.get_ref(), wide));
    }
    let new = app
        .alert_rows()
        .iter()
        .filter(|a| app.is_new(a) && a.state() == AlertState::Firing)
        .count();
    if new > 0 {
        spans.push(Span::styled(
            if terse < 2 {
                format!(" ● {}", tf(lang, "header-new", [("n", new.into())]))
            } else {
                format!(" ●{new}")
            },
            st.crit,
        ));
    }
    spans.push(Span::styled(" │ ", st.muted));
    spans.push(Span::styled(
        match terse {
            0 => format!("{} ", t(lang, "header-sources")),
            1 => format!("{} ", t(lang, "header-sources-short")),
            _ => String::new(),
        },
        st.muted,
    ));
    let live_style = if live == sources.len() && live > 0 {
        st.ok
    } else {
        st.text
    };
    spans.push(Span::styled(
        if terse < 2 {
            tf(
                lang,
                "header-live",
                [("live", live.into()), ("all", sources.len().into())],
            )
        } else {
            format!("{live}/{}", sources.len())
        },
        live_style,
    ));
    if failing > 0 {
        spans.push(Span::styled(" · ", st.muted));
        spans.push(Span::styled(
            if terse < 2 {
                tf(lang, "header-failing", [("n", failing.into())])
            } else {
                format!("{failing}✖")
            },
            st.crit,
        ));
    }
    if wide && waiting > 0 {
        spans.push(Span::styled(" · ", st.muted));
        spans.push(Span::styled(
            tf(lang, "header-not-connected", [("n", waiting.into())]),
            st.unknown,
        ));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// A region's firing alerts, as far as they are known.
fn region_alerts<'a>(app: &App, st: &Styles, region: &str, wide: bool) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    let known = app.alert_knowledge(region);
    let (crit, warn, _) = known.counts;
    let at_least = if known.complete() { "" } else { "≥" };
    if known.sources == 0 {
        spans.push(Span::styled("—", st.unknown));
    } else if crit + warn == 0 {
        if known.complete() {
            spans.push(Span::styled("0", st.ok));
        } else {
            spans.push(Span::styled("?", st.unknown));
        }
    } else {
        if crit > 0 {
            spans.push(Span::styled(
                if wide {
                    format!(
                        "{at_least}{}",
                        tf(app.language(), "header-crit", [("n", crit.into())])
                    )
                } else {
                    format!("{at_least}{crit}c")
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
                    format!(
                        "{at_least}{}",
                        tf(app.language(), "header-warn", [("n", warn.into())])
                    )
                } else {
                    format!("{at_least}{warn}w")
                },
                st.warn,
            ));
        }
    }
    spans
}

/// Draws the pane bar: each pane with the key that focuses it, and its
/// title, or its short title where the whole ones do not fit; the focused
/// pane always has its whole title.
pub fn draw_pane_bar(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    #[derive(Clone, Copy, PartialEq)]
    enum Title {
        Whole,
        Short,
        None,
    }
    let lang = app.language();
    let entry = |pane: Pane, title: Title| {
        let key = app.key_hint(&Command::Focus(pane)).unwrap_or_default();
        let title = match title {
            Title::Whole => text::pane_title(pane, lang),
            Title::Short => text::pane_short(pane, lang),
            Title::None => "".into(),
        };
        let sep = if key.is_empty() || title.is_empty() {
            ""
        } else {
            " "
        };
        format!(" {key}{sep}{title} ")
    };
    // The widest that fits: every title whole; the focused pane's whole
    // and the others short; all short (a long focused title in Japanese);
    // the focused pane's alone.
    let width = |(focused, others): (Title, Title)| -> usize {
        Pane::ALL
            .iter()
            .map(|&p| entry(p, if p == app.focus() { focused } else { others }).width())
            .sum()
    };
    let (focused, others) = [
        (Title::Whole, Title::Whole),
        (Title::Whole, Title::Short),
        (Title::Short, Title::Short),
    ]
    .into_iter()
    .find(|&t| width(t) <= usize::from(area.width))
    .unwrap_or((Title::Whole, Title::None));
    let spans: Vec<Span> = Pane::ALL
        .iter()
        .map(|&p| {
            let is_focused = p == app.focus();
            let style = if is_focused { st.selection } else { st.tab };
            Span::styled(entry(p, if is_focused { focused } else { others }), style)
        })
        .collect();
    fit(spans, area.width).render(area, buf);
}

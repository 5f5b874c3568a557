//! The wallboard's screen: a banner per region (in large letters when the
//! screen is wide and tall enough), the rotation's state and the clocks,
//! the pane shown, every source with its state and data age (one that is
//! not live in reverse, impossible to miss), the ticker of what changed in
//! the last ten minutes, and the wall's keys.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use tui_big_text::{BigText, PixelSize};

use super::panes::level_style;
use super::{Styles, fit};
use crate::app::App;
use crate::app::wall::Wall;
use crate::model::source::{age_coarse, age_short};
use crate::model::{Command, SourceState};
use crate::ui::text::trf;
use crate::ui::text::word as tr_word;

/// Below this, the banner is a line per region, not large letters.
const BIG_WIDTH: u16 = 120;
const BIG_HEIGHT: u16 = 40;

/// Ticker lines shown, at most.
const TICKER_LINES: usize = 6;

/// Draws the wallboard.
pub fn draw(app: &App, wall: &Wall, st: &Styles, frame: &mut Frame) {
    let area = frame.area();
    frame.buffer_mut().set_style(area, st.text);
    let big = area.width >= BIG_WIDTH && area.height >= BIG_HEIGHT;
    let ticker: Vec<Line<'_>> = ticker_lines(app, wall, st);
    let [banner, head, body, sources, tick, foot] = Layout::vertical([
        Constraint::Length(if big { 5 } else { 2 }),
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(2),
        Constraint::Length(u16::try_from(ticker.len()).unwrap_or(1)),
        Constraint::Length(1),
    ])
    .areas(area);
    let buf = frame.buffer_mut();
    banners(app, st, banner, big, buf);
    head_line(app, wall, st, head, buf);
    super::panes::draw(app, st, body, buf);
    source_strip(app, st, sources, buf);
    for (i, line) in ticker.into_iter().enumerate() {
        let y = tick.y + u16::try_from(i).unwrap_or(0);
        fit(line.spans, tick.width).render(
            Rect {
                y,
                height: 1,
                ..tick
            },
            buf,
        );
    }
    let keys = app.keymap_hint_line();
    fit(vec![Span::styled(format!(" {keys}"), st.muted)], foot.width).render(foot, buf);
    super::overlays::draw(app, st, body, foot, frame);
}

/// A banner per region, side by side: `TOKYO FAILING` and the reasons.
fn banners(app: &App, st: &Styles, area: Rect, big: bool, buf: &mut Buffer) {
    let regions = &app.platform().regions;
    let n = u32::try_from(regions.len().max(1)).unwrap_or(1);
    let columns =
        Layout::horizontal(vec![Constraint::Ratio(1, n); regions.len().max(1)]).split(area);
    for (r, col) in regions.iter().zip(columns.iter()) {
        let v = app.region_verdict(r.name.get_ref());
        let style = level_style(st, v.level).add_modifier(Modifier::BOLD);
        // The large letters' font has no kanji or hangul: the banner
        // spells the region and level in English capitals, the line under
        // it says the level in the operator's language.
        let title = format!(
            "{} {}",
            r.display.to_uppercase(),
            v.level.word().to_uppercase()
        );
        let said = tr_word(v.level.word());
        let reasons = match (v.reasons.is_empty(), crate::ui::text::lang()) {
            (true, crate::i18n::Language::En) => "every cell known and fine".to_owned(),
            (true, _) => format!("{said}: {}", tr_word("every cell known and fine")),
            (false, crate::i18n::Language::En) => v.reasons.join(" · "),
            (false, _) => format!(
                "{said}: {}",
                crate::ui::text::phrase(&v.reasons.join(" · "))
            ),
        };
        let (title_area, reason_area) = if big {
            (
                Rect { height: 4, ..*col },
                Rect {
                    y: col.y + 4,
                    height: 1,
                    ..*col
                },
            )
        } else {
            (
                Rect { height: 1, ..*col },
                Rect {
                    y: col.y + 1,
                    height: 1,
                    ..*col
                },
            )
        };
        // Large letters only where they fit whole.
        let fits = u16::try_from(title.chars().count() * 4 + 2).is_ok_and(|w| w <= col.width);
        if big && fits {
            BigText::builder()
                .pixel_size(PixelSize::Quadrant)
                .style(style)
                .lines(vec![Line::from(title)])
                .build()
                .render(
                    Rect {
                        x: title_area.x + 1,
                        width: title_area.width.saturating_sub(1),
                        ..title_area
                    },
                    buf,
                );
        } else {
            let line = Line::from(vec![Span::styled(
                format!(
                    " {} — {} ",
                    r.display.to_uppercase(),
                    tr_word(v.level.word()).to_uppercase()
                ),
                style.add_modifier(Modifier::REVERSED),
            )]);
            line.render(title_area, buf);
        }
        fit(
            vec![Span::styled(
                format!(" {reasons}"),
                level_style(st, v.level),
            )],
            reason_area.width,
        )
        .render(reason_area, buf);
    }
}

/// The environment, the clocks, and what the rotation is doing.
fn head_line(app: &App, wall: &Wall, st: &Styles, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![
        Span::styled(" 当番 touban wall", st.accent),
        Span::styled(" │ ", st.muted),
        Span::styled(app.platform().environment.clone(), st.title),
        Span::styled(" │ ", st.muted),
    ];
    for c in app.clocks() {
        spans.push(Span::styled(
            format!("{} {} {}  ", c.region, c.time, c.abbreviation),
            st.text,
        ));
    }
    let (pane, at, of) = wall.showing();
    spans.push(Span::styled("│ ", st.muted));
    spans.push(match &wall.held_by {
        Some(alert) => Span::styled(
            trf("wall-held", [("alert", alert.as_str().into())]),
            st.crit.add_modifier(Modifier::BOLD),
        ),
        None if wall.paused => Span::styled(
            trf(
                "wall-paused",
                [
                    ("pane", pane_word(pane).into()),
                    ("at", at.into()),
                    ("of", of.into()),
                ],
            ),
            st.warn,
        ),
        None => Span::styled(
            trf(
                "wall-rotating",
                [
                    ("pane", pane_word(pane).into()),
                    ("at", at.into()),
                    ("of", of.into()),
                    ("seconds", wall.every.as_secs().into()),
                ],
            ),
            st.muted,
        ),
    });
    fit(spans, area.width).render(area, buf);
}

/// Every source with its state and data age; one not live in reverse.
fn source_strip(app: &App, st: &Styles, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![Span::styled(tr_word(" sources"), st.muted)];
    let now = app.now();
    let mut region = None;
    for (id, state) in app.sources() {
        if region != Some(&id.region) {
            region = Some(&id.region);
            spans.push(Span::styled(
                format!(" {}: ", app.platform().region_display(&id.region)),
                st.title,
            ));
        }
        let age = state
            .since()
            .map(|t| age_short(age_coarse(now.duration_since(t).unwrap_or_default())));
        let (text, style): (String, Style) = match state {
            SourceState::Live { .. } => (format!("{} ✓", id.name), st.ok),
            SourceState::Stale { .. } | SourceState::Error { .. } => (
                format!(
                    " {} {} {} ",
                    id.name,
                    tr_word(state.word()).to_uppercase(),
                    age.unwrap_or_default()
                ),
                st.crit.add_modifier(Modifier::REVERSED | Modifier::BOLD),
            ),
            SourceState::NotConnected | SourceState::Connecting { .. } => {
                (format!("{} {}", id.name, tr_word(state.word())), st.unknown)
            }
        };
        spans.push(Span::styled(text, style));
        spans.push(Span::raw("  "));
    }
    // Two lines: what does not fit the first goes on the second.
    let mut lines: Vec<Vec<Span<'_>>> = vec![Vec::new()];
    let mut used = 0usize;
    for s in spans {
        let w = unicode_width::UnicodeWidthStr::width(s.content.as_ref());
        if used + w > usize::from(area.width) && lines.len() < 2 {
            lines.push(vec![Span::raw(" ")]);
            used = 1;
        }
        used += w;
        if let Some(l) = lines.last_mut() {
            l.push(s);
        }
    }
    for (i, l) in lines.into_iter().enumerate() {
        let y = area.y + u16::try_from(i).unwrap_or(0);
        if y < area.bottom() {
            fit(l, area.width).render(
                Rect {
                    y,
                    height: 1,
                    ..area
                },
                buf,
            );
        }
    }
}

/// "What changed" in the last ten minutes, newest first.
fn ticker_lines<'a>(app: &App, wall: &Wall, st: &Styles) -> Vec<Line<'a>> {
    let mut lines = vec![Line::from(Span::styled(
        tr_word(" what changed, last 10 min"),
        st.title,
    ))];
    for t in wall.ticker(app.now()).take(TICKER_LINES - 1) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<10} ", t.clock), st.muted),
            Span::styled(t.text.clone(), level_style(st, t.level)),
        ]));
    }
    if lines.len() == 1 {
        lines.push(Line::from(Span::styled(
            tr_word("  nothing changed in the last 10 minutes"),
            st.muted,
        )));
    }
    lines
}

/// A pane as the rotation line names it.
fn pane_word(pane: crate::model::Pane) -> String {
    match crate::ui::text::lang() {
        crate::i18n::Language::En => pane.to_string(),
        lang => crate::ui::text::pane_title(pane, lang).into_owned(),
    }
}

impl App {
    /// The keys of the keymap in force, for a footer: `space pause · q quit`.
    pub(crate) fn keymap_hint_line(&self) -> String {
        [
            Command::WallPause,
            Command::NextPane,
            Command::PrevPane,
            Command::Help,
            Command::Quit,
        ]
        .iter()
        .filter_map(|c| {
            let key = self.key_hint(c)?;
            let hint = crate::ui::footer_hint(self.language(), c);
            Some(format!("{key} {hint}"))
        })
        .collect::<Vec<_>>()
        .join(" · ")
    }
}

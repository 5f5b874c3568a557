//! Theme roles resolved once into ratatui styles. Nothing else in the UI
//! names a colour.

use ratatui::style::{Color as Tc, Modifier, Style};

use crate::config::theme::{Color, StyleSpec, Theme};
use crate::model::SourceState;

/// Every role as a ratatui [`Style`].
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct Styles {
    pub text: Style,
    pub muted: Style,
    pub accent: Style,
    pub title: Style,
    pub border: Style,
    pub border_focus: Style,
    pub selection: Style,
    pub tab: Style,
    pub key: Style,
    pub ok: Style,
    pub warn: Style,
    pub crit: Style,
    pub starting: Style,
    pub unknown: Style,
    pub stale: Style,
    pub danger: Style,
    pub live_badge: Style,
    pub read_only_badge: Style,
    pub overlay: Style,
}

impl Styles {
    /// Resolves a theme.
    pub fn resolve(t: &Theme) -> Styles {
        Styles {
            text: style(&t.text),
            muted: style(&t.muted),
            accent: style(&t.accent),
            title: style(&t.title),
            border: style(&t.border),
            border_focus: style(&t.border_focus),
            selection: style(&t.selection),
            tab: style(&t.tab),
            key: style(&t.key),
            ok: style(&t.ok),
            warn: style(&t.warn),
            crit: style(&t.crit),
            starting: style(&t.starting),
            unknown: style(&t.unknown),
            stale: style(&t.stale),
            danger: style(&t.danger),
            live_badge: style(&t.live_badge),
            read_only_badge: style(&t.read_only_badge),
            overlay: style(&t.overlay),
        }
    }

    /// The style of a health word: pending is the warning role (a value
    /// crossing its threshold is never ok), starting its own.
    /// The style of a readiness check's mark.
    pub fn mark(&self, mark: crate::model::readiness::Mark) -> Style {
        use crate::model::readiness::Mark;
        match mark {
            Mark::Skip => self.muted,
            Mark::Ok => self.ok,
            Mark::Warn => self.warn,
            Mark::Unknown => self.unknown,
            Mark::Fail => self.crit,
        }
    }

    pub fn health(&self, health: crate::model::cluster::Health) -> Style {
        use crate::model::cluster::Health;
        match health {
            Health::Unknown => self.unknown,
            Health::Ok => self.ok,
            Health::Starting => self.starting,
            Health::Pending | Health::Warn => self.warn,
            Health::Crit => self.crit,
        }
    }

    /// The style of a source's state word.
    pub fn state(&self, state: &SourceState) -> Style {
        match state {
            SourceState::NotConnected | SourceState::Connecting { .. } => self.unknown,
            SourceState::Live { .. } => self.ok,
            SourceState::Error { .. } => self.crit,
            SourceState::Stale { .. } => self.stale,
        }
    }
}

fn style(spec: &StyleSpec) -> Style {
    let mut s = Style::default();
    if let Some(fg) = spec.fg {
        s = s.fg(color(fg));
    }
    if let Some(bg) = spec.bg {
        s = s.bg(color(bg));
    }
    let flags = [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underline, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
        (spec.blink, Modifier::SLOW_BLINK),
    ];
    for (on, m) in flags {
        if on {
            s = s.add_modifier(m);
        }
    }
    s
}

fn color(c: Color) -> Tc {
    const ANSI: [Tc; 16] = [
        Tc::Black,
        Tc::Red,
        Tc::Green,
        Tc::Yellow,
        Tc::Blue,
        Tc::Magenta,
        Tc::Cyan,
        Tc::Gray,
        Tc::DarkGray,
        Tc::LightRed,
        Tc::LightGreen,
        Tc::LightYellow,
        Tc::LightBlue,
        Tc::LightMagenta,
        Tc::LightCyan,
        Tc::White,
    ];
    match c {
        Color::Reset => Tc::Reset,
        Color::Ansi(i) => ANSI[usize::from(i) % 16],
        Color::Indexed(i) => Tc::Indexed(i),
        Color::Rgb(r, g, b) => Tc::Rgb(r, g, b),
    }
}

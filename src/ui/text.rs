//! Words of the interface in the configured language.

use crate::config::platform::Language;
use crate::model::Pane;

/// A pane's title.
pub fn pane_title(pane: Pane, lang: Language) -> &'static str {
    match lang {
        Language::En => match pane {
            Pane::Overview => "Overview",
            Pane::Cluster => "Cluster",
            Pane::Data => "Data",
            Pane::Ai => "AI",
            Pane::Rollouts => "Rollouts",
            Pane::Failover => "Failover",
            Pane::Scaling => "Scaling",
            Pane::Alerts => "Alerts",
            Pane::Jobs => "Jobs",
        },
        Language::Ja => match pane {
            Pane::Overview => "概要",
            Pane::Cluster => "クラスタ",
            Pane::Data => "データ",
            Pane::Ai => "AI",
            Pane::Rollouts => "ロールアウト",
            Pane::Failover => "フェイルオーバー",
            Pane::Scaling => "スケーリング",
            Pane::Alerts => "アラート",
            Pane::Jobs => "ジョブ",
        },
    }
}

/// A pane's short title, for a pane bar too narrow for the whole ones
/// (80 columns).
pub fn pane_short(pane: Pane, lang: Language) -> &'static str {
    match lang {
        Language::En => match pane {
            Pane::Overview => "Over",
            Pane::Cluster => "Clus",
            Pane::Data => "Data",
            Pane::Ai => "AI",
            Pane::Rollouts => "Roll",
            Pane::Failover => "Fail",
            Pane::Scaling => "Scal",
            Pane::Alerts => "Alrt",
            Pane::Jobs => "Jobs",
        },
        Language::Ja => match pane {
            Pane::Overview => "概要",
            Pane::Cluster => "クラ",
            Pane::Data => "デー",
            Pane::Ai => "AI",
            Pane::Rollouts => "展開",
            Pane::Failover => "切替",
            Pane::Scaling => "伸縮",
            Pane::Alerts => "警報",
            Pane::Jobs => "作業",
        },
    }
}

/// The mode badge: mutating actions enabled, or refused.
pub fn badge(read_only: bool, lang: Language) -> &'static str {
    match (read_only, lang) {
        (true, Language::En) => " READ-ONLY ",
        (false, Language::En) => " LIVE ",
        (true, Language::Ja) => " 読み取り専用 ",
        (false, Language::Ja) => " 操作可 ",
    }
}

pub use crate::model::source::{age_coarse, age_short};

/// `s` in at most `width` columns, elided in the middle (names differ at
/// their ends: `iworkz-production-postgres` and `iworkz-dr-postgres`).
pub fn elide_middle(s: &str, width: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if s.width() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    // The tail keeps whole segments (`-postgres`) where they fit in two
    // thirds of the room; else the name is split in half.
    let tail_w = s
        .match_indices(['-', '_', '.'])
        .map(|(i, sep)| s[i + sep.len()..].width())
        .filter(|w| *w * 3 <= room * 2 && *w > 0)
        .max()
        .unwrap_or(room / 2);
    let head_w = room - tail_w;
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_w {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > tail_w {
            break;
        }
        used += w;
        tail.push(c);
    }
    tail.reverse();
    format!("{head}…{}", tail.into_iter().collect::<String>())
}

/// `s` in at most `width` columns, cut after the last whole word that fits
/// and marked `…`; a single word too long for the width is cut in it.
pub fn cut_words(s: &str, width: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if s.width() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    let mut end = 0;
    let mut used = 0;
    let mut last_break = None;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        if c == ' ' {
            last_break = Some(i);
        }
        used += w;
        end = i + c.len_utf8();
    }
    // A word boundary, unless it leaves less than half the room.
    let cut = match last_break {
        Some(b) if s[..b].width() * 2 >= room => s[..b].trim_end_matches([' ', ',', '·', ':', ';']),
        _ => &s[..end],
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names_are_elided_in_the_middle_and_verdicts_at_a_word() {
        assert_eq!(
            elide_middle("iworkz-production-postgres", 16),
            "iworkz-…postgres"
        );
        assert_eq!(elide_middle("short", 16), "short");
        assert_eq!(
            cut_words("ok all nodes, deployments and pods ready", 20),
            "ok all nodes…"
        );
        assert_eq!(cut_words("supercalifragilistic", 8), "superca…");
        assert_eq!(cut_words("fits", 8), "fits");
    }

    #[test]
    fn ages_grow_coarser_as_they_grow() {
        let c = |s| age_coarse(Duration::from_secs(s)).as_secs();
        assert_eq!(
            [c(4), c(14), c(44), c(125), c(7300)],
            [4, 10, 40, 120, 7200]
        );
        assert_eq!(age_short(Duration::from_secs(125)), "2m");
    }
}

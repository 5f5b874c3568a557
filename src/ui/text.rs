//! Words of the interface in the operator's language, from the message
//! catalogues ([`crate::i18n`]), and the cutting of text to a width.

use std::borrow::Cow;
use std::cell::Cell;

use crate::i18n::{Language, t, tf};
use crate::model::Pane;

thread_local! {
    /// The language of the frame being drawn (set by [`super::draw`]).
    static LANG: Cell<Language> = const { Cell::new(Language::En) };
}

/// The language of the frame being drawn.
pub fn lang() -> Language {
    LANG.with(Cell::get)
}

/// Draws in `lang` from now on, on this thread.
pub fn set_lang(lang: Language) {
    LANG.with(|l| l.set(lang));
}

/// The message `id` in the frame's language.
pub fn tr(id: &str) -> Cow<'static, str> {
    t(lang(), id)
}

/// The message `id` in the frame's language, with arguments.
pub fn trf<'a>(
    id: &str,
    args: impl IntoIterator<Item = (&'a str, fluent_bundle::FluentValue<'a>)>,
) -> String {
    tf(lang(), id, args)
}

/// One of the model's or the interface's words (`degraded`, `not
/// connected`, `DATA TIER`) in the frame's language: the catalogue's
/// `word-degraded`, `word-data-tier` (the English lowercased, every run of
/// other characters a `-`), or the English as it is where the catalogue
/// has none. Leading and trailing spaces are kept around the translation.
pub fn word(english: &'static str) -> Cow<'static, str> {
    let lang = lang();
    if lang == Language::En {
        return Cow::Borrowed(english);
    }
    let core = english.trim();
    let id = word_id(core);
    if !crate::i18n::has(Language::En, &id) {
        return Cow::Borrowed(english);
    }
    let start = english.len() - english.trim_start().len();
    let end = english.trim_end().len();
    Cow::Owned(format!(
        "{}{}{}",
        &english[..start],
        t(lang, &id),
        &english[end..]
    ))
}

/// A reason the model wrote in English (`answering, within thresholds`)
/// in the frame's language, fragment by fragment: each part between `, `
/// and ` · ` that the catalogue knows is translated, the rest (figures,
/// names: `lag 0.3 s`) stays as written.
pub fn phrase(english: &str) -> Cow<'_, str> {
    let lang = lang();
    if lang == Language::En || english.is_empty() {
        return Cow::Borrowed(english);
    }
    // A whole reason the catalogue knows, commas and all.
    let whole = word_id(english);
    if crate::i18n::has(Language::En, &whole) {
        return t(lang, &whole);
    }
    let mut out = String::with_capacity(english.len() * 2);
    let mut rest = english;
    loop {
        let next = [", ", " · "]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|at| (at, *sep)))
            .min();
        let (fragment, sep) = match next {
            Some((at, sep)) => (&rest[..at], Some(sep)),
            None => (rest, None),
        };
        let id = word_id(fragment);
        if id != "word" && crate::i18n::has(Language::En, &id) {
            out.push_str(&t(lang, &id));
        } else {
            out.push_str(fragment);
        }
        match sep {
            Some(sep) => {
                out.push_str(sep);
                rest = &rest[fragment.len() + sep.len()..];
            }
            None => break,
        }
    }
    Cow::Owned(out)
}

/// `s` padded with spaces to `width` display columns (a double-width
/// character counts two, as `format!("{:<N}")` does not know).
pub fn pad(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    let w = s.width();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// The catalogue id of an English word or phrase: `word-data-tier`.
pub fn word_id(english: &str) -> String {
    let mut id = String::from("word");
    let mut dash = true;
    for c in english.trim().chars() {
        if c.is_ascii_alphanumeric() {
            if dash {
                id.push('-');
                dash = false;
            }
            id.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    id
}

/// A pane's title.
pub fn pane_title(pane: Pane, lang: Language) -> Cow<'static, str> {
    t(lang, &format!("pane-{}", pane.name()))
}

/// A pane's short title, for a pane bar too narrow for the whole ones
/// (80 columns).
pub fn pane_short(pane: Pane, lang: Language) -> Cow<'static, str> {
    t(lang, &format!("pane-short-{}", pane.name()))
}

/// The mode badge: mutating actions enabled, or refused.
pub fn badge(read_only: bool, lang: Language) -> String {
    let id = if read_only {
        "badge-read-only"
    } else {
        "badge-live"
    };
    format!(" {} ", t(lang, id))
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

    /// Every English word the drawing code passes through [`word`] (or a
    /// heading, or a table's header) has its message: a word added to the
    /// screen without one would stay English in every language.
    #[test]
    fn every_word_drawn_has_a_message() {
        let english = crate::i18n::ids(crate::i18n::SOURCES[0].1);
        let calls = regex::Regex::new(
            r#"(?:text::word\(|heading\(\s*st,\s*|section\(\s*st,\s*\w+,\s*buf,\s*)"([^"]*)""#,
        )
        .expect("regex");
        let mut missing = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
        let mut files = vec![root.join("../ui.rs")];
        for dir in [root.clone(), root.join("panes"), root.join("overlays")] {
            for entry in std::fs::read_dir(dir).expect("src/ui").flatten() {
                files.push(entry.path());
            }
        }
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        {
            let source = std::fs::read_to_string(file).expect("read");
            for c in calls.captures_iter(&source) {
                let id = word_id(&c[1]);
                if id != "word" && !english.contains(&id) {
                    missing.push(format!("{}: {id} = {}", file.display(), c[1].trim()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "words without a message:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn a_word_keeps_its_spaces_and_falls_back_to_english() {
        set_lang(Language::Ja);
        assert_eq!(
            word("  none firing"),
            format!("  {}", t(Language::Ja, "word-none-firing"))
        );
        assert_eq!(word("degraded"), "低下");
        assert_eq!(
            word("no such word in the catalogue"),
            "no such word in the catalogue"
        );
        assert_eq!(word_id("· TLS"), "word-tls");
        assert_eq!(word_id("n/a"), "word-n-a");
        assert_eq!(
            phrase("answering, within thresholds · lag 0.3 s"),
            format!(
                "{}, {} · lag 0.3 s",
                t(Language::Ja, "word-answering"),
                t(Language::Ja, "word-within-thresholds")
            )
        );
        set_lang(Language::En);
        assert_eq!(word("degraded"), "degraded");
        assert_eq!(
            phrase("answering, within thresholds"),
            "answering, within thresholds"
        );
    }
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

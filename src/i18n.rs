//! The interface's words in English, Japanese and Korean, from Fluent
//! message catalogues (`src/i18n/*.ftl`, built in). [`t`] gives a message,
//! [`tf`] one with arguments; a message a catalogue lacks falls back to
//! English, and one English lacks shows its id (a test keeps every id in
//! every catalogue).

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub use crate::config::platform::Language;

/// The catalogues' sources, by language.
pub const SOURCES: [(Language, &str); 3] = [
    (Language::En, include_str!("i18n/en.ftl")),
    (Language::Ja, include_str!("i18n/ja.ftl")),
    (Language::Ko, include_str!("i18n/ko.ftl")),
];

struct Catalogues {
    en: FluentBundle<FluentResource>,
    ja: FluentBundle<FluentResource>,
    ko: FluentBundle<FluentResource>,
}

static CATALOGUES: LazyLock<Catalogues> = LazyLock::new(|| {
    let [en, ja, ko] = SOURCES.map(|(lang, source)| bundle(lang, source));
    Catalogues { en, ja, ko }
});

fn bundle(lang: Language, source: &str) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // A terminal shows the isolation marks Fluent puts around arguments
    // as stray characters.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(source.to_owned()).unwrap_or_else(|(partial, errors)| {
            tracing::error!(
                lang = lang.code(),
                ?errors,
                "the built-in catalogue has syntax errors"
            );
            partial
        });
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(
            lang = lang.code(),
            ?errors,
            "the built-in catalogue repeats ids"
        );
    }
    bundle
}

fn bundle_for(lang: Language) -> &'static FluentBundle<FluentResource> {
    let c = &*CATALOGUES;
    match lang {
        Language::En => &c.en,
        Language::Ja => &c.ja,
        Language::Ko => &c.ko,
    }
}

/// Whether `lang`'s catalogue has the message `id`.
pub fn has(lang: Language, id: &str) -> bool {
    bundle_for(lang).has_message(id)
}

/// The message `id` in `lang`.
pub fn t(lang: Language, id: &str) -> Cow<'static, str> {
    format(lang, id, None)
}

/// The message `id` in `lang`, its `{ $name }`s filled from `args`.
pub fn tf<'a>(
    lang: Language,
    id: &str,
    args: impl IntoIterator<Item = (&'a str, FluentValue<'a>)>,
) -> String {
    let mut fluent = FluentArgs::new();
    for (name, value) in args {
        fluent.set(name, value);
    }
    format(lang, id, Some(&fluent)).into_owned()
}

fn format(lang: Language, id: &str, args: Option<&FluentArgs<'_>>) -> Cow<'static, str> {
    let found = [lang, Language::En].into_iter().find_map(|l| {
        let bundle = bundle_for(l);
        let pattern = bundle.get_message(id)?.value()?;
        Some((bundle, pattern))
    });
    let Some((bundle, pattern)) = found else {
        tracing::warn!(id, "no message of this id in the catalogues");
        return Cow::Owned(id.to_owned());
    };
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    if !errors.is_empty() {
        tracing::warn!(id, ?errors, "a message did not format whole");
    }
    text
}

/// Every message id of a catalogue's source, in order.
pub fn ids(source: &str) -> Vec<String> {
    source
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once(" = ").or_else(|| l.split_once(" =")))
        .map(|(id, _)| id.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_parses_and_has_every_english_id() {
        let english = ids(SOURCES[0].1);
        assert!(english.len() > 50, "{}", english.len());
        for (lang, source) in SOURCES {
            if let Err((_, errors)) = FluentResource::try_new(source.to_owned()) {
                panic!("{}: {errors:?}", lang.code());
            }
            let own = ids(source);
            let mut unique = own.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), own.len(), "{} repeats an id", lang.code());
            let missing: Vec<_> = english.iter().filter(|id| !own.contains(id)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
            let extra: Vec<_> = own.iter().filter(|id| !english.contains(id)).collect();
            assert!(
                extra.is_empty(),
                "{} has ids English lacks: {extra:?}",
                lang.code()
            );
        }
    }

    #[test]
    fn arguments_fill_without_isolation_marks_and_a_missing_id_shows_itself() {
        assert_eq!(t(Language::Ja, "pane-overview"), "概要");
        assert_eq!(t(Language::Ko, "pane-alerts"), "알림");
        assert_eq!(t(Language::En, "no-such-message"), "no-such-message");
        let text = tf(
            Language::Ja,
            "header-live",
            [("live", 3.into()), ("all", 4.into())],
        );
        assert_eq!(text, "3/4 稼働");
        assert!(!text.contains('\u{2068}'), "{text:?}");
    }
}

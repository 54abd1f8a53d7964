//! The words people read, in their language: Fluent message files under `locales/`
//! (one folder per language, the same ids in each), embedded in the binary. A
//! language is chosen from what a setting names or, for `auto`, from the browser's
//! `Accept-Language`; English is the fallback for a message a file lacks.
//!
//! It owns the choice and the lookup, not where the words go: each page asks for its
//! own messages. More languages are one more folder and one more [`Lang`].
use std::sync::LazyLock;

use fluent_bundle::{FluentArgs, FluentResource, concurrent::FluentBundle};

/// A language hearth speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fa,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fa];

    /// The BCP 47 tag, for `lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fa => "fa",
        }
    }

    /// The direction its text runs, for `dir=`.
    pub fn dir(self) -> &'static str {
        match self {
            Lang::En => "ltr",
            Lang::Fa => "rtl",
        }
    }

    fn named(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The language `setting` names (`en`, `fa`), or for anything else (`auto`) the
    /// first of `accept_language` hearth speaks, by the browser's preference.
    pub fn choose(setting: &str, accept_language: Option<&str>) -> Self {
        if let Some(lang) = Self::named(setting) {
            return lang;
        }
        let mut offered: Vec<(f32, usize, Lang)> = accept_language
            .unwrap_or_default()
            .split(',')
            .enumerate()
            .filter_map(|(at, item)| {
                let mut parts = item.split(';');
                let lang = Self::named(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, at, lang))
            })
            .collect();
        offered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        offered.first().map_or(Lang::En, |(_, _, lang)| *lang)
    }
}

fn bundle(lang: Lang, source: &'static str) -> FluentBundle<FluentResource> {
    let tag = lang
        .code()
        .parse()
        .unwrap_or_else(|_| unreachable!("the tags above are valid"));
    let mut bundle = FluentBundle::new_concurrent(vec![tag]);
    // Unicode isolation marks would wrap every argument; pages set `dir` themselves.
    bundle.set_use_isolating(false);
    match FluentResource::try_new(source.to_owned()) {
        Ok(resource) | Err((resource, _)) => {
            let _ = bundle.add_resource(resource);
        }
    }
    bundle
}

static BUNDLES: LazyLock<[FluentBundle<FluentResource>; 2]> = LazyLock::new(|| {
    [
        bundle(Lang::En, include_str!("../locales/en/hearth.ftl")),
        bundle(Lang::Fa, include_str!("../locales/fa/hearth.ftl")),
    ]
});

fn of(lang: Lang) -> &'static FluentBundle<FluentResource> {
    &BUNDLES[lang as usize]
}

fn format(
    bundle: &FluentBundle<FluentResource>,
    id: &str,
    args: Option<&FluentArgs>,
) -> Option<String> {
    let pattern = bundle.get_message(id)?.value()?;
    let mut errors = Vec::new();
    Some(
        bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned(),
    )
}

/// Message `id` in `lang`, with `args`; English when `lang`'s file lacks it, and the
/// id itself when no file has it.
pub fn text_with(lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
    format(of(lang), id, args)
        .or_else(|| format(of(Lang::En), id, args))
        .unwrap_or_else(|| id.to_owned())
}

/// Message `id` in `lang`.
pub fn text(lang: Lang, id: &str) -> String {
    text_with(lang, id, None)
}

/// Message `id` in `lang` with its one argument `name` set to `value`.
pub fn text_arg(lang: Lang, id: &str, name: &str, value: String) -> String {
    let mut args = FluentArgs::new();
    args.set(name, value);
    text_with(lang, id, Some(&args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(source: &str) -> Vec<String> {
        source
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' '))
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn every_language_has_every_message() {
        let en = ids(include_str!("../locales/en/hearth.ftl"));
        let fa = ids(include_str!("../locales/fa/hearth.ftl"));
        assert!(!en.is_empty());
        assert_eq!(
            en, fa,
            "the Persian file has the English file's ids, in order"
        );
        for id in &en {
            assert_ne!(text(Lang::Fa, id), *id, "{id} is found");
            assert_ne!(text(Lang::Fa, id), text(Lang::En, id), "{id} is translated");
        }
    }

    #[test]
    fn the_language_follows_the_setting_then_the_browser() {
        assert_eq!(Lang::choose("fa", Some("en-GB")), Lang::Fa);
        assert_eq!(
            Lang::choose("auto", Some("de, fa-IR;q=0.8, en;q=0.5")),
            Lang::Fa
        );
        assert_eq!(Lang::choose("auto", Some("en;q=0.4, fa;q=0.9")), Lang::Fa);
        assert_eq!(Lang::choose("auto", Some("fa;q=0, en")), Lang::En);
        assert_eq!(Lang::choose("auto", None), Lang::En);
    }

    #[test]
    fn arguments_fill_their_places() {
        let mut args = FluentArgs::new();
        args.set("email", "a@b.example");
        assert_eq!(
            text_with(Lang::En, "widget-email-saved", Some(&args)),
            "Thanks: we will write to a@b.example."
        );
    }
}

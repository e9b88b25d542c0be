//! What the pages say, in the reader's language: Fluent catalogues under
//! `locales/{en,fr,de}/` compiled into the binary, a [`Tr`] handle the pages
//! format their sentences with, and [`negotiate()`] to pick the language.
//!
//! Catalogues hold no markup (templates keep it) and no plaintext secret ever
//! passes through them: codes are shown by the templates, never as arguments.
//! A message missing from a catalogue falls back to English and is logged;
//! `tests.rs` fails the build's tests long before that can happen.

mod negotiate;
#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub use self::negotiate::{Preferences, negotiate};
pub use crate::config::Language;

/// The catalogue files of each language, in the order they are loaded.
const SOURCES: [(Language, [&str; 2]); 3] = [
    (
        Language::En,
        [
            include_str!("../../../../locales/en/pages.ftl"),
            include_str!("../../../../locales/en/refusals.ftl"),
        ],
    ),
    (
        Language::Fr,
        [
            include_str!("../../../../locales/fr/pages.ftl"),
            include_str!("../../../../locales/fr/refusals.ftl"),
        ],
    ),
    (
        Language::De,
        [
            include_str!("../../../../locales/de/pages.ftl"),
            include_str!("../../../../locales/de/refusals.ftl"),
        ],
    ),
];

type Bundle = FluentBundle<FluentResource>;

/// The compiled catalogues, in [`Language::ALL`] order.
static BUNDLES: LazyLock<Vec<Bundle>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, files)| bundle(*lang, files).unwrap_or_else(|_| empty(*lang)))
        .collect()
});

/// Why a catalogue cannot be used (found at start by [`init`]).
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A file does not parse as Fluent.
    #[error("the {0} catalogue does not parse")]
    Syntax(&'static str),
    /// Two files define the same message.
    #[error("the {0} catalogue defines a message twice")]
    Duplicate(&'static str),
}

fn empty(lang: Language) -> Bundle {
    let mut b = FluentBundle::new_concurrent(vec![langid(lang)]);
    b.set_use_isolating(false);
    b
}

fn langid(lang: Language) -> unic_langid::LanguageIdentifier {
    match lang {
        Language::En => unic_langid::langid!("en"),
        Language::Fr => unic_langid::langid!("fr"),
        Language::De => unic_langid::langid!("de"),
    }
}

fn bundle(lang: Language, files: &[&str]) -> Result<Bundle, CatalogueError> {
    // Isolation marks (U+2068/U+2069) around arguments would end up in the
    // downloaded file and the clipboard next to codes; the three shipped
    // languages are all left to right.
    let mut b = empty(lang);
    for source in files {
        let resource = FluentResource::try_new((*source).to_owned())
            .map_err(|_| CatalogueError::Syntax(lang.tag()))?;
        b.add_resource(resource)
            .map_err(|_| CatalogueError::Duplicate(lang.tag()))?;
    }
    Ok(b)
}

/// Check every catalogue once, at start: a broken one fails the boot, not a request.
pub fn init() -> Result<(), CatalogueError> {
    for (lang, files) in &SOURCES {
        bundle(*lang, files)?;
    }
    LazyLock::force(&BUNDLES);
    Ok(())
}

fn bundle_of(lang: Language) -> Option<&'static Bundle> {
    let i = Language::ALL.iter().position(|l| *l == lang)?;
    BUNDLES.get(i)
}

/// An argument of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Text (a name, a set's short form); never a code.
    Str(String),
    /// A number (plurals follow it).
    Num(i64),
    /// A time (Unix seconds), written in the reader's zone with the zone named.
    Time(i64),
    /// A wait in seconds, written in seconds, minutes or hours, rounded up.
    Wait(i64),
}

/// A message and its arguments, formatted once the reader's language is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Its id in the catalogues (`id` or `id.attribute`).
    pub id: &'static str,
    /// Its arguments.
    pub args: Vec<(&'static str, Arg)>,
}

impl Msg {
    /// A message without arguments.
    pub fn new(id: &'static str) -> Self {
        Self {
            id,
            args: Vec::new(),
        }
    }

    /// Add an argument.
    #[must_use]
    pub fn arg(mut self, name: &'static str, value: Arg) -> Self {
        self.args.push((name, value));
        self
    }
}

/// The reader's language and time zone: what every page formats its words with.
#[derive(Debug, Clone)]
pub struct Tr {
    lang: Language,
    zone: Option<(String, jiff::tz::TimeZone)>,
}

impl Default for Tr {
    fn default() -> Self {
        Self::new(Language::En, None)
    }
}

impl Tr {
    /// Words in `lang`, times in the IANA zone `zone` when it is one (else UTC).
    pub fn new(lang: Language, zone: Option<&str>) -> Self {
        let zone = zone
            .filter(|z| z.len() <= MAX_ZONE_BYTES)
            .and_then(|z| jiff::tz::TimeZone::get(z).ok().map(|tz| (z.to_owned(), tz)));
        Self { lang, zone }
    }

    /// The language's tag, for `lang` and `Content-Language`.
    pub fn tag(&self) -> &'static str {
        self.lang.tag()
    }

    /// The time zone's name, when the reader's is known.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_ref().map(|(name, _)| name.as_str())
    }

    /// A message without arguments (`id` or `id.attribute`).
    pub fn msg(&self, id: &str) -> String {
        self.format(id, &[])
    }

    /// A message with arguments.
    pub fn text(&self, m: &Msg) -> String {
        self.format(m.id, &m.args)
    }

    /// A message with arguments given in place.
    pub fn with(&self, id: &str, args: &[(&'static str, Arg)]) -> String {
        self.format(id, args)
    }

    /// A message cut around its argument `around` (given in `args` like the
    /// others), so a template can mark that part up whatever the language's
    /// word order: `(before, after)`.
    pub fn around(
        &self,
        id: &str,
        args: &[(&'static str, Arg)],
        around: &'static str,
    ) -> (String, String) {
        const MARK: &str = "\u{E000}";
        let mut marked: Vec<(&'static str, Arg)> = args.to_vec();
        marked.retain(|(k, _)| *k != around);
        marked.push((around, Arg::Str(MARK.to_owned())));
        let text = self.format(id, &marked);
        match text.split_once(MARK) {
            Some((before, after)) => (before.to_owned(), after.to_owned()),
            None => (text, String::new()),
        }
    }

    fn format(&self, id: &str, args: &[(&'static str, Arg)]) -> String {
        if let Some(s) = self.lookup(self.lang, id, args) {
            return s;
        }
        tracing::error!(
            id,
            lang = self.tag(),
            "a message is missing from a catalogue"
        );
        self.lookup(Language::En, id, args)
            .unwrap_or_else(|| id.to_owned())
    }

    fn lookup(&self, lang: Language, id: &str, args: &[(&'static str, Arg)]) -> Option<String> {
        let bundle = bundle_of(lang)?;
        let (name, attribute) = match id.split_once('.') {
            Some((n, a)) => (n, Some(a)),
            None => (id, None),
        };
        let message = bundle.get_message(name)?;
        let pattern = match attribute {
            Some(a) => message.get_attribute(a)?.value(),
            None => message.value()?,
        };
        let mut fluent_args = FluentArgs::new();
        for (key, value) in args {
            let v: FluentValue<'_> = match value {
                Arg::Str(s) => s.clone().into(),
                Arg::Num(n) => (*n).into(),
                Arg::Time(t) => self.time(*t).into(),
                Arg::Wait(w) => self.wait(*w).into(),
            };
            fluent_args.set(*key, v);
        }
        let mut errors = Vec::new();
        let out = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::error!(id, lang = lang.tag(), "a message could not be formatted");
            return None;
        }
        Some(out.into_owned())
    }

    /// A time (Unix seconds) in the reader's zone, the zone named.
    pub fn time(&self, at: i64) -> String {
        let ts = jiff::Timestamp::from_second(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let (zone_name, tz) = match &self.zone {
            Some((name, tz)) => (name.as_str(), tz.clone()),
            None => ("UTC", jiff::tz::TimeZone::UTC),
        };
        let dt = ts.to_zoned_datetime(tz).datetime();
        let two = |n: i8| format!("{n:02}");
        self.with(
            "datetime",
            &[
                ("year", Arg::Str(format!("{:04}", dt.year()))),
                ("month", Arg::Str(two(dt.month()))),
                ("day", Arg::Str(two(dt.day()))),
                ("hour", Arg::Str(two(dt.hour()))),
                ("minute", Arg::Str(two(dt.minute()))),
                ("zone", Arg::Str(zone_name.to_owned())),
            ],
        )
    }

    /// A wait in seconds, minutes or hours, rounded up.
    pub fn wait(&self, seconds: i64) -> String {
        let (id, n) = match seconds.max(1) {
            s if s < 60 => ("wait-seconds", s),
            s if s < 3600 => ("wait-minutes", (s + 59) / 60),
            s => ("wait-hours", s.saturating_add(3599) / 3600),
        };
        self.with(id, &[("n", Arg::Num(n))])
    }
}

/// Longest time-zone name taken from an IdP's claim, bytes.
pub const MAX_ZONE_BYTES: usize = 64;

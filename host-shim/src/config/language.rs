//! The languages the pages are shipped in, as the configuration names them
//! (`default_language`, `languages` of a tenant).

use serde::Deserialize;

/// A language the pages have a complete catalogue for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English (the fallback of every other catalogue).
    #[default]
    En,
    /// French.
    Fr,
    /// German.
    De,
}

impl Language {
    /// Every shipped language, English first.
    pub const ALL: [Self; 3] = [Self::En, Self::Fr, Self::De];

    /// Its BCP 47 tag (`lang`, `Content-Language`).
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::De => "de",
        }
    }

    /// The language whose primary subtag `tag` names (`fr-CA` → French), if shipped.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|l| l.tag() == primary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_their_language_by_primary_subtag() {
        assert_eq!(Language::from_tag("fr-CA"), Some(Language::Fr));
        assert_eq!(Language::from_tag("DE_at"), Some(Language::De));
        assert_eq!(Language::from_tag("en"), Some(Language::En));
        assert_eq!(Language::from_tag("es"), None);
        assert_eq!(Language::from_tag(""), None);
    }
}

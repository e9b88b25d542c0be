//! Which language a page is in: the IdP's choice first (`ui_locales`, then its
//! `locale` claim), then the browser's `Accept-Language`, then the tenant's
//! `default_language`, among the languages the tenant offers.

use axum::http::{HeaderMap, header};

use crate::config::TenantConfig;
use crate::http::views::i18n::Language;

/// Longest `Accept-Language` (or `ui_locales`) read, bytes; the rest is ignored.
const MAX_HEADER_BYTES: usize = 1024;
/// Most language ranges read from one header.
const MAX_RANGES: usize = 16;

/// What the IdP and the browser say about the reader's languages.
#[derive(Debug, Clone, Default)]
pub struct Preferences {
    /// The IdP's `ui_locales` (space-separated tags, most preferred first).
    pub ui_locales: Option<String>,
    /// The IdP's `locale` claim (one tag).
    pub locale: Option<String>,
    /// The browser's `Accept-Language`.
    pub accept_language: Option<String>,
}

impl Preferences {
    /// The browser's preferences only.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            accept_language: headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..Self::default()
        }
    }
}

/// The page language for `prefs` at `tenant` (`None`: no tenant, English offered alone).
pub fn negotiate(prefs: &Preferences, tenant: Option<&TenantConfig>) -> Language {
    let offered = tenant.map_or_else(|| Language::ALL.to_vec(), TenantConfig::offered_languages);
    let pick = |tags: &mut dyn Iterator<Item = &str>| {
        tags.filter_map(Language::from_tag)
            .find(|l| offered.contains(l))
    };
    let ui = prefs.ui_locales.as_deref().map(bounded);
    if let Some(l) = ui.and_then(|u| pick(&mut u.split_ascii_whitespace().take(MAX_RANGES))) {
        return l;
    }
    if let Some(l) = prefs
        .locale
        .as_deref()
        .and_then(|t| pick(&mut std::iter::once(bounded(t))))
    {
        return l;
    }
    if let Some(header) = prefs.accept_language.as_deref() {
        let ranges = accept_language(header);
        if let Some(l) = pick(&mut ranges.iter().map(|(tag, _)| *tag)) {
            return l;
        }
    }
    tenant.map_or(Language::En, |t| t.default_language)
}

fn bounded(s: &str) -> &str {
    let mut end = s.len().min(MAX_HEADER_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The ranges of an `Accept-Language` header, most preferred first (RFC 9110
/// §12.5.4): `q=0` ranges, `*` and malformed entries are dropped; ties keep
/// the header's order.
pub fn accept_language(header: &str) -> Vec<(&str, u16)> {
    let mut ranges: Vec<(&str, u16)> = bounded(header)
        .split(',')
        .take(MAX_RANGES)
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let tag = parts.next().filter(|t| valid_range(t))?;
            let mut q = 1000;
            for param in parts {
                let (k, v) = param.split_once('=')?;
                if k.trim().eq_ignore_ascii_case("q") {
                    q = quality(v.trim())?;
                }
            }
            (q > 0).then_some((tag, q))
        })
        .collect();
    ranges.sort_by_key(|r| std::cmp::Reverse(r.1));
    ranges
}

fn valid_range(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag != "*"
        && tag
            .split('-')
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A `qvalue` in thousandths: `0`, `1`, `0.d{0,3}`, `1.0{0,3}`.
fn quality(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(default: Language, offered: Option<Vec<Language>>) -> TenantConfig {
        TenantConfig {
            default_language: default,
            languages: offered,
            ..TenantConfig::default()
        }
    }

    #[test]
    fn accept_language_honours_quality_and_drops_refusals() {
        assert_eq!(
            accept_language("de;q=0.5, fr-CH, fr;q=0.9, en;q=0, *;q=0.1"),
            vec![("fr-CH", 1000), ("fr", 900), ("de", 500)]
        );
        assert_eq!(accept_language("fr;q=2, de;q=0.1234, x y, ,"), vec![]);
        assert_eq!(accept_language("de;q=1.000"), vec![("de", 1000)]);
    }

    #[test]
    fn the_idp_wins_then_the_browser_then_the_tenant() {
        let all = tenant(Language::De, None);
        let prefs = |ui: Option<&str>, locale: Option<&str>, accept: Option<&str>| Preferences {
            ui_locales: ui.map(str::to_owned),
            locale: locale.map(str::to_owned),
            accept_language: accept.map(str::to_owned),
        };
        assert_eq!(
            negotiate(&prefs(Some("es fr-CA"), Some("de"), Some("en")), Some(&all)),
            Language::Fr
        );
        assert_eq!(
            negotiate(&prefs(Some("es"), Some("de-AT"), Some("fr")), Some(&all)),
            Language::De
        );
        assert_eq!(
            negotiate(&prefs(None, None, Some("fr;q=0, en-GB")), Some(&all)),
            Language::En
        );
        assert_eq!(
            negotiate(&prefs(None, None, Some("es, fr;q=0")), Some(&all)),
            Language::De
        );
        // Only offered languages are chosen.
        let fr_en = tenant(Language::En, Some(vec![Language::Fr, Language::En]));
        assert_eq!(
            negotiate(&prefs(None, Some("de"), Some("de, fr;q=0.5")), Some(&fr_en)),
            Language::Fr
        );
        assert_eq!(negotiate(&prefs(None, None, None), None), Language::En);
    }
}

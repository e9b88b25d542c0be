//! Tenant ids, and how environment variables name them.
//!
//! A tenant id is 1 to 64 letters and digits, in words joined by single `-` or
//! `_` (`acme`, `corp-sso`, `Corp_SSO_2`). A shell cannot export a variable
//! whose name holds `-`, and `__` separates levels, so an environment variable
//! writes a tenant id in capitals with `-` as `_`:
//! `BACKUP_CODES_TENANTS__CORP_SSO__HS256_SECRET` sets `hs256_secret` of the
//! tenant `corp-sso` when the file defines it (of the tenant `corp_sso`
//! otherwise). Two tenant ids that differ only in case or in `-` against `_`
//! are therefore refused.

use std::collections::BTreeMap;

/// Longest tenant id.
pub const MAX_TENANT_ID: usize = 64;

/// Is `id` a well-formed tenant id?
pub fn is_valid(id: &str) -> bool {
    id.len() <= MAX_TENANT_ID
        && !id.is_empty()
        && id
            .split(['-', '_'])
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// How an environment variable spells `id` (after the prefix and `TENANTS__`).
pub fn env_name(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

/// The key two ids that an environment variable cannot tell apart share.
fn folded(id: &str) -> String {
    id.to_ascii_lowercase().replace('-', "_")
}

/// The first pair of ids among `ids` that environment variables cannot tell
/// apart.
pub fn ambiguous_pair<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<(&'a str, &'a str)> {
    let mut seen = BTreeMap::new();
    for id in ids {
        if let Some(other) = seen.insert(folded(id), id) {
            return Some((other, id));
        }
    }
    None
}

/// Tenant ids the file defines, by the key environment variables spell them with.
#[derive(Debug, Clone)]
pub struct EnvSpellings(BTreeMap<String, String>);

impl EnvSpellings {
    /// The spellings of `file_ids`.
    pub fn new(file_ids: impl IntoIterator<Item = String>) -> Self {
        Self(file_ids.into_iter().map(|id| (folded(&id), id)).collect())
    }

    /// An environment variable's key (levels split by `.`, any case) as a
    /// configuration key: every level in lower case, except a tenant id the
    /// file defines, which keeps its spelling (`TENANTS.CORP_SSO.PEPPER` →
    /// `tenants.corp-sso.pepper`).
    pub fn config_key(&self, env_key: &str) -> String {
        let mut levels: Vec<String> = env_key.split('.').map(str::to_ascii_lowercase).collect();
        if levels.len() > 1
            && levels[0] == "tenants"
            && let Some(id) = self.0.get(&levels[1])
        {
            levels[1].clone_from(id);
        }
        levels.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_words_joined_by_single_separators() {
        for good in ["acme", "corp-sso", "Corp_SSO_2", "a", &"x".repeat(64)] {
            assert!(is_valid(good), "{good}");
        }
        for bad in [
            "",
            "bad id",
            "-acme",
            "acme_",
            "a--b",
            "a_-b",
            "a__b",
            "a.b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn environment_names_are_exportable_and_map_back() {
        assert_eq!(env_name("corp-sso"), "CORP_SSO");
        let spellings = EnvSpellings::new(["corp-sso".to_owned(), "Acme".to_owned()]);
        let key = |k: &str| spellings.config_key(k);
        assert_eq!(
            key("TENANTS.CORP_SSO.HS256_SECRET"),
            "tenants.corp-sso.hs256_secret"
        );
        assert_eq!(key("TENANTS.ACME.PEPPER"), "tenants.Acme.pepper");
        // A tenant only the environment defines is spelled as written, in lower case.
        assert_eq!(key("TENANTS.NEW_ONE.ISSUER"), "tenants.new_one.issuer");
        assert_eq!(key("PLUGIN.MAX_CONCURRENT"), "plugin.max_concurrent");
    }

    #[test]
    fn ids_the_environment_cannot_tell_apart_are_found() {
        assert_eq!(ambiguous_pair(["a-b", "c", "A_B"]), Some(("a-b", "A_B")));
        assert_eq!(ambiguous_pair(["a-b", "c"]), None);
    }
}

//! Host for the backup-code WebAssembly component, and the service identity
//! providers call.
//!
//! Layers, each usable on its own by platform teams, each importing only the
//! ones before it:
//! - [`config`]: typed configuration, checked at start.
//! - [`plugin`]: load the component (embedded, or a file pinned by SHA-256) and
//!   call it through a typed API — `issue`, `activate`, `verify`, `status` — each
//!   call in a fresh, limited wasmtime store that fails closed.
//! - [`import`]: reading other identity servers' exports of recovery codes.
//! - [`store`]: credentials in SQLite or PostgreSQL, changed only by
//!   compare-and-swap together with their audit events.
//! - [`service`]: the operations (plugin + store, with retries on conflicts and
//!   an async queue in front of the plugin's instances).
//! - [`auth`]: IdP bearer tokens (JWKS or HS256, pinned algorithms, scopes,
//!   single-use `jti`).
//! - [`webhooks`]: events signed for the IdP's receivers (Standard Webhooks).
//! - [`http`]: the axum router ([`http::app`]): the JSON API, the login step's
//!   pages, the demo, health and metrics.
//! - [`server`]: assembling all of it from the configuration, and serving it.

pub mod auth;
pub mod config;
pub mod http;
pub mod import;
pub mod plugin;
pub mod server;
pub mod service;
pub mod store;
pub mod webhooks;

pub use plugin::{CallError, Issued, IssuedCode, LoadError, Plugin, PluginConfig};

#[cfg(test)]
mod layering {
    //! Imports run one way: config → plugin → import → store → service →
    //! auth → webhooks → http → server (and `main` above all). A module may
    //! import only those before it.

    const ORDER: [&str; 9] = [
        "config", "plugin", "import", "store", "service", "auth", "webhooks", "http", "server",
    ];

    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn imports_run_one_way() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut checked = 0;
        for path in all {
            let rel = path.strip_prefix(&src).unwrap();
            let top = rel
                .iter()
                .next()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches(".rs");
            let Some(level) = ORDER.iter().position(|m| *m == top) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                for (other, name) in ORDER.iter().enumerate() {
                    if other > level && line.contains(&format!("crate::{name}")) {
                        panic!(
                            "{}:{}: {top} imports {name}, a layer above it",
                            rel.display(),
                            n + 1
                        );
                    }
                }
            }
            checked += 1;
        }
        assert!(checked > 20, "{checked} files checked");
    }

    /// The doors (`http/`) reach codes, attempts, the rate limit per subject
    /// and the single-use marks only through the service: none calls the
    /// store, a rate limiter per subject or a subject check of its own, so a
    /// new door cannot forget one. (`Mark`s are typed and spent through
    /// `Service::spend`; per-address limits stay a layer of `http`.)
    #[test]
    fn doors_go_through_the_service() {
        let http = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut all = Vec::new();
        files(&http, &mut all);
        let forbidden = [
            ".store()",
            "crate::store::Store",
            "use_token",
            "token_used",
            "check_subject",
            "per_subject",
            "SubjectRates",
            "get_current_timestamp",
        ];
        let mut checked = 0;
        for path in all {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for needle in forbidden {
                    assert!(
                        !line.contains(needle),
                        "{}:{}: a door uses {needle} itself",
                        path.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
        assert!(checked > 20, "{checked} files checked");
    }

    /// One concern per file keeps files short: a file of more than 600 lines
    /// says in its header (`//!`) why it is longer ("Longer than").
    #[test]
    fn files_are_short_or_say_why() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        for path in all {
            let text = std::fs::read_to_string(&path).unwrap();
            let header_says_why = text
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .any(|l| l.contains("Longer than"));
            assert!(
                text.lines().count() <= 600 || header_says_why,
                "{}: {} lines, and its header does not say why",
                path.display(),
                text.lines().count()
            );
        }
    }
}

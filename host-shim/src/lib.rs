//! Host for the backup-code WebAssembly component, and the service identity
//! providers call.
//!
//! # The public API
//! What an embedding service needs is re-exported here and is what this
//! crate keeps stable within a minor version:
//! - [`Plugin`], [`PluginConfig`] and the contract's types in [`plugin`]: load
//!   the component (embedded, or a file pinned by SHA-256) and call it through a
//!   typed API — `issue`, `activate`, `verify`, `status` — each call in a fresh,
//!   limited wasmtime store that fails closed ([`CallError`], [`LoadError`]).
//! - [`Config`] ([`config`]): typed configuration, checked at start.
//! - [`Service`], [`Subject`], [`Attempt`], [`ServiceError`] ([`service`]): the
//!   operations every door uses (plugin + [`store`], one component call per
//!   attempt, compare-and-swap with audit rows and webhook events).
//! - [`server::build`] to assemble an [`AppState`] from a [`Config`], [`app`] to
//!   mount its router under any prefix, [`server::serve`] with graceful
//!   shutdown, [`StartError`].
//! - [`demo`]: the local demo tenant; [`http_client`]: the HTTP client with the
//!   TLS provider the shim uses; [`random_secret`] for new secrets.
//! - [`import`] (other identity servers' exports) and [`webhooks::sign`]
//!   (checking the shim's signed events in a Rust receiver).
//!
//! Everything else (the doors, their pages, token checks, the webhook worker)
//! is internal (`pub(crate)`) and may change in any release.
//!
//! # Layers
//! Each importing only the ones before it (checked by a test): `random` →
//! `bindings` (the one `bindgen!`) → [`config`] → [`plugin`] → [`import`] →
//! [`store`] → [`service`] → `auth` (IdP bearer tokens: JWKS or HS256, pinned
//! algorithms, scopes, single-use `jti`) → [`webhooks`] → [`http`] (the axum
//! router: the JSON API, the login step, the REST second factor, self-service,
//! the step-up OpenID provider, the demo, health and metrics) → [`server`].

pub(crate) mod auth;
mod bindings;
pub mod config;
pub mod http;
pub mod import;
pub mod plugin;
pub(crate) mod random;
pub mod server;
pub mod service;
pub mod store;
pub mod webhooks;

pub use auth::JWKS_REFETCH_INTERVAL;
pub use auth::client::builder as http_client;
pub use config::Config;
pub use http::demo::tenant as demo;
pub use http::{AppState, app};
pub use plugin::{CallError, Issued, IssuedCode, LoadError, Plugin, PluginConfig};
pub use random::{SourceFailed, secret as random_secret};
pub use server::StartError;
pub use service::{Attempt, Service, ServiceError, Subject};

/// What the project's own test harness needs beyond the API above (minting
/// self-service tokens to check they are refused where they do not belong):
/// hidden from the docs, not for embedders, not stable. (Not behind a cargo
/// feature: the harness would then build the shim's library twice.)
#[doc(hidden)]
pub mod test_support {
    pub use crate::http::doors::selfservice::tokens::{Keys, Purpose};
    pub use crate::http::views::brand::{Brand, BrandError};

    /// A tenant's step-up signing keys, as the running state holds them.
    pub fn stepup_keys<'a>(
        state: &'a crate::AppState,
        tenant: &str,
    ) -> Option<&'a crate::auth::signing::KeyRing> {
        state.stepup.get(tenant).map(|s| &s.ring)
    }

    /// A tenant's brand, as loaded at start.
    pub fn brand(state: &crate::AppState, tenant: &str) -> Option<std::sync::Arc<Brand>> {
        state.brands.get(tenant).cloned()
    }
}

#[cfg(test)]
mod layering {
    //! Imports run one way: random → bindings → config → plugin → import → store → service →
    //! auth → webhooks → http → server (and `main` above all). A module may
    //! import only those before it.

    const ORDER: [&str; 11] = [
        "random", "bindings", "config", "plugin", "import", "store", "service", "auth", "webhooks",
        "http", "server",
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

    /// Inside `http/`, the parts (each door, each layer, each view, `operator`,
    /// `demo`) import one another without cycles, and the shared parts
    /// (`layers`, `views`) never import a door.
    #[test]
    fn http_parts_import_without_cycles() {
        use std::collections::{BTreeMap, BTreeSet};
        let http = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut all = Vec::new();
        files(&http, &mut all);
        let part = |rel: &std::path::Path| -> String {
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            match parts.as_slice() {
                [group, name, ..] if ["doors", "layers", "views"].contains(&group.as_str()) => {
                    format!("{group}::{name}")
                }
                [first, ..] => first.clone(),
                [] => String::new(),
            }
        };
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for path in &all {
            let from = part(path.strip_prefix(&http).unwrap());
            let text = std::fs::read_to_string(path).unwrap();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::http::") {
                    let rest = &line[at + "crate::http::".len()..];
                    let mut names = rest
                        .split("::")
                        .map(|n| n.split(|c: char| !c.is_alphanumeric() && c != '_').next());
                    let first = names.next().flatten().unwrap_or_default().to_owned();
                    let to = if ["doors", "layers", "views"].contains(&first.as_str()) {
                        format!("{first}::{}", names.next().flatten().unwrap_or_default())
                    } else {
                        first
                    };
                    if to != from
                        && !to.is_empty()
                        && to.chars().next().is_some_and(char::is_lowercase)
                    {
                        edges.entry(from.clone()).or_default().insert(to);
                    }
                }
            }
        }
        for (from, tos) in &edges {
            if from.starts_with("layers::") || from.starts_with("views::") {
                for to in tos {
                    assert!(!to.starts_with("doors::"), "{from} imports the door {to}");
                }
            }
        }
        fn visit(
            at: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) {
            if let Some(i) = path.iter().position(|p| p == at) {
                panic!("import cycle inside http: {}", path[i..].join(" -> "));
            }
            if !done.insert(at.to_owned()) {
                return;
            }
            path.push(at.to_owned());
            for next in edges.get(at).into_iter().flatten() {
                visit(next, edges, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for from in edges.keys() {
            visit(from, &edges, &mut Vec::new(), &mut done);
        }
        assert!(edges.len() > 10, "{} parts seen", edges.len());
    }
}

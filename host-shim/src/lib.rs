//! Host for the backup-code WebAssembly component, and the service identity
//! providers call.
//!
//! Layers, each usable on its own by platform teams:
//! - [`plugin`]: load the component (embedded, or a file pinned by SHA-256) and
//!   call it through a typed API — `issue`, `activate`, `verify`, `status` — each
//!   call in a fresh, limited wasmtime store that fails closed.
//! - [`store`]: credentials in SQLite or PostgreSQL, changed only by
//!   compare-and-swap together with their audit events.
//! - [`service`]: the operations (plugin + store, with retries on conflicts).
//! - [`auth`]: IdP bearer tokens (JWKS or HS256, pinned algorithms, single-use `jti`).
//! - [`api`]: the axum router ([`api::app`]) with the JSON API, health and metrics.
//! - [`step`]: the redirect login step for identity providers, its pages and the demo.
//! - [`config`] and [`server`]: typed configuration and start-up.

pub mod api;
pub mod auth;
pub mod config;
pub mod plugin;
pub mod server;
pub mod service;
pub mod step;
pub mod store;

pub use plugin::{CallError, Issued, IssuedCode, LoadError, Plugin, PluginConfig};

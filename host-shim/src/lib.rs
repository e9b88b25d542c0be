//! Host for the backup-code WebAssembly component.
//!
//! [`plugin::Plugin`] loads the component (the one embedded in this crate, built
//! from `plugin/` at build time, or another one pinned by SHA-256) and offers a
//! typed API — `issue`, `activate`, `verify`, `status` — where every call runs in a
//! fresh, limited wasmtime store and fails closed.

pub mod plugin;

pub use plugin::{CallError, Issued, IssuedCode, LoadError, Plugin, PluginConfig};

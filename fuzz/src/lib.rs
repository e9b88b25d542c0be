//! The plugin's logic modules, compiled natively for the fuzz targets.
//!
//! The plugin (`plugin/`) is a `cdylib`, which a fuzz crate cannot link, so its
//! modules are included here by path: the same source files, not copies. The
//! module tree mirrors the plugin's crate root, so the modules' own
//! `crate::alphabet` and `crate::policy` paths resolve. Only what the targets
//! need is included (`state` needs `alphabet`, `policy` and `foreign`,
//! `foreign` needs `alphabet`).
#![forbid(unsafe_code)]

extern crate alloc;

#[path = "../../plugin/src/alphabet.rs"]
pub mod alphabet;
#[path = "../../plugin/src/foreign.rs"]
pub mod foreign;
#[path = "../../plugin/src/policy.rs"]
pub mod policy;
#[path = "../../plugin/src/state/mod.rs"]
pub mod state;

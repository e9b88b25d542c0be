//! Every integration test of the harness and of the shim, in one binary (as
//! wasmtime's `tests/all`): each module was a test file of its own
//! (`tests/tests/*.rs`, `host-shim/tests/*.rs`), and each of those binaries
//! linked wasmtime and the shim again (~110 MB and most of a CI build's link
//! time apiece). The helpers they share are the harness's library
//! (`tests/src/`); the shim binary the process tests run comes from
//! [`backup_codes_harness::shim::binary`].
//!
//! Tests run in parallel threads of this one process, so none may change
//! process-wide state (environment, working directory); the shim's metrics
//! recorder is process-wide, so a metric check asks for a series or a lower
//! bound, never an exact total.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod attack_round3;
mod branding;
mod cli;
mod compat;
mod component;
mod hostile;
mod hygiene;
mod import;
mod outbox;
mod processes;
mod security;
mod selfservice_claims;
mod step;
mod stepup;
mod tenant_init;
mod timing;
mod tree;
mod webhooks;

//! The backup-code engine (`authn:backup-codes`), built as a WebAssembly component.
//!
//! All rules live in plain modules that are unit-tested natively:
//! [`alphabet`] (symbols, check symbol, normalisation), [`policy`], [`state`]
//! (the credential value), [`hashing`] (argon2id and constant-time search) and
//! [`engine`] (issue, activate, verify, status); [`foreign`] holds other
//! systems' code formats, for sets imported from them. The generated WIT bindings are
//! compiled only for wasm32 and kept in the `bindings` module.
#![deny(unsafe_code)]

extern crate alloc;

pub mod alphabet;
pub mod engine;
pub mod foreign;
pub mod hashing;
pub mod policy;
pub mod state;

#[cfg(test)]
std::thread_local! {
    /// Argon2 evaluations made on this thread, by [`hashing`] and by
    /// [`foreign`]'s PHC checks (tests count them). At the crate root so both
    /// can count without importing each other.
    pub static EVALUATIONS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod bindings;

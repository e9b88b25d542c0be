//! Why the component could not be loaded or a call returned no result; traps
//! are classified by type, never by their text.

use wasmtime::{PoolConcurrencyLimitError, Trap};

use super::PluginError;

/// Why the component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The component's SHA-256 is not the configured one.
    #[error("component SHA-256 {actual} does not match the configured {expected}")]
    HashMismatch {
        /// Configured digest (hex).
        expected: String,
        /// Digest of the bytes offered (hex).
        actual: String,
    },
    /// The configuration cannot work (for example a zero pool size).
    #[error("invalid plugin configuration: {0}")]
    Config(String),
    /// Wasmtime refused the engine settings, the component or its imports.
    #[error("loading the component failed: {0}")]
    Wasmtime(String),
}

/// Why a call to the component did not return a result. Callers fail closed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin refused the input (a typed, expected error).
    #[error("refused by the plugin: {0:?}")]
    Plugin(PluginError),
    /// The call ran past its deadline and was interrupted.
    #[error("the plugin call timed out")]
    Timeout,
    /// The call tried to use more memory than allowed.
    #[error("the plugin call exceeded its memory limit")]
    ResourceLimit,
    /// The plugin returned more data than the host accepts.
    #[error("the plugin returned an oversized result")]
    OutputTooLarge,
    /// Every instance slot was busy (for the whole queue timeout, when queued).
    #[error("all plugin instances are busy")]
    Busy,
    /// The plugin trapped or could not be instantiated.
    #[error("the plugin trapped")]
    Trap,
}

impl CallError {
    /// Short machine-readable kind, for metrics and audit events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Plugin(_) => "refused",
            Self::Timeout => "timeout",
            Self::ResourceLimit => "memory",
            Self::OutputTooLarge => "oversized",
            Self::Busy => "busy",
            Self::Trap => "trap",
        }
    }
}

/// What a failed call means, from the error's type.
pub fn classify(e: &wasmtime::Error, memory_denied: bool) -> CallError {
    if memory_denied {
        return CallError::ResourceLimit;
    }
    if e.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
        return CallError::Busy;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Timeout,
        Some(Trap::AllocationTooLarge | Trap::StackOverflow) => CallError::ResourceLimit,
        _ => CallError::Trap,
    }
}

/// The error of a failed load.
pub fn wasmtime_error(e: impl std::fmt::Display) -> LoadError {
    LoadError::Wasmtime(format!("{e:#}"))
}

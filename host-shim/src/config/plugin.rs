//! How the component runs: where it comes from, its per-call limits, its pool.

use std::path::PathBuf;

use serde::Deserialize;

/// Component settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// A component file to load instead of the embedded one.
    pub component_path: Option<PathBuf>,
    /// Required SHA-256 (hex) of the component; loading fails otherwise.
    pub component_sha256: Option<String>,
    /// Memory limit per call, MiB (must exceed every tenant's argon2 memory).
    pub memory_limit_mib: usize,
    /// Deadline per call, milliseconds.
    pub call_timeout_ms: u64,
    /// Calls at once (instance pool size).
    pub max_concurrent: u32,
    /// How long a call may wait for a free instance, milliseconds.
    pub queue_timeout_ms: u64,
    /// Compiled-code cache directory (`None`: no disk cache).
    pub cache_dir: Option<PathBuf>,
    /// Memory each instance slot keeps resident between calls, MiB (reset in
    /// place instead of faulted in again; 0: return it to the kernel each call).
    pub keep_resident_mib: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        Self {
            component_path: None,
            component_sha256: None,
            memory_limit_mib: 64,
            call_timeout_ms: 10_000,
            max_concurrent: 8,
            queue_timeout_ms: 5_000,
            cache_dir: Some(PathBuf::from("data/cache")),
            keep_resident_mib: 64,
        }
    }
}

//! How calls run: the engine's settings (pooling allocator, epoch interruption,
//! compiled-code cache), the store data of one call (memory limits, the host's
//! `wasi:random` and `wasi:clocks/wall-clock`), and the epoch ticker.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::Clock;
use super::errors::{LoadError, wasmtime_error};
use crate::bindings;
use crate::config::PluginSettings;

/// Epoch tick used for deadlines.
pub const TICK: Duration = Duration::from_millis(10);
/// Bytes of each pooled table reset in place rather than decommitted (the
/// component's tables are a few entries).
const TABLE_KEEP_RESIDENT: usize = 64 * 1024;

/// How the component is run.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Most linear memory one call may use, in bytes (must exceed argon2's memory).
    pub memory_limit: usize,
    /// Longest a call may run before it is interrupted.
    pub call_timeout: Duration,
    /// Calls that may run at once (also the size of the instance pool).
    pub max_concurrent: u32,
    /// Longest a queued call waits for a free slot before [`super::CallError::Busy`]
    /// (the async service queues; direct calls fail at once when all are busy).
    pub queue_timeout: Duration,
    /// Where compiled code is cached (`None`: no disk cache).
    pub cache_dir: Option<PathBuf>,
    /// Refuse to load a component whose SHA-256 differs.
    pub expected_sha256: Option<[u8; 32]>,
    /// Bytes of linear memory each instance slot keeps resident between calls
    /// (capped at `memory_limit`). The pages a call wrote are zeroed in place
    /// before the slot is reused instead of being returned to the kernel, so the
    /// next call does not fault them in again; idle memory is then up to
    /// `max_concurrent` x what one call touches (argon2's memory + ~2 MiB).
    /// 0 returns everything to the kernel after each call.
    pub keep_resident: usize,
    /// Count the work every call does in wasmtime fuel (one unit per wasm
    /// operator, deterministic), summed in [`super::Plugin::fuel_used`]: for
    /// benchmarks that count argon2 evaluations per request. Off in service
    /// (metering slows the component down).
    pub meter_fuel: bool,
}

impl Default for PluginConfig {
    /// The configuration's defaults, without a disk cache.
    fn default() -> Self {
        Self {
            cache_dir: None,
            ..Self::from(&PluginSettings::default())
        }
    }
}

impl From<&PluginSettings> for PluginConfig {
    /// The runtime settings of the configuration (a component SHA-256 that does
    /// not parse was refused when the configuration was checked).
    fn from(s: &PluginSettings) -> Self {
        Self {
            memory_limit: s.memory_limit_mib << 20,
            call_timeout: Duration::from_millis(s.call_timeout_ms),
            max_concurrent: s.max_concurrent,
            queue_timeout: Duration::from_millis(s.queue_timeout_ms),
            cache_dir: s.cache_dir.clone(),
            expected_sha256: s
                .component_sha256
                .as_deref()
                .and_then(|h| crate::config::parse_sha256(h).ok()),
            keep_resident: s.keep_resident_mib.saturating_mul(1 << 20),
            meter_fuel: false,
        }
    }
}

/// Store data for one call.
pub struct HostState {
    /// Its limits.
    pub limits: Limiter,
    /// The wall clock it reads.
    pub clock: Arc<dyn Clock>,
}

/// [`wasmtime::StoreLimits`] that remembers whether it refused memory growth.
pub struct Limiter {
    /// The limits.
    pub inner: wasmtime::StoreLimits,
    /// A growth was refused.
    pub denied: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.denied |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.table_growing(current, desired, maximum)?;
        self.denied |= !allowed;
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl bindings::wasi::random::random::Host for HostState {
    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        // No randomness means no codes: trap, and the call fails closed.
        crate::random::u64().map_err(|e| wasmtime::Error::msg(format!("host random source: {e}")))
    }
}

impl bindings::wasi::clocks::wall_clock::Host for HostState {
    fn now(&mut self) -> wasmtime::Result<bindings::wasi::clocks::wall_clock::Datetime> {
        Ok(bindings::wasi::clocks::wall_clock::Datetime {
            seconds: self.clock.now(),
            nanoseconds: 0,
        })
    }
}

/// Increments the engine's epoch every [`TICK`] until dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Start ticking `engine`'s epoch.
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The engine's settings for `config`.
pub fn engine_config(config: &PluginConfig) -> Result<Config, LoadError> {
    let mut c = Config::new();
    c.epoch_interruption(true);
    c.wasm_simd(true);
    c.consume_fuel(config.meter_fuel);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(config.max_concurrent)
        .total_memories(config.max_concurrent)
        .total_tables(config.max_concurrent.saturating_mul(4))
        .total_core_instances(config.max_concurrent.saturating_mul(8))
        .max_memory_size(config.memory_limit)
        // After each call, reset the pages the call wrote in place (memset, found
        // with the PAGEMAP_SCAN ioctl on Linux >= 6.7) instead of returning them to
        // the kernel: the next call in the slot does not page-fault argon2's
        // ~19 MiB back in. The reset happens before the slot is reused, so every
        // call still starts from the component's initial memory.
        .linear_memory_keep_resident(config.keep_resident.min(config.memory_limit))
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if let Some(dir) = &config.cache_dir {
        let dir = std::path::absolute(dir).map_err(wasmtime_error)?;
        std::fs::create_dir_all(&dir).map_err(wasmtime_error)?;
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        c.cache(Some(wasmtime::Cache::new(cache).map_err(wasmtime_error)?));
    }
    Ok(c)
}

//! Loading the backup-code component and calling it safely.
//!
//! The component is compiled once (and cached on disk by wasmtime, keyed by a hash
//! of the component and the engine's settings), pre-instantiated once, and every
//! call runs in a fresh [`wasmtime::Store`] with memory limits, an epoch deadline
//! and the pooling allocator. Any trap, timeout, limit or oversized output becomes a
//! [`CallError`]: the caller fails closed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
};

mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit",
        imports: { default: trappable },
        additional_derives: [PartialEq, Eq],
    });
}

use bindings::exports::authn::backup_codes::engine as wit;
pub use wit::{
    CodeFormatError, CodeOrder, CredentialStatus, Error as PluginError, Event, FailedEvent,
    FailureReason, HashParams, IssuedEvent, LockedEvent, Outcome, Policy, Rejection, SetRef,
    SetStatus, UsedCode, UsedEvent, Verification,
};

/// The component built from `plugin/` by this crate's build script.
pub const EMBEDDED_COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/backup_codes.wasm"));

/// Largest credential value accepted from the plugin.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;
/// Most events one call may return.
pub const MAX_EVENTS: usize = 16;
/// Longest string (code, set id, message) accepted from the plugin.
pub const MAX_STRING_BYTES: usize = 512;
/// Most codes one set may hold.
pub const MAX_CODES: usize = 64;
/// Epoch tick used for deadlines.
const TICK: Duration = Duration::from_millis(10);
/// Bytes of each pooled table reset in place rather than decommitted (the
/// component's tables are a few entries).
const TABLE_KEEP_RESIDENT: usize = 64 * 1024;

/// A source of wall-clock time for the plugin (tests may supply their own).
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// How the component is run.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Most linear memory one call may use, in bytes (must exceed argon2's memory).
    pub memory_limit: usize,
    /// Longest a call may run before it is interrupted.
    pub call_timeout: Duration,
    /// Calls that may run at once (also the size of the instance pool).
    pub max_concurrent: u32,
    /// Longest a call waits for a free slot before [`CallError::Busy`].
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
}

impl Default for PluginConfig {
    fn default() -> Self {
        Self {
            memory_limit: 64 << 20,
            call_timeout: Duration::from_secs(10),
            max_concurrent: 8,
            queue_timeout: Duration::from_secs(5),
            cache_dir: None,
            expected_sha256: None,
            keep_resident: 64 << 20,
        }
    }
}

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
    /// Every instance slot stayed busy for the whole queue timeout.
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

/// One newly issued code. Its `Debug` output never shows the code.
pub struct IssuedCode {
    /// Position in the set, from 1.
    pub number: u8,
    /// The code in display form.
    pub code: SecretBox<String>,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "IssuedCode {{ number: {}, code: [REDACTED] }}",
            self.number
        )
    }
}

/// A newly issued set.
#[derive(Debug)]
pub struct Issued {
    /// The credential value to store.
    pub credential: Vec<u8>,
    /// The codes, in number order: shown once, never stored.
    pub codes: Vec<IssuedCode>,
    /// The set's id.
    pub set_id: String,
    /// Short form of the set id.
    pub fingerprint: String,
    /// Events to record.
    pub events: Vec<Event>,
}

/// Store data for one call.
struct HostState {
    limits: Limiter,
    clock: Arc<dyn Clock>,
}

/// [`wasmtime::StoreLimits`] that remembers whether it refused memory growth.
struct Limiter {
    inner: wasmtime::StoreLimits,
    denied: bool,
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
        getrandom::u64().map_err(|e| wasmtime::Error::msg(format!("host random source: {e}")))
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

/// A counting semaphore with a timeout, in front of the instance pool.
struct Slots {
    free: Mutex<u32>,
    released: Condvar,
}

struct Permit<'a>(&'a Slots);

impl Slots {
    fn acquire(&self, timeout: Duration) -> Result<Permit<'_>, CallError> {
        let guard = self.free.lock().map_err(|_| CallError::Busy)?;
        let (mut free, _) = self
            .released
            .wait_timeout_while(guard, timeout, |free| *free == 0)
            .map_err(|_| CallError::Busy)?;
        if *free == 0 {
            return Err(CallError::Busy);
        }
        *free -= 1;
        Ok(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut free) = self.0.free.lock() {
            *free += 1;
        }
        self.0.released.notify_one();
    }
}

/// Increments the engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
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

/// The loaded component, ready for calls from any thread.
pub struct Plugin {
    pre: bindings::PluginPre<HostState>,
    config: PluginConfig,
    clock: Arc<dyn Clock>,
    sha256: [u8; 32],
    slots: Slots,
    _ticker: Ticker,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("sha256", &hex::encode(self.sha256))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn wasmtime_error(e: impl std::fmt::Display) -> LoadError {
    LoadError::Wasmtime(format!("{e:#}"))
}

/// The SHA-256 of component bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Plugin {
    /// Load the component embedded in this crate.
    pub fn embedded(config: PluginConfig) -> Result<Self, LoadError> {
        Self::from_bytes(EMBEDDED_COMPONENT, config)
    }

    /// Load a component from its bytes, checking the configured SHA-256 first.
    pub fn from_bytes(bytes: &[u8], config: PluginConfig) -> Result<Self, LoadError> {
        Self::with_clock(bytes, config, Arc::new(SystemClock))
    }

    /// Load a component with a given clock (tests use this to move time).
    pub fn with_clock(
        bytes: &[u8],
        config: PluginConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LoadError> {
        let digest = sha256(bytes);
        if let Some(expected) = config.expected_sha256
            && expected != digest
        {
            return Err(LoadError::HashMismatch {
                expected: hex::encode(expected),
                actual: hex::encode(digest),
            });
        }
        if config.max_concurrent == 0 || config.memory_limit < (1 << 20) {
            return Err(LoadError::Config(
                "max_concurrent must be at least 1 and memory_limit at least 1 MiB".into(),
            ));
        }
        let engine = Engine::new(&engine_config(&config)?).map_err(wasmtime_error)?;
        let component = Component::new(&engine, bytes).map_err(wasmtime_error)?;
        let mut linker = Linker::<HostState>::new(&engine);
        bindings::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .map_err(wasmtime_error)?;
        let pre = linker.instantiate_pre(&component).map_err(wasmtime_error)?;
        let pre = bindings::PluginPre::new(pre).map_err(wasmtime_error)?;
        Ok(Self {
            pre,
            clock,
            sha256: digest,
            slots: Slots {
                free: Mutex::new(config.max_concurrent),
                released: Condvar::new(),
            },
            _ticker: Ticker::start(engine),
            config,
        })
    }

    /// SHA-256 of the loaded component.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The import names of the loaded component (for audits and tests).
    pub fn imports(&self) -> Vec<String> {
        let engine = self.pre.engine();
        self.pre
            .instance_pre()
            .component()
            .component_type()
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Run one call in a fresh, limited store.
    fn call<R>(
        &self,
        f: impl FnOnce(&bindings::Plugin, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let _permit = self.slots.acquire(self.config.queue_timeout)?;
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(self.config.memory_limit)
            .instances(16)
            .tables(16)
            .memories(4)
            .table_elements(16 * 1024)
            .build();
        let mut store = Store::new(
            self.pre.engine(),
            HostState {
                limits: Limiter {
                    inner: limits,
                    denied: false,
                },
                clock: Arc::clone(&self.clock),
            },
        );
        store.limiter(|state| &mut state.limits);
        let ticks = self.config.call_timeout.as_millis() / TICK.as_millis();
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).max(1));
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&instance, &mut store));
        result.map_err(|e| classify(&e, store.data().limits.denied))
    }

    /// The plugin's recommended policy.
    pub fn default_policy(&self) -> Result<Policy, CallError> {
        self.call(|p, s| p.authn_backup_codes_engine().call_default_policy(s))
    }

    /// Issue a new set; see the WIT `issue`.
    pub fn issue(
        &self,
        current: Option<&[u8]>,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Issued, CallError> {
        let pepper = pepper.map(|p| p.expose_secret());
        let current = current.map(<[u8]>::to_vec);
        let issued = self
            .call(|p, s| {
                p.authn_backup_codes_engine()
                    .call_issue(s, current.as_ref(), *policy, pepper)
            })?
            .map_err(CallError::Plugin)?;
        bound(issued.credential.len() <= MAX_CREDENTIAL_BYTES)?;
        bound(issued.codes.len() <= MAX_CODES)?;
        bound(issued.events.len() <= MAX_EVENTS)?;
        bound(issued.set_id.len() <= MAX_STRING_BYTES)?;
        bound(issued.fingerprint.len() <= MAX_STRING_BYTES)?;
        let mut codes = Vec::with_capacity(issued.codes.len());
        for c in issued.codes {
            let code = SecretBox::new(Box::new(c.code));
            bound(code.expose_secret().len() <= MAX_STRING_BYTES)?;
            codes.push(IssuedCode {
                number: c.number,
                code,
            });
        }
        Ok(Issued {
            credential: issued.credential,
            codes,
            set_id: issued.set_id,
            fingerprint: issued.fingerprint,
            events: issued.events,
        })
    }

    /// Prove the pending set was saved; see the WIT `activate`.
    pub fn activate(
        &self,
        current: &[u8],
        code: &SecretString,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Verification, CallError> {
        let pepper = pepper.map(|p| p.expose_secret());
        let code = code.expose_secret();
        let current = current.to_vec();
        let v = self.call(|p, s| {
            p.authn_backup_codes_engine()
                .call_activate(s, &current, code, *policy, pepper)
        })?;
        check_verification(v.map_err(CallError::Plugin)?)
    }

    /// Check a code against the active set; see the WIT `verify`.
    pub fn verify(
        &self,
        current: &[u8],
        code: &SecretString,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Verification, CallError> {
        let pepper = pepper.map(|p| p.expose_secret());
        let code = code.expose_secret();
        let current = current.to_vec();
        let v = self.call(|p, s| {
            p.authn_backup_codes_engine()
                .call_verify(s, &current, code, *policy, pepper)
        })?;
        check_verification(v.map_err(CallError::Plugin)?)
    }

    /// Describe a credential; see the WIT `status`.
    pub fn status(&self, current: &[u8], policy: &Policy) -> Result<CredentialStatus, CallError> {
        let status = self
            .call(|p, s| {
                p.authn_backup_codes_engine()
                    .call_status(s, &current.to_vec(), *policy)
            })?
            .map_err(CallError::Plugin)?;
        for set in status.active.iter().chain(status.pending.iter()) {
            bound(set.used.len() <= MAX_CODES)?;
            bound(set.set_id.len() <= MAX_STRING_BYTES)?;
            bound(set.fingerprint.len() <= MAX_STRING_BYTES)?;
        }
        Ok(status)
    }
}

fn bound(ok: bool) -> Result<(), CallError> {
    if ok {
        Ok(())
    } else {
        Err(CallError::OutputTooLarge)
    }
}

fn check_verification(v: Verification) -> Result<Verification, CallError> {
    bound(v.credential.len() <= MAX_CREDENTIAL_BYTES)?;
    bound(v.events.len() <= MAX_EVENTS)?;
    Ok(v)
}

fn classify(e: &wasmtime::Error, memory_denied: bool) -> CallError {
    if memory_denied {
        return CallError::ResourceLimit;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Timeout,
        Some(Trap::AllocationTooLarge) => CallError::ResourceLimit,
        Some(Trap::StackOverflow) => CallError::ResourceLimit,
        _ => {
            if format!("{e:#}").contains("concurrent") {
                CallError::Busy
            } else {
                CallError::Trap
            }
        }
    }
}

fn engine_config(config: &PluginConfig) -> Result<Config, LoadError> {
    let mut c = Config::new();
    c.epoch_interruption(true);
    c.wasm_simd(true);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeping pool memory resident must not let one call see another's data:
    /// the slot is reset before reuse, including pages the call grew into.
    #[test]
    fn pooled_memory_starts_clean_for_every_instance() {
        let config = PluginConfig {
            max_concurrent: 1,
            ..PluginConfig::default()
        };
        let engine = Engine::new(&engine_config(&config).unwrap()).unwrap();
        let module = wasmtime::Module::new(
            &engine,
            wat::parse_str(
                r#"(module
                  (memory 1)
                  (global $g (mut i32) (i32.const 0))
                  (func (export "dirty") (result i32)
                    (local $seen i32)
                    (drop (memory.grow (i32.const 300)))
                    (local.set $seen
                      (i32.add
                        (i32.add (i32.load (i32.const 0)) (global.get $g))
                        (i32.load (i32.const 19000000))))
                    (i32.store (i32.const 0) (i32.const 7))
                    (i32.store (i32.const 19000000) (i32.const 42))
                    (global.set $g (i32.const 5))
                    (memory.fill (i32.const 4096) (i32.const 255) (i32.const 65536))
                    (i32.add (local.get $seen) (i32.load8_u (i32.const 8192)))))"#,
            )
            .unwrap(),
        )
        .unwrap();
        for _ in 0..3 {
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(1_000);
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
            let dirty = instance
                .get_typed_func::<(), i32>(&mut store, "dirty")
                .unwrap();
            // 255 from this call's own fill; any leftover would add to it.
            assert_eq!(dirty.call(&mut store, ()).unwrap(), 255);
        }
    }
}

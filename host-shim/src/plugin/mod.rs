//! Loading the backup-code component and calling it safely.
//!
//! The component is compiled once (and cached on disk by wasmtime, keyed by a hash
//! of the component and the engine's settings), pre-instantiated once, and every
//! call runs in a fresh [`wasmtime::Store`] with memory limits, an epoch deadline
//! and the pooling allocator. Any trap, timeout, limit or oversized output becomes a
//! [`CallError`]: the caller fails closed. Calls are synchronous; when every
//! instance slot is busy a call fails with [`CallError::Busy`] at once, and the
//! async service layer queues calls in front of the pool.
//!
//! Files: `errors` (load and call errors), `runtime` (engine settings, store
//! data, the host's imports, the epoch ticker).

pub(crate) mod errors;
pub(crate) mod runtime;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::Store;
use wasmtime::component::{Component, Linker};

pub use self::errors::{CallError, LoadError};
use self::errors::{classify, wasmtime_error};
pub use self::runtime::PluginConfig;
use self::runtime::{HostState, Limiter, TICK, Ticker, engine_config};

use crate::bindings;
use bindings::exports::authn::backup_codes::engine as wit;
pub use wit::{
    AllauthSet, CodeFormatError, CodeOrder, CredentialStatus, Error as PluginError, Event,
    FailedEvent, FailureReason, ForeignSet, ForeignSource, HashParams, ImportError, Imported,
    ImportedEvent, IssuedEvent, KeycloakCode, KeycloakSet, Lock, LockedEvent, Outcome, PhcCode,
    PlainCode, Policy, Rejection, ReplacedEvent, SetRef, SetStatus, UsedCode, UsedEvent,
};

/// The component built from `plugin/` by this crate's build script.
pub const EMBEDDED_COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/backup_codes.wasm"));

/// The embedded component's version: the workspace's, which the plugin, this
/// crate and every package `scripts/dist` makes share.
pub const COMPONENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The file name the embedded component is published under
/// (`backup-codes-<version>.wasm`, as `scripts/dist` and `component --digest`
/// name it).
pub fn component_file_name() -> String {
    format!("backup-codes-{COMPONENT_VERSION}.wasm")
}

/// Largest credential value accepted from the plugin.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;
/// Most events one call may return.
pub const MAX_EVENTS: usize = 16;
/// Longest string (code, set id, message) accepted from the plugin.
pub const MAX_STRING_BYTES: usize = 512;
/// Most codes one set may hold.
pub const MAX_CODES: usize = 64;
/// Linear memory a call needs beside argon2's (the component's heap, stack
/// and the values passed in and out), with room to spare: argon2's memory may
/// be at most the store's memory limit less this.
pub const CALL_HEADROOM_BYTES: usize = 8 << 20;

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

impl Issued {
    /// Is the new set pending (waiting for one code to be typed back)?
    pub fn pending(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Issued(i) if i.pending))
    }
}

/// What `activate`, `verify` and `interrupted` return: everything a host
/// answers an attempt with, from one call.
#[derive(Debug)]
pub struct Verification {
    /// The credential value to store (the one passed in when nothing changed).
    pub credential: Vec<u8>,
    /// What happened.
    pub outcome: Outcome,
    /// Unused codes left in the active set.
    pub remaining: u8,
    /// Events to record.
    pub events: Vec<Event>,
    /// The new code that replaced the one just used (the policy's
    /// `replace_on_use`): shown once, never stored.
    pub replacement: Option<IssuedCode>,
    /// The id of the set checked.
    pub set_id: String,
    /// Its short form.
    pub fingerprint: String,
    /// The active set's remaining count is at or below the low-water mark.
    pub low: bool,
    /// No code of the active set remains.
    pub exhausted: bool,
    /// The code number to ask for next, when codes are used in order.
    pub next_number: Option<u8>,
    /// Consecutive failures on the set checked, after the call.
    pub consecutive_failures: u32,
    /// Whether the set checked takes attempts after the call.
    pub lock: Lock,
    /// A wrong code was one of the replaced set's (told from the same evaluation).
    pub replaced_set: bool,
}

/// The loaded component, ready for calls from any thread.
pub struct Plugin {
    pre: bindings::PluginPre<HostState>,
    config: PluginConfig,
    clock: Arc<dyn Clock>,
    sha256: [u8; 32],
    /// Fuel every call used, when metered ([`PluginConfig::meter_fuel`]).
    fuel: std::sync::atomic::AtomicU64,
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
            fuel: std::sync::atomic::AtomicU64::new(0),
            _ticker: Ticker::start(engine),
            config,
        })
    }

    /// The runtime settings it was loaded with.
    pub fn config(&self) -> &PluginConfig {
        &self.config
    }

    /// Fuel all calls used so far (0 unless [`PluginConfig::meter_fuel`]):
    /// wasm operators executed, deterministic, so work can be counted.
    pub fn fuel_used(&self) -> u64 {
        self.fuel.load(std::sync::atomic::Ordering::Relaxed)
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
        if self.config.meter_fuel {
            store.set_fuel(u64::MAX).map_err(|_| CallError::Trap)?;
        }
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&instance, &mut store));
        if self.config.meter_fuel {
            let used = u64::MAX - store.get_fuel().unwrap_or(u64::MAX);
            self.fuel
                .fetch_add(used, std::sync::atomic::Ordering::Relaxed);
        }
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

    /// Prove the pending set was saved; see the WIT `activate`. With
    /// `set_id`, only the pending set of that id (the one the user was shown).
    pub fn activate(
        &self,
        current: &[u8],
        set_id: Option<&str>,
        code: &SecretString,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Verification, CallError> {
        self.check_code(Check::Activate(set_id), current, code, policy, pepper)
    }

    /// Check a code against the active set; see the WIT `verify`. `replaced`
    /// is the credential before its active set was replaced, if kept: a wrong
    /// code that was one of its codes is told apart from the same evaluation.
    pub fn verify(
        &self,
        current: &[u8],
        replaced: Option<&[u8]>,
        code: &SecretString,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Verification, CallError> {
        self.check_code(Check::Verify(replaced), current, code, policy, pepper)
    }

    /// Count a `verify` that could not finish as a failure; see the WIT
    /// `interrupted`. No evaluation.
    pub fn interrupted(&self, current: &[u8], policy: &Policy) -> Result<Verification, CallError> {
        let current = current.to_vec();
        let v = self.call(|p, s| {
            p.authn_backup_codes_engine()
                .call_interrupted(s, &current, *policy)
        })?;
        check_verification(v.map_err(CallError::Plugin)?)
    }

    fn check_code(
        &self,
        which: Check<'_>,
        current: &[u8],
        code: &SecretString,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Verification, CallError> {
        let pepper = pepper.map(|p| p.expose_secret());
        let code = code.expose_secret();
        let current = current.to_vec();
        let v = self.call(|p, s| {
            let engine = p.authn_backup_codes_engine();
            match which {
                Check::Activate(set_id) => {
                    engine.call_activate(s, &current, set_id, code, *policy, pepper)
                }
                Check::Verify(replaced) => {
                    let replaced = replaced.map(<[u8]>::to_vec);
                    engine.call_verify(s, &current, replaced.as_ref(), code, *policy, pepper)
                }
            }
        })?;
        check_verification(v.map_err(CallError::Plugin)?)
    }

    /// Import a set another identity server issued, as a new credential;
    /// see the WIT `import-set`. The plaintext codes and seed `set` may hold
    /// are wiped once the component has them.
    pub fn import_set(
        &self,
        mut set: ForeignSet,
        policy: &Policy,
        pepper: Option<&SecretSlice<u8>>,
    ) -> Result<Imported, CallError> {
        let pepper = pepper.map(|p| p.expose_secret());
        let result = self.call(|p, s| {
            p.authn_backup_codes_engine()
                .call_import_set(s, &set, *policy, pepper)
        });
        wipe_foreign(&mut set);
        let imported = result?.map_err(CallError::Plugin)?;
        bound(imported.credential.len() <= MAX_CREDENTIAL_BYTES)?;
        bound(imported.events.len() <= MAX_EVENTS)?;
        bound(imported.set_id.len() <= MAX_STRING_BYTES)?;
        bound(imported.fingerprint.len() <= MAX_STRING_BYTES)?;
        Ok(imported)
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

/// The two calls that check a typed code (`activate` with the set shown,
/// `verify` with the replaced credential).
#[derive(Clone, Copy)]
enum Check<'a> {
    Activate(Option<&'a str>),
    Verify(Option<&'a [u8]>),
}

fn bound(ok: bool) -> Result<(), CallError> {
    if ok {
        Ok(())
    } else {
        Err(CallError::OutputTooLarge)
    }
}

fn check_verification(v: wit::Verification) -> Result<Verification, CallError> {
    bound(v.credential.len() <= MAX_CREDENTIAL_BYTES)?;
    bound(v.events.len() <= MAX_EVENTS)?;
    bound(v.set_id.len() <= MAX_STRING_BYTES)?;
    bound(v.fingerprint.len() <= MAX_STRING_BYTES)?;
    let replacement = match v.replacement {
        Some(c) => {
            let code = SecretBox::new(Box::new(c.code));
            bound(code.expose_secret().len() <= MAX_STRING_BYTES)?;
            Some(IssuedCode {
                number: c.number,
                code,
            })
        }
        None => None,
    };
    Ok(Verification {
        credential: v.credential,
        outcome: v.outcome,
        remaining: v.remaining,
        events: v.events,
        replacement,
        set_id: v.set_id,
        fingerprint: v.fingerprint,
        low: v.low,
        exhausted: v.exhausted,
        next_number: v.next_number,
        consecutive_failures: v.consecutive_failures,
        lock: v.lock,
        replaced_set: v.replaced_set,
    })
}

/// Wipe the plaintext codes and seeds of a foreign set (done by
/// [`Plugin::import_set`]; for a set that is not imported after all).
pub fn wipe_foreign(set: &mut ForeignSet) {
    use zeroize::Zeroize as _;
    match set {
        ForeignSet::Kratos(codes) => codes.iter_mut().for_each(|c| c.code.zeroize()),
        ForeignSet::Plaintext(codes) => codes.iter_mut().for_each(|c| c.zeroize()),
        ForeignSet::Allauth(a) => a.seed.zeroize(),
        ForeignSet::Keycloak(_) | ForeignSet::Supabase(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::runtime::engine_config;
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

//! A bench-only wasmtime host for the same embedded component, with knobs the
//! production host (`backup_codes_shim::plugin`) deliberately does not expose:
//! fuel metering (to count the work the component does), the allocator and its
//! reset policy, epoch checks and Cranelift ISA flags. It exists to explain the
//! production figures (which are always measured through `Plugin`), never to
//! replace them.

use std::time::{SystemTime, UNIX_EPOCH};

use backup_codes_shim::plugin as shim;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
};

use crate::BoxResult;

mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit",
        imports: { default: trappable },
    });
}

use bindings::exports::authn::backup_codes::engine as wit;

/// How the bench host's engine and stores are set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Pooling allocator (otherwise on-demand mmap per instance).
    pub pooling: bool,
    /// `linear_memory_keep_resident` / `table_keep_resident`, bytes (pooling only).
    pub keep_resident: usize,
    /// `PAGEMAP_SCAN` to reset only dirty pages (pooling only).
    pub pagemap_scan: bool,
    /// Epoch interruption checks compiled in (production: on).
    pub epoch: bool,
    /// Fuel metering: every store starts with `u64::MAX` fuel and reports what it used.
    pub fuel: bool,
    /// Tell Cranelift the CPU lacks AVX-512DQ, so `i64x2.mul` is lowered to a
    /// `pmuludq` sequence instead of `vpmullq` (production: Cranelift's default).
    pub no_avx512dq: bool,
    /// Tell Cranelift the CPU has no AVX-512 at all (as on AVX2-only CPUs, and
    /// under valgrind, whose emulated CPU reports none): `i64x2.extmul_low_i32x4_u`
    /// then becomes `pmuludq`, which Cranelift passes over for `vpmullq` when
    /// AVX-512DQ is present.
    pub no_avx512: bool,
    /// Memory limit per store and pool slot size, bytes.
    pub memory_limit: usize,
}

impl Options {
    /// The production engine settings as of this benchmark (see `plugin.rs`).
    pub fn production(memory_limit: usize) -> Self {
        Self {
            pooling: true,
            keep_resident: memory_limit,
            pagemap_scan: true,
            epoch: true,
            fuel: false,
            no_avx512dq: false,
            no_avx512: false,
            memory_limit,
        }
    }
}

struct State {
    limits: wasmtime::StoreLimits,
}

impl bindings::wasi::random::random::Host for State {
    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        getrandom::u64().map_err(|e| wasmtime::Error::msg(format!("host random source: {e}")))
    }
}

impl bindings::wasi::clocks::wall_clock::Host for State {
    fn now(&mut self) -> wasmtime::Result<bindings::wasi::clocks::wall_clock::Datetime> {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(bindings::wasi::clocks::wall_clock::Datetime {
            seconds,
            nanoseconds: 0,
        })
    }
}

/// The component loaded into a bench engine.
pub struct RawHost {
    pre: bindings::PluginPre<State>,
    options: Options,
}

/// A store and an instance kept across calls (no per-call set-up at all).
pub struct Live {
    store: Store<State>,
    plugin: bindings::Plugin,
}

fn err(e: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    format!("{e:#}").into()
}

/// The bench's copy of a shim policy.
pub fn policy(p: &shim::Policy) -> wit::Policy {
    wit::Policy {
        count: p.count,
        symbols: p.symbols,
        group_size: p.group_size,
        order: match p.order {
            shim::CodeOrder::AnyOrder => wit::CodeOrder::AnyOrder,
            shim::CodeOrder::Numbered => wit::CodeOrder::Numbered,
        },
        hash: wit::HashParams {
            memory_kib: p.hash.memory_kib,
            iterations: p.hash.iterations,
            parallelism: p.hash.parallelism,
        },
        require_activation: p.require_activation,
        free_failures: p.free_failures,
        lockout_base_seconds: p.lockout_base_seconds,
        lockout_max_seconds: p.lockout_max_seconds,
        max_failures: p.max_failures,
        low_water: p.low_water,
        replace_on_use: p.replace_on_use,
    }
}

/// What one verify returned, reduced to what the bench checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `accepted(n)`.
    Accepted(u8),
    /// `rejected(mismatch)`.
    Mismatch,
    /// Anything else.
    Other,
}

impl RawHost {
    /// Compile (no disk cache) and pre-instantiate the embedded component.
    pub fn new(options: Options) -> BoxResult<Self> {
        Self::with_component(options, shim::EMBEDDED_COMPONENT)
    }

    /// Compile (no disk cache) and pre-instantiate the component `bytes`.
    pub fn with_component(options: Options, bytes: &[u8]) -> BoxResult<Self> {
        let mut c = Config::new();
        c.epoch_interruption(options.epoch);
        c.consume_fuel(options.fuel);
        c.wasm_simd(true);
        let absent: &[&str] = if options.no_avx512 {
            &[
                "has_avx512bitalg",
                "has_avx512dq",
                "has_avx512f",
                "has_avx512vbmi",
                "has_avx512vl",
            ]
        } else if options.no_avx512dq {
            &["has_avx512dq"]
        } else {
            &[]
        };
        for flag in absent {
            // SAFETY: declaring a CPU feature absent only restricts which
            // instructions Cranelift may emit; the code stays valid on this CPU.
            #[allow(unsafe_code)]
            unsafe {
                c.cranelift_flag_set(flag, "false");
            }
        }
        if options.pooling {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_component_instances(4)
                .total_memories(4)
                .total_tables(16)
                .total_core_instances(32)
                .max_memory_size(options.memory_limit)
                .linear_memory_keep_resident(options.keep_resident)
                .table_keep_resident(options.keep_resident.min(1 << 20))
                .pagemap_scan(if options.pagemap_scan {
                    Enabled::Auto
                } else {
                    Enabled::No
                });
            c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&c).map_err(err)?;
        let component = Component::new(&engine, bytes).map_err(err)?;
        let mut linker = Linker::<State>::new(&engine);
        bindings::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(err)?;
        let pre = bindings::PluginPre::new(linker.instantiate_pre(&component).map_err(err)?)
            .map_err(err)?;
        Ok(Self { pre, options })
    }

    /// The engine's compiled code for the component, as an ELF image
    /// (for disassembly: `objdump -d`).
    pub fn compiled_image(&self) -> BoxResult<Vec<u8>> {
        self.pre.instance_pre().component().serialize().map_err(err)
    }

    fn store(&self) -> BoxResult<Store<State>> {
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit)
            .build();
        let mut store = Store::new(self.pre.engine(), State { limits });
        store.limiter(|s| &mut s.limits);
        if self.options.epoch {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        if self.options.fuel {
            store.set_fuel(u64::MAX).map_err(err)?;
        }
        Ok(store)
    }

    fn fuel_used(&self, store: &Store<State>) -> BoxResult<u64> {
        if !self.options.fuel {
            return Ok(0);
        }
        Ok(u64::MAX - store.get_fuel().map_err(err)?)
    }

    /// A store and instance to call repeatedly.
    pub fn live(&self) -> BoxResult<Live> {
        let mut store = self.store()?;
        let plugin = self.pre.instantiate(&mut store).map_err(err)?;
        Ok(Live { store, plugin })
    }

    /// `verify` in a fresh store; returns the verdict and the fuel used.
    pub fn verify(
        &self,
        credential: &[u8],
        code: &str,
        policy: &wit::Policy,
    ) -> BoxResult<(Verdict, u64)> {
        let mut store = self.store()?;
        let plugin = self.pre.instantiate(&mut store).map_err(err)?;
        let v = call_verify(&plugin, &mut store, credential, code, policy)?;
        Ok((v, self.fuel_used(&store)?))
    }

    /// `issue` in a fresh store; returns the number of codes issued and the fuel used.
    pub fn issue(&self, policy: &wit::Policy) -> BoxResult<(usize, u64)> {
        let mut store = self.store()?;
        let plugin = self.pre.instantiate(&mut store).map_err(err)?;
        let issued = plugin
            .authn_backup_codes_engine()
            .call_issue(&mut store, None, *policy, None)
            .map_err(err)?
            .map_err(|e| format!("issue refused: {e:?}"))?;
        Ok((issued.codes.len(), self.fuel_used(&store)?))
    }

    /// `default-policy` in a fresh store (the trivial call).
    pub fn trivial(&self) -> BoxResult<u8> {
        let mut store = self.store()?;
        let plugin = self.pre.instantiate(&mut store).map_err(err)?;
        let p = plugin
            .authn_backup_codes_engine()
            .call_default_policy(&mut store)
            .map_err(err)?;
        Ok(p.count)
    }
}

impl Live {
    /// `verify` on the kept instance.
    pub fn verify(
        &mut self,
        credential: &[u8],
        code: &str,
        policy: &wit::Policy,
    ) -> BoxResult<Verdict> {
        call_verify(&self.plugin, &mut self.store, credential, code, policy)
    }
}

fn call_verify(
    plugin: &bindings::Plugin,
    store: &mut Store<State>,
    credential: &[u8],
    code: &str,
    policy: &wit::Policy,
) -> BoxResult<Verdict> {
    let v = plugin
        .authn_backup_codes_engine()
        .call_verify(store, &credential.to_vec(), None, code, *policy, None)
        .map_err(err)?
        .map_err(|e| format!("verify refused: {e:?}"))?;
    Ok(match v.outcome {
        wit::Outcome::Accepted(n) => Verdict::Accepted(n),
        wit::Outcome::Rejected(r) if r.reason == wit::FailureReason::Mismatch => Verdict::Mismatch,
        _ => Verdict::Other,
    })
}

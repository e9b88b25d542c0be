//! The bounds the load is read against, measured in this process in the same
//! run: native argon2id (the physical limit) and one component verify
//! through the production host (`Plugin::verify` in a fresh store, a wrong
//! code of a set of 10 with the tenant's argon2 parameters: what one HTTP
//! verify must do at least).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backup_codes_shim::plugin::{
    self, FailureReason, HashParams, Outcome, Plugin, PluginConfig, Policy,
};
use secrecy::{ExposeSecret, SecretString};

use crate::BoxResult;
use crate::report::Native;
use crate::stats::{Cell, time};

/// Medians of native argon2 and of one component verify, interleaved.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reference {
    /// Native argon2id, one evaluation, wall seconds.
    pub(super) native: f64,
    /// One component verify, wall seconds.
    pub(super) component: f64,
    /// One component verify, thread CPU seconds.
    pub(super) component_cpu: f64,
}

/// The component (the shim's: `component` or the embedded one) with the
/// tenant's argon2 parameters, a credential and a wrong code for it.
pub(super) struct ComponentVerify {
    plugin: Plugin,
    policy: Policy,
    credential: Vec<u8>,
    wrong: SecretString,
}

impl ComponentVerify {
    /// Load the component and issue a set of 10 and a code of another set.
    pub(super) fn new(hash: HashParams, component: Option<&Path>) -> BoxResult<Self> {
        let defaults = PluginConfig::default();
        let needed = usize::try_from(hash.memory_kib)? * 1024 + plugin::CALL_HEADROOM_BYTES;
        let config = PluginConfig {
            memory_limit: defaults.memory_limit.max(needed),
            ..defaults
        };
        let plugin = match component {
            Some(path) => Plugin::from_bytes(&std::fs::read(path)?, config)?,
            None => Plugin::embedded(config)?,
        };
        let policy = Policy {
            hash,
            require_activation: false,
            ..plugin.default_policy()?
        };
        let issued = plugin.issue(None, &policy, None)?;
        let other = plugin.issue(None, &policy, None)?;
        let wrong = other.codes.first().ok_or("issue returned no codes")?;
        let wrong = SecretString::from(wrong.code.expose_secret().clone());
        Ok(Self {
            plugin,
            policy,
            credential: issued.credential,
            wrong,
        })
    }

    /// One verify of the wrong code, timed (the credential is not changed).
    fn verify(&self) -> BoxResult<crate::stats::Sample> {
        let (v, s) = time(|| {
            self.plugin
                .verify(&self.credential, None, &self.wrong, &self.policy, None)
        });
        match v?.outcome {
            Outcome::Rejected(r) if r.reason == FailureReason::Mismatch => Ok(s),
            other => Err(format!("component verify: expected a mismatch, got {other:?}").into()),
        }
    }
}

/// Native argon2 and a component verify, `samples` of each, alternating
/// which goes first; after one unmeasured round.
pub(super) fn reference(
    hash: HashParams,
    verify: &ComponentVerify,
    samples: usize,
) -> BoxResult<Reference> {
    let native = Native::new(hash, "0123456789ABCD")?;
    let (mut nat, mut comp) = (Cell::default(), Cell::default());
    native.hash()?;
    verify.verify()?;
    for i in 0..samples.max(1) {
        if i.is_multiple_of(2) {
            nat.push(native.hash()?);
            comp.push(verify.verify()?);
        } else {
            comp.push(verify.verify()?);
            nat.push(native.hash()?);
        }
    }
    Ok(Reference {
        native: nat.wall().median,
        component: comp.wall().median,
        component_cpu: comp.cpu().median,
    })
}

/// Native argon2 on every core at once: evaluations per second.
pub(super) fn native_parallel_rate(hash: HashParams, cores: usize, seconds: f64) -> BoxResult<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..cores {
        let (stop, count) = (Arc::clone(&stop), Arc::clone(&count));
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let native = Native::new(hash, "0123456789ABCD").map_err(|e| e.to_string())?;
            while !stop.load(Ordering::Relaxed) {
                native.hash().map_err(|e| e.to_string())?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().map_err(|_| "native thread panicked")??;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    Ok(rate)
}

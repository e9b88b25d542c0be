//! What every section measures with: the component loaded with the run's
//! policy ([`Bench`]), a credential with a right and a wrong code
//! ([`Fixture`]), and the same argon2id evaluation computed natively
//! ([`Native`]).

use std::hint::black_box;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use backup_codes_shim::plugin::{
    self, FailureReason, HashParams, Outcome, Plugin, PluginConfig, Policy,
};
use secrecy::{ExposeSecret, SecretString};

use super::Settings;
use crate::BoxResult;
use crate::raw::{self, RawHost, Verdict};
use crate::stats::{Sample, time};

/// Argon2 output length, as in the plugin.
const DIGEST_LEN: usize = 32;

/// The component under test, the policy and the argon2 parameters in use.
pub(super) struct Bench {
    /// The component under test (production host).
    pub(super) plugin: Plugin,
    /// Its bytes.
    pub(super) component: Vec<u8>,
    /// The second component of `--baseline-component`, same configuration, and its bytes.
    pub(super) baseline: Option<Plugin>,
    pub(super) baseline_component: Option<Vec<u8>>,
    /// How both are run.
    pub(super) config: PluginConfig,
    /// The policy in use (default policy with the run's argon2 parameters).
    pub(super) policy: Policy,
}

impl Bench {
    /// Load the component (and the baseline) with the run's settings.
    pub(super) fn load(settings: &Settings) -> BoxResult<Self> {
        let defaults = PluginConfig::default();
        let mut config = PluginConfig {
            // Issuing 64 codes with costly parameters takes long; verify is unaffected.
            call_timeout: Duration::from_secs(600),
            ..defaults.clone()
        };
        let component = match &settings.component {
            Some(path) => std::fs::read(path)?,
            None => plugin::EMBEDDED_COMPONENT.to_vec(),
        };
        let probe = Plugin::from_bytes(&component, config.clone())?;
        let mut policy = probe.default_policy()?;
        drop(probe);
        if let Some(m) = settings.memory_kib {
            policy.hash.memory_kib = m;
        }
        if let Some(t) = settings.iterations {
            policy.hash.iterations = t;
        }
        if let Some(p) = settings.parallelism {
            policy.hash.parallelism = p;
        }
        // Verify against the active set without the activation round trip.
        policy.require_activation = false;
        // The production limit (64 MiB) must exceed argon2's memory; raise it only
        // when asked for more memory than it allows.
        let needed = usize::try_from(policy.hash.memory_kib)?
            .saturating_mul(1024)
            .saturating_add(32 << 20);
        if needed > defaults.memory_limit {
            config.memory_limit = needed;
        }
        let plugin = Plugin::from_bytes(&component, config.clone())?;
        let baseline_component = match &settings.baseline_component {
            Some(path) => Some(std::fs::read(path)?),
            None => None,
        };
        let baseline = match &baseline_component {
            Some(bytes) => Some(Plugin::from_bytes(bytes, config.clone())?),
            None => None,
        };
        Ok(Self {
            plugin,
            component,
            baseline,
            baseline_component,
            config,
            policy,
        })
    }

    /// The policy with `count` codes per set.
    pub(super) fn policy_with_count(&self, count: u8) -> Policy {
        Policy {
            count,
            low_water: self.policy.low_water.min(count),
            ..self.policy
        }
    }
}

/// A credential with one active set, a right code for it and a wrong but
/// well-formed code (from another set issued with the same policy).
pub(super) struct Fixture {
    pub(super) policy: Policy,
    pub(super) credential: Vec<u8>,
    pub(super) right: SecretString,
    pub(super) right_number: u8,
    pub(super) wrong: SecretString,
}

impl Fixture {
    /// A set of `count` codes issued with the bench's policy.
    pub(super) fn new(bench: &Bench, count: u8) -> BoxResult<Self> {
        let policy = bench.policy_with_count(count);
        let issued = bench.plugin.issue(None, &policy, None)?;
        let other = bench.plugin.issue(None, &policy, None)?;
        // The last code: the search is constant time over the whole set anyway.
        let right = issued.codes.last().ok_or("issue returned no codes")?;
        let wrong = other.codes.first().ok_or("issue returned no codes")?;
        Ok(Self {
            policy,
            credential: issued.credential,
            right: SecretString::from(right.code.expose_secret().clone()),
            right_number: right.number,
            wrong: SecretString::from(wrong.code.expose_secret().clone()),
        })
    }

    /// Verify the right code against the original credential (the returned,
    /// changed credential is discarded, so every sample sees the same input).
    pub(super) fn verify_right(&self, plugin: &Plugin) -> BoxResult<Sample> {
        let (v, s) =
            time(|| plugin.verify(&self.credential, None, &self.right, &self.policy, None));
        match v?.outcome {
            Outcome::Accepted(n) if n == self.right_number => Ok(s),
            other => Err(format!(
                "right code: expected accepted({}), got {other:?}",
                self.right_number
            )
            .into()),
        }
    }

    /// Verify the wrong code against the original credential (never reaches lockout).
    pub(super) fn verify_wrong(&self, plugin: &Plugin) -> BoxResult<Sample> {
        let (v, s) =
            time(|| plugin.verify(&self.credential, None, &self.wrong, &self.policy, None));
        match v?.outcome {
            Outcome::Rejected(r)
                if r.reason == FailureReason::Mismatch && r.consecutive_failures == 1 =>
            {
                Ok(s)
            }
            other => {
                Err(format!("wrong code: expected rejected(mismatch, 1), got {other:?}").into())
            }
        }
    }

    /// Verify the right code through a bench host, in a fresh store.
    pub(super) fn verify_raw(&self, host: &RawHost) -> BoxResult<Sample> {
        let policy = raw::policy(&self.policy);
        let (v, s) = time(|| host.verify(&self.credential, self.right.expose_secret(), &policy));
        check_raw(v?.0, self.right_number)?;
        Ok(s)
    }

    /// Verify the right code on a kept instance.
    pub(super) fn verify_live(&self, live: &mut raw::Live) -> BoxResult<Sample> {
        let policy = raw::policy(&self.policy);
        let (v, s) = time(|| live.verify(&self.credential, self.right.expose_secret(), &policy));
        check_raw(v?, self.right_number)?;
        Ok(s)
    }
}

pub(super) fn check_raw(v: Verdict, number: u8) -> BoxResult<()> {
    if v == Verdict::Accepted(number) {
        Ok(())
    } else {
        Err(format!("bench host: expected accepted({number}), got {v:?}").into())
    }
}

/// The same argon2id evaluation the plugin makes, natively.
pub struct Native {
    argon: Argon2<'static>,
    pub(super) password: Vec<u8>,
    salt: [u8; 16],
}

impl Native {
    /// Parameters and the canonical form of `code`.
    pub fn new(hash: HashParams, code: &str) -> BoxResult<Self> {
        let params = Params::new(
            hash.memory_kib,
            hash.iterations,
            hash.parallelism,
            Some(DIGEST_LEN),
        )
        .map_err(|e| format!("argon2 parameters: {e}"))?;
        // The canonical form the plugin hashes: symbols only, upper case.
        let password: Vec<u8> = code
            .bytes()
            .filter(|b| *b != b'-' && *b != b' ')
            .map(|b| b.to_ascii_uppercase())
            .collect();
        Ok(Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            password,
            salt: *b"bench-salt-16byt",
        })
    }

    /// One evaluation, untimed (for `once`: rustix's vDSO clock does not run under valgrind).
    pub fn hash_untimed(&self) -> BoxResult<()> {
        let mut out = [0u8; DIGEST_LEN];
        self.argon
            .hash_password_into(black_box(&self.password), black_box(&self.salt), &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        black_box(&out);
        Ok(())
    }

    /// One evaluation, timed.
    pub fn hash(&self) -> BoxResult<Sample> {
        let mut out = [0u8; DIGEST_LEN];
        let (r, s) = time(|| {
            self.argon.hash_password_into(
                black_box(&self.password),
                black_box(&self.salt),
                &mut out,
            )
        });
        r.map_err(|e| format!("argon2: {e}"))?;
        black_box(&out);
        Ok(s)
    }
}

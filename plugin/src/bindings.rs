//! The only place that touches the generated WIT bindings: converts between the
//! WIT types and the engine's, and supplies the host's random source and clock.

use alloc::string::String;
use alloc::vec::Vec;
use rand::rand_core::{TryCryptoRng, TryRng};
use zeroize::Zeroize;

use crate::{alphabet, engine, foreign, policy};

wit_bindgen::generate!({
    world: "plugin",
    path: "../wit",
    generate_all,
});

use exports::authn::backup_codes::engine as wit;

/// The host's CSPRNG (`wasi:random`), read 64 bits at a time.
struct HostRng;

impl TryRng for HostRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(wasi::random::random::get_random_u64() as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(wasi::random::random::get_random_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let mut word = wasi::random::random::get_random_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
            word.zeroize();
        }
        Ok(())
    }
}

impl TryCryptoRng for HostRng {}

fn now() -> u64 {
    wasi::clocks::wall_clock::now().seconds
}

fn policy_in(p: wit::Policy) -> policy::Policy {
    policy::Policy {
        count: p.count,
        symbols: p.symbols,
        group_size: p.group_size,
        order: match p.order {
            wit::CodeOrder::AnyOrder => policy::CodeOrder::AnyOrder,
            wit::CodeOrder::Numbered => policy::CodeOrder::Numbered,
        },
        hash: policy::HashParams {
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

fn policy_out(p: policy::Policy) -> wit::Policy {
    wit::Policy {
        count: p.count,
        symbols: p.symbols,
        group_size: p.group_size,
        order: match p.order {
            policy::CodeOrder::AnyOrder => wit::CodeOrder::AnyOrder,
            policy::CodeOrder::Numbered => wit::CodeOrder::Numbered,
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

fn source_out(s: foreign::Source) -> wit::ForeignSource {
    match s {
        foreign::Source::Keycloak => wit::ForeignSource::Keycloak,
        foreign::Source::Kratos => wit::ForeignSource::Kratos,
        foreign::Source::Allauth => wit::ForeignSource::Allauth,
        foreign::Source::Supabase => wit::ForeignSource::Supabase,
        foreign::Source::Plaintext => wit::ForeignSource::Plaintext,
    }
}

fn import_error_out(e: engine::ImportError) -> wit::ImportError {
    use engine::ImportError as I;
    match e {
        I::BadCount => wit::ImportError::BadCount,
        I::BadCode => wit::ImportError::BadCode,
        I::Duplicate => wit::ImportError::Duplicate,
        I::BadSeed => wit::ImportError::BadSeed,
        I::BadShape => wit::ImportError::BadShape,
        I::BadPhc => wit::ImportError::BadPhc,
    }
}

/// The engine's form of a foreign set; plaintext moves into wiped buffers.
fn foreign_in(set: wit::ForeignSet) -> Result<engine::ForeignSet, engine::ImportError> {
    use zeroize::Zeroizing;
    Ok(match set {
        wit::ForeignSet::Keycloak(k) => engine::ForeignSet::Keycloak {
            total: k.total,
            remaining: k
                .remaining
                .into_iter()
                .map(|c| {
                    let digest: [u8; 64] = c
                        .sha512
                        .as_slice()
                        .try_into()
                        .map_err(|_| engine::ImportError::BadShape)?;
                    Ok((c.number, digest))
                })
                .collect::<Result<_, engine::ImportError>>()?,
        },
        wit::ForeignSet::Kratos(codes) => engine::ForeignSet::Kratos(
            codes
                .into_iter()
                .map(|c| engine::PlainCode {
                    code: Zeroizing::new(c.code),
                    used_at: c.used_at,
                })
                .collect(),
        ),
        wit::ForeignSet::Allauth(a) => engine::ForeignSet::Allauth {
            seed: Zeroizing::new(a.seed),
            count: a.count,
            digits: a.digits,
            used_mask: a.used_mask,
        },
        wit::ForeignSet::Supabase(codes) => {
            engine::ForeignSet::Supabase(codes.into_iter().map(|c| (c.phc, c.used_at)).collect())
        }
        wit::ForeignSet::Plaintext(codes) => {
            engine::ForeignSet::Plaintext(codes.into_iter().map(Zeroizing::new).collect())
        }
    })
}

fn error_out(e: engine::Error) -> wit::Error {
    use alphabet::FormatError as F;
    match e {
        engine::Error::InvalidPolicy(p) => wit::Error::InvalidPolicy(p.0),
        engine::Error::MalformedCredential => wit::Error::MalformedCredential,
        engine::Error::UnsupportedVersion(v) => wit::Error::UnsupportedVersion(v),
        engine::Error::InvalidCode(f) => wit::Error::InvalidCode(match f {
            F::Empty => wit::CodeFormatError::Empty,
            F::TooLong => wit::CodeFormatError::TooLong,
            F::InvalidCharacter => wit::CodeFormatError::InvalidCharacter,
            F::WrongLength => wit::CodeFormatError::WrongLength,
            F::CheckSymbolMismatch => wit::CodeFormatError::CheckSymbolMismatch,
        }),
        engine::Error::NoActiveSet => wit::Error::NoActiveSet,
        engine::Error::NoPendingSet => wit::Error::NoPendingSet,
        engine::Error::PepperMismatch => wit::Error::PepperMismatch,
        engine::Error::HostFailure => wit::Error::HostFailure,
        engine::Error::InvalidImport(i) => wit::Error::InvalidImport(import_error_out(i)),
    }
}

fn reason_out(r: engine::FailureReason) -> wit::FailureReason {
    match r {
        engine::FailureReason::Mismatch => wit::FailureReason::Mismatch,
        engine::FailureReason::AlreadyUsed => wit::FailureReason::AlreadyUsed,
        engine::FailureReason::WrongNumber => wit::FailureReason::WrongNumber,
        engine::FailureReason::Interrupted => wit::FailureReason::Interrupted,
    }
}

fn event_out(e: engine::Event) -> wit::Event {
    use engine::Event as E;
    match e {
        E::Issued {
            set_id,
            count,
            pending,
        } => wit::Event::Issued(wit::IssuedEvent {
            set_id,
            count,
            pending,
        }),
        E::Activated { set_id } => wit::Event::Activated(wit::SetRef { set_id }),
        E::Used {
            set_id,
            number,
            remaining,
        } => wit::Event::Used(wit::UsedEvent {
            set_id,
            number,
            remaining,
        }),
        E::Failed {
            set_id,
            reason,
            consecutive_failures,
        } => wit::Event::Failed(wit::FailedEvent {
            set_id,
            reason: reason_out(reason),
            consecutive_failures,
        }),
        E::Locked { set_id, until } => wit::Event::Locked(wit::LockedEvent { set_id, until }),
        E::Low {
            set_id,
            number,
            remaining,
        } => wit::Event::Low(wit::UsedEvent {
            set_id,
            number,
            remaining,
        }),
        E::Exhausted { set_id } => wit::Event::Exhausted(wit::SetRef { set_id }),
        E::Replaced { set_id, number } => {
            wit::Event::Replaced(wit::ReplacedEvent { set_id, number })
        }
        E::Imported {
            set_id,
            source,
            count,
            remaining,
            legacy,
        } => wit::Event::Imported(wit::ImportedEvent {
            set_id,
            source: source_out(source),
            count,
            remaining,
            legacy,
        }),
    }
}

fn issued_code_out(c: &engine::IssuedCode) -> wit::IssuedCode {
    // The display string leaves the guest here; the instance and its memory
    // are discarded after this call.
    wit::IssuedCode {
        number: c.number,
        code: String::from(c.code.as_str()),
    }
}

fn verification_out(v: engine::Verification) -> wit::Verification {
    wit::Verification {
        credential: v.credential,
        outcome: match v.outcome {
            engine::Outcome::Accepted(n) => wit::Outcome::Accepted(n),
            engine::Outcome::Rejected {
                reason,
                consecutive_failures,
                locked_until,
                permanent,
            } => wit::Outcome::Rejected(wit::Rejection {
                reason: reason_out(reason),
                consecutive_failures,
                locked_until,
                permanent,
            }),
            engine::Outcome::Locked(until) => wit::Outcome::Locked(until),
            engine::Outcome::Exhausted => wit::Outcome::Exhausted,
        },
        remaining: v.remaining,
        events: v.events.into_iter().map(event_out).collect(),
        replacement: v.replacement.as_ref().map(issued_code_out),
        set_id: v.set_id,
        fingerprint: v.fingerprint,
        low: v.low,
        exhausted: v.exhausted,
        next_number: v.next_number,
        consecutive_failures: v.consecutive_failures,
        lock: match v.lock {
            engine::Lock::Open => wit::Lock::Open,
            engine::Lock::Until(t) => wit::Lock::Until(t),
            engine::Lock::Permanent => wit::Lock::Permanent,
        },
        replaced_set: v.replaced_set,
    }
}

fn set_status_out(s: engine::SetStatus) -> wit::SetStatus {
    wit::SetStatus {
        set_id: s.set_id,
        fingerprint: s.fingerprint,
        issued_at: s.issued_at,
        activated_at: s.activated_at,
        total: s.total,
        remaining: s.remaining,
        used: s
            .used
            .into_iter()
            .map(|u| wit::UsedCode {
                number: u.number,
                at: u.at,
            })
            .collect(),
        low: s.low,
        exhausted: s.exhausted,
        hash_outdated: s.hash_outdated,
        next_number: s.next_number,
        source: s.source.map(source_out),
        legacy: s.legacy,
    }
}

/// Wipe the guest's copies of secrets once a call is done with them.
fn wipe(code: &mut String, pepper: &mut Option<Vec<u8>>) {
    code.zeroize();
    pepper.zeroize();
}

struct Plugin;

impl wit::Guest for Plugin {
    fn default_policy() -> wit::Policy {
        policy_out(policy::Policy::default())
    }

    fn issue(
        current: Option<wit::Credential>,
        policy: wit::Policy,
        mut pepper: Option<Vec<u8>>,
    ) -> Result<wit::Issuance, wit::Error> {
        let result = engine::issue(
            current.as_deref(),
            &policy_in(policy),
            pepper.as_deref(),
            &mut HostRng,
            now(),
        );
        pepper.zeroize();
        let issued = result.map_err(error_out)?;
        Ok(wit::Issuance {
            credential: issued.credential,
            codes: issued.codes.iter().map(issued_code_out).collect(),
            set_id: issued.set_id,
            fingerprint: issued.fingerprint,
            events: issued.events.into_iter().map(event_out).collect(),
        })
    }

    fn activate(
        current: wit::Credential,
        set_id: Option<String>,
        mut code: String,
        policy: wit::Policy,
        mut pepper: Option<Vec<u8>>,
    ) -> Result<wit::Verification, wit::Error> {
        let result = engine::activate(
            &current,
            set_id.as_deref(),
            &code,
            &policy_in(policy),
            pepper.as_deref(),
            &mut HostRng,
            now(),
        );
        wipe(&mut code, &mut pepper);
        result.map(verification_out).map_err(error_out)
    }

    fn verify(
        current: wit::Credential,
        replaced: Option<wit::Credential>,
        mut code: String,
        policy: wit::Policy,
        mut pepper: Option<Vec<u8>>,
    ) -> Result<wit::Verification, wit::Error> {
        let result = engine::verify(
            &current,
            replaced.as_deref(),
            &code,
            &policy_in(policy),
            pepper.as_deref(),
            &mut HostRng,
            now(),
        );
        wipe(&mut code, &mut pepper);
        result.map(verification_out).map_err(error_out)
    }

    fn interrupted(
        current: wit::Credential,
        policy: wit::Policy,
    ) -> Result<wit::Verification, wit::Error> {
        engine::interrupted(&current, &policy_in(policy), now())
            .map(verification_out)
            .map_err(error_out)
    }

    fn status(
        current: wit::Credential,
        policy: wit::Policy,
    ) -> Result<wit::CredentialStatus, wit::Error> {
        let s = engine::status(&current, &policy_in(policy), now()).map_err(error_out)?;
        Ok(wit::CredentialStatus {
            active: s.active.map(set_status_out),
            pending: s.pending.map(set_status_out),
            consecutive_failures: s.consecutive_failures,
            locked_until: s.locked_until,
            locked_permanently: s.locked_permanently,
        })
    }

    fn import_set(
        set: wit::ForeignSet,
        policy: wit::Policy,
        mut pepper: Option<Vec<u8>>,
    ) -> Result<wit::Imported, wit::Error> {
        let result = foreign_in(set)
            .map_err(engine::Error::InvalidImport)
            .and_then(|set| {
                engine::import(
                    &set,
                    &policy_in(policy),
                    pepper.as_deref(),
                    &mut HostRng,
                    now(),
                )
            });
        pepper.zeroize();
        let imported = result.map_err(error_out)?;
        let legacy = imported
            .events
            .iter()
            .any(|e| matches!(e, engine::Event::Imported { legacy: true, .. }));
        Ok(wit::Imported {
            credential: imported.credential,
            set_id: imported.set_id,
            fingerprint: imported.fingerprint,
            legacy,
            events: imported.events.into_iter().map(event_out).collect(),
        })
    }
}

export!(Plugin);

//! A Supabase Auth export at the largest parameters the shim accepts: each
//! code an argon2id PHC string with the most memory one call may give it,
//! the most lanes, and the most passes the whole verify's budget allows.

use argon2::{Algorithm, Argon2, Params, Version};
use backup_codes_shim::plugin::CALL_HEADROOM_BYTES;
use base64::Engine as _;

use crate::BoxResult;

/// Passes over `plugin.memory_limit_mib` one attempt at a legacy set may cost
/// (`LEGACY_VERIFY_PASSES` in `host-shim/src/service/import.rs`, not exported;
/// a set over it is refused by the import, which the run checks).
const LEGACY_VERIFY_PASSES: u64 = 16;
/// Most passes a PHC string may carry at import (`plugin/src/foreign.rs`).
const MAX_PASSES: u64 = 16;
/// Most lanes a PHC string may carry at import.
pub const MAX_LANES: u32 = 4;
/// Length of a Supabase recovery code (lower-case base32), as generated here.
const CODE_LEN: usize = 16;

/// The cost of every code of the set.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// `plugin.memory_limit_mib` of the shim.
    pub memory_limit_mib: usize,
    /// Memory per code, KiB: the limit less the call's headroom.
    pub memory_kib: u32,
    /// Passes per code: as many as the budget allows for `unused` codes (at most 16).
    pub passes: u32,
    /// Lanes per code.
    pub lanes: u32,
    /// Unused codes per set (each evaluated at every attempt).
    pub unused: u32,
    /// Used codes per set (never evaluated).
    pub used: u32,
}

impl Cost {
    /// The largest parameters the shim with `memory_limit_mib` accepts for a
    /// set of `unused` unused codes.
    pub fn largest(memory_limit_mib: usize, unused: u32, used: u32, lanes: u32) -> BoxResult<Self> {
        let limit_kib = u64::try_from(memory_limit_mib)? * 1024;
        let headroom_kib = u64::try_from(CALL_HEADROOM_BYTES >> 10)?;
        let memory = limit_kib
            .checked_sub(headroom_kib)
            .ok_or("memory limit below the call's headroom")?;
        let budget = limit_kib * LEGACY_VERIFY_PASSES;
        let passes = (budget / (memory * u64::from(unused.max(1)))).min(MAX_PASSES);
        if passes == 0 {
            return Err(format!("{unused} unused codes of {memory} KiB exceed the budget").into());
        }
        Ok(Self {
            memory_limit_mib,
            memory_kib: u32::try_from(memory)?,
            passes: u32::try_from(passes)?,
            lanes: lanes.clamp(1, MAX_LANES),
            unused,
            used,
        })
    }

    /// KiB-passes one attempt costs (every unused code evaluated).
    pub fn work(&self) -> u64 {
        u64::from(self.memory_kib) * u64::from(self.passes) * u64::from(self.unused)
    }

    /// KiB-passes the shim allows one attempt.
    pub fn budget(&self) -> u64 {
        self.memory_limit_mib as u64 * 1024 * LEGACY_VERIFY_PASSES
    }
}

/// A random Supabase-style code: lower-case RFC 4648 base32.
pub fn random_code() -> BoxResult<String> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes).map_err(|e| format!("random source: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect())
}

/// `code`'s argon2id hash as a PHC string, with a random salt.
fn phc(code: &str, cost: &Cost) -> BoxResult<String> {
    let params = Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(32))
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("random source: {e}"))?;
    let mut hash = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(code.as_bytes(), &salt, &mut hash)
        .map_err(|e| format!("argon2: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        cost.memory_kib,
        cost.passes,
        cost.lanes,
        b64.encode(salt),
        b64.encode(hash)
    ))
}

/// The export: a CSV as psql writes Supabase's recovery codes, one set per
/// subject, all subjects with the same hashes (computed natively once: what
/// an attempt costs depends on the parameters, not on the digests), and one
/// of the unused codes in plain text, to check the import.
pub fn export(subjects: &[String], cost: &Cost) -> BoxResult<(String, String)> {
    let right = random_code()?;
    let mut hashes = vec![(phc(&right, cost)?, "")];
    for _ in 1..cost.unused {
        hashes.push((phc(&random_code()?, cost)?, ""));
    }
    for _ in 0..cost.used {
        hashes.push((phc(&random_code()?, cost)?, "2026-01-02T03:04:05Z"));
    }
    let mut csv = String::from("user_id,code_hash,consumed_at\n");
    for subject in subjects {
        for (hash, used) in &hashes {
            // PHC strings hold commas: quoted, as psql writes them.
            csv.push_str(&format!("{subject},\"{hash}\",{used}\n"));
        }
    }
    Ok((csv, right))
}

//! What a host asks of a set and of verification, with defaults and range checks.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use crate::alphabet::MAX_SYMBOLS;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's recommended argon2id parameters: 19 MiB, two passes, one lane.
    pub const RECOMMENDED: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Check each parameter's range.
    pub fn validate(&self) -> Result<(), PolicyError> {
        check("hash.memory-kib", self.memory_kib, 1024, 1_048_576)?;
        check("hash.iterations", self.iterations, 1, 16)?;
        check("hash.parallelism", self.parallelism, 1, 4)
    }
}

/// Which code the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOrder {
    /// Any unused code.
    AnyOrder,
    /// Only the lowest-numbered unused code.
    Numbered,
}

/// Policy for issuing and verifying; see the WIT `policy` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Codes per set.
    pub count: u8,
    /// Random symbols per code (five bits each), check symbol not included.
    pub symbols: u8,
    /// Display group size (0: none).
    pub group_size: u8,
    /// Accepted order.
    pub order: CodeOrder,
    /// Argon2id parameters for new sets.
    pub hash: HashParams,
    /// New sets wait for activation.
    pub require_activation: bool,
    /// Failures allowed before the first lockout.
    pub free_failures: u32,
    /// First lockout, seconds.
    pub lockout_base_seconds: u32,
    /// Longest lockout, seconds.
    pub lockout_max_seconds: u32,
    /// Failures after which the set is locked until regenerated.
    pub max_failures: u32,
    /// Low-water mark for `low`.
    pub low_water: u8,
    /// A used code is replaced at once by a new one of the same number
    /// (NIST SP 800-63B-4 §4.2.1.1 for saved recovery codes).
    pub replace_on_use: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            count: 10,
            symbols: 13,
            group_size: 5,
            order: CodeOrder::AnyOrder,
            hash: HashParams::RECOMMENDED,
            require_activation: true,
            free_failures: 5,
            lockout_base_seconds: 30,
            lockout_max_seconds: 3600,
            max_failures: 100,
            low_water: 3,
            replace_on_use: false,
        }
    }
}

/// Largest set.
pub const MAX_COUNT: u8 = 64;
/// Fewest random symbols: 4 × 5 = 20 bits, NIST SP 800-63B's floor for look-up secrets.
pub const MIN_SYMBOLS: u8 = 4;
/// NIST SP 800-63B 5.2.2: no more than 100 consecutive failed attempts.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 100;

/// A policy field out of range: names the field and its allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub alloc::string::String);

fn check(field: &str, value: u32, min: u32, max: u32) -> Result<(), PolicyError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(PolicyError(alloc::format!(
            "{field} is {value}; it must be within {min} ..= {max}"
        )))
    }
}

impl Policy {
    /// Check every field's range and the relations between fields.
    pub fn validate(&self) -> Result<(), PolicyError> {
        check("count", self.count.into(), 1, MAX_COUNT.into())?;
        check(
            "symbols",
            self.symbols.into(),
            MIN_SYMBOLS.into(),
            MAX_SYMBOLS.into(),
        )?;
        check("group-size", self.group_size.into(), 0, MAX_SYMBOLS.into())?;
        self.hash.validate()?;
        check(
            "free-failures",
            self.free_failures,
            1,
            MAX_CONSECUTIVE_FAILURES,
        )?;
        check("lockout-base-seconds", self.lockout_base_seconds, 1, 86_400)?;
        check(
            "lockout-max-seconds",
            self.lockout_max_seconds,
            self.lockout_base_seconds,
            604_800,
        )?;
        check(
            "max-failures",
            self.max_failures,
            self.free_failures,
            MAX_CONSECUTIVE_FAILURES,
        )?;
        check("low-water", self.low_water.into(), 0, self.count.into())
    }

    /// Lockout length after `failures` consecutive failures: none while within the
    /// free allowance, then base × 2^(failures − free), capped at the maximum.
    pub fn lockout_seconds(&self, failures: u32) -> Option<u64> {
        let over = failures.checked_sub(self.free_failures)?;
        let doubled = u64::from(self.lockout_base_seconds)
            .checked_shl(over)
            .filter(|&v| v >> over == u64::from(self.lockout_base_seconds))
            .unwrap_or(u64::MAX);
        Some(doubled.min(u64::from(self.lockout_max_seconds)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid_and_gives_64_bits() {
        let p = Policy::default();
        assert_eq!(p.validate(), Ok(()));
        assert!(u32::from(p.symbols) * 5 >= 64);
    }

    #[test]
    fn out_of_range_fields_are_named() {
        type Case = (fn(&mut Policy), &'static str);
        let cases: [Case; 10] = [
            (|p| p.count = 0, "count"),
            (|p| p.count = 65, "count"),
            (|p| p.symbols = 3, "symbols"),
            (|p| p.symbols = 31, "symbols"),
            (|p| p.hash.memory_kib = 8, "hash.memory-kib"),
            (|p| p.hash.iterations = 0, "hash.iterations"),
            (|p| p.max_failures = 101, "max-failures"),
            (|p| p.free_failures = 0, "free-failures"),
            (|p| p.lockout_max_seconds = 1, "lockout-max-seconds"),
            (|p| p.low_water = 11, "low-water"),
        ];
        for (mutate, field) in cases {
            let mut p = Policy::default();
            mutate(&mut p);
            let err = p.validate().unwrap_err();
            assert!(err.0.starts_with(field), "{} should name {field}", err.0);
        }
    }

    #[test]
    fn lockout_doubles_and_is_capped() {
        let p = Policy::default();
        assert_eq!(p.lockout_seconds(4), None);
        assert_eq!(p.lockout_seconds(5), Some(30));
        assert_eq!(p.lockout_seconds(6), Some(60));
        assert_eq!(p.lockout_seconds(7), Some(120));
        assert_eq!(p.lockout_seconds(20), Some(3600));
        assert_eq!(p.lockout_seconds(99), Some(3600));
    }
}

//! `backup-codes-bench once`: one call, alone, for callgrind.

use std::hint::black_box;

use secrecy::{ExposeSecret, SecretString};

use super::Settings;
use super::fixture::{Bench, Native};
use crate::BoxResult;

/// `backup-codes-bench once`: set up, then make exactly one measured call in
/// [`measured`], so that `valgrind --tool=callgrind --toggle-collect='*measured*'`
/// counts the instructions of that call alone.
pub fn once(
    what: &str,
    count: u8,
    memory_kib: Option<u32>,
    component: Option<std::path::PathBuf>,
) -> BoxResult<()> {
    let settings = Settings {
        memory_kib,
        component,
        ..Settings::quick()
    };
    let bench = Bench::load(&settings)?;
    let policy = bench.policy_with_count(count);
    match what {
        "verify" => {
            let issued = bench.plugin.issue(None, &policy, None)?;
            let code = issued.codes.last().ok_or("issue returned no codes")?;
            let code = SecretString::from(code.code.expose_secret().clone());
            // Warm up: the first call in a slot maps the memory image.
            bench
                .plugin
                .verify(&issued.credential, None, &code, &policy, None)?;
            measured(|| {
                bench
                    .plugin
                    .verify(&issued.credential, None, &code, &policy, None)
                    .map(|_| ())
                    .map_err(Into::into)
            })
        }
        "native" => {
            let native = Native::new(bench.policy.hash, "0123456789ABCD")?;
            native.hash_untimed()?;
            measured(|| native.hash_untimed())
        }
        "trivial" => {
            bench.plugin.default_policy()?;
            measured(|| {
                bench
                    .plugin
                    .default_policy()
                    .map(|_| ())
                    .map_err(Into::into)
            })
        }
        other => Err(format!("--what {other}: use verify, native or trivial").into()),
    }
}

/// The one call `once` measures (a separate symbol for callgrind).
#[inline(never)]
fn measured(f: impl FnOnce() -> BoxResult<()>) -> BoxResult<()> {
    black_box(f())
}

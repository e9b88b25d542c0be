//! Builds a guest crate of this workspace for `wasm32-unknown-unknown` and turns
//! the core module into a component with `wit-component`.
//!
//! Used by host-shim's build script (the real plugin) and by the test harness
//! (hostile test plugins), so both are built from source the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target guests are built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// Environment variables of an outer cargo build that must not reach the inner one.
const OUTER_ONLY: [&str; 7] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_PROFILE_RELEASE_DEBUG",
];

/// Is the wasm target's standard library installed for `rustc`?
pub fn target_installed(rustc: &str) -> bool {
    Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|s| s.join("lib/rustlib").join(TARGET).join("lib").is_dir())
}

/// Build `package` (a `cdylib` in the workspace at `root`) with `profile` into
/// `target_dir`, and return the encoded component.
pub fn build(
    root: &Path,
    package: &str,
    profile: &str,
    target_dir: &Path,
) -> Result<Vec<u8>, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if !target_installed(&rustc) {
        return Err(format!(
            "the {TARGET} target is missing; run `rustup target add {TARGET}` and build again"
        ));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--profile",
            profile,
            "--target",
            TARGET,
        ])
        .args(["-p", package, "--target-dir"])
        .arg(target_dir);
    for var in OUTER_ONLY {
        build.env_remove(var);
    }
    let status = build
        .status()
        .map_err(|e| format!("could not run cargo to build {package}: {e}"))?;
    if !status.success() {
        return Err(format!("building {package} for {TARGET} failed ({status})"));
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    let core = target_dir.join(TARGET).join(profile).join(file);
    let bytes = std::fs::read(&core).map_err(|e| format!("reading {}: {e}", core.display()))?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&bytes)
        .and_then(|encoder| encoder.encode())
        .map_err(|e| format!("turning {package} into a component: {e:#}"))
}

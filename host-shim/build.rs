//! Embeds the component the shim runs.
//!
//! In this workspace it is built from source: the plugin for wasm32, turned
//! into a component, so the shim embeds exactly the component its sources
//! describe (no `.wasm` is committed). The published crate has no `../plugin`:
//! `scripts/dist` packs the component it built from the same commit as
//! `component/backup-codes.wasm`, which is used as it is, after its SHA-256 is
//! checked against `component/backup-codes.wasm.sha256` from the same build.

use std::env;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The packed component, relative to the crate (only in the published crate).
const PACKED: &str = "component/backup-codes.wasm";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().unwrap_or(Path::new("..")).to_path_buf();
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("backup_codes.wasm");
    let component = if root.join("plugin").join("Cargo.toml").is_file() {
        from_source(&root)
    } else {
        packed(&manifest)
    };
    let result = component.and_then(|bytes| {
        std::fs::write(&out, bytes).map_err(|e| format!("writing {}: {e}", out.display()))
    });
    if let Err(message) = result {
        println!("cargo::error={message}");
        std::process::exit(1);
    }
}

/// Build the plugin of the workspace at `root` and encode it.
fn from_source(root: &Path) -> Result<Vec<u8>, String> {
    for watched in [
        "plugin/src",
        "plugin/Cargo.toml",
        "wit",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo::rerun-if-env-changed=BACKUP_CODES_PLUGIN_TARGET_DIR");
    // A separate target directory: the outer build holds the lock on its own.
    let target_dir = env::var_os("BACKUP_CODES_PLUGIN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("plugin"));
    component_build::build(root, "backup-codes-plugin", "plugin", &target_dir)
}

/// The component packed into the published crate, checked against its digest.
fn packed(manifest: &Path) -> Result<Vec<u8>, String> {
    let file = manifest.join(PACKED);
    let digest_file = manifest.join(format!("{PACKED}.sha256"));
    println!("cargo::rerun-if-changed={}", file.display());
    println!("cargo::rerun-if-changed={}", digest_file.display());
    let bytes = std::fs::read(&file).map_err(|e| {
        format!(
            "{} is missing ({e}): outside the project's workspace the crate uses the component \
             packed by scripts/dist",
            file.display()
        )
    })?;
    let want = std::fs::read_to_string(&digest_file)
        .map_err(|e| format!("reading {}: {e}", digest_file.display()))?;
    let got = hex::encode(Sha256::digest(&bytes));
    if want.split_whitespace().next() != Some(got.as_str()) {
        return Err(format!(
            "{} has sha256 {got}, but {} says otherwise",
            file.display(),
            digest_file.display()
        ));
    }
    Ok(bytes)
}

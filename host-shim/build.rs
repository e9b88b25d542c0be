//! Builds the plugin from source for wasm32 and turns it into a component, so the
//! shim embeds exactly the component its sources describe. No `.wasm` is committed.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().unwrap_or(Path::new("..")).to_path_buf();
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
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("backup_codes.wasm");
    let result = component_build::build(&root, "backup-codes-plugin", "plugin", &target_dir)
        .and_then(|component| {
            std::fs::write(&out, component).map_err(|e| format!("writing {}: {e}", out.display()))
        });
    if let Err(message) = result {
        println!("cargo::error={message}");
        std::process::exit(1);
    }
}

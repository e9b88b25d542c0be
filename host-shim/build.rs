//! Builds the plugin from source for wasm32 and turns it into a component, so the
//! shim embeds exactly the component its sources describe. No `.wasm` is committed.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn fail(message: &str) -> ! {
    println!("cargo::error={message}");
    std::process::exit(1);
}

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

    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed =
        sysroot.is_some_and(|s| s.join("lib/rustlib").join(TARGET).join("lib").is_dir());
    if !installed {
        fail(&format!(
            "the {TARGET} target is missing; run `rustup target add {TARGET}` and build again"
        ));
    }

    // A separate target directory: the outer build holds the lock on its own.
    let target_dir = env::var_os("BACKUP_CODES_PLUGIN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("plugin"));
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--profile",
            "plugin",
            "--target",
            TARGET,
        ])
        .args(["-p", "backup-codes-plugin", "--target-dir"])
        .arg(&target_dir);
    // Flags and wrappers meant for the outer (native) build must not leak in.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        build.env_remove(var);
    }
    match build.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "building the plugin for {TARGET} failed ({status})"
        )),
        Err(e) => fail(&format!("could not run cargo to build the plugin: {e}")),
    }

    let core = target_dir
        .join(TARGET)
        .join("plugin")
        .join("backup_codes_plugin.wasm");
    let bytes =
        std::fs::read(&core).unwrap_or_else(|e| fail(&format!("reading {}: {e}", core.display())));
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&bytes)
        .and_then(|encoder| encoder.encode())
        .unwrap_or_else(|e| fail(&format!("turning the plugin into a component: {e:#}")));
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("backup_codes.wasm");
    std::fs::write(&out, component)
        .unwrap_or_else(|e| fail(&format!("writing {}: {e}", out.display())));
}

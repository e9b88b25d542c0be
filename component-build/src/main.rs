//! `component-build PACKAGE PROFILE TARGET_DIR OUT`: build a guest crate of
//! this workspace for wasm32 and write it as a component file. The checks of
//! the Node package use it for the hostile test component (`hostile-plugin`),
//! which hosts outside Rust load from a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [package, profile, target_dir, out] = args.as_slice() else {
        eprintln!("usage: component-build PACKAGE PROFILE TARGET_DIR OUT");
        return ExitCode::from(2);
    };
    // The workspace this tool was built in.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let result = component_build::build(&root, package, profile, Path::new(target_dir))
        .and_then(|bytes| std::fs::write(out, bytes).map_err(|e| format!("writing {out}: {e}")));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

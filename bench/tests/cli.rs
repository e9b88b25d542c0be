//! The bench binary's subcommands run end to end and print every row (no
//! assertion about any timing).

use std::path::{Path, PathBuf};
use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_backup-codes-bench");

/// The shim binary cargo built next to this test, built on demand when missing.
fn shim_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test> -> target/<profile>/backup-codes-shim
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("no target directory")?;
    let bin = profile_dir.join("backup-codes-shim");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "-p",
            "backup-codes-shim",
            "--bin",
            "backup-codes-shim",
        ]);
        let profile = profile_dir.file_name().and_then(|n| n.to_str());
        if let Some(p) = profile.filter(|p| *p != "debug") {
            cmd.args(["--profile", p]);
        }
        let status = cmd.status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("building the shim failed".into());
        }
    }
    Ok(bin)
}

#[test]
fn startup_child_loads_from_a_warm_cache() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = Command::new(BENCH)
            .args(["startup-child", "--cache-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let secs: f64 = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(secs > 0.0);
    }
    // The first run filled the cache the second one read.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_some());
}

#[test]
fn load_quick_prints_every_row() {
    let out = Command::new(BENCH)
        .args([
            "load",
            "--quick",
            "--concurrency",
            "1,2",
            "--overload-concurrency",
            "6",
            "--max-concurrent",
            "2",
            "--queue-timeout-ms",
            "50",
            "--native-samples",
            "2",
            "--shim",
        ])
        .arg(shim_binary().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "| native bound = ",
        "| 1 | ",
        "| 2 | ",
        "## P5",
        "| shim peak RSS over its whole life (`VmHWM`) | ",
        "| 503 | ",
        "| P4 ",
        "| P5 peak RSS | ",
        "| P5 overload answered 200 or 503 + Retry-After | ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Whatever the timings, every request was answered 200 or 503 with Retry-After.
    let overload = text
        .lines()
        .find(|l| l.starts_with("| P5 overload"))
        .unwrap();
    assert!(overload.contains("other errors 0;"), "{overload}");
    assert!(overload.contains("Retry-After: true"), "{overload}");
}

#[test]
fn once_makes_one_call() {
    for what in ["native", "trivial"] {
        let out = Command::new(BENCH)
            .args(["once", "--what", what, "--memory-kib", "1024"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{what}: {out:?}");
    }
}

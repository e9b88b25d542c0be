//! The bench binary's subcommands run end to end and print every row (no
//! assertion about any timing).

use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_backup-codes-bench");

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
        .arg(backup_codes_harness::shim::binary().unwrap())
        // The same binary as its own baseline: the side-by-side section runs.
        .arg("--baseline-shim")
        .arg(backup_codes_harness::shim::binary().unwrap())
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
        "## Side by side",
        "Peak RSS (`VmHWM`) after these runs: first ",
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
fn disasm_compiles_a_component_file_without_avx512() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("plugin.wasm");
    let elf = dir.path().join("plugin.elf");
    std::fs::write(&component, backup_codes_shim::plugin::EMBEDDED_COMPONENT).unwrap();
    let out = Command::new(BENCH)
        .args(["disasm", "--no-avx512", "--component"])
        .arg(&component)
        .arg("--out")
        .arg(&elf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::metadata(&elf).unwrap().len() > 0);
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

#[test]
fn rest2f_quick_prints_both_paths() {
    let shim = backup_codes_harness::shim::binary().unwrap();
    let out = Command::new(BENCH)
        .args(["rest2f", "--quick", "--shim"])
        .arg(&shim)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "| JSON API ",
        "| REST second factor ",
        "REST − JSON at p50: ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn doors_quick_counts_one_evaluation_per_hashing_attempt() {
    let shim = backup_codes_harness::shim::binary().unwrap();
    let out = Command::new(BENCH)
        .args(["doors", "--quick", "--repeats", "2", "--shim"])
        .arg(&shim)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "| right code | 1.00 | ",
        "| wrong code (a code of another subject's set) | 1.00 | ",
        "| unknown subject (checked against a decoy credential) | 1.00 | ",
        "| code of the set the active one replaced | 1.00 | ",
        "| typo (bad check symbol) | 0.00 | ",
        "| locked set | 0.00 | ",
        "| JSON API | wrong code | ",
        "| login step | unknown subject | ",
        "| REST second factor | replaced-set code | ",
        "| issue 24, REST door: unknown user (tried again) vs an enrolled user's wrong code, medians | ",
        "| issue 24, REST door: unknown user (a new one every try) vs an enrolled user's wrong code, medians | ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Counted with fuel, not timed: every kind at every door costs what the
    // engine promises (one evaluation, or none for a typo or a locked set).
    let counted = text
        .lines()
        .find(|l| l.starts_with("| evaluations per attempt at every door"))
        .unwrap();
    assert!(counted.ends_with("| pass |"), "{counted}");
}

#[test]
fn imported_quick_prints_every_row() {
    let shim = backup_codes_harness::shim::binary().unwrap();
    let out = Command::new(BENCH)
        .args(["imported", "--quick", "--hostile", "3", "--shim"])
        .arg(&shim)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "(4 subjects, 4 legacy, 0 failed,",
        "| wrong code, imported set (every unused code evaluated) | ",
        "| answered (accepted) / made | ",
        "| peak over the whole life (`VmHWM`) | ",
        "| peak RSS <= base + slots x the most memory a call may use | ",
        "| another user's right code beside the hostile attempts | ",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

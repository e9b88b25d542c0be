//! The command line: issue, activate and verify against a local SQLite store, and
//! bad input (invalid UTF-8, oversized or malformed codes) refused with a clear
//! error and nothing written.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use backup_codes_harness::shim::binary;

/// Run the CLI in `dir` with a cheap-hashing configuration, feeding `stdin`.
fn run(dir: &Path, args: &[&OsStr], stdin: &[u8]) -> Output {
    let config = dir.join("shim.toml");
    if !config.exists() {
        std::fs::write(
            &config,
            "log_filter = \"warn\"\n[plugin]\ncache_dir = \"cache\"\n",
        )
        .unwrap();
    }
    let mut command = Command::new(binary().unwrap());
    command.arg("--config").arg(&config).args(args);
    feed(command, dir, stdin)
}

/// Run `command` with `sh -c` in `dir`, feeding `stdin`.
fn shell(dir: &Path, command: &str, stdin: &[u8]) -> Output {
    let mut sh = Command::new("sh");
    sh.args(["-c", command]);
    feed(sh, dir, stdin)
}

/// Run `command` in `dir` with `stdin` as its input; its output is captured.
fn feed(mut command: Command, dir: &Path, stdin: &[u8]) -> Output {
    let mut child = command
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The CLI may refuse its arguments and exit before reading its input; the
    // pipe closing early is then expected, not a failure of the test.
    match child.stdin.take().unwrap().write_all(stdin) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => panic!("writing the CLI's input: {e}"),
    }
    child.wait_with_output().unwrap()
}

fn args(list: &[&str]) -> Vec<&'static OsStr> {
    list.iter()
        .map(|s| OsStr::new(Box::leak(s.to_string().into_boxed_str())))
        .collect()
}

/// The database files' bytes.
fn db_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["data/backup-codes.db", "data/backup-codes.db-wal"] {
        all.extend(std::fs::read(dir.join(name)).unwrap_or_default());
    }
    all
}

/// What is stored for a subject of the demo tenant: credential and audit rows.
fn stored(dir: &Path, subject: &str) -> (Option<Vec<u8>>, usize) {
    let url = format!("sqlite://{}/data/backup-codes.db", dir.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = backup_codes_shim::store::Store::connect(&url, 1)
            .await
            .unwrap();
        let (credential, audit) = backup_codes_harness::db::stored(&store, "demo", subject)
            .await
            .unwrap();
        (credential, audit.len())
    })
}

#[test]
fn issue_activate_and_verify_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &args(&["issue", "--subject", "alice"]), b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let codes: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.split_once(". ").map(|(_, c)| c))
        .collect();
    assert_eq!(codes.len(), 10, "{text}");
    // The hint after the codes works when pasted into a shell as it is.
    let hint = text
        .lines()
        .skip_while(|l| !l.contains("pending"))
        .nth(1)
        .unwrap_or_else(|| panic!("a command to activate the set: {text}"))
        .trim();
    assert!(hint.contains("--tenant demo --subject alice"), "{hint}");
    let out = shell(dir.path(), hint, format!("{}\n", codes[0]).as_bytes());
    assert!(
        out.status.success(),
        "{hint}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // From standard input, so the code stays out of the process list.
    let out = run(
        dir.path(),
        &args(&["verify", "--subject", "alice"]),
        format!("{}\n", codes[1]).as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"accepted\""));

    let out = run(
        dir.path(),
        &args(&["verify", "--subject", "alice", "--code", codes[1]]),
        b"",
    );
    assert!(!out.status.success(), "a code works once");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already_used"));

    let out = run(dir.path(), &args(&["status", "--subject", "alice"]), b"");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["active"]["remaining"], 9);

    // No plaintext code in the database.
    let db = db_bytes(dir.path());
    for code in &codes {
        assert!(!db.windows(code.len()).any(|w| w == code.as_bytes()));
    }
}

#[test]
fn bad_input_is_refused_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &args(&["issue", "--subject", "bob"]), b"");
    assert!(out.status.success());
    let before = stored(dir.path(), "bob");

    // Invalid UTF-8 in an argument: clap refuses it before anything runs.
    let bad_subject = [
        OsStr::new("verify"),
        OsStr::new("--subject"),
        OsStr::from_bytes(b"b\xffb"),
    ];
    let out = run(dir.path(), &bad_subject, b"AAAA\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid UTF-8"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad_code = [
        OsStr::new("verify"),
        OsStr::new("--subject"),
        OsStr::new("bob"),
        OsStr::new("--code"),
        OsStr::from_bytes(b"\xc3\x28"),
    ];
    let out = run(dir.path(), &bad_code, b"");
    assert_eq!(out.status.code(), Some(2));

    // Invalid UTF-8 on standard input.
    let out = run(
        dir.path(),
        &args(&["activate", "--subject", "bob"]),
        b"\xff\xfe\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));

    // A code of 10 KB and a malformed one: typed errors, not attempts.
    let long = "A".repeat(10 * 1024);
    let out = run(
        dir.path(),
        &args(&["activate", "--subject", "bob"]),
        format!("{long}\n").as_bytes(),
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && err.contains("too long"), "{err}");
    assert!(!err.contains(&long[..64]), "the input is not echoed back");
    let out = run(
        dir.path(),
        &args(&["activate", "--subject", "bob"]),
        b"ABCD-EFGH\n",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong number of characters"));

    // Unknown tenant and over-long subject.
    let out = run(
        dir.path(),
        &args(&["status", "--tenant", "nope", "--subject", "bob"]),
        b"",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tenant"));
    let out = run(
        dir.path(),
        &args(&["status", "--subject", &"s".repeat(300)]),
        b"",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("subject must be"));

    assert!(stored(dir.path(), "bob") == before, "nothing was written");
}

#[test]
fn help_names_every_command() {
    let out = Command::new(binary().unwrap())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for command in [
        "serve",
        "migrate",
        "issue",
        "activate",
        "verify",
        "status",
        "tenant-init",
        "token",
        "component",
    ] {
        assert!(help.contains(command), "--help lists {command}");
    }
}

#[test]
fn component_digest_names_what_the_shim_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.wasm");
    let out = run(
        dir.path(),
        &[
            OsStr::new("component"),
            OsStr::new("--out"),
            file.as_os_str(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = hex::encode(backup_codes_shim::plugin::sha256(
        &std::fs::read(&file).unwrap(),
    ));

    let out = run(dir.path(), &args(&["component", "--digest"]), b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = backup_codes_shim::plugin::COMPONENT_VERSION;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{written}  backup-codes-{version}.wasm\n"),
        "sha256sum's format, the embedded component's bytes"
    );

    // A configured component file is the one named.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(
        other.join("shim.toml"),
        format!(
            "[plugin]\ncomponent_path = {:?}\n",
            file.display().to_string()
        ),
    )
    .unwrap();
    let out = run(&other, &args(&["component", "--digest"]), b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, format!("{written}  {}\n", file.display()));
}

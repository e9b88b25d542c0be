//! Secrets hygiene: a full lifecycle with logging at trace level, then every log
//! line, database file and error body is scanned for issued codes, stored digests,
//! tokens and configured secrets. None may appear (codes are not even in the
//! database; digests live only inside the stored credential).

use std::collections::HashSet;

use backup_codes_harness::client::{RawBody, ShimClient, codes};
use backup_codes_harness::db::{Backend, TestDb};
use backup_codes_harness::idp::{Alg, TestIdp};
use backup_codes_harness::shim::{ShimProcess, process_toml};
use base64::Engine as _;
use reqwest::Method;
use sqlx::Connection as _;

const TENANT: &str = "acme";
const PEPPER: &str = "pepper-that-must-never-be-logged-41";

/// Every 16-byte window of `blob` that looks random (digest or salt material).
fn windows(blob: &[u8], into: &mut HashSet<[u8; 16]>) {
    for w in blob.windows(16) {
        let distinct: HashSet<u8> = w.iter().copied().collect();
        if distinct.len() >= 12 {
            into.insert(w.try_into().unwrap());
        }
    }
}

fn contains_window(bytes: &[u8], secrets: &HashSet<[u8; 16]>) -> bool {
    bytes
        .windows(16)
        .any(|w| secrets.contains(<&[u8; 16]>::try_from(w).unwrap()))
}

/// Does `text` hold any secret window raw, in hex, or in (URL-safe) base64?
fn leaks(text: &str, secrets: &HashSet<[u8; 16]>) -> Option<String> {
    if contains_window(text.as_bytes(), secrets) {
        return Some("raw bytes".into());
    }
    let runs = |is: fn(u8) -> bool| {
        text.as_bytes()
            .split(move |b| !is(*b))
            .filter(|r| r.len() >= 22)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    for run in runs(|b| b.is_ascii_hexdigit()) {
        for start in 0..2 {
            if let Ok(bytes) = hex::decode(&run[start..start + (run.len() - start) / 2 * 2])
                && contains_window(&bytes, secrets)
            {
                return Some(format!("hex {}", String::from_utf8_lossy(&run)));
            }
        }
    }
    for run in runs(|b| b.is_ascii_alphanumeric() || b"+/-_".contains(&b)) {
        let run = String::from_utf8_lossy(&run)
            .replace(['-', '+'], "+")
            .replace(['_', '/'], "/");
        for start in 0..4 {
            let part = &run[start..];
            let part = &part[..part.len() / 4 * 4];
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(part)
                && contains_window(&bytes, secrets)
            {
                return Some(format!("base64 {part}"));
            }
        }
    }
    None
}

/// What one run sent and received: every code issued, every token used and
/// every error body answered.
struct Traffic {
    codes: Vec<String>,
    tokens: Vec<String>,
    errors: Vec<String>,
}

/// Every operation, right and wrong codes, typos, malformed bodies and a
/// replayed token, against the shim at `c`.
async fn drive(c: &ShimClient, idp: &TestIdp) -> Traffic {
    let mut tokens = Vec::new();
    let mut token = |s: &str| {
        let t = idp.token(Alg::Hs256, s);
        tokens.push(t.clone());
        t
    };
    let mut errors = Vec::new();
    let mut all_codes = Vec::new();

    let subject = "hygiene-user";
    let first = codes(&c.issue(TENANT, subject, &token(subject)).await.unwrap());
    c.status(TENANT, subject, &token(subject)).await.unwrap();
    c.activate(TENANT, subject, &token(subject), &first[0])
        .await
        .unwrap();
    for code in [&first[1], &first[1], &first[2].to_lowercase()] {
        c.verify(TENANT, subject, &token(subject), code)
            .await
            .unwrap();
    }
    let second = codes(&c.issue(TENANT, subject, &token(subject)).await.unwrap());
    let mut wrong = second[5].clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    let typo = c
        .activate(TENANT, subject, &token(subject), &wrong)
        .await
        .unwrap();
    errors.push(typo.text);
    c.activate(TENANT, subject, &token(subject), &second[1])
        .await
        .unwrap();
    for code in [&first[3], &second[2], &second[2]] {
        c.verify(TENANT, subject, &token(subject), code)
            .await
            .unwrap();
    }
    let path = format!("{}/verify", ShimClient::codes_path(TENANT, subject));
    for body in [
        RawBody::json(&serde_json::json!({"code": format!("{}{}", second[3], second[4])})),
        RawBody::raw_json(format!("{{\"code\": \"{}\"", second[6])),
        RawBody::json(&serde_json::json!({"code": second[7], "extra": second[8]})),
    ] {
        let r = c
            .send(Method::POST, &path, Some(&token(subject)), Some(body))
            .await
            .unwrap();
        assert!(r.status.is_client_error());
        errors.push(r.text);
    }
    let replayed = token(subject);
    c.status(TENANT, subject, &replayed).await.unwrap();
    errors.push(
        c.verify(TENANT, subject, &replayed, &second[9])
            .await
            .unwrap()
            .text,
    );
    let other = codes(&c.issue(TENANT, "other", &token("other")).await.unwrap());
    c.delete(TENANT, "other", &token("other")).await.unwrap();
    all_codes.extend(first.iter().chain(&second).chain(&other).cloned());
    Traffic {
        codes: all_codes,
        tokens,
        errors,
    }
}

/// Digest and salt windows of the stored credentials, and the database files'
/// bytes.
async fn stored(db: &TestDb) -> (HashSet<[u8; 16]>, Vec<(String, Vec<u8>)>) {
    // Stored credentials, for their digest and salt material.
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let blobs: Vec<Vec<u8>> = sqlx::query_scalar("SELECT credential FROM credentials")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let mut digests = HashSet::new();
    for b in &blobs {
        windows(b, &mut digests);
    }
    assert!(digests.len() > 100, "digest material found in the store");

    let mut files = Vec::new();
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("shim.db") {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(!files.is_empty());

    (digests, files)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_code_digest_token_or_secret_leaks_at_trace_level() {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let config = process_toml(
        &db,
        // Everything at trace level except the compiler's own chatter (cranelift and
        // wasmtime compiling the component log millions of lines, none of them ours).
        "log_format = \"json\"\n\
         log_filter = \"trace,cranelift=info,wasmtime=info,regalloc2=info,wasmparser=info\"",
        "",
        &format!(
            "{}pepper = {PEPPER:?}\n",
            idp.tenant_toml(TENANT, Alg::Hs256)
        ),
        TENANT,
    );
    let mut shim = ShimProcess::start(db.dir.path(), "hygiene", &config)
        .await
        .unwrap();
    let c = ShimClient::new(&shim.url).unwrap();
    let Traffic {
        codes: all_codes,
        tokens,
        errors,
    } = drive(&c, &idp).await;
    shim.terminate().await.unwrap();
    let log = shim.log();
    assert!(
        log.contains("backup-code event") && log.contains("TRACE"),
        "trace logging is on"
    );

    let (digests, files) = stored(&db).await;

    let forms = |code: &str| {
        let canonical = code.replace('-', "");
        [
            code.to_owned(),
            code.to_lowercase(),
            canonical.to_lowercase(),
            canonical,
        ]
    };
    for code in &all_codes {
        for form in forms(code) {
            assert!(!log.contains(&form), "log holds code {form}");
            for e in &errors {
                assert!(!e.contains(&form), "error body holds a code: {e}");
            }
            for (name, bytes) in &files {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{name} holds a plaintext code"
                );
            }
        }
    }
    for t in &tokens {
        let signature = t.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "log holds a token");
    }
    for secret in [PEPPER, idp.hs256_secret.as_str()] {
        assert!(!log.contains(secret), "log holds a configured secret");
    }
    if let Some(found) = leaks(&log, &digests) {
        panic!("log holds digest material ({found})");
    }
    for e in &errors {
        assert!(
            leaks(e, &digests).is_none(),
            "error body holds digest material: {e}"
        );
    }
    eprintln!(
        "scanned {} log lines, {} error bodies, {} database files for {} codes, {} tokens and {} digest windows",
        log.lines().count(),
        errors.len(),
        files.len(),
        all_codes.len(),
        tokens.len(),
        digests.len()
    );
}

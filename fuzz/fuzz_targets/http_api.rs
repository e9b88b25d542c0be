//! The shim's HTTP surface: arbitrary requests sent through
//! `backup_codes_shim::http::app(state)` with `tower::ServiceExt::oneshot`.
//!
//! The input is text shaped like HTTP/1.1 requests, so seeds are readable and the
//! fuzzer's dictionary (`fuzz/http_api.dict`) works on it:
//!
//! ```text
//! POST /v1/tenants/acme/subjects/alice/codes/verify HTTP/1.1
//! Authorization: Bearer {token}
//! Content-Type: application/json
//!
//! {"code":"{code:1}"}
//! ```
//!
//! Up to six requests are separated by a line `%%`; they run in order against
//! the same shim, and these placeholders are replaced before each is parsed:
//!
//! | placeholder | becomes |
//! |---|---|
//! | `{token}` / `{token:SUB}` | a valid API token of tenant `acme` (HS256, fresh `jti`) for the subject in the path / for `SUB` |
//! | `{session:TENANT:SUB}` | a valid step session token of `acme` or `demo` for `SUB`, for the step the request's path opens |
//! | `{code:N}` | code `N` of the last set issued in this input (JSON or page) |
//! | `{state}` | a fresh value (a step `state` is accepted once) |
//! | `{flow}` | the last flow token a step page of this input carried |
//! | `{form}` | the hidden fields of the last page's first form, URL-encoded (a hand-back to the IdP carries `state` and `session_token`) |
//! | `{location}` | the last redirect's target (path and query) |
//! | `{cookies}` | the cookies the responses of this input set, as a `Cookie` value |
//!
//! What hyper would refuse before the router ever sees it (a method, URI, header
//! name or value that does not parse) is skipped; `Content-Length` is set to the
//! body's real length, as hyper guarantees.
//!
//! The shim is built once per process: SQLite in a temporary directory (under
//! `$TMPDIR`), the embedded component, tenants `acme` (HS256 API and step) and
//! `demo` (the local demo), cheap argon2 and generous rate limits.
//!
//! Invariants: never a panic, never a 5xx status, for any input.
//!
//! `FUZZ_HTTP_TRACE=1` prints each request's first line and the status it got
//! (to check what seeds reach).
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri, header};
use backup_codes_shim::config::JwtAlgorithm;
use backup_codes_shim::http::{self, AppState};
use backup_codes_shim::config::{Config, Limits, PolicyOverrides, TenantConfig};
use backup_codes_shim::{demo, server};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

const ISSUER: &str = "https://idp.acme.example";
const AUDIENCE: &str = "backup-codes";
const API_SECRET: &str = "fuzz-api-secret-0123456789abcdef";
const STEP_SECRET: &str = "fuzz-step-secret-0123456789abcdef";
const DEMO_SECRET: &str = "fuzz-demo-secret-0123456789abcdef";
const DEMO_API_SECRET: &str = "fuzz-demo-api-secret-0123456789abcdef";
const PUBLIC_URL: &str = "http://127.0.0.1:8080";
const MAX_REQUESTS: usize = 6;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    /// Keeps the database directory for the life of the process.
    _dir: tempfile::TempDir,
}

fn config(database_url: String) -> Config {
    let cheap = PolicyOverrides {
        hash_memory_kib: Some(1024),
        hash_iterations: Some(1),
        ..PolicyOverrides::default()
    };
    let acme = TenantConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        algorithms: vec![JwtAlgorithm::HS256],
        hs256_secret: Some(SecretString::from(API_SECRET)),
        step_secret: Some(SecretString::from(STEP_SECRET)),
        continue_urls: vec![format!("{ISSUER}/continue").parse().expect("a valid URL")],
        policy: cheap.clone(),
        ..TenantConfig::default()
    };
    let demo = TenantConfig {
        issuer: demo::ISSUER.into(),
        audience: demo::AUDIENCE.into(),
        algorithms: vec![JwtAlgorithm::HS256],
        hs256_secret: Some(SecretString::from(DEMO_API_SECRET)),
        step_secret: Some(SecretString::from(DEMO_SECRET)),
        continue_urls: vec![format!("{PUBLIC_URL}/demo/").parse().expect("a valid URL")],
        policy: cheap,
        ..TenantConfig::default()
    };
    let mut config = Config {
        database_url,
        public_url: PUBLIC_URL.parse().expect("a valid URL"),
        demo: true,
        tenants: BTreeMap::from([
            ("acme".to_owned(), acme),
            (demo::TENANT.to_owned(), demo),
        ]),
        limits: Limits {
            per_ip_per_minute: 1_000_000_000,
            per_subject_per_minute: 1_000_000_000,
            ..Limits::default()
        },
        ..Config::default()
    };
    config.plugin.cache_dir = None;
    config.plugin.max_concurrent = 2;
    config.plugin.queue_timeout_ms = 60_000;
    config
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("backup-codes-fuzz-")
            .tempdir()
            .expect("temporary directory");
        let config = config(format!("sqlite://{}/shim.db", dir.path().display()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let state: AppState = runtime
            .block_on(server::build(&config))
            .expect("building the shim state");
        let router = http::app(state);
        Harness {
            runtime,
            router,
            _dir: dir,
        }
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn fresh_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "fuzz-{}-{}-{}",
        std::process::id(),
        now(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn sign(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

fn api_token(subject: &str) -> String {
    let now = now();
    sign(
        API_SECRET,
        &json!({"iss": ISSUER, "aud": AUDIENCE, "sub": subject,
                "iat": now, "nbf": now, "exp": now + 120, "jti": fresh_id()}),
    )
}

fn session_token(tenant: &str, subject: &str, step: &str) -> String {
    let now = now();
    let (issuer, secret, audience) = if tenant == demo::TENANT {
        (demo::ISSUER, DEMO_SECRET, demo::AUDIENCE)
    } else {
        (ISSUER, STEP_SECRET, AUDIENCE)
    };
    sign(
        secret,
        &json!({"iss": issuer, "aud": audience, "sub": subject, "step": step,
                "iat": now, "exp": now + 300, "jti": fresh_id()}),
    )
}

/// What earlier responses of the same input left for the placeholders.
#[derive(Default)]
struct Session {
    codes: Vec<String>,
    flow: Option<String>,
    form: Option<String>,
    location: Option<String>,
    cookies: BTreeMap<String, String>,
}

impl Session {
    fn learn(&mut self, headers: &axum::http::HeaderMap, body: &[u8]) {
        for value in headers.get_all(header::SET_COOKIE) {
            let pair = value.to_str().unwrap_or("").split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        if let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
            let path = location.strip_prefix(PUBLIC_URL).unwrap_or(location);
            self.location = Some(path.to_owned());
        }
        let text = String::from_utf8_lossy(body);
        if let Some((form, _)) = text.split_once("</form>") {
            let fields: Vec<String> = form
                .split("<input type=\"hidden\" name=\"")
                .skip(1)
                .filter_map(|field| {
                    let (name, rest) = field.split_once('"')?;
                    let value = rest.strip_prefix(" value=\"")?.split_once('"')?.0;
                    let value = unescape(value);
                    Some(format!(
                        "{name}={}",
                        utf8_percent_encode(&value, NON_ALPHANUMERIC)
                    ))
                })
                .collect();
            self.form = Some(fields.join("&"));
        }
        if let Ok(json) = serde_json::from_slice::<Value>(body)
            && let Some(codes) = json.get("codes").and_then(Value::as_array)
        {
            self.codes = codes
                .iter()
                .filter_map(|c| c.get("code").and_then(Value::as_str).map(str::to_owned))
                .collect();
        }
        let mut page_codes = Vec::new();
        for chunk in text.split("<code data-number=\"").skip(1) {
            if let Some(code) = chunk
                .split_once("\">")
                .and_then(|(_, rest)| rest.split_once("</code>"))
            {
                page_codes.push(code.0.to_owned());
            }
        }
        if !page_codes.is_empty() {
            self.codes = page_codes;
        }
        if let Some(flow) = text
            .split("name=\"flow\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split_once('"'))
        {
            self.flow = Some(flow.0.to_owned());
        }
    }
}

/// Undo the HTML escaping of an attribute value.
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The subject named in an API path (`/v1/tenants/{t}/subjects/{s}/...`), decoded.
fn path_subject(request: &[u8]) -> String {
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let subject = line.split_once("/subjects/").map_or("alice", |(_, rest)| {
        rest.split(['/', ' ', '?']).next().unwrap_or("")
    });
    percent_encoding::percent_decode_str(subject)
        .decode_utf8_lossy()
        .into_owned()
}

/// The step a request's path opens (`login` when it names none).
fn path_step(request: &[u8]) -> &'static str {
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let path = line.split(' ').nth(1).unwrap_or("");
    let last = path.split('?').next().unwrap_or("").rsplit('/').next().unwrap_or("");
    ["enroll", "regenerate"]
        .into_iter()
        .find(|k| *k == last)
        .unwrap_or("login")
}

/// Replace the placeholders in one request.
fn expand(request: &[u8], session: &Session) -> Vec<u8> {
    let mut out = Vec::with_capacity(request.len());
    let mut rest = request;
    while let Some(open) = rest.iter().position(|&b| b == b'{') {
        out.extend_from_slice(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.iter().position(|&b| b == b'}') else {
            out.extend_from_slice(&rest[open..]);
            return out;
        };
        // `{"code":"{code:1}"}`: the placeholder is the innermost pair.
        if let Some(inner) = after[..close].iter().rposition(|&b| b == b'{') {
            out.extend_from_slice(&rest[open..=open + inner]);
            rest = &after[inner..];
            continue;
        }
        let name = String::from_utf8_lossy(&after[..close]);
        let replacement = match name.split_once(':').unwrap_or((&name, "")) {
            ("token", "") if !name.contains(':') => Some(api_token(&path_subject(request))),
            ("token", subject) => Some(api_token(subject)),
            ("session", arg) => {
                let (tenant, subject) = arg.split_once(':').unwrap_or(("acme", arg));
                Some(session_token(tenant, subject, path_step(request)))
            }
            ("code", n) => n
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| session.codes.get(i).cloned()),
            ("state", "") => Some(fresh_id()),
            ("flow", "") => session.flow.clone(),
            ("form", "") => session.form.clone(),
            ("location", "") => session.location.clone(),
            ("cookies", "") => Some(
                session
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => None,
        };
        match replacement {
            Some(text) => out.extend_from_slice(text.as_bytes()),
            None => out.extend_from_slice(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.extend_from_slice(rest);
    out
}

/// Parse one request as hyper would hand it to the router, or `None` when hyper
/// would refuse it first.
fn parse(request: &[u8]) -> Option<Request<Body>> {
    let (head, body) = find(request, b"\r\n\r\n")
        .map(|i| (&request[..i], &request[i + 4..]))
        .or_else(|| find(request, b"\n\n").map(|i| (&request[..i], &request[i + 2..])))
        .unwrap_or((request, &[]));
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut first = lines.next()?.splitn(3, |&b| b == b' ');
    let method = Method::from_bytes(first.next()?).ok()?;
    let uri = Uri::try_from(first.next()?).ok()?;
    let mut builder = Request::builder().method(method).uri(uri);
    for line in lines.filter(|l| !l.is_empty()) {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = HeaderName::from_bytes(&line[..colon]).ok()?;
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
        builder = builder.header(name, value);
    }
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_LENGTH, body.len());
    }
    builder.body(Body::from(body.to_vec())).ok()
}

fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_HTTP_TRACE").is_some_and(|v| v == "1"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split_requests(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < MAX_REQUESTS {
        match find(rest, b"\n%%\n") {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 4..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let mut session = Session::default();
    for raw in split_requests(data) {
        let expanded = expand(raw, &session);
        let Some(request) = parse(&expanded) else {
            continue;
        };
        let (status, headers, body) = harness.runtime.block_on(async {
            let response = harness
                .router
                .clone()
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {});
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (parts.status, parts.headers, bytes)
        });
        assert!(
            !status.is_server_error(),
            "{status} for\n{}\n---\n{}",
            String::from_utf8_lossy(&expanded),
            String::from_utf8_lossy(&body)
        );
        if trace() {
            let line = expanded.split(|&b| b == b'\n').next().unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            // A page's heading, or the start of any other body.
            let heading = body
                .split_once("<h1>")
                .and_then(|(_, h)| h.split_once("</h1>"));
            let snippet: String = heading.map_or(&*body, |h| h.0).chars().take(160).collect();
            eprintln!(
                "{status} <- {}\n    {}",
                String::from_utf8_lossy(line),
                snippet.replace('\n', " ")
            );
        }
        session.learn(&headers, &body);
    }
});

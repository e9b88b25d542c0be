//! The login step identity providers send browsers to (shape A, Auth0-compatible
//! redirect actions), its pages, and the local demo.
//!
//! # Contract
//!
//! The IdP redirects the browser to `GET /step/{tenant}/login` (code entry),
//! `GET /step/{tenant}/enroll` (a first set, shown once, then one code typed back;
//! refused when the subject already has one) or `GET /step/{tenant}/regenerate`
//! (a new set replacing the current one) with two query parameters: `state`
//! (opaque, single-use) and `session_token`, an HS256 JWT signed with the tenant's
//! `step_secret`:
//!
//! | claim | rule |
//! |---|---|
//! | `step` | required: `login`, `enroll` or `regenerate`, the step of the path; a token opens that one step only |
//! | `iss` | the tenant's `issuer` |
//! | `sub` | the subject (1..=255 bytes, no control characters) |
//! | `exp`, `iat` | required; `exp` at most 15 minutes ahead; the leeway is `limits.leeway_seconds` |
//! | `aud` | optional; when present it must name the tenant's `audience` or exactly this step's URL, `{public_url}/step/{tenant}/{step}` (Auth0 puts the redirect URL there) |
//! | `state` | optional; when present it must equal the `state` parameter (Auth0 sets it) |
//! | `continue_uri` | optional; where to send the result. It must fall under one of the tenant's `continue_urls` (same scheme, host and port, path under the prefix); without it the first `continue_urls` entry is used as is (Auth0: `https://{domain}/continue`) |
//!
//! The shim never redirects anywhere else. Each `state` and each session token is
//! accepted once (remembered in the store, so the rule holds across shim instances).
//! On completion the browser is sent back with an auto-submitting `POST` to the
//! continue URL carrying `state` and `session_token`: an HS256 JWT signed with the
//! same `step_secret` with `iss` = the shim's `public_url`, `aud` = the tenant's
//! `issuer`, `sub`, `state`, `iat`, `exp` (5 minutes), `jti` and `result`:
//! `{"status":"success","method":"backup_code","action":"verify","set_id",
//! "number","remaining","low"}`, `{"status":"success","method":"backup_code",
//! "action":"enroll"|"regenerate","set_id","fingerprint","count"}` or
//! `{"status":"failed","method":"backup_code","action":...,"reason":...}`. The
//! `action` names the step the session token opened (`login` → `verify`), so the
//! IdP can check that the answer is for the step it asked for. Failures are sent
//! back only when the session token's signature was valid (so its `sub` and
//! continue URL are the IdP's).
//!
//! Between pages the flow travels in a signed flow token (hidden form field, a key
//! derived from `step_secret`, 15 minutes) bound to a per-flow `HttpOnly;
//! SameSite=Strict` cookie (CSRF), compared in constant time; a finished flow is
//! remembered in the store so it cannot finish twice. Every code goes to
//! [`crate::service::Service`]: the plugin decides everything about codes.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::config::TenantConfig;
use crate::plugin::{CodeFormatError, CodeOrder, Event, FailureReason, Outcome, PluginError};
use crate::service::{Attempt, IssueMode, ServiceError};

/// How long a flow (the pages between the IdP's redirect and the result) lasts, seconds.
pub const FLOW_TTL: i64 = 900;
/// Lifetime of the result token sent back to the IdP, seconds.
pub const RESULT_TTL: i64 = 300;
/// Longest `exp - now` accepted for a session token, seconds.
pub const MAX_SESSION_LIFETIME: i64 = 900;
/// Longest `state` accepted, bytes.
pub const MAX_STATE_BYTES: usize = 2048;
/// Longest session token accepted, bytes.
pub const MAX_TOKEN_BYTES: usize = 8192;
/// Longest flow token accepted from a form, bytes.
pub const MAX_FLOW_BYTES: usize = 8192;
/// Room a flow token keeps for what later pages add (the set issued, a login
/// result); a flow that would not have it is refused at the entry, before the
/// state or the session token is spent.
pub const FLOW_GROWTH: usize = 1024;
const _: () = assert!(MAX_FLOW_BYTES + 2048 <= crate::config::MIN_STEP_BODY_BYTES);
/// New sets one enrolment flow may issue (each costs one argon2 run per code).
pub const MAX_ISSUES_PER_FLOW: u32 = 3;
/// The `method` named in results.
pub const METHOD: &str = "backup_code";

const CSS: &str = include_str!("../static/step.css");
const JS: &str = include_str!("../static/step.js");
const FLOW_ISSUER: &str = "backup-codes-shim/flow";
const DEMO_STATE_COOKIE: &str = "bc_demo_state";

// ---------------------------------------------------------------------------
// Router

/// The step's routes (and the demo's when the demo tenant is on), to merge into
/// [`crate::api::app`].
pub fn router(state: AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/static/step.css", get(css))
        .route("/static/step.js", get(js))
        .route("/step/{tenant}/login", get(login_entry).post(login_submit))
        .route("/step/{tenant}/enroll", get(enroll_entry))
        .route("/step/{tenant}/regenerate", get(regenerate_entry))
        .route("/step/{tenant}/enroll/issue", post(enroll_issue))
        .route("/step/{tenant}/enroll/activate", post(enroll_activate))
        .route("/step/{tenant}/enroll/done", post(enroll_done))
        .route("/step/{tenant}/cancel", post(cancel));
    if demo_on(&state) {
        router = router
            .route("/demo", get(demo_index))
            .route("/demo/", get(demo_index))
            .route("/demo/start", get(demo_start))
            .route("/demo/continue", post(demo_continue));
    }
    router.layer(middleware::from_fn_with_state(state, limit_ip))
}

/// Is the local demo on (the demo tenant added by [`crate::server::with_demo_tenant`])?
fn demo_on(state: &AppState) -> bool {
    state.config.demo
        && state
            .config
            .tenants
            .get(crate::server::DEMO_TENANT)
            .is_some_and(|t| t.issuer == crate::server::DEMO_ISSUER && t.step_secret.is_some())
}

/// The shared per-IP allowance ([`crate::api::RateLimits`]), answered with a page.
async fn limit_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    if state.rates.check_ip(ip).is_err() {
        return Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            "Too many requests came from your network in the last minute. Wait a minute, then try again.",
        )
        .retry_after(60)
        .into_response();
    }
    next.run(request).await
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Tokens

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random_token(bytes: usize) -> Option<String> {
    let mut raw = zeroize::Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut raw).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_slice()))
}

/// A tenant whose step is configured.
struct StepTenant<'a> {
    id: &'a str,
    config: &'a TenantConfig,
    secret: &'a SecretString,
}

impl StepTenant<'_> {
    fn flow_key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"backup-codes-shim flow key v1\0");
        h.update(self.id.as_bytes());
        h.update(b"\0");
        h.update(self.secret.expose_secret().as_bytes());
        h.finalize().into()
    }
}

fn step_tenant<'a>(state: &'a AppState, id: &'a str) -> Result<StepTenant<'a>, Refusal> {
    match state.config.tenants.get(id) {
        Some(config) if state.service.has_tenant(id) => match &config.step_secret {
            Some(secret) => Ok(StepTenant { id, config, secret }),
            None => Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "Sign-in step not set up",
                "This service is not set up to use backup codes as a sign-in step. Go back to the site you came from.",
            )),
        },
        _ => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "Unknown sign-in step",
            "This address does not belong to any sign-in service. Go back to the site you came from.",
        )),
    }
}

/// Where results may go: `candidate` when it falls under one of the tenant's
/// `continue_urls`, or the first of them when the IdP named none.
pub fn continue_url(config: &TenantConfig, candidate: Option<&str>) -> Option<String> {
    let Some(candidate) = candidate else {
        let first = config.continue_urls.first()?;
        let url = url::Url::parse(first).ok()?;
        return usable(&url).then(|| first.clone());
    };
    let url = url::Url::parse(candidate).ok()?;
    if !usable(&url) || url.query().is_some() {
        return None;
    }
    config.continue_urls.iter().find_map(|prefix| {
        let p = url::Url::parse(prefix).ok()?;
        let same_origin = p.scheme() == url.scheme()
            && p.host_str() == url.host_str()
            && p.port_or_known_default() == url.port_or_known_default();
        let (pp, cp) = (p.path(), url.path());
        let under = cp == pp
            || (cp.starts_with(pp) && (pp.ends_with('/') || cp[pp.len()..].starts_with('/')));
        let no_dots = !cp
            .split('/')
            .any(|s| s == ".." || s == "." || s.contains('%'));
        (usable(&p) && same_origin && under && no_dots).then(|| url.to_string())
    })
}

fn usable(url: &url::Url) -> bool {
    matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
}

fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

/// Claims the IdP's session token may carry.
#[derive(Deserialize)]
struct SessionClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Value>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    state: Option<String>,
    continue_uri: Option<String>,
    /// The one step this token opens: `login`, `enroll` or `regenerate` (required).
    step: Option<String>,
    /// Present only in the shim's own result tokens: such a token is never a session.
    result: Option<Value>,
}

/// What the shim's own flow token carries between pages.
#[derive(Serialize, Deserialize, Clone)]
struct Flow {
    iss: String,
    aud: String,
    exp: i64,
    /// The step the IdP's session token opened: `login`, `enroll` or
    /// `regenerate` (also the new-set flow offered after a login with few codes left).
    kind: String,
    sub: String,
    state: String,
    /// The continue URL (checked against the tenant's list when the flow began).
    cont: String,
    /// Flow id (random).
    fid: String,
    /// SHA-256 (hex) of the flow's CSRF cookie value.
    csrf: String,
    /// Set id issued in this flow (enrolment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<String>,
    /// Whether that set waits for activation.
    #[serde(default)]
    pending: bool,
    /// The login result this enrolment follows (regeneration after "few codes left").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Value>,
}

impl Flow {
    fn cookie_name(&self) -> String {
        format!("bc_flow_{}", self.fid)
    }

    /// The `action` its results name: the step the IdP asked for.
    fn action(&self) -> &'static str {
        if self.after.is_some() {
            // A new set taken after a login: the IdP asked for a login.
            return Kind::Login.action();
        }
        Kind::parse(&self.kind).map_or("", Kind::action)
    }
}

fn sign_flow(t: &StepTenant<'_>, flow: &Flow) -> Result<String, Refusal> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        flow,
        &EncodingKey::from_secret(&t.flow_key()),
    )
    .map_err(|_| Refusal::internal())
}

/// The result token for the IdP.
fn sign_result(
    t: &StepTenant<'_>,
    public_url: &str,
    sub: Option<&str>,
    state: &str,
    result: Value,
) -> Result<String, Refusal> {
    let iat = now();
    let mut claims = json!({
        "iss": public_url.trim_end_matches('/'),
        "aud": t.config.issuer,
        "state": state,
        "iat": iat,
        "exp": iat + RESULT_TTL,
        "jti": random_token(16).ok_or_else(Refusal::internal)?,
        "result": result,
    });
    if let (Some(sub), Some(map)) = (sub, claims.as_object_mut()) {
        map.insert("sub".into(), json!(sub));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(t.secret.expose_secret().as_bytes()),
    )
    .map_err(|_| Refusal::internal())
}

/// The signed failure for the IdP of a flow.
fn flow_failure(
    state: &AppState,
    t: &StepTenant<'_>,
    flow: &Flow,
    reason: &str,
    extra: Option<(&str, Value)>,
) -> Option<Handoff> {
    failure(
        state,
        t,
        flow.action(),
        &flow.cont,
        &flow.state,
        Some(&flow.sub),
        reason,
        extra,
    )
}

/// A signed answer ready to be posted to the IdP.
struct Handoff {
    action: String,
    state: String,
    token: String,
}

#[allow(clippy::too_many_arguments)]
fn failure(
    state: &AppState,
    t: &StepTenant<'_>,
    action: &str,
    cont: &str,
    flow_state: &str,
    sub: Option<&str>,
    reason: &str,
    extra: Option<(&str, Value)>,
) -> Option<Handoff> {
    let mut result =
        json!({"status": "failed", "method": METHOD, "action": action, "reason": reason});
    if let (Some((k, v)), Some(map)) = (extra, result.as_object_mut()) {
        map.insert(k.into(), v);
    }
    let token = sign_result(t, &state.config.public_url, sub, flow_state, result).ok()?;
    Some(Handoff {
        action: cont.to_owned(),
        state: flow_state.to_owned(),
        token,
    })
}

// ---------------------------------------------------------------------------
// Pages

#[derive(Template)]
#[template(path = "step/code.html")]
struct CodePage<'a> {
    title: &'a str,
    action: String,
    cancel_action: String,
    flow: String,
    next_number: Option<u8>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "step/enroll.html")]
struct EnrollPage<'a> {
    title: &'a str,
    action: String,
    cancel_action: String,
    flow: String,
    replacing: bool,
    error: Option<String>,
}

/// One code as shown; its plaintext is wiped when the page has been rendered.
#[derive(zeroize::ZeroizeOnDrop)]
struct CodeRow {
    number: u8,
    code: String,
}

#[derive(Template)]
#[template(path = "step/codes.html")]
struct CodesPage<'a> {
    title: &'a str,
    codes: Vec<CodeRow>,
    fingerprint: String,
    subject: String,
    issued: String,
    pending: bool,
    activate_action: String,
    done_action: String,
    issue_action: String,
    cancel_action: String,
    flow: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "step/low.html")]
struct LowPage<'a> {
    title: &'a str,
    remaining: u8,
    number: u8,
    fingerprint: String,
    handoff: Handoff,
    issue_action: String,
    flow: String,
}

#[derive(Template)]
#[template(path = "step/handoff.html")]
struct HandoffPage<'a> {
    title: &'a str,
    message: String,
    handoff: Handoff,
}

#[derive(Template)]
#[template(path = "step/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    handoff: Option<&'a Handoff>,
}

#[derive(Template)]
#[template(path = "demo/index.html")]
struct DemoIndex<'a> {
    title: &'a str,
    subject: String,
}

#[derive(Template)]
#[template(path = "demo/result.html")]
struct DemoResult<'a> {
    title: &'a str,
    ok: bool,
    summary: String,
    claims: String,
    subject: String,
}

/// A page whose forms post to the shim itself (and, at most, the continue URL):
/// `form-action` is limited to those.
fn page(
    status: StatusCode,
    body: Result<String, askama::Error>,
    continue_to: Option<&str>,
) -> Response {
    let mut form_action = String::from("'self'");
    if let Some(o) = continue_to.and_then(origin) {
        form_action.push(' ');
        form_action.push_str(&o);
    }
    respond(status, body, Some(&form_action))
}

/// A page that posts the signed result back to the IdP. Browsers apply
/// `form-action` to every redirect that follows a form submission, and the
/// IdP's continue endpoint redirects on to the application's callback, whose
/// origin the shim cannot know (Chromium blocks the sign-in otherwise). So
/// these pages carry every other directive but no `form-action`; their only
/// cross-origin form targets the continue URL checked against the tenant's
/// `continue_urls`, and no script but the shim's own runs on them.
fn hand_back_page(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    respond(status, body, None)
}

/// Security headers of every page.
fn respond(
    status: StatusCode,
    body: Result<String, askama::Error>,
    form_action: Option<&str>,
) -> Response {
    let Ok(body) = body else {
        tracing::error!("rendering a step page failed");
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    let form_action = form_action
        .map(|f| format!("form-action {f}; "))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
         {form_action}frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A refusal: a clear page, and the signed failure for the IdP when one applies.
struct Refusal {
    status: StatusCode,
    title: &'static str,
    message: String,
    handoff: Option<Box<Handoff>>,
    retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            handoff: None,
            retry_after: None,
        }
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The sign-in step failed. Nothing was changed. Go back to the site you came from and try again.",
        )
    }

    fn back(mut self, handoff: Option<Handoff>) -> Self {
        self.handoff = handoff.map(Box::new);
        self
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = ErrorPage {
            title: self.title,
            message: &self.message,
            handoff: self.handoff.as_deref(),
        }
        .render();
        let mut response = if self.handoff.is_some() {
            hand_back_page(self.status, body)
        } else {
            page(self.status, body, None)
        };
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

type Page = Result<Response, Refusal>;

fn flatten(r: Page) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

// ---------------------------------------------------------------------------
// Entry: the IdP's redirect

/// Query parameters of the IdP's redirect.
#[derive(Deserialize)]
struct Entry {
    state: Option<String>,
    session_token: Option<String>,
}

/// The step a session token opens, named in its required `step` claim and by
/// the entry path. Each token opens exactly one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Type a code (`/step/{tenant}/login`).
    Login,
    /// A first set, for a subject with no active set (`/step/{tenant}/enroll`).
    Enroll,
    /// A new set replacing the active one, if any (`/step/{tenant}/regenerate`):
    /// the IdP says explicitly that the user may replace their codes.
    Regenerate,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Enroll => "enroll",
            Self::Regenerate => "regenerate",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::Login, Self::Enroll, Self::Regenerate]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The `action` of results answering this step.
    fn action(self) -> &'static str {
        match self {
            Self::Login => "verify",
            Self::Enroll => "enroll",
            Self::Regenerate => "regenerate",
        }
    }

    /// Does this step issue a new set?
    fn enrols(self) -> bool {
        matches!(self, Self::Enroll | Self::Regenerate)
    }
}

async fn login_entry(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Entry>, QueryRejection>,
) -> Response {
    flatten(
        entry(
            &state,
            &tenant,
            &headers,
            query.ok().map(|q| q.0),
            Kind::Login,
        )
        .await,
    )
}

async fn enroll_entry(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Entry>, QueryRejection>,
) -> Response {
    flatten(
        entry(
            &state,
            &tenant,
            &headers,
            query.ok().map(|q| q.0),
            Kind::Enroll,
        )
        .await,
    )
}

async fn regenerate_entry(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Entry>, QueryRejection>,
) -> Response {
    flatten(
        entry(
            &state,
            &tenant,
            &headers,
            query.ok().map(|q| q.0),
            Kind::Regenerate,
        )
        .await,
    )
}

/// Who the verified session token is about and where to send the result.
struct Session {
    sub: String,
    cont: String,
    expires: i64,
    id: String,
}

fn bad_link() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link is incomplete",
        "The link that brought you here is missing its sign-in details. Go back to the site you came from and sign in again.",
    )
}

fn check_session(
    state: &AppState,
    t: &StepTenant<'_>,
    token: &str,
    flow_state: &str,
    kind: Kind,
) -> Result<Session, Refusal> {
    let invalid = || {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid",
            "The sign-in details in this link were changed or were not issued for this service, so they were refused and nothing was changed. Go back to the site you came from and sign in again.",
        )
    };
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    if header.alg != Algorithm::HS256 {
        return Err(invalid());
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let key = DecodingKey::from_secret(t.secret.expose_secret().as_bytes());
    let claims = jsonwebtoken::decode::<SessionClaims>(token, &key, &validation)
        .map_err(|_| invalid())?
        .claims;
    // The shim's own result tokens share the key: never take one for a session.
    if claims.result.is_some() {
        return Err(invalid());
    }
    // The signature is the IdP's: its continue URL and subject can be trusted
    // once checked against the configuration.
    let cont = continue_url(t.config, claims.continue_uri.as_deref()).ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "Return address not allowed",
            "The sign-in service asked to be answered at an address it is not registered with, so this step stops here. Nothing was changed.",
        )
    })?;
    let sub = claims
        .sub
        .filter(|s| crate::service::check_subject(s).is_ok());
    let fail = |status: StatusCode, title: &'static str, message: &str, reason: &str| {
        Refusal::new(status, title, message).back(failure(
            state,
            t,
            kind.action(),
            &cont,
            flow_state,
            sub.as_deref(),
            reason,
            None,
        ))
    };
    let leeway = i64::try_from(state.limits.leeway_seconds).unwrap_or(0);
    let now = now();
    if claims.iss.as_deref() != Some(t.config.issuer.as_str()) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid",
            "The sign-in details were not issued by the expected sign-in service. Nothing was changed.",
            "invalid_issuer",
        ));
    }
    if claims.step.as_deref() != Some(kind.name()) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link is not for this step",
            "The sign-in details were issued for another step (or name none), so they were refused. Nothing was changed.",
            "wrong_step",
        ));
    }
    if let Some(aud) = &claims.aud {
        // The tenant's audience, or exactly this step's own address.
        let step_url = step_url(&state.config.public_url, t.id, kind);
        let ok = |a: &str| a == t.config.audience || a == step_url;
        let accepted = match aud {
            Value::String(a) => ok(a),
            Value::Array(list) => list.iter().any(|a| a.as_str().is_some_and(ok)),
            _ => false,
        };
        if !accepted {
            return Err(fail(
                StatusCode::FORBIDDEN,
                "This sign-in link is not for this service",
                "The sign-in details were issued for another service (wrong audience), so they were refused. Nothing was changed.",
                "wrong_audience",
            ));
        }
    }
    let Some(exp) = claims.exp else {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid",
            "The sign-in details have no expiry time, so they were refused. Nothing was changed.",
            "invalid_token",
        ));
    };
    if exp.saturating_add(leeway) < now {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link has expired",
            "The sign-in details in this link have expired. Go back and sign in again; nothing was changed.",
            "expired_token",
        ));
    }
    if exp > now.saturating_add(MAX_SESSION_LIFETIME + leeway)
        || claims
            .iat
            .is_none_or(|iat| iat > now.saturating_add(leeway))
        || claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid",
            "The times in the sign-in details are not acceptable (issue time missing or in the future, or valid for too long). Nothing was changed.",
            "invalid_token",
        ));
    }
    if claims.state.as_deref().is_some_and(|s| s != flow_state) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid",
            "The sign-in details belong to another sign-in attempt. Nothing was changed.",
            "state_mismatch",
        ));
    }
    let Some(sub) = sub.clone() else {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "This sign-in link is not valid",
            "The sign-in details name no valid user. Nothing was changed.",
            "invalid_subject",
        ));
    };
    let id = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .map_or_else(
            || sha256_hex(token.as_bytes()),
            |j| sha256_hex(j.as_bytes()),
        );
    Ok(Session {
        sub,
        cont,
        expires: exp.saturating_add(leeway),
        id,
    })
}

/// Spend a single-use id in the store (fails closed when the store is down).
async fn spend(state: &AppState, id: &str, expires: i64) -> Result<bool, Refusal> {
    state
        .service
        .store()
        .use_token(id, expires)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the single-use store is unavailable");
            unavailable()
        })
}

fn unavailable() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The sign-in step cannot check this request right now. Nothing was changed. Try again in a moment.",
    )
    .retry_after(5)
}

/// The public address of a step's entry.
fn step_url(public_url: &str, tenant: &str, kind: Kind) -> String {
    format!(
        "{}/step/{tenant}/{}",
        public_url.trim_end_matches('/'),
        kind.name()
    )
}

fn cookie_attrs(state: &AppState, tenant: &str) -> String {
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("Path=/step/{tenant}/; HttpOnly; SameSite=Strict{secure}")
}

fn valid_state(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_STATE_BYTES && !s.chars().any(char::is_control)
}

async fn entry(
    state: &AppState,
    tenant_id: &str,
    _headers: &HeaderMap,
    query: Option<Entry>,
    kind: Kind,
) -> Page {
    let t = step_tenant(state, tenant_id)?;
    let query = query.ok_or_else(bad_link)?;
    let (Some(flow_state), Some(token)) = (query.state, query.session_token) else {
        return Err(bad_link());
    };
    if !valid_state(&flow_state) || token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(bad_link());
    }
    let session = check_session(state, &t, &token, &flow_state, kind)?;
    let fail = |reason: &str| {
        failure(
            state,
            &t,
            kind.action(),
            &session.cont,
            &flow_state,
            Some(&session.sub),
            reason,
            None,
        )
    };
    let csrf = random_token(32).ok_or_else(Refusal::internal)?;
    let flow = Flow {
        iss: FLOW_ISSUER.into(),
        aud: tenant_id.into(),
        exp: now().saturating_add(FLOW_TTL),
        kind: kind.name().into(),
        sub: session.sub.clone(),
        state: flow_state.clone(),
        cont: session.cont.clone(),
        fid: random_token(16).ok_or_else(Refusal::internal)?,
        csrf: sha256_hex(csrf.as_bytes()),
        set: None,
        pending: false,
        after: None,
    };
    // A flow that could not travel through every page of the step is refused
    // now, while nothing is spent (a long `state` with a long continue URL).
    if sign_flow(&t, &flow)?.len() > MAX_FLOW_BYTES - FLOW_GROWTH {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link is too long",
            "The sign-in details in this link are too long for this step, so nothing was changed. Go back to the site you came from.",
        )
        .back(fail("invalid_request")));
    }
    // Whether a set would be replaced, known before anything is spent: a first
    // enrolment never replaces codes (that needs a `regenerate` token).
    let replacing = if kind.enrols() {
        match state.service.status(tenant_id, &flow.sub).await {
            Ok(s) => s.active.is_some(),
            Err(ServiceError::NotEnrolled) => false,
            Err(e) => return Err(service_refusal(state, &t, &flow, e)),
        }
    } else {
        false
    };
    if kind == Kind::Enroll && replacing {
        return Err(already_enrolled().back(fail("already_enrolled")));
    }
    let horizon = now().saturating_add(FLOW_TTL).max(session.expires);
    let state_id = format!("state:{tenant_id}:{}", sha256_hex(flow_state.as_bytes()));
    if !spend(state, &state_id, horizon).await? {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "This sign-in link was already used",
            "Each sign-in link works once, and this one was used before. Go back to the site you came from and sign in again.",
        )
        .back(fail("state_reused")));
    }
    let token_id = format!("session:{tenant_id}:{}", session.id);
    if !spend(state, &token_id, horizon).await? {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "This sign-in link was already used",
            "These sign-in details were used before (a replay), so they were refused. Go back to the site you came from and sign in again.",
        )
        .back(fail("replayed_token")));
    }
    let cookie = format!(
        "{}={csrf}; Max-Age={FLOW_TTL}; {}",
        flow.cookie_name(),
        cookie_attrs(state, tenant_id)
    );
    let response = if kind.enrols() {
        let body = EnrollPage {
            title: if replacing {
                "Replace your backup codes"
            } else {
                "Set up backup codes"
            },
            action: format!("/step/{tenant_id}/enroll/issue"),
            cancel_action: format!("/step/{tenant_id}/cancel"),
            flow: sign_flow(&t, &flow)?,
            replacing,
            error: None,
        }
        .render();
        page(StatusCode::OK, body, Some(&flow.cont))
    } else {
        login_page(state, &t, &flow, None).await?
    };
    Ok(with_cookie(response, Some(cookie)))
}

/// A first enrolment for a subject who already has codes.
fn already_enrolled() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "Backup codes are already set up",
        "Your account already has backup codes, so no new set was made and nothing was changed. To replace them, start again from your account settings at the site you came from.",
    )
}

/// The code-entry page, or a refusal when no code can be accepted now. After a
/// wrong code (`error` set) a lockout that code just started is shown on the
/// page itself, with its end time; the next attempt meets the lockout.
async fn login_page(
    state: &AppState,
    t: &StepTenant<'_>,
    flow: &Flow,
    error: Option<String>,
) -> Page {
    let status = match state.service.status(t.id, &flow.sub).await {
        Ok(s) => s,
        Err(e) => return Err(service_refusal(state, t, flow, e)),
    };
    let fail =
        |reason: &str, extra: Option<(&str, Value)>| flow_failure(state, t, flow, reason, extra);
    let Some(active) = status.active.as_ref() else {
        return Err(not_enrolled(state, t, flow));
    };
    if status.locked_permanently {
        return Err(locked_refusal(
            None,
            fail("locked", Some(("permanent", json!(true)))),
        ));
    }
    if let Some(until) = status.locked_until.and_then(|u| i64::try_from(u).ok())
        && until > now()
        && error.is_none()
    {
        return Err(locked_refusal(
            Some(until),
            fail("locked", Some(("locked_until", json!(until)))),
        ));
    }
    if active.exhausted {
        return Err(exhausted(fail("exhausted", None)));
    }
    let policy = state.service.tenant(t.id).map(|p| p.policy.order).ok();
    let next_number = (policy == Some(CodeOrder::Numbered))
        .then_some(active.next_number)
        .flatten();
    let status_code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let body = CodePage {
        title: "Enter a backup code",
        action: format!("/step/{}/login", t.id),
        cancel_action: format!("/step/{}/cancel", t.id),
        flow: sign_flow(t, flow)?,
        next_number,
        error,
    }
    .render();
    Ok(page(status_code, body, Some(&flow.cont)))
}

fn not_enrolled(state: &AppState, t: &StepTenant<'_>, flow: &Flow) -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "No backup codes are set up",
        "There are no active backup codes for your account, so you cannot sign in with one. Return to the sign-in page and choose another way.",
    )
    .back(flow_failure(state, t, flow, "not_enrolled", None))
}

fn locked_refusal(until: Option<i64>, handoff: Option<Handoff>) -> Refusal {
    match until {
        Some(until) => {
            let wait = until.saturating_sub(now()).max(1);
            Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many wrong codes",
                format!(
                    "Backup codes are locked for your account after too many wrong codes. Try again after {} UTC (in {}).",
                    format_time(until),
                    format_wait(wait)
                ),
            )
            .retry_after(u64::try_from(wait).unwrap_or(1))
            .back(handoff)
        }
        None => Refusal::new(
            StatusCode::FORBIDDEN,
            "Backup codes are locked",
            "Backup codes are locked for your account after too many wrong codes. They can be used again only after a new set is created; contact the service's support.",
        )
        .back(handoff),
    }
}

fn exhausted(handoff: Option<Handoff>) -> Refusal {
    Refusal::new(
        StatusCode::GONE,
        "All backup codes are used",
        "Every backup code of your set has been used. Sign in another way, then create a new set.",
    )
    .back(handoff)
}

fn service_refusal(state: &AppState, t: &StepTenant<'_>, flow: &Flow, e: ServiceError) -> Refusal {
    match e {
        ServiceError::NotEnrolled | ServiceError::Refused(PluginError::NoActiveSet) => not_enrolled(state, t, flow),
        ServiceError::Refused(PluginError::NoPendingSet) => Refusal::new(
            StatusCode::CONFLICT,
            "Nothing to confirm",
            "There is no new set of backup codes waiting to be confirmed. Start again from the site you came from.",
        )
        .back(flow_failure(state, t, flow, "no_pending_set", None)),
        ServiceError::AlreadyEnrolled => {
            already_enrolled().back(flow_failure(state, t, flow, "already_enrolled", None))
        }
        ServiceError::InvalidSubject | ServiceError::UnknownTenant => Refusal::new(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            "The sign-in details name no valid user. Nothing was changed.",
        ),
        ServiceError::Engine(_) | ServiceError::Contended | ServiceError::Store(_) => {
            if let ServiceError::Store(err) = &e {
                tracing::error!(error = %err, "store failed during a step");
            }
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The backup-code check could not run just now, so nothing was accepted or changed. Go back and try again in a moment.",
            )
            .retry_after(5)
            .back(flow_failure(state, t, flow, "unavailable", None))
        }
        ServiceError::Refused(other) => {
            tracing::warn!(error = ?other, "the plugin refused a step request");
            Refusal::internal().back(flow_failure(state, t, flow, "error", None))
        }
    }
}

fn format_time(at: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn format_wait(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} second{}", if s == 1 { "" } else { "s" }),
        s if s < 3600 => {
            let m = (s + 59) / 60;
            format!("{m} minute{}", if m == 1 { "" } else { "s" })
        }
        s => {
            let h = (s + 3599) / 3600;
            format!("{h} hour{}", if h == 1 { "" } else { "s" })
        }
    }
}

// ---------------------------------------------------------------------------
// Forms after the entry page

/// The fields every form of a flow posts.
#[derive(Deserialize)]
struct FlowForm {
    flow: Option<String>,
    code: Option<SecretString>,
}

fn expired_flow() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "This page has expired",
        "This sign-in page is no longer valid (it expired, was already completed, or was opened in another browser). Go back to the site you came from and sign in again.",
    )
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// The prelude of every posted step form: the tenant, the form itself and the
/// flow it carries, whose kind must be one `accepts` takes. A flow that has
/// finished (or expired) is refused here, before anything reaches the engine.
async fn posted_flow<'a>(
    state: &'a AppState,
    tenant: &'a str,
    headers: &HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
    accepts: impl Fn(Kind) -> bool,
) -> Result<(StepTenant<'a>, FlowForm, Flow), Refusal> {
    let t = step_tenant(state, tenant)?;
    let Form(form) = form.map_err(|_| bad_form())?;
    let flow = open_flow(&t, headers, &form, accepts)?;
    let finished = state
        .service
        .store()
        .token_used(&finished_id(&t, &flow))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the single-use store is unavailable");
            unavailable()
        })?;
    if finished {
        return Err(expired_flow());
    }
    Ok((t, form, flow))
}

/// Check a posted flow token and its CSRF cookie.
fn open_flow(
    t: &StepTenant<'_>,
    headers: &HeaderMap,
    form: &FlowForm,
    accepts: impl Fn(Kind) -> bool,
) -> Result<Flow, Refusal> {
    let token = form
        .flow
        .as_deref()
        .filter(|f| f.len() <= MAX_FLOW_BYTES)
        .ok_or_else(expired_flow)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_issuer(&[FLOW_ISSUER]);
    validation.set_audience(&[t.id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let flow =
        jsonwebtoken::decode::<Flow>(token, &DecodingKey::from_secret(&t.flow_key()), &validation)
            .map_err(|_| expired_flow())?
            .claims;
    if !Kind::parse(&flow.kind).is_some_and(accepts) {
        return Err(expired_flow());
    }
    let presented = cookie(headers, &flow.cookie_name()).unwrap_or("");
    let digest = sha256_hex(presented.as_bytes());
    if presented.is_empty() || !bool::from(digest.as_bytes().ct_eq(flow.csrf.as_bytes())) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "This form could not be accepted",
            "The form was not sent from this sign-in page in this browser (its security check failed), so nothing was changed. Go back to the site you came from and sign in again.",
        ));
    }
    Ok(flow)
}

fn bad_form() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "This form could not be read",
        "The form that was sent is not one of this sign-in step's forms. Nothing was changed.",
    )
}

/// The single-use id marking a flow finished.
fn finished_id(t: &StepTenant<'_>, flow: &Flow) -> String {
    format!("flow:{}:{}", t.id, flow.fid)
}

/// Mark the flow finished; false when it already was.
async fn finish(state: &AppState, t: &StepTenant<'_>, flow: &Flow) -> Result<(), Refusal> {
    if spend(state, &finished_id(t, flow), flow.exp.saturating_add(60)).await? {
        Ok(())
    } else {
        Err(expired_flow())
    }
}

fn handoff_page(title: &str, message: String, handoff: Handoff) -> Response {
    let body = HandoffPage {
        title,
        message,
        handoff,
    }
    .render();
    hand_back_page(StatusCode::OK, body)
}

/// The shared per-subject allowance: attempts through the API and the step count together.
fn subject_limited(state: &AppState, tenant: &str, sub: &str) -> Result<(), Refusal> {
    if state.rates.check_subject(tenant, sub).is_err() {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many codes were tried for this account in the last minute. Wait a minute, then try again.",
        )
        .retry_after(60));
    }
    Ok(())
}

fn format_message(f: CodeFormatError) -> &'static str {
    match f {
        CodeFormatError::Empty => "Type one of your backup codes.",
        CodeFormatError::TooLong => "That is longer than a backup code. Type just one code.",
        CodeFormatError::InvalidCharacter => {
            "That contains characters that are not in backup codes (codes use letters and digits only). It was not counted as an attempt."
        }
        CodeFormatError::WrongLength => {
            "That code has the wrong number of characters. Check it against your list; it was not counted as an attempt."
        }
        CodeFormatError::CheckSymbolMismatch => {
            "That code has a typo (its check character does not match the rest). Check it against your list; it was not counted as an attempt."
        }
    }
}

fn rejection_message(
    state: &AppState,
    t: &StepTenant<'_>,
    reason: FailureReason,
    failures: u32,
    locked_until: Option<u64>,
) -> String {
    let first = match reason {
        FailureReason::Mismatch => "That code is not right.",
        FailureReason::AlreadyUsed => {
            "That code was already used. Each code works once: use another code from your list."
        }
        FailureReason::WrongNumber => {
            "That is a valid code, but not the one asked for: use the code with the number shown."
        }
    };
    format!(
        "{first} {}",
        attempts_note(state, t, failures, locked_until)
    )
}

/// How many attempts are left, or until when attempts are locked.
fn attempts_note(
    state: &AppState,
    t: &StepTenant<'_>,
    failures: u32,
    locked_until: Option<u64>,
) -> String {
    if let Some(until) = locked_until.and_then(|u| i64::try_from(u).ok()) {
        let wait = until.saturating_sub(now()).max(1);
        return format!(
            "Too many wrong codes: you can try again after {} UTC (in {}).",
            format_time(until),
            format_wait(wait)
        );
    }
    let free = state
        .service
        .tenant(t.id)
        .map_or(0, |x| x.policy.free_failures);
    match free.saturating_sub(failures) {
        0 => "The next wrong code locks backup codes for a while.".to_owned(),
        1 => "1 attempt left before a short lockout.".to_owned(),
        left => format!("{left} attempts left before a short lockout."),
    }
}

async fn login_submit(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Response {
    flatten(login_submit_inner(&state, &tenant, &headers, form).await)
}

async fn login_submit_inner(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Page {
    let (t, form, flow) = posted_flow(state, tenant, headers, form, |k| k == Kind::Login).await?;
    let code = form.code.ok_or_else(bad_form)?;
    subject_limited(state, tenant, &flow.sub)?;
    let attempt = match state.service.verify(tenant, &flow.sub, code).await {
        Ok(a) => a,
        Err(ServiceError::Refused(PluginError::InvalidCode(f))) => {
            return login_page(state, &t, &flow, Some(format_message(f).into())).await;
        }
        Err(e) => return Err(service_refusal(state, &t, &flow, e)),
    };
    let fail =
        |reason: &str, extra: Option<(&str, Value)>| flow_failure(state, &t, &flow, reason, extra);
    match attempt.outcome {
        Outcome::Accepted(number) => {
            finish(state, &t, &flow).await?;
            login_success(state, &t, &flow, number, &attempt).await
        }
        Outcome::Rejected(r) => {
            if r.permanent {
                finish(state, &t, &flow).await?;
                return Err(locked_refusal(
                    None,
                    fail("locked", Some(("permanent", json!(true)))),
                ));
            }
            let message =
                rejection_message(state, &t, r.reason, r.consecutive_failures, r.locked_until);
            login_page(state, &t, &flow, Some(message)).await
        }
        Outcome::Locked(until) => {
            finish(state, &t, &flow).await?;
            let until = until.and_then(|u| i64::try_from(u).ok());
            let extra = until.map_or(("permanent", json!(true)), |u| ("locked_until", json!(u)));
            Err(locked_refusal(until, fail("locked", Some(extra))))
        }
        Outcome::Exhausted => {
            finish(state, &t, &flow).await?;
            Err(exhausted(fail("exhausted", None)))
        }
    }
}

fn verify_result(number: u8, a: &Attempt) -> Value {
    json!({
        "status": "success",
        "method": METHOD,
        "action": "verify",
        "set_id": a.set_id,
        "number": number,
        "remaining": a.remaining,
        "low": a.low,
    })
}

async fn login_success(
    state: &AppState,
    t: &StepTenant<'_>,
    flow: &Flow,
    number: u8,
    attempt: &Attempt,
) -> Page {
    let result = verify_result(number, attempt);
    let token = sign_result(
        t,
        &state.config.public_url,
        Some(&flow.sub),
        &flow.state,
        result.clone(),
    )?;
    let handoff = Handoff {
        action: flow.cont.clone(),
        state: flow.state.clone(),
        token,
    };
    if !attempt.low {
        return Ok(handoff_page(
            "Code accepted",
            format!("Code #{number} accepted. Returning you to sign-in…"),
            handoff,
        ));
    }
    // Few codes left: offer a new set now, in a fresh enrolment flow that
    // carries this login's result (password + a backup code were just proven).
    let csrf = random_token(32).ok_or_else(Refusal::internal)?;
    let regen = Flow {
        kind: Kind::Regenerate.name().into(),
        fid: random_token(16).ok_or_else(Refusal::internal)?,
        csrf: sha256_hex(csrf.as_bytes()),
        exp: now().saturating_add(FLOW_TTL),
        set: None,
        pending: false,
        after: Some(result),
        ..flow.clone()
    };
    let fingerprint = state
        .service
        .status(t.id, &flow.sub)
        .await
        .ok()
        .and_then(|s| s.active.map(|a| a.fingerprint))
        .unwrap_or_default();
    let cookie = format!(
        "{}={csrf}; Max-Age={FLOW_TTL}; {}",
        regen.cookie_name(),
        cookie_attrs(state, t.id)
    );
    let body = LowPage {
        title: "Few backup codes left",
        remaining: attempt.remaining,
        number,
        fingerprint,
        handoff,
        issue_action: format!("/step/{}/enroll/issue", t.id),
        flow: sign_flow(t, &regen)?,
    }
    .render();
    Ok(with_cookie(
        hand_back_page(StatusCode::OK, body),
        Some(cookie),
    ))
}

async fn cancel(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Response {
    flatten(
        async {
            let (t, _, flow) = posted_flow(&state, &tenant, &headers, form, |_| true).await?;
            finish(&state, &t, &flow).await?;
            let handoff =
                flow_failure(&state, &t, &flow, "cancelled", None).ok_or_else(Refusal::internal)?;
            Ok(handoff_page(
                "Returning to sign-in",
                "You chose not to use a backup code. Returning you to sign-in…".into(),
                handoff,
            ))
        }
        .await,
    )
}

// ---------------------------------------------------------------------------
// Enrolment

async fn enroll_issue(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Response {
    flatten(
        async {
            let (t, _, mut flow) = posted_flow(&state, &tenant, &headers, form, Kind::enrols).await?;
            subject_limited(&state, &tenant, &flow.sub)?;
            let mut allowed = false;
            for n in 0..MAX_ISSUES_PER_FLOW {
                if spend(&state, &format!("issue:{tenant}:{}:{n}", flow.fid), flow.exp.saturating_add(60)).await? {
                    allowed = true;
                    break;
                }
            }
            if !allowed {
                return Err(Refusal::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many new sets",
                    "Several sets were already created in this visit. Go back to the site you came from and start again.",
                )
                .back(flow_failure(&state, &t, &flow, "too_many_sets", None)));
            }
            // A first enrolment never replaces codes, whatever happened since its
            // entry page (decided on the version the new set is written over).
            let mode = if flow.kind == Kind::Enroll.name() { IssueMode::First } else { IssueMode::Replace };
            let issued = state
                .service
                .issue_as(&tenant, &flow.sub, mode)
                .await
                .map_err(|e| service_refusal(&state, &t, &flow, e))?;
            let pending = issued
                .events
                .iter()
                .any(|e| matches!(e, Event::Issued(i) if i.pending));
            flow.set = Some(issued.set_id.clone());
            flow.pending = pending;
            let codes = issued
                .codes
                .iter()
                .map(|c| CodeRow {
                    number: c.number,
                    code: c.code.expose_secret().clone(),
                })
                .collect();
            let body = CodesPage {
                title: "Save your backup codes",
                codes,
                fingerprint: issued.fingerprint.clone(),
                subject: flow.sub.clone(),
                issued: format_time(now()),
                pending,
                activate_action: format!("/step/{tenant}/enroll/activate"),
                done_action: format!("/step/{tenant}/enroll/done"),
                issue_action: format!("/step/{tenant}/enroll/issue"),
                cancel_action: format!("/step/{tenant}/cancel"),
                flow: sign_flow(&t, &flow)?,
                error: None,
            }
            .render();
            Ok(page(StatusCode::OK, body, Some(&flow.cont)))
        }
        .await,
    )
}

async fn enroll_activate(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Response {
    flatten(
        async {
            let (t, form, flow) = posted_flow(&state, &tenant, &headers, form, Kind::enrols).await?;
            let Some(set) = flow.set.clone() else {
                return Err(expired_flow());
            };
            let code = form.code.ok_or_else(bad_form)?;
            subject_limited(&state, &tenant, &flow.sub)?;
            let reshow = |error: String| -> Page {
                let body = CodesPage {
                    title: "Confirm your backup codes",
                    codes: Vec::new(),
                    fingerprint: String::new(),
                    subject: flow.sub.clone(),
                    issued: String::new(),
                    pending: true,
                    activate_action: format!("/step/{tenant}/enroll/activate"),
                    done_action: format!("/step/{tenant}/enroll/done"),
                    issue_action: format!("/step/{tenant}/enroll/issue"),
                    cancel_action: format!("/step/{tenant}/cancel"),
                    flow: sign_flow(&t, &flow)?,
                    error: Some(error),
                }
                .render();
                Ok(page(StatusCode::UNPROCESSABLE_ENTITY, body, Some(&flow.cont)))
            };
            let attempt = match state.service.activate(&tenant, &flow.sub, code).await {
                Ok(a) => a,
                Err(ServiceError::Refused(PluginError::InvalidCode(f))) => return reshow(format_message(f).into()),
                Err(e) => return Err(service_refusal(&state, &t, &flow, e)),
            };
            let fail = |reason: &str, extra: Option<(&str, Value)>| flow_failure(&state, &t, &flow, reason, extra);
            match attempt.outcome {
                Outcome::Accepted(number) if attempt.set_id.as_deref() == Some(set.as_str()) => {
                    finish(&state, &t, &flow).await?;
                    enrolled(&state, &t, &flow, &set, Some(number), attempt.remaining).await
                }
                Outcome::Accepted(_) => Err(expired_flow()),
                Outcome::Rejected(r) => {
                    if r.permanent {
                        finish(&state, &t, &flow).await?;
                        return Err(locked_refusal(None, fail("locked", Some(("permanent", json!(true))))));
                    }
                    let first = match r.reason {
                        FailureReason::Mismatch => "That code is not one of the new set. Type a code from the list you just saved.",
                        FailureReason::AlreadyUsed | FailureReason::WrongNumber => "That code cannot confirm the new set. Type another code from the list you just saved.",
                    };
                    let note = attempts_note(&state, &t, r.consecutive_failures, r.locked_until);
                    reshow(format!("{first} {note}"))
                }
                Outcome::Locked(until) => {
                    finish(&state, &t, &flow).await?;
                    let until = until.and_then(|u| i64::try_from(u).ok());
                    let extra = until.map_or(("permanent", json!(true)), |u| ("locked_until", json!(u)));
                    Err(locked_refusal(until, fail("locked", Some(extra))))
                }
                Outcome::Exhausted => Err(exhausted(fail("exhausted", None))),
            }
        }
        .await,
    )
}

/// Without proof of saving (policy `require_activation = false`): the user says
/// the set is saved; the set must be the one issued in this flow and active.
async fn enroll_done(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Response {
    flatten(
        async {
            let (t, _, flow) = posted_flow(&state, &tenant, &headers, form, Kind::enrols).await?;
            let Some(set) = flow.set.clone().filter(|_| !flow.pending) else {
                return Err(expired_flow());
            };
            let status = state
                .service
                .status(&tenant, &flow.sub)
                .await
                .map_err(|e| service_refusal(&state, &t, &flow, e))?;
            let active = status
                .active
                .filter(|a| a.set_id == set)
                .ok_or_else(expired_flow)?;
            finish(&state, &t, &flow).await?;
            enrolled(&state, &t, &flow, &set, None, active.remaining).await
        }
        .await,
    )
}

async fn enrolled(
    state: &AppState,
    t: &StepTenant<'_>,
    flow: &Flow,
    set: &str,
    number: Option<u8>,
    remaining: u8,
) -> Page {
    let fingerprint = state
        .service
        .status(t.id, &flow.sub)
        .await
        .ok()
        .and_then(|s| s.active.map(|a| a.fingerprint))
        .unwrap_or_default();
    // The set itself is an enrolment; at the top level the action is the step
    // the IdP asked for (`enroll` or `regenerate`).
    let action = if flow.after.is_some() {
        Kind::Enroll.action()
    } else {
        flow.action()
    };
    let enrolment = json!({
        "status": "success",
        "method": METHOD,
        "action": action,
        "set_id": set,
        "fingerprint": fingerprint,
        "count": remaining,
        "confirmed_with": number,
    });
    let result = match &flow.after {
        // A login that went on to regenerate: the login result, with the new set.
        Some(Value::Object(login)) => {
            let mut r = login.clone();
            r.insert("regenerated".into(), enrolment);
            Value::Object(r)
        }
        _ => enrolment,
    };
    let token = sign_result(
        t,
        &state.config.public_url,
        Some(&flow.sub),
        &flow.state,
        result,
    )?;
    Ok(handoff_page(
        "Backup codes are on",
        format!("Your new backup codes (set {fingerprint}) are active. Returning you to sign-in…"),
        Handoff {
            action: flow.cont.clone(),
            state: flow.state.clone(),
            token,
        },
    ))
}

// ---------------------------------------------------------------------------
// Demo: a tiny identity provider on the same origin

/// Query of the demo's start link.
#[derive(Deserialize)]
struct DemoStart {
    user: Option<String>,
    action: Option<String>,
}

fn demo_secret(state: &AppState) -> Option<&SecretString> {
    state
        .config
        .tenants
        .get(crate::server::DEMO_TENANT)
        .and_then(|t| t.step_secret.as_ref())
}

fn demo_page(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    page(status, body, None)
}

async fn demo_index(query: Result<Query<DemoStart>, QueryRejection>) -> Response {
    let subject = query
        .ok()
        .and_then(|q| q.0.user)
        .filter(|u| crate::service::check_subject(u).is_ok() && u.len() <= 64)
        .unwrap_or_else(|| "alice".into());
    demo_page(
        StatusCode::OK,
        DemoIndex {
            title: "Try backup codes",
            subject,
        }
        .render(),
    )
}

async fn demo_start(
    State(state): State<AppState>,
    query: Result<Query<DemoStart>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return bad_form().into_response();
    };
    let Some(user) = q
        .user
        .map(|u| u.trim().to_owned())
        .filter(|u| crate::service::check_subject(u).is_ok() && u.len() <= 64)
    else {
        return Refusal::new(
            StatusCode::BAD_REQUEST,
            "Choose a user name",
            "Type a user name of 1 to 64 characters.",
        )
        .into_response();
    };
    let kind = match q.action.as_deref() {
        // The demo plays the IdP: it may let its user replace codes at will.
        Some("enroll") => match state
            .service
            .status(crate::server::DEMO_TENANT, &user)
            .await
        {
            Ok(s) if s.active.is_some() => Kind::Regenerate,
            _ => Kind::Enroll,
        },
        Some("login") => Kind::Login,
        _ => return bad_form().into_response(),
    };
    let (Some(secret), Some(flow_state)) = (demo_secret(&state), random_token(24)) else {
        return Refusal::internal().into_response();
    };
    let public = state.config.public_url.trim_end_matches('/');
    let iat = now();
    let step = step_url(public, crate::server::DEMO_TENANT, kind);
    let claims = json!({
        "iss": crate::server::DEMO_ISSUER,
        "sub": user,
        "aud": step,
        "step": kind.name(),
        "iat": iat,
        "exp": iat + 300,
        "state": flow_state,
        "continue_uri": format!("{public}/demo/continue"),
    });
    let Ok(token) = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    ) else {
        return Refusal::internal().into_response();
    };
    let mut target = format!("{step}?");
    target.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("state", &flow_state)
            .append_pair("session_token", &token)
            .finish(),
    );
    let secure = if public.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{DEMO_STATE_COOKIE}={flow_state}; Max-Age=900; Path=/demo/; HttpOnly; SameSite=Strict{secure}"
    );
    with_cookie(Redirect::to(&target).into_response(), Some(cookie))
}

/// What the IdP receives: the form the shim posts back.
#[derive(Deserialize)]
struct ContinueForm {
    state: Option<String>,
    session_token: Option<String>,
}

async fn demo_continue(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ContinueForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_form().into_response();
    };
    let (Some(flow_state), Some(token), Some(secret)) =
        (form.state, form.session_token, demo_secret(&state))
    else {
        return bad_form().into_response();
    };
    // What an IdP must check: signature, issuer, audience, expiry, and that the
    // token's state is the one it sent (here also kept in a cookie).
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = state.limits.leeway_seconds;
    validation.set_issuer(&[state.config.public_url.trim_end_matches('/')]);
    validation.set_audience(&[crate::server::DEMO_ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "iat"]);
    let decoded = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        &validation,
    );
    let expected = cookie(&headers, DEMO_STATE_COOKIE).unwrap_or("");
    let (ok, summary, claims) = match decoded {
        Err(_) => (
            false,
            "The result token was refused: bad signature, issuer, audience or expiry.".to_owned(),
            Value::Null,
        ),
        Ok(data) => {
            let claims = data.claims;
            let state_ok = claims.get("state").and_then(Value::as_str) == Some(flow_state.as_str())
                && bool::from(expected.as_bytes().ct_eq(flow_state.as_bytes()));
            let result = claims.get("result").cloned().unwrap_or(Value::Null);
            let status = result.get("status").and_then(Value::as_str).unwrap_or("");
            if !state_ok {
                (
                    false,
                    "The result's state is not the one this demo sent: refused.".to_owned(),
                    claims,
                )
            } else if status == "success" {
                let action = result.get("action").and_then(Value::as_str).unwrap_or("");
                let text = if action == "enroll" || action == "regenerate" {
                    format!(
                        "Enrolled: set {} is active.",
                        result
                            .get("fingerprint")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                    )
                } else {
                    format!(
                        "Signed in with backup code #{}; {} left.",
                        result.get("number").and_then(Value::as_u64).unwrap_or(0),
                        result.get("remaining").and_then(Value::as_u64).unwrap_or(0)
                    )
                };
                (true, text, claims)
            } else {
                let reason = result
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown");
                (false, format!("The step failed: {reason}."), claims)
            }
        }
    };
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("alice")
        .to_owned();
    let pretty = serde_json::to_string_pretty(&claims).unwrap_or_default();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    let clear = format!("{DEMO_STATE_COOKIE}=; Max-Age=0; Path=/demo/; HttpOnly; SameSite=Strict");
    with_cookie(
        demo_page(
            status,
            DemoResult {
                title: "Demo result",
                ok,
                summary,
                claims: pretty,
                subject,
            }
            .render(),
        ),
        Some(clear),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(urls: &[&str]) -> TenantConfig {
        TenantConfig {
            continue_urls: urls.iter().map(|s| (*s).to_owned()).collect(),
            ..TenantConfig::default()
        }
    }

    #[test]
    fn continue_urls_match_by_origin_and_path_prefix_only() {
        let t = tenant(&[
            "https://idp.example/continue",
            "https://idp.example/interaction/",
        ]);
        assert_eq!(
            continue_url(&t, None).as_deref(),
            Some("https://idp.example/continue")
        );
        assert!(continue_url(&t, Some("https://idp.example/continue")).is_some());
        assert!(continue_url(&t, Some("https://idp.example/interaction/abc/continue")).is_some());
        for bad in [
            "https://idp.example/continued",
            "https://idp.example.evil/continue",
            "http://idp.example/continue",
            "https://idp.example:444/continue",
            "https://user@idp.example/continue",
            "https://idp.example/continue#x",
            "https://idp.example/continue?next=https://evil",
            "https://idp.example/interaction/../admin",
            "https://idp.example/interaction/%2e%2e/admin",
            "javascript:alert(1)",
            "//evil.example/continue",
        ] {
            assert!(continue_url(&t, Some(bad)).is_none(), "{bad}");
        }
        assert!(continue_url(&tenant(&[]), None).is_none());
    }

    /// What later pages add to a flow fits in [`FLOW_GROWTH`], so a flow admitted
    /// at the entry can always be posted back.
    #[test]
    fn a_flow_admitted_at_the_entry_can_grow_through_every_page() {
        let config = TenantConfig::default();
        let secret = SecretString::from("s".repeat(32));
        let t = StepTenant {
            id: "t",
            config: &config,
            secret: &secret,
        };
        let base = Flow {
            iss: FLOW_ISSUER.into(),
            aud: "t".into(),
            exp: i64::MAX,
            kind: Kind::Regenerate.name().into(),
            sub: "u".repeat(255),
            state: "s".repeat(MAX_STATE_BYTES),
            cont: "https://idp.example/continue".into(),
            fid: "f".repeat(22),
            csrf: "c".repeat(64),
            set: None,
            pending: false,
            after: None,
        };
        let attempt = Attempt {
            outcome: Outcome::Accepted(64),
            remaining: 255,
            set_id: Some("9".repeat(64)),
            low: true,
            consecutive_failures: u32::MAX,
            events: Vec::new(),
        };
        let grown = Flow {
            set: Some("9".repeat(64)),
            pending: true,
            after: Some(verify_result(64, &attempt)),
            ..base.clone()
        };
        let (small, large) = (
            sign_flow(&t, &base).ok().unwrap(),
            sign_flow(&t, &grown).ok().unwrap(),
        );
        assert!(
            large.len() - small.len() <= FLOW_GROWTH,
            "{}",
            large.len() - small.len()
        );
    }

    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_800_000_000), "2027-01-15 08:00:00");
        assert_eq!(format_wait(30), "30 seconds");
        assert_eq!(format_wait(61), "2 minutes");
    }
}

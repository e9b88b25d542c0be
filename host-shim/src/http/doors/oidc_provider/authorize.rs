//! `GET`/`POST /op/{tenant}/authorize`: the authorization request.
//!
//! Checked in this order, and nothing is spent before every check passed:
//!
//! 1. the client (`client_id`) and its exact `redirect_uri`, and a usable
//!    `state`: otherwise an HTTP 400 page, never a redirect;
//! 2. from here every refusal is an OpenID error form-posted to the redirect
//!    URI with `state`: `response_type=id_token` (`unsupported_response_type`),
//!    `response_mode=form_post`, `scope` with `openid` (`invalid_scope`),
//!    `prompt=none` (`login_required`: a code must be typed), a `nonce`, the
//!    `id_token_hint` ([`crate::auth::stepup`]; too old → `login_required`,
//!    otherwise `invalid_request`), the `claims` parameter ([`crate::http::doors::oidc_provider::claims`];
//!    what a backup code cannot prove → `access_denied`);
//! 3. single use: the hint (by `jti`, else by its hash), the `nonce` and the
//!    `state` are each accepted once per client (`access_denied`), remembered
//!    in the store until the hint's window has passed, across instances.
//!
//! Then the login step's code page opens for the hint's subject, in a flow that
//! ends at the hint's window at the latest.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::stepup::HintError;
use crate::config::StepUpClient;
use crate::http::AppState;
use crate::http::doors::answer::{Fault, Pages};
use crate::http::doors::oidc_provider::claims::{self, ClaimsError};
use crate::http::doors::oidc_provider::{OpTenant, issuer, now, op_tenant};
use crate::http::doors::step::flow::Flow;
use crate::http::doors::step::oidc_answer::{OpAnswer, OpError, error_handoff};
use crate::http::doors::step::session::{Kind, valid_state};
use crate::http::doors::step::{self, open_login};
use crate::http::views::base::Base;
use crate::http::views::i18n::{Arg, Msg, Preferences, Tr, negotiate};
use crate::http::views::refusal::{Reader, Refusal};
use crate::store::Mark;

/// Longest `nonce` accepted, bytes.
pub const MAX_NONCE_BYTES: usize = 512;

/// The parameters read; every other one is ignored (Entra adds
/// `client-request-id`, for its logs).
#[derive(Debug, Default, Deserialize)]
pub struct AuthRequest {
    scope: Option<String>,
    response_type: Option<String>,
    response_mode: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    nonce: Option<String>,
    state: Option<String>,
    id_token_hint: Option<String>,
    claims: Option<String>,
    prompt: Option<String>,
    acr_values: Option<String>,
    #[serde(rename = "client-request-id")]
    client_request_id: Option<String>,
    /// The relying party's choice of page languages (OpenID Connect Core §3.1.2.1).
    ui_locales: Option<String>,
}

impl AuthRequest {
    fn is_empty(&self) -> bool {
        self.client_id.is_none() && self.redirect_uri.is_none() && self.id_token_hint.is_none()
    }
}

/// `GET .../authorize`: a request in the query, or a bare probe.
pub async fn get(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    base: Base,
    jar: CookieJar,
    headers: HeaderMap,
    query: Result<Query<AuthRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let Ok(Query(req)) = query else {
        return Err(bad_request());
    };
    if req.is_empty() {
        // Entra checks in the background that this address answers.
        let Some(_) = op_tenant(&state, &tenant) else {
            return Err(unknown_provider());
        };
        return Err(Refusal::new(StatusCode::OK, "refusal-op-landing"));
    }
    authorize(&state, &tenant, &base, jar, req, &headers).await
}

/// `POST .../authorize`: the request as a form (what Entra sends).
pub async fn post(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    base: Base,
    jar: CookieJar,
    headers: HeaderMap,
    form: Result<Form<AuthRequest>, axum::extract::rejection::FormRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let Ok(Form(req)) = form else {
        return Err(bad_request());
    };
    authorize(&state, &tenant, &base, jar, req, &headers).await
}

fn unknown_provider() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "refusal-op-unknown-provider")
}

fn bad_request() -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "refusal-op-bad-request")
}

fn not_registered() -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "refusal-op-not-registered")
}

/// A request that is answered with an OpenID error.
struct Answering<'a> {
    client: &'a StepUpClient,
    redirect: &'a str,
    origin: String,
    state: Option<&'a str>,
}

impl Answering<'_> {
    /// The error page with the form posting `error` back.
    fn refuse(&self, t: &OpTenant<'_>, reason: &'static str, error: OpError) -> Refusal {
        tracing::info!(
            tenant = t.id,
            client = %self.client.client_id,
            reason,
            error = error.code,
            "step-up request refused"
        );
        let status = match error.code {
            "access_denied" | "login_required" => StatusCode::FORBIDDEN,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let message =
            Msg::new("refusal-op-refused").arg("reason", Arg::Str(error.description.to_owned()));
        Refusal::say(status, message).back(Some(error_handoff(
            self.redirect,
            &self.origin,
            self.state,
            error,
        )))
    }
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn authorize(
    state: &AppState,
    tenant: &str,
    base: &Base,
    jar: CookieJar,
    req: AuthRequest,
    headers: &HeaderMap,
) -> Result<(CookieJar, Response), Refusal> {
    let t = op_tenant(state, tenant).ok_or_else(unknown_provider)?;
    // 1. Whom to answer, and where: nothing is ever sent to an address that
    // is not registered for the client, character for character.
    let client = req
        .client_id
        .as_deref()
        .and_then(|id| t.stepup.clients.iter().find(|c| c.client_id == id));
    let (Some(client), Some(redirect)) = (client, req.redirect_uri.as_deref()) else {
        tracing::info!(tenant, reason = "client", "step-up request refused");
        return Err(not_registered());
    };
    if !client.redirects_to(redirect) {
        tracing::info!(tenant, client = %client.client_id, reason = "redirect_uri", "step-up request refused");
        return Err(not_registered());
    }
    if req.state.as_deref().is_some_and(|s| !valid_state(s)) {
        return Err(bad_request());
    }
    let origin = url::Url::parse(redirect)
        .map_err(|_| not_registered())?
        .origin()
        .ascii_serialization();
    let answering = Answering {
        client,
        redirect,
        origin,
        state: req.state.as_deref(),
    };
    if let Some(id) = &req.client_request_id {
        tracing::debug!(tenant, client_request_id = %id.chars().take(64).collect::<String>(), "step-up request");
    }
    // 2. The request.
    let refuse = |reason, code, description| {
        Err(answering.refuse(&t, reason, OpError::new(code, description)))
    };
    if req.response_type.as_deref() != Some("id_token") {
        return refuse(
            "response_type",
            "unsupported_response_type",
            "only response_type=id_token is supported",
        );
    }
    if req.response_mode.as_deref() != Some("form_post") {
        return refuse(
            "response_mode",
            "invalid_request",
            "response_mode must be form_post",
        );
    }
    if !req
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|x| x == "openid"))
    {
        return refuse("scope", "invalid_scope", "the scope must contain openid");
    }
    if req
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|x| x == "none"))
    {
        return refuse(
            "prompt",
            "login_required",
            "a backup code must be entered: prompt=none cannot be met",
        );
    }
    let Some(nonce) = req.nonce.as_deref().filter(|n| {
        !n.is_empty() && n.len() <= MAX_NONCE_BYTES && !n.chars().any(char::is_control)
    }) else {
        return refuse("nonce", "invalid_request", "a nonce is required");
    };
    let Some(token) = req.id_token_hint.as_deref() else {
        return refuse(
            "id_token_hint",
            "invalid_request",
            "an id_token_hint naming the user is required",
        );
    };
    let requested = match claims::parse(req.claims.as_deref()) {
        Ok(r) => r,
        Err(_) => {
            return refuse(
                "claims",
                "invalid_request",
                "the claims parameter is malformed",
            );
        }
    };
    let now = now(state);
    let hint = match t.provider.verify_hint(client, token, now).await {
        Ok(h) => h,
        Err(e @ (HintError::TooOld | HintError::NotYetValid)) => {
            return Err(answering.refuse(
                &t,
                e.label(),
                OpError::new(
                    "login_required",
                    "the id_token_hint is outside its time window: sign in again",
                ),
            ));
        }
        Err(e) => {
            return Err(answering.refuse(
                &t,
                e.label(),
                OpError::new("invalid_request", "the id_token_hint is not valid"),
            ));
        }
    };
    let chosen = match claims::choose(&requested, req.acr_values.as_deref(), client, &hint.sub) {
        Ok(c) => c,
        Err(ClaimsError::Malformed) => {
            return refuse(
                "claims",
                "invalid_request",
                "the claims parameter is malformed",
            );
        }
        Err(ClaimsError::Unmet(why)) => return refuse("claims", "access_denied", why),
    };
    // The flow, checked to fit through the pages before anything is spent.
    let (mut flow, csrf) = Flow::start(
        t.id,
        Kind::Login,
        &hint.subject,
        req.state.as_deref().unwrap_or(""),
        redirect,
        now,
    )?;
    let prefs = Preferences {
        ui_locales: req.ui_locales.clone(),
        ..Preferences::from_headers(headers)
    };
    let lang = negotiate(&prefs, state.config.tenants.get(t.id));
    flow = flow.for_reader(&Reader {
        tr: Tr::new(lang, None),
        account: None,
    });
    let horizon = t.provider.horizon(hint.iat);
    flow.exp = flow.exp.min(horizon);
    flow.answer = Some(OpAnswer {
        iss: issuer(base, t.id),
        client_id: client.client_id.clone(),
        nonce: nonce.to_owned(),
        sub: hint.sub.clone(),
        acr: chosen.acr,
        amr: chosen.amr,
        has_state: req.state.is_some(),
        origin: answering.origin.clone(),
    });
    if !step::fits(state, t.id, &flow)? {
        return refuse(
            "too_large",
            "invalid_request",
            "the request is too large (state, nonce or subject)",
        );
    }
    // 3. Single use, across instances: look first so that a replay changes
    // nothing, then spend (a concurrent twin loses at the spend).
    let client_key = sha(&client.client_id);
    let (nonce_key, state_key) = (sha(nonce), req.state.as_deref().map(sha));
    let mut ids = vec![
        (
            "hint",
            Mark::OpHint {
                tenant: t.id,
                client_sha256: &client_key,
                hint_id: &hint.id,
            },
        ),
        (
            "nonce",
            Mark::OpNonce {
                tenant: t.id,
                client_sha256: &client_key,
                nonce_sha256: &nonce_key,
            },
        ),
    ];
    if let Some(state_sha256) = state_key.as_deref() {
        ids.push((
            "state",
            Mark::OpState {
                tenant: t.id,
                client_sha256: &client_key,
                state_sha256,
            },
        ));
    }
    for (what, id) in &ids {
        match state.service.spent(*id).await {
            Ok(false) => {}
            Ok(true) => return Err(replayed(&answering, &t, what)),
            Err(e) => return Err(Fault::of(e).page(Pages::Step)),
        }
    }
    let keep_until = horizon.max(now).saturating_add(60);
    for (what, id) in &ids {
        match state.service.spend(*id, keep_until).await {
            Ok(true) => {}
            Ok(false) => return Err(replayed(&answering, &t, what)),
            Err(e) => return Err(Fault::of(e).page(Pages::Step)),
        }
    }
    tracing::info!(tenant, client = %client.client_id, "step-up flow opened");
    open_login(state, base, jar, flow, csrf).await
}

fn replayed(answering: &Answering<'_>, t: &OpTenant<'_>, what: &str) -> Refusal {
    let (reason, description) = match what {
        "hint" => ("replayed_hint", "the id_token_hint was already used"),
        "nonce" => ("replayed_nonce", "the nonce was already used"),
        _ => ("replayed_state", "the state was already used"),
    };
    answering.refuse(t, reason, OpError::new("access_denied", description))
}

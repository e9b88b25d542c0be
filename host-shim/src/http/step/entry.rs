//! The IdP's redirect: `GET /step/{tenant}/{login,enroll,regenerate}` with
//! `state` and `session_token`. Everything is checked, and a flow that could not
//! finish is refused, before the state and the token are spent.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::flow::{self, Flow};
use super::login::code_page;
use super::pages::{Actions, EnrollPage, own};
use super::refusals::{self, already_enrolled, bad_link, link_too_long};
use super::result::{Reason, Signed};
use super::session::{self, Kind, MAX_TOKEN_BYTES, valid_state};
use super::{FLOW_TTL, cookies, now, sha256_hex, spend, step_tenant};
use crate::http::AppState;
use crate::http::base::Base;
use crate::http::refusal::Refusal;
use crate::service::ServiceError;

/// Query parameters of the IdP's redirect.
#[derive(Deserialize)]
pub struct Entry {
    state: Option<String>,
    session_token: Option<String>,
}

/// The step the entry path names (its last segment).
pub struct EntryKind(Kind);

impl<S: Send + Sync> FromRequestParts<S> for EntryKind {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Refusal> {
        let last = parts.uri.path().rsplit('/').next().unwrap_or("");
        Kind::parse(last)
            .map(Self)
            .ok_or_else(refusals::unknown_step)
    }
}

/// `GET /step/{tenant}/{kind}`: open a flow of that kind.
pub async fn open(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    EntryKind(kind): EntryKind,
    base: Base,
    jar: CookieJar,
    query: Result<Query<Entry>, axum::extract::rejection::QueryRejection>,
) -> Result<(CookieJar, Response), Refusal> {
    let t = step_tenant(&state, &tenant)?;
    let Ok(Query(Entry {
        state: Some(flow_state),
        session_token: Some(token),
    })) = query
    else {
        return Err(bad_link());
    };
    if !valid_state(&flow_state) || token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(bad_link());
    }
    let session = session::check(&state, &t, &base, &token, &flow_state, kind)?;
    let fail = |reason: Reason| {
        Signed::failure(
            &state,
            &t,
            kind.action(),
            &session.cont,
            &flow_state,
            Some(&session.sub),
            reason,
        )
    };
    let (flow, csrf) = Flow::start(
        &tenant,
        kind,
        &session.sub,
        &flow_state,
        &session.cont,
        now(),
    )?;
    // A flow that could not travel through every page of the step is refused
    // now, while nothing is spent (a long `state` with a long continue URL).
    if !flow::fits(&flow.sign(&t)?) {
        return Err(link_too_long().back(fail(Reason::InvalidRequest)));
    }
    // Whether a set would be replaced, known before anything is spent: a first
    // enrolment never replaces codes (that needs a `regenerate` token).
    let replacing = if kind.enrols() {
        match state.service.status(&tenant, &flow.sub).await {
            Ok(s) => s.active.is_some(),
            Err(ServiceError::NotEnrolled) => false,
            Err(e) => return Err(flow.refusal(&state, &t, e)),
        }
    } else {
        false
    };
    if kind == Kind::Enroll && replacing {
        return Err(already_enrolled().back(fail(Reason::AlreadyEnrolled)));
    }
    let horizon = now().saturating_add(FLOW_TTL).max(session.expires);
    let state_id = format!("state:{tenant}:{}", sha256_hex(flow_state.as_bytes()));
    if !spend(&state, &state_id, horizon).await? {
        return Err(refusals::state_reused().back(fail(Reason::StateReused)));
    }
    let token_id = format!("session:{tenant}:{}", session.id);
    if !spend(&state, &token_id, horizon).await? {
        return Err(refusals::replayed().back(fail(Reason::ReplayedToken)));
    }
    let actions = Actions::new(&base, &tenant);
    let response = if kind.enrols() {
        let page = EnrollPage {
            title: if replacing {
                "Replace your backup codes"
            } else {
                "Set up backup codes"
            },
            base: &actions.base,
            actions: &actions,
            flow: flow.sign(&t)?,
            replacing,
            error: None,
        };
        own(StatusCode::OK, &page, &flow.cont)
    } else {
        code_page(&state, &t, &actions, &flow, None).await?
    };
    let jar = jar.add(cookies::flow(&base, &tenant, &flow.fid, csrf, FLOW_TTL));
    Ok((jar, response))
}

//! The IdP's redirect: `GET /step/{tenant}/{login,enroll,regenerate}` with
//! `state` and `session_token`. Everything is checked, and a flow that could not
//! finish is refused, before the state and the token are spent.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::config::TenantConfig;
use crate::http::AppState;
use crate::http::doors::answer::{Fault, Pages};
use crate::http::doors::step::ctx::StepCtx;
use crate::http::doors::step::flow::{self, Flow};
use crate::http::doors::step::login::code_page;
use crate::http::doors::step::pages::EnrollPage;
use crate::http::doors::step::refusals::{self, bad_link, link_too_long};
use crate::http::doors::step::result::Reason;
use crate::http::doors::step::session::{self, Kind, MAX_TOKEN_BYTES, valid_state};
use crate::http::doors::step::{FLOW_TTL, now, sha256_hex, spend, step_tenant};
use crate::http::views::base::Base;
use crate::http::views::cookies;
use crate::http::views::i18n::{Preferences, Tr, negotiate};
use crate::http::views::refusal::Reader;
use crate::http::views::refusal::Refusal;
use crate::store::Mark;

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
    headers: HeaderMap,
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
    let reader = reader(&session, &t.config, &headers);
    let refuse = |r: Refusal| r.for_reader(reader.clone());
    let (flow, mut csrf) = Flow::start(
        &tenant,
        kind,
        &session.sub,
        &flow_state,
        &session.cont,
        now(&state),
    )?;
    let mut flow = flow.for_reader(&reader);
    flow.fid = flow::entry_fid(&t, &session.id)?;
    // A flow that could not travel through every page of the step is refused
    // now, while nothing is spent (a long `state` with a long continue URL).
    let mut ctx = StepCtx::new(&state, base, t, flow, jar);
    if !flow::fits(&ctx.sign(&ctx.flow)?) {
        return Err(refuse(
            link_too_long().back(ctx.failure(Reason::InvalidRequest)),
        ));
    }
    // Whether a set would be replaced, known before anything is spent: a first
    // enrolment never replaces codes (that needs a `regenerate` token).
    let replacing = if kind.enrols() {
        match state.service.status(&ctx.subject()).await {
            Ok(s) => s.active.is_some(),
            Err(e) => match Fault::of(e) {
                Fault::NotEnrolled => false,
                fault => return Err(ctx.fault(fault)),
            },
        }
    } else {
        false
    };
    if kind == Kind::Enroll && replacing {
        return Err(refuse(
            Fault::AlreadyEnrolled
                .page(Pages::Step)
                .back(ctx.failure(Reason::AlreadyEnrolled)),
        ));
    }
    let horizon = now(&state).saturating_add(FLOW_TTL).max(session.expires);
    let state_sha256 = sha256_hex(flow_state.as_bytes());
    let state_id = Mark::StepState {
        tenant: &tenant,
        state_sha256: &state_sha256,
    };
    // What a reload must show to go on: this token, this state, and the
    // cookie value minted when they were first opened (random, HttpOnly).
    let fid = ctx.flow.fid.clone();
    fn resume<'a>(tenant: &'a str, fid: &'a str, state: &'a str, csrf: &'a str) -> Mark<'a> {
        Mark::StepResume {
            tenant,
            fid,
            state_sha256: state,
            csrf_sha256: csrf,
        }
    }
    let resumed = if spend(&state, state_id, horizon).await? {
        false
    } else {
        // A reload or Back in the browser that opened this flow: the flow
        // goes on where it was, unless it has finished.
        let cookie = cookies::value(&ctx.jar, &cookies::name(&fid)).unwrap_or("");
        let opened_here = !cookie.is_empty()
            && state
                .service
                .spent(resume(
                    &tenant,
                    &fid,
                    &state_sha256,
                    &sha256_hex(cookie.as_bytes()),
                ))
                .await
                .map_err(|e| Fault::of(e).page(Pages::Step))?;
        if !opened_here {
            return Err(refuse(
                refusals::state_reused().back(ctx.failure(Reason::StateReused)),
            ));
        }
        if ctx.finished().await? {
            return Err(refuse(
                refusals::finished_flow().back(ctx.failure(Reason::StateReused)),
            ));
        }
        csrf = cookie.to_owned();
        ctx.flow.csrf = sha256_hex(csrf.as_bytes());
        true
    };
    let token_id = Mark::StepSession {
        tenant: &tenant,
        session_id: &session.id,
    };
    if !resumed {
        if !spend(&state, token_id, horizon).await? {
            return Err(refuse(
                refusals::replayed().back(ctx.failure(Reason::ReplayedToken)),
            ));
        }
        let csrf_sha256 = sha256_hex(csrf.as_bytes());
        spend(
            &state,
            resume(&tenant, &fid, &state_sha256, &csrf_sha256),
            horizon,
        )
        .await?;
    }
    let response = if kind.enrols() {
        let actions = ctx.actions();
        let page = EnrollPage {
            title: ctx.chrome.msg(if replacing {
                "enroll-title-replace"
            } else {
                "enroll-title-first"
            }),
            c: &ctx.chrome,
            actions: &actions,
            flow: ctx.sign(&ctx.flow)?,
            replacing,
            error: None,
        };
        ctx.page(StatusCode::OK, &page)
    } else {
        code_page(&ctx, None).await?
    };
    Ok((ctx.cookies_with(&ctx.flow, csrf), response))
}

/// Who the flow's pages are for: the language the IdP or the browser asks
/// for (among the tenant's), the IdP's time zone, the account's name.
fn reader(session: &session::Session, tenant: &TenantConfig, headers: &HeaderMap) -> Reader {
    let prefs = Preferences {
        ui_locales: session.ui_locales.clone(),
        locale: session.locale.clone(),
        accept_language: headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let account = session
        .preferred_username
        .as_deref()
        .filter(|a| a.len() <= MAX_ACCOUNT_BYTES && !a.chars().any(char::is_control))
        .map(shown)
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| shown(session.sub.as_str()));
    Reader {
        tr: Tr::new(negotiate(&prefs, Some(tenant)), session.zoneinfo.as_deref()),
        account: Some(account),
    }
}

/// An account name as the pages show it: without the invisible characters
/// that reorder text (bidirectional controls, other format characters), so a
/// name cannot make "Account: …", the printout or the .txt read otherwise.
fn shown(name: &str) -> String {
    name.chars()
        .filter(|c| {
            !matches!(
                *c,
                '\u{200B}'..='\u{200F}'
                    | '\u{202A}'..='\u{202E}'
                    | '\u{2060}'..='\u{206F}'
                    | '\u{061C}'
                    | '\u{FEFF}'
            )
        })
        .collect()
}

/// Longest account name taken from the IdP's `preferred_username`, bytes.
const MAX_ACCOUNT_BYTES: usize = 128;

//! The three doors a typed code comes through, driven as their callers drive
//! them: the JSON API (a fresh bearer token per request), the login step (a
//! flow opened by the IdP's redirect, then the code posted from its page) and
//! the REST second factor (HTTP Basic). Each answer is reduced to what the
//! bench checks ([`Answer`]), so a measurement is never of a different answer
//! than the one it names.

use std::time::Instant;

use backup_codes_harness::step::{Page, StepClient};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::BoxResult;
use crate::load::{TokenKey, token};

/// The tenant every door section configures.
pub const TENANT: &str = "bench";
/// Its `issuer` and `audience` (API tokens and step session tokens).
const ISSUER: &str = "backup-codes-bench";
const AUDIENCE: &str = "backup-codes";

/// Where a typed code comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `POST /v1/tenants/{t}/subjects/{s}/codes/verify`.
    Api,
    /// `POST /step/{t}/login` on an open flow.
    Login,
    /// `POST /rest2f/{t}/verify`.
    Rest,
}

impl Door {
    /// Every door, in the order the tables show them.
    pub const ALL: [Self; 3] = [Self::Api, Self::Login, Self::Rest];

    /// The door's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Api => "JSON API",
            Self::Login => "login step",
            Self::Rest => "REST second factor",
        }
    }

    /// A short tag for subject names.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Login => "step",
            Self::Rest => "rest",
        }
    }
}

/// What a door answered, reduced to what the bench checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The code was accepted.
    Accepted,
    /// A wrong code (the JSON API and the REST door do not say more).
    Rejected,
    /// A wrong code the login step recognised as one of a replaced set.
    ReplacedSet,
    /// The subject has no codes (the JSON API and the login step say so).
    NotEnrolled,
    /// Refused before hashing: not a well-formed code.
    Typo,
    /// Refused without checking: the set is locked.
    Locked,
    /// Anything else (status and a short excerpt).
    Other(String),
}

/// The secrets of the tenant, made per run.
#[derive(Debug, Clone)]
pub struct Secrets {
    /// HS256 secret of API bearer tokens.
    pub api: String,
    /// The login step's `step_secret`.
    pub step: String,
    /// The REST client's Basic password (`idp`).
    pub rest: String,
}

impl Secrets {
    /// Fresh random secrets.
    pub fn random() -> Self {
        Self {
            api: crate::load::random_hex(32),
            step: crate::load::random_hex(32),
            rest: crate::load::random_hex(24),
        }
    }
}

/// The configuration file of a shim with the bench tenant: SQLite in `dir`,
/// rate limits out of the way, every door on, `policy` lines added to the
/// tenant's policy (argon2 parameters included), `plugin` lines to the
/// `[plugin]` section.
pub fn config_toml(dir: &std::path::Path, secrets: &Secrets, policy: &str, plugin: &str) -> String {
    use sha2::Digest as _;
    format!(
        r#"database_url = "sqlite://{db}"
log_filter = "warn"

[plugin]
cache_dir = {cache:?}
{plugin}

[limits]
per_ip_per_minute = 1000000000
per_subject_per_minute = 1000000000

[tenants.{TENANT}]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
algorithms = ["HS256"]
hs256_secret = "{api}"
step_secret = "{step}"
continue_urls = ["https://idp.example/continue"]

[tenants.{TENANT}.rest2f]
clients = [{{ id = "idp", secret_sha256 = "{rest}" }}]

[tenants.{TENANT}.policy]
require_activation = false
{policy}
"#,
        db = dir.join("bench.db").display(),
        cache = dir.join("cache").display().to_string(),
        api = secrets.api,
        step = secrets.step,
        rest = hex::encode(sha2::Sha256::digest(secrets.rest.as_bytes())),
    )
}

/// A login flow opened by the IdP's redirect: the flow cookie and token its
/// page carries.
#[derive(Debug, Clone)]
pub struct Flow {
    cookie: String,
    flow: String,
}

/// The IdP and the browser in front of one shim's three doors.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: TokenKey,
    step: StepClient,
    basic: String,
}

impl Client {
    /// A client for the bench tenant of the shim at `base`.
    pub fn new(base: &str, secrets: &Secrets) -> BoxResult<Self> {
        Ok(Self {
            http: backup_codes_shim::http_client()
                .timeout(std::time::Duration::from_secs(120))
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            key: TokenKey {
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                secret: secrets.api.clone(),
            },
            step: StepClient::new(base, TENANT, ISSUER, &secrets.step)?,
            basic: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("idp:{}", secrets.rest))
            ),
        })
    }

    fn codes_url(&self, subject: &str) -> String {
        format!("{}/v1/tenants/{TENANT}/subjects/{subject}/codes", self.base)
    }

    /// Issue a set to `subject` through the JSON API (active at once: the
    /// tenant does not require activation); its codes.
    pub async fn issue(&self, subject: &str) -> BoxResult<Vec<String>> {
        let r = self
            .http
            .post(self.codes_url(subject))
            .bearer_auth(token(&self.key, subject)?)
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if status.as_u16() != 201 {
            return Err(format!("issuing to {subject}: {status} {body}").into());
        }
        Ok(body["codes"]
            .as_array()
            .ok_or("no codes in the issue response")?
            .iter()
            .filter_map(|c| c["code"].as_str().map(str::to_owned))
            .collect())
    }

    /// Delete `subject`'s codes through the JSON API.
    pub async fn delete(&self, subject: &str) -> BoxResult<()> {
        let r = self
            .http
            .delete(self.codes_url(subject))
            .bearer_auth(token(&self.key, subject)?)
            .send()
            .await?;
        if r.status().as_u16() != 204 {
            return Err(format!("deleting {subject}: {}", r.status()).into());
        }
        Ok(())
    }

    /// Open a login flow for `subject` as the IdP's redirect does (a fresh
    /// session token, `aud` the tenant's audience); the page must offer code
    /// entry.
    pub async fn open_flow(&self, subject: &str) -> BoxResult<Flow> {
        let page = self.enter(subject).await?;
        match (page.flow_cookie(), page.field("flow")) {
            (Some(cookie), Some(flow)) if page.status.as_u16() == 200 => Ok(Flow { cookie, flow }),
            _ => Err(format!(
                "login entry for {subject}: {} {}",
                page.status,
                excerpt(&page.html)
            )
            .into()),
        }
    }

    /// The login entry (`GET /step/{t}/login`) for `subject`, whatever it answers.
    pub async fn enter(&self, subject: &str) -> BoxResult<Page> {
        let state = backup_codes_harness::idp::random_id();
        let mut claims = self.step.session_claims("login", subject, &state);
        claims["aud"] = json!(AUDIENCE);
        let session = self.step.sign(&claims);
        Ok(self.step.enter("login", &state, &session).await?)
    }

    /// The login entry's answer, reduced (a subject without codes is refused
    /// there, before a code is typed).
    pub async fn enter_answer(&self, subject: &str) -> BoxResult<Answer> {
        Ok(login_answer(&self.enter(subject).await?))
    }

    /// One attempt at `door`: the request is built (and its token minted)
    /// first, then sent; returns the answer and the seconds from sending to
    /// the whole answer read. `flow` is needed at the login step.
    pub async fn attempt(
        &self,
        door: Door,
        subject: &str,
        code: &str,
        flow: Option<&Flow>,
    ) -> BoxResult<(Answer, f64)> {
        match door {
            Door::Api => {
                let request = self
                    .http
                    .post(format!("{}/verify", self.codes_url(subject)))
                    .bearer_auth(token(&self.key, subject)?)
                    .json(&json!({ "code": code }));
                let started = Instant::now();
                let r = request.send().await?;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                Ok((api_answer(status, &body), started.elapsed().as_secs_f64()))
            }
            Door::Rest => {
                let request = self
                    .http
                    .post(format!("{}/rest2f/{TENANT}/verify", self.base))
                    .header(reqwest::header::AUTHORIZATION, &self.basic)
                    .json(&json!({ "user": subject, "code": code }));
                let started = Instant::now();
                let r = request.send().await?;
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                Ok((rest_answer(status, &body), started.elapsed().as_secs_f64()))
            }
            Door::Login => {
                let flow = flow.ok_or("the login step needs an open flow")?;
                let path = self.step.path("login");
                let form = [("flow", flow.flow.as_str()), ("code", code)];
                let started = Instant::now();
                let page = self.step.post(&path, Some(&flow.cookie), &form).await?;
                Ok((login_answer(&page), started.elapsed().as_secs_f64()))
            }
        }
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

fn api_answer(status: u16, body: &Value) -> Answer {
    match (status, body["result"].as_str(), body["error"].as_str()) {
        (200, Some("accepted"), _) => Answer::Accepted,
        (200, Some("rejected"), _) => Answer::Rejected,
        (200, Some("locked"), _) => Answer::Locked,
        (404, _, Some("not_enrolled")) => Answer::NotEnrolled,
        (422, _, Some("invalid_code")) => Answer::Typo,
        _ => Answer::Other(format!("{status} {}", excerpt(&body.to_string()))),
    }
}

fn rest_answer(status: u16, body: &Value) -> Answer {
    match (status, body["result"].as_bool(), body["reason"].as_str()) {
        (200, Some(true), _) => Answer::Accepted,
        (200, Some(false), Some("mismatch")) => Answer::Rejected,
        (200, Some(false), Some("locked")) => Answer::Locked,
        (200, Some(false), Some("invalid_code")) => Answer::Typo,
        (200, Some(false), Some("not_enrolled")) => Answer::NotEnrolled,
        _ => Answer::Other(format!("{status} {}", excerpt(&body.to_string()))),
    }
}

/// The login step's page, by what it tells the user (the English catalogue).
fn login_answer(page: &Page) -> Answer {
    let html = &page.html;
    if page.field("session_token").is_some() && page.status.as_u16() == 200 {
        Answer::Accepted
    } else if html.contains("was replaced, so it no longer works") {
        Answer::ReplacedSet
    } else if html.contains("That code is not right") {
        Answer::Rejected
    } else if html.contains("That code has a typo") {
        Answer::Typo
    } else if html.contains("There are no active backup codes for your account") {
        Answer::NotEnrolled
    } else if html.contains("Backup codes are locked for your account")
        || html.contains("Too many wrong codes: you can try again after")
    {
        Answer::Locked
    } else {
        Answer::Other(format!("{} {}", page.status, excerpt(html)))
    }
}

/// The same code with its check symbol changed: a typo the engine refuses
/// before hashing.
pub fn with_typo(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    if let Some(last) = chars.iter_mut().rev().find(|c| c.is_ascii_alphanumeric()) {
        *last = if *last == '0' { '1' } else { '0' };
    }
    chars.into_iter().collect()
}

//! A browser at the self-service pages (`/self/{tenant}/…`): the login round
//! trip through the tenant's IdP (an [`crate::oidc_idp::OidcIdp`]) to the
//! callback, the session cookie it ends with, and the forms; plus the session
//! and form tokens a test holding the tenant's `session_secret` forges.

use backup_codes_shim::test_support::{Keys, Purpose};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::HarnessError;
use crate::idp::now;
use crate::step::{Page, form_body};

/// A browser at one tenant's self-service; redirects are not followed.
#[derive(Debug, Clone)]
pub struct SelfBrowser {
    http: reqwest::Client,
    base: String,
    tenant: String,
}

/// How a login round trip ended.
#[derive(Debug, Clone)]
pub struct Login {
    /// The shim's answer to the callback: a redirect home when the session
    /// opened, a refusal page otherwise.
    pub callback: Page,
    /// The session cookie the callback set (`bc_self_{tenant}=…`), if any.
    pub session: Option<String>,
    /// The callback URL the IdP sent the browser to, and the login
    /// transaction's cookie it was sent with (what an attacker who captured
    /// both would replay).
    pub replay: (String, String),
}

impl SelfBrowser {
    /// A browser for `tenant` of the shim at `base`.
    pub fn new(base: &str, tenant: &str) -> Result<Self, HarnessError> {
        Ok(Self {
            http: backup_codes_shim::http_client()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
        })
    }

    /// The path of a self-service route (`""` for home, `login`, `issue`, …).
    pub fn path(&self, route: &str) -> String {
        format!("/self/{}/{route}", self.tenant)
    }

    /// Sign in: `login` (`?strong=1` for the strong login) sends the browser
    /// to the IdP, which answers at once with a code for the callback.
    pub async fn login(&self, strong: bool) -> Result<Login, HarnessError> {
        let query = if strong { "?strong=1" } else { "" };
        let start = self
            .http
            .get(format!("{}{}{query}", self.base, self.path("login")))
            .send()
            .await?;
        let transaction = cookie(start.headers(), &format!("bc_self_login_{}", self.tenant))
            .ok_or_else(|| HarnessError("login set no transaction cookie".into()))?;
        let at_idp = self.http.get(redirect(&start)?).send().await?;
        if at_idp.status() != StatusCode::SEE_OTHER {
            return Err(HarnessError(format!(
                "the IdP refused the authorization request: {} {}",
                at_idp.status(),
                at_idp.text().await.unwrap_or_default()
            )));
        }
        let back = redirect(&at_idp)?;
        let (callback, session) = self.callback(&back, &transaction).await?;
        Ok(Login {
            callback,
            session,
            replay: (back, transaction),
        })
    }

    /// Open the callback URL `url` with the login transaction's cookie: the
    /// page and the session cookie it set, if any.
    pub async fn callback(
        &self,
        url: &str,
        transaction: &str,
    ) -> Result<(Page, Option<String>), HarnessError> {
        let callback = self
            .http
            .get(url)
            .header(COOKIE, transaction)
            .send()
            .await?;
        let session = cookie(callback.headers(), &format!("bc_self_{}", self.tenant));
        Ok((page(callback).await?, session))
    }

    /// `GET` a path with a `Cookie` header.
    pub async fn get(&self, path: &str, cookie: &str) -> Result<Page, HarnessError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .send()
            .await?;
        page(response).await
    }

    /// `POST` a form to a path with a `Cookie` header.
    pub async fn post(
        &self,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> Result<Page, HarnessError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form_body(form))
            .send()
            .await?;
        page(response).await
    }
}

/// The `Location` of a redirect.
fn redirect(response: &reqwest::Response) -> Result<String, HarnessError> {
    if !response.status().is_redirection() {
        return Err(HarnessError(format!(
            "expected a redirect, got {}",
            response.status()
        )));
    }
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| HarnessError("a redirect without Location".into()))
}

/// The non-empty cookie `name` a response set, as `name=value`.
fn cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&prefix) && pair.len() > prefix.len())
        .map(str::to_owned)
}

async fn page(response: reqwest::Response) -> Result<Page, HarnessError> {
    Ok(Page {
        status: response.status(),
        headers: response.headers().clone(),
        html: response.text().await?,
    })
}

/// A session cookie (`bc_self_{tenant}=…`) of `tenant` signed with its
/// `session_secret`, as the callback makes one: session `sid` of `sub`, with
/// `auth_time`, `acr` and `strong` as given, valid for ten minutes.
pub fn forged_session(
    tenant: &str,
    secret: &str,
    sid: &str,
    sub: &str,
    auth_time: i64,
    acr: &str,
    strong: bool,
) -> Option<String> {
    let claims = json!({
        "iss": Keys::issuer(Purpose::Session),
        "aud": tenant,
        "exp": now() + 600,
        "sid": sid,
        "sub": sub,
        "auth_time": auth_time,
        "acr": acr,
        "strong": strong,
    });
    let token = forge(tenant, secret, Purpose::Session, &claims)?;
    Some(format!("bc_self_{tenant}={token}"))
}

/// A form token of `tenant` for session `sid`, as the pages embed one.
pub fn forged_form(tenant: &str, secret: &str, sid: &str) -> Option<String> {
    let claims = json!({
        "iss": Keys::issuer(Purpose::Form),
        "aud": tenant,
        "exp": now() + 600,
        "sid": sid,
    });
    forge(tenant, secret, Purpose::Form, &claims)
}

/// A token of `purpose` with `claims`, signed with the key the shim derives
/// for `purpose` from `tenant`'s self-service `session_secret`, as the shim
/// signs its own (`None` when the claims do not serialise).
pub fn forge(tenant: &str, secret: &str, purpose: Purpose, claims: &Value) -> Option<String> {
    let secret = SecretString::from(secret.to_owned());
    Keys::new(tenant, &secret).sign(purpose, claims)
}

/// The self-service `session_secret` the tests configure for `tenant`.
pub fn session_secret(tenant: &str) -> String {
    format!("selfservice-session-secret-of-{tenant}-0123456789")
}

//! Driving the login step as a browser and an identity provider would: entry
//! links with a session token, the pages' forms with their flow cookie, and the
//! signed result posted back.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::HarnessError;
use crate::client::encode_segment;
use crate::idp::{now, random_id};

/// A page the shim answered with.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The HTML.
    pub html: String,
}

impl Page {
    /// The value of the first hidden field `name`, unescaped.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.html.find(&marker)? + marker.len();
        let end = start + self.html[start..].find('"')?;
        Some(unescape(&self.html[start..end]))
    }

    /// The flow cookie this page set, as `name=value`.
    pub fn flow_cookie(&self) -> Option<String> {
        self.flow_set_cookie()
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    }

    /// The whole `Set-Cookie` header of the flow cookie, with its attributes.
    pub fn flow_set_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("bc_flow_"))
    }

    /// The codes shown on a new-set page, in number order.
    pub fn codes(&self) -> Vec<String> {
        self.shown_codes().map(|(_, code)| code).collect()
    }

    /// The codes shown on a new-set page with the number each is shown with.
    pub fn numbered_codes(&self) -> Vec<(u8, String)> {
        self.shown_codes()
            .filter_map(|(number, code)| Some((number.parse().ok()?, code)))
            .collect()
    }

    /// Each shown code's `data-number` (as written) and the code.
    fn shown_codes(&self) -> impl Iterator<Item = (&str, String)> {
        self.html
            .split("<code data-number=\"")
            .skip(1)
            .filter_map(|part| {
                let (number, rest) = part.split_once("\">")?;
                Some((number, unescape(rest.split_once("</code>")?.0)))
            })
    }

    /// The `action` of the form that hands a result back to the IdP.
    pub fn handoff_action(&self) -> Option<String> {
        let at = self.html.find("name=\"session_token\"")?;
        let form = self.html[..at].rfind("<form")?;
        let start = form + self.html[form..].find("action=\"")? + 8;
        let end = start + self.html[start..].find('"')?;
        Some(unescape(&self.html[start..end]))
    }
}

/// Undo the HTML escaping of attribute values and text.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A browser at the shim's step pages, and the IdP's secrets for one tenant.
#[derive(Debug, Clone)]
pub struct StepClient {
    http: reqwest::Client,
    base: String,
    /// The tenant id.
    pub tenant: String,
    /// The tenant's `issuer`.
    pub issuer: String,
    /// The tenant's `step_secret`.
    pub step_secret: String,
}

impl StepClient {
    /// A client for `tenant` of the shim at `base`; redirects are not followed.
    pub fn new(
        base: &str,
        tenant: &str,
        issuer: &str,
        step_secret: &str,
    ) -> Result<Self, HarnessError> {
        Ok(Self {
            http: backup_codes_shim::http_client()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
            issuer: issuer.to_owned(),
            step_secret: step_secret.to_owned(),
        })
    }

    /// The path of one of the tenant's step routes (`login`, `enroll/issue`, ...).
    pub fn path(&self, route: &str) -> String {
        format!("/step/{}/{route}", self.tenant)
    }

    /// Good session claims for `step` (`login`, `enroll`, `regenerate`) and `sub`.
    pub fn session_claims(&self, step: &str, sub: &str, state: &str) -> Value {
        json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": format!("{}{}", self.base, self.path(step)),
            "step": step,
            "iat": now(),
            "exp": now() + 300,
            "state": state,
            "jti": random_id(),
        })
    }

    /// Sign claims with the tenant's step secret (HS256).
    pub fn sign(&self, claims: &Value) -> String {
        sign_hs256(claims, &self.step_secret)
    }

    /// `GET` an entry path with `state` and `session_token`.
    pub async fn enter(&self, step: &str, state: &str, token: &str) -> Result<Page, HarnessError> {
        self.get(
            &self.path(step),
            &[("state", state), ("session_token", token)],
        )
        .await
    }

    /// Open step `step` for `sub` with a fresh, good session token.
    pub async fn open(&self, step: &str, sub: &str) -> Result<(Page, String), HarnessError> {
        let state = random_id();
        let token = self.sign(&self.session_claims(step, sub, &state));
        Ok((self.enter(step, &state, &token).await?, state))
    }

    /// `GET` a path with query parameters.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Page, HarnessError> {
        self.get_with_headers(path, query, &[]).await
    }

    /// `GET` a path with query parameters and request headers (a `Cookie`
    /// the browser holds, the `Accept-Language` it sends).
    pub async fn get_with_headers(
        &self,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<Page, HarnessError> {
        let url = url_with(&format!("{}{path}", self.base), query)?;
        let mut request = self.http.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        page(request.send().await?).await
    }

    /// `POST` a form to a path, with an optional `Cookie` header.
    pub async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Result<Page, HarnessError> {
        let body = form_body(form);
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some(c) = cookie {
            request = request.header(reqwest::header::COOKIE, c);
        }
        page(request.send().await?).await
    }

    /// Enrol `sub` through the pages (a first set, or a replacement with
    /// `regenerate`); returns the codes and the result page.
    pub async fn enrol(&self, step: &str, sub: &str) -> Result<(Vec<String>, Page), HarnessError> {
        let (entry, _) = self.open(step, sub).await?;
        let Enrolment { shown, done } = self.finish_enrolment(&entry).await?;
        Ok((shown.codes(), done))
    }

    /// From an enrolment's entry page (`enroll` or `regenerate`): have a new
    /// set shown, then confirm it with its first code.
    pub async fn finish_enrolment(&self, entry: &Page) -> Result<Enrolment, HarnessError> {
        let cookie = entry
            .flow_cookie()
            .ok_or_else(|| HarnessError(format!("no flow cookie: {}", entry.html)))?;
        let flow = entry
            .field("flow")
            .ok_or_else(|| HarnessError(format!("no flow: {}", entry.html)))?;
        let shown = self
            .post(
                &self.path("enroll/issue"),
                Some(&cookie),
                &[("flow", &flow)],
            )
            .await?;
        let codes = shown.codes();
        let (Some(first), Some(flow)) = (codes.first(), shown.field("flow")) else {
            return Err(HarnessError(format!("no codes shown: {}", shown.html)));
        };
        let done = self
            .post(
                &self.path("enroll/activate"),
                Some(&cookie),
                &[("flow", &flow), ("code", first)],
            )
            .await?;
        Ok(Enrolment { shown, done })
    }
}

/// The pages of an enrolment after its entry page.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The page showing the new set (its codes: [`Page::codes`]).
    pub shown: Page,
    /// The answer to confirming the set with its first code.
    pub done: Page,
}

/// Sign `claims` with an HS256 secret.
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// A URL-encoded form body.
pub fn form_body(form: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in form.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_segment(k));
        out.push('=');
        out.push_str(&encode_segment(v));
    }
    out
}

fn url_with(base: &str, query: &[(&str, &str)]) -> Result<String, HarnessError> {
    if query.is_empty() {
        return Ok(base.to_owned());
    }
    Ok(format!("{base}?{}", form_body(query)))
}

async fn page(response: reqwest::Response) -> Result<Page, HarnessError> {
    Ok(Page {
        status: response.status(),
        headers: response.headers().clone(),
        html: response.text().await?,
    })
}

//! A relying party of the shim's step-up OpenID provider, as Microsoft Entra
//! plays it (external authentication methods): the client configuration the
//! shim needs, `id_token_hint`s signed with the [`TestIdp`]'s RSA key (expired
//! on purpose, as Entra sends them), the documented form POST, and the checks
//! Entra makes on the ID token that comes back.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::HarnessError;
use crate::idp::{Alg, TestIdp, now, random_id};
use crate::step::{Page, StepClient};

/// Entra's `redirect_uri` (global cloud).
pub const ENTRA_REDIRECT: &str =
    "https://login.microsoftonline.com/common/federation/externalauthprovider";
/// The `claims` parameter exactly as Entra documents it.
pub const ENTRA_CLAIMS: &str = r#"{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}"#;
/// The directory tenant id of the simulated Entra tenant.
pub const TID: &str = "3f1c2a6e-5b8d-4c1e-9a7f-0d2b4e6c8a10";

/// One relying party as the shim is configured for it and as it signs hints.
#[derive(Debug, Clone)]
pub struct Rp {
    /// The `client_id` it sends (the ID token's `aud`).
    pub client_id: String,
    /// The `aud` of its hints (Entra: the App ID).
    pub app_id: String,
    /// Its registered redirect URI.
    pub redirect: String,
    /// The `iss` of its hints (with the tenant id in it, like Entra's).
    pub hint_issuer: String,
}

impl Rp {
    /// An Entra-like relying party.
    pub fn entra(client_id: &str, app_id: &str) -> Self {
        Self {
            client_id: client_id.into(),
            app_id: app_id.into(),
            redirect: ENTRA_REDIRECT.into(),
            hint_issuer: format!("https://login.microsoftonline.com/{TID}/v2.0"),
        }
    }

    /// The shim's configuration for it: hints from `idp`'s JWKS, the user is
    /// the hint's `oid`.
    pub fn client(&self, idp: &TestIdp) -> backup_codes_shim::config::StepUpClient {
        backup_codes_shim::config::StepUpClient {
            client_id: self.client_id.clone(),
            redirect_uris: vec![self.redirect.clone()],
            hint_jwks_url: idp.jwks_url.parse().ok(),
            hint_issuers: vec!["https://login.microsoftonline.com/{tid}/v2.0".into()],
            hint_tenant_ids: vec![TID.into()],
            hint_audience: Some(self.app_id.clone()),
            subject_claim: Some("oid".into()),
            ..Default::default()
        }
    }

    /// The claims of a hint for the user `oid`, as Entra issues them: already
    /// expired (`exp` one second before `iat`), pairwise `sub`.
    pub fn hint_claims(&self, oid: &str) -> Value {
        let now = now();
        json!({
            "ver": "2.0",
            "iss": self.hint_issuer,
            "sub": format!("pairwise-{oid}"),
            "aud": self.app_id,
            "iat": now,
            "nbf": now,
            "exp": now - 1,
            "name": "Test User",
            "preferred_username": format!("{oid}@example.test"),
            "oid": oid,
            "tid": TID,
        })
    }

    /// A hint for `oid` signed by `idp`'s RSA key, with a `jti` so that two
    /// hints made in the same second differ (RS256 signatures are
    /// deterministic, and a hint is accepted once).
    pub fn hint(&self, idp: &TestIdp, oid: &str) -> String {
        let mut claims = self.hint_claims(oid);
        claims["jti"] = json!(random_id());
        idp.sign(Alg::Rs256, &claims)
    }

    /// The authorization request Entra posts, with a fresh `nonce` and `state`.
    pub fn request(&self, hint: &str) -> Vec<(String, String)> {
        [
            ("scope", "openid".to_owned()),
            ("response_type", "id_token".to_owned()),
            ("response_mode", "form_post".to_owned()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect.clone()),
            ("nonce", random_id()),
            ("state", random_id()),
            ("id_token_hint", hint.to_owned()),
            ("claims", ENTRA_CLAIMS.to_owned()),
            ("client-request-id", random_id()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }
}

/// The value of `name` in a request.
pub fn param<'a>(request: &'a [(String, String)], name: &str) -> &'a str {
    request
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The request with `name` set to `value` (`None`: removed).
pub fn with(
    request: &[(String, String)],
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        request.iter().filter(|(k, _)| k != name).cloned().collect();
    if let Some(v) = value {
        out.push((name.to_owned(), v.to_owned()));
    }
    out
}

/// `POST /op/{tenant}/authorize` with `request` as the form.
pub async fn authorize(
    browser: &StepClient,
    request: &[(String, String)],
) -> Result<Page, HarnessError> {
    let form: Vec<(&str, &str)> = request
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser
        .post(&format!("/op/{}/authorize", browser.tenant), None, &form)
        .await
}

/// Type `code` on the code page a step-up request opened; the answer page.
pub async fn enter_code(
    browser: &StepClient,
    page: &Page,
    code: &str,
) -> Result<Page, HarnessError> {
    let cookie = page
        .flow_cookie()
        .ok_or_else(|| HarnessError(format!("no flow cookie: {}", page.html)))?;
    let flow = page
        .field("flow")
        .ok_or_else(|| HarnessError(format!("no flow: {}", page.html)))?;
    browser
        .post(
            &browser.path("login"),
            Some(&cookie),
            &[("flow", &flow), ("code", code)],
        )
        .await
}

/// The `action` of the form on a page (the first one posting elsewhere than
/// the shim).
pub fn form_action(page: &Page) -> Option<String> {
    let start = page.html.find("action=\"http")? + 8;
    let end = start + page.html[start..].find('"')?;
    Some(crate::step::unescape(&page.html[start..end]))
}

/// An ID token checked as Entra checks it: the signature with a key found
/// through the issuer's discovery document and JWKS (`kid` from the header;
/// `x5c` present and holding that key), `iss`, `aud`, `exp`; returns the
/// claims and the JWK used.
pub async fn check_id_token(
    issuer: &str,
    client_id: &str,
    token: &str,
) -> Result<(Value, Value), HarnessError> {
    let http = backup_codes_shim::http_client().build()?;
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    if discovery["issuer"] != issuer {
        return Err(HarnessError(format!("discovery issuer: {discovery}")));
    }
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or_else(|| HarnessError("no jwks_uri".into()))?;
    let jwks: Value = http.get(jwks_uri).send().await?.json().await?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| HarnessError(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(HarnessError(format!("alg {:?}", header.alg)));
    }
    let kid = header
        .kid
        .ok_or_else(|| HarnessError("no kid in the header".into()))?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .cloned()
        .ok_or_else(|| HarnessError(format!("kid {kid} not in {jwks}")))?;
    let (n, e) = (
        jwk["n"].as_str().unwrap_or_default(),
        jwk["e"].as_str().unwrap_or_default(),
    );
    // x5c: standard base64 DER holding the same modulus.
    let cert = jwk["x5c"][0]
        .as_str()
        .and_then(|c| STANDARD.decode(c).ok())
        .ok_or_else(|| HarnessError(format!("no x5c: {jwk}")))?;
    let modulus = B64.decode(n).map_err(|e| HarnessError(format!("n: {e}")))?;
    if !cert.windows(modulus.len()).any(|w| w == modulus.as_slice()) {
        return Err(HarnessError("x5c does not hold the key".into()));
    }
    let key = DecodingKey::from_rsa_components(n, e).map_err(|e| HarnessError(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| HarnessError(format!("ID token refused: {e}")))?
        .claims;
    Ok((claims, jwk))
}

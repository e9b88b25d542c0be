//! An HTTP client for the shim's JSON API, as an identity provider uses it.

use base64::Engine as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::HarnessError;
use crate::idp::{Alg, TestIdp};

/// A response: status, headers and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body text.
    pub text: String,
    /// Parsed body.
    pub json: Value,
}

/// Calls the shim at a base URL.
#[derive(Debug, Clone)]
pub struct ShimClient {
    http: reqwest::Client,
    base: String,
}

impl ShimClient {
    /// A client for the shim at `base` (for example `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self, HarnessError> {
        Ok(Self {
            http: backup_codes_shim::http_client()
                .timeout(std::time::Duration::from_secs(120))
                .pool_max_idle_per_host(64)
                .build()?,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Path of a subject's codes.
    pub fn codes_path(tenant: &str, subject: &str) -> String {
        format!(
            "/v1/tenants/{tenant}/subjects/{}/codes",
            encode_segment(subject)
        )
    }

    /// Send a request; `token` goes into `Authorization: Bearer`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<RawBody>,
    ) -> Result<Reply, HarnessError> {
        let authorization = token.map(|t| format!("Bearer {t}"));
        self.send_authorized(method, path, authorization.as_deref(), body)
            .await
    }

    /// Send a request with a whole `Authorization` header value (any scheme).
    pub async fn send_authorized(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<RawBody>,
    ) -> Result<Reply, HarnessError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, a);
        }
        if let Some(b) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, b.content_type)
                .body(b.bytes);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            text,
            json,
        })
    }

    /// Issue (or regenerate) a set.
    pub async fn issue(
        &self,
        tenant: &str,
        subject: &str,
        token: &str,
    ) -> Result<Reply, HarnessError> {
        self.send(
            Method::POST,
            &Self::codes_path(tenant, subject),
            Some(token),
            None,
        )
        .await
    }

    /// Status of a subject's codes.
    pub async fn status(
        &self,
        tenant: &str,
        subject: &str,
        token: &str,
    ) -> Result<Reply, HarnessError> {
        self.send(
            Method::GET,
            &Self::codes_path(tenant, subject),
            Some(token),
            None,
        )
        .await
    }

    /// Delete a subject's codes.
    pub async fn delete(
        &self,
        tenant: &str,
        subject: &str,
        token: &str,
    ) -> Result<Reply, HarnessError> {
        self.send(
            Method::DELETE,
            &Self::codes_path(tenant, subject),
            Some(token),
            None,
        )
        .await
    }

    /// Verify a code.
    pub async fn verify(
        &self,
        tenant: &str,
        subject: &str,
        token: &str,
        code: &str,
    ) -> Result<Reply, HarnessError> {
        let path = format!("{}/verify", Self::codes_path(tenant, subject));
        self.send(
            Method::POST,
            &path,
            Some(token),
            Some(RawBody::json(&serde_json::json!({"code": code}))),
        )
        .await
    }

    /// Issue a first set and activate it with its first code (each call
    /// with its own token); returns the codes.
    pub async fn enroll(
        &self,
        tenant: &str,
        subject: &str,
        issue_token: &str,
        activate_token: &str,
    ) -> Result<Vec<String>, HarnessError> {
        let issued = self.issue(tenant, subject, issue_token).await?;
        if issued.status != reqwest::StatusCode::CREATED {
            return Err(HarnessError(format!(
                "issue: {} {}",
                issued.status, issued.text
            )));
        }
        let codes = codes(&issued);
        let first = codes
            .first()
            .ok_or_else(|| HarnessError(format!("issue returned no code: {}", issued.text)))?;
        let activated = self
            .activate(tenant, subject, activate_token, first)
            .await?;
        if activated.json["result"] != "accepted" {
            return Err(HarnessError(format!("activate: {}", activated.text)));
        }
        Ok(codes)
    }

    /// [`ShimClient::enroll`] with a fresh token of `idp` (signed with `alg`)
    /// for `subject` for each call; returns the codes.
    pub async fn enroll_for(
        &self,
        idp: &TestIdp,
        alg: Alg,
        tenant: &str,
        subject: &str,
    ) -> Result<Vec<String>, HarnessError> {
        let token = || idp.token(alg, subject);
        self.enroll(tenant, subject, &token(), &token()).await
    }

    /// Activate a pending set with one of its codes.
    pub async fn activate(
        &self,
        tenant: &str,
        subject: &str,
        token: &str,
        code: &str,
    ) -> Result<Reply, HarnessError> {
        let path = format!("{}/activate", Self::codes_path(tenant, subject));
        self.send(
            Method::POST,
            &path,
            Some(token),
            Some(RawBody::json(&serde_json::json!({"code": code}))),
        )
        .await
    }
}

/// A request body with its content type.
#[derive(Debug, Clone)]
pub struct RawBody {
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl RawBody {
    /// A JSON body.
    pub fn json(v: &Value) -> Self {
        Self {
            content_type: "application/json",
            bytes: v.to_string().into_bytes(),
        }
    }

    /// Arbitrary bytes sent as JSON (for malformed-body tests).
    pub fn raw_json(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            content_type: "application/json",
            bytes: bytes.into(),
        }
    }
}

/// An `Authorization` header value of HTTP Basic credentials.
pub fn basic_auth(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// Percent-encode one path segment.
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The codes of an issue reply, in number order.
pub fn codes(reply: &Reply) -> Vec<String> {
    reply.json["codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

//! What operators see of each request: a request id (answered in `x-request-id`),
//! a tracing span with the method, route template, tenant and id (never a code,
//! token or body), Prometheus metrics per route and status, and one `info` line
//! for every refusal at every door with its reason code ([`Refused`]).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{FromRequestParts as _, MatchedPath, RawPathParams, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The header carrying the request id in answers.
pub const REQUEST_ID: &str = "x-request-id";

/// Why a door refused a request (or a code): set on the answer by each
/// door's error type, logged at `info` by [`observe`] with the tenant and the
/// request id. Reasons are stable codes; a detail names a field or a check,
/// never a code, token or secret.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The stable reason code (the answer's `error` or `reason`, a page's message id).
    pub reason: &'static str,
    /// What an operator needs beside it (a field name, which token check failed).
    pub detail: Option<String>,
}

impl Refused {
    /// A refusal for `reason`.
    pub fn new(reason: &'static str) -> Self {
        Self {
            reason,
            detail: None,
        }
    }

    /// A refusal for `reason` with a detail.
    pub fn with_detail(reason: &'static str, detail: Option<String>) -> Self {
        Self { reason, detail }
    }
}

/// The `{tenant}` of a routed path, when it looks like a tenant id (it is
/// caller-chosen text until the handler checks it).
fn path_tenant(params: &RawPathParams) -> Option<String> {
    params
        .iter()
        .find(|(name, _)| *name == "tenant")
        .map(|(_, value)| value)
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            // A webhook's delivery latency spans retries: up to a day and more.
            let delivery = [
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0, 1800.0, 7200.0, 36_000.0,
                86_400.0, 172_800.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("backup_codes_webhook_delivery_latency_seconds".into()),
                        &delivery,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding apps); then this
            // handle renders only what it records, which is still correct for /metrics.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

fn new_request_id() -> String {
    // Not a secret: a failing random source leaves a zero id, still a valid one.
    crate::random::hex(8).unwrap_or_else(|_| "0".repeat(16))
}

/// Request id, span and metrics around every routed request.
pub async fn observe(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let tenant = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|p| path_tenant(&p))
        .unwrap_or_default();
    let request = Request::from_parts(parts, body);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let id = new_request_id();
    let span =
        tracing::info_span!("request", %method, route = %route, tenant = %tenant, request_id = %id);
    let started = Instant::now();
    // The service names this request in the webhook events it causes.
    let run = crate::service::REQUEST_ID.scope(id.clone(), next.run(request));
    let mut response = tracing::Instrument::instrument(run, span.clone()).await;
    if let Some(refused) = response.extensions().get::<Refused>() {
        span.in_scope(|| {
            tracing::info!(
                tenant = %tenant,
                request_id = %id,
                status = response.status().as_u16(),
                reason = refused.reason,
                detail = refused.detail.as_deref().unwrap_or(""),
                "request refused"
            );
        });
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let status = response.status().as_u16().to_string();
    metrics::histogram!("backup_codes_http_request_duration_seconds", "route" => route.clone(), "method" => method.to_string(), "status" => status.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("backup_codes_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    response
}

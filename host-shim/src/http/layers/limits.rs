//! Limits on what one client can make the shim do: requests per minute from one
//! address, and reading the request body within a size and a deadline before
//! any handler runs. (Code attempts per subject are counted by the service,
//! whichever door they come through.)
//!
//! Each view answers a refusal in its own form (JSON for the API, a page for
//! the step), through [`Refuse`].

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;
use crate::http::AppState;

/// Declared bodies over the limit but at most this large are read and thrown
/// away before the 413, so the client gets the answer rather than a reset
/// connection; larger ones are refused at once.
pub const DRAIN_BYTES: u64 = 1 << 20;

/// How a view answers the limits' refusals.
pub trait Refuse {
    /// Too many requests; try again after `wait`.
    fn too_many(wait: Duration) -> Response;
    /// The body is larger than allowed.
    fn too_large() -> Response;
    /// The body did not arrive within the deadline.
    fn body_timeout() -> Response;
    /// The body could not be read (the connection failed).
    fn unreadable() -> Response;
}

/// Per-address request rate limits.
pub struct RateLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimits {
    /// Limits from the configuration.
    pub fn new(limits: &Limits) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(quota(limits.per_ip_per_minute)),
        }
    }

    /// Count a request from `ip`; `Err` holds how long to wait when over the limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        self.per_ip.check_key(&ip).map_err(wait)
    }

    /// Forget keys that are back to a full allowance (bounds memory).
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
    }
}

fn wait(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> Duration {
    not_until.wait_time_from(governor::clock::Clock::now(
        &governor::clock::DefaultClock::default(),
    ))
}

/// The client's address (loopback when the server gave none, as in tests that
/// call the router directly).
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip())
}

/// The shared per-IP allowance, refused the view's way.
pub async fn per_ip<R: Refuse>(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(wait) = state.rates.check_ip(client_ip(&request)) {
        return R::too_many(wait);
    }
    next.run(request).await
}

/// Read the whole body before the handler runs, within the size limit and the
/// body-read deadline: a declared `Content-Length` over the limit is refused
/// (413; at once above [`DRAIN_BYTES`]), a body that does not arrive in time gets
/// 408 (counted), so a slow client holds no handler, engine slot or database
/// connection.
pub async fn read_body<R: Refuse>(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.limits.body_bytes;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let deadline = Duration::from_millis(state.limits.body_read_timeout_ms);
    if let Some(n) = declared.filter(|&n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        if n <= DRAIN_BYTES {
            let drain = async {
                let mut body = body;
                while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {}
            };
            let _ = tokio::time::timeout(deadline, drain).await;
        }
        return R::too_large();
    }
    let limited = http_body_util::Limited::new(body, limit);
    let bytes =
        match tokio::time::timeout(deadline, http_body_util::BodyExt::collect(limited)).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return R::too_large(),
            Ok(Err(_)) => return R::unreadable(),
            Err(_) => {
                metrics::counter!("backup_codes_http_body_timeouts_total").increment(1);
                return R::body_timeout();
            }
        };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

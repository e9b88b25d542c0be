//! The demo's webhook receiver: the demo tenant's endpoint points here
//! (`/demo/webhooks`), so trying the demo shows the events an identity
//! provider would receive. Each delivery is checked as a receiver must check
//! it — the Standard Webhooks signature with the demo endpoint's secret, a
//! timestamp within five minutes, a `webhook-id` seen once — and the last
//! [`KEPT`] are listed at `/demo/events`.

use std::collections::VecDeque;
use std::sync::Mutex;

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::ExposeSecret;

use super::tenant;
use crate::config::{Config, WebhookSecret};
use crate::http::AppState;
use crate::http::demo::english;
use crate::http::layers::headers::Forms;
use crate::http::views::base::Base;
use crate::http::views::pages::render;
use crate::webhooks::sign;

/// How many events the page keeps.
pub const KEPT: usize = 50;
/// The demo endpoint's name in the demo tenant.
pub const ENDPOINT: &str = "demo";
/// Largest accepted clock difference of a delivery, seconds.
const TOLERANCE: i64 = 300;

/// One event as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// The event type (`backup_codes.used`, ...).
    pub kind: String,
    /// The subject.
    pub subject: String,
    /// The subject's sequence number.
    pub seq: i64,
    /// When it happened (RFC 3339).
    pub at: String,
    /// What the body says beyond that (set, numbers, reasons), as JSON.
    pub detail: String,
}

/// What the demo received (empty when the demo is off).
#[derive(Debug, Default)]
pub struct Inbox {
    secret: Option<WebhookSecret>,
    events: Mutex<VecDeque<Received>>,
}

impl Inbox {
    /// An inbox checking with the demo endpoint's secret in `config`.
    pub fn new(config: &Config) -> Self {
        let secret = config
            .tenants
            .get(tenant::TENANT)
            .and_then(|t| t.webhooks.endpoints.get(ENDPOINT))
            .and_then(|e| WebhookSecret::parse(e.secret.expose_secret()).ok());
        Self {
            secret,
            events: Mutex::new(VecDeque::new()),
        }
    }

    /// The events kept, newest first.
    pub fn events(&self) -> Vec<Received> {
        self.events
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Check and keep one delivery; the status to answer.
    fn take(&self, headers: &HeaderMap, body: &[u8], now: i64) -> StatusCode {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(secret), Some(id), Some(ts), Some(signature)) = (
            &self.secret,
            header("webhook-id"),
            header("webhook-timestamp").and_then(|t| t.parse::<i64>().ok()),
            header("webhook-signature"),
        ) else {
            return StatusCode::BAD_REQUEST;
        };
        if (now - ts).abs() > TOLERANCE || !sign::verify(signature, id, ts, body, secret) {
            return StatusCode::UNAUTHORIZED;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return StatusCode::BAD_REQUEST;
        };
        let data = &v["data"];
        let mut detail = data.clone();
        if let Some(d) = detail.as_object_mut() {
            for shown in ["tenant", "subject", "seq", "event", "request_id"] {
                d.remove(shown);
            }
        }
        let received = Received {
            id: id.to_owned(),
            kind: v["type"].as_str().unwrap_or_default().to_owned(),
            subject: data["subject"].as_str().unwrap_or_default().to_owned(),
            seq: data["seq"].as_i64().unwrap_or_default(),
            at: v["timestamp"].as_str().unwrap_or_default().to_owned(),
            detail: detail.to_string(),
        };
        let Ok(mut events) = self.events.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR;
        };
        // A retry of an event already kept is acknowledged, not kept twice.
        if !events.iter().any(|e| e.id == received.id) {
            events.push_front(received);
            events.truncate(KEPT);
        }
        StatusCode::NO_CONTENT
    }
}

/// `POST /demo/webhooks`: a delivery from the shim's worker.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    state.demo_inbox.take(&headers, &body, state.service.now())
}

#[derive(Template)]
#[template(path = "demo/events.html")]
struct EventsPage<'a> {
    c: crate::http::views::chrome::Chrome,
    title: &'a str,
    base: String,
    events: Vec<Received>,
}

/// `GET /demo/events`: what the demo's receiver got.
pub async fn page(State(state): State<AppState>, base: Base) -> Response {
    let page = EventsPage {
        c: english(&state, &base),
        title: "Events received",
        base: base.path(""),
        events: state.demo_inbox.events(),
    };
    render(StatusCode::OK, &page, Forms::Own(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EndpointConfig, TenantConfig};

    fn inbox(secret: &str) -> Inbox {
        let mut config = Config::default();
        let mut tenant = TenantConfig::default();
        tenant.webhooks.endpoints.insert(
            ENDPOINT.into(),
            EndpointConfig {
                url: "http://127.0.0.1:8080/demo/webhooks".parse().unwrap(),
                events: None,
                secret: secret.to_owned().into(),
                previous_secret: None,
            },
        );
        config.tenants.insert(tenant::TENANT.into(), tenant);
        Inbox::new(&config)
    }

    fn signed(secret: &str, id: &str, ts: i64, body: &[u8]) -> HeaderMap {
        let s = WebhookSecret::parse(secret).unwrap();
        let mut h = HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        h.insert(
            "webhook-signature",
            sign::signature_header(id, ts, body, &[&s]).parse().unwrap(),
        );
        h
    }

    #[test]
    fn only_signed_fresh_deliveries_are_kept_once() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let inbox = inbox(secret);
        let body = br#"{"type":"backup_codes.used","timestamp":"2027-01-15T08:00:00Z","data":{"subject":"alice","seq":3,"set_id":"s1","number":2}}"#;
        let now = 1_800_000_000;
        assert_eq!(
            inbox.take(&signed(other, "msg_1", now, body), body, now),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            inbox.take(&signed(secret, "msg_1", now - 301, body), body, now),
            StatusCode::UNAUTHORIZED,
            "too old"
        );
        assert_eq!(
            inbox.take(&HeaderMap::new(), body, now),
            StatusCode::BAD_REQUEST
        );
        assert!(inbox.events().is_empty());
        let h = signed(secret, "msg_1", now, body);
        assert_eq!(inbox.take(&h, body, now), StatusCode::NO_CONTENT);
        assert_eq!(inbox.take(&h, body, now), StatusCode::NO_CONTENT);
        let events = inbox.events();
        assert_eq!(events.len(), 1, "a retry is kept once");
        assert_eq!(
            (
                events[0].kind.as_str(),
                events[0].subject.as_str(),
                events[0].seq
            ),
            ("backup_codes.used", "alice", 3)
        );
        assert_eq!(events[0].detail, r#"{"number":2,"set_id":"s1"}"#);
        for i in 0..KEPT + 5 {
            let id = format!("msg_n{i}");
            inbox.take(&signed(secret, &id, now, body), body, now);
        }
        assert_eq!(inbox.events().len(), KEPT);
        assert_eq!(inbox.events()[0].id, format!("msg_n{}", KEPT + 4));
    }
}

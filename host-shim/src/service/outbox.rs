//! Webhook events from credential changes: which of a tenant's endpoints get
//! an event, the rows the change writes for them (in its own transaction, see
//! [`Effects`](crate::store::Effects)), the request that caused it, and the
//! two signals the delivery worker shares with the service — a wake-up after
//! each commit that wrote rows, and a per-endpoint "outbox full" flag the
//! worker sets when the outbox reaches its bound.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::EventKind;
use crate::plugin::Event;
use crate::store::OutboxRecord;

use super::{ServiceError, describe};

tokio::task_local! {
    /// The id of the HTTP request being served (set by the HTTP layer), so
    /// an event names the request that caused it.
    pub static REQUEST_ID: String;
}

/// The request id of the running task, when it serves one.
fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// One endpoint of a tenant, as the service fans events out to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The endpoint's name in the tenant's configuration.
    pub endpoint: String,
    /// The kinds it receives.
    pub kinds: Vec<EventKind>,
}

/// What the service and the delivery worker share: the worker's wake-up, and
/// one "full" flag per (tenant, endpoint), set by the worker while the outbox
/// is at its bound (new events for it are then dropped, counted and logged;
/// the credential change and its audit rows still land).
#[derive(Debug, Default)]
pub struct OutboxSignals {
    wake: tokio::sync::Notify,
    full: BTreeMap<(String, String), AtomicBool>,
}

impl OutboxSignals {
    /// Signals for these (tenant, endpoint) pairs.
    pub fn new(endpoints: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            full: endpoints
                .into_iter()
                .map(|k| (k, AtomicBool::new(false)))
                .collect(),
        }
    }

    /// Wait until a change wrote outbox rows (a wake-up sent while nobody
    /// waited is kept for the next wait).
    pub async fn written(&self) {
        self.wake.notified().await;
    }

    /// Mark an endpoint's outbox full or not; returns the previous value.
    pub fn set_full(&self, tenant: &str, endpoint: &str, full: bool) -> bool {
        self.full
            .get(&(tenant.to_owned(), endpoint.to_owned()))
            .is_some_and(|f| f.swap(full, Ordering::Relaxed))
    }

    /// Is an endpoint's outbox full?
    pub fn is_full(&self, tenant: &str, endpoint: &str) -> bool {
        self.full
            .get(&(tenant.to_owned(), endpoint.to_owned()))
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// A fresh event id, `msg_` and 32 hex digits: the `webhook-id` receivers
/// de-duplicate by.
fn event_id() -> Result<String, ServiceError> {
    let id = crate::random::hex(16).map_err(|_| ServiceError::Random)?;
    Ok(format!("msg_{id}"))
}

/// The outbox rows for `events` of one change: one per event and endpoint
/// that asked for its kind, all rows of one event sharing its id. Endpoints
/// whose outbox is full get none (counted in
/// `backup_codes_webhook_dropped_total`).
pub(super) fn records(
    tenant: &str,
    routes: &[Route],
    signals: &OutboxSignals,
    events: &[Event],
    at: i64,
) -> Result<Vec<OutboxRecord>, ServiceError> {
    let mut out = Vec::new();
    if routes.is_empty() {
        return Ok(out);
    }
    let request_id = request_id();
    for event in events {
        let (name, detail) = describe(event);
        let Some(kind) = EventKind::from_name(name) else {
            continue;
        };
        let mut id = None;
        for route in routes.iter().filter(|r| r.kinds.contains(&kind)) {
            if signals.is_full(tenant, &route.endpoint) {
                metrics::counter!("backup_codes_webhook_dropped_total", "tenant" => tenant.to_owned(), "endpoint" => route.endpoint.clone()).increment(1);
                tracing::error!(
                    tenant,
                    endpoint = %route.endpoint,
                    kind = name,
                    "webhook outbox full: event dropped for this endpoint (is its receiver gone?)"
                );
                continue;
            }
            let event_id = match &id {
                Some(id) => Clone::clone(id),
                None => id.insert(event_id()?).clone(),
            };
            out.push(OutboxRecord {
                event_id,
                endpoint: route.endpoint.clone(),
                kind: name.to_owned(),
                at,
                detail: detail.to_string(),
                request_id: request_id.clone(),
            });
        }
    }
    Ok(out)
}

/// A tenant's routes from its configuration.
pub fn routes(webhooks: &crate::config::TenantWebhooks) -> Vec<Route> {
    webhooks
        .endpoints
        .iter()
        .map(|(name, e)| Route {
            endpoint: name.clone(),
            kinds: e.kinds(),
        })
        .collect()
}

/// Shared signals for a service's tenants.
pub(super) fn signals(tenants: &BTreeMap<String, super::Tenant>) -> Arc<OutboxSignals> {
    Arc::new(OutboxSignals::new(tenants.iter().flat_map(|(id, t)| {
        t.webhooks
            .iter()
            .map(move |r| (id.clone(), r.endpoint.clone()))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{SetRef, UsedEvent};

    fn used() -> Event {
        Event::Used(UsedEvent {
            set_id: "s1".into(),
            number: 2,
            remaining: 8,
        })
    }

    #[tokio::test]
    async fn events_fan_out_to_the_endpoints_that_asked_and_are_not_full() {
        let routes = vec![
            Route {
                endpoint: "all".into(),
                kinds: EventKind::ALL.to_vec(),
            },
            Route {
                endpoint: "used-only".into(),
                kinds: vec![EventKind::Used],
            },
            Route {
                endpoint: "full".into(),
                kinds: EventKind::ALL.to_vec(),
            },
        ];
        let signals = OutboxSignals::new(
            ["all", "used-only", "full"].map(|e| ("acme".to_owned(), e.to_owned())),
        );
        assert!(!signals.set_full("acme", "full", true));
        let events = [
            used(),
            Event::Exhausted(SetRef {
                set_id: "s1".into(),
            }),
        ];
        let rows = REQUEST_ID
            .scope("req-7".into(), async {
                records("acme", &routes, &signals, &events, 99)
            })
            .await
            .unwrap();
        let seen: Vec<_> = rows
            .iter()
            .map(|r| (r.endpoint.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(
            seen,
            [("all", "used"), ("used-only", "used"), ("all", "exhausted")]
        );
        assert_eq!(rows[0].event_id, rows[1].event_id, "one id per event");
        assert_ne!(rows[0].event_id, rows[2].event_id);
        assert!(rows[0].event_id.starts_with("msg_") && rows[0].event_id.len() == 36);
        assert!(
            rows.iter()
                .all(|r| r.request_id.as_deref() == Some("req-7") && r.at == 99)
        );
        // Outside a request (the CLI) there is no request id.
        let rows = records("acme", &routes, &signals, &events, 99).unwrap();
        assert!(rows.iter().all(|r| r.request_id.is_none()));
        assert!(
            records("acme", &[], &signals, &events, 99)
                .unwrap()
                .is_empty()
        );
    }
}

//! The delivery worker: it leases due rows of the outbox, posts each to its
//! endpoint signed the Standard Webhooks way, and records how it went under
//! its lease — delivered, tried again later (full jitter, a window of a day),
//! or parked as dead. It runs beside the HTTP server with its own small
//! database pool and HTTP client, so a slow receiver or a busy outbox never
//! takes a connection or a thread from a login.
//!
//! Several instances on one PostgreSQL database share the rows: a lease is
//! taken with `FOR UPDATE SKIP LOCKED` and lasts longer than any attempt of a
//! healthy worker (`lease_seconds >= 2 × timeout_ms + 1 s`), so while all are
//! healthy each event goes out once; after a crash its lease runs out and the
//! event goes out again with the same `webhook-id`.
//!
//! Every `sample_interval_ms` the worker counts the outbox for the gauges,
//! marks endpoints whose undelivered rows reached `max_undelivered_rows` as
//! full (the service then drops their new events, counted and logged, while
//! logins go on), and purges old delivered and dead rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use url::Url;

use super::backoff::{Next, Schedule};
use super::{payload, sign};
use crate::config::{Config, SecretError, WebhookSecret, WebhookSettings};
use crate::service::OutboxSignals;
use crate::store::{Completion, OutboxRow, Store, StoreError, now_ms};

/// Why the worker cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Its database pool could not be opened.
    #[error("webhook worker: {0}")]
    Store(#[from] StoreError),
    /// Its HTTP client could not be built.
    #[error("webhook worker HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// An endpoint's secret does not parse (checked at start already).
    #[error("tenants.{0}.webhooks.endpoints.{1}.secret: {2}")]
    Secret(String, String, SecretError),
    /// The retry schedule is unusable (checked at start already).
    #[error("webhooks.retry_schedule_seconds: unusable")]
    Schedule,
}

/// One configured receiver.
struct Endpoint {
    url: Url,
    /// The current secret first.
    secrets: Vec<WebhookSecret>,
}

/// What the worker and its delivery tasks share.
struct Shared {
    store: Store,
    client: reqwest::Client,
    schedule: Schedule,
    endpoints: BTreeMap<(String, String), Endpoint>,
}

/// The delivery worker of one shim instance.
pub struct Worker {
    shared: Arc<Shared>,
    settings: WebhookSettings,
    signals: Arc<OutboxSignals>,
    instance: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field(
                "endpoints",
                &self.shared.endpoints.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The User-Agent of deliveries.
const USER_AGENT: &str = concat!("backup-codes-shim/", env!("CARGO_PKG_VERSION"));
/// The most of a receiver's answer read (then dropped).
const MAX_ANSWER_BYTES: usize = 1024;

fn random_hex(bytes: usize) -> String {
    // A lease token only has to differ between claims; a failing random
    // source still leaves the instance prefix and the claim counter.
    crate::random::hex(bytes).unwrap_or_default()
}

/// A uniform draw in `[0, 1)` for the jitter (the full ceiling when the
/// random source fails: waiting longer is the safe side).
fn draw() -> f64 {
    crate::random::unit().unwrap_or(1.0 - f64::EPSILON)
}

impl Worker {
    /// The worker for `config`'s endpoints, sharing `signals` with the
    /// service; `None` when no tenant has an endpoint.
    pub async fn new(
        config: &Config,
        signals: Arc<OutboxSignals>,
    ) -> Result<Option<Self>, WorkerError> {
        let mut endpoints = BTreeMap::new();
        for (tenant, t) in &config.tenants {
            for (name, e) in &t.webhooks.endpoints {
                let secrets = e
                    .secrets()
                    .map_err(|err| WorkerError::Secret(tenant.clone(), name.clone(), err))?;
                endpoints.insert(
                    (tenant.clone(), name.clone()),
                    Endpoint {
                        url: e.url.clone(),
                        secrets,
                    },
                );
            }
        }
        if endpoints.is_empty() {
            return Ok(None);
        }
        let settings = config.webhooks.clone();
        let schedule = Schedule::new(&settings.retry_schedule_seconds, settings.retry_for_seconds)
            .ok_or(WorkerError::Schedule)?;
        let timeout = Duration::from_millis(settings.timeout_ms);
        let client = crate::auth::client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(USER_AGENT)
            .build()?;
        // Its own pool: deliveries never wait for, or hold, a login's connection.
        let store = Store::connect(&config.database_url, 2).await?;
        Ok(Some(Self {
            shared: Arc::new(Shared {
                store,
                client,
                schedule,
                endpoints,
            }),
            settings,
            signals,
            instance: random_hex(4),
        }))
    }

    /// Deliver until `shutdown` resolves, then let deliveries in flight end
    /// (each is bounded by the timeout) and return.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let capacity = usize::try_from(self.settings.concurrency).unwrap_or(1);
        let lease_ms = i64::try_from(self.settings.lease_seconds)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        let mut sample =
            tokio::time::interval(Duration::from_millis(self.settings.sample_interval_ms));
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_flight = JoinSet::new();
        let mut claims: u64 = 0;
        loop {
            let free = capacity.saturating_sub(in_flight.len());
            let mut claimed_all = false;
            if free > 0 {
                claims += 1;
                let token: Arc<str> =
                    format!("{}-{claims}-{}", self.instance, random_hex(8)).into();
                let now = now_ms();
                let limit = i64::try_from(free).unwrap_or(1);
                match self
                    .shared
                    .store
                    .claim_outbox(now, now.saturating_add(lease_ms), limit, &token)
                    .await
                {
                    Ok(rows) => {
                        claimed_all = rows.len() == free;
                        for row in rows {
                            let shared = Arc::clone(&self.shared);
                            let token = Arc::clone(&token);
                            in_flight.spawn(async move { attempt(&shared, row, &token).await });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "leasing webhook rows failed"),
                }
            }
            // A full claim may have left due rows behind: claim again as soon
            // as a delivery ends. Otherwise wait for news.
            let wait = if claimed_all {
                Duration::from_secs(3600)
            } else {
                poll
            };
            tokio::select! {
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                () = self.signals.written() => {}
                () = tokio::time::sleep(wait) => {}
                _ = sample.tick() => self.sample().await,
                () = &mut shutdown => break,
            }
        }
        while in_flight.join_next().await.is_some() {}
        self.shared.store.close().await;
    }

    /// Gauges, the outbox bound and purging.
    async fn sample(&self) {
        let store = &self.shared.store;
        let now = now_ms();
        let keep = |seconds: u64| {
            now.saturating_sub(
                i64::try_from(seconds)
                    .unwrap_or(i64::MAX / 1000)
                    .saturating_mul(1000),
            )
        };
        if let Err(e) = store
            .purge_outbox(
                keep(self.settings.retain_delivered_seconds),
                keep(self.settings.retain_dead_seconds),
            )
            .await
        {
            tracing::warn!(error = %e, "purging the webhook outbox failed");
        }
        let counts = match store.outbox_counts().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "counting the webhook outbox failed");
                return;
            }
        };
        let limit = self.settings.max_undelivered_rows;
        for (tenant, endpoint) in self.shared.endpoints.keys() {
            let of = |state: &str| {
                counts
                    .iter()
                    .find(|c| &c.tenant == tenant && &c.endpoint == endpoint && c.state == state)
            };
            let pending = of("pending").map_or(0, |c| c.rows);
            let dead = of("dead").map_or(0, |c| c.rows);
            let oldest = of("pending").map_or(0, |c| now.saturating_sub(c.oldest_ms) / 1000);
            let labels = [("tenant", tenant.clone()), ("endpoint", endpoint.clone())];
            metrics::gauge!("backup_codes_webhook_pending", &labels).set(pending as f64);
            metrics::gauge!("backup_codes_webhook_dead", &labels).set(dead as f64);
            metrics::gauge!("backup_codes_webhook_oldest_pending_seconds", &labels)
                .set(oldest as f64);
            metrics::gauge!("backup_codes_webhook_undelivered_limit", &labels).set(limit as f64);
            let undelivered = u64::try_from(pending.saturating_add(dead)).unwrap_or(0);
            let full = undelivered >= limit;
            metrics::gauge!("backup_codes_webhook_outbox_full", &labels).set(if full {
                1.0
            } else {
                0.0
            });
            let was = self.signals.set_full(tenant, endpoint, full);
            if full && !was {
                tracing::error!(
                    tenant = %tenant,
                    endpoint = %endpoint,
                    pending,
                    dead,
                    limit,
                    "webhook outbox full for this endpoint: its new events are dropped until \
                     deliveries resume (is its receiver gone?); see `webhooks list --state dead`"
                );
            } else if was && !full {
                tracing::info!(tenant = %tenant, endpoint = %endpoint, "webhook outbox below its bound again");
            }
        }
    }
}

/// How one attempt ended, before the schedule has its say.
struct Tried {
    status: Option<u16>,
    /// Delivered (2xx).
    ok: bool,
    /// The receiver said it wants no more (410 Gone).
    gone: bool,
    retry_after: Option<u64>,
    error: &'static str,
}

/// One attempt of one leased row, and its completion under the lease.
#[tracing::instrument(skip_all, fields(event_id = %row.event_id, tenant = %row.tenant, endpoint = %row.endpoint, kind = %row.kind))]
async fn attempt(shared: &Shared, row: OutboxRow, token: &str) {
    let key = (row.tenant.clone(), row.endpoint.clone());
    let labels = [
        ("tenant", row.tenant.clone()),
        ("endpoint", row.endpoint.clone()),
    ];
    let started = Instant::now();
    let tried = match shared.endpoints.get(&key) {
        Some(endpoint) => post(shared, endpoint, &row).await,
        // Another instance may know it (a configuration being rolled out):
        // tried again later, dead when its window ends.
        None => Tried {
            status: None,
            ok: false,
            gone: false,
            retry_after: None,
            error: "endpoint not configured on this instance",
        },
    };
    metrics::histogram!("backup_codes_webhook_attempt_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    let now = now_ms();
    let completion = if tried.ok {
        Completion::Delivered {
            status: tried.status.unwrap_or(200),
        }
    } else if tried.gone {
        Completion::Dead {
            status: tried.status,
            error: "gone".into(),
        }
    } else {
        let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        match shared
            .schedule
            .next(attempts, row.window_ms, now, tried.retry_after, draw())
        {
            Next::At(next_ms) => Completion::Retry {
                next_ms,
                status: tried.status,
                error: tried.error.into(),
            },
            Next::Dead => Completion::Dead {
                status: tried.status,
                error: tried.error.into(),
            },
        }
    };
    let done = shared
        .store
        .complete_outbox(&row.event_id, &row.endpoint, token, now, &completion)
        .await;
    let event_id = row.event_id.as_str();
    match (&completion, done) {
        (_, Err(e)) => {
            // The lease runs out and the row is sent again, same id.
            tracing::warn!(event_id, error = %e, "recording a webhook attempt failed");
        }
        (_, Ok(false)) => {
            tracing::warn!(
                event_id,
                "a webhook attempt outlived its lease; another worker has the row"
            );
        }
        (Completion::Delivered { .. }, Ok(true)) => {
            metrics::counter!("backup_codes_webhook_delivered_total", &labels).increment(1);
            let latency = now.saturating_sub(row.created_ms).max(0) as f64 / 1000.0;
            metrics::histogram!("backup_codes_webhook_delivery_latency_seconds", &labels)
                .record(latency);
            tracing::debug!("webhook delivered");
            // The receiver is back: its waiting retries go now.
            if let Err(e) = shared
                .store
                .fast_forward_outbox(&row.tenant, &row.endpoint, now)
                .await
            {
                tracing::warn!(error = %e, "fast-forwarding webhook retries failed");
            }
        }
        (Completion::Retry { next_ms, error, .. }, Ok(true)) => {
            metrics::counter!("backup_codes_webhook_retried_total", &labels).increment(1);
            tracing::warn!(status = ?tried.status, error = %error, attempts = row.attempts,
                retry_in_ms = next_ms - now, "webhook delivery failed; will retry");
        }
        (Completion::Dead { error, .. }, Ok(true)) => {
            metrics::counter!("backup_codes_webhook_dead_total", &labels).increment(1);
            tracing::error!(status = ?tried.status, error = %error, attempts = row.attempts,
                "webhook parked as dead (replay with `webhooks replay`)");
        }
    }
}

/// Post a row's event to its endpoint.
async fn post(shared: &Shared, endpoint: &Endpoint, row: &OutboxRow) -> Tried {
    let failed = |status, error| Tried {
        status,
        ok: false,
        gone: false,
        retry_after: None,
        error,
    };
    let Some(body) = payload::render_row(row) else {
        return failed(None, "unreadable row");
    };
    let timestamp = now_ms() / 1000;
    let secrets: Vec<&WebhookSecret> = endpoint.secrets.iter().collect();
    let signature = sign::signature_header(&row.event_id, timestamp, &body, &secrets);
    let sent = shared
        .client
        .post(endpoint.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &row.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let mut answer = match sent {
        Ok(a) => a,
        Err(e) => {
            let class = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "request"
            };
            return failed(None, class);
        }
    };
    let status = answer.status();
    let retry_after = answer
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_seconds);
    // Read a little of the answer (so the connection can be reused), never
    // keep or log it.
    let mut read = 0usize;
    while read < MAX_ANSWER_BYTES {
        match answer.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
    Tried {
        status: Some(status.as_u16()),
        ok: status.is_success(),
        gone: status == reqwest::StatusCode::GONE,
        retry_after,
        error: if status.is_redirection() {
            "redirect"
        } else {
            "status"
        },
    }
}

/// A `Retry-After` value in seconds from now: delay-seconds or an HTTP date.
fn retry_after_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    let from_now = at.as_second().saturating_sub(now_ms() / 1000);
    u64::try_from(from_now).ok()
}

/// Start `worker` on the runtime; returns its task and the handle that stops it.
pub fn spawn(
    worker: Worker,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    (task, stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        assert_eq!(retry_after_seconds("120"), Some(120));
        assert_eq!(retry_after_seconds(" 7 "), Some(7));
        assert_eq!(
            retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"),
            None,
            "past"
        );
        let future = jiff::Timestamp::from_second(now_ms() / 1000 + 90)
            .unwrap()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let s = retry_after_seconds(&future).unwrap();
        assert!((85..=90).contains(&s), "{s}");
        assert_eq!(retry_after_seconds("soon"), None);
    }

    #[test]
    fn draws_are_in_the_unit_interval() {
        for _ in 0..1000 {
            let d = draw();
            assert!((0.0..1.0).contains(&d));
        }
    }
}

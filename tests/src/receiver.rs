//! A webhook receiver on loopback, as an identity provider would run one: it
//! records every delivery (arrival order, `webhook-id`, the body's subject,
//! kind and sequence number, whether the signature verifies) and can be up,
//! down (its port closed), failing (a status of choice), slow, or holding
//! every request until released.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use backup_codes_shim::webhooks::sign::{self, WebhookSecret};
use serde_json::Value;

use crate::HarnessError;

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 204 at once.
    Up,
    /// This status at once.
    Status(u16),
    /// 204 after this long.
    Slow(Duration),
    /// No answer until the mode changes.
    Hold,
}

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// The signature verified with one of the receiver's secrets.
    pub verified: bool,
    /// The parsed body.
    pub body: Value,
    /// The raw body.
    pub raw: Vec<u8>,
    /// The answer given (0 while it is being answered, or when the sender
    /// went away first).
    pub answered: u16,
    /// When it arrived (Unix milliseconds).
    pub arrived_ms: i64,
}

impl Delivery {
    /// The body's subject.
    pub fn subject(&self) -> &str {
        self.body["data"]["subject"].as_str().unwrap_or_default()
    }

    /// The body's per-subject sequence number.
    pub fn seq(&self) -> i64 {
        self.body["data"]["seq"].as_i64().unwrap_or(-1)
    }

    /// The body's event kind (`used`, ...).
    pub fn kind(&self) -> &str {
        self.body["data"]["event"].as_str().unwrap_or_default()
    }
}

/// Counts a request as in flight until its handler ends or is dropped.
struct Leaving<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

struct Shared {
    mode: tokio::sync::watch::Sender<Mode>,
    secrets: Vec<WebhookSecret>,
    got: Mutex<Vec<Delivery>>,
    in_flight: std::sync::atomic::AtomicUsize,
}

/// The receiver.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A fresh `whsec_` secret (24..=64 random bytes).
pub fn new_secret() -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 32];
    let _ = getrandom::fill(&mut raw);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    use std::sync::atomic::Ordering;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp").parse().unwrap_or(0);
    let signature = header("webhook-signature");
    let verified = shared
        .secrets
        .iter()
        .any(|s| sign::verify(&signature, &id, timestamp, &body, s));
    // Recorded on arrival: a request cut off (the sender killed) stays with
    // `answered` 0.
    let index = shared.got.lock().map_or(usize::MAX, |mut got| {
        got.push(Delivery {
            id,
            timestamp,
            verified,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            raw: body.to_vec(),
            answered: 0,
            arrived_ms: backup_codes_shim::store::now_ms(),
        });
        got.len() - 1
    });
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let _leaving = Leaving(&shared.in_flight);
    let mut mode = shared.mode.subscribe();
    let answer = loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Up => break 204,
            Mode::Status(s) => break s,
            Mode::Slow(d) => {
                tokio::time::sleep(d).await;
                break 204;
            }
            Mode::Hold => {
                if mode.changed().await.is_err() {
                    break 503;
                }
            }
        }
    };
    if let Ok(mut got) = shared.got.lock()
        && let Some(d) = got.get_mut(index)
    {
        d.answered = answer;
    }
    StatusCode::from_u16(answer).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Receiver {
    /// Start on a free loopback port, verifying with `secrets`.
    pub async fn start(secrets: &[&str]) -> Result<Self, HarnessError> {
        let secrets = secrets
            .iter()
            .map(|s| WebhookSecret::parse(s).map_err(|e| HarnessError(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode: tokio::sync::watch::channel(Mode::Up).0,
            secrets,
            got: Mutex::new(Vec::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        });
        let mut receiver = Self {
            addr,
            shared,
            server: None,
        };
        receiver.serve(listener);
        Ok(receiver)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/hooks", post(receive))
            .with_state(Arc::clone(&self.shared));
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// Change how it answers.
    pub fn set(&self, mode: Mode) {
        self.shared.mode.send_replace(mode);
    }

    /// Close its port (connections are refused).
    pub fn down(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }

    /// Open its port again (the same one).
    pub async fn up(&mut self) -> Result<(), HarnessError> {
        self.down();
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.set(Mode::Up);
        self.serve(listener);
        Ok(())
    }

    /// Every delivery so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared
            .got
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    /// Requests it is answering right now.
    pub fn in_flight(&self) -> usize {
        self.shared
            .in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wait until `done` holds for the deliveries (checked every 50 ms), at
    /// most `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Result<Vec<Delivery>, HarnessError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.deliveries();
            if done(&got) {
                return Ok(got);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(HarnessError(format!(
                    "receiver: condition not met within {within:?}; {} deliveries",
                    got.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

/// Checks on what a receiver got: every id of `expected` received, each
/// verified, and per subject the first receipts in strictly increasing
/// `seq` without gaps. Returns a description of the first problem.
pub fn check_in_order(got: &[Delivery], expected: &[String]) -> Result<(), String> {
    use std::collections::{BTreeMap, BTreeSet};
    if let Some(bad) = got.iter().find(|d| !d.verified) {
        return Err(format!("{} did not verify", bad.id));
    }
    let received: BTreeSet<&str> = got.iter().map(|d| d.id.as_str()).collect();
    if let Some(missing) = expected.iter().find(|e| !received.contains(e.as_str())) {
        return Err(format!("{missing} never arrived"));
    }
    let mut first: BTreeSet<&str> = BTreeSet::new();
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for d in got.iter().filter(|d| (200..300).contains(&d.answered)) {
        if !first.insert(d.id.as_str()) {
            continue;
        }
        let prev = last.insert(d.subject(), d.seq());
        if let Some(p) = prev
            && d.seq() != p + 1
        {
            return Err(format!(
                "{}: seq {} after {p} (out of order or a gap)",
                d.subject(),
                d.seq()
            ));
        }
    }
    Ok(())
}

//! The load's clients: each a closed loop of verifies through the JSON API
//! (wrong but well-formed codes, a right code every `right_every` attempts),
//! on subjects of its own, with what they saw tallied.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::shim::{Shim, Subject, TokenKey, cpu_of, enrol, memory_of, token};
use crate::BoxResult;

/// What the clients of one run saw.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Latencies of answered verifies (200), seconds.
    pub(super) latencies: Vec<f64>,
    /// Responses by status code.
    pub(super) statuses: BTreeMap<u16, u64>,
    /// 503 responses that carried `Retry-After`.
    pub(super) retry_after: u64,
    /// Transport errors and unexpected outcomes.
    pub(super) errors: Vec<String>,
    /// Clients that ran out of right codes (setup too small).
    pub(super) starved: u64,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.retry_after += other.retry_after;
        self.errors.extend(other.errors);
        self.starved += other.starved;
    }

    pub(super) fn non_200(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(k, _)| **k != 200)
            .map(|(_, v)| *v)
            .sum()
    }
}

pub(super) struct Client {
    subjects: Vec<Subject>,
    wrong: String,
    right_every: usize,
}

/// One client: closed loop until `stop`; latencies recorded once `record` is set.
async fn client(
    http: reqwest::Client,
    url: String,
    tenant: String,
    key: TokenKey,
    mut me: Client,
    stop: Arc<AtomicBool>,
    record: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut attempt = 0usize;
    while !stop.load(Ordering::Relaxed) {
        attempt += 1;
        let right = attempt.is_multiple_of(me.right_every);
        // Drop subjects whose codes are used up.
        while me.subjects.first().is_some_and(|s| s.codes.is_empty()) {
            me.subjects.remove(0);
        }
        let Some(subject) = me.subjects.first_mut() else {
            tally.starved += 1;
            break;
        };
        let code = if right {
            subject.codes.pop().unwrap_or_default()
        } else {
            me.wrong.clone()
        };
        let Ok(bearer) = token(&key, &subject.id) else {
            tally.errors.push("token".into());
            continue;
        };
        let started = Instant::now();
        let sent = http
            .post(format!(
                "{url}/v1/tenants/{tenant}/subjects/{}/codes/verify",
                subject.id
            ))
            .bearer_auth(bearer)
            .json(&json!({ "code": code }))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                tally.errors.push(format!("transport: {e}"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let retry = response.headers().contains_key("retry-after");
        let body = response.json::<Value>().await;
        let elapsed = started.elapsed().as_secs_f64();
        let recording = record.load(Ordering::Relaxed);
        if recording {
            *tally.statuses.entry(status).or_default() += 1;
        }
        match (status, body) {
            (200, Ok(v)) => {
                let expected = if right { "accepted" } else { "rejected" };
                if v["result"] != expected {
                    tally.errors.push(format!("expected {expected}, got {v}"));
                } else if recording {
                    tally.latencies.push(elapsed);
                }
            }
            (503, _) => {
                if recording && retry {
                    tally.retry_after += 1;
                }
                if right {
                    // The code was not used: try it again later.
                    subject.codes.push(code);
                }
            }
            (s, b) => {
                if recording {
                    tally.errors.push(format!("status {s}: {b:?}"));
                }
            }
        }
    }
    tally
}

/// Result of one run.
pub(super) struct RunResult {
    pub(super) clients: usize,
    pub(super) tally: Tally,
    pub(super) seconds: f64,
    pub(super) shim_cpu: f64,
    pub(super) rss_peak_sampled: u64,
}

impl RunResult {
    pub(super) fn answered(&self) -> usize {
        self.tally.latencies.len()
    }

    #[allow(clippy::cast_precision_loss)]
    pub(super) fn throughput(&self) -> f64 {
        self.answered() as f64 / self.seconds
    }
}

pub(super) async fn run_clients(
    shim: &Shim,
    clients: Vec<Client>,
    warmup: f64,
    seconds: f64,
) -> BoxResult<RunResult> {
    let n = clients.len();
    let stop = Arc::new(AtomicBool::new(false));
    let record = Arc::new(AtomicBool::new(false));
    let http = backup_codes_shim::http_client()
        .pool_max_idle_per_host(n.max(1))
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut tasks = Vec::new();
    for c in clients {
        tasks.push(tokio::spawn(client(
            http.clone(),
            shim.url.clone(),
            shim.tenant.clone(),
            shim.key.clone(),
            c,
            Arc::clone(&stop),
            Arc::clone(&record),
        )));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    record.store(true, Ordering::Relaxed);
    let cpu0 = cpu_of(shim.pid);
    let started = Instant::now();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, stop, pid) = (Arc::clone(&peak), Arc::clone(&stop), shim.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory_of(pid).1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    record.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let shim_cpu = cpu_of(shim.pid) - cpu0;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    for t in tasks {
        tally.merge(t.await?);
    }
    let _ = sampler.await;
    Ok(RunResult {
        clients: n,
        tally,
        seconds: elapsed,
        shim_cpu,
        rss_peak_sampled: peak.load(Ordering::Relaxed),
    })
}

/// Enough subjects for `clients` clients over `seconds` at up to `rate` req/s.
pub(super) async fn prepare_clients(
    http: &reqwest::Client,
    shim: &Shim,
    tag: &str,
    clients: usize,
    attempts_per_client: usize,
    right_every: usize,
    wrong: &str,
) -> BoxResult<Vec<Client>> {
    let rights = attempts_per_client / right_every.max(1) + 1;
    let per_client = rights.div_ceil(10).max(1);
    let mut out = Vec::new();
    for c in 0..clients {
        let mut subjects = Vec::new();
        for s in 0..per_client {
            subjects.push(enrol(http, shim, &format!("{tag}-c{c}-s{s}")).await?);
        }
        out.push(Client {
            subjects,
            wrong: wrong.to_owned(),
            right_every: right_every.max(2),
        });
    }
    Ok(out)
}

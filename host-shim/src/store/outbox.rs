//! The webhook outbox (migration 0004): rows written beside a credential
//! change, leased by delivery workers, completed under their lease.
//!
//! Only the head of a queue (the lowest pending `seq` of one endpoint, tenant
//! and subject) can be leased, so one subject's events go out one at a time
//! and in order. On PostgreSQL the lease is taken with `FOR UPDATE SKIP
//! LOCKED`, so instances sharing the database never block on, or both take,
//! one row; on SQLite it is one `UPDATE … RETURNING` under the write lock.
//! Every completion names the lease token: a worker whose lease ran out (it
//! stalled, or another instance took the row over) changes nothing.

use sqlx::Row as _;

use super::{Backend, Store, StoreError};

/// One event for one endpoint, as the swap transaction writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// The event's id, sent as `webhook-id`: the same for every endpoint of
    /// the event and every attempt.
    pub event_id: String,
    /// The endpoint's name in the tenant's configuration.
    pub endpoint: String,
    /// The event's kind (`used`, `low`, ...).
    pub kind: String,
    /// When it happened (Unix seconds).
    pub at: i64,
    /// Its audit detail (JSON; never a code).
    pub detail: String,
    /// The request that caused it, when one did.
    pub request_id: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The receiver took it (2xx).
    Delivered {
        /// The status it answered.
        status: u16,
    },
    /// Try again at `next_ms` (Unix milliseconds).
    Retry {
        /// When.
        next_ms: i64,
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// A short class of the failure (`timeout`, `connect`, `status`),
        /// never the receiver's body.
        error: String,
    },
    /// Give up: the retry window is over, or the receiver said 410 Gone.
    Dead {
        /// The status, when the receiver answered.
        status: Option<u16>,
        /// A short class of the failure.
        error: String,
    },
}

/// How many rows one tenant's endpoint has in one state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxCount {
    /// The tenant.
    pub tenant: String,
    /// The endpoint.
    pub endpoint: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    /// Rows.
    pub rows: i64,
    /// The oldest row's creation (Unix milliseconds).
    pub oldest_ms: i64,
}

/// The columns of an [`OutboxRow`], in its order, each after the prefix `$p`
/// (`"w."` where the table is aliased; SQLite's `RETURNING` takes bare names).
macro_rules! columns {
    ($p:literal) => {
        concat!(
            $p,
            "event_id, ",
            $p,
            "endpoint, ",
            $p,
            "tenant, ",
            $p,
            "subject, ",
            $p,
            "seq, ",
            $p,
            "kind, ",
            $p,
            "at, ",
            $p,
            "detail, ",
            $p,
            "request_id, ",
            $p,
            "state, ",
            $p,
            "attempts, ",
            $p,
            "created_ms, ",
            $p,
            "window_ms, ",
            $p,
            "next_attempt_ms, ",
            $p,
            "last_attempt_ms, ",
            $p,
            "last_status, ",
            $p,
            "last_error, ",
            $p,
            "delivered_ms"
        )
    };
}

/// Rows a worker may lease at `$1`: pending, due, not leased, and the head of
/// their queue (alias `o`).
macro_rules! claimable {
    () => {
        "o.state = 'pending' AND o.next_attempt_ms <= $1 \
         AND (o.lease_until_ms IS NULL OR o.lease_until_ms <= $1) \
         AND NOT EXISTS (SELECT 1 FROM webhook_outbox e WHERE e.state = 'pending' \
         AND e.endpoint = o.endpoint AND e.tenant = o.tenant AND e.subject = o.subject \
         AND e.seq < o.seq)"
    };
}

/// Is anything claimable? (An idle poll reads; it does not take SQLite's
/// write lock.)
const PROBE: &str = concat!(
    "SELECT 1 FROM webhook_outbox o WHERE ",
    claimable!(),
    " LIMIT 1"
);

const CLAIM_POSTGRES: &str = concat!(
    "WITH picked AS MATERIALIZED (SELECT o.event_id, o.endpoint FROM webhook_outbox o WHERE ",
    claimable!(),
    " ORDER BY o.next_attempt_ms LIMIT $3 FOR UPDATE SKIP LOCKED) \
     UPDATE webhook_outbox w SET lease_until_ms = $2, lease_token = $4, \
     attempts = w.attempts + 1, last_attempt_ms = $1 \
     FROM picked WHERE w.event_id = picked.event_id AND w.endpoint = picked.endpoint \
     RETURNING ",
    columns!("w.")
);

const CLAIM_SQLITE: &str = concat!(
    "UPDATE webhook_outbox SET lease_until_ms = $2, lease_token = $4, \
     attempts = attempts + 1, last_attempt_ms = $1 \
     WHERE (event_id, endpoint) IN (SELECT o.event_id, o.endpoint FROM webhook_outbox o WHERE ",
    claimable!(),
    " ORDER BY o.next_attempt_ms LIMIT $3) RETURNING ",
    columns!("")
);

/// Write `records` for `tenant`/`subject` inside the swap's transaction,
/// numbering them after the subject's last sequence number.
pub(super) async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: &str,
    subject: &str,
    now_ms: i64,
    records: &[OutboxRecord],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    // One sequence number per event, shared by its endpoints' rows.
    let mut events: Vec<&str> = Vec::new();
    for r in records {
        if !events.contains(&r.event_id.as_str()) {
            events.push(&r.event_id);
        }
    }
    let n = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query(
        "INSERT INTO webhook_sequences (tenant, subject, last_seq) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant, subject) DO UPDATE SET last_seq = webhook_sequences.last_seq + $4 \
         RETURNING last_seq",
    )
    .bind(tenant)
    .bind(subject)
    .bind(n)
    .bind(n)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    let first = last - n + 1;
    for r in records {
        let index = events.iter().position(|e| *e == r.event_id).unwrap_or(0);
        let seq = first + i64::try_from(index).unwrap_or(0);
        sqlx::query(
            "INSERT INTO webhook_outbox (event_id, endpoint, tenant, subject, seq, kind, at, \
             detail, request_id, state, attempts, created_ms, window_ms, next_attempt_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $11, $12)",
        )
        .bind(&r.event_id)
        .bind(&r.endpoint)
        .bind(tenant)
        .bind(subject)
        .bind(seq)
        .bind(&r.kind)
        .bind(r.at)
        .bind(&r.detail)
        .bind(r.request_id.as_deref())
        .bind(now_ms)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Lease up to `limit` claimable rows at `now_ms` until `lease_until_ms`
    /// under `token` (fresh and random per claim), counting the attempt.
    pub async fn claim_outbox(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
        token: &str,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let any = sqlx::query(PROBE)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let sql = match self.backend {
            Backend::Postgres => CLAIM_POSTGRES,
            Backend::Sqlite => CLAIM_SQLITE,
        };
        let rows = sqlx::query(sql)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(limit)
            .bind(token)
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows.iter().map(outbox_row).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|l| (l.created_ms, l.seq));
        Ok(out)
    }

    /// End an attempt of a row leased under `token`. Returns false when the
    /// lease was lost (nothing changed).
    pub async fn complete_outbox(
        &self,
        event_id: &str,
        endpoint: &str,
        token: &str,
        now_ms: i64,
        completion: &Completion,
    ) -> Result<bool, StoreError> {
        let status = |s: Option<u16>| s.map(i64::from);
        let query = match completion {
            Completion::Delivered { status: s } => sqlx::query(
                "UPDATE webhook_outbox SET state = 'delivered', delivered_ms = $1, \
                 last_status = $2, last_error = NULL, lease_until_ms = NULL, lease_token = NULL \
                 WHERE event_id = $3 AND endpoint = $4 AND lease_token = $5 AND state = 'pending'",
            )
            .bind(now_ms)
            .bind(i64::from(*s)),
            Completion::Retry {
                next_ms, status: s, ..
            } => sqlx::query(
                "UPDATE webhook_outbox SET next_attempt_ms = $1, last_status = $2, \
                 last_error = $6, lease_until_ms = NULL, lease_token = NULL \
                 WHERE event_id = $3 AND endpoint = $4 AND lease_token = $5 AND state = 'pending'",
            )
            .bind(*next_ms)
            .bind(status(*s)),
            Completion::Dead { status: s, .. } => sqlx::query(
                "UPDATE webhook_outbox SET state = 'dead', last_attempt_ms = $1, last_status = $2, \
                 last_error = $6, lease_until_ms = NULL, lease_token = NULL \
                 WHERE event_id = $3 AND endpoint = $4 AND lease_token = $5 AND state = 'pending'",
            )
            .bind(now_ms)
            .bind(status(*s)),
        };
        let query = query.bind(event_id).bind(endpoint).bind(token);
        let query = match completion {
            Completion::Delivered { .. } => query,
            Completion::Retry { error, .. } | Completion::Dead { error, .. } => {
                query.bind(error.as_str())
            }
        };
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// After a delivery to a tenant's `endpoint` worked, make its waiting retries due
    /// now: a receiver that is back drains at once, not after its backoff.
    pub async fn fast_forward_outbox(
        &self,
        tenant: &str,
        endpoint: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE webhook_outbox SET next_attempt_ms = $1 WHERE state = 'pending' \
             AND tenant = $2 AND endpoint = $3 AND attempts > 0 AND next_attempt_ms > $1 \
             AND (lease_until_ms IS NULL OR lease_until_ms <= $1)",
        )
        .bind(now_ms)
        .bind(tenant)
        .bind(endpoint)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Rows by tenant, endpoint and state.
    pub async fn outbox_counts(&self) -> Result<Vec<OutboxCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, endpoint, state, COUNT(*), MIN(created_ms) FROM webhook_outbox \
             GROUP BY tenant, endpoint, state ORDER BY tenant, endpoint, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxCount {
                    tenant: r.try_get(0)?,
                    endpoint: r.try_get(1)?,
                    state: r.try_get(2)?,
                    rows: r.try_get(3)?,
                    oldest_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Forget delivered rows written before `delivered_before` and dead ones
    /// written before `dead_before` (Unix milliseconds).
    pub async fn purge_outbox(
        &self,
        delivered_before: i64,
        dead_before: i64,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM webhook_outbox WHERE (state = 'delivered' AND created_ms < $1) \
             OR (state = 'dead' AND created_ms < $2)",
        )
        .bind(delivered_before)
        .bind(dead_before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

/// One outbox row: what the body is made of and how delivery went, never a
/// secret; as the worker leases it and as operators list it
/// (`backup-codes-shim webhooks list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxRow {
    /// The event's id (`webhook-id`).
    pub event_id: String,
    /// The endpoint's name.
    pub endpoint: String,
    /// The tenant.
    pub tenant: String,
    /// The subject.
    pub subject: String,
    /// The event's place in the subject's events.
    pub seq: i64,
    /// Its kind.
    pub kind: String,
    /// When it happened (Unix seconds).
    pub at: i64,
    /// Its audit detail (JSON).
    pub detail: String,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it was written (Unix milliseconds).
    pub created_ms: i64,
    /// When its retry window opened (Unix milliseconds; a replay opens a new one).
    pub window_ms: i64,
    /// When it is tried next, while pending (Unix milliseconds).
    pub next_attempt_ms: i64,
    /// When it was last tried (Unix milliseconds).
    pub last_attempt_ms: Option<i64>,
    /// The receiver's last status, when it answered.
    pub last_status: Option<i64>,
    /// The last failure's class (`timeout`, `connect`, `status`, `gone`, ...).
    pub last_error: Option<String>,
    /// When it was delivered (Unix milliseconds).
    pub delivered_ms: Option<i64>,
}

/// Which rows to list (every field optional).
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter<'a> {
    /// Only this tenant's.
    pub tenant: Option<&'a str>,
    /// Only this endpoint's.
    pub endpoint: Option<&'a str>,
    /// Only rows in this state.
    pub state: Option<&'a str>,
    /// Only this event's.
    pub event_id: Option<&'a str>,
    /// At most this many (oldest first).
    pub limit: i64,
}

fn outbox_row(row: &sqlx::any::AnyRow) -> Result<OutboxRow, sqlx::Error> {
    Ok(OutboxRow {
        event_id: row.try_get(0)?,
        endpoint: row.try_get(1)?,
        tenant: row.try_get(2)?,
        subject: row.try_get(3)?,
        seq: row.try_get(4)?,
        kind: row.try_get(5)?,
        at: row.try_get(6)?,
        detail: row.try_get(7)?,
        request_id: row.try_get(8)?,
        state: row.try_get(9)?,
        attempts: row.try_get(10)?,
        created_ms: row.try_get(11)?,
        window_ms: row.try_get(12)?,
        next_attempt_ms: row.try_get(13)?,
        last_attempt_ms: row.try_get(14)?,
        last_status: row.try_get(15)?,
        last_error: row.try_get(16)?,
        delivered_ms: row.try_get(17)?,
    })
}

/// `column = $n`, or any value when the parameter is NULL (typed, so both
/// engines accept a NULL there).
macro_rules! optional {
    ($column:literal, $n:literal) => {
        concat!(
            "(CAST($",
            $n,
            " AS TEXT) IS NULL OR ",
            $column,
            " = CAST($",
            $n,
            " AS TEXT))"
        )
    };
}

/// The rows an [`OutboxFilter`] names (parameters `$1`..=`$4`).
macro_rules! filter {
    () => {
        concat!(
            optional!("tenant", "1"),
            " AND ",
            optional!("endpoint", "2"),
            " AND ",
            optional!("state", "3"),
            " AND ",
            optional!("event_id", "4")
        )
    };
}

const LIST: &str = concat!(
    "SELECT ",
    columns!(""),
    " FROM webhook_outbox WHERE ",
    filter!(),
    " ORDER BY created_ms, tenant, subject, seq, endpoint LIMIT $5"
);

const REPLAY: &str = concat!(
    "UPDATE webhook_outbox SET state = 'pending', attempts = 0, window_ms = $5, \
     next_attempt_ms = $5, lease_until_ms = NULL, lease_token = NULL, last_error = NULL WHERE ",
    filter!(),
    " AND state = 'dead'"
);

impl Store {
    /// Rows matching `filter`, oldest first.
    pub async fn list_outbox(
        &self,
        filter: &OutboxFilter<'_>,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(LIST)
            .bind(filter.tenant)
            .bind(filter.endpoint)
            .bind(filter.state)
            .bind(filter.event_id)
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(outbox_row).collect::<Result<_, _>>()?)
    }

    /// Send dead rows matching `filter` again (the state filter is ignored):
    /// pending from `now_ms` with a new retry window and no attempts, the same
    /// event id, and their old place in their subject's order. Returns how
    /// many rows were replayed.
    pub async fn replay_outbox(
        &self,
        filter: &OutboxFilter<'_>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(REPLAY)
            .bind(filter.tenant)
            .bind(filter.endpoint)
            .bind(None::<&str>)
            .bind(filter.event_id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

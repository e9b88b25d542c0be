//! What operators do with the outbox from the command line
//! (`backup-codes-shim webhooks …`): list rows, inspect one event with the
//! body it is sent with, replay dead events, count, and make a secret. Each
//! answer is a typed body printed as JSON; none holds a secret or a code.

use serde::Serialize;

use super::payload;
use crate::store::{OutboxCount, OutboxFilter, OutboxRow, Store, StoreError, now_ms};

/// One event's rows (one per endpoint) and the body they are sent with.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Its rows.
    pub rows: Vec<OutboxRow>,
    /// The body (the same bytes for every endpoint and attempt).
    pub body: Option<serde_json::Value>,
}

/// How many rows a replay made pending again.
#[derive(Debug, Serialize)]
pub struct Replayed {
    /// Rows.
    pub replayed: u64,
}

/// The outbox by tenant, endpoint and state.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// Rows per tenant, endpoint and state, with the oldest row's time.
    pub counts: Vec<OutboxCount>,
}

/// The body a row is sent with.
pub fn body(row: &OutboxRow) -> Option<serde_json::Value> {
    serde_json::from_slice(&payload::render_row(row)?).ok()
}

/// One event's rows and body (`filter` names the event, and may name an endpoint).
pub async fn inspect(store: &Store, filter: &OutboxFilter<'_>) -> Result<Inspection, StoreError> {
    let rows = store.list_outbox(filter).await?;
    let body = rows.first().and_then(body);
    Ok(Inspection { rows, body })
}

/// Make the dead rows `filter` names pending again, now.
pub async fn replay(store: &Store, filter: &OutboxFilter<'_>) -> Result<Replayed, StoreError> {
    Ok(Replayed {
        replayed: store.replay_outbox(filter, now_ms()).await?,
    })
}

/// Count the outbox.
pub async fn stats(store: &Store) -> Result<Stats, StoreError> {
    Ok(Stats {
        counts: store.outbox_counts().await?,
    })
}

/// A fresh endpoint secret: `whsec_` and the standard base64 (padded) of 32
/// random bytes; `None` when the OS random source fails.
pub fn new_secret() -> Option<String> {
    let secret = crate::random::standard_base64(32).ok()?;
    Some(format!("whsec_{secret}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebhookSecret;

    #[test]
    fn new_secrets_parse_and_differ() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_ne!(a, b);
        assert!(a.ends_with('='), "padded standard base64");
        assert_eq!(WebhookSecret::parse(&a).unwrap().expose_key().len(), 32);
    }
}

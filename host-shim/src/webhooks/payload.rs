//! The body of a webhook: `{"type", "timestamp", "data"}` as the Standard
//! Webhooks specification suggests, rendered from what the outbox keeps of an
//! event (its kind, time and the audit detail [`describe`] makes: set ids,
//! numbers, counts, reasons; never a code, a digest or a token).
//!
//! [`describe`]: crate::service::describe

use serde_json::{Map, Value, json};

use crate::config::EventKind;

/// One event to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// Its place in the subject's events (strictly increasing per subject).
    pub seq: i64,
    /// Its kind (one of [`EventKind`]'s names).
    pub kind: &'a str,
    /// When it happened (Unix seconds).
    pub at: i64,
    /// The audit detail of the event.
    pub detail: &'a Value,
    /// The request that caused it, when one did.
    pub request_id: Option<&'a str>,
}

/// The event type of a kind: `backup_codes.used` and so on.
pub fn event_type(kind: &str) -> Option<String> {
    EventKind::from_name(kind).map(|k| format!("backup_codes.{}", k.name()))
}

/// The body of an outbox row's event (`None` when the row cannot be read).
pub fn render_row(row: &crate::store::OutboxRow) -> Option<Vec<u8>> {
    let detail = serde_json::from_str(&row.detail).ok()?;
    render(&Event {
        tenant: &row.tenant,
        subject: &row.subject,
        seq: row.seq,
        kind: &row.kind,
        at: row.at,
        detail: &detail,
        request_id: row.request_id.as_deref(),
    })
}

/// The body's bytes (`None` for a kind no webhook carries, or a detail that
/// is not an object). The same event renders to the same bytes every time, so
/// every retry sends what the first attempt sent.
pub fn render(e: &Event<'_>) -> Option<Vec<u8>> {
    let kind = event_type(e.kind)?;
    let mut data = Map::new();
    for (k, v) in e.detail.as_object()? {
        data.insert(k.clone(), v.clone());
    }
    data.insert("tenant".into(), json!(e.tenant));
    data.insert("subject".into(), json!(e.subject));
    data.insert("event".into(), json!(e.kind));
    data.insert("seq".into(), json!(e.seq));
    data.insert("request_id".into(), json!(e.request_id));
    let timestamp = jiff::Timestamp::from_second(e.at).ok()?.to_string();
    serde_json::to_vec(&json!({ "type": kind, "timestamp": timestamp, "data": data })).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Event as PluginEvent, UsedEvent};

    #[test]
    fn an_event_renders_with_its_type_time_and_detail() {
        let (kind, detail) = crate::service::describe(&PluginEvent::Used(UsedEvent {
            set_id: "s1".into(),
            number: 3,
            remaining: 7,
        }));
        let e = Event {
            tenant: "acme",
            subject: "alice",
            seq: 12,
            kind,
            at: 1_800_000_000,
            detail: &detail,
            request_id: Some("r-1"),
        };
        let body = render(&e).unwrap();
        assert_eq!(render(&e).unwrap(), body, "the same bytes every time");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["type"], "backup_codes.used");
        assert_eq!(v["timestamp"], "2027-01-15T08:00:00Z");
        let data = &v["data"];
        assert_eq!(
            (
                &data["tenant"],
                &data["subject"],
                &data["event"],
                &data["seq"]
            ),
            (&json!("acme"), &json!("alice"), &json!("used"), &json!(12))
        );
        assert_eq!(
            (&data["set_id"], &data["number"], &data["remaining"]),
            (&json!("s1"), &json!(3), &json!(7))
        );
        assert_eq!(data["request_id"], "r-1");
        assert!(
            render(&Event {
                kind: "deleted",
                ..e.clone()
            })
            .is_none()
        );
        assert!(
            render(&Event {
                detail: &json!([1]),
                ..e
            })
            .is_none()
        );
    }
}

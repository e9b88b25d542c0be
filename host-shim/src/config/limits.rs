//! Request limits: sizes, timeouts, rates and clock skew.

use serde::Deserialize;

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, bytes.
    pub body_bytes: usize,
    /// Longest request, milliseconds (503 when a handler takes longer).
    pub request_timeout_ms: u64,
    /// Longest a client may take to send its request headers, milliseconds (the
    /// connection is closed after that).
    pub header_read_timeout_ms: u64,
    /// Longest a client may take to send its request body, milliseconds (408).
    pub body_read_timeout_ms: u64,
    /// Requests per minute from one IP address.
    pub per_ip_per_minute: u32,
    /// Code attempts per minute for one subject.
    pub per_subject_per_minute: u32,
    /// Accepted clock skew for token times, seconds.
    pub leeway_seconds: u64,
    /// Subjects without codes whose attempts are counted per tenant, so they
    /// are locked out as subjects with codes are; past this, the states with
    /// the fewest failures, oldest first, are forgotten (about 300 bytes of
    /// store each).
    pub unenrolled_subjects_per_tenant: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024,
            request_timeout_ms: 15_000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            per_ip_per_minute: 600,
            per_subject_per_minute: 30,
            leeway_seconds: 30,
            unenrolled_subjects_per_tenant: 100_000,
        }
    }
}

//! The names a request gives, parsed once where it enters: a [`TenantId`]
//! exists only for a configured tenant, a [`SubjectId`] only for a valid
//! subject id, and a [`Subject`] is both. Every operation of the service
//! takes them, so no door checks a raw string again or forgets to.

use std::fmt;
use std::sync::Arc;

use super::ServiceError;

/// Longest subject id accepted, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 255;

/// A tenant the service is configured with (made by [`super::Service::tenant_id`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// Only the service makes one, for a tenant it has (and the crate's
    /// unit tests, for a tenant they configured).
    pub(crate) fn known(id: &str) -> Self {
        Self(Arc::from(id))
    }

    /// The tenant id as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `raw` as a subject of this tenant.
    pub fn subject(&self, raw: &str) -> Result<Subject, ServiceError> {
        Ok(Subject::new(self.clone(), SubjectId::parse(raw)?))
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.as_str())
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subject id: 1..=255 bytes without control characters. Read from a
/// token or a form, it is checked as it is read (serde goes through
/// [`SubjectId::parse`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubjectId(String);

impl TryFrom<String> for SubjectId {
    type Error = ServiceError;

    fn try_from(raw: String) -> Result<Self, ServiceError> {
        Self::parse(&raw)
    }
}

impl From<SubjectId> for String {
    fn from(id: SubjectId) -> Self {
        id.0
    }
}

impl SubjectId {
    /// Check `raw` ([`ServiceError::InvalidSubject`] when it is empty, too
    /// long or holds a control character).
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        if raw.is_empty() || raw.len() > MAX_SUBJECT_BYTES || raw.chars().any(char::is_control) {
            return Err(ServiceError::InvalidSubject);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The subject id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({:?})", self.as_str())
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A subject of a configured tenant: whom an operation is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    tenant: TenantId,
    id: SubjectId,
}

impl Subject {
    /// A checked subject id of a configured tenant.
    pub fn new(tenant: TenantId, id: SubjectId) -> Self {
        Self { tenant, id }
    }

    /// Its tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Its id.
    pub fn id(&self) -> &SubjectId {
        &self.id
    }

    /// (tenant, subject) as strings, for the store and logs.
    pub(super) fn names(&self) -> (&str, &str) {
        (self.tenant.as_str(), self.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids_are_checked_once() {
        assert!(SubjectId::parse("alice").is_ok());
        assert!(SubjectId::parse(&"x".repeat(255)).is_ok());
        for bad in ["", "a\u{7}b", "line\nbreak"] {
            assert!(matches!(
                SubjectId::parse(bad),
                Err(ServiceError::InvalidSubject)
            ));
        }
        assert!(SubjectId::parse(&"x".repeat(256)).is_err());
        let t = TenantId::known("acme");
        let s = t.subject("bob").unwrap();
        assert_eq!(s.names(), ("acme", "bob"));
    }
}

//! Single-use marks: one kind per purpose, typed, so a mark made for one
//! purpose can never be mistaken for another's. Each is kept in `used_tokens`
//! until its expiry; its id there is the kind's prefix and its parts (the
//! same ids earlier versions wrote, so instances of both can share a store
//! during a rolling upgrade). Parts that are secrets or caller-chosen text
//! are SHA-256 hex digests, never the value itself.

use super::{Store, StoreError};

/// A single-use mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark<'a> {
    /// An API token's `jti`, by tenant (SHA-256 hex of the `jti`).
    ApiToken {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the `jti`.
        jti_sha256: &'a str,
    },
    /// The login step's `state` from the IdP, spent when a flow opens.
    StepState {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the state.
        state_sha256: &'a str,
    },
    /// The IdP's session token that opened a step flow.
    StepSession {
        /// The tenant.
        tenant: &'a str,
        /// The session token's id.
        session_id: &'a str,
    },
    /// What a reload of a step's entry must show to go on with its flow.
    StepResume {
        /// The tenant.
        tenant: &'a str,
        /// The flow id.
        fid: &'a str,
        /// SHA-256 hex of the state.
        state_sha256: &'a str,
        /// SHA-256 hex of the flow's cookie value.
        csrf_sha256: &'a str,
    },
    /// The `n`-th set issued in one enrolment flow.
    StepIssue {
        /// The tenant.
        tenant: &'a str,
        /// The flow id.
        fid: &'a str,
        /// Which set of the flow.
        n: u32,
    },
    /// A step flow that handed its result back.
    StepFinished {
        /// The tenant.
        tenant: &'a str,
        /// The flow id.
        fid: &'a str,
    },
    /// A step-up `id_token_hint`, by relying party.
    OpHint {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the client id.
        client_sha256: &'a str,
        /// The hint's id.
        hint_id: &'a str,
    },
    /// A step-up request's `nonce`, by relying party.
    OpNonce {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the client id.
        client_sha256: &'a str,
        /// SHA-256 hex of the nonce.
        nonce_sha256: &'a str,
    },
    /// A step-up request's `state`, by relying party.
    OpState {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the client id.
        client_sha256: &'a str,
        /// SHA-256 hex of the state.
        state_sha256: &'a str,
    },
    /// A self-service login transaction, spent by its callback whatever the
    /// IdP does with its codes.
    SelfLogin {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the transaction's `state`.
        state_sha256: &'a str,
    },
    /// A self-service session ended by logout (kept until it would have expired).
    SelfSessionEnded {
        /// The tenant.
        tenant: &'a str,
        /// SHA-256 hex of the session id.
        sid_sha256: &'a str,
    },
}

impl Mark<'_> {
    /// The mark's id in `used_tokens`.
    fn id(&self) -> String {
        match *self {
            Self::ApiToken { tenant, jti_sha256 } => format!("jti:{tenant}:{jti_sha256}"),
            Self::StepState {
                tenant,
                state_sha256,
            } => format!("state:{tenant}:{state_sha256}"),
            Self::StepSession { tenant, session_id } => format!("session:{tenant}:{session_id}"),
            Self::StepResume {
                tenant,
                fid,
                state_sha256,
                csrf_sha256,
            } => format!("resume:{tenant}:{fid}:{state_sha256}:{csrf_sha256}"),
            Self::StepIssue { tenant, fid, n } => format!("issue:{tenant}:{fid}:{n}"),
            Self::StepFinished { tenant, fid } => format!("flow:{tenant}:{fid}"),
            Self::OpHint {
                tenant,
                client_sha256,
                hint_id,
            } => format!("ophint:{tenant}:{client_sha256}:{hint_id}"),
            Self::OpNonce {
                tenant,
                client_sha256,
                nonce_sha256,
            } => format!("opnonce:{tenant}:{client_sha256}:{nonce_sha256}"),
            Self::OpState {
                tenant,
                client_sha256,
                state_sha256,
            } => format!("opstate:{tenant}:{client_sha256}:{state_sha256}"),
            Self::SelfLogin {
                tenant,
                state_sha256,
            } => format!("selflogin:{tenant}:{state_sha256}"),
            Self::SelfSessionEnded { tenant, sid_sha256 } => {
                format!("selfended:{tenant}:{sid_sha256}")
            }
        }
    }
}

impl Store {
    /// Spend `mark` until `expires_at`: `true` the first time, `false` when it
    /// was spent already (a replay), across every instance on this store.
    pub async fn spend(&self, mark: Mark<'_>, expires_at: i64) -> Result<bool, StoreError> {
        self.use_token(&mark.id(), expires_at).await
    }

    /// Has `mark` been spent (and not yet purged)?
    pub async fn spent(&self, mark: Mark<'_>) -> Result<bool, StoreError> {
        self.token_used(&mark.id()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids are the ones earlier versions wrote (shared stores keep working),
    /// and no two kinds share a prefix.
    #[test]
    fn ids_keep_their_formats_and_kinds_never_collide() {
        let t = "acme";
        let marks = [
            (
                Mark::ApiToken {
                    tenant: t,
                    jti_sha256: "j",
                },
                "jti:acme:j",
            ),
            (
                Mark::StepState {
                    tenant: t,
                    state_sha256: "s",
                },
                "state:acme:s",
            ),
            (
                Mark::StepSession {
                    tenant: t,
                    session_id: "i",
                },
                "session:acme:i",
            ),
            (
                Mark::StepResume {
                    tenant: t,
                    fid: "f",
                    state_sha256: "s",
                    csrf_sha256: "c",
                },
                "resume:acme:f:s:c",
            ),
            (
                Mark::StepIssue {
                    tenant: t,
                    fid: "f",
                    n: 2,
                },
                "issue:acme:f:2",
            ),
            (
                Mark::StepFinished {
                    tenant: t,
                    fid: "f",
                },
                "flow:acme:f",
            ),
            (
                Mark::OpHint {
                    tenant: t,
                    client_sha256: "c",
                    hint_id: "h",
                },
                "ophint:acme:c:h",
            ),
            (
                Mark::OpNonce {
                    tenant: t,
                    client_sha256: "c",
                    nonce_sha256: "n",
                },
                "opnonce:acme:c:n",
            ),
            (
                Mark::OpState {
                    tenant: t,
                    client_sha256: "c",
                    state_sha256: "s",
                },
                "opstate:acme:c:s",
            ),
            (
                Mark::SelfLogin {
                    tenant: t,
                    state_sha256: "s",
                },
                "selflogin:acme:s",
            ),
            (
                Mark::SelfSessionEnded {
                    tenant: t,
                    sid_sha256: "s",
                },
                "selfended:acme:s",
            ),
        ];
        let mut prefixes = std::collections::BTreeSet::new();
        for (mark, id) in marks {
            assert_eq!(mark.id(), id);
            assert!(prefixes.insert(id.split(':').next().unwrap_or_default().to_owned()));
        }
    }
}

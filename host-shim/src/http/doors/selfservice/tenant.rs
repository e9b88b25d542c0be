//! A tenant with self-service, and what every self-service file shares: its
//! paths, lifetimes, the clock and random values.

use axum::http::StatusCode;

use crate::auth::oidc::Provider;
use crate::config::SelfServiceConfig;
use crate::http::AppState;
use crate::http::doors::selfservice::tokens::Keys;
use crate::http::views::refusal::Refusal;
use crate::service::{Subject, SubjectId, TenantId};
use secrecy::SecretString;

/// How long a self-service session lasts, seconds.
pub(super) const SESSION_TTL: i64 = 900;
/// How long a login at the IdP may take, seconds.
pub(super) const LOGIN_TTL: i64 = 600;

/// A tenant with self-service, looked up once per request; owned, so a
/// request's context holds it.
pub(super) struct Tenant {
    id: String,
    /// The same tenant, as the service knows it.
    pub(super) tenant: TenantId,
    /// Now, by the service's clock (when the request came in).
    pub(super) now: i64,
    pub(super) config: SelfServiceConfig,
    pub(super) provider: Provider,
    secret: SecretString,
}

pub(super) fn tenant(state: &AppState, id: &str) -> Result<Tenant, Refusal> {
    let config = state
        .config
        .tenants
        .get(id)
        .and_then(|t| t.selfservice.as_ref())
        .filter(|_| state.service.has_tenant(id));
    match (config, state.providers.get(id), state.service.tenant_id(id)) {
        (Some(config), Some(provider), Ok(tenant)) => {
            let secret = config
                .session_secret
                .clone()
                .ok_or_else(Refusal::internal)?;
            Ok(Tenant {
                id: id.to_owned(),
                tenant,
                now: state.service.now(),
                config: config.clone(),
                provider: provider.clone(),
                secret,
            })
        }
        _ => Err(Refusal::new(StatusCode::NOT_FOUND, "refusal-self-unknown")),
    }
}

impl Tenant {
    /// The tenant's id.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    /// The keys of its tokens.
    pub(super) fn keys(&self) -> Keys<'_> {
        Keys::new(&self.id, &self.secret)
    }

    /// A subject of this tenant (its id was checked when its session was read).
    pub(super) fn subject(&self, id: &SubjectId) -> Subject {
        Subject::new(self.tenant.clone(), id.clone())
    }
}

pub(super) fn now(state: &AppState) -> i64 {
    state.service.now()
}

pub(super) fn random() -> Result<String, Refusal> {
    crate::random::token(32).map_err(|_| Refusal::internal())
}

pub(super) fn self_path(tenant: &str) -> String {
    format!("/self/{tenant}/")
}

//! Security properties of the shim as an attacker meets them: an "attacker
//! IdP" that holds every secret of its tenant mints tokens of every kind and
//! purpose and tries each at every endpoint (the cross-use matrix), plus the
//! regressions of the independent attack run (issue 10): JWKS refetches that
//! stalled a tenant, slow clients, flows that could never finish, operations
//! not bound to tokens, lockout answers and caching; the demo tenant's
//! secrets and the REST second factor.
//!
//! Here: the attacked shim and the secrets its tenants hold.

mod attack_run;
mod cross_use;
mod demo;
mod rest2f;

use std::collections::BTreeMap;

use backup_codes_harness::client::{ShimClient, basic_auth};
use backup_codes_harness::db::{Backend, TestDb, snapshot};
use backup_codes_harness::idp::{Alg, TestIdp, now, random_id};
use backup_codes_harness::selfservice::{forge, session_secret};
use backup_codes_harness::shim::{InProcess, cheap_policy, test_config};
use backup_codes_harness::step::{StepClient, sign_hs256};
use backup_codes_harness::stepup::Rp;
use backup_codes_shim::config::{Config, TenantConfig};
use backup_codes_shim::test_support::{Keys, Purpose};
use secrecy::SecretString;
use serde_json::json;

const TENANT: &str = "acme";
const OTHER: &str = "other";
const CONTINUE: &str = "https://idp.test/continue";

/// A shim with two step tenants (`acme` and `other`), each with its own API and
/// step secrets, scopes required, on SQLite.
struct Env {
    shim: InProcess,
    idp: TestIdp,
    api: ShimClient,
    steps: BTreeMap<&'static str, StepClient>,
    db: TestDb,
}

/// The step-up relying party (Entra-like) of a tenant: the same client id at
/// both tenants, hints of another App ID each.
fn rp(tenant: &str) -> Rp {
    Rp::entra("entra-client", &format!("app-id-of-{tenant}"))
}

/// The REST second factor's client of every test tenant.
const REST2F_ID: &str = "idp-rest2f";
/// The REST second factor's secret of a tenant.
fn rest2f_secret(tenant: &str) -> String {
    format!("rest2f-secret-of-{tenant}")
}

/// The REST second factor's Basic credentials of a tenant.
fn rest2f_basic(tenant: &str) -> String {
    basic_auth(REST2F_ID, &rest2f_secret(tenant))
}

fn step_tenant(
    idp: &TestIdp,
    id: &str,
    issuer: &str,
    api_secret: &str,
    step_secret: &str,
) -> TenantConfig {
    use sha2::Digest as _;
    TenantConfig {
        issuer: issuer.into(),
        hs256_secret: Some(SecretString::from(api_secret.to_owned())),
        step_secret: Some(SecretString::from(step_secret.to_owned())),
        rest2f: Some(backup_codes_shim::config::Rest2fConfig {
            clients: vec![backup_codes_shim::config::Rest2fClient {
                id: REST2F_ID.into(),
                secret_sha256: hex::encode(sha2::Sha256::digest(rest2f_secret(id).as_bytes())),
            }],
            subject_field: None,
            extra_fields: vec!["uid".into(), "mail".into()],
        }),
        selfservice: Some(backup_codes_shim::config::SelfServiceConfig {
            // Never reached: the matrix mints self-service tokens itself.
            issuer: Some("http://127.0.0.1:9/".parse().unwrap()),
            client: backup_codes_shim::config::OidcClient {
                client_id: "backup-codes".into(),
                ..Default::default()
            },
            session_secret: Some(SecretString::from(session_secret(id))),
            ..Default::default()
        }),
        continue_urls: vec![
            CONTINUE.parse().unwrap(),
            "https://idp.test/interaction/".parse().unwrap(),
        ],
        // The step-up provider, trusting the test IdP's RSA key for hints of
        // an audience of its own per tenant.
        stepup: Some(backup_codes_shim::config::StepUpConfig {
            clients: vec![rp(id).client(idp)],
            ..Default::default()
        }),
        require_scope: true,
        policy: cheap_policy(),
        ..idp.tenant(Alg::Hs256)
    }
}

async fn env(configure: impl FnOnce(&mut Config)) -> Env {
    let idp = TestIdp::start().await.unwrap();
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut tenants = BTreeMap::new();
    let acme_step = format!("acme-step-secret-{}", random_id());
    let other_step = format!("other-step-secret-{}", random_id());
    tenants.insert(
        TENANT.to_owned(),
        step_tenant(&idp, TENANT, &idp.issuer, &idp.hs256_secret, &acme_step),
    );
    let other_issuer = format!("{}-other", idp.issuer);
    tenants.insert(
        OTHER.to_owned(),
        step_tenant(
            &idp,
            OTHER,
            &other_issuer,
            &format!("other-api-secret-{}", random_id()),
            &other_step,
        ),
    );
    let mut config = test_config(&db.url, tenants);
    configure(&mut config);
    let shim = InProcess::start(&config).await.unwrap();
    let api = ShimClient::new(&shim.url).unwrap();
    let mut steps = BTreeMap::new();
    steps.insert(
        TENANT,
        StepClient::new(&shim.url, TENANT, &idp.issuer, &acme_step).unwrap(),
    );
    steps.insert(
        OTHER,
        StepClient::new(&shim.url, OTHER, &other_issuer, &other_step).unwrap(),
    );
    Env {
        shim,
        idp,
        api,
        steps,
        db,
    }
}

impl Env {
    /// An API token of `acme` for `sub` with `scope` (none: no claim), signed
    /// with `secret` (the tenant's API secret unless an attack says otherwise).
    fn api_token(&self, sub: &str, scope: Option<&str>, secret: &str) -> String {
        let mut claims = self.idp.claims(sub);
        if let Some(s) = scope {
            claims["scope"] = json!(s);
        }
        sign_hs256(&claims, secret)
    }

    fn scoped(&self, sub: &str, scope: &str) -> String {
        self.api_token(sub, Some(scope), &self.idp.hs256_secret)
    }

    /// Everything the store holds, in a stable order.
    async fn snapshot(&self) -> Vec<String> {
        snapshot(&self.db.url).await.unwrap()
    }
}

/// A self-service token of `purpose` for `sub`, signed as the shim signs its own.
fn self_token(tenant: &str, purpose: Purpose, sub: &str) -> String {
    let claims = json!({
        "iss": Keys::issuer(purpose),
        "aud": tenant,
        "exp": now() + 600,
        "sid": "attacker-session",
        "sub": sub,
        "auth_time": now(),
        "acr": "loa-3",
        "strong": true,
        "state": "s",
        "nonce": "n",
        "verifier": "v",
    });
    forge(tenant, &session_secret(tenant), purpose, &claims).unwrap()
}

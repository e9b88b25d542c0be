//! `backup-codes-shim tenant-init`: fresh secrets and a configuration block for
//! a new tenant, either for any identity provider (HS256 API tokens, the
//! redirect step, a REST second factor, self-service and webhooks to fill in)
//! or complete for LemonLDAP::NG (`--for lemonldap`: the shim's block, and the
//! portal's settings as a file for `lemonldap-ng-cli merge`).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use backup_codes_shim::config::tenant_id;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

/// The identity provider a block is written for.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Any identity provider: the parts to keep are commented.
    Generic,
    /// LemonLDAP::NG 2.16: its REST second factor and two OpenID Connect
    /// relying parties for self-service, ready to use.
    Lemonldap,
}

#[derive(clap::Args)]
pub struct TenantInitArgs {
    /// Tenant id: letters and digits in words joined by single - or _.
    #[arg(long)]
    tenant: String,
    /// The IdP's issuer (`iss` of its tokens; LemonLDAP::NG: its portal URL).
    #[arg(long)]
    issuer: String,
    /// Audience the IdP puts in its API tokens (`aud`).
    #[arg(long, default_value = "backup-codes")]
    audience: String,
    /// The identity provider the block is for.
    #[arg(long = "for", value_enum, default_value = "generic")]
    target: Target,
    /// The shim's URL as the IdP and browsers reach it (default: the
    /// configuration's `public_url`).
    #[arg(long)]
    shim_url: Option<Url>,
    /// With `--for lemonldap`: where to write LemonLDAP::NG's settings (JSON for
    /// `lemonldap-ng-cli -yes 1 -safe 1 merge FILE`).
    #[arg(long, required_if_eq("target", "lemonldap"))]
    lemonldap_out: Option<PathBuf>,
}

/// Secrets of a new tenant (printed once; the file keeps hashes where it can).
struct Secrets {
    api: SecretString,
    step: SecretString,
    pepper: SecretString,
    rest2f: SecretString,
    session: SecretString,
    webhook: String,
}

impl Secrets {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            api: random_secret(32)?,
            step: random_secret(32)?,
            pepper: random_secret(24)?,
            rest2f: random_secret(24)?,
            session: random_secret(32)?,
            webhook: backup_codes_shim::webhooks::admin::new_secret()
                .context("the OS random source failed")?,
        })
    }

    fn rest2f_sha256(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.rest2f.expose_secret().as_bytes()))
    }
}

/// A TOML basic string (JSON's escapes are TOML's).
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Print the block for `args` (and write LemonLDAP::NG's settings).
pub fn run(args: &TenantInitArgs, public_url: &Url) -> anyhow::Result<()> {
    let id = &args.tenant;
    if !tenant_id::is_valid(id) {
        bail!(
            "tenant id {id:?} must be 1..=64 letters and digits, in words joined by single - or _"
        );
    }
    let shim = args.shim_url.as_ref().unwrap_or(public_url);
    let shim = shim.as_str().trim_end_matches('/');
    let secrets = Secrets::new()?;
    match args.target {
        Target::Generic => print!("{}", generic(args, &secrets)),
        Target::Lemonldap => {
            let (toml, settings) = lemonldap(args, shim, &secrets)?;
            let Some(out) = &args.lemonldap_out else {
                bail!("--for lemonldap needs --lemonldap-out FILE");
            };
            let text = serde_json::to_string_pretty(&settings)? + "\n";
            write_private(out, &text)?;
            print!("{toml}");
            eprintln!(
                "wrote LemonLDAP::NG's settings to {} (it holds client secrets): apply them with\n  \
                 lemonldap-ng-cli -yes 1 -safe 1 merge {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(())
}

/// The API part every block starts with.
fn api_block(args: &TenantInitArgs, s: &Secrets) -> String {
    let id = &args.tenant;
    format!(
        "# Add to backup-codes.toml; keep the secrets out of version control, or set\n\
         # them in the environment, as BACKUP_CODES_TENANTS__{env}__HS256_SECRET etc.\n\
         [tenants.{id}]\n\
         issuer = {issuer}\naudience = {aud}\n\
         algorithms = [\"HS256\"]\nhs256_secret = {api}\nrequire_scope = true\n\
         pepper = {pepper}\n",
        env = tenant_id::env_name(id),
        issuer = q(&args.issuer),
        aud = q(&args.audience),
        api = q(s.api.expose_secret()),
        pepper = q(s.pepper.expose_secret()),
    )
}

fn generic(args: &TenantInitArgs, s: &Secrets) -> String {
    let id = &args.tenant;
    format!(
        "{api}step_secret = {step}\ncontinue_urls = []\n\
         \n\
         # REST second factor (LemonLDAP::NG: rest2fVerifyUrl =\n\
         #   https://{id}-idp:{rest2f}@<this shim>/rest2f/{id}/verify ).\n\
         # The secret is printed only here; the file keeps its SHA-256.\n\
         [tenants.{id}.rest2f]\nclients = [{{ id = \"{id}-idp\", secret_sha256 = {hash} }}]\n\
         \n\
         # Self-service through the IdP's login (fill in the IdP's issuer and clients).\n\
         # [tenants.{id}.selfservice]\n# issuer = {issuer}\n\
         # client = {{ client_id = \"backup-codes\", client_secret = \"...\" }}\n\
         # session_secret = {session}\n\
         \n\
         # Webhooks: each event ({kinds}) posted to your\n\
         # receiver, signed the Standard Webhooks way.\n\
         # [tenants.{id}.webhooks.endpoints.idp]\n\
         # url = \"https://idp.example/hooks/backup-codes\"\n\
         # secret = {webhook}\n\
         # events = [\"used\", \"issued\", \"low\", \"exhausted\", \"locked\"]   # default: all\n",
        api = api_block(args, s),
        step = q(s.step.expose_secret()),
        rest2f = s.rest2f.expose_secret(),
        hash = q(&s.rest2f_sha256()),
        issuer = q(&args.issuer),
        session = q(s.session.expose_secret()),
        webhook = q(&s.webhook),
        kinds = backup_codes_shim::config::EventKind::ALL
            .map(|k| k.name())
            .join(", "),
    )
}

/// LemonLDAP::NG's authentication level of the backup code: above what a
/// password gives (1 over http, 2 over https).
const LLNG_CODE_LEVEL: u32 = 3;
/// The user attribute codes are keyed on (`rest2fVerifyArgs uid → uid`).
const LLNG_SUBJECT: &str = "uid";

/// The shim's block and LemonLDAP::NG's settings for a LemonLDAP::NG tenant.
fn lemonldap(
    args: &TenantInitArgs,
    shim: &str,
    s: &Secrets,
) -> anyhow::Result<(String, serde_json::Value)> {
    let id = &args.tenant;
    let rest2f_client = format!("{id}-idp");
    let self_client = format!("{id}-selfservice");
    let strong_client = format!("{id}-selfservice-strong");
    let self_secret = random_secret(24)?;
    let strong_secret = random_secret(24)?;
    let acr = format!("loa-{LLNG_CODE_LEVEL}");
    let toml = format!(
        "{api}\n\
         # LemonLDAP::NG's REST second factor (rest2fVerifyUrl): its Basic credentials\n\
         # are in LemonLDAP::NG's settings only; this file keeps their SHA-256.\n\
         [tenants.{id}.rest2f]\n\
         clients = [{{ id = {rc}, secret_sha256 = {hash} }}]\n\
         subject_field = {subject}          # rest2fVerifyArgs {LLNG_SUBJECT} → {LLNG_SUBJECT}\n\
         extra_fields = [{subject}]\n\
         \n\
         # Self-service: users sign in at LemonLDAP::NG (two relying parties; the\n\
         # strong one, at level {LLNG_CODE_LEVEL}, asks the backup code before codes are replaced).\n\
         [tenants.{id}.selfservice]\n\
         issuer = {issuer}\n\
         client = {{ client_id = {sc}, client_secret = {ss}, auth = \"client_secret_post\" }}\n\
         strong_client = {{ client_id = {stc}, client_secret = {sts}, auth = \"client_secret_post\" }}\n\
         replace_acr = [{acr}]\n\
         max_age_seconds = 300\n\
         session_secret = {session}\n",
        api = api_block(args, s),
        rc = q(&rest2f_client),
        hash = q(&s.rest2f_sha256()),
        subject = q(LLNG_SUBJECT),
        issuer = q(&args.issuer),
        sc = q(&self_client),
        ss = q(self_secret.expose_secret()),
        stc = q(&strong_client),
        sts = q(strong_secret.expose_secret()),
        acr = q(&acr),
        session = q(s.session.expose_secret()),
    );
    // With a trailing slash, so that joining keeps a path prefix.
    let base = Url::parse(&format!("{shim}/")).context("--shim-url")?;
    let rest2f_url = |op: &str| -> anyhow::Result<Url> {
        let mut url = base.join(&format!("rest2f/{id}/{op}"))?;
        url.set_username(&rest2f_client)
            .and_then(|()| url.set_password(Some(s.rest2f.expose_secret())))
            .map_err(|()| anyhow::anyhow!("--shim-url {shim} cannot carry credentials"))?;
        Ok(url)
    };
    let (verify, init) = (rest2f_url("verify")?, rest2f_url("init")?);
    let callback = base.join(&format!("self/{id}/callback"))?;
    let rp = |client: &str, secret: &SecretString, level: u32, name: &str| {
        json!({
            "oidcRPMetaDataOptionsClientID": client,
            "oidcRPMetaDataOptionsClientSecret": secret.expose_secret(),
            "oidcRPMetaDataOptionsRedirectUris": callback.as_str(),
            "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
            "oidcRPMetaDataOptionsBypassConsent": 1,
            "oidcRPMetaDataOptionsRequirePKCE": 1,
            "oidcRPMetaDataOptionsIDTokenForceClaims": 1,
            "oidcRPMetaDataOptionsAuthnLevel": level,
            "oidcRPMetaDataOptionsDisplayName": name,
        })
    };
    let claims = json!({ "email": "mail", "name": "cn", "preferred_username": "uid" });
    let settings = json!({
        "rest2fActivation": "1",
        "rest2fVerifyUrl": verify.as_str(),
        "rest2fVerifyArgs": { LLNG_SUBJECT: LLNG_SUBJECT },
        "rest2fInitUrl": init.as_str(),
        "rest2fInitArgs": { LLNG_SUBJECT: LLNG_SUBJECT },
        "rest2fAuthnLevel": LLNG_CODE_LEVEL,
        "rest2fLabel": "Backup code",
        "sfOnlyUpgrade": 1,
        "lwpOpts": { "timeout": 10 },
        "handlerInternalCache": 0,
        "issuerDBOpenIDConnectActivation": 1,
        "oidcRPMetaDataOptions": {
            self_client.as_str(): rp(&self_client, &self_secret, 1, "Backup codes"),
            strong_client.as_str(): rp(&strong_client, &strong_secret, LLNG_CODE_LEVEL, "Backup codes (replace)"),
        },
        "oidcRPMetaDataExportedVars": {
            self_client.as_str(): claims.clone(),
            strong_client.as_str(): claims,
        },
    });
    Ok((toml, settings))
}

/// Write `text` to a new file only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist)", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// A random secret (an error when the OS source fails).
fn random_secret(bytes: usize) -> anyhow::Result<SecretString> {
    Ok(backup_codes_shim::random_secret(bytes)?)
}

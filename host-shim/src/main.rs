//! `backup-codes-shim`: run the backup-code service, or manage codes from the
//! command line against the configured store.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use backup_codes_shim::config::{Config, LogFormat};
use backup_codes_shim::demo;
use backup_codes_shim::http::{AttemptBody, StatusBody};
use backup_codes_shim::plugin::{self, Outcome};
use backup_codes_shim::server;
use clap::{Parser, Subcommand};

mod cli;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

/// Backup (recovery) codes as a login step for identity providers.
///
/// Configuration comes from a TOML file (--config, or ./backup-codes.toml when
/// present) and BACKUP_CODES_* environment variables (use __ between levels,
/// for example BACKUP_CODES_PLUGIN__MAX_CONCURRENT=4). With no tenant
/// configured, a local `demo` tenant is used so you can try everything at once.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Configuration file (TOML). Default: ./backup-codes.toml if it exists.
    #[arg(long, short, global = true, env = "BACKUP_CODES_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (JSON API for identity providers, health, metrics).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Issue a new set of codes for a subject and print them (shown once).
    Issue(Subject),
    /// Type back one code of a pending set so it becomes active.
    Activate(CodeArgs),
    /// Check a code for a subject (uses it if right).
    Verify(CodeArgs),
    /// Show a subject's codes: counts, used codes, lockout.
    Status(Subject),
    /// Print secrets and a configuration block for a new HS256 tenant.
    TenantInit {
        /// Tenant id (letters, digits, - and _).
        #[arg(long)]
        tenant: String,
        /// The IdP's issuer (`iss`).
        #[arg(long)]
        issuer: String,
        /// Audience the IdP puts in its tokens (`aud`).
        #[arg(long, default_value = "backup-codes")]
        audience: String,
    },
    /// Mint a short-lived API token for the local demo tenant (for trying the API).
    Token {
        /// The subject the token is for.
        #[arg(long)]
        subject: String,
        /// Lifetime in seconds (at most 900).
        #[arg(long, default_value_t = 300)]
        ttl: u64,
        /// Operations the token may be used for (space-separated: issue
        /// activate verify status delete).
        #[arg(long, default_value = "issue activate verify status delete")]
        scope: String,
    },
    /// Write the embedded component (.wasm) to a file, for other hosts.
    Component {
        /// Output path.
        #[arg(long)]
        out: PathBuf,
    },
    /// The webhook outbox: list, inspect and replay events; count; make a secret.
    #[command(subcommand)]
    Webhooks(cli::webhooks::WebhooksCommand),
    /// Import users' recovery codes from another identity server's export
    /// (each user keeps the codes they saved; users with codes here are skipped).
    Import(cli::import::ImportArgs),
}

#[derive(clap::Args)]
struct Subject {
    /// Tenant id (default: the demo tenant when none is configured).
    #[arg(long, default_value = demo::TENANT)]
    tenant: String,
    /// Subject (user) id.
    #[arg(long)]
    subject: String,
}

#[derive(clap::Args)]
struct CodeArgs {
    #[command(flatten)]
    who: Subject,
    /// The code. Omit it to read one line from standard input (keeps it out of
    /// shell history and the process list).
    #[arg(long)]
    code: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: what was being done, then why.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<PathBuf>) -> anyhow::Result<Config> {
    let default = PathBuf::from("backup-codes.toml");
    let path = path.or_else(|| default.exists().then_some(default));
    Ok(Config::load(path.as_deref())?)
}

/// The configuration with the demo tenant when none is configured.
fn with_demo(mut config: Config) -> anyhow::Result<(Config, bool)> {
    let data_dir = config.data_dir();
    let demo = demo::add_to(&mut config, &data_dir)
        .with_context(|| format!("setting up the demo tenant in {}", data_dir.display()))?;
    Ok((config, demo))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only where someone reads them, never into a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn read_code(code: Option<String>) -> anyhow::Result<SecretString> {
    if let Some(c) = code {
        return Ok(SecretString::from(c));
    }
    if std::io::stdin().is_terminal() {
        eprint!("code: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the code from standard input")?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = load_config(cli.config)?;
    match cli.command {
        Command::Serve => {
            let (config, demo) = with_demo(config)?;
            init_logging(&config);
            serve(config, demo).await
        }
        Command::Migrate => {
            init_logging(&config);
            let store = backup_codes_shim::store::Store::connect(&config.database_url, 1)
                .await
                .context("opening the database")?;
            store.migrate().await.context("migrating the schema")?;
            println!("schema is up to date ({:?})", store.backend());
            Ok(())
        }
        Command::Issue(who) => {
            let (config, _) = with_demo(config)?;
            init_logging(&config);
            let state = server::build(&config).await.context("starting the shim")?;
            let subject = state
                .service
                .subject(&who.tenant, &who.subject)
                .with_context(|| format!("tenant {:?}, subject {:?}", who.tenant, who.subject))?;
            let issued = state
                .service
                .issue(&subject)
                .await
                .with_context(|| format!("issuing codes for {}", who.subject))?;
            println!(
                "Backup codes for {} (set {}). Save them now: they are not shown again.",
                who.subject, issued.fingerprint
            );
            for c in &issued.codes {
                println!("  {:>2}. {}", c.number, c.code.expose_secret());
            }
            if issued.pending() {
                println!(
                    "The set is pending: type one code back with `activate --subject {}`.",
                    who.subject
                );
            }
            Ok(())
        }
        Command::Activate(args) => attempt(config, args, true).await,
        Command::Verify(args) => attempt(config, args, false).await,
        Command::Status(who) => {
            let (config, _) = with_demo(config)?;
            init_logging(&config);
            let state = server::build(&config).await.context("starting the shim")?;
            let subject = state
                .service
                .subject(&who.tenant, &who.subject)
                .with_context(|| format!("tenant {:?}, subject {:?}", who.tenant, who.subject))?;
            let s = state
                .service
                .status(&subject)
                .await
                .with_context(|| format!("reading the status of {}", who.subject))?;
            print_json(&StatusBody::from(&s))
        }
        Command::TenantInit {
            tenant,
            issuer,
            audience,
        } => tenant_init(&tenant, &issuer, &audience),
        Command::Token {
            subject,
            ttl,
            scope,
        } => token(&config, &subject, ttl, &scope),
        Command::Webhooks(command) => cli::webhooks::run(&config, command).await,
        Command::Import(args) => cli::import::run(config, args).await,
        Command::Component { out } => {
            std::fs::write(&out, plugin::EMBEDDED_COMPONENT)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} ({} bytes, sha256 {})",
                out.display(),
                plugin::EMBEDDED_COMPONENT.len(),
                hex::encode(plugin::sha256(plugin::EMBEDDED_COMPONENT))
            );
            Ok(())
        }
    }
}

/// Fresh secrets and a configuration block for a new tenant: HS256 API tokens,
/// the redirect step, the REST second factor (its secret printed once, only its
/// hash configured) and self-service.
fn tenant_init(tenant: &str, issuer: &str, audience: &str) -> anyhow::Result<()> {
    use sha2::Digest as _;
    let secret = random_secret(32)?;
    let step = random_secret(32)?;
    let pepper = random_secret(24)?;
    let rest2f = random_secret(24)?;
    let session = random_secret(32)?;
    let webhook =
        backup_codes_shim::webhooks::admin::new_secret().context("the OS random source failed")?;
    let rest2f_hash = hex::encode(sha2::Sha256::digest(rest2f.expose_secret().as_bytes()));
    println!(
        "# Add to backup-codes.toml; keep the secrets out of version control\n\
         # (or set them as BACKUP_CODES_TENANTS__{up}__HS256_SECRET etc.).\n\
         [tenants.{tenant}]\nissuer = {issuer:?}\naudience = {audience:?}\n\
         algorithms = [\"HS256\"]\nhs256_secret = {s:?}\nrequire_scope = true\n\
         step_secret = {st:?}\npepper = {p:?}\ncontinue_urls = []\n\
         \n\
         # REST second factor (LemonLDAP::NG: rest2fVerifyUrl =\n\
         #   https://{tenant}-idp:{r}@<this shim>/rest2f/{tenant}/verify ).\n\
         # The secret is printed only here; the file keeps its SHA-256.\n\
         [tenants.{tenant}.rest2f]\nclients = [{{ id = \"{tenant}-idp\", secret_sha256 = {h:?} }}]\n\
         \n\
         # Self-service through the IdP's login (fill in the IdP's issuer and clients).\n\
         # [tenants.{tenant}.selfservice]\n# issuer = {issuer:?}\n\
         # client = {{ client_id = \"backup-codes\", client_secret = \"...\" }}\n\
         # session_secret = {ss:?}\n\
         \n\
         # Webhooks: each event ({kinds}) posted to your\n\
         # receiver, signed the Standard Webhooks way.\n\
         # [tenants.{tenant}.webhooks.endpoints.idp]\n\
         # url = \"https://idp.example/hooks/backup-codes\"\n\
         # secret = {wh:?}\n\
         # events = [\"used\", \"issued\", \"low\", \"exhausted\", \"locked\"]   # default: all\n",
        up = tenant.to_uppercase(),
        s = secret.expose_secret(),
        st = step.expose_secret(),
        p = pepper.expose_secret(),
        r = rest2f.expose_secret(),
        h = rest2f_hash,
        ss = session.expose_secret(),
        wh = webhook,
        kinds = backup_codes_shim::config::EventKind::ALL
            .map(|k| k.name())
            .join(", "),
    );
    Ok(())
}

/// A demo API token, signed with the secret the running demo uses.
fn token(config: &Config, subject: &str, ttl: u64, scope: &str) -> anyhow::Result<()> {
    println!("{}", demo::api_token(config, subject, ttl, scope)?);
    Ok(())
}

/// A random secret for `tenant-init` (an error when the OS source fails).
fn random_secret(bytes: usize) -> anyhow::Result<SecretString> {
    Ok(backup_codes_shim::random_secret(bytes)?)
}

async fn attempt(config: Config, args: CodeArgs, activation: bool) -> anyhow::Result<()> {
    let code = read_code(args.code)?;
    let (config, _) = with_demo(config)?;
    init_logging(&config);
    let state = server::build(&config).await.context("starting the shim")?;
    let service = &state.service;
    let who = &args.who;
    let subject = service
        .subject(&who.tenant, &who.subject)
        .with_context(|| format!("tenant {:?}, subject {:?}", who.tenant, who.subject))?;
    let result = if activation {
        service.activate(&subject, None, code).await
    } else {
        service.verify(&subject, code).await
    };
    let a = result?;
    print_json(&AttemptBody::from(&a))?;
    match a.outcome {
        Outcome::Accepted(_) => Ok(()),
        _ => bail!("the code was not accepted"),
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let state = server::build(&config).await.context("starting the shim")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let housekeeping = server::spawn_housekeeping(&state);
    let webhooks = server::start_webhooks(&config, &state)
        .await
        .context("starting the webhook delivery worker")?;
    eprintln!(
        "backup-code shim listening on http://{address} (database {})",
        redact_url(&config.database_url)
    );
    if demo {
        eprintln!(
            "No tenant is configured, so the local `demo` tenant is on. Try it in a browser:\n\
             \n  {public}/demo\n\
             \n(set up backup codes, then sign in with one; the page plays a tiny identity provider\n\
             and shows the signed result it receives). The JSON API works too, from this directory:\n\
             \n  TOKEN=$(cargo run -q --release -p backup-codes-shim -- token --subject alice)\n\
             \x20 curl -s -X POST -H \"Authorization: Bearer $TOKEN\" {public}/v1/tenants/demo/subjects/alice/codes\n\
             \nEvery call needs a fresh token (each is single-use). The API is described at\n\
             {public}/v1/openapi.json; configure your identity provider as a tenant with\n\
             `tenant-init` (see README.md).",
            public = config.public_base(),
        );
    }
    let router = backup_codes_shim::http::app(state.clone());
    let result = server::serve(listener, router, &config.limits, server::shutdown_signal()).await;
    housekeeping.abort();
    if let Some(w) = webhooks {
        w.stop().await;
    }
    state.service.store().close().await;
    Ok(result?)
}

/// A database URL without its password.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://[REDACTED]@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

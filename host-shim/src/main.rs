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
    /// Print secrets and a configuration block for a new tenant (`--for
    /// lemonldap`: complete, with LemonLDAP::NG's settings in a file).
    TenantInit(cli::tenant_init::TenantInitArgs),
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
    /// Write the embedded component (.wasm) to a file, for other hosts, or
    /// print the digest of the component this configuration runs.
    Component {
        /// Output path.
        #[arg(long, required_unless_present = "digest", conflicts_with = "digest")]
        out: Option<PathBuf>,
        /// Print the SHA-256 of the component the shim runs (the embedded one,
        /// or `plugin.component_path`) as `sha256sum` prints it.
        #[arg(long)]
        digest: bool,
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
    let me = Invocation::of(cli.config.as_deref());
    let config = load_config(cli.config)?;
    match cli.command {
        Command::Serve => {
            let (config, demo) = with_demo(config)?;
            init_logging(&config);
            serve(config, demo, &me).await
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
                    "The set is pending: type one code back with\n  {me} activate --tenant {} --subject {}",
                    shell_word(&who.tenant),
                    shell_word(&who.subject)
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
        Command::TenantInit(args) => cli::tenant_init::run(&args, &config.public_url),
        Command::Token {
            subject,
            ttl,
            scope,
        } => token(&config, &subject, ttl, &scope),
        Command::Webhooks(command) => cli::webhooks::run(&config, command).await,
        Command::Import(args) => cli::import::run(config, args).await,
        Command::Component { out: Some(out), .. } => {
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
        Command::Component { out: None, .. } => {
            let (bytes, name) = match &config.plugin.component_path {
                Some(path) => (
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                    path.display().to_string(),
                ),
                None => (
                    plugin::EMBEDDED_COMPONENT.to_vec(),
                    plugin::component_file_name(),
                ),
            };
            println!("{}  {name}", hex::encode(plugin::sha256(&bytes)));
            Ok(())
        }
    }
}

/// A demo API token, signed with the secret the running demo uses.
fn token(config: &Config, subject: &str, ttl: u64, scope: &str) -> anyhow::Result<()> {
    println!("{}", demo::api_token(config, subject, ttl, scope)?);
    Ok(())
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

async fn serve(config: Config, demo: bool, me: &Invocation) -> anyhow::Result<()> {
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
             \n  TOKEN=$({me} token --subject alice)\n\
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

/// How this process was started (its program and `--config`), for hints that
/// work when pasted into a shell as they are.
struct Invocation(String);

impl Invocation {
    fn of(config: Option<&std::path::Path>) -> Self {
        let program = std::env::args_os().next().map_or_else(
            || "backup-codes-shim".to_owned(),
            |p| p.to_string_lossy().into_owned(),
        );
        let mut words = vec![shell_word(&program)];
        if let Some(path) = config {
            words.push("--config".to_owned());
            words.push(shell_word(&path.to_string_lossy()));
        }
        Self(words.join(" "))
    }
}

impl std::fmt::Display for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
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

//! `backup-codes-shim`: run the backup-code service, or manage codes from the
//! command line against the configured store.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use backup_codes_shim::api::{attempt_json, status_json};
use backup_codes_shim::config::{Config, LogFormat};
use backup_codes_shim::server::{self, DEMO_AUDIENCE, DEMO_ISSUER, DEMO_TENANT};
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

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
}

#[derive(clap::Args)]
struct Subject {
    /// Tenant id (default: the demo tenant when none is configured).
    #[arg(long, default_value = DEMO_TENANT)]
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
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<PathBuf>) -> Result<(Config, bool), String> {
    let default = PathBuf::from("backup-codes.toml");
    let path = path.or_else(|| default.exists().then_some(default));
    let mut config = Config::load(path.as_deref()).map_err(|e| e.to_string())?;
    let data_dir = server::data_dir(&config);
    let demo = server::with_demo_tenant(&mut config, &data_dir).map_err(|e| e.to_string())?;
    Ok((config, demo))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn read_code(code: Option<String>) -> Result<SecretString, String> {
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
        .map_err(|e| format!("reading the code from standard input: {e}"))?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

async fn run(cli: Cli) -> Result<(), String> {
    let (config, demo) = load_config(cli.config)?;
    init_logging(&config);
    match cli.command {
        Command::Serve => serve(config, demo).await,
        Command::Migrate => {
            let store = backup_codes_shim::store::Store::connect(&config.database_url, 1)
                .await
                .map_err(|e| e.to_string())?;
            store.migrate().await.map_err(|e| e.to_string())?;
            println!("schema is up to date ({:?})", store.backend());
            Ok(())
        }
        Command::Issue(who) => {
            let state = server::build(&config).await.map_err(|e| e.to_string())?;
            let issued = state
                .service
                .issue(&who.tenant, &who.subject)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Backup codes for {} (set {}). Save them now: they are not shown again.",
                who.subject, issued.fingerprint
            );
            for c in &issued.codes {
                println!("  {:>2}. {}", c.number, c.code.expose_secret());
            }
            if issued
                .events
                .iter()
                .any(|e| matches!(e, backup_codes_shim::plugin::Event::Issued(i) if i.pending))
            {
                println!(
                    "The set is pending: type one code back with `activate --subject {}`.",
                    who.subject
                );
            }
            Ok(())
        }
        Command::Activate(args) => attempt(&config, args, true).await,
        Command::Verify(args) => attempt(&config, args, false).await,
        Command::Status(who) => {
            let state = server::build(&config).await.map_err(|e| e.to_string())?;
            let s = state
                .service
                .status(&who.tenant, &who.subject)
                .await
                .map_err(|e| e.to_string())?;
            print_json(&status_json(&s));
            Ok(())
        }
        Command::TenantInit {
            tenant,
            issuer,
            audience,
        } => {
            let secret = server::random_secret(32).map_err(|e| e.to_string())?;
            let step = server::random_secret(32).map_err(|e| e.to_string())?;
            let pepper = server::random_secret(24).map_err(|e| e.to_string())?;
            println!(
                "# Add to backup-codes.toml; keep the secrets out of version control\n\
                 # (or set them as BACKUP_CODES_TENANTS__{up}__HS256_SECRET etc.).\n\
                 [tenants.{tenant}]\nissuer = {issuer:?}\naudience = {audience:?}\n\
                 algorithms = [\"HS256\"]\nhs256_secret = {s:?}\nstep_secret = {st:?}\n\
                 pepper = {p:?}\ncontinue_urls = []\n",
                up = tenant.to_uppercase(),
                s = secret.expose_secret(),
                st = step.expose_secret(),
                p = pepper.expose_secret(),
            );
            Ok(())
        }
        Command::Token {
            subject,
            ttl,
            scope,
        } => {
            if !demo {
                return Err("`token` mints tokens for the demo tenant only; with configured tenants, tokens come from your identity provider".into());
            }
            let root =
                server::demo_secret(&server::data_dir(&config)).map_err(|e| e.to_string())?;
            let secret = server::DemoSecrets::derive(&root)
                .map_err(|e| e.to_string())?
                .api;
            let now = jsonwebtoken::get_current_timestamp();
            let claims = serde_json::json!({
                "iss": DEMO_ISSUER, "aud": DEMO_AUDIENCE, "sub": subject,
                "iat": now, "exp": now + ttl.min(900), "scope": scope,
                "jti": server::random_secret(16).map_err(|e| e.to_string())?.expose_secret(),
            });
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            )
            .map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
        Command::Component { out } => {
            std::fs::write(&out, backup_codes_shim::plugin::EMBEDDED_COMPONENT)
                .map_err(|e| format!("writing {}: {e}", out.display()))?;
            println!(
                "wrote {} ({} bytes, sha256 {})",
                out.display(),
                backup_codes_shim::plugin::EMBEDDED_COMPONENT.len(),
                hex::encode(backup_codes_shim::plugin::sha256(
                    backup_codes_shim::plugin::EMBEDDED_COMPONENT
                ))
            );
            Ok(())
        }
    }
}

async fn attempt(config: &Config, args: CodeArgs, activation: bool) -> Result<(), String> {
    let code = read_code(args.code)?;
    let state = server::build(config).await.map_err(|e| e.to_string())?;
    let service = &state.service;
    let who = &args.who;
    let result = if activation {
        service.activate(&who.tenant, &who.subject, code).await
    } else {
        service.verify(&who.tenant, &who.subject, code).await
    };
    let a = result.map_err(|e| e.to_string())?;
    print_json(&attempt_json(&a));
    match a.outcome {
        backup_codes_shim::plugin::Outcome::Accepted(_) => Ok(()),
        _ => Err("the code was not accepted".into()),
    }
}

async fn serve(config: Config, demo: bool) -> Result<(), String> {
    let state = server::build(&config).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let housekeeping = server::spawn_housekeeping(&state);
    eprintln!(
        "backup-code shim listening on http://{address} (database {})",
        redact_url(&config.database_url)
    );
    if demo {
        eprintln!(
            "No tenant is configured, so the local `demo` tenant is on. Try it in a browser:\n\
             \n  {public}/demo\n\
             \n(set up backup codes, then sign in with one; the page plays a tiny identity provider\n\
             and shows the signed result it receives). The JSON API works too:\n\
             \n  TOKEN=$(cargo run -q --release -p backup-codes-shim -- token --subject alice)\n\
             \x20 curl -s -X POST -H \"Authorization: Bearer $TOKEN\" {public}/v1/tenants/demo/subjects/alice/codes\n\
             \nEvery call needs a fresh token (each is single-use). The API is described at\n\
             {public}/v1/openapi.json; configure your identity provider as a tenant with\n\
             `tenant-init` (see README.md).",
            public = config.public_url.trim_end_matches('/'),
        );
    }
    let router = backup_codes_shim::api::app(state.clone());
    let result = server::serve(listener, router, &config.limits, server::shutdown_signal()).await;
    housekeeping.abort();
    state.service.store().close().await;
    result.map_err(|e| e.to_string())
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

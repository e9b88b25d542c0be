//! `backup-codes-shim import --from SYSTEM FILE --tenant T`: each subject of
//! another identity server's export keeps the codes they saved. Subjects
//! that already have codes here are skipped, so running it again changes
//! nothing. It prints counts as JSON, and for records that failed, where and
//! why; never a code.

use std::path::PathBuf;

use anyhow::Context as _;
use backup_codes_shim::config::Config;
use backup_codes_shim::import::{self, Format, Options, RecordError};
use backup_codes_shim::server;
use backup_codes_shim::service::ImportOutcome;
use serde::Serialize;

use crate::{init_logging, print_json};

/// The system an export comes from.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum From {
    /// Keycloak realm or users export (JSON).
    Keycloak,
    /// Ory Kratos admin API identities with `include_credential=lookup_secret` (JSON).
    Kratos,
    /// django-allauth `dumpdata mfa.authenticator` (JSON).
    Allauth,
    /// Supabase Auth recovery codes as CSV (`user_id,code_hash,consumed_at`).
    Supabase,
    /// django-otp or authentik static tokens, `dumpdata` (JSON).
    Plaintext,
}

/// Options of `import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The system the export comes from.
    #[arg(long, value_enum)]
    from: From,
    /// The export file.
    file: PathBuf,
    /// The tenant the subjects belong to.
    #[arg(long)]
    tenant: String,
    /// The field that names the subject: Keycloak `username` (default), `id`
    /// or `email`; Kratos `id` (default) or `traits.NAME`.
    #[arg(long)]
    subject: Option<String>,
    /// django-allauth's MFA_RECOVERY_CODE_COUNT.
    #[arg(long, default_value_t = 10)]
    allauth_count: u8,
    /// django-allauth's MFA_RECOVERY_CODE_DIGITS.
    #[arg(long, default_value_t = 8)]
    allauth_digits: u8,
}

/// One subject or record that was not imported, and why.
#[derive(Serialize)]
struct Failure {
    /// The subject, when the record named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    /// The record's place in the file, when it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    /// What is wrong (never a code).
    reason: String,
}

/// What an import did.
#[derive(Serialize)]
struct Report {
    /// The tenant.
    tenant: String,
    /// Subjects whose sets were read from the file.
    read: usize,
    /// Subjects imported now.
    imported: usize,
    /// Of those, sets that keep the other system's digests (prompt a new set).
    legacy: usize,
    /// Subjects skipped: they already have codes here (an earlier import included).
    already_enrolled: usize,
    /// Entries that hold no recovery codes (other credential types).
    ignored: usize,
    /// Records and subjects not imported, with the reason.
    failed: Vec<Failure>,
}

impl From {
    fn format(self) -> Format {
        match self {
            Self::Keycloak => Format::Keycloak,
            Self::Kratos => Format::Kratos,
            Self::Allauth => Format::Allauth,
            Self::Supabase => Format::Supabase,
            Self::Plaintext => Format::Plaintext,
        }
    }
}

/// Read the export, import each subject, print the report.
pub async fn run(config: Config, args: ImportArgs) -> anyhow::Result<()> {
    init_logging(&config);
    let text = import::read_file(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let options = Options {
        subject: args.subject,
        allauth_count: args.allauth_count,
        allauth_digits: args.allauth_digits,
    };
    let export = import::read(args.from.format(), &text, &options)
        .with_context(|| format!("reading {} as this system's export", args.file.display()))?;
    drop(text);
    let state = server::build(&config).await.context("starting the shim")?;
    state
        .service
        .tenant(&args.tenant)
        .with_context(|| format!("tenant {}", args.tenant))?;
    let mut report = Report {
        tenant: args.tenant.clone(),
        read: export.records.len(),
        imported: 0,
        legacy: 0,
        already_enrolled: 0,
        ignored: export.ignored,
        failed: export
            .errors
            .into_iter()
            .map(|RecordError { at, reason }| Failure {
                subject: None,
                at: Some(at),
                reason,
            })
            .collect(),
    };
    for mut record in export.records {
        let subject = record.subject.clone();
        let who = match state.service.subject(&args.tenant, &record.subject) {
            Ok(who) => who,
            Err(e) => {
                backup_codes_shim::plugin::wipe_foreign(&mut record.set);
                report.failed.push(Failure {
                    subject: Some(subject),
                    at: None,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        match state.service.import(&who, record.set).await {
            Ok(ImportOutcome::Imported(done)) => {
                report.imported += 1;
                report.legacy += usize::from(done.legacy);
            }
            Ok(ImportOutcome::Skipped) => report.already_enrolled += 1,
            Err(e) => report.failed.push(Failure {
                subject: Some(subject),
                at: None,
                reason: e.to_string(),
            }),
        }
    }
    state.service.store().close().await;
    print_json(&report)
}

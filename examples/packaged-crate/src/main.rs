//! Enrols a user and signs them in with a backup code through the published
//! host crate: the service on a SQLite store, the component the crate embeds.
//! Prints the component's SHA-256 and each outcome; exits non-zero if any
//! step does not answer as it must.
//!
//! Usage: `packaged-crate-embedder DATA_DIR`

use std::path::PathBuf;

use backup_codes_shim::config::Config;
use backup_codes_shim::plugin::Outcome;
use backup_codes_shim::{demo, server};
use secrecy::{ExposeSecret, SecretString};

type Error = Box<dyn std::error::Error>;

fn code(issued: &backup_codes_shim::Issued, index: usize) -> Result<SecretString, Error> {
    let code = issued.codes.get(index).ok_or("the set has too few codes")?;
    Ok(SecretString::from(code.code.expose_secret().clone()))
}

fn accepted(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Accepted(_))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: packaged-crate-embedder DATA_DIR")?,
    );
    let mut config = Config {
        database_url: format!("sqlite://{}/embedder.db", dir.display()),
        ..Config::default()
    };
    config.plugin.cache_dir = None;
    demo::add_to(&mut config, &dir)?;
    let state = server::build(&config).await?;
    let service = &state.service;
    let digest: String = service
        .plugin()
        .sha256()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("component sha256 {digest}");

    let who = service.subject(demo::TENANT, "ada")?;
    let issued = service.issue(&who).await?;
    println!(
        "issued {} codes, set {}",
        issued.codes.len(),
        issued.fingerprint
    );
    let saved = service
        .activate(&who, Some(&issued.set_id), code(&issued, 0)?)
        .await?;
    println!("proof of saving: {:?}", saved.outcome);
    let first = service.verify(&who, code(&issued, 1)?).await?;
    println!(
        "sign-in with a code: {:?}, {} left",
        first.outcome, first.remaining
    );
    let again = service.verify(&who, code(&issued, 1)?).await?;
    println!("the same code again: {:?}", again.outcome);
    if !(accepted(&saved.outcome) && accepted(&first.outcome) && !accepted(&again.outcome)) {
        return Err("the service did not answer as it must".into());
    }
    Ok(())
}

//! `tenant-init`: the block it prints is a valid configuration as it is, its
//! environment variable names can be exported by a shell and reach the tenant,
//! and `--for lemonldap` writes LemonLDAP::NG's side with the same secrets.

use std::path::Path;
use std::process::{Command, Output};

use backup_codes_harness::shim::binary;
use backup_codes_shim::Config;
use secrecy::ExposeSecret;
use sha2::Digest as _;

/// Run the shim's CLI in `dir` with `envs`.
fn cli(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(binary().unwrap())
        .args(args)
        .current_dir(dir)
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A configuration file of `block` with cheap settings for a test.
fn config_file(dir: &Path, block: &str) -> String {
    let path = dir.join("shim.toml");
    std::fs::write(
        &path,
        format!("log_filter = \"warn\"\n[plugin]\ncache_dir = \"cache\"\n\n{block}"),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn the_generic_block_runs_as_printed_and_its_environment_names_work() {
    let dir = tempfile::tempdir().unwrap();
    let block = ok(&cli(
        dir.path(),
        &[
            "tenant-init",
            "--tenant",
            "corp-sso",
            "--issuer",
            "https://idp.example",
        ],
        &[],
    ));
    assert!(
        block.contains("BACKUP_CODES_TENANTS__CORP_SSO__HS256_SECRET"),
        "{block}"
    );
    let secret_line = block
        .lines()
        .find(|l| l.starts_with("hs256_secret = "))
        .unwrap();
    let secret: String =
        serde_json::from_str(secret_line.trim_start_matches("hs256_secret = ")).unwrap();

    // As printed.
    let config = config_file(dir.path(), &block);
    let issue = [
        "--config",
        &config,
        "issue",
        "--tenant",
        "corp-sso",
        "--subject",
        "alice",
    ];
    ok(&cli(dir.path(), &issue, &[]));

    // The secret out of the file, in the environment under the printed name.
    let without: String = block
        .lines()
        .filter(|l| *l != secret_line)
        .map(|l| format!("{l}\n"))
        .collect();
    config_file(dir.path(), &without);
    let refused = cli(dir.path(), &issue, &[]);
    assert!(
        !refused.status.success(),
        "a tenant without its secret does not start"
    );
    ok(&cli(
        dir.path(),
        &issue,
        &[("BACKUP_CODES_TENANTS__CORP_SSO__HS256_SECRET", &secret)],
    ));

    // Ids environment variables could not spell, or tell apart, are refused.
    for bad in ["corp--sso", "-corp", "corp_"] {
        let tenant = format!("--tenant={bad}");
        let out = cli(
            dir.path(),
            &["tenant-init", &tenant, "--issuer", "https://i.example"],
            &[],
        );
        assert!(!out.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("words joined by single"));
    }
    let twice = block.replace("[tenants.corp-sso", "[tenants.Corp_SSO");
    config_file(dir.path(), &format!("{block}\n{twice}"));
    let out = cli(dir.path(), &issue, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell them apart"));
}

#[test]
fn the_lemonldap_block_and_settings_share_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("llng.json");
    let args = [
        "tenant-init",
        "--tenant",
        "llng",
        "--issuer",
        "https://auth.example.com",
        "--for",
        "lemonldap",
        "--shim-url",
        "https://shim.example/codes/",
        "--lemonldap-out",
        out_file.to_str().unwrap(),
    ];
    let block = ok(&cli(dir.path(), &args, &[]));
    let config = Config::load(Some(Path::new(&config_file(dir.path(), &block)))).unwrap();
    let tenant = &config.tenants["llng"];
    let rest2f = tenant.rest2f.as_ref().unwrap();
    assert_eq!(rest2f.subject_field(), "uid");
    let selfservice = tenant.selfservice.as_ref().unwrap();
    assert_eq!(selfservice.replace_acr, ["loa-3"]);

    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "it holds client secrets");
    let llng: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();

    // LemonLDAP::NG sends the Basic credentials whose hash the shim keeps.
    let verify = reqwest::Url::parse(llng["rest2fVerifyUrl"].as_str().unwrap()).unwrap();
    assert_eq!(verify.path(), "/codes/rest2f/llng/verify");
    assert_eq!(verify.username(), rest2f.clients[0].id);
    let sent = hex::encode(sha2::Sha256::digest(verify.password().unwrap().as_bytes()));
    assert_eq!(sent, rest2f.clients[0].secret_sha256);
    assert_eq!(llng["rest2fVerifyArgs"], serde_json::json!({"uid": "uid"}));
    assert_eq!(llng["rest2fAuthnLevel"], 3);

    // Its two relying parties are the shim's two clients, at levels 1 and 3.
    let strong = selfservice.strong_client.as_ref().unwrap();
    for (client, level) in [(&selfservice.client, 1), (strong, 3)] {
        let rp = &llng["oidcRPMetaDataOptions"][&client.client_id];
        assert_eq!(
            rp["oidcRPMetaDataOptionsClientSecret"],
            client.client_secret.as_ref().unwrap().expose_secret()
        );
        assert_eq!(rp["oidcRPMetaDataOptionsAuthnLevel"], level);
        assert_eq!(
            rp["oidcRPMetaDataOptionsRedirectUris"],
            "https://shim.example/codes/self/llng/callback"
        );
    }

    // An existing file is never overwritten.
    let again = cli(dir.path(), &args, &[]);
    assert!(!again.status.success());
    assert!(again.stdout.is_empty(), "no block without its settings");
}

//! The readers on small exports in each system's shape (the full fixtures,
//! made by each system's own algorithm, are exercised end to end in the
//! harness's `import` tests).

use super::*;
use crate::plugin::ForeignSet;

fn read_ok(format: Format, text: &str) -> Export {
    read(format, text, &Options::default()).unwrap()
}

#[test]
fn keycloak_users_with_recovery_codes_are_read_the_others_counted() {
    let digest =
        "XYt2bTs3zoqmjdNUpQr5yUIBKG15k9QuILt6k8DMmJf9JxSihg7IxNeZEjdsgjTftS6EHv8OuWA3CoTqVzXosw==";
    let export = serde_json::json!({"realm": "acme", "users": [
        {"username": "alice", "credentials": [
            {"type": "password"},
            {"type": "recovery-authn-codes",
             "secretData": format!(r#"{{"codes":[{{"number":3,"encodedHashedValue":"{digest}"}}]}}"#),
             "credentialData": r#"{"hashIterations":1,"algorithm":"RS512","totalCodes":12,"remainingCodes":10}"#}]},
        {"username": "bob", "credentials": [{"type": "password"}]},
        {"username": "carol", "credentials": [{"type": "recovery-authn-codes",
             "secretData": "{\"codes\":[{\"number\":1,\"encodedHashedValue\":\"AAAA\"}]}",
             "credentialData": "{\"algorithm\":\"SHA-512\",\"total\":12,\"remaining\":12}"}]}
    ]});
    let got = read_ok(Format::Keycloak, &export.to_string());
    assert_eq!(got.ignored, 1);
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.records[0].subject, "alice");
    let ForeignSet::Keycloak(k) = &got.records[0].set else {
        panic!("{:?}", got.records[0]);
    };
    assert_eq!(
        (k.total, k.remaining.len(), k.remaining[0].number),
        (12, 1, 3)
    );
    assert_eq!(
        got.errors,
        [RecordError {
            at: "users[2]".into(),
            reason: "a digest that is not base64 SHA-512".into()
        }]
    );
    let by_id = read(
        Format::Keycloak,
        &export.to_string(),
        &Options {
            subject: Some("phone".into()),
            ..Options::default()
        },
    );
    assert!(matches!(by_id, Err(ReadError::Subject(_))));
}

#[test]
fn kratos_identities_keep_used_marks_and_the_zero_time_is_unused() {
    let export = serde_json::json!([
        {"id": "6f1b", "traits": {"email": "a@example.com"}, "credentials": {"lookup_secret": {
            "type": "lookup_secret", "config": {"recovery_codes": [
                {"code": "k4m9x7qp", "used_at": null},
                {"code": "a1b2c3d4", "used_at": "2026-07-01T10:00:00Z"},
                {"code": "zz99yy88", "used_at": "0001-01-01T00:00:00Z"}]}}}},
        {"id": "7a2c", "credentials": {"password": {}}}
    ]);
    let got = read(
        Format::Kratos,
        &export.to_string(),
        &Options {
            subject: Some("traits.email".into()),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(got.ignored, 1);
    let ForeignSet::Kratos(codes) = &got.records[0].set else {
        panic!();
    };
    assert_eq!(got.records[0].subject, "a@example.com");
    let used: Vec<Option<u64>> = codes.iter().map(|c| c.used_at).collect();
    assert_eq!(used, [None, Some(1_782_900_000), None]);
}

#[test]
fn allauth_seeds_and_migrated_codes_are_read_other_authenticators_counted() {
    let export = r#"[
      {"model": "mfa.authenticator", "pk": 7, "fields": {"user": 3, "type": "recovery_codes",
        "data": {"seed": "0123456789abcdef0123456789abcdef01234567", "used_mask": 5}}},
      {"model": "mfa.authenticator", "pk": 8, "fields": {"user": 3, "type": "totp", "data": {}}},
      {"model": "mfa.authenticator", "pk": 9, "fields": {"user": 4, "type": "recovery_codes",
        "data": {"migrated_codes": ["abcd2345", "efgh6723"]}}}
    ]"#;
    let got = read(
        Format::Allauth,
        export,
        &Options {
            allauth_count: 12,
            allauth_digits: 6,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(got.ignored, 1);
    let ForeignSet::Allauth(a) = &got.records[0].set else {
        panic!();
    };
    assert_eq!((a.count, a.digits, a.used_mask), (12, 6, 5));
    assert_eq!(got.records[0].subject, "3");
    assert!(matches!(&got.records[1].set, ForeignSet::Plaintext(c) if c.len() == 2));
}

#[test]
fn supabase_rows_group_by_user_and_a_bad_row_spoils_its_set() {
    let csv = "user_id,code_hash,consumed_at\n\
        u1,\"$argon2id$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa5\",\n\
        u1,\"$argon2id$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa6\",2026-09-03 12:00:00+00\n\
        u2,\"$argon2id$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa7\",yesterday\n\
        u2,\"$argon2id$v=19$m=19456,t=1,p=1$AAECAwQFBgcICQoLDA0ODw$fMa8\",\n";
    let got = read_ok(Format::Supabase, csv);
    assert_eq!(got.records.len(), 1);
    let ForeignSet::Supabase(codes) = &got.records[0].set else {
        panic!();
    };
    assert_eq!(codes.len(), 2);
    assert!(
        codes[0].phc.contains("m=19456,t=1,p=1"),
        "quoted commas kept"
    );
    assert_eq!(codes[1].used_at, Some(1_788_436_800));
    assert_eq!(got.errors[0].at, "line 4");
    assert!(
        !got.errors[0].reason.contains("argon2"),
        "no hash in errors"
    );
    assert!(matches!(
        read(Format::Supabase, "a,b\n1,2\n", &Options::default()),
        Err(ReadError::Shape(_))
    ));
}

#[test]
fn otp_tokens_group_by_their_devices_user() {
    for app in ["otp_static", "authentik_stages_authenticator_static"] {
        let export = format!(
            r#"[
          {{"model": "{app}.staticdevice", "pk": 1, "fields": {{"user": 10, "name": "backup"}}}},
          {{"model": "{app}.staticdevice", "pk": 2, "fields": {{"user": 10, "name": "spare"}}}},
          {{"model": "{app}.statictoken", "pk": 5, "fields": {{"device": 1, "token": "aB3xYz9Q"}}}},
          {{"model": "{app}.statictoken", "pk": 6, "fields": {{"device": 2, "token": "ab3xyz9q"}}}},
          {{"model": "{app}.statictoken", "pk": 7, "fields": {{"device": 9, "token": "zzzzzzzz"}}}},
          {{"model": "auth.user", "pk": 10, "fields": {{}}}}
        ]"#
        );
        let got = read_ok(Format::Plaintext, &export);
        assert_eq!(got.records.len(), 1, "{app}");
        assert_eq!(got.records[0].subject, "10");
        assert!(matches!(&got.records[0].set, ForeignSet::Plaintext(t) if t.len() == 2));
        assert_eq!(got.ignored, 1);
        assert_eq!(got.errors.len(), 1);
    }
}

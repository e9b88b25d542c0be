//! The served OpenAPI document against the implementation.

use backup_codes_harness::client::{Reply, ShimClient, codes};
use backup_codes_harness::db::Backend;
use backup_codes_harness::idp::Alg;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Env, TENANT};

/// Every operation in the OpenAPI document exists, and its responses match the
/// documented status codes and schemas.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_matches_the_implementation() {
    let env = Env::new(Backend::Sqlite, Alg::Hs256).await;
    let served = env
        .client
        .send(Method::GET, "/v1/openapi.json", None, None)
        .await
        .unwrap();
    let doc: Value = served.json.clone();
    assert_eq!(doc["openapi"], "3.1.0");
    let subject = "hank";

    let check = |op: &Value, r: &Reply, name: &str| {
        let code = r.status.as_u16().to_string();
        let documented = &op["responses"][&code];
        assert!(
            documented.is_object(),
            "{name}: status {code} is not documented ({})",
            r.text
        );
        if let Some(schema) = documented["content"]["application/json"]["schema"].as_object() {
            let mut root = json!({"components": doc["components"].clone()});
            for (k, v) in schema {
                root[k] = v.clone();
            }
            let validator = jsonschema::draft202012::new(&root).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&r.json)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name} {code}: {errors:?} in {}", r.text);
        }
    };

    let codes_path = ShimClient::codes_path(TENANT, subject);
    let paths = doc["paths"].as_object().unwrap();
    let op = |path: &str, method: &str| paths[path][method].clone();
    let base = "/v1/tenants/{tenant}/subjects/{subject}/codes";

    let issued = env
        .client
        .issue(TENANT, subject, &env.token(subject))
        .await
        .unwrap();
    check(&op(base, "post"), &issued, "issue");
    let codes = codes(&issued);
    let r = env
        .client
        .verify(TENANT, subject, &env.token(subject), &codes[0])
        .await
        .unwrap();
    check(
        &op(&format!("{base}/verify"), "post"),
        &r,
        "verify before activation",
    );
    let r = env
        .client
        .activate(TENANT, subject, &env.token(subject), "AAAA")
        .await
        .unwrap();
    check(
        &op(&format!("{base}/activate"), "post"),
        &r,
        "activate malformed",
    );
    let r = env
        .client
        .activate(TENANT, subject, &env.token(subject), &codes[0])
        .await
        .unwrap();
    check(&op(&format!("{base}/activate"), "post"), &r, "activate");
    for code in [&codes[1], &codes[1]] {
        let r = env
            .client
            .verify(TENANT, subject, &env.token(subject), code)
            .await
            .unwrap();
        check(&op(&format!("{base}/verify"), "post"), &r, "verify");
    }
    let r = env
        .client
        .status(TENANT, subject, &env.token(subject))
        .await
        .unwrap();
    check(&op(base, "get"), &r, "status");
    let r = env
        .client
        .send(Method::GET, &codes_path, Some("bad"), None)
        .await
        .unwrap();
    check(&op(base, "get"), &r, "status unauthorized");
    let r = env
        .client
        .delete(TENANT, subject, &env.token(subject))
        .await
        .unwrap();
    check(&op(base, "delete"), &r, "delete");
    let r = env
        .client
        .status(TENANT, subject, &env.token(subject))
        .await
        .unwrap();
    check(&op(base, "get"), &r, "status not enrolled");

    // Nothing is served that the document does not describe.
    let documented: Vec<&String> = paths.keys().collect();
    assert_eq!(documented.len(), 3);
    let r = env
        .client
        .send(Method::PUT, &codes_path, Some(&env.token(subject)), None)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

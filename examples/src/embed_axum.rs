//! Embedding the backup-code service in an existing axum application.
//!
//! The application keeps its own routes and state; the backup-code service (its
//! JSON API, the login step's pages and, with no tenant configured, the local
//! demo) is nested under `/backup-codes`, and the application also calls the
//! service directly (no HTTP) from one of its own handlers. Every page, asset,
//! form, redirect and cookie of the step works under the prefix.
//!
//! Run: `cargo run -p backup-codes-examples --bin embed-axum`, then open
//! http://127.0.0.1:3000/backup-codes/demo, or
//! `curl http://127.0.0.1:3000/backup-codes/healthz`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use backup_codes_shim::config::Config;
use backup_codes_shim::service::Service;
use backup_codes_shim::{demo, server};

/// The host application's own state.
#[derive(Clone)]
struct AppState {
    name: &'static str,
    backup_codes: Arc<Service>,
}

async fn home(State(app): State<AppState>) -> String {
    format!(
        "{}: backup codes are served under /backup-codes/v1\n",
        app.name
    )
}

/// The application's own page that shows how many codes a user has left,
/// calling the service directly.
async fn remaining(
    State(app): State<AppState>,
    Path(user): Path<String>,
) -> Json<serde_json::Value> {
    let status = match app.backup_codes.subject(demo::TENANT, &user) {
        Ok(who) => app.backup_codes.status(&who).await,
        Err(e) => Err(e),
    };
    let body = match status {
        Ok(s) => serde_json::json!({
            "user": user,
            "remaining": s.active.as_ref().map(|a| a.remaining),
            "low": s.active.as_ref().is_some_and(|a| a.low),
        }),
        Err(e) => serde_json::json!({ "user": user, "error": e.to_string() }),
    };
    Json(body)
}

/// Build the combined router: the application's routes plus the nested API.
async fn router(mut config: Config) -> Result<Router, Box<dyn std::error::Error>> {
    let data_dir = config.data_dir();
    demo::add_to(&mut config, &data_dir)?;
    let backup_codes = server::build(&config).await?;
    let app = AppState {
        name: "example-service",
        backup_codes: Arc::clone(&backup_codes.service),
    };
    Ok(Router::new()
        .route("/", get(home))
        .route("/users/{user}/backup-codes-left", get(remaining))
        .with_state(app)
        .nest("/backup-codes", backup_codes_shim::http::app(backup_codes)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config {
        database_url: "sqlite://data/embed-example.db".into(),
        public_url: "http://127.0.0.1:3000".parse()?,
        ..Config::default()
    };
    let limits = config.limits.clone();
    let app = router(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    server::serve(listener, app, &limits, server::shutdown_signal()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use backup_codes_harness::step::{Page, StepClient};

    /// Every address a page names is under the prefix, and so are its cookies.
    fn under_prefix(base: &str, page: &Page) {
        for attr in ["href=\"", "action=\"", "src=\""] {
            for part in page.html.split(attr).skip(1) {
                let target = part.split('"').next().unwrap();
                assert!(
                    target.starts_with("/backup-codes/")
                        || target.starts_with(&format!("{base}/backup-codes/")),
                    "{attr}{target} is not under the prefix:\n{}",
                    page.html
                );
            }
        }
        if let Some(cookie) = page.headers.get(reqwest::header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            assert!(cookie.contains("Path=/backup-codes/"), "{cookie}");
        }
    }

    /// The demo IdP sends the browser to the step: its entry page and the
    /// demo's state cookie.
    async fn demo_start(browser: &StepClient, base: &str, action: &str) -> (Page, String) {
        let start = browser
            .get(
                "/backup-codes/demo/start",
                &[("user", "zoe"), ("action", action)],
            )
            .await
            .unwrap();
        assert_eq!(start.status, 303);
        under_prefix(base, &start);
        let state_cookie = start.headers[reqwest::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let location = start.headers[reqwest::header::LOCATION].to_str().unwrap();
        let path = location
            .strip_prefix(base)
            .expect("the step on this server");
        assert!(path.starts_with("/backup-codes/step/demo/"), "{path}");
        let (route, query) = path.split_once('?').unwrap();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let query: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let entry = browser.get(route, &query).await.unwrap();
        assert_eq!(entry.status, 200, "{}", entry.html);
        under_prefix(base, &entry);
        (entry, state_cookie)
    }

    /// The browser posts the signed result to the demo IdP.
    async fn finish(browser: &StepClient, base: &str, done: Page, state_cookie: String) -> Page {
        under_prefix(base, &done);
        assert_eq!(
            done.handoff_action().unwrap(),
            format!("{base}/backup-codes/demo/continue")
        );
        let result = browser
            .post(
                "/backup-codes/demo/continue",
                Some(&state_cookie),
                &[
                    ("state", &done.field("state").unwrap()),
                    ("session_token", &done.field("session_token").unwrap()),
                ],
            )
            .await
            .unwrap();
        under_prefix(base, &result);
        result
    }

    /// The application's routes and the nested service on one server; the whole
    /// enrol + login flow of the step runs under `/backup-codes`.
    #[tokio::test(flavor = "multi_thread")]
    async fn own_routes_and_nested_service_share_one_server() {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config {
            database_url: format!("sqlite://{}/embed.db", dir.path().display()),
            public_url: base.parse().unwrap(),
            ..Config::default()
        };
        config.plugin.cache_dir = None;
        let limits = config.limits.clone();
        let app = router(config).await.unwrap();
        let server = tokio::spawn(async move {
            server::serve(listener, app, &limits, std::future::pending()).await
        });
        let browser = StepClient::new(&base, demo::TENANT, demo::ISSUER, "").unwrap();
        let get = |path: &str| {
            let url = format!("{base}{path}");
            async move {
                let http = backup_codes_shim::http_client().build().unwrap();
                let r = http.get(&url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(get("/").await.0, 200);
        assert_eq!(get("/backup-codes/healthz").await, (200, "ok".into()));
        let (status, body) = get("/users/zoe/backup-codes-left").await;
        assert_eq!(status, 200);
        assert!(body.contains("no backup codes are enrolled"), "{body}");
        let (status, _) = get("/backup-codes/v1/openapi.json").await;
        assert_eq!(status, 200);
        let (status, css) = get("/backup-codes/static/step.css").await;
        assert_eq!(status, 200);
        assert!(!css.is_empty());

        let (entry, state_cookie) = demo_start(&browser, &base, "enroll").await;
        let cookie = entry.flow_cookie().unwrap();
        let shown = browser
            .post(
                "/backup-codes/step/demo/enroll/issue",
                Some(&cookie),
                &[("flow", &entry.field("flow").unwrap())],
            )
            .await
            .unwrap();
        under_prefix(&base, &shown);
        let codes = shown.codes();
        assert_eq!(codes.len(), 10);
        let done = browser
            .post(
                "/backup-codes/step/demo/enroll/activate",
                Some(&cookie),
                &[("flow", &shown.field("flow").unwrap()), ("code", &codes[0])],
            )
            .await
            .unwrap();
        let result = finish(&browser, &base, done, state_cookie).await;
        assert_eq!(result.status, 200, "{}", result.html);
        assert!(result.html.contains("Enrolled: set"), "{}", result.html);

        let (entry, state_cookie) = demo_start(&browser, &base, "login").await;
        let cookie = entry.flow_cookie().unwrap();
        let done = browser
            .post(
                "/backup-codes/step/demo/login",
                Some(&cookie),
                &[("flow", &entry.field("flow").unwrap()), ("code", &codes[3])],
            )
            .await
            .unwrap();
        let result = finish(&browser, &base, done, state_cookie).await;
        assert!(
            result.html.contains("Signed in with backup code #4"),
            "{}",
            result.html
        );
        let (_, body) = get("/users/zoe/backup-codes-left").await;
        assert!(body.contains("\"remaining\":9"), "{body}");
        server.abort();
    }
}

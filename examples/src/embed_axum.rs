//! Embedding the backup-code service in an existing axum application.
//!
//! The application keeps its own routes and state; the backup-code JSON API is
//! nested under `/backup-codes`, and the application also calls the service
//! directly (no HTTP) from one of its own handlers.
//!
//! Run: `cargo run -p backup-codes-examples --bin embed-axum`, then
//! `curl http://127.0.0.1:3000/` and `curl http://127.0.0.1:3000/backup-codes/healthz`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use backup_codes_shim::config::Config;
use backup_codes_shim::server;
use backup_codes_shim::service::Service;

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
    let body = match app.backup_codes.status(server::DEMO_TENANT, &user).await {
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
    let data_dir = server::data_dir(&config);
    server::with_demo_tenant(&mut config, &data_dir)?;
    let backup_codes = server::build(&config).await?;
    let app = AppState {
        name: "example-service",
        backup_codes: Arc::clone(&backup_codes.service),
    };
    Ok(Router::new()
        .route("/", get(home))
        .route("/users/{user}/backup-codes-left", get(remaining))
        .with_state(app)
        .nest("/backup-codes", backup_codes_shim::api::app(backup_codes)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config {
        database_url: "sqlite://data/embed-example.db".into(),
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn own_routes_and_nested_api_share_one_server() {
        let dir = std::env::temp_dir().join(format!("embed-example-{}", std::process::id()));
        let config = Config {
            database_url: format!("sqlite://{}/embed.db", dir.display()),
            ..Config::default()
        };
        let limits = config.limits.clone();
        let app = router(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            server::serve(listener, app, &limits, std::future::pending()).await
        });
        let get = |path: &str| {
            let url = format!("{base}{path}");
            async move {
                let r = reqwest::get(&url).await.unwrap();
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
        server.abort();
        let _ = std::fs::remove_dir_all(dir);
    }
}

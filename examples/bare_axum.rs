//! The reference for the benchmark's throughput limit: a bare axum server that only verifies
//! Slack's v0 signature over the raw body and returns a fixed ephemeral Block Kit reply.
//!
//! ```text
//! SLACK_SIGNING_SECRET=… cargo run --release --example bare_axum -- [--listen 127.0.0.1:0] [--reply FILE]
//! ```
//!
//! `POST /slack/commands`: 401 unless `X-Slack-Signature` is `v0=HMAC-SHA256(secret,
//! "v0:{timestamp}:{body}")` and the timestamp is within 300 s; then 200 with the reply (the JSON
//! in `--reply FILE`, or `BENCH_REPLY_FILE`, or `bench/fixtures/status_ack.json`). No replay
//! check, no logging, no parsing: what any Slack endpoint has to do at the least.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use sha2::Sha256;

struct App {
    secret: Vec<u8>,
    reply: Bytes,
}

async fn commands(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sig)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match ts.parse::<u64>() {
        Ok(t) if now.abs_diff(t) <= 300 => {}
        _ => return (StatusCode::UNAUTHORIZED, "stale").into_response(),
    }
    let Some(expected) = sig.strip_prefix("v0=").and_then(|h| hex::decode(h).ok()) else {
        return (StatusCode::UNAUTHORIZED, "malformed signature").into_response();
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&app.secret).expect("any key length");
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(&body);
    if mac.verify_slice(&expected).is_err() {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.reply.clone(),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:0".into());
    let reply = match arg("--reply").or_else(|| std::env::var("BENCH_REPLY_FILE").ok()) {
        Some(path) => std::fs::read(&path)?,
        None => include_bytes!("../bench/fixtures/status_ack.json").to_vec(),
    };
    let secret = std::env::var("SLACK_SIGNING_SECRET")
        .map_err(|_| anyhow::anyhow!("SLACK_SIGNING_SECRET is required"))?;
    let app = Arc::new(App {
        secret: secret.into_bytes(),
        reply: Bytes::from(reply),
    });
    let router = Router::new()
        .route(
            "/slack/commands",
            post(commands).layer(DefaultBodyLimit::max(16 * 1024)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

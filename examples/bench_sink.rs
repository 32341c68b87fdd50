//! A fast local stand-in for Slack's Web API and `response_url`s, for `bench/run`.
//!
//! ```text
//! cargo run --release --example bench_sink -- [--listen 127.0.0.1:0]
//! ```
//!
//! Prints `listening on ADDR`. Answers `POST /api/{method}` like Slack (`auth.test` with a bot
//! identity, `chat.postMessage` with a `ts`, everything else `{"ok":true}`) and
//! `POST /respond/{id}` with 200 `ok`; counts everything it receives. `GET /stats` returns the
//! counts as JSON (`{"respond": N, "api": {"chat.postMessage": N, …}, "total": N}`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;

#[derive(Default)]
struct Counts {
    respond: AtomicU64,
    total: AtomicU64,
    ts: AtomicU64,
    api: Mutex<BTreeMap<String, u64>>,
}

async fn api(
    State(c): State<Arc<Counts>>,
    Path(method): Path<String>,
    _body: Bytes,
) -> impl IntoResponse {
    c.total.fetch_add(1, Ordering::Relaxed);
    *c.api
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(method.clone())
        .or_default() += 1;
    let ts = format!(
        "{}.000100",
        1_733_230_000 + c.ts.fetch_add(1, Ordering::Relaxed)
    );
    let body = match method.as_str() {
        "auth.test" => json!({
            "ok": true, "url": "https://bench.slack.com/", "team": "bench", "user": "lambda-pause",
            "team_id": "T0001", "user_id": "U0BOT", "bot_id": "B0BOT", "is_enterprise_install": false
        }),
        "chat.postMessage" => {
            json!({"ok": true, "channel": "C0INCIDENT", "ts": ts, "message": {"ts": ts, "text": ""}})
        }
        "chat.update" => {
            json!({"ok": true, "channel": "C0INCIDENT", "ts": ts, "message": {"text": ""}})
        }
        _ => json!({"ok": true}),
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

async fn respond(State(c): State<Arc<Counts>>, _body: Bytes) -> &'static str {
    c.total.fetch_add(1, Ordering::Relaxed);
    c.respond.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn stats(State(c): State<Arc<Counts>>) -> impl IntoResponse {
    let api = c.api.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "respond": c.respond.load(Ordering::Relaxed),
            "total": c.total.load(Ordering::Relaxed),
            "api": api,
        })
        .to_string(),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .route("/api/{method}", post(api))
        .route("/respond/{id}", post(respond))
        .route("/stats", get(stats))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(counts);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

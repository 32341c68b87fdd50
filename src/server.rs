//! The HTTP face: axum routes, body limits, timeouts and tracing; handlers verify, decode, ack and hand work to the engine.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::slack::messages::Message;
use crate::slack::payload::{self, Interaction};
use crate::slack::verify::{Signature, SignedBody, Verifier};
use crate::workflow::Engine;

/// Slash-command bodies are small form posts; Slack caps the text at a few KiB.
pub const COMMAND_BODY_LIMIT: usize = 16 * 1024;
/// Interaction payloads carry the whole message with its blocks.
pub const INTERACTION_BODY_LIMIT: usize = 256 * 1024;
/// No request takes longer than this (handlers only ack, so this is generous).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests handled at once; past it, new ones get 503 at once instead of queueing without bound
/// (acks take about a millisecond, so this is only reached when something is stuck).
pub const MAX_IN_FLIGHT: usize = 512;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.verifier)
    }
}

impl FromRef<AppState> for Arc<Engine> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.engine)
    }
}

/// Gives every request an id (`x-request-id`, echoed in the response) that every log line of its handling carries.
#[derive(Clone, Copy, Default)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).ok()?;
        axum::http::HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one HTTP request: method, path and request id only (never headers or bodies).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/slack/commands",
            post(commands).layer(DefaultBodyLimit::max(COMMAND_BODY_LIMIT)),
        )
        .route(
            "/slack/interactions",
            post(interactions).layer(DefaultBodyLimit::max(INTERACTION_BODY_LIMIT)),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(MAX_IN_FLIGHT),
        )
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// 503 when `MAX_IN_FLIGHT` requests are already being handled: nothing is recorded, Slack
/// shows the user an error and they can run the command again.
async fn overloaded(_: tower::BoxError) -> (StatusCode, &'static str) {
    tracing::warn!("too many requests in flight; shedding");
    (StatusCode::SERVICE_UNAVAILABLE, "overloaded")
}

async fn healthz() -> &'static str {
    "ok"
}

/// The JSON body of an immediate slash-command answer.
#[derive(Serialize)]
struct Ack {
    response_type: &'static str,
    #[serde(flatten)]
    content: slack_morphism::SlackMessageContent,
}

fn ack(message: &Message) -> Response {
    Json(Ack {
        response_type: "ephemeral",
        content: message.content(),
    })
    .into_response()
}

/// 401 for a signed request delivered before: it has no second effect. `durable` also asks the
/// store, so a replay sent to another process sharing it is refused too.
async fn replayed(engine: &Engine, signature: &Signature, durable: bool) -> Option<Response> {
    if engine.first_seen_here(signature) && (!durable || engine.first_delivery(signature).await) {
        None
    } else {
        tracing::warn!("rejected a replayed request");
        Some((StatusCode::UNAUTHORIZED, "replayed request").into_response())
    }
}

async fn commands(
    State(engine): State<Arc<Engine>>,
    SignedBody(body, signature): SignedBody,
) -> Response {
    let decoded = payload::decode_command(&body);
    let durable = decoded.as_ref().is_ok_and(Engine::command_has_effect);
    if let Some(refused) = replayed(&engine, &signature, durable).await {
        return refused;
    }
    match decoded {
        Ok(cmd) if !engine.app_allowed(cmd.app_id.as_deref()) => {
            tracing::warn!("slash command for another Slack app");
            (StatusCode::UNAUTHORIZED, "app not allowed").into_response()
        }
        Ok(cmd) if !engine.team_allowed(cmd.team.as_ref()) => {
            tracing::warn!(team = ?cmd.team, "slash command from a workspace the policy does not allow");
            (StatusCode::UNAUTHORIZED, "workspace not allowed").into_response()
        }
        Ok(cmd) => ack(&engine.command(cmd).await),
        Err(err) => {
            tracing::warn!(error = %err, "malformed slash command");
            (StatusCode::BAD_REQUEST, "malformed slash command").into_response()
        }
    }
}

async fn interactions(
    State(engine): State<Arc<Engine>>,
    SignedBody(body, signature): SignedBody,
) -> Response {
    if let Some(refused) = replayed(&engine, &signature, true).await {
        return refused;
    }
    match payload::decode_interaction(&body) {
        Ok(Interaction::BlockActions(click)) if !engine.app_allowed(click.app_id.as_deref()) => {
            tracing::warn!("click for another Slack app");
            (StatusCode::UNAUTHORIZED, "app not allowed").into_response()
        }
        Ok(Interaction::BlockActions(click)) if !engine.team_allowed(click.team.as_ref()) => {
            tracing::warn!(team = ?click.team, "click from a workspace the policy does not allow");
            (StatusCode::UNAUTHORIZED, "workspace not allowed").into_response()
        }
        Ok(Interaction::BlockActions(click)) => {
            if engine.spawn_click(click) {
                StatusCode::OK.into_response()
            } else {
                // Nothing was recorded: Slack shows the clicker an error and they can click again.
                (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response()
            }
        }
        Ok(Interaction::Other { kind }) => {
            tracing::debug!(kind, "ignored interaction type");
            StatusCode::OK.into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "malformed interaction");
            (StatusCode::BAD_REQUEST, "malformed interaction payload").into_response()
        }
    }
}

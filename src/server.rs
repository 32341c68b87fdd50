//! The HTTP face: axum routes, body limits, timeouts and tracing; handlers verify, decode, ack and hand work to the engine.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::ServiceExt;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::{Layer, Service};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::command;
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

/// Request ids: a per-process random key mixed with a counter. Unique within the process (the
/// mix is a bijection of the counter), unpredictable across processes, and no system call per request.
fn next_request_id() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = *KEY.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without the OS's randomness the ids are still unique, only predictable.
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    // SplitMix64's finaliser: invertible, so distinct counters give distinct ids.
    let mut z = COUNTER.fetch_add(1, Ordering::Relaxed) ^ key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Gives every request an id (`x-request-id`, echoed in the response) that every log line of its handling carries.
#[derive(Clone, Copy, Default)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let mut hex = [0u8; 16];
        hex::encode_to_slice(next_request_id().to_be_bytes(), &mut hex).ok()?;
        HeaderValue::from_bytes(&hex).ok().map(RequestId::new)
    }
}

/// Every request's way in: the span every log line of its handling carries (path and
/// request id only, never headers or bodies), one of `max` places in flight (503 at once past
/// them, nothing recorded) and a deadline (408 past it).
///
/// One small layer instead of tower's concurrency-limit, load-shed and timeout layers: a request
/// costs an atomic counter, and the timer is only started if the request has to wait at all.
#[derive(Clone)]
struct GateLayer {
    in_flight: Arc<AtomicUsize>,
    max: usize,
    timeout: Duration,
}

impl GateLayer {
    fn new(max: usize, timeout: Duration) -> Self {
        Self {
            in_flight: Arc::default(),
            max,
            timeout,
        }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gate {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Gate<S> {
    inner: S,
    layer: GateLayer,
}

/// A place among the requests in flight, given back when dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            None
        } else {
            Some(Self(Arc::clone(count)))
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S> Service<axum::extract::Request> for Gate<S>
where
    S: Service<axum::extract::Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        let span = request_span(&request);
        let Some(place) = InFlight::take(&self.layer.in_flight, self.layer.max) else {
            span.in_scope(|| tracing::warn!("too many requests in flight; shedding"));
            return GateFuture::Refused {
                response: Some((StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response()),
            };
        };
        let inner = span.in_scope(|| self.inner.call(request));
        GateFuture::Admitted {
            inner,
            span,
            deadline: None,
            timeout: self.layer.timeout,
            _place: place,
        }
    }
}

pin_project_lite::pin_project! {
    #[project = GateProjection]
    enum GateFuture<F> {
        Admitted {
            #[pin]
            inner: F,
            span: tracing::Span,
            #[pin]
            deadline: Option<tokio::time::Sleep>,
            timeout: Duration,
            _place: InFlight,
        },
        Refused {
            response: Option<Response>,
        },
    }
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GateProjection::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            GateProjection::Admitted {
                inner,
                span,
                mut deadline,
                timeout,
                ..
            } => {
                let _entered = span.enter();
                if let Poll::Ready(done) = inner.poll(cx) {
                    return Poll::Ready(done);
                }
                if deadline.is_none() {
                    deadline.set(Some(tokio::time::sleep(*timeout)));
                }
                let elapsed = deadline
                    .as_pin_mut()
                    .is_some_and(|sleep| sleep.poll(cx).is_ready());
                if elapsed {
                    tracing::warn!("request timed out");
                    Poll::Ready(Ok(
                        (StatusCode::REQUEST_TIMEOUT, "request timed out").into_response()
                    ))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

/// The span of one HTTP request.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // Plain `&str` fields: recorded as they are, with no formatting machinery.
    tracing::info_span!("http", path = request.uri().path(), request_id = id)
}

/// The application: its routes inside one stack of layers, applied once around the router
/// rather than around each route, so a request pays for each layer once.
///
/// Outermost first: a request id; the span every log line carries; 503 when `MAX_IN_FLIGHT`
/// requests are in flight; 408 past `REQUEST_TIMEOUT`. Body limits are per route, in the extractor
/// ([`SignedBody`]'s `LIMIT`).
pub fn router(
    state: AppState,
) -> impl Service<
    axum::extract::Request,
    Response = Response,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .with_state(state);
    tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(GateLayer::new(MAX_IN_FLIGHT, REQUEST_TIMEOUT))
        .service(routes)
}

/// Serves `app` (from [`router`]) on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Service<axum::extract::Request, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok"
}

/// An immediate answer: a JSON body ([`crate::slack::messages::Message::ack_json`]).
fn ack(body: axum::body::Bytes) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
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
    SignedBody(body, signature): SignedBody<COMMAND_BODY_LIMIT>,
) -> Response {
    let decoded = payload::decode_command(&body);
    // A status rendered moments ago is answered as it is: a read, so no parsing is needed to
    // know that its replay check can stay in memory.
    let at_hand = decoded
        .as_ref()
        .ok()
        .and_then(|cmd| engine.status_ack_at_hand(&cmd.text));
    let parsed = match (&decoded, &at_hand) {
        (Ok(cmd), None) => Some(command::parse(&cmd.text)),
        _ => None,
    };
    let durable = parsed.as_ref().is_some_and(Engine::command_has_effect);
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
        Ok(cmd) => match at_hand {
            Some(body) => ack(body),
            None => {
                let parsed = parsed.unwrap_or_else(|| command::parse(&cmd.text));
                ack(engine.command(cmd, parsed).await.ack_json())
            }
        },
        Err(err) => {
            tracing::warn!(error = %err, "malformed slash command");
            (StatusCode::BAD_REQUEST, "malformed slash command").into_response()
        }
    }
}

async fn interactions(
    State(engine): State<Arc<Engine>>,
    SignedBody(body, signature): SignedBody<INTERACTION_BODY_LIMIT>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn request() -> axum::extract::Request {
        axum::extract::Request::new(axum::body::Body::empty())
    }

    #[tokio::test]
    async fn past_the_limit_requests_get_503_at_once_and_places_come_back() {
        let release = Arc::new(tokio::sync::Notify::new());
        let waiting = Arc::clone(&release);
        let app = Router::new().route(
            "/",
            get(move || {
                let waiting = Arc::clone(&waiting);
                async move {
                    waiting.notified().await;
                    "done"
                }
            }),
        );
        let gate = GateLayer::new(1, Duration::from_secs(60)).layer(app);
        let first = tokio::spawn(gate.clone().oneshot(request()));
        tokio::task::yield_now().await;
        while gate.layer.in_flight.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = gate.clone().oneshot(request()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(gate.layer.in_flight.load(Ordering::Acquire), 0);
        release.notify_one();
        let again = gate.clone().oneshot(request()).await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_that_takes_too_long_gets_408_and_gives_its_place_back() {
        let app = Router::new().route("/", get(std::future::pending::<&'static str>));
        let gate = GateLayer::new(4, Duration::from_millis(20)).layer(app);
        let answer = gate.clone().oneshot(request()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(gate.layer.in_flight.load(Ordering::Acquire), 0);
    }

    #[test]
    fn request_ids_are_distinct() {
        let ids: std::collections::HashSet<u64> = (0..10_000).map(|_| next_request_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}

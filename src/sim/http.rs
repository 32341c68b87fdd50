//! The simulator's HTTP side: restJson1 routing (Lambda), dispatch of `POST /` + `x-amz-target`
//! to the JSON-RPC services (see `rpc`), request parsing, and AWS-shaped responses and errors.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State as AxumState};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::rpc::RpcOp;
use super::state::{FunctionRef, new_uuid, now_epoch_seconds};
use super::{Core, SimCall, SimError};

const PREFIX: &str = "/2015-03-31/event-source-mappings";
const LIST: &str = "ListEventSourceMappings";
const GET: &str = "GetEventSourceMapping";
const UPDATE: &str = "UpdateEventSourceMapping";
const UNKNOWN: &str = "UnknownOperation";
/// Largest update body read; larger ones are refused.
const BODY_LIMIT: usize = 1 << 20;
const PAGE_MAX: usize = 100;

/// The router serving the simulated Lambda API; every request goes through one fallback handler.
pub(crate) fn router(core: Arc<Core>) -> Router {
    Router::new().fallback(handle).with_state(core)
}

/// A recognised operation (or not), from method and path, or from `x-amz-target`.
#[derive(Debug, PartialEq, Eq)]
enum Op {
    List,
    Get(String),
    Update(String),
    /// A JSON-RPC request (`POST /` with `x-amz-target`), known or not.
    Rpc(RpcOp),
    Unknown,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::List => LIST,
            Op::Get(_) => GET,
            Op::Update(_) => UPDATE,
            Op::Rpc(r) => r.name().unwrap_or(UNKNOWN),
            Op::Unknown => UNKNOWN,
        }
    }

    fn uuid(&self) -> Option<&str> {
        match self {
            Op::Get(u) | Op::Update(u) => Some(u),
            _ => None,
        }
    }
}

fn route(method: &Method, path: &str) -> Op {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Op::Unknown;
    };
    if rest.is_empty() || rest == "/" {
        return if method == Method::GET {
            Op::List
        } else {
            Op::Unknown
        };
    }
    let Some(label) = rest.strip_prefix('/') else {
        return Op::Unknown;
    };
    let label = label.strip_suffix('/').unwrap_or(label);
    if label.is_empty() || label.contains('/') {
        return Op::Unknown;
    }
    let uuid = percent_decode(label);
    if method == Method::GET {
        Op::Get(uuid)
    } else if method == Method::PUT {
        Op::Update(uuid)
    } else {
        Op::Unknown
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept verbatim, invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(AxumState(core): AxumState<Arc<Core>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let op = match header("x-amz-target") {
        Some(target) if parts.method == Method::POST && parts.uri.path() == "/" => {
            Op::Rpc(RpcOp::parse(target, header("content-type")))
        }
        _ => route(&parts.method, parts.uri.path()),
    };
    let body = match op {
        Op::Update(_) | Op::Rpc(_) => {
            Some(axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| ()))
        }
        _ => None,
    };
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map(|q| q.0);
    let response = core.process(&op, query.map_err(|_| ()), body);
    tracing::debug!(
        operation = op.name(),
        uuid = op.uuid(),
        status = response.status().as_u16(),
        "simulated lambda request"
    );
    response
}

type QueryResult = Result<Vec<(String, String)>, ()>;
type BodyResult = Option<Result<axum::body::Bytes, ()>>;

impl Core {
    /// Handles one request entirely under the state lock, recording it in `calls`.
    fn process(&self, op: &Op, query: QueryResult, body: BodyResult) -> Response {
        let mut st = self.lock();
        let response = self.respond(&mut st, op, query, body);
        st.calls.push(SimCall {
            operation: op.name().to_string(),
            uuid: op.uuid().map(str::to_string),
            status: response.status().as_u16(),
        });
        response
    }

    fn respond(
        &self,
        st: &mut super::state::State,
        op: &Op,
        query: QueryResult,
        body: BodyResult,
    ) -> Response {
        if *op == Op::Unknown {
            return error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "Unknown operation".to_string(),
            );
        }
        if let Op::Rpc(r) = op {
            let body = body
                .as_ref()
                .map(|b| b.as_ref().map(|b| &b[..]).map_err(|_| ()));
            return self.rpc(st, *r, body);
        }
        if let Some(e) = st.take_fault(op.name()) {
            return self.injected(e, op);
        }
        match op {
            Op::List => match query {
                Ok(q) => self.list(st, &q),
                Err(()) => invalid("Could not parse the query string.".to_string()),
            },
            Op::Get(uuid) => match st.get_mut(uuid) {
                Some(m) => ok(StatusCode::OK, m.to_json(&self.region, &self.account_id)),
                None => not_found(),
            },
            Op::Update(uuid) => self.update(st, uuid, body),
            Op::Rpc(_) | Op::Unknown => not_found(),
        }
    }

    fn list(&self, st: &mut super::state::State, query: &[(String, String)]) -> Response {
        let param = |key: &str| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let function = match param("FunctionName") {
            Some(f) => match FunctionRef::parse(f) {
                Some(r) => Some(r),
                None => return invalid(format!("Invalid FunctionName: {f}")),
            },
            None => None,
        };
        let page_size = match param("MaxItems") {
            None => PAGE_MAX,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=10_000).contains(&n) => {
                    usize::try_from(n).unwrap_or(PAGE_MAX).min(PAGE_MAX)
                }
                _ => return invalid(format!("Invalid MaxItems: {s}")),
            },
        };
        let start = match param("Marker") {
            None => 0,
            Some(s) => match s.parse::<usize>() {
                Ok(n) => n,
                Err(_) => return invalid(format!("Invalid Marker: {s}")),
            },
        };
        let source = param("EventSourceArn");

        st.settle_all();
        let matching: Vec<&super::state::Mapping> = st
            .mappings
            .iter()
            .filter(|m| source.is_none_or(|s| s == m.event_source_arn))
            .filter(|m| {
                function.as_ref().is_none_or(|f| {
                    FunctionRef::parse(&m.function_arn).is_some_and(|arn| f.matches(&arn))
                })
            })
            .collect();
        if start > matching.len() {
            return invalid(format!("Invalid Marker: {start}"));
        }
        let end = start.saturating_add(page_size).min(matching.len());
        let page: Vec<Value> = matching
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|m| m.to_json(&self.region, &self.account_id))
            .collect();
        let mut out = json!({ "EventSourceMappings": page });
        if end < matching.len()
            && let Some(obj) = out.as_object_mut()
        {
            obj.insert("NextMarker".into(), json!(end.to_string()));
        }
        ok(StatusCode::OK, out)
    }

    fn update(&self, st: &mut super::state::State, uuid: &str, body: BodyResult) -> Response {
        let enabled = match parse_update_body(body) {
            Ok(e) => e,
            Err(msg) => return invalid(msg),
        };
        let transition = st.transition_time;
        let Some(m) = st.get_mut(uuid) else {
            return not_found();
        };
        if m.is_transitional() {
            return error(
                StatusCode::BAD_REQUEST,
                "ResourceInUseException",
                "Cannot update the event source mapping because it is in use.".to_string(),
            );
        }
        if let Some(enabled) = enabled {
            let (target, via) = if enabled {
                ("Enabled", "Enabling")
            } else {
                ("Disabled", "Disabling")
            };
            if m.state != target {
                m.state = via.to_string();
                m.pending = Some((target.to_string(), Instant::now().checked_add(transition)));
                m.reason = "USER_INITIATED".to_string();
                m.last_modified = now_epoch_seconds();
            }
        }
        let out = m.to_json(&self.region, &self.account_id);
        *st.update_counts.entry(uuid.to_string()).or_insert(0) += 1;
        ok(StatusCode::ACCEPTED, out)
    }

    /// The response for an injected failure.
    fn injected(&self, e: SimError, op: &Op) -> Response {
        match e {
            SimError::Throttled => {
                let body = json!({
                    "Type": "User",
                    "Message": "Rate exceeded",
                    "Reason": "CallerRateLimitExceeded",
                });
                let mut r = raw_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    body,
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            SimError::InUse => error(
                StatusCode::BAD_REQUEST,
                "ResourceInUseException",
                "Cannot update the event source mapping because it is in use.".to_string(),
            ),
            SimError::NotFound => not_found(),
            SimError::AccessDenied => {
                let action = op.name();
                let resource = match op.uuid() {
                    Some(uuid) => format!(
                        "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
                        self.region, self.account_id
                    ),
                    None => "*".to_string(),
                };
                let message = format!(
                    "User: arn:aws:sts::{}:assumed-role/lambda-pause/bot is not authorized to perform: \
                     lambda:{action} on resource: {resource} because no identity-based policy allows \
                     the lambda:{action} action",
                    self.account_id
                );
                error(StatusCode::FORBIDDEN, "AccessDeniedException", message)
            }
            SimError::ServiceError => raw_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                json!({ "Type": "Service", "Message": "An internal service error occurred." }),
            ),
        }
    }
}

/// The `Enabled` value of an update body (`None`: absent or null), or a message for a 400.
fn parse_update_body(body: BodyResult) -> Result<Option<bool>, String> {
    let bytes = match body {
        Some(Ok(b)) => b,
        Some(Err(())) | None => return Err("Could not read the request body.".to_string()),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("Could not parse request body into json: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("The request body must be a JSON object.".to_string());
    };
    match obj.get("Enabled") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err("Enabled must be a boolean.".to_string()),
    }
}

fn ok(status: StatusCode, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    finish_headers(&mut r);
    r
}

fn error(status: StatusCode, code: &'static str, message: String) -> Response {
    raw_error(status, code, json!({ "Type": "User", "Message": message }))
}

fn raw_error(status: StatusCode, code: &'static str, body: Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(code));
    finish_headers(&mut r);
    r
}

fn finish_headers(r: &mut Response<Body>) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&new_uuid()) {
        h.insert("x-amzn-requestid", v);
    }
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        "The resource you requested does not exist.".to_string(),
    )
}

fn invalid(message: String) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        message,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let get = Method::GET;
        assert_eq!(route(&get, PREFIX), Op::List);
        assert_eq!(route(&get, &format!("{PREFIX}/")), Op::List);
        assert_eq!(
            route(&get, &format!("{PREFIX}/ab-c")),
            Op::Get("ab-c".into())
        );
        assert_eq!(
            route(&Method::PUT, &format!("{PREFIX}/ab%2Dc/")),
            Op::Update("ab-c".into())
        );
        assert_eq!(route(&Method::PUT, PREFIX), Op::Unknown);
        assert_eq!(route(&Method::DELETE, &format!("{PREFIX}/x")), Op::Unknown);
        assert_eq!(route(&get, &format!("{PREFIX}/x/y")), Op::Unknown);
        assert_eq!(route(&get, "/2015-03-31/functions"), Op::Unknown);
        assert_eq!(route(&get, &format!("{PREFIX}x")), Op::Unknown);
    }

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("a%3Ab"), "a:b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn update_bodies() {
        let b = |s: &'static str| Some(Ok(axum::body::Bytes::from_static(s.as_bytes())));
        assert_eq!(
            parse_update_body(b(r#"{"Enabled":false}"#)),
            Ok(Some(false))
        );
        assert_eq!(
            parse_update_body(b(r#"{"Enabled":true,"BatchSize":5}"#)),
            Ok(Some(true))
        );
        assert_eq!(parse_update_body(b("{}")), Ok(None));
        assert_eq!(parse_update_body(b("")), Ok(None));
        assert!(parse_update_body(b("{")).is_err());
        assert!(parse_update_body(b("[]")).is_err());
        assert!(parse_update_body(b(r#"{"Enabled":"yes"}"#)).is_err());
        assert!(parse_update_body(Some(Err(()))).is_err());
    }
}

//! The simulator's JSON-RPC side (`POST /` + `x-amz-target`): Kinesis `DescribeStreamSummary`
//! (awsJson1_1) and SQS `GetQueueAttributes` (awsJson1_0 in query-compatible mode), with their
//! protocols' error shapes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::state::{State, parse_kinesis_arn};
use super::{Core, SimError};

pub(crate) const DESCRIBE_STREAM_SUMMARY: &str = "DescribeStreamSummary";
pub(crate) const GET_QUEUE_ATTRIBUTES: &str = "GetQueueAttributes";
const KINESIS_PREFIX: &str = "Kinesis_20131202.";
const SQS_PREFIX: &str = "AmazonSQS.";
const JSON_1_0: &str = "application/x-amz-json-1.0";
const JSON_1_1: &str = "application/x-amz-json-1.1";

/// Every `QueueAttributeName` SQS accepts; others are `InvalidAttributeName`.
const SQS_ATTRIBUTE_NAMES: [&str; 22] = [
    "All",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "ContentBasedDeduplication",
    "CreatedTimestamp",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

/// Which protocol flavour a JSON-RPC request (or its error) uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// awsJson1_1; errors are `{"__type", "message"}`.
    Kinesis,
    /// awsJson1_0, query-compatible; errors also carry `x-amzn-query-error: CODE;Sender|Receiver`.
    Sqs,
    /// Neither: an unrecognised target, answered in the content type it was sent with.
    Other(&'static str),
}

impl Service {
    fn content_type(self) -> &'static str {
        match self {
            Service::Kinesis => JSON_1_1,
            Service::Sqs => JSON_1_0,
            Service::Other(ct) => ct,
        }
    }
}

/// A JSON-RPC operation, from the `x-amz-target` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RpcOp {
    DescribeStreamSummary,
    GetQueueAttributes,
    /// An unrecognised target of the given service.
    Unknown(Service),
}

impl RpcOp {
    pub(crate) fn parse(target: &str, content_type: Option<&str>) -> RpcOp {
        match target.strip_prefix(KINESIS_PREFIX) {
            Some(DESCRIBE_STREAM_SUMMARY) => return RpcOp::DescribeStreamSummary,
            Some(_) => return RpcOp::Unknown(Service::Kinesis),
            None => {}
        }
        match target.strip_prefix(SQS_PREFIX) {
            Some(GET_QUEUE_ATTRIBUTES) => return RpcOp::GetQueueAttributes,
            Some(_) => return RpcOp::Unknown(Service::Sqs),
            None => {}
        }
        let json_1_0 = content_type.is_some_and(|c| c.starts_with(JSON_1_0));
        RpcOp::Unknown(Service::Other(if json_1_0 { JSON_1_0 } else { JSON_1_1 }))
    }

    /// The operation name recorded in `calls()` and used by `fail_next`/`deny`; `None` if unknown.
    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            RpcOp::DescribeStreamSummary => Some(DESCRIBE_STREAM_SUMMARY),
            RpcOp::GetQueueAttributes => Some(GET_QUEUE_ATTRIBUTES),
            RpcOp::Unknown(_) => None,
        }
    }
}

/// A protocol error before it is rendered: `__type`, message, and the status.
struct Fail {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Fail {
    fn bad(code: &'static str, message: impl Into<String>) -> Fail {
        Fail {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

/// The stream a `DescribeStreamSummary` designates.
struct StreamRef {
    region: String,
    account: String,
    name: String,
}

impl StreamRef {
    fn arn(&self) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{}",
            self.region, self.account, self.name
        )
    }
}

/// The queue a `GetQueueAttributes` designates.
struct QueueRef {
    account: Option<String>,
    name: String,
}

type Body = Result<Map<String, Value>, Fail>;

impl Core {
    /// Handles one JSON-RPC request (under the state lock): faults first, then the operation.
    pub(crate) fn rpc(
        &self,
        st: &mut State,
        op: RpcOp,
        body: Option<Result<&[u8], ()>>,
    ) -> Response {
        let body = parse_body(body);
        match op {
            RpcOp::Unknown(service) => render(
                service,
                Fail::bad("UnknownOperationException", "Unknown operation"),
            ),
            RpcOp::DescribeStreamSummary => self.describe_stream_summary(st, body),
            RpcOp::GetQueueAttributes => self.get_queue_attributes(st, body),
        }
    }

    fn describe_stream_summary(&self, st: &mut State, body: Body) -> Response {
        let service = Service::Kinesis;
        let target = body.and_then(|b| self.stream_ref(&b));
        if let Some(e) = st.take_fault(DESCRIBE_STREAM_SUMMARY) {
            let (resource, name, account) = match &target {
                Ok(t) => (t.arn(), t.name.as_str(), t.account.as_str()),
                Err(_) => ("*".to_string(), "", self.account_id.as_str()),
            };
            let not_found = kinesis_not_found(name, account);
            let fail = self.rpc_injected(e, service, DESCRIBE_STREAM_SUMMARY, &resource, not_found);
            return render(service, fail);
        }
        let t = match target {
            Ok(t) => t,
            Err(f) => return render(service, f),
        };
        let stream = (t.region == self.region && t.account == self.account_id)
            .then(|| st.streams.get(&t.name))
            .flatten();
        let Some(stream) = stream else {
            return render(service, kinesis_not_found(&t.name, &t.account));
        };
        let summary = json!({
            "StreamName": t.name,
            "StreamARN": t.arn(),
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": { "StreamMode": "PROVISIONED" },
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": stream.created,
            "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
            "EncryptionType": "NONE",
            "OpenShardCount": 1,
            "ConsumerCount": 0,
        });
        ok(service, json!({ "StreamDescriptionSummary": summary }))
    }

    fn stream_ref(&self, body: &Map<String, Value>) -> Result<StreamRef, Fail> {
        let name = string_member(body, "StreamName")?;
        let arn = string_member(body, "StreamARN")?;
        match (name, arn) {
            (None, None) => Err(Fail::bad(
                "InvalidArgumentException",
                "Either StreamName or StreamARN must be provided.",
            )),
            (Some(name), None) => Ok(StreamRef {
                region: self.region.clone(),
                account: self.account_id.clone(),
                name: name.to_string(),
            }),
            (name, Some(arn)) => {
                let parsed = parse_kinesis_arn(arn)
                    .filter(|(_, _, n)| arn.ends_with(&format!("stream/{n}")));
                let Some((region, account, n)) = parsed else {
                    return Err(Fail::bad(
                        "InvalidArgumentException",
                        format!("StreamARN {arn} is not a valid Kinesis stream ARN."),
                    ));
                };
                if name.is_some_and(|name| name != n) {
                    return Err(Fail::bad(
                        "InvalidArgumentException",
                        "StreamARN and StreamName do not designate the same stream.",
                    ));
                }
                Ok(StreamRef {
                    region: region.to_string(),
                    account: account.to_string(),
                    name: n.to_string(),
                })
            }
        }
    }

    fn get_queue_attributes(&self, st: &mut State, body: Body) -> Response {
        let service = Service::Sqs;
        let request = body.and_then(|b| Ok((queue_ref(&b)?, attribute_names(&b)?)));
        if let Some(e) = st.take_fault(GET_QUEUE_ATTRIBUTES) {
            let resource = match &request {
                Ok((q, _)) => self.queue_arn(q),
                Err(_) => "*".to_string(),
            };
            let fail =
                self.rpc_injected(e, service, GET_QUEUE_ATTRIBUTES, &resource, sqs_not_found());
            return render(service, fail);
        }
        let (q, names) = match request {
            Ok(r) => r,
            Err(f) => return render(service, f),
        };
        let same_account = q.account.as_deref().is_none_or(|a| a == self.account_id);
        let queue = same_account.then(|| st.queues.get(&q.name)).flatten();
        let Some(queue) = queue else {
            return render(service, sqs_not_found());
        };
        let created = format!("{}", queue.created.trunc());
        let held = [
            ("QueueArn", self.queue_arn(&q)),
            ("ApproximateNumberOfMessages", "0".to_string()),
            ("ApproximateNumberOfMessagesNotVisible", "0".to_string()),
            ("ApproximateNumberOfMessagesDelayed", "0".to_string()),
            ("CreatedTimestamp", created.clone()),
            ("LastModifiedTimestamp", created),
            ("VisibilityTimeout", "30".to_string()),
            ("MaximumMessageSize", "262144".to_string()),
            (
                "MessageRetentionPeriod",
                queue.retention_seconds.to_string(),
            ),
            ("DelaySeconds", "0".to_string()),
            ("ReceiveMessageWaitTimeSeconds", "0".to_string()),
            ("SqsManagedSseEnabled", "true".to_string()),
        ];
        let all = names.iter().any(|n| n == "All");
        let attributes: Map<String, Value> = held
            .into_iter()
            .filter(|(k, _)| all || names.iter().any(|n| n == k))
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        if attributes.is_empty() {
            ok(service, json!({}))
        } else {
            ok(service, json!({ "Attributes": attributes }))
        }
    }

    fn queue_arn(&self, q: &QueueRef) -> String {
        let account = q.account.as_deref().unwrap_or(&self.account_id);
        format!("arn:aws:sqs:{}:{account}:{}", self.region, q.name)
    }

    /// The error for an injected fault on a JSON-RPC operation.
    fn rpc_injected(
        &self,
        e: SimError,
        service: Service,
        action: &str,
        resource: &str,
        not_found: Fail,
    ) -> Fail {
        match e {
            SimError::Throttled => Fail::bad("ThrottlingException", "Rate exceeded"),
            SimError::InUse => Fail::bad(
                "ResourceInUseException",
                format!("Resource {resource} is in use."),
            ),
            SimError::NotFound => not_found,
            SimError::AccessDenied => {
                let (prefix, code) = match service {
                    Service::Sqs => ("sqs", "com.amazon.coral.service#AccessDeniedException"),
                    _ => ("kinesis", "AccessDeniedException"),
                };
                Fail::bad(
                    code,
                    format!(
                        "User: arn:aws:sts::{}:assumed-role/lambda-pause/bot is not authorized to \
                         perform: {prefix}:{action} on resource: {resource} because no \
                         identity-based policy allows the {prefix}:{action} action",
                        self.account_id
                    ),
                )
            }
            SimError::ServiceError => Fail {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalFailure",
                message: "The request processing has failed because of an unknown error, \
                          exception or failure."
                    .to_string(),
            },
        }
    }
}

fn kinesis_not_found(name: &str, account: &str) -> Fail {
    Fail::bad(
        "ResourceNotFoundException",
        format!("Stream {name} under account {account} not found."),
    )
}

fn sqs_not_found() -> Fail {
    Fail::bad(
        "com.amazonaws.sqs#QueueDoesNotExist",
        "The specified queue does not exist.",
    )
}

/// The query-protocol error code SQS announces in `x-amzn-query-error` for a JSON `__type`.
fn sqs_query_code(code: &str) -> &str {
    match code {
        "com.amazonaws.sqs#QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue",
        "com.amazon.coral.service#AccessDeniedException" => "AccessDenied",
        other => other.rsplit('#').next().unwrap_or(other),
    }
}

/// The request body as a JSON object (an empty body counts as `{}`).
fn parse_body(body: Option<Result<&[u8], ()>>) -> Body {
    let Some(Ok(bytes)) = body else {
        return Err(Fail::bad(
            "SerializationException",
            "Could not read the request body.",
        ));
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(Fail::bad(
            "SerializationException",
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(Fail::bad(
            "SerializationException",
            format!("Could not parse the request body: {e}"),
        )),
    }
}

/// An optional string member; present but not a string is a `SerializationException`.
fn string_member<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Fail::bad(
            "SerializationException",
            format!("{key} must be a string."),
        )),
    }
}

/// The queue named by `QueueUrl`: its last path segment, the account the one before it (if any).
fn queue_ref(body: &Map<String, Value>) -> Result<QueueRef, Fail> {
    let invalid = |what: &str| {
        Fail::bad(
            "com.amazonaws.sqs#InvalidAddress",
            format!("The address {what} is not valid for this endpoint."),
        )
    };
    let Some(url) = string_member(body, "QueueUrl")? else {
        return Err(invalid("(missing QueueUrl)"));
    };
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme
        .split_once('/')
        .map_or("", |(_, path)| path)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => Err(invalid(url)),
        [.., account, name] => Ok(QueueRef {
            account: Some(account.to_string()),
            name: name.to_string(),
        }),
        [name] => Ok(QueueRef {
            account: None,
            name: name.to_string(),
        }),
    }
}

/// The requested `AttributeNames` (absent: none), each one SQS knows.
fn attribute_names(body: &Map<String, Value>) -> Result<Vec<String>, Fail> {
    let invalid = |name: &str| {
        Fail::bad(
            "com.amazonaws.sqs#InvalidAttributeName",
            format!("Unknown Attribute {name}."),
        )
    };
    let items = match body.get("AttributeNames") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(Fail::bad(
                "SerializationException",
                "AttributeNames must be a list of strings.",
            ));
        }
    };
    items
        .iter()
        .map(|v| match v.as_str() {
            Some(n) if SQS_ATTRIBUTE_NAMES.contains(&n) => Ok(n.to_string()),
            Some(n) => Err(invalid(n)),
            None => Err(invalid(&v.to_string())),
        })
        .collect()
}

fn ok(service: Service, body: Value) -> Response {
    finish((StatusCode::OK, body.to_string()).into_response(), service)
}

fn render(service: Service, fail: Fail) -> Response {
    let body = json!({ "__type": fail.code, "message": fail.message });
    let mut r = finish((fail.status, body.to_string()).into_response(), service);
    if service == Service::Sqs {
        let fault = if fail.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let value = format!("{};{fault}", sqs_query_code(fail.code));
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert("x-amzn-query-error", v);
        }
    }
    r
}

fn finish(mut r: Response, service: Service) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(service.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&super::state::new_uuid()) {
        h.insert("x-amzn-requestid", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => Map::new(),
        }
    }

    #[test]
    fn targets() {
        let k = "Kinesis_20131202.DescribeStreamSummary";
        assert_eq!(RpcOp::parse(k, None), RpcOp::DescribeStreamSummary);
        assert_eq!(
            RpcOp::parse("AmazonSQS.GetQueueAttributes", Some(JSON_1_0)),
            RpcOp::GetQueueAttributes
        );
        assert_eq!(
            RpcOp::parse("Kinesis_20131202.PutRecord", None),
            RpcOp::Unknown(Service::Kinesis)
        );
        assert_eq!(
            RpcOp::parse("AmazonSQS.SendMessage", None),
            RpcOp::Unknown(Service::Sqs)
        );
        assert_eq!(
            RpcOp::parse("DynamoDB_20120810.GetItem", Some(JSON_1_0)),
            RpcOp::Unknown(Service::Other(JSON_1_0))
        );
        assert_eq!(
            RpcOp::parse("x", None),
            RpcOp::Unknown(Service::Other(JSON_1_1))
        );
        assert_eq!(RpcOp::parse("x", None).name(), None);
    }

    #[test]
    fn queue_urls() {
        let q = |url: &str| queue_ref(&obj(json!({ "QueueUrl": url })));
        let r = q("https://sqs.us-east-1.amazonaws.com/123456789012/jobs").ok();
        assert_eq!(
            r.map(|r| (r.account, r.name)),
            Some((Some("123456789012".to_string()), "jobs".to_string()))
        );
        let r = q("http://localhost:4566/000000000000/a.fifo/").ok();
        assert_eq!(r.map(|r| r.name), Some("a.fifo".to_string()));
        assert_eq!(q("jobs").ok().map(|r| r.account), None);
        assert!(q("https://sqs.us-east-1.amazonaws.com/").is_err());
        assert!(q("").is_err());
        assert!(queue_ref(&obj(json!({}))).is_err());
        assert!(queue_ref(&obj(json!({ "QueueUrl": 5 }))).is_err());
    }

    #[test]
    fn attribute_name_lists() {
        let a = |v: Value| attribute_names(&obj(json!({ "AttributeNames": v })));
        assert_eq!(
            a(json!(["All", "QueueArn"])).ok(),
            Some(vec!["All".into(), "QueueArn".into()])
        );
        assert_eq!(attribute_names(&Map::new()).ok(), Some(Vec::new()));
        assert!(a(json!(["Nope"])).is_err());
        assert!(a(json!([1])).is_err());
        assert!(a(json!("All")).is_err());
    }

    #[test]
    fn bodies() {
        assert!(parse_body(Some(Ok(b""))).is_ok_and(|m| m.is_empty()));
        assert!(parse_body(Some(Ok(b"{"))).is_err());
        assert!(parse_body(Some(Ok(b"[]"))).is_err());
        assert!(parse_body(Some(Err(()))).is_err());
        assert!(parse_body(None).is_err());
    }

    #[test]
    fn query_codes() {
        assert_eq!(
            sqs_query_code("com.amazonaws.sqs#QueueDoesNotExist"),
            "AWS.SimpleQueueService.NonExistentQueue"
        );
        assert_eq!(
            sqs_query_code("com.amazon.coral.service#AccessDeniedException"),
            "AccessDenied"
        );
        assert_eq!(
            sqs_query_code("com.amazonaws.sqs#InvalidAddress"),
            "InvalidAddress"
        );
        assert_eq!(sqs_query_code("ThrottlingException"), "ThrottlingException");
    }
}

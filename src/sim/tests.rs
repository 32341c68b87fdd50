//! Tests for the simulator, over real HTTP: raw requests and the real `aws-sdk-lambda` client.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::*;

const PREFIX: &str = "/2015-03-31/event-source-mappings";

async fn sim() -> Simulator {
    let config = SimConfig {
        transition_time: Duration::from_millis(200),
        ..SimConfig::default()
    };
    Simulator::start(config).await.expect("start simulator")
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn error_type(&self) -> &str {
        self.headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(sim: &Simulator, method: Method, path_and_query: &str, body: &str) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::builder()
        .method(method)
        .uri(format!("{}{path_and_query}", sim.endpoint_url()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = client.request(req).await.expect("send");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(sim: &Simulator, path_and_query: &str) -> Reply {
    send(sim, Method::GET, path_and_query, "").await
}

async fn put(sim: &Simulator, uuid: &str, body: &str) -> Reply {
    send(sim, Method::PUT, &format!("{PREFIX}/{uuid}"), body).await
}

fn uuids(reply: &Reply) -> Vec<String> {
    reply.body["EventSourceMappings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["UUID"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A")
        .replace('/', "%2F")
        .replace('$', "%24")
}

#[tokio::test]
async fn uuids_are_v4_and_arns_are_shaped() {
    let sim = sim().await;
    let u = sim.add_mapping("f", &sim.sqs_arn("q"), true);
    let parts: Vec<&str> = u.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(
        u.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_eq!(&parts[2][..1], "4");
    assert_eq!(
        sim.function_arn("f:live"),
        "arn:aws:lambda:us-east-1:123456789012:function:f:live"
    );
    assert_eq!(
        sim.kinesis_arn("s"),
        "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    );
    assert_eq!(sim.sqs_arn("q"), "arn:aws:sqs:us-east-1:123456789012:q");
    assert!(
        sim.dynamodb_stream_arn("t")
            .starts_with("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/")
    );
    assert!(
        sim.msk_arn("c")
            .starts_with("arn:aws:kafka:us-east-1:123456789012:cluster/c/")
    );
    assert!(sim.endpoint_url().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn pagination_covers_all_mappings_once() {
    let sim = sim().await;
    let source = sim.kinesis_arn("orders");
    let mut expected = HashSet::new();
    for i in 0..250 {
        expected.insert(sim.add_mapping(&format!("f{}", i % 7), &source, true));
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &marker {
            Some(m) => format!("{PREFIX}?Marker={m}"),
            None => PREFIX.to_string(),
        };
        let r = get(&sim, &path).await;
        assert_eq!(r.status, StatusCode::OK);
        pages += 1;
        seen.extend(uuids(&r));
        match r.body.get("NextMarker").and_then(Value::as_str) {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);

    // MaxItems smaller than the page cap, and capped at 100.
    let r = get(&sim, &format!("{PREFIX}/?MaxItems=7")).await;
    assert_eq!(uuids(&r).len(), 7);
    assert!(r.body["NextMarker"].is_string());
    let r = get(&sim, &format!("{PREFIX}?MaxItems=1000")).await;
    assert_eq!(uuids(&r).len(), 100);

    for bad in [
        "Marker=nope",
        "Marker=9999",
        "Marker=-1",
        "MaxItems=0",
        "MaxItems=x",
    ] {
        let r = get(&sim, &format!("{PREFIX}?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.error_type(), "InvalidParameterValueException", "{bad}");
    }
}

#[tokio::test]
async fn function_name_forms_and_source_filter() {
    let sim = sim().await;
    let kinesis = sim.kinesis_arn("orders");
    let sqs = sim.sqs_arn("jobs");
    let plain_k = sim.add_mapping("orders-fn", &kinesis, true);
    let plain_s = sim.add_mapping("orders-fn", &sqs, true);
    let alias = sim.add_mapping("orders-fn:live", &kinesis, true);
    let other = sim.add_mapping("other-fn", &kinesis, true);

    let list = |q: String| {
        let sim = sim.clone();
        async move {
            let r = get(&sim, &format!("{PREFIX}?{q}")).await;
            assert_eq!(r.status, StatusCode::OK, "{q}");
            uuids(&r).into_iter().collect::<HashSet<_>>()
        }
    };
    let set = |v: &[&String]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();

    assert_eq!(
        list("FunctionName=orders-fn".into()).await,
        set(&[&plain_k, &plain_s])
    );
    let arn = sim.function_arn("orders-fn");
    assert_eq!(
        list(format!("FunctionName={}", enc(&arn))).await,
        set(&[&plain_k, &plain_s])
    );
    assert_eq!(
        list(format!("FunctionName={}", enc("orders-fn:live"))).await,
        set(&[&alias])
    );
    let qarn = sim.function_arn("orders-fn:live");
    assert_eq!(
        list(format!("FunctionName={}", enc(&qarn))).await,
        set(&[&alias])
    );
    assert_eq!(
        list(format!(
            "FunctionName={}",
            enc("123456789012:function:orders-fn")
        ))
        .await,
        set(&[&plain_k, &plain_s])
    );
    assert_eq!(
        list(format!(
            "FunctionName={}",
            enc("123456789012:function:orders-fn:live")
        ))
        .await,
        set(&[&alias])
    );
    // Wrong account or region in an ARN, or an unknown function: nothing.
    assert!(
        list(format!(
            "FunctionName={}",
            enc("999999999999:function:orders-fn")
        ))
        .await
        .is_empty()
    );
    let wrong_region = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn";
    assert!(
        list(format!("FunctionName={}", enc(wrong_region)))
            .await
            .is_empty()
    );
    assert!(list("FunctionName=nobody".into()).await.is_empty());
    assert!(
        list(format!("FunctionName={}", enc("orders-fn:$LATEST")))
            .await
            .is_empty()
    );

    assert_eq!(
        list(format!("EventSourceArn={}", enc(&kinesis))).await,
        set(&[&plain_k, &alias, &other])
    );
    assert_eq!(
        list(format!(
            "EventSourceArn={}&FunctionName=orders-fn",
            enc(&kinesis)
        ))
        .await,
        set(&[&plain_k])
    );
    assert!(
        list(format!("EventSourceArn={}", enc(&sim.sqs_arn("none"))))
            .await
            .is_empty()
    );

    // Malformed names are a 400, not a panic.
    for bad in ["a:b:c", "", "x%3A", "arn%3Aaws%3Alambda"] {
        let r = get(&sim, &format!("{PREFIX}?FunctionName={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.error_type(), "InvalidParameterValueException", "{bad}");
    }
}

#[tokio::test]
async fn get_returns_mapping_json_or_404() {
    let sim = sim().await;
    let k = sim.add_mapping("f", &sim.kinesis_arn("s"), true);
    sim.set_maximum_record_age(&k, 3600);
    let m = sim.add_kafka_mapping("f", &sim.msk_arn("c"), "payments", false);
    let q = sim.add_mapping("f", &sim.sqs_arn("q"), true);

    let r = get(&sim, &format!("{PREFIX}/{k}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    assert_eq!(b["UUID"], k.as_str());
    assert_eq!(b["FunctionArn"], sim.function_arn("f").as_str());
    assert_eq!(b["EventSourceArn"], sim.kinesis_arn("s").as_str());
    assert_eq!(b["State"], "Enabled");
    assert_eq!(b["StateTransitionReason"], "USER_INITIATED");
    assert!(b["LastModified"].as_f64().is_some_and(|t| t > 1.7e9));
    assert_eq!(b["MaximumRecordAgeInSeconds"], 3600);
    assert_eq!(b["StartingPosition"], "LATEST");
    assert_eq!(
        b["EventSourceMappingArn"],
        format!("arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{k}").as_str()
    );

    let r = get(&sim, &format!("{PREFIX}/{m}")).await;
    assert_eq!(r.body["Topics"], serde_json::json!(["payments"]));
    assert_eq!(r.body["State"], "Disabled");

    let r = get(&sim, &format!("{PREFIX}/{q}")).await;
    assert_eq!(r.body["BatchSize"], 10);
    assert!(r.body.get("MaximumRecordAgeInSeconds").is_none());

    let r = get(
        &sim,
        &format!("{PREFIX}/00000000-0000-4000-8000-000000000000"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_type(), "ResourceNotFoundException");
    assert_eq!(r.body["Type"], "User");
    assert!(r.body["Message"].is_string());
}

#[tokio::test]
async fn update_transitions_in_use_and_counts() {
    let sim = sim().await;
    let u = sim.add_mapping("f", &sim.kinesis_arn("s"), true);
    sim.set_state(&u, "Enabled", "PROBLEM: whatever");

    let r = put(&sim, &u, r#"{"Enabled":false,"BatchSize":5}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["State"], "Disabling");
    assert_eq!(r.body["StateTransitionReason"], "USER_INITIATED");

    let r = put(&sim, &u, r#"{"Enabled":true}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_type(), "ResourceInUseException");
    assert!(
        r.body["Message"]
            .as_str()
            .is_some_and(|m| m.contains("in use"))
    );
    assert_eq!(sim.mapping(&u).map(|m| m.state), Some("Disabling".into()));

    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = get(&sim, &format!("{PREFIX}/{u}")).await;
    assert_eq!(r.body["State"], "Disabled");

    // Disabled -> Disabled is a no-op, still a successful call.
    let r = put(&sim, &u, r#"{"Enabled":false}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.body["State"], "Disabled");

    let r = put(&sim, &u, r#"{"Enabled":true}"#).await;
    assert_eq!(r.body["State"], "Enabling");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sim.mapping(&u).map(|m| m.state), Some("Enabled".into()));
    assert_eq!(sim.update_count(&u), 3);

    // Other transitional states refuse updates too.
    sim.set_state(&u, "Updating", "USER_INITIATED");
    let r = put(&sim, &u, r#"{"Enabled":false}"#).await;
    assert_eq!(r.error_type(), "ResourceInUseException");
    assert_eq!(sim.update_count(&u), 3);

    let r = put(&sim, "no-such-uuid", r#"{"Enabled":false}"#).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_type(), "ResourceNotFoundException");
    assert_eq!(sim.update_count("no-such-uuid"), 0);
}

#[tokio::test]
async fn stuck_mappings_stay_transitional_until_released() {
    let sim = sim().await;
    let u = sim.add_mapping("f", &sim.sqs_arn("q"), true);
    sim.set_stuck(&u, true);
    assert_eq!(
        put(&sim, &u, r#"{"Enabled":false}"#).await.body["State"],
        "Disabling"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sim.mapping(&u).map(|m| m.state), Some("Disabling".into()));
    sim.set_stuck(&u, false);
    assert_eq!(sim.mapping(&u).map(|m| m.state), Some("Disabled".into()));

    // A long transition time keeps it transitional; set_state clears the pending transition.
    sim.set_transition_time(Duration::from_secs(3600));
    assert_eq!(
        put(&sim, &u, r#"{"Enabled":true}"#).await.body["State"],
        "Enabling"
    );
    sim.set_state(&u, "Disabled", "PROBLEM: Function call failed");
    let m = sim.mapping(&u).expect("mapping");
    assert_eq!(m.state, "Disabled");
    assert_eq!(m.state_transition_reason, "PROBLEM: Function call failed");
    assert!(sim.mapping("nope").is_none());
}

#[tokio::test]
async fn bad_bodies_and_unknown_routes() {
    let sim = sim().await;
    let u = sim.add_mapping("f", &sim.sqs_arn("q"), true);
    for body in [
        "{",
        "not json",
        "[1,2]",
        r#"{"Enabled":"false"}"#,
        "\u{0}\u{1}",
    ] {
        let r = put(&sim, &u, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(r.error_type(), "InvalidParameterValueException", "{body:?}");
    }
    // An empty body or one without Enabled changes nothing.
    assert_eq!(put(&sim, &u, "").await.status, StatusCode::ACCEPTED);
    assert_eq!(
        put(&sim, &u, r#"{"BatchSize":1}"#).await.body["State"],
        "Enabled"
    );

    for (method, path) in [
        (Method::GET, "/".to_string()),
        (Method::GET, "/2015-03-31/functions".to_string()),
        (Method::POST, PREFIX.to_string()),
        (Method::DELETE, format!("{PREFIX}/{u}")),
        (Method::GET, format!("{PREFIX}/{u}/extra")),
    ] {
        let r = send(&sim, method.clone(), &path, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            r.error_type(),
            "UnknownOperationException",
            "{method} {path}"
        );
    }
    assert_eq!(sim.mapping(&u).map(|m| m.state), Some("Enabled".into()));
    let calls = sim.calls();
    assert_eq!(
        calls.last().map(|c| c.operation.as_str()),
        Some("UnknownOperation")
    );
}

#[tokio::test]
async fn injected_failures_take_precedence_and_are_recorded() {
    let sim = sim().await;
    let u = sim.add_mapping("f", &sim.kinesis_arn("s"), true);

    sim.throttle_next(2);
    let r = get(&sim, &format!("{PREFIX}/{u}")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.error_type(), "TooManyRequestsException");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(r.body["Reason"], "CallerRateLimitExceeded");
    let r = put(&sim, &u, r#"{"Enabled":false}"#).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        get(&sim, &format!("{PREFIX}/{u}")).await.status,
        StatusCode::OK
    );

    sim.fail_next("UpdateEventSourceMapping", 1, SimError::ServiceError);
    sim.fail_next("UpdateEventSourceMapping", 1, SimError::InUse);
    assert_eq!(get(&sim, PREFIX).await.status, StatusCode::OK);
    let r = put(&sim, &u, r#"{"Enabled":false}"#).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.error_type(), "ServiceException");
    let r = put(&sim, &u, r#"{"Enabled":false}"#).await;
    assert_eq!(r.error_type(), "ResourceInUseException");
    assert_eq!(sim.mapping(&u).map(|m| m.state), Some("Enabled".into()));
    assert_eq!(sim.update_count(&u), 0);

    sim.deny("UpdateEventSourceMapping");
    sim.deny("ListEventSourceMappings");
    let r = put(&sim, &u, r#"{"Enabled":false}"#).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error_type(), "AccessDeniedException");
    assert_eq!(
        r.body["Message"],
        format!(
            "User: arn:aws:sts::123456789012:assumed-role/lambda-pause/bot is not authorized to perform: \
             lambda:UpdateEventSourceMapping on resource: \
             arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{u} because no identity-based \
             policy allows the lambda:UpdateEventSourceMapping action"
        )
        .as_str()
    );
    let r = get(&sim, PREFIX).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["Message"].as_str().is_some_and(|m| {
            m.contains("lambda:ListEventSourceMappings on resource: * because")
        })
    );
    // Still denied on the second try; Get is unaffected.
    assert_eq!(put(&sim, &u, "{}").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&sim, &format!("{PREFIX}/{u}")).await.status,
        StatusCode::OK
    );
    sim.allow("UpdateEventSourceMapping");
    assert_eq!(
        put(&sim, &u, r#"{"Enabled":false}"#).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(sim.update_count(&u), 1);

    let statuses: Vec<(String, Option<String>, u16)> = sim
        .calls()
        .into_iter()
        .map(|c| (c.operation, c.uuid, c.status))
        .collect();
    let g = |s| ("GetEventSourceMapping".to_string(), Some(u.clone()), s);
    let p = |s| ("UpdateEventSourceMapping".to_string(), Some(u.clone()), s);
    let l = |s| ("ListEventSourceMappings".to_string(), None, s);
    assert_eq!(
        statuses,
        vec![
            g(429),
            p(429),
            g(200),
            l(200),
            p(500),
            p(400),
            p(403),
            l(403),
            p(403),
            g(200),
            p(202)
        ]
    );
}

/// The real SDK's configuration pointed at the simulator, with retries off; every service's test
/// client (Lambda here, Kinesis and SQS in `retention_tests`) is built from it.
pub(super) fn sdk_config(sim: &Simulator) -> aws_config::SdkConfig {
    use aws_sdk_lambda::config::{
        Credentials, Region, SharedCredentialsProvider, retry::RetryConfig,
    };
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(sim.endpoint_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build()
}

/// The real Lambda SDK client, pointed at the simulator, with retries off.
fn sdk_client(sim: &Simulator) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&sdk_config(sim))
}

#[tokio::test]
async fn real_sdk_round_trip() {
    use aws_sdk_lambda::error::ProvideErrorMetadata;

    let sim = sim().await;
    let client = sdk_client(&sim);
    let source = sim.kinesis_arn("orders");
    let mut expected = HashSet::new();
    for _ in 0..120 {
        expected.insert(sim.add_mapping("orders-fn:live", &source, true));
    }
    sim.add_mapping("orders-fn", &source, true);
    let kafka = sim.add_kafka_mapping("orders-fn:live", &sim.msk_arn("c"), "payments", true);
    expected.insert(kafka.clone());

    // Pagination through the SDK with a qualified ARN filter.
    let mut seen = HashSet::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_event_source_mappings()
            .function_name(sim.function_arn("orders-fn:live"))
            .set_marker(marker.clone())
            .send()
            .await
            .expect("list");
        for m in out.event_source_mappings() {
            assert!(seen.insert(m.uuid().unwrap_or_default().to_string()));
        }
        match out.next_marker() {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let one = client
        .get_event_source_mapping()
        .uuid(&kafka)
        .send()
        .await
        .expect("get");
    assert_eq!(one.state(), Some("Enabled"));
    assert_eq!(one.topics(), ["payments".to_string()]);
    assert!(one.last_modified().is_some());

    let up = client
        .update_event_source_mapping()
        .uuid(&kafka)
        .enabled(false)
        .send()
        .await
        .expect("update");
    assert_eq!(up.state(), Some("Disabling"));
    assert_eq!(up.state_transition_reason(), Some("USER_INITIATED"));

    let err = client
        .update_event_source_mapping()
        .uuid(&kafka)
        .enabled(true)
        .send()
        .await
        .expect_err("in use")
        .into_service_error();
    assert!(err.is_resource_in_use_exception(), "{err:?}");

    let err = client
        .get_event_source_mapping()
        .uuid("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .expect_err("not found")
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    sim.throttle_next(1);
    let err = client
        .list_event_source_mappings()
        .send()
        .await
        .expect_err("throttled")
        .into_service_error();
    assert_eq!(err.code(), Some("TooManyRequestsException"));
    match &err {
        aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsError::TooManyRequestsException(e) => {
            assert_eq!(e.retry_after_seconds(), Some("1"));
        }
        other => panic!("unexpected {other:?}"),
    }

    sim.deny("GetEventSourceMapping");
    let err = client
        .get_event_source_mapping()
        .uuid(&kafka)
        .send()
        .await
        .expect_err("denied")
        .into_service_error();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(
        err.message().is_some_and(
            |m| m.contains("is not authorized to perform: lambda:GetEventSourceMapping")
        )
    );

    sim.fail_next("GetEventSourceMapping", 1, SimError::ServiceError);
    sim.allow("GetEventSourceMapping");
    let err = client
        .get_event_source_mapping()
        .uuid(&kafka)
        .send()
        .await
        .expect_err("500")
        .into_service_error();
    assert!(err.is_service_exception(), "{err:?}");

    tokio::time::sleep(Duration::from_millis(400)).await;
    let one = client
        .get_event_source_mapping()
        .uuid(&kafka)
        .send()
        .await
        .expect("get");
    assert_eq!(one.state(), Some("Disabled"));
    assert_eq!(sim.update_count(&kafka), 1);
}

#[tokio::test]
async fn router_serves_the_same_state_and_custom_config_is_used() {
    let sim = Simulator::start(SimConfig {
        region: "eu-west-1".into(),
        account_id: "111122223333".into(),
        transition_time: Duration::from_millis(200),
    })
    .await
    .expect("start");
    let u = sim.add_mapping("f", &sim.sqs_arn("q"), true);
    assert_eq!(
        sim.mapping(&u).map(|m| m.function_arn),
        Some("arn:aws:lambda:eu-west-1:111122223333:function:f".to_string())
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(axum::serve(listener, sim.router()).into_future());
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::builder()
        .uri(format!(
            "http://{addr}{PREFIX}?FunctionName=111122223333%3Afunction%3Af"
        ))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["EventSourceMappings"][0]["UUID"], u.as_str());
    assert_eq!(sim.calls().len(), 1);
    server.abort();
}

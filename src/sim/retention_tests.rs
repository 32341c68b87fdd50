//! Tests for the simulator's retention reads: Kinesis `DescribeStreamSummary` and SQS
//! `GetQueueAttributes`, through the real `aws-sdk-kinesis` / `aws-sdk-sqs` clients and raw HTTP.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::*;

async fn sim() -> Simulator {
    let config = SimConfig {
        transition_time: Duration::from_millis(200),
        ..SimConfig::default()
    };
    Simulator::start(config).await.expect("start simulator")
}

fn kinesis_client(sim: &Simulator) -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::new(&super::tests::sdk_config(sim))
}

fn sqs_client(sim: &Simulator) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&super::tests::sdk_config(sim))
}

/// `RetentionPeriodHours` of a stream by name or ARN, or the service error.
async fn stream_retention(
    client: &aws_sdk_kinesis::Client,
    name: Option<&str>,
    arn: Option<&str>,
) -> Result<i32, aws_sdk_kinesis::operation::describe_stream_summary::DescribeStreamSummaryError> {
    client
        .describe_stream_summary()
        .set_stream_name(name.map(str::to_string))
        .set_stream_arn(arn.map(str::to_string))
        .send()
        .await
        .map_err(|e| e.into_service_error())
        .map(|out| {
            out.stream_description_summary()
                .map(|s| s.retention_period_hours())
                .unwrap_or(-1)
        })
}

/// `MessageRetentionPeriod` of a queue, or the service error.
async fn queue_retention(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Option<String>, aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::MessageRetentionPeriod)
        .send()
        .await
        .map_err(|e| e.into_service_error())
        .map(|out| {
            out.attributes()
                .and_then(|a| a.get(&QueueAttributeName::MessageRetentionPeriod))
                .cloned()
        })
}

#[tokio::test]
async fn kinesis_describe_stream_summary_through_the_sdk() {
    use aws_sdk_kinesis::error::ProvideErrorMetadata;
    use aws_sdk_kinesis::types::{EncryptionType, StreamMode, StreamStatus};

    let sim = sim().await;
    let client = kinesis_client(&sim);
    sim.add_mapping("f", &sim.kinesis_arn("orders"), true);
    // A consumer ARN names its stream too.
    sim.add_mapping(
        "f",
        &format!("{}/consumer/c:1700000000", sim.kinesis_arn("clicks")),
        true,
    );

    let out = client
        .describe_stream_summary()
        .stream_name("orders")
        .send()
        .await
        .expect("describe");
    let s = out.stream_description_summary().expect("summary");
    assert_eq!(s.stream_name(), "orders");
    assert_eq!(s.stream_arn(), sim.kinesis_arn("orders"));
    assert_eq!(s.stream_status(), &StreamStatus::Active);
    assert_eq!(s.retention_period_hours(), 24);
    assert!(s.stream_creation_timestamp().secs() > 1_700_000_000);
    assert_eq!(s.open_shard_count(), 1);
    assert_eq!(s.consumer_count(), Some(0));
    assert_eq!(s.encryption_type(), Some(&EncryptionType::None));
    assert_eq!(
        s.stream_mode_details().map(|d| d.stream_mode()),
        Some(&StreamMode::Provisioned)
    );
    assert_eq!(s.enhanced_monitoring().len(), 1);

    let arn = sim.kinesis_arn("orders");
    assert_eq!(
        stream_retention(&client, None, Some(&arn)).await.ok(),
        Some(24)
    );
    assert_eq!(
        stream_retention(&client, Some("clicks"), None).await.ok(),
        Some(24)
    );
    sim.set_kinesis_retention("orders", 48);
    assert_eq!(
        stream_retention(&client, None, Some(&arn)).await.ok(),
        Some(48)
    );
    assert_eq!(
        stream_retention(&client, Some("orders"), Some(&arn))
            .await
            .ok(),
        Some(48)
    );
    // Setting the retention of an unknown stream creates it.
    sim.set_kinesis_retention("fresh", 168);
    assert_eq!(
        stream_retention(&client, Some("fresh"), None).await.ok(),
        Some(168)
    );

    // Not found: unknown name, another account's ARN, a deleted stream.
    let err = stream_retention(&client, Some("nope"), None)
        .await
        .expect_err("not found");
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        err.message(),
        Some("Stream nope under account 123456789012 not found.")
    );
    let foreign = "arn:aws:kinesis:us-east-1:999999999999:stream/orders";
    let err = stream_retention(&client, None, Some(foreign))
        .await
        .expect_err("foreign");
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("Stream orders under account 999999999999 not found.")
    );
    sim.delete_stream("fresh");
    let err = stream_retention(&client, Some("fresh"), None)
        .await
        .expect_err("deleted");
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    // Mismatched name and ARN are an argument error.
    let err = stream_retention(&client, Some("clicks"), Some(&arn))
        .await
        .expect_err("mismatch");
    assert!(err.is_invalid_argument_exception(), "{err:?}");

    // Faults.
    sim.deny("DescribeStreamSummary");
    let err = stream_retention(&client, None, Some(&arn))
        .await
        .expect_err("denied");
    assert!(err.is_access_denied_exception(), "{err:?}");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(
        err.message(),
        Some(
            "User: arn:aws:sts::123456789012:assumed-role/lambda-pause/bot is not authorized to \
             perform: kinesis:DescribeStreamSummary on resource: \
             arn:aws:kinesis:us-east-1:123456789012:stream/orders because no identity-based \
             policy allows the kinesis:DescribeStreamSummary action"
        )
    );
    sim.allow("DescribeStreamSummary");

    sim.throttle_next(1);
    let err = stream_retention(&client, Some("orders"), None)
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(err.message(), Some("Rate exceeded"));

    sim.fail_next("DescribeStreamSummary", 1, SimError::ServiceError);
    sim.fail_next("DescribeStreamSummary", 1, SimError::NotFound);
    let err = stream_retention(&client, Some("orders"), None)
        .await
        .expect_err("500");
    assert_eq!(err.code(), Some("InternalFailure"));
    let err = stream_retention(&client, Some("orders"), None)
        .await
        .expect_err("injected not found");
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(
        stream_retention(&client, Some("orders"), None).await.ok(),
        Some(48)
    );

    let calls = sim.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.operation == "DescribeStreamSummary" && c.uuid.is_none())
    );
    let statuses: Vec<u16> = calls.iter().rev().take(5).map(|c| c.status).collect();
    assert_eq!(statuses, [200, 400, 500, 400, 400]);
}

#[tokio::test]
async fn sqs_get_queue_attributes_through_the_sdk() {
    use aws_sdk_sqs::error::ProvideErrorMetadata;
    use aws_sdk_sqs::types::QueueAttributeName;

    let sim = sim().await;
    let client = sqs_client(&sim);
    sim.add_mapping("f", &sim.sqs_arn("jobs"), true);
    let url = sim.sqs_queue_url("jobs");
    assert_eq!(url, "https://sqs.us-east-1.amazonaws.com/123456789012/jobs");

    assert_eq!(
        queue_retention(&client, &url).await.ok(),
        Some(Some("345600".to_string()))
    );
    sim.set_sqs_retention("jobs", 86_400);
    assert_eq!(
        queue_retention(&client, &url).await.ok(),
        Some(Some("86400".to_string()))
    );
    // Any host; only the last path segment (and the account before it) matter.
    assert_eq!(
        queue_retention(&client, "http://localhost:4566/123456789012/jobs")
            .await
            .ok(),
        Some(Some("86400".to_string()))
    );

    // Only the requested names; All gives everything held.
    let out = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::MessageRetentionPeriod)
        .send()
        .await
        .expect("get");
    assert_eq!(out.attributes().map(|a| a.len()), Some(1));
    let out = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("all");
    let all = out.attributes().expect("attributes");
    assert_eq!(
        all.get(&QueueAttributeName::QueueArn),
        Some(&sim.sqs_arn("jobs"))
    );
    assert_eq!(
        all.get(&QueueAttributeName::MessageRetentionPeriod),
        Some(&"86400".to_string())
    );
    assert_eq!(
        all.get(&QueueAttributeName::VisibilityTimeout),
        Some(&"30".to_string())
    );
    let out = client
        .get_queue_attributes()
        .queue_url(&url)
        .send()
        .await
        .expect("none requested");
    assert!(out.attributes().is_none());

    // Creating by setting, and not found.
    sim.set_sqs_retention("fresh", 1_209_600);
    let fresh = sim.sqs_queue_url("fresh");
    assert_eq!(
        queue_retention(&client, &fresh).await.ok(),
        Some(Some("1209600".to_string()))
    );
    sim.delete_queue("fresh");
    for missing in [
        fresh.as_str(),
        "https://sqs.us-east-1.amazonaws.com/123456789012/nope",
        "https://sqs.us-east-1.amazonaws.com/999999999999/jobs",
    ] {
        let err = queue_retention(&client, missing)
            .await
            .expect_err("not found");
        assert!(err.is_queue_does_not_exist(), "{missing}: {err:?}");
        assert_eq!(
            err.code(),
            Some("AWS.SimpleQueueService.NonExistentQueue"),
            "{missing}"
        );
        assert_eq!(err.message(), Some("The specified queue does not exist."));
    }
    let err = queue_retention(&client, "https://sqs.us-east-1.amazonaws.com/")
        .await
        .expect_err("bad url");
    assert!(err.is_invalid_address(), "{err:?}");

    // Faults.
    sim.deny("GetQueueAttributes");
    let err = queue_retention(&client, &url).await.expect_err("denied");
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(
        err.message(),
        Some(
            "User: arn:aws:sts::123456789012:assumed-role/lambda-pause/bot is not authorized to \
             perform: sqs:GetQueueAttributes on resource: arn:aws:sqs:us-east-1:123456789012:jobs \
             because no identity-based policy allows the sqs:GetQueueAttributes action"
        )
    );
    assert_eq!(
        err.meta().extra("type"),
        Some("Sender"),
        "query-compatible fault type"
    );
    sim.allow("GetQueueAttributes");

    sim.throttle_next(1);
    let err = queue_retention(&client, &url).await.expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));

    sim.fail_next("GetQueueAttributes", 1, SimError::NotFound);
    sim.fail_next("GetQueueAttributes", 1, SimError::ServiceError);
    let err = queue_retention(&client, &url).await.expect_err("injected");
    assert!(err.is_queue_does_not_exist(), "{err:?}");
    let err = queue_retention(&client, &url).await.expect_err("500");
    assert_eq!(err.code(), Some("InternalFailure"));
    assert_eq!(err.meta().extra("type"), Some("Receiver"));
    assert_eq!(
        queue_retention(&client, &url).await.ok(),
        Some(Some("86400".to_string()))
    );

    let calls = sim.calls();
    assert!(calls.iter().all(|c| c.operation == "GetQueueAttributes"));
    let statuses: Vec<u16> = calls.iter().rev().take(5).map(|c| c.status).collect();
    assert_eq!(statuses, [200, 500, 400, 400, 400]);
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn post(sim: &Simulator, target: Option<&str>, content_type: &str, body: &str) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/", sim.endpoint_url()))
        .header("content-type", content_type);
    if let Some(t) = target {
        req = req.header("x-amz-target", t);
    }
    let req = req
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

const K11: &str = "application/x-amz-json-1.1";
const S10: &str = "application/x-amz-json-1.0";

#[tokio::test]
async fn raw_wire_shapes_and_dispatch() {
    let sim = sim().await;
    let k = sim.add_mapping("f", &sim.kinesis_arn("orders"), true);
    sim.add_mapping("f", &sim.sqs_arn("jobs"), true);

    let dss = Some("Kinesis_20131202.DescribeStreamSummary");
    let r = post(&sim, dss, K11, r#"{"StreamName":"orders"}"#).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), K11);
    let s = &r.body["StreamDescriptionSummary"];
    assert_eq!(s["StreamStatus"], "ACTIVE");
    assert_eq!(s["RetentionPeriodHours"], 24);
    assert!(
        s["StreamCreationTimestamp"]
            .as_f64()
            .is_some_and(|t| t > 1.7e9)
    );
    assert_eq!(
        s["EnhancedMonitoring"],
        serde_json::json!([{"ShardLevelMetrics": []}])
    );
    assert_eq!(s["StreamModeDetails"]["StreamMode"], "PROVISIONED");
    assert_eq!(s["EncryptionType"], "NONE");
    assert_eq!(s["ConsumerCount"], 0);

    let r = post(&sim, dss, K11, r#"{"StreamName":"nope"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        serde_json::json!({
            "__type": "ResourceNotFoundException",
            "message": "Stream nope under account 123456789012 not found."
        })
    );
    assert_eq!(r.header("x-amzn-query-error"), "");
    for bad in [
        "{",
        "[]",
        "{}",
        r#"{"StreamName":5}"#,
        r#"{"StreamARN":"arn:aws:sqs:x"}"#,
    ] {
        let r = post(&sim, dss, K11, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            ["SerializationException", "InvalidArgumentException"]
                .contains(&r.body["__type"].as_str().unwrap_or("")),
            "{bad}: {}",
            r.body
        );
    }

    let gqa = Some("AmazonSQS.GetQueueAttributes");
    let url = sim.sqs_queue_url("jobs");
    let r = post(
        &sim,
        gqa,
        S10,
        &format!(r#"{{"QueueUrl":"{url}","AttributeNames":["MessageRetentionPeriod"]}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), S10);
    assert_eq!(
        r.body,
        serde_json::json!({"Attributes": {"MessageRetentionPeriod": "345600"}})
    );
    let r = post(
        &sim,
        gqa,
        S10,
        r#"{"QueueUrl":"https://h/123456789012/nope"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        serde_json::json!({
            "__type": "com.amazonaws.sqs#QueueDoesNotExist",
            "message": "The specified queue does not exist."
        })
    );
    assert_eq!(
        r.header("x-amzn-query-error"),
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    let r = post(
        &sim,
        gqa,
        S10,
        &format!(r#"{{"QueueUrl":"{url}","AttributeNames":["Bogus"]}}"#),
    )
    .await;
    assert_eq!(r.body["__type"], "com.amazonaws.sqs#InvalidAttributeName");
    assert_eq!(
        r.header("x-amzn-query-error"),
        "InvalidAttributeName;Sender"
    );

    sim.deny("GetQueueAttributes");
    let r = post(&sim, gqa, S10, &format!(r#"{{"QueueUrl":"{url}"}}"#)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["__type"],
        "com.amazon.coral.service#AccessDeniedException"
    );
    assert_eq!(r.header("x-amzn-query-error"), "AccessDenied;Sender");

    // Unknown targets: 400 in the JSON-RPC shape, recorded as UnknownOperation, no fault consumed.
    sim.throttle_next(1);
    for (target, ct) in [
        ("Kinesis_20131202.PutRecord", K11),
        ("AmazonSQS.SendMessage", S10),
        ("DynamoDB_20120810.GetItem", S10),
    ] {
        let r = post(&sim, Some(target), ct, "{}").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{target}");
        assert_eq!(r.header("content-type"), ct, "{target}");
        assert_eq!(r.body["__type"], "UnknownOperationException", "{target}");
        assert!(r.body["message"].is_string(), "{target}");
    }
    assert_eq!(
        sim.calls().last().map(|c| c.operation.clone()),
        Some("UnknownOperation".to_string())
    );
    // POST / without a target is still Lambda's 404.
    let r = post(&sim, None, "application/json", "{}").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-amzn-errortype"), "UnknownOperationException");

    // throttle_next is shared: the pending one hits the next Lambda call, then Kinesis is fine.
    let lambda = kinesis_test_get(&sim, &k).await;
    assert_eq!(lambda, StatusCode::TOO_MANY_REQUESTS);
    sim.throttle_next(1);
    let r = post(&sim, dss, K11, r#"{"StreamName":"orders"}"#).await;
    assert_eq!(r.body["__type"], "ThrottlingException");
    assert_eq!(kinesis_test_get(&sim, &k).await, StatusCode::OK);
}

async fn kinesis_test_get(sim: &Simulator, uuid: &str) -> StatusCode {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::builder()
        .uri(format!(
            "{}/2015-03-31/event-source-mappings/{uuid}",
            sim.endpoint_url()
        ))
        .body(Full::new(Bytes::new()))
        .expect("request");
    client.request(req).await.expect("send").status()
}

#[tokio::test]
async fn maximum_record_age_in_mapping_json() {
    let sim = sim().await;
    let client = aws_sdk_lambda::Client::new(&super::tests::sdk_config(&sim));

    let k = sim.add_mapping("f", &sim.kinesis_arn("s"), true);
    let d = sim.add_mapping("f", &sim.dynamodb_stream_arn("t"), true);
    let q = sim.add_mapping("f", &sim.sqs_arn("q"), true);
    let q2 = sim.add_mapping("f", &sim.sqs_arn("q2"), true);
    sim.set_maximum_record_age(&k, 7200);
    sim.set_maximum_record_age(&q2, 600);

    let age = |uuid: String| {
        let client = client.clone();
        async move {
            client
                .get_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .expect("get")
                .maximum_record_age_in_seconds()
        }
    };
    assert_eq!(age(k.clone()).await, Some(7200));
    assert_eq!(age(d.clone()).await, Some(-1));
    assert_eq!(age(q.clone()).await, None);
    assert_eq!(age(q2.clone()).await, Some(600));

    let listed = client
        .list_event_source_mappings()
        .send()
        .await
        .expect("list");
    let ages: Vec<Option<i32>> = listed
        .event_source_mappings()
        .iter()
        .map(|m| m.maximum_record_age_in_seconds())
        .collect();
    assert_eq!(ages, [Some(7200), Some(-1), None, Some(600)]);

    let up = client
        .update_event_source_mapping()
        .uuid(&d)
        .enabled(false)
        .send()
        .await
        .expect("update");
    assert_eq!(up.maximum_record_age_in_seconds(), Some(-1));
}

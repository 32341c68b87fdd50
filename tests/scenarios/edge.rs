//! The HTTP edge: signatures, limits, malformed bodies, the grammar's answers. Nothing here may reach Slack or AWS.

use lambda_pause::demo::SlackSender;

use crate::support::*;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn signed(body: &[u8], ts: u64, secret: &str) -> Vec<(&'static str, String)> {
    let ts = ts.to_string();
    let sig = lambda_pause::slack::verify::sign(
        &lambda_pause::secrets::SigningSecret::new(secret),
        &ts,
        body,
    );
    vec![
        ("x-slack-request-timestamp", ts),
        ("x-slack-signature", sig),
    ]
}

#[tokio::test]
async fn health_check_answers() {
    let w = World::start().await;
    assert_eq!(get_status(&w, "/healthz").await, 200);
    w.finish().await;
}

async fn get_status(w: &World, path: &str) -> u16 {
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let uri = format!("{}{path}", w.base);
    client
        .get(uri.parse().unwrap())
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn unsigned_stale_and_forged_requests_get_401_and_cause_nothing() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let url = w.response_url();
    let body = SlackSender::command_form(ALICE, CHANNEL, "pause orders-fn orders", &url);
    let click = SlackSender::click_form(
        ALICE,
        CHANNEL,
        "confirm",
        "0123456789abcdef0123456789abcdef",
        &url,
    );
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no headers", vec![]),
        (
            "timestamp only",
            vec![("x-slack-request-timestamp", now().to_string())],
        ),
        (
            "signature only",
            vec![("x-slack-signature", "v0=00".into())],
        ),
        ("wrong secret", signed(&body, now(), "not-the-secret")),
        ("stale by 301 s", signed(&body, now() - 301, SECRET)),
        (
            "from the future by 301 s",
            signed(&body, now() + 301, SECRET),
        ),
        (
            "garbage signature",
            vec![
                ("x-slack-request-timestamp", now().to_string()),
                ("x-slack-signature", "v0=zz".into()),
            ],
        ),
        (
            "v1 scheme",
            vec![
                ("x-slack-request-timestamp", now().to_string()),
                ("x-slack-signature", "v1=abc".into()),
            ],
        ),
        (
            "non-numeric timestamp",
            vec![
                ("x-slack-request-timestamp", "soon".into()),
                ("x-slack-signature", "v0=00".into()),
            ],
        ),
    ];
    for (name, headers) in &cases {
        let reply = w
            .sender
            .post_raw("/slack/commands", body.clone(), headers)
            .await
            .unwrap();
        assert_eq!(reply.status, 401, "{name}");
        let reply = w
            .sender
            .post_raw("/slack/interactions", click.clone(), headers)
            .await
            .unwrap();
        assert_eq!(reply.status, 401, "{name} (interaction)");
    }
    // A signature over a different body does not carry over.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b"&text=resume+orders-fn");
    let reply = w
        .sender
        .post_raw("/slack/commands", tampered, &signed(&body, now(), SECRET))
        .await
        .unwrap();
    assert_eq!(reply.status, 401, "tampered body");

    assert!(
        w.sim.calls().is_empty(),
        "no AWS call for unsigned requests"
    );
    assert_eq!(w.state(&uuid), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn a_signature_within_300_seconds_either_way_is_accepted() {
    let mut w = World::start().await;
    let url = w.response_url();
    let body = SlackSender::command_form(ALICE, CHANNEL, "help", &url);
    for skew in [-299i64, 299] {
        let ts = (now() as i64 + skew) as u64;
        let reply = w
            .sender
            .post_raw("/slack/commands", body.clone(), &signed(&body, ts, SECRET))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "skew {skew}");
    }
    w.finish().await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let mut w = World::start().await;
    let url = w.response_url();
    let text = format!("pause orders-fn -- {}", "x".repeat(20_000));
    let body = SlackSender::command_form(ALICE, CHANNEL, &text, &url);
    let reply = w.sender.post_signed("/slack/commands", body).await.unwrap();
    assert_eq!(reply.status, 413);
    let huge = SlackSender::click_form(ALICE, CHANNEL, "confirm", &"a".repeat(300_000), &url);
    let reply = w
        .sender
        .post_signed("/slack/interactions", huge)
        .await
        .unwrap();
    assert_eq!(reply.status, 413);
    // Unsigned and oversized: still refused, never processed.
    let reply = w
        .sender
        .post_raw("/slack/commands", vec![b'a'; 100_000], &[])
        .await
        .unwrap();
    assert_eq!(reply.status, 413);
    assert!(w.sim.calls().is_empty());
    w.finish().await;
}

#[tokio::test]
async fn malformed_signed_bodies_get_4xx_never_5xx() {
    let w = World::start().await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("/slack/commands", b"".to_vec()),
        ("/slack/commands", b"text=pause".to_vec()),
        ("/slack/commands", b"\xff\xfe\x00".to_vec()),
        ("/slack/commands", b"user_id=U1&channel_id=C1".to_vec()),
        ("/slack/interactions", b"".to_vec()),
        ("/slack/interactions", b"payload=not-json".to_vec()),
        (
            "/slack/interactions",
            b"payload=%7B%22type%22%3A5%7D".to_vec(),
        ),
        (
            "/slack/interactions",
            b"payload=%7B%22type%22%3A%22block_actions%22%7D".to_vec(),
        ),
        ("/slack/interactions", b"payload=%5B%5D".to_vec()),
    ];
    for (path, body) in bodies {
        let reply = w.sender.post_signed(path, body.clone()).await.unwrap();
        assert!(
            (400..500).contains(&reply.status),
            "{path} {:?} → {}",
            String::from_utf8_lossy(&body),
            reply.status
        );
    }
    // Other interaction types are acknowledged and ignored.
    let other =
        serde_urlencoded::to_string([("payload", r#"{"type":"view_closed","user":{"id":"U1"}}"#)])
            .unwrap();
    let reply = w
        .sender
        .post_signed("/slack/interactions", other.into_bytes())
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert!(w.sim.calls().is_empty());
    w.finish().await;
}

#[tokio::test]
async fn every_grammar_error_is_answered_with_the_problem_and_the_usage() {
    let mut w = World::start().await;
    let cases = [
        ("", "Tell me what to do"),
        (
            "pase orders-fn",
            "Unknown command `pase` — did you mean `pause`?",
        ),
        ("stop orders-fn", "did you mean `pause`?"),
        ("frobnicate", "Unknown command `frobnicate`."),
        ("pause", "Which function? `/lambda pause <function>`"),
        (
            "resume -- because",
            "Which function? `/lambda resume <function>`",
        ),
        ("pause orders/fn", "is not a function I can look up"),
        ("pause <@U0BOB>", "that is a Slack mention, not a function"),
        (
            "pause arn:aws:sqs:us-east-1:123456789012:q",
            "not a Lambda function's",
        ),
        ("pause orders-fn bad!name", "is not a source I can look up"),
        (
            "pause orders-fn --region moon",
            "`moon` is not an AWS region",
        ),
        ("pause orders-fn --region", "`--region` needs a value"),
        (
            "pause orders-fn --regoin us-east-1",
            "did you mean `--region`?",
        ),
        (
            "pause orders-fn --region us-east-1 --region us-west-2",
            "was given twice",
        ),
        (
            "pause orders-fn orders extra",
            "I don't know what to do with `extra`",
        ),
        ("pause orders-fn for 3x", "is not a duration"),
        ("pause orders-fn --", "The reason after `--` is empty"),
        ("help me", "I don't know what to do with `me`"),
    ];
    for (text, expected) in cases {
        let ack = w.ack(ALICE, text).await;
        assert!(ack.contains(expected), "`/lambda {text}` → {ack}");
        assert!(
            ack.contains("Nothing was changed") && ack.contains("/lambda pause <function>"),
            "`{text}` shows the usage: {ack}"
        );
    }
    let long = format!("pause orders-fn -- {}", "y".repeat(600));
    assert!(w.ack(ALICE, &long).await.contains("keep it under 500"));
    assert!(
        w.sim.calls().is_empty(),
        "no AWS call for a command that didn't parse"
    );
    w.finish().await;
}

#[tokio::test]
async fn help_explains_the_commands() {
    let mut w = World::start().await;
    let ack = w.ack(ALICE, "help").await;
    for needle in [
        "/lambda pause",
        "/lambda resume",
        "/lambda status",
        "--region",
        "confirm",
    ] {
        assert!(ack.contains(needle), "{needle} in {ack}");
    }
    w.finish().await;
}

#[tokio::test]
async fn a_replayed_signed_request_is_refused_and_has_no_second_effect() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let url = w.response_url();
    let body = SlackSender::command_form(ALICE, CHANNEL, "pause orders-fn", &url);
    let headers = signed(&body, now(), SECRET);
    assert_eq!(
        w.sender
            .post_raw("/slack/commands", body.clone(), &headers)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        w.sender
            .post_raw("/slack/commands", body.clone(), &headers)
            .await
            .unwrap()
            .status,
        401,
        "the same delivery again"
    );
    let prompt = w.next("response_url").await;
    let id = prompt.button_value("confirm").unwrap();

    let click_url = w.response_url();
    let click = SlackSender::click_form(ALICE, CHANNEL, "confirm", &id, &click_url);
    let headers = signed(&click, now(), SECRET);
    assert_eq!(
        w.sender
            .post_raw("/slack/interactions", click.clone(), &headers)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        w.sender
            .post_raw("/slack/interactions", click, &headers)
            .await
            .unwrap()
            .status,
        401
    );
    w.next("response_url").await;
    w.next("chat.postMessage").await;
    assert_eq!(w.sim.update_count(&uuid), 1);
    w.finish().await;
}

#[tokio::test]
async fn requests_for_another_slack_app_get_401_when_the_app_id_is_set() {
    let mut options = Options::default();
    options.settings.app_id = Some("A0OTHER".into());
    let mut w = World::with(options).await;
    assert_eq!(
        w.command(ALICE, "help").await.status,
        401,
        "the sender says A0LAMBDA"
    );
    let url = w.response_url();
    assert_eq!(
        w.sender
            .click(
                ALICE,
                CHANNEL,
                "confirm",
                "0123456789abcdef0123456789abcdef",
                &url
            )
            .await
            .unwrap()
            .status,
        401
    );
    w.kill();
    w.options.settings.app_id = Some("A0LAMBDA".into());
    w.restart().await;
    assert_eq!(w.command(ALICE, "help").await.status, 200);
    w.finish().await;
}

//! Hostile input through the real router: property-generated bodies, signed and unsigned. Never a 5xx,
//! never a panic, never an AWS call or a Slack message from anything unsigned; a normal pause still works afterwards.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

use crate::support::*;

/// Arbitrary form-ish bodies: random bytes, or `key=value` pairs with Slack's field names and junk values.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "payload",
        "text",
        "user_id",
        "channel_id",
        "response_url",
        "team_id",
        "command",
        "x",
    ]);
    let value = prop_oneof![
        ".{0,40}",
        Just(r#"{"type":"block_actions"}"#.to_string()),
        Just(r#"{"type":"block_actions","user":{"id":"U1"},"team":null,"actions":[{"action_id":"confirm","value":7}]}"#.to_string()),
        Just(r#"{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"approve","value":"0123456789abcdef0123456789abcdef"}]}"#.to_string()),
        Just("pause orders-fn --region".to_string()),
        "[a-z&<>@%]{0,60}",
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec((field, value), 0..6).prop_map(|pairs| serde_urlencoded::to_string(
            pairs
        )
        .unwrap_or_default()
        .into_bytes()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_never_cause_a_5xx_or_an_effect() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let cases = {
        let mut runner = TestRunner::new(Config {
            cases: 150,
            ..Config::default()
        });
        let strategy = (bodies(), any::<bool>(), any::<bool>());
        (0..150)
            .map(|_| strategy.new_tree(&mut runner).expect("a case").current())
            .collect::<Vec<_>>()
    };
    for (body, signed, commands) in cases {
        let path = if commands {
            "/slack/commands"
        } else {
            "/slack/interactions"
        };
        let reply = if signed {
            w.sender.post_signed(path, body.clone()).await
        } else {
            w.sender.post_raw(path, body.clone(), &[]).await
        }
        .expect("the server answers");
        assert!(
            reply.status < 500,
            "{path} {} → {}",
            String::from_utf8_lossy(&body),
            reply.status
        );
        if !signed {
            assert_eq!(
                reply.status,
                401,
                "unsigned: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    // Some signed junk may form a valid command or click (e.g. `text=`); whatever it said reached Slack
    // only through the stand-in; no mapping changed.
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.idle().await;
    let seen = w.drain().await;
    assert!(
        seen.iter().all(|s| s.via != "chat.postMessage"),
        "no channel post from junk: {seen:?}"
    );

    // And a normal pause still works.
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("*Disabled*")
    );
    assert_eq!(w.state(&uuid), "Disabled");
    w.finish().await;
}

/// As a new user might try it: thousands of unsigned, forged, replayed, malformed and oversized
/// requests, many at once; then a normal pause still works and nothing else happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_bad_requests_then_a_normal_pause_works() {
    use lambda_pause::secrets::SigningSecret;
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let pause = lambda_pause::demo::SlackSender::command_form(
        ALICE,
        CHANNEL,
        "pause orders-fn",
        &w.response_url(),
    );
    // One real, signed pause command, then replayed 500 times.
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let signature = lambda_pause::slack::verify::sign(&SigningSecret::new(SECRET), &ts, &pause);
    let replay_headers = vec![
        ("x-slack-request-timestamp", ts.clone()),
        ("x-slack-signature", signature.clone()),
    ];
    let first = w
        .sender
        .post_raw("/slack/commands", pause.clone(), &replay_headers)
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    let forger = lambda_pause::demo::SlackSender::new(w.base.clone(), SigningSecret::new("wrong"));
    // Its own connections: the server closes a connection after refusing a too-large body, and
    // a pooled connection closed under another request would look like a failure of that one.
    let big = lambda_pause::demo::SlackSender::new(w.base.clone(), SigningSecret::new(SECRET));
    let mut tasks = tokio::task::JoinSet::new();
    // 100 connections at a time (thousands at once would overflow the test's own listen backlog).
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(100));
    for i in 0..2_000usize {
        let slot = std::sync::Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("semaphore");
        let sender = w.sender.clone();
        let forger = forger.clone();
        let big = big.clone();
        let pause = pause.clone();
        let replay_headers = replay_headers.clone();
        tasks.spawn(async move {
            let (kind, reply) = match i % 5 {
                0 => (
                    "replayed",
                    sender
                        .post_raw("/slack/commands", pause, &replay_headers)
                        .await,
                ),
                1 => (
                    "unsigned",
                    sender.post_raw("/slack/commands", pause, &[]).await,
                ),
                2 => (
                    "forged",
                    forger.post_signed("/slack/interactions", pause).await,
                ),
                3 => (
                    "malformed",
                    sender
                        .post_signed(
                            "/slack/interactions",
                            format!("payload=%7B%22type%22%3A{i}").into_bytes(),
                        )
                        .await,
                ),
                _ => (
                    "oversized",
                    big.post_signed("/slack/commands", vec![b'a'; 64 * 1024])
                        .await,
                ),
            };
            drop(slot);
            (kind, reply.map(|r| r.status))
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (kind, status) = done.unwrap();
        let status = match status {
            Ok(status) => status,
            // The server answers 413 before reading a too-large body and may close the
            // connection while the client is still sending it.
            Err(_) if kind == "oversized" => 413,
            Err(err) => panic!("{kind}: the server did not answer: {err}"),
        };
        let expected: &[u16] = match kind {
            "replayed" | "unsigned" | "forged" => &[401],
            "malformed" => &[400],
            _ => &[413],
        };
        assert!(expected.contains(&status), "{kind} → {status}");
    }
    // Only the first delivery of the pause did anything: its prompt.
    let prompt = w.next("response_url").await;
    let id = prompt.button_value("confirm").expect("a prompt");
    assert_eq!(w.requests().await.len(), 1);
    assert_eq!(w.sim.update_count(&uuid), 0);
    // And a normal confirm still works.
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("*Disabled*")
    );
    assert_eq!(w.state(&uuid), "Disabled");
    w.finish().await;
}

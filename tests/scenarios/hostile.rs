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

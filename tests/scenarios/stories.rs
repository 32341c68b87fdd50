//! Stories: command → prompt → click → settled → follow-up, and the ways a click can go wrong.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn pause_one_source_then_resume_it() {
    let mut w = World::start().await;
    let orders = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let retry = w
        .sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), true);

    // Alice asks; the prompt shows exactly what will change, and nothing has changed yet.
    let (prompt, id) = w
        .prompt(
            ALICE,
            "pause orders-fn orders -- poison record &amp; retries",
        )
        .await;
    let text = prompt.text();
    assert!(text.contains("*Pause `orders-fn`?*"), "{text}");
    assert!(
        text.contains(&format!(
            "`orders` (Kinesis stream) — *Enabled* → *Disabled* — `{orders}`"
        )),
        "{text}"
    );
    assert!(
        !text.contains("orders-retry"),
        "only the named source is in scope: {text}"
    );
    assert!(
        text.contains("Reason: poison record &amp; retries"),
        "{text}"
    );
    assert!(text.contains("<@U0ALICE>"), "{text}");
    assert_eq!(w.state(&orders), "Enabled");

    // She confirms: the prompt is replaced (so it can't be clicked again), then the channel hears it settled.
    w.click(ALICE, "confirm", &id).await;
    let replaced = w.next("response_url").await;
    assert_eq!(replaced.body["replace_original"], true);
    assert!(
        replaced.button_value("confirm").is_none(),
        "no buttons left on the replaced prompt"
    );
    assert!(
        replaced
            .text()
            .contains("<@U0ALICE> confirmed. Pausing 1 mapping of `orders-fn`"),
        "{}",
        replaced.text()
    );
    let follow_up = w.next("chat.postMessage").await;
    assert_eq!(follow_up.body["channel"], CHANNEL);
    let text = follow_up.text();
    assert!(
        text.contains("`orders-fn` is paused — requested by <@U0ALICE>, took"),
        "{text}"
    );
    assert!(
        text.contains("• `orders` (Kinesis stream): *Disabled*"),
        "{text}"
    );
    assert!(
        text.contains("Reason: poison record &amp; retries"),
        "{text}"
    );
    assert_eq!(w.state(&orders), "Disabled", "AWS agrees");
    assert_eq!(
        w.state(&retry),
        "Enabled",
        "the other source was not touched"
    );
    assert_eq!(w.sim.update_count(&orders), 1);
    assert_eq!(w.sim.update_count(&retry), 0);

    // And back.
    let (prompt, id) = w.prompt(ALICE, "resume orders-fn orders").await;
    assert!(
        prompt.text().contains("*Disabled* → *Enabled*"),
        "{}",
        prompt.text()
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up
            .text()
            .contains("`orders-fn` is resumed — requested by <@U0ALICE>"),
        "{}",
        follow_up.text()
    );
    assert!(
        follow_up.text().contains("*Enabled*"),
        "{}",
        follow_up.text()
    );
    assert_eq!(w.state(&orders), "Enabled");
    assert_eq!(w.sim.update_count(&orders), 2);
    w.finish().await;
}

#[tokio::test]
async fn without_a_source_every_mapping_is_paused_separately() {
    let mut w = World::start().await;
    let a = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let b = w
        .sim
        .add_mapping("orders-fn", &w.sim.dynamodb_stream_arn("Orders"), true);
    let c = w
        .sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), false);
    let other = w
        .sim
        .add_mapping("billing-fn", &w.sim.kinesis_arn("orders"), true);

    let (prompt, id) = w.prompt(ALICE, "pause orders-fn").await;
    let text = prompt.text();
    assert!(
        text.contains("Lambda will stop polling 2 event source mappings"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "• `orders` (Kinesis stream) — *Enabled* → *Disabled* — `{a}`"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "• `Orders` (DynamoDB stream) — *Enabled* → *Disabled* — `{b}`"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "• `orders-retry` (SQS queue) — already *Disabled*: left as is — `{c}`"
        )),
        "{text}"
    );
    assert_eq!(
        prompt.body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .count(),
        1
    );

    w.click(ALICE, "confirm", &id).await;
    assert!(
        w.next("response_url")
            .await
            .text()
            .contains("Pausing 2 mappings")
    );
    let follow_up = w.next("chat.postMessage").await;
    let text = follow_up.text();
    assert!(
        text.contains("• `orders` (Kinesis stream): *Disabled*"),
        "{text}"
    );
    assert!(
        text.contains("• `Orders` (DynamoDB stream): *Disabled*"),
        "{text}"
    );
    assert!(
        text.contains("• `orders-retry` (SQS queue): *Disabled* (already; left as is)"),
        "{text}"
    );
    for uuid in [&a, &b, &c] {
        assert_eq!(w.state(uuid), "Disabled");
    }
    assert_eq!(
        (
            w.sim.update_count(&a),
            w.sim.update_count(&b),
            w.sim.update_count(&c)
        ),
        (1, 1, 0)
    );
    assert_eq!(
        w.state(&other),
        "Enabled",
        "another function's mapping of the same stream is untouched"
    );
    w.finish().await;
}

#[tokio::test]
async fn sources_can_be_named_by_arn_uuid_or_topic() {
    let mut w = World::start().await;
    let arn = w.sim.kinesis_arn("orders");
    let by_arn = w.sim.add_mapping("orders-fn", &arn, true);
    let by_uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), true);
    let by_topic =
        w.sim
            .add_kafka_mapping("orders-fn", &w.sim.msk_arn("payments"), "refunds", true);

    for (source, uuid) in [
        (arn.clone(), &by_arn),
        (by_uuid.to_uppercase(), &by_uuid),
        ("refunds".to_string(), &by_topic),
    ] {
        let (prompt, id) = w.prompt(ALICE, &format!("pause orders-fn {source}")).await;
        assert!(
            prompt.text().contains(uuid.as_str()),
            "{source}: {}",
            prompt.text()
        );
        assert_eq!(
            prompt.text().matches("→ *Disabled*").count(),
            1,
            "exactly one mapping for {source}"
        );
        w.click(ALICE, "cancel", &id).await;
        assert!(
            w.next("response_url")
                .await
                .text()
                .contains("Cancelled by <@U0ALICE>")
        );
    }
    assert!(
        w.sim
            .calls()
            .iter()
            .all(|c| c.operation != "UpdateEventSourceMapping"),
        "cancelled: nothing updated"
    );
    w.finish().await;
}

#[tokio::test]
async fn function_by_alias_and_arn() {
    let mut w = World::start().await;
    let live = w
        .sim
        .add_mapping("orders-fn:live", &w.sim.kinesis_arn("orders"), true);
    let (prompt, id) = w.prompt(ALICE, "pause orders-fn:live").await;
    assert!(prompt.text().contains(live.as_str()));
    w.click(ALICE, "cancel", &id).await;
    w.next("response_url").await;
    let arn = w.sim.function_arn("orders-fn:live");
    let (prompt, id) = w.prompt(ALICE, &format!("pause {arn} orders")).await;
    assert!(prompt.text().contains(live.as_str()));
    w.click(ALICE, "cancel", &id).await;
    w.next("response_url").await;
    w.finish().await;
}

#[tokio::test]
async fn unknown_function_and_unknown_source_say_so_and_change_nothing() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);

    w.ack(ALICE, "pause ordres-fn").await;
    let answer = w.next("response_url").await;
    assert!(
        answer
            .text()
            .contains("`ordres-fn` has no event source mappings in `us-east-1`"),
        "{}",
        answer.text()
    );
    assert!(answer.button_value("confirm").is_none());

    w.ack(ALICE, "pause orders-fn ordrs").await;
    let answer = w.next("response_url").await;
    let text = answer.text();
    assert!(
        text.contains("No event source mapping of `orders-fn` matches `ordrs`"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "• `orders` (Kinesis stream) — *Enabled* — `{uuid}`"
        )),
        "lists what it has: {text}"
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.finish().await;
}

#[tokio::test]
async fn nothing_to_do_when_already_paused() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), false);
    w.ack(ALICE, "pause orders-fn").await;
    let answer = w.next("response_url").await;
    assert!(
        answer
            .text()
            .contains("Nothing to change: the mapping of `orders-fn` is already *Disabled*."),
        "{}",
        answer.text()
    );
    assert!(answer.button_value("confirm").is_none());
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.finish().await;
}

#[tokio::test]
async fn cancel_changes_nothing() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.click(ALICE, "cancel", &id).await;
    let replaced = w.next("response_url").await;
    assert_eq!(replaced.body["replace_original"], true);
    assert!(
        replaced
            .text()
            .contains("Cancelled by <@U0ALICE>: pause of `orders-fn` was not changed."),
        "{}",
        replaced.text()
    );
    // A confirm after the cancel does nothing either.
    w.click(ALICE, "confirm", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("already cancelled")
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    assert_eq!(w.state(&uuid), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn only_the_requester_can_confirm() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    for action in ["confirm", "cancel"] {
        w.click(BOB, action, &id).await;
        let refusal = w.next("chat.postEphemeral").await;
        assert_eq!(refusal.body["user"], BOB, "told only to the clicker");
        assert_eq!(refusal.body["channel"], CHANNEL);
        assert!(
            refusal.text().contains(
                "Only <@U0ALICE> can confirm or cancel this request. Nothing was changed."
            ),
            "{}",
            refusal.text()
        );
    }
    assert_eq!(w.sim.update_count(&uuid), 0);
    // Alice still can.
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    w.next("chat.postMessage").await;
    assert_eq!(w.state(&uuid), "Disabled");
    w.finish().await;
}

#[tokio::test]
async fn double_clicks_apply_once() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;

    // Five clicks at once: one wins, four are told it was already confirmed.
    let mut clicks = Vec::new();
    for _ in 0..5 {
        let sender = w.sender.clone();
        let url = w.response_url();
        let id = id.clone();
        clicks.push(tokio::spawn(async move {
            sender
                .click(ALICE, CHANNEL, "confirm", &id, &url)
                .await
                .unwrap()
                .status
        }));
    }
    for c in clicks {
        assert_eq!(c.await.unwrap(), 200);
    }
    let mut replaced = 0;
    let mut refused = 0;
    let mut followed = 0;
    for _ in 0..6 {
        let sent = w.next_any().await;
        match sent.via.as_str() {
            "response_url" => {
                assert!(
                    sent.text().contains("confirmed. Pausing"),
                    "{}",
                    sent.text()
                );
                replaced += 1;
            }
            "chat.postEphemeral" => {
                assert!(
                    sent.text().contains("that click changed nothing"),
                    "{}",
                    sent.text()
                );
                refused += 1;
            }
            "chat.postMessage" => {
                assert!(sent.text().contains("*Disabled*"));
                followed += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((replaced, refused, followed), (1, 4, 1));
    assert_eq!(
        w.sim.update_count(&uuid),
        1,
        "exactly one update however often it was clicked"
    );

    // A later click (once the request is finished) changes nothing either.
    w.idle().await;
    w.click(ALICE, "confirm", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("already settled")
    );
    assert_eq!(w.sim.update_count(&uuid), 1);
    w.finish().await;
}

#[tokio::test]
async fn tampered_or_foreign_button_values_change_nothing() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    let mut flipped = id.clone().into_bytes();
    flipped[0] = if flipped[0] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    for value in [
        flipped.as_str(),
        "",
        "../../admin",
        "{\"function\":\"billing-fn\"}",
        &"f".repeat(5000),
    ] {
        w.click(ALICE, "confirm", value).await;
        let answer = w.next("chat.postEphemeral").await;
        assert!(
            answer.text().contains("does not match any request I hold"),
            "{value}: {}",
            answer.text()
        );
    }
    w.click(ALICE, "launch-missiles", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("I don't know that button")
    );
    w.click(ALICE, "approve", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("does not apply to this request at this stage")
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    assert_eq!(w.state(&uuid), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn prompts_expire_after_15_minutes() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (prompt, id) = w.prompt(ALICE, "pause orders-fn").await;
    assert!(prompt.text().contains("expires in 15m"));
    w.clock.advance(Duration::from_secs(15 * 60 + 1));
    w.click(ALICE, "confirm", &id).await;
    let replaced = w.next("response_url").await;
    assert_eq!(replaced.body["replace_original"], true);
    assert!(
        replaced
            .text()
            .contains("expired (prompts are valid for 15m). Nothing was changed"),
        "{}",
        replaced.text()
    );
    w.click(ALICE, "confirm", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("already expired")
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.finish().await;
}

#[tokio::test]
async fn status_lists_mappings_with_aws_reasons() {
    let mut w = World::start().await;
    let a = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let b = w
        .sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), true);
    w.sim
        .set_state(&b, "Disabled", "PROBLEM: Function call failed");
    let ack = w.ack(BOB, "status orders-fn").await;
    assert!(ack.contains("Checking `orders-fn`"));
    let status = w.next("response_url").await;
    let text = status.text();
    assert!(
        text.contains("has 2 event source mappings in `us-east-1` (1 paused)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("• `orders` (Kinesis stream) — *Enabled* — `{a}`")),
        "{text}"
    );
    assert!(text.contains(&format!("• `orders-retry` (SQS queue) — *Disabled* — `{b}` — AWS says: _PROBLEM: Function call failed_")), "{text}");
    assert!(
        w.sim
            .calls()
            .iter()
            .all(|c| c.operation == "ListEventSourceMappings"),
        "status only reads"
    );
    w.finish().await;
}

#[tokio::test]
async fn status_without_a_function_shows_what_the_bot_paused() {
    let mut w = World::start().await;
    w.ack(BOB, "status").await;
    assert!(
        w.next("response_url")
            .await
            .text()
            .contains("no mapping is paused by me")
    );

    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, _) = w.confirm(ALICE, "pause orders-fn").await;
    w.idle().await;

    w.ack(BOB, "status").await;
    let text = w.next("response_url").await.text().to_owned();
    assert!(
        text.contains("*Paused by me*")
            && text.contains("`orders-fn` `orders` (Kinesis stream) — paused by <@U0ALICE>"),
        "{text}"
    );
    w.finish().await;
}

#[tokio::test]
async fn pagination_past_100_mappings() {
    let mut w = World::start().await;
    let uuids: Vec<String> = (0..250)
        .map(|i| {
            w.sim.add_mapping(
                "big-fn",
                &w.sim.kinesis_arn(&format!("stream-{i:03}")),
                true,
            )
        })
        .collect();

    // A source on the third page resolves.
    let (prompt, id) = w.prompt(ALICE, "pause big-fn stream-217").await;
    assert!(prompt.text().contains(&uuids[217]), "{}", prompt.text());
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("`stream-217` (Kinesis stream): *Disabled*")
    );
    assert_eq!(w.state(&uuids[217]), "Disabled");
    let lists: Vec<_> = w
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.operation == "ListEventSourceMappings")
        .collect();
    assert_eq!(lists.len(), 3, "three pages, each read once");

    // Status counts all of them and keeps the message within Slack's limits.
    w.ack(BOB, "status big-fn").await;
    let status = w.next("response_url").await;
    assert!(
        status.text().contains("has 250 event source mappings"),
        "{}",
        &status.text()[..200]
    );
    assert!(status.text().contains("… and 100 more"));
    let blocks = status.body["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    assert!(blocks.iter().all(|b| {
        b["text"]["text"]
            .as_str()
            .is_none_or(|t| t.chars().count() <= 3000)
    }));
    w.finish().await;
}

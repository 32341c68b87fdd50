//! When AWS or Slack misbehave: in-use retries, throttling, settle timeouts, denied permissions, a channel the bot can't post in.

use std::time::Duration;

use lambda_pause::ids::MappingUuid;
use lambda_pause::lambda::Lambda;
use lambda_pause::sim::SimError;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn an_update_refused_while_in_use_is_retried_until_it_goes_through() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.sim
        .fail_next("UpdateEventSourceMapping", 3, SimError::InUse);
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up.text().contains("`orders-fn` is paused"),
        "{}",
        follow_up.text()
    );
    assert_eq!(w.state(&uuid), "Disabled");
    let updates: Vec<u16> = w
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.operation == "UpdateEventSourceMapping")
        .map(|c| c.status)
        .collect();
    assert_eq!(
        updates,
        vec![400, 400, 400, 202],
        "three refusals, then exactly one update"
    );
    w.finish().await;
}

#[tokio::test]
async fn a_mapping_someone_else_is_changing_is_waited_for_then_updated() {
    let mut w = World::start().await;
    let uuid = MappingUuid::new(w.sim.add_mapping(
        "orders-fn",
        &w.sim.kinesis_arn("orders"),
        false,
    ));
    let (_, id) = w.prompt(ALICE, "resume orders-fn").await;
    // Before Alice confirms, someone else starts enabling it from the console: it is `Enabling` for a while.
    w.sim.set_transition_time(Duration::from_millis(300));
    let console = Lambda::for_endpoint(&w.sim.endpoint_url(), "us-east-1")
        .await
        .client(None);
    assert_eq!(
        console.set_enabled(&uuid, true).await.unwrap().state,
        "Enabling"
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up
            .text()
            .contains("• `orders` (Kinesis stream): *Enabled*"),
        "{}",
        follow_up.text()
    );
    assert_eq!(w.state(uuid.as_str()), "Enabled");
    let updates: Vec<u16> = w
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.operation == "UpdateEventSourceMapping")
        .map(|c| c.status)
        .collect();
    assert_eq!(updates.first(), Some(&202), "the console's update");
    assert!(
        updates[1..].starts_with(&[400]),
        "ours met ResourceInUseException first: {updates:?}"
    );
    assert_eq!(
        updates.last(),
        Some(&202),
        "then went through once: {updates:?}"
    );
    assert_eq!(updates.iter().filter(|s| **s == 202).count(), 2);
    w.finish().await;
}

#[tokio::test]
async fn a_mapping_already_on_its_way_is_not_updated_again() {
    let mut w = World::start().await;
    let uuid = MappingUuid::new(
        w.sim
            .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true),
    );
    w.sim.set_transition_time(Duration::from_millis(300));
    let console = Lambda::for_endpoint(&w.sim.endpoint_url(), "us-east-1")
        .await
        .client(None);
    console.set_enabled(&uuid, false).await.unwrap();
    let (prompt, id) = w.prompt(ALICE, "pause orders-fn").await;
    assert!(
        prompt.text().contains("*Disabling* → *Disabled*"),
        "{}",
        prompt.text()
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("*Disabled*")
    );
    assert_eq!(
        w.sim.update_count(uuid.as_str()),
        1,
        "only the console's update"
    );
    w.finish().await;
}

#[tokio::test]
async fn throttled_calls_back_off_and_succeed() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.throttle_next(2);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.sim.throttle_next(2);
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("*Disabled*")
    );
    assert_eq!(w.sim.update_count(&uuid), 1);
    assert_eq!(w.sim.calls().iter().filter(|c| c.status == 429).count(), 4);
    w.finish().await;
}

#[tokio::test]
async fn persistent_throttling_is_reported_and_nothing_changes() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.throttle_next(100);
    w.ack(ALICE, "pause orders-fn").await;
    let answer = w.next("response_url").await;
    assert!(
        answer
            .text()
            .contains("AWS is throttling Lambda control-plane calls"),
        "{}",
        answer.text()
    );
    assert!(answer.text().contains("Nothing was changed"));
    assert_eq!(w.sim.calls().len(), 6, "bounded retries");
    assert_eq!(w.state(&uuid), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn a_state_that_never_settles_gets_a_warning_with_the_last_state_and_reason() {
    let mut settings = fast_settings();
    settings.settle.timeout = Duration::from_millis(400);
    let mut w = World::with_settings(settings).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.set_stuck(&uuid, true);
    let (_, warning) = w.confirm(ALICE, "pause orders-fn").await;
    let text = warning.text();
    assert!(
        text.contains(":warning: Pausing `orders-fn`: 1 mapping is not *Disabled* after"),
        "{text}"
    );
    assert!(text.contains("• `orders` (Kinesis stream): still *Disabling* (StateTransitionReason: `USER_INITIATED`)"), "{text}");
    assert!(text.contains("requested by <@U0ALICE>"), "{text}");
    assert_eq!(
        w.sim.update_count(&uuid),
        1,
        "waiting longer never updates again"
    );
    w.finish().await;
}

#[tokio::test]
async fn a_denied_update_names_the_missing_permission() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.deny("UpdateEventSourceMapping");
    let (_, follow_up) = w.confirm(ALICE, "pause orders-fn").await;
    let text = follow_up.text();
    assert!(
        text.contains(":x: Pausing `orders-fn` failed for 1 of 1 mapping"),
        "{text}"
    );
    assert!(
        text.contains(
            "AWS denied `lambda:UpdateEventSourceMapping`: the bot's IAM role lacks that permission"
        ),
        "{text}"
    );
    assert!(text.contains("*Enabled*, not changed"), "{text}");
    assert_eq!(w.state(&uuid), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn a_denied_lookup_names_the_missing_permission() {
    let mut w = World::start().await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.deny("ListEventSourceMappings");
    w.ack(ALICE, "status orders-fn").await;
    let text = w.next("response_url").await.text().to_owned();
    assert!(
        text.contains("AWS denied `lambda:ListEventSourceMappings`"),
        "{text}"
    );
    w.ack(ALICE, "pause orders-fn").await;
    let text = w.next("response_url").await.text().to_owned();
    assert!(
        text.contains("Could not look up the event source mappings of `orders-fn`")
            && text.contains("Nothing was changed"),
        "{text}"
    );
    w.finish().await;
}

#[tokio::test]
async fn a_mapping_deleted_before_the_update_is_reported() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.sim
        .fail_next("UpdateEventSourceMapping", 1, SimError::NotFound);
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let text = w.next("chat.postMessage").await.text().to_owned();
    assert!(
        text.contains("failed for 1 of 1 mapping") && text.contains("AWS says it does not exist"),
        "{text}"
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.finish().await;
}

#[tokio::test]
async fn when_the_bot_is_not_in_the_channel_the_follow_up_goes_through_response_url() {
    let mut w = World::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "not_in_channel"})),
        )
        .with_priority(1)
        .mount(&w.slack)
        .await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, refused) = w.confirm(ALICE, "pause orders-fn").await;
    assert!(refused.text().contains("*Disabled*"));
    let fallback = w.next("response_url").await;
    assert_eq!(fallback.body["response_type"], "in_channel");
    assert_eq!(fallback.body["replace_original"], false);
    assert!(
        fallback
            .text()
            .contains("`orders-fn` is paused — requested by <@U0ALICE>"),
        "{}",
        fallback.text()
    );
    assert_eq!(w.state(&uuid), "Disabled");
    w.finish().await;
}

#[tokio::test]
async fn slack_errors_on_the_channel_post_are_retried() {
    let mut w = World::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&w.slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .with_priority(2)
        .up_to_n_times(1)
        .mount(&w.slack)
        .await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    for _ in 0..3 {
        assert!(
            w.next("chat.postMessage")
                .await
                .text()
                .contains("*Disabled*"),
            "the same follow-up, retried"
        );
    }
    w.finish().await;
}

#[tokio::test]
async fn an_expired_response_url_is_replaced_by_an_ephemeral_message() {
    let mut w = World::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("^/respond/[0-9]+$"))
        .respond_with(ResponseTemplate::new(404).set_body_string("expired_url"))
        .with_priority(1)
        .mount(&w.slack)
        .await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.ack(ALICE, "pause orders-fn").await;
    assert_eq!(
        w.next("response_url").await.via,
        "response_url",
        "the attempt"
    );
    let prompt = w.next("chat.postEphemeral").await;
    assert_eq!(prompt.body["user"], ALICE);
    assert_eq!(prompt.body["channel"], CHANNEL);
    assert!(
        prompt.text().contains("*Pause `orders-fn`?*"),
        "{}",
        prompt.text()
    );
    assert!(
        prompt.button_value("confirm").is_some(),
        "the buttons come along"
    );
    w.ack(ALICE, "status orders-fn").await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("has 1 event source mapping")
    );
    w.finish().await;
}

#[tokio::test]
async fn a_full_work_queue_refuses_new_commands_and_changes_nothing() {
    let mut settings = fast_settings();
    settings.max_queued_work = 1;
    let mut w = World::with_settings(settings).await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    // Slack is slow to take the first prompt, so its task holds the only place in the queue.
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("^/respond/[0-9]+$"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(1)))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&w.slack)
        .await;
    let ack = w.ack(ALICE, "pause orders-fn").await;
    assert!(ack.contains("Looking up"), "{ack}");
    for text in ["pause orders-fn", "status orders-fn"] {
        let busy = w.ack(BOB, text).await;
        assert!(
            busy.contains("too busy to take this right now and nothing was changed"),
            "{busy}"
        );
    }
    assert!(
        w.next("response_url")
            .await
            .button_value("confirm")
            .is_some()
    );
    assert_eq!(
        w.requests().await.len(),
        1,
        "the refused pause was not recorded"
    );
    w.finish().await;
}

//! Step 3 stories: the data-loss guard. Horizons in the prompt, timed pauses, reminders, drift.

use std::time::Duration;

use lambda_pause::ids::MappingUuid;
use lambda_pause::lambda::Lambda;

use crate::approvals::{mount_groups, policy_options};
use crate::support::*;

const H: u64 = 3600;

/// Pauses with Alice's confirmation; returns the follow-up.
async fn pause(w: &mut World, text: &str) -> lambda_pause::demo::Sent {
    let (_, follow_up) = w.confirm(ALICE, text).await;
    w.idle().await;
    follow_up
}

#[tokio::test]
async fn the_prompt_states_each_sources_horizon() {
    let mut w = World::start().await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.set_kinesis_retention("orders", 48);
    w.sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), true);
    w.sim.set_sqs_retention("orders-retry", 86_400);
    w.sim
        .add_mapping("orders-fn", &w.sim.dynamodb_stream_arn("Orders"), true);
    let capped = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("clicks"), true);
    w.sim.set_maximum_record_age(&capped, 3600);
    w.sim
        .add_kafka_mapping("orders-fn", &w.sim.msk_arn("payments"), "refunds", true);

    let (prompt, id) = w.prompt(ALICE, "pause orders-fn").await;
    let text = prompt.text();
    for line in [
        "`orders`: records older than 48 hours are deleted by Kinesis: resume before ",
        "`orders-retry`: SQS deletes messages older than 24 hours: resume before ",
        "`Orders`: DynamoDB Streams delete records after 24 hours: resume before ",
        "`clicks`: the mapping's MaximumRecordAgeInSeconds drops records older than 1 hour when it resumes: resume before ",
        "`payments`: Kafka keeps records per the topic's retention settings, which I can't read: check it before a long pause.",
    ] {
        assert!(text.contains(line), "prompt lacks `{line}`:\n{text}");
    }
    assert!(text.contains("to lose nothing."));
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up
            .text()
            .contains("records older than 48 hours are deleted by Kinesis: resume before"),
        "the follow-up repeats it: {}",
        follow_up.text()
    );
    w.finish().await;
}

#[tokio::test]
async fn a_missing_permission_is_said_and_the_pause_goes_on() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), true);
    w.sim.deny("DescribeStreamSummary");
    w.sim.deny("GetQueueAttributes");
    let (prompt, id) = w.prompt(ALICE, "pause orders-fn").await;
    assert!(prompt.text().contains("`orders`: I may not read its retention (`kinesis:DescribeStreamSummary` is not granted), so I can't tell how long records survive."), "{}", prompt.text());
    assert!(
        prompt.text().contains(
            "`orders-retry`: I may not read its retention (`sqs:GetQueueAttributes` is not granted)"
        ),
        "{}",
        prompt.text()
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("is paused")
    );
    assert_eq!(w.state(&uuid), "Disabled");
    w.finish().await;
}

#[tokio::test]
async fn a_timed_pause_longer_than_the_horizon_needs_force() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.ack(ALICE, "pause orders-fn for 2d").await;
    let refusal = w.next("response_url").await;
    assert!(refusal.text().contains("A 2d pause is longer than `orders`'s horizon (24 hours): records would be lost before the automatic resume. Nothing was changed."), "{}", refusal.text());
    assert!(refusal.button_value("confirm").is_none());

    let (prompt, id) = w
        .prompt(ALICE, "pause orders-fn for 2d --force -- migration")
        .await;
    assert!(
        prompt.text().contains("Resumes by itself at")
            && prompt.text().contains("`--force` accepts losing records"),
        "{}",
        prompt.text()
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    w.next("chat.postMessage").await;
    assert_eq!(w.state(&uuid), "Disabled");
    w.idle().await;
    let history = w.ack(BOB, "history orders-fn").await;
    assert!(history.contains("was not allowed to pause `orders-fn` (a 172800s timed pause is longer than orders's horizon (86400s); no --force)"), "{history}");
    assert!(
        history.contains("--force: longer than the horizon"),
        "the forced schedule is audited: {history}"
    );
    w.finish().await;
}

#[tokio::test]
async fn a_timed_pause_resumes_by_itself_in_the_follow_ups_thread() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.set_kinesis_retention("orders", 48);
    let (prompt, id) = w.prompt(ALICE, "pause orders-fn for 2h").await;
    assert!(
        prompt.text().contains(":alarm_clock: Resumes by itself at")
            && prompt.text().contains("(after 2h)"),
        "{}",
        prompt.text()
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up.text().contains("Resumes by itself at"),
        "{}",
        follow_up.text()
    );
    assert_eq!(w.state(&uuid), "Disabled");

    // Not yet due.
    w.clock.advance(Duration::from_secs(H));
    w.sweep().await;
    assert_eq!(w.state(&uuid), "Disabled");
    w.clock.advance(Duration::from_secs(H));
    w.sweep().await;
    let resumed = w.next("chat.postMessage").await;
    assert_eq!(
        resumed.body["thread_ts"],
        follow_up_ts(),
        "in the pause follow-up's thread"
    );
    assert!(
        resumed
            .text()
            .contains("`orders-fn` is resumed — as scheduled when <@U0ALICE> paused it"),
        "{}",
        resumed.text()
    );
    assert_eq!(w.state(&uuid), "Enabled");
    // Never twice.
    w.clock.advance(Duration::from_secs(H));
    w.sweep().await;
    assert_eq!(w.sim.update_count(&uuid), 2);
    w.finish().await;
}

fn follow_up_ts() -> &'static str {
    "1733230001.000100"
}

#[tokio::test]
async fn a_timed_resume_fires_after_a_restart() {
    let db = TempDb::new();
    let mut w = World::with(Options {
        db: db.url(),
        ..Options::default()
    })
    .await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    pause(&mut w, "pause orders-fn for 30m").await;
    w.restart().await;
    w.clock.advance(Duration::from_secs(31 * 60));
    w.sweep().await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("is resumed — as scheduled")
    );
    assert_eq!(w.state(&uuid), "Enabled");
    w.idle().await;
    w.restart().await;
    w.sweep().await;
    assert_eq!(w.sim.update_count(&uuid), 2);
    w.finish().await;
}

#[tokio::test]
async fn a_manual_resume_cancels_the_schedule() {
    let mut w = World::start().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    pause(&mut w, "pause orders-fn for 2h").await;
    let (_, _) = w.confirm(ALICE, "resume orders-fn").await;
    assert_eq!(w.state(&uuid), "Enabled");
    // Paused again by hand: the old schedule must not resume it.
    pause(&mut w, "pause orders-fn").await;
    w.clock.advance(Duration::from_secs(3 * H));
    w.sweep().await;
    assert_eq!(
        w.state(&uuid),
        "Disabled",
        "the cancelled schedule did not fire"
    );
    assert_eq!(w.sim.update_count(&uuid), 3);
    let history = w.ack(BOB, "history orders-fn").await;
    assert!(
        history.contains("cancelled the resume of `orders-fn`")
            && history.contains("cancelled by the manual resume"),
        "{history}"
    );
    // The sweep's reminder for the manual pause (24 h horizon, 3 h in) is not due yet: nothing else was posted.
    w.finish().await;
}

#[tokio::test]
async fn a_timed_pause_approved_by_an_approver_also_approves_its_resume() {
    let mut w = World::with(policy_options("")).await;
    mount_groups(&w).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (prompt, id) = w.prompt(ALICE, "pause orders-fn for 1h").await;
    assert!(
        prompt.text().contains("This needs an approver"),
        "the rule needs approval for resume, so a timed pause needs it now: {}",
        prompt.text()
    );
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let approval = w.next("chat.postMessage").await;
    assert!(
        approval
            .text()
            .contains("Approving this pause also approves that resume."),
        "{}",
        approval.text()
    );
    w.click(BOB, "approve", &id).await;
    w.next("chat.update").await;
    w.next("chat.postMessage").await;
    w.next("chat.update").await;
    assert_eq!(w.state(&uuid), "Disabled");
    w.clock.advance(Duration::from_secs(H + 1));
    w.sweep().await;
    let resumed = w.next("chat.postMessage").await;
    assert!(
        resumed.text().contains("is resumed"),
        "no second approval needed: {}",
        resumed.text()
    );
    assert_eq!(w.state(&uuid), "Enabled");
    let history = w.ack(BOB, "history orders-fn").await;
    assert!(
        history.contains("its approval was given with the pause by U0BOB"),
        "{history}"
    );
    w.finish().await;
}

#[tokio::test]
async fn reminders_at_50_80_and_95_percent_then_a_loud_warning_each_once() {
    let db = TempDb::new();
    let mut w = World::with(Options {
        db: db.url(),
        ..Options::default()
    })
    .await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.set_kinesis_retention("orders", 48);
    pause(&mut w, "pause orders-fn").await;

    w.clock.advance(Duration::from_secs(23 * H));
    w.sweep().await; // 47%: nothing yet
    w.clock.advance(Duration::from_secs(H + 60));
    w.sweep().await;
    let first = w.next("chat.postMessage").await;
    assert_eq!(first.body["thread_ts"], follow_up_ts());
    assert!(
        first
            .text()
            .contains("<@U0ALICE> `orders-fn` has been paused for 1d1m — 50% of its horizon"),
        "{}",
        first.text()
    );
    assert!(
        first
            .text()
            .contains("records older than 48 hours are deleted by Kinesis"),
        "{}",
        first.text()
    );
    w.sweep().await; // not twice

    // Straight past 80% to 96%: one reminder, for 95%.
    w.clock.advance(Duration::from_secs(22 * H));
    w.sweep().await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("95% of its horizon")
    );
    w.restart().await;
    w.sweep().await; // survives the restart without repeating

    w.clock.advance(Duration::from_secs(3 * H));
    w.sweep().await;
    let loud = w.next("chat.postMessage").await;
    assert!(loud.text().contains(":rotating_light: <@U0ALICE> `orders-fn` is still paused and its horizon has passed: records are being lost now."), "{}", loud.text());
    w.sweep().await;
    w.clock.advance(Duration::from_secs(10 * H));
    w.sweep().await;
    w.finish().await;
}

#[tokio::test]
async fn status_lists_what_the_bot_paused_with_horizon_and_schedule() {
    let mut w = World::start().await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.sim.set_kinesis_retention("orders", 48);
    pause(&mut w, "pause orders-fn for 2h").await;
    w.clock.advance(Duration::from_secs(H));
    w.idle().await;
    w.ack(BOB, "status").await;
    let status = w.next("response_url").await;
    let text = status.text();
    assert!(text.contains("*Paused by me*"), "{text}");
    assert!(text.contains("• `orders-fn` `orders` (Kinesis stream) — paused by <@U0ALICE> for 1h, horizon left 1d23h, resumes by itself "), "{text}");
    assert!(
        text.contains("• scheduled resume of `orders-fn` at "),
        "{text}"
    );
    w.finish().await;
}

#[tokio::test]
async fn changes_made_outside_the_bot_are_noticed_once() {
    let mut w = World::start().await;
    let a = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let b = w
        .sim
        .add_mapping("orders-fn", &w.sim.sqs_arn("orders-retry"), true);
    pause(&mut w, "pause orders-fn").await;

    // AWS changes one on its own.
    w.sim
        .set_state(&b, "Disabled", "PROBLEM: Function call failed");
    w.sweep().await;
    let notice = w.next("chat.postMessage").await;
    assert_eq!(notice.body["thread_ts"], follow_up_ts());
    assert!(notice.text().contains("AWS changed `orders-retry` of `orders-fn`: State *Disabled*, StateTransitionReason `PROBLEM: Function call failed`"), "{}", notice.text());
    w.sweep().await;

    // Someone re-enables the other from the console.
    let console = Lambda::for_endpoint(&w.sim.endpoint_url(), "us-east-1")
        .await
        .client(None);
    console
        .set_enabled(&MappingUuid::new(a.clone()), true)
        .await
        .unwrap();
    w.sweep().await;
    let notice = w.next("chat.postMessage").await;
    assert!(
        notice
            .text()
            .contains("`orders` of `orders-fn` was re-enabled outside lambda-pause"),
        "{}",
        notice.text()
    );
    w.sweep().await;

    let history = w.ack(BOB, "history orders-fn").await;
    assert!(history.contains("noticed a change outside lambda-pause to `orders-fn` / `orders-retry`: Disabled → *Disabled* (StateTransitionReason: PROBLEM: Function call failed)"), "{history}");
    assert!(history.contains("noticed a change outside lambda-pause to `orders-fn` / `orders`: Disabled → *Enabling* (re-enabled outside lambda-pause)"), "{history}");
    w.ack(BOB, "status").await;
    let status = w.next("response_url").await;
    assert!(
        !status
            .text()
            .contains("`orders` (Kinesis stream) — paused by"),
        "no longer listed as paused: {}",
        status.text()
    );
    assert!(
        status
            .text()
            .contains("`orders-retry` (SQS queue) — paused by"),
        "{}",
        status.text()
    );
    w.finish().await;
}

//! Step 2 stories: the policy file, approvals by a second person (also via user groups), refusals, the audit trail.

use std::sync::Arc;
use std::time::Duration;

use lambda_pause::policy::Policy;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

pub const CAROL: &str = "U0CAROL";
pub const DAVE: &str = "U0DAVE";
pub const ERIN: &str = "U0ERIN";

pub const POLICY: &str = r#"
[slack]
approval_timeout = "1h"

[[rules]]
functions = ["orders-*"]
requesters = ["U0ALICE", "U0BOB", "S0ONCALL"]
approvers = ["U0BOB", "S0LEADS"]
require_approval = ["resume"]

[[rules]]
functions = ["arn:aws:lambda:us-east-1:123456789012:function:billing-fn"]
channels = ["C0FINANCE"]
approvers = ["U0BOB"]
require_approval = []
"#;

pub fn policy_options(extra: &str) -> Options {
    let text = format!("{extra}\n{POLICY}")
        .replace("[slack]\napproval_timeout", "[slack]\napproval_timeout");
    let policy = Policy::parse(&text, "policy.toml").expect("the test policy is valid");
    let mut options = Options::default();
    options.settings.policy = Arc::new(policy);
    options
}

/// `usergroups.users.list` answers: S0LEADS = {CAROL}, S0ONCALL = {ERIN}.
pub async fn mount_groups(w: &World) {
    for (group, users) in [("S0LEADS", vec![CAROL]), ("S0ONCALL", vec![ERIN])] {
        Mock::given(method("GET"))
            .and(path("/api/usergroups.users.list"))
            .and(query_param("usergroup", group))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": true, "users": users})),
            )
            .mount(&w.slack)
            .await;
    }
}

async fn world() -> World {
    let w = World::with(policy_options("")).await;
    mount_groups(&w).await;
    w
}

/// The requester confirms; the approval request appears in the channel. Returns (request id, approval message).
async fn confirm_resume(w: &mut World, text: &str) -> (String, lambda_pause::demo::Sent) {
    let (prompt, id) = w.prompt(ALICE, text).await;
    assert!(prompt.text().contains("This needs an approver: after you confirm, I'll ask <@U0BOB>, <!subteam^S0LEADS> in the channel"), "{}", prompt.text());
    w.click(ALICE, "confirm", &id).await;
    let replaced = w.next("response_url").await;
    assert!(replaced.text().contains("<@U0ALICE> confirmed. I've asked <@U0BOB>, <!subteam^S0LEADS> to approve in the channel"), "{}", replaced.text());
    let approval = w.next("chat.postMessage").await;
    assert_eq!(approval.body["channel"], CHANNEL);
    assert!(approval.text().contains("<@U0ALICE> wants to *resume* `orders-fn`. Approval needed from <@U0BOB>, <!subteam^S0LEADS>"), "{}", approval.text());
    assert_eq!(
        approval.button_value("approve").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(approval.button_value("deny").as_deref(), Some(id.as_str()));
    (id, approval)
}

#[tokio::test]
async fn pause_needs_only_the_requester_but_resume_waits_for_an_approver_from_a_group() {
    let mut w = world().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);

    // The policy lets Alice pause with her own confirmation.
    let (_, id) = w.prompt(ALICE, "pause orders-fn -- bad deploy").await;
    w.click(ALICE, "confirm", &id).await;
    assert!(
        w.next("response_url")
            .await
            .text()
            .contains("confirmed. Pausing")
    );
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("`orders-fn` is paused — requested by <@U0ALICE>")
    );
    assert_eq!(w.state(&uuid), "Disabled");

    // Resume needs an approver.
    let (id, _) = confirm_resume(&mut w, "resume orders-fn -- fix rolled out").await;
    assert_eq!(
        w.state(&uuid),
        "Disabled",
        "nothing changes before the approval"
    );

    // Alice can't approve her own request; Dave is no approver.
    w.click(ALICE, "approve", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("You can't approve your own request")
    );
    w.click(DAVE, "approve", &id).await;
    let refusal = w.next("chat.postEphemeral").await;
    assert_eq!(refusal.body["user"], DAVE);
    assert!(refusal.text().contains("Only the approvers of this request (<@U0BOB>, <!subteam^S0LEADS>) can approve or deny it"), "{}", refusal.text());
    assert_eq!(w.sim.update_count(&uuid), 1, "only the pause so far");

    // Carol is only in the S0LEADS group, and approves.
    w.click(CAROL, "approve", &id).await;
    let updated = w.next("chat.update").await;
    assert_eq!(
        updated.body["ts"], "1733230001.000100",
        "the approval request itself is updated"
    );
    assert!(
        updated
            .text()
            .contains("<@U0CAROL> approved <@U0ALICE>'s request to resume `orders-fn`"),
        "{}",
        updated.text()
    );
    assert!(
        updated.button_value("approve").is_none(),
        "its buttons are gone"
    );
    let follow_up = w.next("chat.postMessage").await;
    assert_eq!(
        follow_up.body["thread_ts"], "1733230001.000100",
        "the follow-up goes into the approval request's thread"
    );
    assert!(
        follow_up
            .text()
            .contains("`orders-fn` is resumed — requested by <@U0ALICE>, approved by <@U0CAROL>"),
        "{}",
        follow_up.text()
    );
    assert!(follow_up.text().contains("*Enabled*"));
    let done = w.next("chat.update").await;
    assert!(
        done.text().contains("done: `orders-fn` is resumed"),
        "{}",
        done.text()
    );
    assert_eq!(w.state(&uuid), "Enabled");
    assert_eq!(w.sim.update_count(&uuid), 2);
    assert_eq!(
        w.group_lookups().await,
        ["S0ONCALL", "S0LEADS"],
        "each group looked up once, then cached"
    );

    // History tells the story with names.
    let history = w.ack(BOB, "history orders-fn").await;
    for line in [
        "<@U0ALICE> asked to pause `orders-fn`",
        "<@U0ALICE> confirmed the pause of `orders-fn`",
        "lambda-pause updated (pause) `orders-fn` / `orders`: Enabled → *Disabling*",
        "pause settled for `orders-fn` / `orders`: Enabled → *Disabled*",
        "<@U0ALICE> asked to resume `orders-fn`",
        "lambda-pause asked for approval to resume `orders-fn`",
        "<@U0ALICE> was not allowed to resume `orders-fn`",
        "<@U0DAVE> was not allowed to resume `orders-fn`",
        "<@U0CAROL> approved the resume of `orders-fn`",
        "resume settled for `orders-fn` / `orders`: Disabled → *Enabled*",
    ] {
        assert!(history.contains(line), "history lacks `{line}`:\n{history}");
    }
    assert!(history.contains("— _fix rolled out_"), "{history}");
    w.finish().await;
}

#[tokio::test]
async fn deny_changes_nothing() {
    let mut w = world().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), false);
    let (id, _) = {
        let (prompt, id) = w.prompt(ALICE, "resume orders-fn").await;
        let _ = prompt;
        w.click(ALICE, "confirm", &id).await;
        w.next("response_url").await;
        (id, w.next("chat.postMessage").await)
    };
    w.click(BOB, "deny", &id).await;
    let updated = w.next("chat.update").await;
    assert!(
        updated.text().contains(
            "<@U0BOB> denied <@U0ALICE>'s request to resume `orders-fn`. Nothing was changed."
        ),
        "{}",
        updated.text()
    );
    w.click(CAROL, "approve", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("already denied")
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    assert_eq!(w.state(&uuid), "Disabled");
    w.finish().await;
}

#[tokio::test]
async fn unanswered_approvals_expire_on_a_late_click_or_a_sweep() {
    let mut w = world().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), false);

    let (prompt, id) = w.prompt(ALICE, "resume orders-fn").await;
    let _ = prompt;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let approval = w.next("chat.postMessage").await;
    assert!(approval.text().contains("Expires in 1h"));
    w.clock.advance(Duration::from_secs(3601));
    w.click(BOB, "approve", &id).await;
    let expired = w.next("chat.update").await;
    assert!(
        expired
            .text()
            .contains("expired without an approval. Nothing was changed"),
        "{}",
        expired.text()
    );
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("already expired")
    );

    // The sweeper expires one nobody clicks.
    let (_, id2) = w.prompt(ALICE, "resume orders-fn").await;
    w.click(ALICE, "confirm", &id2).await;
    w.next("response_url").await;
    w.next("chat.postMessage").await;
    w.sweep().await;
    w.clock.advance(Duration::from_secs(3601));
    w.sweep().await;
    assert!(
        w.next("chat.update")
            .await
            .text()
            .contains("expired without an approval")
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.finish().await;
}

#[tokio::test]
async fn concurrent_approvals_apply_once() {
    let mut w = world().await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), false);
    let (prompt, id) = w.prompt(ALICE, "resume orders-fn").await;
    let _ = prompt;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    w.next("chat.postMessage").await;
    // Warm the group cache so every click below is decided at once.
    w.click(DAVE, "approve", &id).await;
    w.next("chat.postEphemeral").await;

    let mut clicks = Vec::new();
    for user in [BOB, CAROL, BOB, CAROL, BOB] {
        let sender = w.sender.clone();
        let url = w.response_url();
        let id = id.clone();
        clicks.push(tokio::spawn(async move {
            sender
                .click(user, CHANNEL, "approve", &id, &url)
                .await
                .unwrap()
                .status
        }));
    }
    for c in clicks {
        assert_eq!(c.await.unwrap(), 200);
    }
    let (mut approved, mut refused, mut followed, mut done) = (0, 0, 0, 0);
    for _ in 0..7 {
        let sent = w.next_any().await;
        match sent.via.as_str() {
            "chat.update" if sent.text().contains("done:") => done += 1,
            "chat.update" => approved += 1,
            "chat.postEphemeral" => {
                assert!(
                    sent.text().contains("that click changed nothing"),
                    "{}",
                    sent.text()
                );
                refused += 1;
            }
            "chat.postMessage" => followed += 1,
            other => panic!("unexpected {other}: {}", sent.text()),
        }
    }
    assert_eq!((approved, refused, followed, done), (1, 4, 1, 1));
    assert_eq!(
        w.sim.update_count(&uuid),
        1,
        "one update, however many approvers clicked"
    );
    assert_eq!(w.state(&uuid), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn requesters_functions_and_channels_outside_the_policy_are_refused_and_audited() {
    let mut w = world().await;
    let orders = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let billing = w
        .sim
        .add_mapping("billing-fn", &w.sim.kinesis_arn("payments"), true);
    let other = w
        .sim
        .add_mapping("payments-fn", &w.sim.kinesis_arn("payments"), true);

    w.ack(DAVE, "pause orders-fn").await;
    let refusal = w.next("response_url").await;
    assert!(
        refusal.text().contains(
            "Rule 1 of `policy.toml` covers `orders-fn` here, but you are not one of its requesters"
        ),
        "{}",
        refusal.text()
    );
    assert!(refusal.button_value("confirm").is_none());

    // Erin is a requester through the S0ONCALL group.
    let (_, id) = w.prompt(ERIN, "pause orders-fn").await;
    w.click(ERIN, "cancel", &id).await;
    w.next("response_url").await;

    w.ack(ALICE, "pause payments-fn").await;
    assert!(w.next("response_url").await.text().contains(
        "No rule of the policy (`policy.toml`) allows changing `payments-fn` in this channel"
    ));
    // billing-fn's rule only covers #finance.
    w.ack(ALICE, "pause billing-fn").await;
    assert!(w.next("response_url").await.text().contains(
        "No rule of the policy (`policy.toml`) allows changing `billing-fn` in this channel"
    ));

    for uuid in [&orders, &billing, &other] {
        assert_eq!(w.sim.update_count(uuid), 0);
    }
    let history = w.ack(BOB, "history").await;
    assert!(
        history.contains(
            "<@U0DAVE> was not allowed to pause `orders-fn` (rule 1: not one of its requesters)"
        ),
        "{history}"
    );
    assert!(history.contains("<@U0ALICE> was not allowed to pause `payments-fn` (no policy rule matches this function in this channel)"), "{history}");
    w.finish().await;
}

#[tokio::test]
async fn the_arn_rule_applies_in_its_channel_without_approval() {
    let mut w = world().await;
    let billing = w
        .sim
        .add_mapping("billing-fn", &w.sim.kinesis_arn("payments"), false);
    // Commands from #finance.
    let url = w.response_url();
    let reply = w
        .sender
        .command(ALICE, "C0FINANCE", "resume billing-fn", &url)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let prompt = w.next("response_url").await;
    assert!(
        !prompt.text().contains("needs an approver"),
        "{}",
        prompt.text()
    );
    let id = prompt.button_value("confirm").unwrap();
    let url = w.response_url();
    w.sender
        .click(ALICE, "C0FINANCE", "confirm", &id, &url)
        .await
        .unwrap();
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert_eq!(follow_up.body["channel"], "C0FINANCE");
    assert_eq!(w.state(&billing), "Enabled");
    w.finish().await;
}

#[tokio::test]
async fn other_workspaces_get_401() {
    let mut w = World::with(policy_options("")).await;
    let text = POLICY.replace("[slack]\n", "[slack]\nallowed_team_ids = [\"T0OTHER\"]\n");
    w.kill();
    w.options.settings.policy = Arc::new(Policy::parse(&text, "policy.toml").unwrap());
    w.restart().await;
    let reply = w.command(ALICE, "help").await;
    assert_eq!(reply.status, 401, "T0001 is not allowed");
    let url = w.response_url();
    let reply = w
        .sender
        .click(
            ALICE,
            CHANNEL,
            "confirm",
            "0123456789abcdef0123456789abcdef",
            &url,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 401);
    w.finish().await;
}

#[tokio::test]
async fn user_group_failures_are_named() {
    let mut w = World::with(policy_options("")).await;
    Mock::given(method("GET"))
        .and(path("/api/usergroups.users.list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": false, "error": "plan_upgrade_required"})),
        )
        .mount(&w.slack)
        .await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.ack(ALICE, "pause orders-fn").await;
    let answer = w.next("response_url").await;
    assert!(
        answer
            .text()
            .contains("this Slack workspace's plan has no user groups (`plan_upgrade_required`)"),
        "{}",
        answer.text()
    );
    assert!(answer.text().contains("Nothing was changed"));
    w.finish().await;
}

#[tokio::test]
async fn every_audited_event_is_also_posted_to_the_audit_channel() {
    let mut w = World::with(policy_options("")).await;
    let text = POLICY.replace("[slack]\n", "[slack]\naudit_channel = \"C0AUDIT\"\n");
    w.kill();
    w.options.settings.policy = Arc::new(Policy::parse(&text, "policy.toml").unwrap());
    w.restart().await;
    mount_groups(&w).await;
    w.sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let ack = w.ack(ALICE, "pause orders-fn").await;
    assert!(ack.contains("Looking up"));
    let mut audit_lines = Vec::new();
    let mut id = None;
    // requested (audit), prompt — in any order.
    for _ in 0..2 {
        let sent = w.next_any().await;
        match (sent.via.as_str(), sent.body["channel"].as_str()) {
            ("chat.postMessage", Some("C0AUDIT")) => audit_lines.push(sent.text().to_owned()),
            ("response_url", _) => id = sent.button_value("confirm"),
            other => panic!("unexpected {other:?}"),
        }
    }
    w.click(ALICE, "confirm", &id.expect("a prompt")).await;
    // confirmed, applied, settled (audit) + replaced prompt + follow-up.
    let mut follow_ups = 0;
    for _ in 0..5 {
        let sent = w.next_any().await;
        match (sent.via.as_str(), sent.body["channel"].as_str()) {
            ("chat.postMessage", Some("C0AUDIT")) => audit_lines.push(sent.text().to_owned()),
            ("chat.postMessage", Some(CHANNEL)) => follow_ups += 1,
            ("response_url", _) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(follow_ups, 1);
    let all = audit_lines.join("\n");
    for needle in [
        "<@U0ALICE> asked to pause `orders-fn`",
        "<@U0ALICE> confirmed the pause",
        "updated (pause) `orders-fn` / `orders`: Enabled → *Disabling*",
        "pause settled for `orders-fn` / `orders`: Enabled → *Disabled*",
    ] {
        assert!(all.contains(needle), "{needle} in:\n{all}");
    }
    assert_eq!(audit_lines.len(), 4, "{all}");
    w.finish().await;
}

#[tokio::test]
async fn an_approval_request_that_cannot_be_posted_fails_clearly() {
    let mut w = world().await;
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
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), false);
    let (_, id) = w.prompt(ALICE, "resume orders-fn").await;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    assert!(
        w.next("chat.postMessage")
            .await
            .text()
            .contains("Approval needed"),
        "the attempt"
    );
    let told = w.next("response_url").await;
    assert!(told.text().contains("I couldn't post the approval request in this channel (Slack API error `not_in_channel`)"), "{}", told.text());
    assert!(
        told.text().contains("`/invite @lambda-pause`"),
        "{}",
        told.text()
    );
    w.idle().await;
    let history = w.ack(BOB, "history orders-fn").await;
    assert!(
        history.contains("resume failed for `orders-fn`")
            && history.contains("could not post the approval request"),
        "{history}"
    );
    w.click(BOB, "approve", &id).await;
    assert!(
        w.next("chat.postEphemeral")
            .await
            .text()
            .contains("already failed")
    );
    assert_eq!(w.sim.update_count(&uuid), 0);
    w.finish().await;
}

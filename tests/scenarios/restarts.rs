//! Restart safety: stop the bot at any point, start it on the same database, and nothing is lost or applied twice.

use std::time::Duration;

use crate::approvals::{CAROL, mount_groups, policy_options};
use crate::support::*;

fn file_options(db: &TempDb) -> Options {
    let mut options = policy_options("");
    options.db = db.url();
    options
}

/// No policy file (everyone may pause and resume), on a database file.
fn open_options(db: &TempDb) -> Options {
    Options {
        db: db.url(),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_pending_confirmation_survives_a_restart() {
    let db = TempDb::new();
    let mut w = World::with(file_options(&db)).await;
    mount_groups(&w).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.restart().await;
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

#[tokio::test]
async fn a_restart_between_confirm_and_approve_keeps_the_approval_request() {
    let db = TempDb::new();
    let mut w = World::with(file_options(&db)).await;
    mount_groups(&w).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), false);
    let (id, approval) = w.confirm(ALICE, "resume orders-fn").await;
    assert!(approval.text().contains("Approval needed"));

    w.idle().await;
    w.restart().await;
    assert_eq!(w.state(&uuid), "Disabled");
    w.click(CAROL, "approve", &id).await;
    assert!(
        w.next("chat.update")
            .await
            .text()
            .contains("<@U0CAROL> approved")
    );
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up.text().contains("approved by <@U0CAROL>")
            && follow_up.text().contains("*Enabled*"),
        "{}",
        follow_up.text()
    );
    w.next("chat.update").await;
    assert_eq!(w.state(&uuid), "Enabled");
    assert_eq!(w.sim.update_count(&uuid), 1);
    w.finish().await;
}

#[tokio::test]
async fn a_restart_during_the_settle_wait_resumes_it_without_updating_again() {
    let db = TempDb::new();
    let mut w = World::with(file_options(&db)).await;
    mount_groups(&w).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    w.sim.set_stuck(&uuid, true);
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    // Wait until the update went out and the bot is polling.
    while w
        .sim
        .calls()
        .iter()
        .filter(|c| c.operation == "GetEventSourceMapping")
        .count()
        < 2
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(w.sim.update_count(&uuid), 1);
    w.kill();
    w.sim.set_stuck(&uuid, false);
    w.restart().await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(
        follow_up
            .text()
            .contains("`orders-fn` is paused — requested by <@U0ALICE>"),
        "{}",
        follow_up.text()
    );
    assert!(
        follow_up
            .text()
            .contains("• `orders` (Kinesis stream): *Disabled*"),
        "{}",
        follow_up.text()
    );
    assert_eq!(
        w.sim.update_count(&uuid),
        1,
        "the restart did not update again"
    );
    assert_eq!(w.state(&uuid), "Disabled");
    // And the finished request stays finished across another restart.
    w.idle().await;
    w.restart().await;
    w.finish().await;
}

#[tokio::test]
async fn the_audit_trail_is_exported_as_csv_and_json_lines() {
    let db = TempDb::new();
    let mut w = World::with(file_options(&db)).await;
    mount_groups(&w).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w
        .prompt(ALICE, "pause orders-fn orders -- poison, \"record\" 42")
        .await;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    w.next("chat.postMessage").await;
    w.kill();

    let export = |format: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lambda-pause"))
            .args(["audit", "--format", format, "--db", &db.url()])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let jsonl = export("jsonl", &[]);
    let events: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["requested", "confirmed", "applied", "settled"],
        "{jsonl}"
    );
    let settled = &events[3];
    assert_eq!(settled["function"], "orders-fn");
    assert_eq!(settled["mapping"], uuid.as_str());
    assert_eq!(settled["source"], "orders");
    assert_eq!(
        (settled["before"].as_str(), settled["after"].as_str()),
        (Some("Enabled"), Some("Disabled"))
    );
    assert_eq!(settled["reason"], "poison, \"record\" 42");
    assert_eq!(events[1]["user"], ALICE);
    assert_eq!(events[1]["channel"], CHANNEL);
    assert!(events.iter().all(|e| e["request"] == id.as_str()));

    let csv = export("csv", &["--function", "orders-fn"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(lambda_pause::audit::CSV_HEADER));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[3].contains(",settled,")
            && rows[3].contains(",Enabled,Disabled,\"poison, \"\"record\"\" 42\""),
        "{}",
        rows[3]
    );
    assert_eq!(
        export("csv", &["--since", "2999-01-01"]).lines().count(),
        1,
        "only the header"
    );
    assert_eq!(export("jsonl", &["--function", "billing-fn"]), "");
    w.finish().await;
}

#[tokio::test]
async fn a_kill_after_slack_took_the_follow_up_does_not_post_it_twice() {
    let db = TempDb::new();
    let mut w = World::with(open_options(&db)).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    // Slack takes the post at once but answers late: the bot is killed before it hears back.
    w.slow_channel_posts(Duration::from_secs(30)).await;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    let follow_up = w.next("chat.postMessage").await;
    assert!(follow_up.text().contains("*Disabled*"));
    w.kill();
    w.restart().await;
    w.idle().await;
    let request = w.request(&id).await;
    assert_eq!(request.state, lambda_pause::workflow::RequestState::Settled);
    assert_eq!(
        request.follow_up_ts.as_deref(),
        Some("1733230001.000100"),
        "the follow-up found in the channel is the one recorded"
    );
    assert_eq!(w.sim.update_count(&uuid), 1);
    // finish(): no second follow-up was posted.
    w.finish().await;
}

#[tokio::test]
async fn a_follow_up_slack_refused_is_kept_and_delivered_later_even_after_a_restart() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let db = TempDb::new();
    let mut w = World::with(open_options(&db)).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let (_, id) = w.prompt(ALICE, "pause orders-fn").await;
    // Slack is down for the follow-up: the channel post and the command's response_url both fail
    // (each call is tried 3 times).
    let command_url = w.last_response_url();
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .up_to_n_times(3)
        .mount(&w.slack)
        .await;
    Mock::given(method("POST"))
        .and(path(
            command_url
                .strip_prefix(&w.slack.uri())
                .expect("on the fake")
                .to_owned(),
        ))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .up_to_n_times(3)
        .mount(&w.slack)
        .await;
    w.click(ALICE, "confirm", &id).await;
    w.next("response_url").await;
    for _ in 0..3 {
        w.next("chat.postMessage").await;
    }
    for _ in 0..3 {
        w.next("response_url").await;
    }
    w.idle().await;
    let request = w.request(&id).await;
    assert_eq!(request.state, lambda_pause::workflow::RequestState::Settled);
    assert_eq!(w.state(&uuid), "Disabled");
    let owed = request.follow_up_owed.expect("the follow-up is owed");
    assert_eq!(owed.attempts, 1);

    // Not yet due: a sweep leaves it.
    w.sweep().await;
    // A restart later, Slack is back and the retry is due: delivered exactly once.
    w.restart().await;
    w.clock.advance(Duration::from_secs(61));
    w.sweep().await;
    let late = w.next("chat.postMessage").await;
    assert!(
        late.text()
            .contains("`orders-fn` is paused — requested by <@U0ALICE>"),
        "{}",
        late.text()
    );
    let request = w.request(&id).await;
    assert!(request.follow_up_owed.is_none());
    assert_eq!(request.follow_up_ts.as_deref(), Some("1733230001.000100"));
    w.clock.advance(Duration::from_secs(3600));
    w.sweep().await;
    w.finish().await;
}

//! Shared AWS reads: many statuses of one function cost one listing; concurrent settle waits on
//! one function share their polls; a status after a pause shows the pause.

use std::time::Duration;

use crate::support::*;

fn lists(w: &World) -> usize {
    w.sim
        .calls()
        .iter()
        .filter(|c| c.operation == "ListEventSourceMappings")
        .count()
}

#[tokio::test]
async fn statuses_of_one_function_share_one_listing_and_each_gets_its_answer() {
    let mut settings = fast_settings();
    // Long enough that this test never depends on how fast it runs.
    settings.status_shared_for = Duration::from_secs(3600);
    let mut w = World::with_settings(settings).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let first = w.ack(BOB, "status orders-fn").await;
    assert!(first.contains("Checking `orders-fn`"), "{first}");
    let answer = w.next("response_url").await;
    let line = format!("• `orders` (Kinesis stream) — *Enabled* — `{uuid}`");
    assert!(answer.text().contains(&line), "{}", answer.text());
    // Everyone after that is answered at once, in the ack, from the same listing.
    for _ in 0..50 {
        let ack = w.ack(ALICE, "status orders-fn").await;
        assert!(ack.contains(&line), "{ack}");
    }
    assert_eq!(lists(&w), 1, "51 statuses, one listing");
    w.finish().await;
}

#[tokio::test]
async fn a_status_after_a_pause_shows_the_pause() {
    let mut settings = fast_settings();
    settings.status_shared_for = Duration::from_secs(3600);
    let mut w = World::with_settings(settings).await;
    let uuid = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    w.ack(BOB, "status orders-fn").await;
    assert!(w.next("response_url").await.text().contains("*Enabled*"));
    // Answered in the ack from the shared listing, the second time from the rendered answer
    // itself: neither may outlive the pause.
    for _ in 0..2 {
        let ack = w.ack(BOB, "status orders-fn").await;
        assert!(ack.contains("*Enabled*"), "{ack}");
    }
    let (_, follow_up) = w.confirm(ALICE, "pause orders-fn").await;
    assert!(follow_up.text().contains("*Disabled*"));
    w.idle().await;
    let ack = w.ack(BOB, "status orders-fn").await;
    let text = if ack.contains("Checking") {
        w.next("response_url").await.text().to_owned()
    } else {
        ack
    };
    assert!(
        text.contains(&format!(
            "• `orders` (Kinesis stream) — *Disabled* — `{uuid}`"
        )),
        "{text}"
    );
    w.finish().await;
}

#[tokio::test]
async fn two_requests_settling_one_function_share_their_polls() {
    let mut w = World::start().await;
    let a = w
        .sim
        .add_mapping("orders-fn", &w.sim.kinesis_arn("orders"), true);
    let b = w.sim.add_mapping("orders-fn", &w.sim.sqs_arn("jobs"), true);
    w.sim.set_stuck(&a, true);
    w.sim.set_stuck(&b, true);
    let (_, first) = w.prompt(ALICE, "pause orders-fn orders").await;
    let (_, second) = w.prompt(BOB, "pause orders-fn jobs").await;
    w.click(ALICE, "confirm", &first).await;
    w.next("response_url").await;
    w.click(BOB, "confirm", &second).await;
    w.next("response_url").await;
    while w.sim.update_count(&a) + w.sim.update_count(&b) < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Both are polling now. Watch a stretch of their polls.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = w.sim.calls().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let window: Vec<_> = w.sim.calls().into_iter().skip(before).collect();
    assert!(
        window
            .iter()
            .all(|c| c.operation == "ListEventSourceMappings"),
        "one listing of the function serves both, instead of a GetEventSourceMapping each: {:?}",
        window.iter().map(|c| &c.operation).collect::<Vec<_>>()
    );
    assert!(!window.is_empty(), "they are still polling");
    w.sim.set_stuck(&a, false);
    w.sim.set_stuck(&b, false);
    for _ in 0..2 {
        let follow_up = w.next("chat.postMessage").await;
        assert!(
            follow_up.text().contains("*Disabled*"),
            "{}",
            follow_up.text()
        );
    }
    assert_eq!((w.sim.update_count(&a), w.sim.update_count(&b)), (1, 1));
    w.finish().await;
}

//! Chaos: Slack failing half its calls (429s, 500s, delays), the simulated Lambda throttling and
//! failing, and the bot killed at random points of pause → confirm → settle and resume → approve →
//! settle. After every run: no request applied twice, exactly one follow-up per finished request,
//! and an audit trail with every step. `CHAOS_RUNS` sets the number of runs (20 by default) and
//! `CHAOS_SEED` the first seed; a failing run prints its seed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lambda_pause::audit::AuditKind;
use lambda_pause::sim::SimError;
use lambda_pause::workflow::{Request, RequestState};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::approvals::{mount_groups, policy_options};
use crate::support::*;

/// A small deterministic generator (xorshift), so a failing seed can be replayed.
#[derive(Clone)]
struct Rng(Arc<std::sync::Mutex<u64>>);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(Arc::new(std::sync::Mutex::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        )))
    }

    fn next(&self) -> u64 {
        let mut x = self.0.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn below(&self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Where a chaotic Slack call goes when it succeeds.
#[derive(Clone, Copy)]
enum Route {
    PostMessage,
    ResponseUrl,
    Other,
}

/// Slack, failing half its calls while `broken` is set.
struct ChaosSlack {
    route: Route,
    channel: Channel,
    answers: Channel,
    broken: Arc<AtomicBool>,
    rng: Rng,
}

impl wiremock::Respond for ChaosSlack {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let roll = self.rng.next();
        let delay = Duration::from_millis((roll >> 8) % 20);
        if self.broken.load(Ordering::SeqCst) && roll.is_multiple_of(2) {
            let failed = if roll.is_multiple_of(4) {
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "0")
                    .set_body_json(json!({"ok": false, "error": "ratelimited"}))
            } else {
                ResponseTemplate::new(500)
            };
            return failed.set_delay(delay);
        }
        let ts = "1733230001.000100";
        let answer = match self.route {
            Route::PostMessage => {
                let mut message: Value =
                    serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                message["ts"] = json!(ts);
                message["bot_id"] = json!("B0LAMBDAPAUSE");
                self.channel.0.lock().unwrap().push(message);
                ResponseTemplate::new(200).set_body_json(
                    json!({"ok": true, "channel": CHANNEL, "ts": ts, "message": {"ts": ts, "text": ""}}),
                )
            }
            Route::ResponseUrl => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                self.answers.0.lock().unwrap().push(body);
                ResponseTemplate::new(200).set_body_string("ok")
            }
            Route::Other => ResponseTemplate::new(200).set_body_json(
                json!({"ok": true, "channel": CHANNEL, "ts": ts, "message_ts": ts, "message": {"text": ""}}),
            ),
        };
        answer.set_delay(delay)
    }
}

struct Chaos {
    rng: Rng,
    broken: Arc<AtomicBool>,
    answers: Channel,
}

async fn break_slack(w: &World, seed: u64) -> Chaos {
    let rng = Rng::new(seed ^ 0x5EED);
    let broken = Arc::new(AtomicBool::new(true));
    let answers = Channel::default();
    for (route, matcher) in [
        (Route::PostMessage, "^/api/chat\\.postMessage$"),
        (Route::ResponseUrl, "^/respond/[0-9]+$"),
        (Route::Other, "^/api/chat\\.(postEphemeral|update)$"),
    ] {
        Mock::given(method("POST"))
            .and(path_regex(matcher))
            .respond_with(ChaosSlack {
                route,
                channel: w.channel.clone(),
                answers: answers.clone(),
                broken: Arc::clone(&broken),
                rng: rng.clone(),
            })
            .with_priority(1)
            .mount(&w.slack)
            .await;
    }
    Chaos {
        rng,
        broken,
        answers,
    }
}

/// Maybe kills the bot after a random moment, and starts it again on the same database.
async fn maybe_kill(w: &mut World, rng: &Rng) -> bool {
    if rng.below(2) == 0 {
        return false;
    }
    tokio::time::sleep(Duration::from_millis(rng.below(120))).await;
    w.kill();
    w.restart().await;
    true
}

/// The newest request for `function` and `action` (after a command was acked).
async fn newest(w: &World, function: &str, action: &str) -> Request {
    w.requests()
        .await
        .into_iter()
        .find(|r| r.function == function && r.action.as_str() == action)
        .expect("the command was recorded before its ack")
}

/// Waits up to a few seconds for `pred` to hold (`None`: it did not; e.g. a kill lost a click).
async fn within(w: &World, id: &str, pred: impl Fn(&Request) -> bool) -> Option<Request> {
    for _ in 0..300 {
        let r = w.request(id).await;
        if pred(&r) {
            return Some(r);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Waits until `pred` holds for the request (the bot keeps working between kills).
async fn wait_for(w: &World, id: &str, what: &str, pred: impl Fn(&Request) -> bool) -> Request {
    for _ in 0..2_000 {
        let r = w.request(id).await;
        if pred(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "request {id} never got {what}: {:?}",
        w.request(id).await.state
    );
}

fn finished(r: &Request) -> bool {
    matches!(
        r.state,
        RequestState::Settled | RequestState::Failed | RequestState::TimedOut
    )
}

/// One request through its steps; clicks are repeated when a kill lost them (as a person would).
async fn drive(w: &mut World, rng: &Rng, function: &str, action: &str) -> String {
    let reply = w.command(ALICE, &format!("{action} {function}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = newest(w, function, action).await.id.to_string();
    maybe_kill(w, rng).await;
    let prepared = wait_for(w, id.as_str(), "its prompt", |r| {
        r.state != RequestState::Requested || !r.mappings.is_empty()
    })
    .await;
    if prepared.state != RequestState::Requested {
        return id; // refused or failed to resolve: nothing to confirm
    }
    for attempt in 0.. {
        assert!(attempt < 10, "seed: {id} never got past its prompt");
        w.click(ALICE, "confirm", &id).await;
        maybe_kill(w, rng).await;
        if within(w, &id, |r| r.state != RequestState::Requested)
            .await
            .is_some()
        {
            break;
        }
    }
    if action == "resume" {
        wait_for(w, id.as_str(), "its approval request or an end", |r| {
            r.state == RequestState::AwaitingApproval || finished(r)
        })
        .await;
        for attempt in 0.. {
            assert!(attempt < 10, "{id} was never approved");
            if w.request(&id).await.state != RequestState::AwaitingApproval {
                break;
            }
            w.click(BOB, "approve", &id).await;
            maybe_kill(w, rng).await;
            within(w, &id, |r| r.state != RequestState::AwaitingApproval).await;
        }
    }
    wait_for(w, id.as_str(), "finished", finished).await;
    id
}

async fn one_run(seed: u64) {
    let db = TempDb::new();
    let mut options = policy_options("");
    options.db = db.url();
    let mut w = World::with(options).await;
    mount_groups(&w).await;
    let chaos = break_slack(&w, seed).await;
    let rng = chaos.rng.clone();
    let a = w
        .sim
        .add_mapping("orders-a", &w.sim.kinesis_arn("orders-a"), true);
    let b1 = w
        .sim
        .add_mapping("orders-b", &w.sim.sqs_arn("orders-b-1"), true);
    let b2 = w
        .sim
        .add_mapping("orders-b", &w.sim.sqs_arn("orders-b-2"), true);
    let mappings = [a, b1, b2];
    // AWS misbehaves too: throttling and 500s on every operation we use.
    w.sim.throttle_next(rng.below(4) as usize);
    for op in [
        "ListEventSourceMappings",
        "GetEventSourceMapping",
        "UpdateEventSourceMapping",
    ] {
        w.sim
            .fail_next(op, rng.below(3) as usize, SimError::ServiceError);
    }

    let mut ids = Vec::new();
    for function in ["orders-a", "orders-b"] {
        ids.push(drive(&mut w, &rng, function, "pause").await);
        ids.push(drive(&mut w, &rng, function, "resume").await);
    }

    // Slack recovers; a later sweep delivers whatever was owed.
    chaos.broken.store(false, Ordering::SeqCst);
    w.restart().await;
    w.idle().await;
    w.clock.advance(Duration::from_secs(2 * 3600));
    w.sweep().await;
    w.drain().await;

    // --- the invariants ----------------------------------------------------------------
    let requests = w.requests().await;
    let audit = w.audit_trail().await;
    let posts = w.channel.0.lock().unwrap().clone();
    let answers = chaos.answers.0.lock().unwrap().clone();
    // Shown only when the run fails.
    for r in &requests {
        eprintln!(
            "seed {seed}: {} {} {} {:?} mappings={:?} updated={:?} outcomes={:?}",
            r.id,
            r.action.as_str(),
            r.function,
            r.state,
            r.mappings
                .iter()
                .map(|m| (m.uuid.as_str(), m.state.as_str()))
                .collect::<Vec<_>>(),
            r.updated,
            r.results
                .iter()
                .map(|x| (&x.outcome, x.mapping.state.as_str()))
                .collect::<Vec<_>>()
        );
    }
    for e in &audit {
        eprintln!(
            "seed {seed}: audit {:?} {:?} {:?} {:?}",
            e.request.as_ref().map(|r| r.as_str()),
            e.kind,
            e.mapping.as_ref().map(|m| m.as_str()),
            e.detail
        );
    }
    for uuid in &mappings {
        let applied = audit
            .iter()
            .filter(|e| {
                e.kind == AuditKind::Applied && e.mapping.as_ref().map(|m| m.as_str()) == Some(uuid)
            })
            .count();
        assert!(
            w.sim.update_count(uuid) <= applied,
            "seed {seed}: mapping {uuid} was updated {} times, {applied} audited",
            w.sim.update_count(uuid)
        );
        assert_eq!(
            w.state(uuid),
            "Enabled",
            "seed {seed}: paused, then resumed"
        );
    }
    for id in &ids {
        let r = requests
            .iter()
            .find(|r| r.id.as_str() == id)
            .expect("recorded");
        assert!(finished(r), "seed {seed}: {id} ended {:?}", r.state);
        assert_eq!(
            r.state,
            RequestState::Settled,
            "seed {seed}: {id}: {:?}",
            r.results
        );
        assert!(
            r.follow_up_owed.is_none(),
            "seed {seed}: {id} still owes its follow-up"
        );
        let is_follow_up = |m: &Value| {
            let text = m["text"].as_str().unwrap_or_default();
            m.to_string().contains(id.as_str())
                && (text.contains("— requested by") || text.contains("— as scheduled"))
        };
        let delivered = posts.iter().filter(|m| is_follow_up(m)).count()
            + answers
                .iter()
                .filter(|m| m["response_type"] == "in_channel" && is_follow_up(m))
                .count();
        if delivered != 1 {
            for m in posts.iter().chain(answers.iter()) {
                if m.to_string().contains(id.as_str()) {
                    eprintln!("seed {seed}: {id} sent: {m}");
                }
            }
        }
        assert_eq!(delivered, 1, "seed {seed}: {id} has {delivered} follow-ups");
        let events: Vec<_> = audit
            .iter()
            .filter(|e| e.request.as_ref().map(|r| r.as_str()) == Some(id.as_str()))
            .collect();
        for kind in [AuditKind::Requested, AuditKind::Confirmed] {
            assert!(
                events.iter().any(|e| e.kind == kind),
                "seed {seed}: {id} has no {kind:?} event"
            );
        }
        if r.action.as_str() == "resume" {
            assert!(
                events.iter().any(|e| e.kind == AuditKind::Approved),
                "seed {seed}: {id} has no approval event"
            );
        }
        for m in &r.mappings {
            let of = |kind: AuditKind| {
                events
                    .iter()
                    .filter(|e| e.kind == kind && e.mapping.as_ref() == Some(&m.uuid))
                    .count()
            };
            assert_eq!(of(AuditKind::Settled), 1, "seed {seed}: {id} {}", m.uuid);
            assert_eq!(of(AuditKind::Applied), 1, "seed {seed}: {id} {}", m.uuid);
        }
    }
    w.finish().await;
}

#[tokio::test]
async fn pause_approve_and_settle_survive_slack_and_aws_faults_and_kills() {
    let runs: u64 = std::env::var("CHAOS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let first: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for seed in first..first + runs {
        one_run(seed).await;
    }
}

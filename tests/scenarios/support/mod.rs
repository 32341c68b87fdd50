//! The world the scenario tests run in: our real server over HTTP, wiremock as Slack, the simulator as Lambda.
//!
//! Every request the bot sends to Slack must be taken with [`World::next`] and asserted on;
//! [`World::finish`] fails the test if anything was sent that no step looked at.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use lambda_pause::clock::{ManualClock, SystemClock};
use lambda_pause::demo::{Reply, Sent, SlackSender};
use lambda_pause::lambda::apply::SettlePolicy;
use lambda_pause::lambda::{Backoff, Lambda};
use lambda_pause::secrets::{BotToken, SigningSecret};
use lambda_pause::server::{self, AppState};
use lambda_pause::sim::{SimConfig, Simulator};
use lambda_pause::slack::client::Slack;
use lambda_pause::slack::verify::Verifier;
use lambda_pause::store::SqliteStore;
use lambda_pause::workflow::{Engine, RequestState, Settings};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ALICE: &str = "U0ALICE";
pub const BOB: &str = "U0BOB";
pub const CHANNEL: &str = "C0INCIDENT";
pub const SECRET: &str = "scenario-signing-secret";
/// Only a guard against hanging: no test asserts on how long anything took.
const WAIT: Duration = Duration::from_secs(20);

/// Fast settings: short backoffs so retries and polls don't slow the suite.
pub fn fast_settings() -> Settings {
    let quick = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        attempts: 6,
    };
    Settings {
        prompt_ttl: Duration::from_secs(15 * 60),
        settle: SettlePolicy {
            retry: quick.clone(),
            in_use: quick.clone(),
            poll: quick,
            timeout: Duration::from_secs(10),
        },
        // Every sweep a test asks for also checks for drift.
        drift_interval: Duration::ZERO,
        ..Settings::default()
    }
}

/// How the bot "process" is configured.
#[derive(Clone)]
pub struct Options {
    pub settings: Settings,
    /// `--db`: in-memory by default; a file for restart scenarios.
    pub db: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            settings: fast_settings(),
            db: "sqlite::memory:".into(),
        }
    }
}

/// A temporary SQLite file, removed on drop.
pub struct TempDb(pub std::path::PathBuf);

impl TempDb {
    pub fn new() -> Self {
        let id = lambda_pause::ids::RequestId::generate();
        Self(std::env::temp_dir().join(format!("lambda-pause-scenario-{id}.db")))
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

pub struct World {
    /// The bot's posts as the Slack fake keeps them (what `conversations.history` shows).
    pub channel: Channel,
    pub sim: Simulator,
    pub slack: MockServer,
    pub sender: SlackSender,
    pub clock: ManualClock,
    /// Our server's `http://127.0.0.1:PORT`.
    pub base: String,
    pub options: Options,
    /// The bot "process": its own runtime, so a restart can drop every task at once, like a kill.
    process: Option<tokio::runtime::Runtime>,
    engine: Option<Arc<Engine>>,
    checked: usize,
    finished: bool,
    seq: usize,
}

impl World {
    pub async fn start() -> World {
        Self::with(Options::default()).await
    }

    pub async fn with_settings(settings: Settings) -> World {
        Self::with(Options {
            settings,
            ..Options::default()
        })
        .await
    }

    pub async fn with(options: Options) -> World {
        let sim = Simulator::start(SimConfig {
            transition_time: Duration::from_millis(60),
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        let slack = MockServer::start().await;
        let channel = mount_slack_defaults(&slack).await;
        let mut world = World {
            channel,
            sim,
            slack,
            sender: SlackSender::new("http://127.0.0.1:9", SigningSecret::new(SECRET)),
            clock: ManualClock::starting_now(),
            base: String::new(),
            options,
            process: None,
            engine: None,
            checked: 0,
            finished: false,
            seq: 0,
        };
        world.boot().await;
        world
    }

    /// Starts the bot "process": store, engine (with restart recovery), server.
    async fn boot(&mut self) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let slack_url = format!("{}/api/", self.slack.uri());
        let sim_url = self.sim.endpoint_url();
        let clock = self.clock.clone();
        let options = self.options.clone();
        let store = SqliteStore::open(&options.db).await.expect("store opens");
        rt.spawn(async move {
            let engine = Engine::new(
                Arc::new(store),
                Slack::new(&slack_url, &BotToken::new("xoxb-scenario"))
                    .expect("slack client")
                    .with_retry_pause(Duration::from_millis(10)),
                Lambda::for_endpoint(&sim_url, "us-east-1")
                    .await
                    .with_rate_limit(2000.0),
                Arc::new(clock),
                options.settings,
            );
            engine.recover().await;
            // Signatures are checked against real time (their window is unit-tested with a manual
            // clock); the manual clock drives the workflow's own expiries.
            let verifier = Arc::new(Verifier::new(
                vec![SigningSecret::new(SECRET)],
                Arc::new(SystemClock),
            ));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let _ = tx.send((addr, Arc::clone(&engine)));
            server::serve(
                listener,
                server::router(AppState { verifier, engine }),
                std::future::pending(),
            )
            .await
        });
        let (addr, engine) = rx.await.expect("the bot process starts");
        self.base = format!("http://{addr}");
        self.sender = SlackSender::new(self.base.clone(), SigningSecret::new(SECRET));
        self.engine = Some(engine);
        self.process = Some(rt);
    }

    /// Kills the bot "process" at once (every in-flight task is dropped, as with SIGKILL).
    pub fn kill(&mut self) {
        self.engine = None;
        if let Some(rt) = self.process.take() {
            rt.shutdown_background();
        }
    }

    /// Kills the process and starts a new one on the same database.
    pub async fn restart(&mut self) {
        self.kill();
        self.boot().await;
    }

    /// Waits until no request is mid-flight (applying, approved, confirmed and not scheduled, or its
    /// approval request posted but not yet recorded): a barrier for steps that act on a settled state.
    pub async fn idle(&self) {
        let engine = Arc::clone(self.engine.as_ref().expect("running"));
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let busy = engine
                .store()
                .unfinished()
                .await
                .unwrap_or_default()
                .into_iter()
                .any(|r| {
                    matches!(r.state, RequestState::Applying | RequestState::Approved)
                        || (r.state == RequestState::Confirmed && r.not_before.is_none())
                        || (r.state == RequestState::AwaitingApproval
                            && r.approval.as_ref().is_none_or(|a| a.message_ts.is_none()))
                });
            if !busy {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a request never finished"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs the engine's periodic sweep inside the bot process (after in-flight work has finished).
    pub async fn sweep(&self) {
        self.idle().await;
        let engine = Arc::clone(self.engine.as_ref().expect("running"));
        let handle = self.process.as_ref().expect("running").handle().clone();
        handle
            .spawn(async move { engine.sweep().await })
            .await
            .expect("sweep");
    }

    /// A request as the store has it now.
    pub async fn request(&self, id: &str) -> lambda_pause::workflow::Request {
        let engine = Arc::clone(self.engine.as_ref().expect("running"));
        let id = lambda_pause::ids::RequestId::parse(id).expect("a request id");
        engine
            .store()
            .get(&id)
            .await
            .expect("store")
            .expect("the request exists")
    }

    /// Every request in the store, newest first.
    pub async fn requests(&self) -> Vec<lambda_pause::workflow::Request> {
        let engine = Arc::clone(self.engine.as_ref().expect("running"));
        engine.store().recent(10_000).await.expect("store")
    }

    /// The whole audit trail, oldest first.
    pub async fn audit_trail(&self) -> Vec<lambda_pause::audit::AuditEvent> {
        let engine = Arc::clone(self.engine.as_ref().expect("running"));
        engine
            .store()
            .audit(&lambda_pause::audit::AuditQuery::default())
            .await
            .expect("store")
    }

    /// The `response_url` of the last command or click sent.
    pub fn last_response_url(&self) -> String {
        format!("{}/respond/{}", self.slack.uri(), self.seq)
    }

    /// From now on the Slack fake answers `chat.postMessage` only after `delay` (the post
    /// itself lands at once): a window in which to kill the bot after Slack took a message.
    pub async fn slow_channel_posts(&self, delay: Duration) {
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(PostMessage {
                channel: self.channel.clone(),
                ts: "1733230001.000100",
                delay: Some(delay),
            })
            .with_priority(1)
            .mount(&self.slack)
            .await;
    }

    /// A fresh `response_url` on the Slack fake.
    pub fn response_url(&mut self) -> String {
        self.seq += 1;
        format!("{}/respond/{}", self.slack.uri(), self.seq)
    }

    /// Types `/lambda {text}` as `user`; returns the HTTP answer (the ack).
    pub async fn command(&mut self, user: &str, text: &str) -> Reply {
        let url = self.response_url();
        self.sender
            .command(user, CHANNEL, text, &url)
            .await
            .expect("command request")
    }

    /// Like [`World::command`], asserting a 200 and returning the ack's text.
    pub async fn ack(&mut self, user: &str, text: &str) -> String {
        let reply = self.command(user, text).await;
        assert_eq!(reply.status, 200, "ack for `{text}`: {}", reply.body);
        let json = reply.json();
        assert_eq!(json["response_type"], "ephemeral", "{json}");
        assert!(
            json["blocks"].as_array().is_some_and(|b| !b.is_empty()),
            "ack has blocks: {json}"
        );
        json["text"]
            .as_str()
            .expect("ack has a text fallback")
            .to_owned()
    }

    /// Clicks a button as `user`; asserts the click was acked with 200.
    pub async fn click(&mut self, user: &str, action_id: &str, value: &str) {
        let url = self.response_url();
        let reply = self
            .sender
            .click(user, CHANNEL, action_id, value, &url)
            .await
            .expect("click request");
        assert_eq!(reply.status, 200, "click ack: {}", reply.body);
    }

    /// Every message the bot sent to Slack so far, in order (reads such as group lookups excluded).
    async fn received(&self) -> Vec<Sent> {
        self.slack
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(|r| {
                let segment = r.url.path().rsplit('/').nth(1).unwrap_or_default();
                let via = if segment == "respond" {
                    "response_url".to_owned()
                } else {
                    r.url
                        .path()
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                };
                Sent {
                    via,
                    body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
                }
            })
            .collect()
    }

    /// The user groups the bot looked up with `usergroups.users.list`, in order.
    pub async fn group_lookups(&self) -> Vec<String> {
        self.slack
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().ends_with("/usergroups.users.list"))
            .filter_map(|r| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == "usergroup")
                    .map(|(_, v)| v.into_owned())
            })
            .collect()
    }

    /// The next message the bot sent to Slack, which must have gone `via` (`chat.postMessage`, `response_url`, …).
    pub async fn next(&mut self, via: &str) -> Sent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = self.received().await;
            if let Some(sent) = all.get(self.checked) {
                self.checked += 1;
                assert_eq!(sent.via, via, "expected a message via {via}; got: {sent:?}");
                assert_message_shape(sent);
                return sent.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot sent nothing via {via}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Takes every message sent so far without asserting on each (for property tests, which check them in bulk).
    pub async fn drain(&mut self) -> Vec<Sent> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let all = self.received().await;
        let rest = all[self.checked.min(all.len())..].to_vec();
        self.checked = all.len();
        rest
    }

    /// Fails if the bot sent anything not yet taken with `next`, after letting in-flight work land.
    pub async fn finish(mut self) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let all = self.received().await;
        let unchecked: Vec<&Sent> = all.iter().skip(self.checked).collect();
        self.finished = true;
        assert!(
            unchecked.is_empty(),
            "messages sent that no step checked: {unchecked:#?}"
        );
    }

    /// The simulator's current `State` of a mapping.
    pub fn state(&self, uuid: &str) -> String {
        self.sim.mapping(uuid).map(|m| m.state).unwrap_or_default()
    }

    /// Runs `text` as `user`, clicks Confirm, takes the replaced prompt, and returns the request id
    /// and the next message posted in a channel (the follow-up, or an approval request).
    pub async fn confirm(&mut self, user: &str, text: &str) -> (String, Sent) {
        let (_, id) = self.prompt(user, text).await;
        self.click(user, "confirm", &id).await;
        let replaced = self.next("response_url").await;
        assert_eq!(
            replaced.body["replace_original"], true,
            "the prompt is replaced after Confirm"
        );
        let posted = self.next("chat.postMessage").await;
        (id, posted)
    }

    /// Runs `text` and returns the request id from the prompt's Confirm button.
    pub async fn prompt(&mut self, user: &str, text: &str) -> (Sent, String) {
        let ack = self.ack(user, text).await;
        assert!(ack.contains("Looking up"), "{ack}");
        let prompt = self.next("response_url").await;
        assert_eq!(
            prompt.body["response_type"], "ephemeral",
            "the prompt is only for the requester"
        );
        let id = prompt
            .button_value("confirm")
            .expect("the prompt has a Confirm button");
        assert_eq!(
            prompt.button_value("cancel").as_deref(),
            Some(id.as_str()),
            "both buttons carry the same request id"
        );
        (prompt, id)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.kill();
        if !self.finished && !std::thread::panicking() {
            panic!(
                "a scenario ended without World::finish(): sent messages may have gone unchecked"
            );
        }
    }
}

/// Every message we send has a plain-text fallback saying what the blocks say.
fn assert_message_shape(sent: &Sent) {
    let text = sent.text();
    assert!(
        !text.is_empty(),
        "message without a text fallback: {sent:?}"
    );
    if let Some(blocks) = sent.body["blocks"].as_array() {
        for block in blocks {
            if let Some(t) = block["text"]["text"].as_str() {
                for line in t.lines() {
                    assert!(
                        text.contains(line),
                        "block line missing from the fallback text: {line}"
                    );
                }
            }
        }
    }
}

/// What the Slack fake keeps of the bot's channel posts, so `conversations.history` and
/// `conversations.replies` can show them back (the bot looks before re-posting after a crash).
#[derive(Clone, Default)]
pub struct Channel(pub Arc<std::sync::Mutex<Vec<Value>>>);

/// `chat.postMessage`: keeps the message and answers with its `ts`.
pub struct PostMessage {
    pub channel: Channel,
    pub ts: &'static str,
    pub delay: Option<Duration>,
}

impl wiremock::Respond for PostMessage {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut message: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        message["ts"] = json!(self.ts);
        message["bot_id"] = json!("B0LAMBDAPAUSE");
        message["type"] = json!("message");
        self.channel.0.lock().unwrap().push(message);
        let answer = ResponseTemplate::new(200).set_body_json(
            json!({"ok": true, "channel": CHANNEL, "ts": self.ts, "message": {"ts": self.ts, "text": ""}}),
        );
        match self.delay {
            Some(delay) => answer.set_delay(delay),
            None => answer,
        }
    }
}

/// `conversations.history` (top-level posts) and `conversations.replies` (a thread's posts).
struct History {
    channel: Channel,
}

impl wiremock::Respond for History {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let thread = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "ts")
            .map(|(_, v)| v.into_owned());
        let messages: Vec<Value> = self
            .channel
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m["thread_ts"].as_str().map(str::to_owned) == thread)
            .cloned()
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"ok": true, "messages": messages}))
    }
}

/// Slack's answers to the Web API methods we use, and to `response_url` posts.
pub async fn mount_slack_defaults(slack: &MockServer) -> Channel {
    let ts = "1733230001.000100";
    let channel = Channel::default();
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(PostMessage {
            channel: channel.clone(),
            ts,
            delay: None,
        })
        .mount(slack)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/conversations\\.(history|replies)$"))
        .respond_with(History {
            channel: channel.clone(),
        })
        .mount(slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postEphemeral"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "message_ts": ts})),
        )
        .mount(slack)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.update"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"ok": true, "channel": CHANNEL, "ts": ts, "message": {"text": ""}}),
        ))
        .mount(slack)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/respond/[0-9]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(slack)
        .await;
    channel
}

impl World {
    /// The next message whatever its route (for concurrent steps whose order is not fixed).
    pub async fn next_any(&mut self) -> Sent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let all = self.received().await;
            if let Some(sent) = all.get(self.checked) {
                self.checked += 1;
                assert_message_shape(sent);
                return sent.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot sent nothing"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

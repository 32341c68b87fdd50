//! `lambda-pause demo`: the real server, the simulated Lambda and a stand-in Slack, playing a scripted story over signed HTTP.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use crate::clock::{SystemClock, unix_seconds};
use crate::lambda::Backoff;
use crate::lambda::Lambda;
use crate::lambda::apply::SettlePolicy;
use crate::policy::Policy;
use crate::secrets::{BotToken, SigningSecret};
use crate::server::{self, AppState};
use crate::sim::{SimConfig, Simulator};
use crate::slack::client::Slack;
use crate::slack::verify::{Verifier, sign};
use crate::store::SqliteStore;
use crate::workflow::{Engine, Settings};

/// Sends requests to our server the way Slack does: form-encoded and signed with the v0 scheme.
#[derive(Clone)]
pub struct SlackSender {
    base: String,
    secret: SigningSecret,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// A response from our server.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    /// The body as JSON (`Value::Null` if it isn't).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl SlackSender {
    /// `base` is our server's `http://host:port`.
    pub fn new(base: impl Into<String>, secret: SigningSecret) -> Self {
        Self {
            base: base.into(),
            secret,
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// POSTs `body` to `path` with the given headers.
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Reply> {
        let mut req = axum::http::Request::post(format!("{}{}", self.base, path))
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let res = self
            .http
            .request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = res.status().as_u16();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// POSTs `body`, signed now.
    pub async fn post_signed(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Reply> {
        let ts = unix_seconds(std::time::SystemTime::now()).to_string();
        let sig = sign(&self.secret, &ts, &body);
        self.post_raw(
            path,
            body,
            &[
                ("x-slack-request-timestamp", ts),
                ("x-slack-signature", sig),
            ],
        )
        .await
    }

    /// The slash-command form Slack sends for `/lambda {text}`.
    pub fn command_form(user: &str, channel: &str, text: &str, response_url: &str) -> Vec<u8> {
        serde_urlencoded::to_string([
            ("token", "legacy-verification-token"),
            ("team_id", "T0001"),
            ("team_domain", "example"),
            ("channel_id", channel),
            ("channel_name", "incidents"),
            ("user_id", user),
            ("user_name", user),
            ("command", "/lambda"),
            ("text", text),
            ("api_app_id", "A0LAMBDA"),
            ("is_enterprise_install", "false"),
            ("response_url", response_url),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
        ])
        .expect("form encoding")
        .into_bytes()
    }

    /// The `block_actions` form Slack sends when `user` clicks a button.
    pub fn click_form(
        user: &str,
        channel: &str,
        action_id: &str,
        value: &str,
        response_url: &str,
    ) -> Vec<u8> {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": user, "name": user, "team_id": "T0001"},
            "api_app_id": "A0LAMBDA",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": "1733230000.000200", "channel_id": channel, "is_ephemeral": true},
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "team": {"id": "T0001", "domain": "example"},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel, "name": "incidents"},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": "request-actions", "text": {"type": "plain_text", "text": action_id, "emoji": true},
                         "value": value, "type": "button", "action_ts": "1733230005.123456"}]
        });
        serde_urlencoded::to_string([("payload", payload.to_string())])
            .expect("form encoding")
            .into_bytes()
    }

    pub async fn command(
        &self,
        user: &str,
        channel: &str,
        text: &str,
        response_url: &str,
    ) -> anyhow::Result<Reply> {
        self.post_signed(
            "/slack/commands",
            Self::command_form(user, channel, text, response_url),
        )
        .await
    }

    pub async fn click(
        &self,
        user: &str,
        channel: &str,
        action_id: &str,
        value: &str,
        response_url: &str,
    ) -> anyhow::Result<Reply> {
        self.post_signed(
            "/slack/interactions",
            Self::click_form(user, channel, action_id, value, response_url),
        )
        .await
    }
}

/// Something the bot sent to the stand-in Slack.
#[derive(Debug, Clone)]
pub struct Sent {
    /// `chat.postMessage`, `chat.postEphemeral`, `chat.update`, or `response_url`.
    pub via: String,
    pub body: Value,
}

impl Sent {
    /// The first button value (a request id), if the message has buttons.
    pub fn button_value(&self, action_id: &str) -> Option<String> {
        self.body["blocks"].as_array()?.iter().find_map(|b| {
            b["elements"]
                .as_array()?
                .iter()
                .find(|e| e["action_id"] == action_id)
                .and_then(|e| e["value"].as_str())
                .map(str::to_owned)
        })
    }

    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }
}

#[derive(Clone)]
struct FakeSlackState {
    tx: mpsc::UnboundedSender<Sent>,
    ts: Arc<Mutex<u64>>,
}

/// A local stand-in for Slack's Web API and `response_url`s that records what it is sent.
pub struct FakeSlack {
    pub base: String,
    rx: mpsc::UnboundedReceiver<Sent>,
}

impl FakeSlack {
    pub async fn start() -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = FakeSlackState {
            tx,
            ts: Arc::new(Mutex::new(1_733_230_000)),
        };
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/respond/{id}", post(respond))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base, rx })
    }

    pub fn api_url(&self) -> String {
        format!("{}/api/", self.base)
    }

    pub fn response_url(&self, id: &str) -> String {
        format!("{}/respond/{id}", self.base)
    }

    /// The next message the bot sends (waits up to `within`).
    pub async fn next(&mut self, within: Duration) -> anyhow::Result<Sent> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .context("the bot sent nothing")?
            .context("stand-in Slack stopped")
    }
}

async fn api(
    State(state): State<FakeSlackState>,
    Path(method): Path<String>,
    body: Bytes,
) -> axum::Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ts = {
        let mut ts = state.ts.lock().await;
        *ts += 1;
        format!("{ts}.000100")
    };
    let channel = body["channel"].clone();
    let _ = state.tx.send(Sent {
        via: method.clone(),
        body,
    });
    axum::Json(match method.as_str() {
        "chat.postMessage" => {
            json!({"ok": true, "channel": channel, "ts": ts, "message": {"ts": ts, "text": ""}})
        }
        "chat.update" => json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": ""}}),
        _ => json!({"ok": true}),
    })
}

async fn respond(State(state): State<FakeSlackState>, body: Bytes) -> &'static str {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = state.tx.send(Sent {
        via: "response_url".into(),
        body,
    });
    "ok"
}

/// Renders a message roughly as Slack would show it to a person.
pub fn render(sent: &Sent, names: &HashMap<&str, &str>) -> String {
    let heading = match sent.via.as_str() {
        "chat.postMessage" if sent.body["thread_ts"].is_string() => {
            "#incidents, in the approval request's thread".to_string()
        }
        "chat.postMessage" => "#incidents".to_string(),
        "chat.postEphemeral" => format!(
            "only visible to @{}",
            names
                .get(sent.body["user"].as_str().unwrap_or_default())
                .copied()
                .unwrap_or("someone")
        ),
        "chat.update" => "#incidents (message updated)".to_string(),
        _ if sent.body["replace_original"] == true => "(replaces the prompt)".to_string(),
        _ if sent.body["response_type"] == "in_channel" => "#incidents".to_string(),
        _ => "only visible to you".to_string(),
    };
    let mut out = format!("  ┌─ lambda-pause · {heading}\n");
    let blocks = sent.body["blocks"].as_array().cloned().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    if blocks.is_empty() {
        lines.extend(sent.text().lines().map(str::to_owned));
    }
    for block in &blocks {
        match block["type"].as_str() {
            Some("section") => lines.extend(
                block["text"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_owned),
            ),
            Some("context") => {
                for e in block["elements"].as_array().cloned().unwrap_or_default() {
                    lines.push(format!("  {}", e["text"].as_str().unwrap_or_default()));
                }
            }
            Some("actions") => {
                let buttons: Vec<String> = block["elements"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|e| format!("[ {} ]", e["text"]["text"].as_str().unwrap_or_default()))
                    .collect();
                lines.push(buttons.join("  "));
            }
            _ => {}
        }
    }
    for line in lines {
        out.push_str("  │ ");
        out.push_str(&humanize(&line, names));
        out.push('\n');
    }
    out.push_str("  └─\n");
    out
}

/// Slack markup → what a reader sees: mentions as @names, a few emoji, entities decoded.
fn humanize(line: &str, names: &HashMap<&str, &str>) -> String {
    let mut s = line.to_owned();
    for (id, name) in names {
        s = s.replace(&format!("<@{id}>"), &format!("@{name}"));
    }
    for (code, glyph) in [
        (":mag:", "🔎"),
        (":warning:", "⚠️"),
        (":white_check_mark:", "✅"),
        (":double_vertical_bar:", "⏸️"),
        (":arrow_forward:", "▶️"),
        (":x:", "❌"),
        (":no_entry:", "⛔"),
        (":information_source:", "ℹ️"),
        (":hourglass:", "⌛"),
        (":heavy_multiplication_x:", "✖️"),
        (":busts_in_silhouette:", "👥"),
        (":hourglass_flowing_sand:", "⏳"),
        (":raising_hand:", "🙋"),
        (":no_entry_sign:", "🚫"),
    ] {
        s = s.replace(code, glyph);
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The whole local world: simulator, stand-in Slack, our server.
struct World {
    sim: Simulator,
    slack: FakeSlack,
    sender: SlackSender,
    names: HashMap<&'static str, &'static str>,
    step: usize,
}

const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";

/// The demo's policy: anyone may pause `orders-*` with their own confirmation; a resume needs Bob.
const DEMO_POLICY: &str = r#"
[[rules]]
functions = ["orders-*"]
approvers = ["U0BOB"]
require_approval = ["resume"]
"#;
const CHANNEL: &str = "C0INCIDENT";
const WAIT: Duration = Duration::from_secs(30);

impl World {
    fn say(&mut self, what: &str) {
        self.step += 1;
        println!("\n{}. {what}", self.step);
    }

    fn show(&self, sent: &Sent) {
        print!("{}", render(sent, &self.names));
    }

    async fn next(&mut self, via: &str) -> anyhow::Result<Sent> {
        let sent = self.slack.next(WAIT).await?;
        ensure!(
            sent.via == via,
            "expected a message via {via}, got one via {}: {}",
            sent.via,
            sent.text()
        );
        self.show(&sent);
        Ok(sent)
    }

    async fn command(&mut self, user: &str, text: &str) -> anyhow::Result<String> {
        let name = self.names.get(user).copied().unwrap_or(user);
        println!("  @{name} types: /lambda {text}");
        let url = self.slack.response_url(&format!("cmd-{}", self.step));
        let reply = self.sender.command(user, CHANNEL, text, &url).await?;
        ensure!(
            reply.status == 200,
            "the command was answered with HTTP {}",
            reply.status
        );
        let ack = Sent {
            via: "ack".into(),
            body: reply.json(),
        };
        self.show(&ack);
        Ok(ack.text().to_owned())
    }

    async fn click(&mut self, user: &str, action: &str, value: &str) -> anyhow::Result<()> {
        let name = self.names.get(user).copied().unwrap_or(user);
        println!("  @{name} clicks {action}");
        let url = self.slack.response_url(&format!("click-{}", self.step));
        let reply = self
            .sender
            .click(user, CHANNEL, action, value, &url)
            .await?;
        ensure!(
            reply.status == 200,
            "the click was answered with HTTP {}",
            reply.status
        );
        Ok(())
    }

    fn state(&self, uuid: &str) -> String {
        self.sim.mapping(uuid).map(|m| m.state).unwrap_or_default()
    }
}

/// Runs the scripted story; prints every message; returns whether everything went as expected.
pub async fn run() -> anyhow::Result<bool> {
    match story().await {
        Ok(steps) => {
            println!("\nDemo finished: all {steps} steps went as expected.");
            Ok(true)
        }
        Err(err) => {
            println!("\nDemo FAILED: {err:#}");
            Ok(false)
        }
    }
}

async fn story() -> anyhow::Result<usize> {
    let sim = Simulator::start(SimConfig {
        transition_time: Duration::from_millis(1500),
        ..SimConfig::default()
    })
    .await?;
    let orders = sim.add_mapping("orders-fn", &sim.kinesis_arn("orders"), true);
    let dlq = sim.add_mapping("orders-fn", &sim.sqs_arn("orders-retry"), true);
    let slack = FakeSlack::start().await?;

    let secret = SigningSecret::new(format!(
        "demo-{}",
        unix_seconds(std::time::SystemTime::now())
    ));
    let clock = Arc::new(SystemClock);
    let settings = Settings {
        settle: SettlePolicy {
            poll: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(2),
                attempts: 1,
            },
            ..SettlePolicy::default()
        },
        policy: Arc::new(
            Policy::parse(DEMO_POLICY, "demo-policy.toml").context("the demo policy")?,
        ),
        ..Settings::default()
    };
    // The embedded default store, in memory so the demo leaves nothing behind.
    let store = SqliteStore::open("sqlite::memory:")
        .await
        .context("the embedded store")?;
    let engine = Engine::new(
        Arc::new(store),
        Slack::new(&slack.api_url(), &BotToken::new("xoxb-demo"))?,
        Lambda::for_endpoint(&sim.endpoint_url(), "us-east-1").await,
        clock.clone(),
        settings,
    );
    let state = AppState {
        verifier: Arc::new(Verifier::new(vec![secret.clone()], clock)),
        engine,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(server::serve(
        listener,
        server::router(state),
        std::future::pending(),
    ));

    println!(
        "lambda-pause demo: the real server on {addr}, a simulated Lambda control plane on {},",
        sim.endpoint_url()
    );
    println!(
        "and a stand-in Slack on {}. Function `orders-fn` reads Kinesis stream `orders` and SQS queue `orders-retry`.",
        slack.base
    );
    let names = HashMap::from([(ALICE, "alice"), (BOB, "bob")]);
    let sender = SlackSender::new(format!("http://{addr}"), secret);
    let mut w = World {
        sim,
        slack,
        sender,
        names,
        step: 0,
    };

    w.say("A mistyped command gets a suggestion, and nothing happens.");
    let ack = w.command(ALICE, "pase orders-fn orders").await?;
    ensure!(
        ack.contains("did you mean `pause`"),
        "no suggestion in: {ack}"
    );

    w.say("Alice pauses the Kinesis consumer; the bot shows exactly what will change.");
    w.command(
        ALICE,
        "pause orders-fn orders -- poison record in shard 3 & retries piling up",
    )
    .await?;
    let prompt = w.next("response_url").await?;
    let id = prompt
        .button_value("confirm")
        .context("the prompt has no Confirm button")?;
    ensure!(
        w.state(&orders) == "Enabled",
        "the mapping changed before anyone confirmed"
    );

    w.say("Bob clicks Alice's Confirm button: refused, only to him, nothing changes.");
    w.click(BOB, "confirm", &id).await?;
    let refusal = w.next("chat.postEphemeral").await?;
    ensure!(
        refusal.text().contains("Only <@U0ALICE>"),
        "unexpected refusal: {}",
        refusal.text()
    );

    w.say("Alice confirms. The prompt is replaced, and once AWS reports Disabled the channel is told.");
    w.click(ALICE, "confirm", &id).await?;
    w.next("response_url").await?;
    let follow_up = w.next("chat.postMessage").await?;
    ensure!(
        follow_up.text().contains("Disabled") && follow_up.text().contains("<@U0ALICE>"),
        "unexpected follow-up: {}",
        follow_up.text()
    );
    ensure!(
        w.state(&orders) == "Disabled",
        "AWS says {} after the pause",
        w.state(&orders)
    );
    ensure!(w.state(&dlq) == "Enabled", "the other mapping was touched");
    ensure!(
        w.sim.update_count(&orders) == 1,
        "expected exactly one update"
    );

    w.say("A second click on the same Confirm changes nothing more.");
    w.click(ALICE, "confirm", &id).await?;
    w.next("chat.postEphemeral").await?;
    ensure!(
        w.sim.update_count(&orders) == 1,
        "a second click caused a second update"
    );

    w.say("Anyone can check the state.");
    w.command(BOB, "status orders-fn").await?;
    let status = w.next("response_url").await?;
    ensure!(
        status.text().contains("*Disabled*") && status.text().contains("*Enabled*"),
        "unexpected status: {}",
        status.text()
    );

    w.say("The incident is over: Alice resumes every mapping of the function (the queue is already running and is left as is). The policy wants an approver.");
    w.command(ALICE, "resume orders-fn -- fix deployed").await?;
    let prompt = w.next("response_url").await?;
    let id = prompt
        .button_value("confirm")
        .context("the prompt has no Confirm button")?;
    w.click(ALICE, "confirm", &id).await?;
    w.next("response_url").await?;
    let approval = w.next("chat.postMessage").await?;
    ensure!(
        approval.button_value("approve").as_deref() == Some(id.as_str()),
        "the approval request has no Approve button"
    );
    ensure!(
        w.state(&orders) == "Disabled",
        "the resume happened before an approval"
    );

    w.say("Alice can't approve her own request.");
    w.click(ALICE, "approve", &id).await?;
    let refusal = w.next("chat.postEphemeral").await?;
    ensure!(
        refusal.text().contains("can't approve your own request"),
        "unexpected: {}",
        refusal.text()
    );

    w.say("Bob approves: the request message shows it, and the result follows in its thread.");
    w.click(BOB, "approve", &id).await?;
    w.next("chat.update").await?;
    let follow_up = w.next("chat.postMessage").await?;
    ensure!(
        follow_up.text().contains("Enabled") && follow_up.text().contains("approved by <@U0BOB>"),
        "unexpected follow-up: {}",
        follow_up.text()
    );
    w.next("chat.update").await?;
    ensure!(
        w.state(&orders) == "Enabled",
        "AWS says {} after the resume",
        w.state(&orders)
    );
    ensure!(
        w.sim.update_count(&orders) == 2,
        "expected one update for the pause and one for the resume"
    );

    w.say("A pause that is cancelled changes nothing.");
    w.command(ALICE, "pause orders-fn orders-retry").await?;
    let prompt = w.next("response_url").await?;
    let id = prompt
        .button_value("cancel")
        .context("the prompt has no Cancel button")?;
    w.click(ALICE, "cancel", &id).await?;
    w.next("response_url").await?;
    ensure!(
        w.state(&dlq) == "Enabled",
        "a cancelled request changed the queue's mapping"
    );

    w.say("The audit trail tells the story.");
    let history = w.command(BOB, "history orders-fn").await?;
    ensure!(
        history.contains("<@U0BOB> approved the resume of `orders-fn`"),
        "history: {history}"
    );

    if let Ok(extra) = w.slack.next(Duration::from_millis(300)).await {
        bail!(
            "the bot sent an unexpected message via {}: {}",
            extra.via,
            extra.text()
        );
    }
    Ok(w.step)
}

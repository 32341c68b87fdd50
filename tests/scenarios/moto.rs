//! AWS interop: the real server and the Lambda layer against moto (`moto_server`), with the
//! account set up by boto3 (`tests/moto/setup.py`) and checked independently through it.
//!
//! `scripts/test` starts moto and sets `LAMBDA_PAUSE_MOTO_URL` and `LAMBDA_PAUSE_MOTO_PYTHON`.
//! Without them these tests print a notice and pass, except under CI (`CI` set), where they fail.
//!
//! How moto 5 differs from AWS, and what these tests therefore do not cover: moto applies
//! `UpdateEventSourceMapping` at once (the answer already says `Disabled`/`Enabled`, never
//! `Disabling`/`Enabling`), so nothing is polled; it answers an update of an unknown UUID with
//! HTTP 200 `{}`; its `StateTransitionReason` is always `User initiated` (which lambda-pause
//! reads as user-initiated, like AWS's `USER_INITIATED`); and
//! `ListEventSourceMappings` matches `FunctionName` only as the name the mapping was created with
//! (a function ARN lists nothing).
//!
//! For horizons, moto 5 keeps what the prompt reads: a stream's `RetentionPeriodHours` (after
//! `IncreaseStreamRetentionPeriod`) on `DescribeStreamSummary` by `StreamARN`, a queue's
//! `MessageRetentionPeriod` on `GetQueueAttributes` (it takes the queue name from the last
//! segment of the URL lambda-pause builds from the ARN), a mapping's
//! `MaximumRecordAgeInSeconds`, and mappings from a DynamoDB table's stream.

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use lambda_pause::clock::SystemClock;
use lambda_pause::demo::{FakeSlack, Sent, SlackSender};
use lambda_pause::ids::{MappingUuid, RequestId};
use lambda_pause::lambda::apply::SettlePolicy;
use lambda_pause::lambda::resolve::list_all;
use lambda_pause::lambda::{Backoff, Lambda, LambdaError, SourceKind};
use lambda_pause::secrets::{BotToken, SigningSecret};
use lambda_pause::server::{self, AppState};
use lambda_pause::slack::client::Slack;
use lambda_pause::slack::verify::Verifier;
use lambda_pause::store::MemoryStore;
use lambda_pause::workflow::{Engine, Settings};
use serde_json::Value;

const REGION: &str = "us-east-1";
const USER: &str = "U0MOTOOPS";
const CHANNEL: &str = "C0MOTOINC";
/// Only so that a broken run fails instead of hanging; nothing here should take near this long.
const WAIT: Duration = Duration::from_secs(30);
const SETUP_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/moto/setup.py");

/// Where moto is, as `scripts/test` says.
struct Moto {
    url: String,
    python: String,
}

/// `None` (after a notice) when moto is not configured and this is not CI.
fn moto(test: &str) -> Option<Moto> {
    let url = std::env::var("LAMBDA_PAUSE_MOTO_URL").ok();
    let python = std::env::var("LAMBDA_PAUSE_MOTO_PYTHON").ok();
    match (url, python) {
        (Some(url), Some(python)) if !url.is_empty() && !python.is_empty() => {
            Some(Moto { url, python })
        }
        _ if std::env::var_os("CI").is_some() => panic!(
            "{test}: LAMBDA_PAUSE_MOTO_URL and LAMBDA_PAUSE_MOTO_PYTHON are not set; \
             run the tests with `scripts/test`, which starts moto and sets them"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: no moto (LAMBDA_PAUSE_MOTO_URL / LAMBDA_PAUSE_MOTO_PYTHON unset); \
                 run `scripts/test` to include the AWS interop tests"
            );
            None
        }
    }
}

/// What `setup.py` created for one test.
#[derive(Debug)]
struct Account {
    function: String,
    function_arn: String,
    kinesis_uuid: String,
    sqs_uuid: String,
    kinesis_arn: String,
    sqs_arn: String,
}

/// One event source mapping `setup.py horizons` created, and its source's short name.
#[derive(Debug)]
struct Source {
    uuid: String,
    name: String,
}

/// What `setup.py horizons` created: one function, one mapping per kind of horizon.
#[derive(Debug)]
struct Horizons {
    function: String,
    /// Stream `orders-<suffix>`, 48 h retention.
    kinesis: Source,
    /// Queue `orders-retry-<suffix>`, `MessageRetentionPeriod` 86400.
    sqs: Source,
    /// Table `Orders-<suffix>`'s stream (DynamoDB Streams: 24 h).
    dynamodb: Source,
    /// Stream `clicks-<suffix>` (24 h), read with `MaximumRecordAgeInSeconds` 3600.
    capped: Source,
}

impl Horizons {
    fn sources(&self) -> [&Source; 4] {
        [&self.kinesis, &self.sqs, &self.dynamodb, &self.capped]
    }
}

impl Moto {
    /// Runs `setup.py` with moto's Python and returns its stdout (one line).
    async fn setup_py(&self, args: Vec<String>) -> String {
        let python = self.python.clone();
        let url = self.url.clone();
        let shown = args.join(" ");
        let out = tokio::task::spawn_blocking(move || {
            Command::new(&python)
                .arg(SETUP_PY)
                .arg(&url)
                .args(&args)
                .output()
        })
        .await
        .expect("setup.py task")
        .unwrap_or_else(|e| panic!("could not run {} {SETUP_PY}: {e}", self.python));
        assert!(
            out.status.success(),
            "setup.py {shown} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("setup.py printed UTF-8")
            .trim()
            .to_owned()
    }

    /// Runs `setup.py` with a fresh suffix (`<tag>-<8 hex>`) after `mode`, and parses the
    /// JSON line it prints. Returns the suffix and a reader of the JSON's string fields.
    async fn create(&self, mode: &[&str], tag: &str) -> (String, impl Fn(&str) -> String) {
        // Unique per test and per run: moto keeps its state while the server lives.
        let suffix = format!("{tag}-{}", &RequestId::generate().as_str()[..8]);
        let mut args: Vec<String> = mode.iter().map(|s| (*s).to_owned()).collect();
        args.push(suffix.clone());
        let line = self.setup_py(args).await;
        let json: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("setup.py printed no JSON ({e}): {line}"));
        let field = move |name: &str| {
            json[name]
                .as_str()
                .unwrap_or_else(|| panic!("setup.py's JSON has no {name}: {line}"))
                .to_owned()
        };
        (suffix, field)
    }

    /// A new function `orders-fn-<suffix>` reading stream `orders` and queue `orders-retry`.
    async fn account(&self, tag: &str) -> Account {
        let (suffix, field) = self.create(&[], tag).await;
        let account = Account {
            function: field("function"),
            function_arn: field("function_arn"),
            kinesis_uuid: field("kinesis_uuid"),
            sqs_uuid: field("sqs_uuid"),
            kinesis_arn: field("kinesis_arn"),
            sqs_arn: field("sqs_arn"),
        };
        assert_eq!(account.function, format!("orders-fn-{suffix}"));
        account
    }

    /// A new function `orders-fn-<suffix>` with one mapping per kind of known horizon
    /// (`setup.py horizons`): new sources named after the suffix.
    async fn horizons(&self, tag: &str) -> Horizons {
        let (suffix, field) = self.create(&["horizons"], tag).await;
        let source = |kind: &str| Source {
            uuid: field(&format!("{kind}_uuid")),
            name: field(&format!("{kind}_name")),
        };
        let account = Horizons {
            function: field("function"),
            kinesis: source("kinesis"),
            sqs: source("sqs"),
            dynamodb: source("dynamodb"),
            capped: source("capped"),
        };
        assert_eq!(account.function, format!("orders-fn-{suffix}"));
        for (source, name) in [
            (&account.kinesis, format!("orders-{suffix}")),
            (&account.sqs, format!("orders-retry-{suffix}")),
            (&account.dynamodb, format!("Orders-{suffix}")),
            (&account.capped, format!("clicks-{suffix}")),
        ] {
            assert_eq!(source.name, name, "{account:?}");
        }
        account
    }

    /// The mapping's `State` according to moto, asked through boto3 (not through our code).
    async fn state(&self, uuid: &str) -> String {
        self.setup_py(vec!["state".into(), uuid.into()]).await
    }

    async fn lambda(&self) -> Lambda {
        Lambda::for_endpoint(&self.url, REGION).await
    }
}

/// Short polls so a run is quick; moto settles at once anyway.
fn settings() -> Settings {
    Settings {
        settle: SettlePolicy {
            poll: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(1),
                attempts: 1,
            },
            ..SettlePolicy::default()
        },
        ..Settings::default()
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("lambda_pause=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_test_writer()
        .try_init();
}

/// Our real server (Lambda = moto), a stand-in Slack, and a sender signing like Slack.
struct World {
    slack: FakeSlack,
    sender: SlackSender,
    step: usize,
}

impl World {
    async fn start(moto: &Moto) -> Self {
        init_tracing();
        let slack = FakeSlack::start().await.expect("stand-in Slack starts");
        let secret = SigningSecret::new(format!("moto-{}", RequestId::generate()));
        let clock = Arc::new(SystemClock);
        let engine = Engine::new(
            Arc::new(MemoryStore::new()),
            Slack::new(&slack.api_url(), &BotToken::new("xoxb-moto")).expect("Slack client"),
            moto.lambda().await,
            clock.clone(),
            settings(),
        );
        let state = AppState {
            verifier: Arc::new(Verifier::new(vec![secret.clone()], clock)),
            engine,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind our server");
        let addr = listener.local_addr().expect("our server's address");
        tokio::spawn(server::serve(
            listener,
            server::router(state),
            std::future::pending(),
        ));
        Self {
            sender: SlackSender::new(format!("http://{addr}"), secret),
            slack,
            step: 0,
        }
    }

    /// `/lambda {text}` as `USER`; returns the immediate (ephemeral) answer's text.
    async fn command(&mut self, text: &str) -> String {
        self.step += 1;
        let url = self.slack.response_url(&format!("cmd-{}", self.step));
        let reply = self
            .sender
            .command(USER, CHANNEL, text, &url)
            .await
            .expect("the command reaches our server");
        assert_eq!(reply.status, 200, "/lambda {text} answered {}", reply.body);
        let ack = reply.json();
        assert_eq!(ack["response_type"], "ephemeral", "ack: {ack}");
        ack["text"].as_str().unwrap_or_default().to_owned()
    }

    /// `USER` clicks `action` on the request `id`.
    async fn click(&mut self, action: &str, id: &str) {
        self.step += 1;
        let url = self.slack.response_url(&format!("click-{}", self.step));
        let reply = self
            .sender
            .click(USER, CHANNEL, action, id, &url)
            .await
            .expect("the click reaches our server");
        assert_eq!(reply.status, 200, "click {action} answered {}", reply.body);
    }

    /// The next thing the bot sent the stand-in Slack, which must have gone via `via`.
    async fn next(&mut self, via: &str) -> Sent {
        let sent = self
            .slack
            .next(WAIT)
            .await
            .unwrap_or_else(|e| panic!("waiting for a message via {via}: {e:#}"));
        assert_eq!(
            sent.via, via,
            "expected a message via {via}, got: {}",
            sent.body
        );
        // Shown when a test fails (libtest captures it otherwise).
        eprintln!("stand-in Slack got, via {}:\n{}\n", sent.via, sent.text());
        sent
    }

    /// Nothing more arrives (within half a second).
    async fn quiet(&mut self) {
        if let Ok(extra) = self.slack.next(Duration::from_millis(500)).await {
            panic!(
                "the bot sent an unexpected message via {}: {}",
                extra.via, extra.body
            );
        }
    }

    /// `/lambda {verb} {function} orders`, confirmed: checks the ack, the prompt, the replaced
    /// prompt and the channel follow-up, and that nothing else arrives. `from`/`to` are the
    /// Kinesis mapping's states.
    async fn change_orders(&mut self, verb: &str, account: &Account, from: &str, to: &str) {
        let function = &account.function;
        let ack = self
            .command(&format!("{verb} {function} orders -- moto interop"))
            .await;
        assert!(
            ack.contains("Looking up") && ack.contains(function.as_str()),
            "ack: {ack}"
        );

        // The prompt: only the Kinesis mapping, by UUID, with what will change.
        let prompt = self.next("response_url").await;
        let text = prompt.text();
        assert_eq!(prompt.body["response_type"], "ephemeral", "{}", prompt.body);
        assert!(
            text.contains(&account.kinesis_uuid),
            "the prompt does not list the Kinesis mapping {}: {text}",
            account.kinesis_uuid
        );
        assert!(
            !text.contains(&account.sqs_uuid),
            "the prompt lists the queue's mapping too: {text}"
        );
        assert!(
            text.contains(&format!("*{from}* → *{to}*")) && text.contains("`orders`"),
            "the prompt does not say `orders` goes {from} → {to}: {text}"
        );
        let id = prompt
            .button_value("confirm")
            .unwrap_or_else(|| panic!("the prompt has no Confirm button: {}", prompt.body));
        assert_eq!(
            prompt.button_value("cancel").as_deref(),
            Some(id.as_str()),
            "Cancel belongs to another request: {}",
            prompt.body
        );

        self.click("confirm", &id).await;

        // The prompt is replaced by "confirmed".
        let replaced = self.next("response_url").await;
        assert_eq!(replaced.body["replace_original"], true, "{}", replaced.body);
        assert!(
            replaced.text().contains("confirmed")
                && replaced.text().contains(&format!("<@{USER}>"))
                && replaced.text().contains(&format!("*{to}*")),
            "unexpected replacement of the prompt: {}",
            replaced.text()
        );

        // Once moto reports the target state, the channel is told.
        let follow_up = self.next("chat.postMessage").await;
        let text = follow_up.text();
        assert_eq!(follow_up.body["channel"], CHANNEL, "{}", follow_up.body);
        let done = if to == "Disabled" {
            "paused"
        } else {
            "resumed"
        };
        assert!(
            text.contains(&format!("is {done}"))
                && text.contains(&format!("<@{USER}>"))
                && text.contains(&format!("`orders` (Kinesis stream): *{to}*")),
            "unexpected follow-up: {text}"
        );
        assert!(
            !text.contains("orders-retry") && !text.contains(":x:") && !text.contains(":warning:"),
            "unexpected follow-up: {text}"
        );
        assert!(
            text.contains(&id),
            "the follow-up does not name request {id}: {text}"
        );
        self.quiet().await;
    }
}

/// The acceptance check: pause and resume a Kinesis consumer through Slack, against moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_pause_then_resume_the_kinesis_mapping_through_slack() {
    let Some(moto) = moto("moto_pause_then_resume_the_kinesis_mapping_through_slack") else {
        return;
    };
    let account = moto.account("story").await;
    assert_eq!(moto.state(&account.kinesis_uuid).await, "Enabled");
    assert_eq!(moto.state(&account.sqs_uuid).await, "Enabled");
    let mut world = World::start(&moto).await;

    world
        .change_orders("pause", &account, "Enabled", "Disabled")
        .await;
    assert_eq!(
        moto.state(&account.kinesis_uuid).await,
        "Disabled",
        "moto's view of the Kinesis mapping after the pause"
    );
    assert_eq!(
        moto.state(&account.sqs_uuid).await,
        "Enabled",
        "the pause touched the queue's mapping"
    );

    world
        .change_orders("resume", &account, "Disabled", "Enabled")
        .await;
    assert_eq!(
        moto.state(&account.kinesis_uuid).await,
        "Enabled",
        "moto's view of the Kinesis mapping after the resume"
    );
    assert_eq!(moto.state(&account.sqs_uuid).await, "Enabled");
}

/// The Lambda layer alone against moto: listing, updating, and unknown UUIDs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_lambda_client_lists_updates_and_rejects_unknown_mappings() {
    let Some(moto) = moto("moto_lambda_client_lists_updates_and_rejects_unknown_mappings") else {
        return;
    };
    let account = moto.account("lib").await;
    let lambda = moto.lambda().await;
    let client = lambda.client(None);
    assert_eq!(client.region(), Some(REGION));
    let once = Backoff {
        attempts: 1,
        ..Backoff::standard()
    };

    // Both mappings, as our model reads them.
    let all = list_all(&client, &account.function, None, &once)
        .await
        .expect("ListEventSourceMappings");
    let uuids: HashSet<&str> = all.iter().map(|m| m.uuid.as_str()).collect();
    assert_eq!(
        uuids,
        HashSet::from([account.kinesis_uuid.as_str(), account.sqs_uuid.as_str()]),
        "{all:#?}"
    );
    for m in &all {
        assert_eq!(m.state, "Enabled", "{m:?}");
        assert_eq!(m.function_arn, account.function_arn, "{m:?}");
        assert_eq!(m.function_name(), account.function, "{m:?}");
        let (arn, kind, name) = if m.uuid.as_str() == account.kinesis_uuid {
            (&account.kinesis_arn, SourceKind::KinesisStream, "orders")
        } else {
            (&account.sqs_arn, SourceKind::SqsQueue, "orders-retry")
        };
        assert_eq!(m.source_arn.as_deref(), Some(arn.as_str()), "{m:?}");
        assert_eq!(m.kind(), kind, "{m:?}");
        assert_eq!(m.short_name(), name, "{m:?}");
        assert!(m.is_named(name), "{m:?}");
    }

    // Filtered by source ARN: only that mapping.
    let kinesis = list_all(
        &client,
        &account.function,
        Some(&account.kinesis_arn),
        &once,
    )
    .await
    .expect("ListEventSourceMappings by source");
    assert_eq!(kinesis.len(), 1, "{kinesis:#?}");
    assert_eq!(kinesis[0].uuid.as_str(), account.kinesis_uuid);

    // Updating a real mapping: moto answers with the settled state at once.
    let sqs = MappingUuid::new(account.sqs_uuid.clone());
    let paused = client
        .set_enabled(&sqs, false)
        .await
        .expect("UpdateEventSourceMapping Enabled=false");
    assert_eq!(paused.uuid, sqs);
    assert_eq!(paused.state, "Disabled", "{paused:?}");
    let got = client.get(&sqs).await.expect("GetEventSourceMapping");
    assert_eq!(got.state, "Disabled", "{got:?}");
    assert_eq!(moto.state(&account.sqs_uuid).await, "Disabled");
    assert_eq!(moto.state(&account.kinesis_uuid).await, "Enabled");
    let resumed = client
        .set_enabled(&sqs, true)
        .await
        .expect("UpdateEventSourceMapping Enabled=true");
    assert_eq!(resumed.state, "Enabled", "{resumed:?}");
    assert_eq!(moto.state(&account.sqs_uuid).await, "Enabled");

    // An unknown UUID: moto answers the update with 200 `{}`, which must not pass for success.
    let unknown = MappingUuid::new("7a0f3e52-0c4e-4f4a-9d55-000000000000");
    match client.set_enabled(&unknown, false).await {
        Err(LambdaError::NotFound { .. }) => {}
        other => panic!("updating an unknown mapping gave {other:?}, not NotFound"),
    }
    match client.get(&unknown).await {
        Err(LambdaError::NotFound { .. }) => {}
        other => panic!("getting an unknown mapping gave {other:?}, not NotFound"),
    }
    // An unknown function has no mappings (moto does not say it does not exist).
    let none = list_all(&client, &format!("{}-gone", account.function), None, &once)
        .await
        .expect("ListEventSourceMappings of an unknown function");
    assert!(none.is_empty(), "{none:#?}");
}

/// The data-loss guard against moto: before a pause, the prompt states each source's horizon
/// as read from moto (Kinesis `DescribeStreamSummary`, SQS `GetQueueAttributes` on the URL
/// built from the ARN, DynamoDB Streams' fixed 24 h, and the mapping's
/// `MaximumRecordAgeInSeconds`); Cancel then changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_the_pause_prompt_states_each_sources_horizon_then_cancel_changes_nothing() {
    let Some(moto) =
        moto("moto_the_pause_prompt_states_each_sources_horizon_then_cancel_changes_nothing")
    else {
        return;
    };
    let account = moto.horizons("horizons").await;
    for source in account.sources() {
        assert_eq!(moto.state(&source.uuid).await, "Enabled", "{source:?}");
    }
    let mut world = World::start(&moto).await;
    let function = &account.function;

    // No source named: all of the function's mappings.
    let ack = world.command(&format!("pause {function}")).await;
    assert!(
        ack.contains("Looking up") && ack.contains(function.as_str()),
        "ack: {ack}"
    );

    let prompt = world.next("response_url").await;
    let text = prompt.text();
    assert_eq!(prompt.body["response_type"], "ephemeral", "{}", prompt.body);
    for source in account.sources() {
        assert!(
            text.contains(&source.uuid),
            "the prompt does not list {source:?}: {text}"
        );
    }
    assert_eq!(
        text.matches("*Enabled* → *Disabled*").count(),
        4,
        "all four mappings go Enabled → Disabled: {text}"
    );
    for line in [
        format!(
            "`{}`: records older than 48 hours are deleted by Kinesis: resume before ",
            account.kinesis.name
        ),
        format!(
            "`{}`: SQS deletes messages older than 24 hours: resume before ",
            account.sqs.name
        ),
        format!(
            "`{}`: DynamoDB Streams delete records after 24 hours: resume before ",
            account.dynamodb.name
        ),
        format!(
            "`{}`: the mapping's MaximumRecordAgeInSeconds drops records older than 1 hour \
             when it resumes: resume before ",
            account.capped.name
        ),
    ] {
        assert!(text.contains(&line), "the prompt lacks `{line}`:\n{text}");
    }
    assert!(
        !text.contains(":grey_question:"),
        "a horizon moto knows was reported unknown: {text}"
    );
    let id = prompt
        .button_value("cancel")
        .unwrap_or_else(|| panic!("the prompt has no Cancel button: {}", prompt.body));
    assert_eq!(
        prompt.button_value("confirm").as_deref(),
        Some(id.as_str()),
        "Confirm belongs to another request: {}",
        prompt.body
    );

    world.click("cancel", &id).await;

    // The prompt is replaced, and that is all.
    let replaced = world.next("response_url").await;
    assert_eq!(replaced.body["replace_original"], true, "{}", replaced.body);
    assert!(
        replaced.text().contains(&format!(
            "Cancelled by <@{USER}>: pause of `{function}` was not changed."
        )),
        "unexpected replacement of the prompt: {}",
        replaced.text()
    );
    world.quiet().await;

    for source in account.sources() {
        assert_eq!(
            moto.state(&source.uuid).await,
            "Enabled",
            "moto's view of {source:?} after the cancel"
        );
    }
}

//! Our own flow's costs against the simulator, for `bench/run` (Step 5, item 3).
//!
//! ```text
//! cargo run --release --example flow_costs -- [--out FILE] [--quick]
//!     [--budget 5] [--settle-n 200] [--settle-budget 5] [--settle-transition-ms 20000]
//!     [--probe-rate 20] [--lag-transitions 1.2,3.5,…] [--settle-cap-s 240]
//! ```
//!
//! Runs the real router and engine in process, as `serve` builds them (SQLite store in a temp
//! file, no policy, the default settle policy), against the embedded simulator served behind a
//! recording proxy (every AWS request timestamped), with a local stand-in for Slack that
//! timestamps every post. Every request is signed the way Slack signs it. Measures:
//!
//! 1. AWS calls for a pause of a function with one mapping, and of one with 20 mappings (command →
//!    prompt → Confirm → update → polls → follow-up), by operation;
//! 2. the lag from the simulated state flip (the update's arrival + the transition time) to the
//!    follow-up post, over transition times spread over 0.5–8 s (polls back off 1 s doubling to
//!    10 s, so the lag depends on where the flip falls between two polls);
//! 3. with `--settle-n` one-mapping functions paused at once: the ack latency of slash commands
//!    (`/lambda help`, at `--probe-rate` per second) while those settle waits are in flight, and
//!    the peak Lambda call rate in any 1 s (and 5 s) window against the configured
//!    `--settle-budget`.
//!
//! Prints a JSON document (also written to `--out`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use lambda_pause::clock::{SystemClock, unix_seconds};
use lambda_pause::demo::SlackSender;
use lambda_pause::lambda::Lambda;
use lambda_pause::secrets::{BotToken, SigningSecret};
use lambda_pause::server::{self, AppState};
use lambda_pause::sim::{SimConfig, Simulator};
use lambda_pause::slack::client::Slack;
use lambda_pause::slack::verify::Verifier;
use lambda_pause::store::SqliteStore;
use lambda_pause::workflow::{Engine, Settings};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

const USER: &str = "U0BENCH";
const CHANNEL: &str = "C0INCIDENT";

// ----- the recording proxy in front of the simulator -----------------------------------------

/// One AWS request as the proxy saw it arrive.
#[derive(Clone, Debug)]
struct Call {
    at: Instant,
    op: String,
    uuid: Option<String>,
}

impl Call {
    /// Lambda's control plane (what the pacer limits), as opposed to Kinesis/SQS reads.
    fn is_lambda(&self) -> bool {
        matches!(
            self.op.as_str(),
            "ListEventSourceMappings" | "GetEventSourceMapping" | "UpdateEventSourceMapping"
        )
    }
}

type CallLog = Arc<Mutex<Vec<Call>>>;

fn classify(req: &Request) -> (String, Option<String>) {
    if let Some(target) = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let op = target.rsplit('.').next().unwrap_or(target);
        return (op.to_owned(), None);
    }
    let path = req.uri().path();
    let rest = path
        .strip_prefix("/2015-03-31/event-source-mappings")
        .unwrap_or("?");
    let label = rest.trim_matches('/');
    let method = req.method().as_str();
    match (method, label.is_empty()) {
        ("GET", true) => ("ListEventSourceMappings".into(), None),
        ("GET", false) => ("GetEventSourceMapping".into(), Some(label.to_owned())),
        ("PUT", false) => ("UpdateEventSourceMapping".into(), Some(label.to_owned())),
        _ => (format!("{method} {path}"), None),
    }
}

async fn record(State(log): State<CallLog>, req: Request, next: Next) -> Response {
    let (op, uuid) = classify(&req);
    log.lock().unwrap().push(Call {
        at: Instant::now(),
        op,
        uuid,
    });
    next.run(req).await
}

// ----- the stand-in Slack ----------------------------------------------------------------------

/// Something the bot sent to Slack, when it arrived.
#[derive(Clone, Debug)]
struct Event {
    at: Instant,
    /// The Web API method, or `response_url`.
    via: String,
    /// The `response_url` id (`/respond/{id}`), empty for Web API calls.
    id: String,
    body: Value,
}

impl Event {
    fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    fn button(&self, action_id: &str) -> Option<String> {
        self.body["blocks"].as_array()?.iter().find_map(|b| {
            b["elements"]
                .as_array()?
                .iter()
                .find(|e| e["action_id"] == action_id)
                .and_then(|e| e["value"].as_str())
                .map(str::to_owned)
        })
    }
}

#[derive(Clone)]
struct SlackState {
    tx: mpsc::UnboundedSender<Event>,
    ts: Arc<AtomicUsize>,
}

async fn slack_api(
    State(s): State<SlackState>,
    Path(method): Path<String>,
    body: Bytes,
) -> axum::Json<Value> {
    let at = Instant::now();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ts = format!(
        "{}.000100",
        1_733_230_000 + s.ts.fetch_add(1, Ordering::Relaxed)
    );
    let _ = s.tx.send(Event {
        at,
        via: method.clone(),
        id: String::new(),
        body,
    });
    axum::Json(match method.as_str() {
        "chat.postMessage" => {
            json!({"ok": true, "channel": CHANNEL, "ts": ts, "message": {"ts": ts, "text": ""}})
        }
        "chat.update" => json!({"ok": true, "channel": CHANNEL, "ts": ts, "message": {"text": ""}}),
        _ => json!({"ok": true}),
    })
}

async fn slack_respond(
    State(s): State<SlackState>,
    Path(id): Path<String>,
    body: Bytes,
) -> &'static str {
    let at = Instant::now();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = s.tx.send(Event {
        at,
        via: "response_url".into(),
        id,
        body,
    });
    "ok"
}

// ----- one world: simulator + proxy + stand-in Slack + our server ------------------------------

struct World {
    sim: Simulator,
    calls: CallLog,
    events: mpsc::UnboundedReceiver<Event>,
    /// Events read from the channel but not yet claimed by a waiter.
    inbox: Vec<Event>,
    slack_base: String,
    sender: SlackSender,
}

async fn serve_on_loopback(router: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(base)
}

impl World {
    async fn start(
        budget: f64,
        transition: Duration,
        db_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let sim = Simulator::start(SimConfig {
            transition_time: transition,
            ..SimConfig::default()
        })
        .await?;
        let calls: CallLog = Arc::default();
        let proxy = sim
            .router()
            .layer(middleware::from_fn_with_state(calls.clone(), record));
        let aws_url = serve_on_loopback(proxy).await?;

        let (tx, events) = mpsc::unbounded_channel();
        let slack_app = Router::new()
            .route("/api/{method}", post(slack_api))
            .route("/respond/{id}", post(slack_respond))
            .with_state(SlackState {
                tx,
                ts: Arc::default(),
            });
        let slack_base = serve_on_loopback(slack_app).await?;

        let secret = SigningSecret::new(format!(
            "bench-{}",
            unix_seconds(std::time::SystemTime::now())
        ));
        let db = db_dir.join(format!("flow-{}.db", budget));
        let _ = std::fs::remove_file(&db);
        let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
            .await
            .map_err(|e| anyhow::anyhow!("store: {e}"))?;
        let clock = Arc::new(SystemClock);
        // As `serve` builds it with no flags: default settings, no policy file.
        let engine = Engine::new(
            Arc::new(store),
            Slack::new(&format!("{slack_base}/api/"), &BotToken::new("xoxb-bench"))?,
            Lambda::for_endpoint(&aws_url, "us-east-1")
                .await
                .with_rate_limit(budget),
            clock.clone(),
            Settings::default(),
        );
        engine.recover().await;
        engine.spawn_sweeper();
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
        Ok(Self {
            sim,
            calls,
            events,
            inbox: Vec::new(),
            slack_base,
            sender: SlackSender::new(format!("http://{addr}"), secret),
        })
    }

    fn response_url(&self, id: &str) -> String {
        format!("{}/respond/{id}", self.slack_base)
    }

    fn mark(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn calls_since(&self, mark: usize) -> Vec<Call> {
        self.calls.lock().unwrap()[mark..].to_vec()
    }

    /// Waits for the first event matching `pred` (earlier unclaimed events included).
    async fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        pred: impl Fn(&Event) -> bool,
    ) -> anyhow::Result<Event> {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return Ok(self.inbox.remove(i));
        }
        let deadline = Instant::now() + within;
        loop {
            let ev = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .with_context(|| format!("timed out waiting for {what}"))?
                .context("stand-in Slack stopped")?;
            if pred(&ev) {
                return Ok(ev);
            }
            self.inbox.push(ev);
        }
    }

    /// `/lambda pause {function}` → prompt → Confirm → follow-up. Returns the follow-up's event.
    async fn pause(
        &mut self,
        function: &str,
        tag: &str,
        within: Duration,
    ) -> anyhow::Result<Event> {
        let reply = self
            .sender
            .command(
                USER,
                CHANNEL,
                &format!("pause {function}"),
                &self.response_url(tag),
            )
            .await?;
        ensure!(
            reply.status == 200,
            "pause command answered {}",
            reply.status
        );
        let tag_owned = tag.to_owned();
        let prompt = self
            .wait_for(within, "the prompt", |e| {
                e.via == "response_url" && e.id == tag_owned && e.button("confirm").is_some()
            })
            .await?;
        let id = prompt.button("confirm").unwrap_or_default();
        let reply = self
            .sender
            .click(
                USER,
                CHANNEL,
                "confirm",
                &id,
                &self.response_url(&format!("{tag}-click")),
            )
            .await?;
        ensure!(reply.status == 200, "confirm answered {}", reply.status);
        let needle = format!("`{function}`");
        self.wait_for(within, "the follow-up", |e| {
            e.via == "chat.postMessage" && e.text().contains(&needle)
        })
        .await
    }
}

// ----- statistics ---------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn by_op(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in calls {
        *m.entry(c.op.clone()).or_default() += 1;
    }
    m
}

/// Most calls in any window `[t, t + window)` starting at a call.
fn peak_in(calls: &[&Call], window: Duration) -> usize {
    let times: Vec<Instant> = calls.iter().map(|c| c.at).collect();
    let mut best = 0;
    let mut j = 0;
    for i in 0..times.len() {
        j = j.max(i);
        while j < times.len() && times[j] < times[i] + window {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}

/// The instant the last of `calls`' updates flips (arrival + transition time).
fn last_flip(calls: &[Call], transition: Duration) -> Option<Instant> {
    calls
        .iter()
        .filter(|c| c.op == "UpdateEventSourceMapping")
        .map(|c| c.at + transition)
        .max()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        ms(later - earlier)
    } else {
        -ms(earlier - later)
    }
}

// ----- the scenarios --------------------------------------------------------------------------

/// AWS calls of one whole pause of a function with `n` Kinesis mappings.
async fn pause_cost(w: &mut World, n: usize, transition: Duration) -> anyhow::Result<Value> {
    let function = format!("cost-{n}-fn");
    for i in 0..n {
        w.sim.add_mapping(
            &function,
            &w.sim.kinesis_arn(&format!("cost-{n}-stream-{i}")),
            true,
        );
    }
    w.sim.set_transition_time(transition);
    let mark = w.mark();
    let started = Instant::now();
    let follow_up = w
        .pause(&function, &format!("cost-{n}"), Duration::from_secs(120))
        .await?;
    // Anything still in flight right after the follow-up counts too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = w.calls_since(mark);
    let lambda: Vec<&Call> = calls.iter().filter(|c| c.is_lambda()).collect();
    let flip = last_flip(&calls, transition);
    Ok(json!({
        "mappings": n,
        "transition_s": transition.as_secs_f64(),
        "aws_calls_total": calls.len(),
        "lambda_calls": lambda.len(),
        "by_operation": by_op(&calls),
        "command_to_follow_up_ms": ms(follow_up.at - started),
        "flip_to_follow_up_ms": flip.map(|f| signed_ms(follow_up.at, f)),
    }))
}

/// Flip → follow-up lag, one pause per transition time, one after another.
async fn lag_samples(w: &mut World, transitions: &[f64]) -> anyhow::Result<Value> {
    let mut samples = Vec::new();
    for (i, t) in transitions.iter().enumerate() {
        let transition = Duration::from_secs_f64(*t);
        let function = format!("lag-{i}-fn");
        w.sim
            .add_mapping(&function, &w.sim.kinesis_arn(&format!("lag-{i}")), true);
        w.sim.set_transition_time(transition);
        let mark = w.mark();
        let follow_up = w
            .pause(&function, &format!("lag-{i}"), Duration::from_secs(120))
            .await?;
        let calls = w.calls_since(mark);
        let flip = last_flip(&calls, transition).context("no update was sent")?;
        let update = flip - transition;
        let polls: Vec<f64> = calls
            .iter()
            .filter(|c| c.at > update && c.is_lambda() && c.op != "UpdateEventSourceMapping")
            .map(|c| (ms(c.at - update) * 10.0).round() / 10.0)
            .collect();
        samples.push(json!({
            "transition_s": t,
            "lag_ms": signed_ms(follow_up.at, flip),
            "polls_after_update": polls.len(),
            "poll_times_after_update_ms": polls,
            "follow_up_after_update_ms": ms(follow_up.at - update),
        }));
    }
    let lags = sorted(
        samples
            .iter()
            .filter_map(|s| s["lag_ms"].as_f64())
            .collect(),
    );
    Ok(json!({
        "median_ms": percentile(&lags, 50.0),
        "max_ms": lags.last(),
        "samples": samples,
    }))
}

/// `n` one-mapping functions paused at once, with ack probes while they settle.
async fn settle_storm(
    w: &mut World,
    n: usize,
    budget: f64,
    transition: Duration,
    probe_rate: f64,
    cap: Duration,
) -> anyhow::Result<Value> {
    let functions: Vec<String> = (0..n).map(|i| format!("storm-{i:03}-fn")).collect();
    let mut uuid_of: HashMap<String, String> = HashMap::new();
    for (i, f) in functions.iter().enumerate() {
        let uuid = w
            .sim
            .add_mapping(f, &w.sim.kinesis_arn(&format!("storm-{i:03}")), true);
        uuid_of.insert(f.clone(), uuid);
    }
    w.sim.set_transition_time(transition);
    let mark = w.mark();
    let started = Instant::now();
    let deadline = started + cap;

    // Every command at once (each ack is immediate; the lookups queue at the pacer).
    let mut sends = Vec::new();
    for (i, f) in functions.iter().enumerate() {
        let sender = w.sender.clone();
        let url = w.response_url(&format!("storm-{i:03}"));
        let text = format!("pause {f}");
        sends.push(tokio::spawn(async move {
            sender.command(USER, CHANNEL, &text, &url).await
        }));
    }
    for s in sends {
        let reply = s.await??;
        ensure!(
            reply.status == 200,
            "a storm command answered {}",
            reply.status
        );
    }
    // Every prompt first, so that all the settle waits start together.
    let mut prompts: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    while prompts.len() < n {
        let ev = w
            .wait_for(deadline - Instant::now(), "the storm's prompts", |e| {
                e.via == "response_url"
                    && e.id.starts_with("storm-")
                    && e.button("confirm").is_some()
            })
            .await?;
        if seen.insert(ev.id.clone()) {
            prompts.push((ev.id.clone(), ev.button("confirm").unwrap_or_default()));
        }
    }
    let prompts_after = started.elapsed();
    let confirm_started = Instant::now();

    // Ack probes: `/lambda help`, at a fixed rate, each with the number of settle waits in flight.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(tokio::sync::Notify::new());
    let probes = {
        let sender = w.sender.clone();
        let in_flight = in_flight.clone();
        let stop = stop.clone();
        let base = w.response_url("probe");
        tokio::spawn(async move {
            let mut out: Vec<(f64, u16, usize)> = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / probe_rate));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut handles = Vec::new();
            let mut k = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.notified() => break,
                }
                k += 1;
                let sender = sender.clone();
                let url = format!("{base}-{k}");
                let flying = in_flight.load(Ordering::Relaxed);
                handles.push(tokio::spawn(async move {
                    let t = Instant::now();
                    let r = sender.command(USER, CHANNEL, "help", &url).await;
                    (ms(t.elapsed()), r.map(|r| r.status).unwrap_or(0), flying)
                }));
            }
            for h in handles {
                if let Ok(v) = h.await {
                    out.push(v);
                }
            }
            out
        })
    };

    // Confirm them all at once; count follow-ups.
    in_flight.store(n, Ordering::Relaxed);
    let mut clicks = Vec::new();
    for (tag, id) in prompts {
        let sender = w.sender.clone();
        let url = w.response_url(&format!("{tag}-click"));
        clicks.push(tokio::spawn(async move {
            let r = sender.click(USER, CHANNEL, "confirm", &id, &url).await;
            r.map(|r| r.status).unwrap_or(0)
        }));
    }
    let mut follow_ups: HashMap<String, Instant> = HashMap::new();
    let mut first_follow_up: Option<Instant> = None;
    let mut pending_inbox = std::mem::take(&mut w.inbox);
    while follow_ups.len() < n {
        let ev = if let Some(ev) = pending_inbox.pop() {
            ev
        } else {
            match tokio::time::timeout_at(deadline, w.events.recv()).await {
                Ok(Some(ev)) => ev,
                _ => break,
            }
        };
        if ev.via == "chat.postMessage"
            && let Some(f) = functions
                .iter()
                .find(|f| ev.text().contains(&format!("`{f}`")))
            && !follow_ups.contains_key(f)
        {
            follow_ups.insert(f.clone(), ev.at);
            first_follow_up.get_or_insert(ev.at);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let finished = Instant::now();
    stop.notify_one();
    let probes = probes.await?;
    let mut click_failures = 0;
    for c in clicks {
        if c.await? != 200 {
            click_failures += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = w.calls_since(mark);
    let lambda: Vec<&Call> = calls.iter().filter(|c| c.is_lambda()).collect();
    let all: Vec<&Call> = calls.iter().collect();
    let busy_s = match (lambda.first(), lambda.last()) {
        (Some(a), Some(b)) if b.at > a.at => (b.at - a.at).as_secs_f64(),
        _ => 0.0,
    };
    let lat_all = sorted(probes.iter().map(|p| p.0).collect());
    let lat_full = sorted(probes.iter().filter(|p| p.2 >= n).map(|p| p.0).collect());
    let lat_busy = sorted(probes.iter().filter(|p| p.2 > 0).map(|p| p.0).collect());
    let probe_non_200 = probes.iter().filter(|p| p.1 != 200).count();
    // Flip → follow-up lag under load.
    let mut update_at: HashMap<String, Instant> = HashMap::new();
    for c in &calls {
        if c.op == "UpdateEventSourceMapping"
            && let Some(u) = &c.uuid
        {
            update_at.entry(u.clone()).or_insert(c.at);
        }
    }
    let lags = sorted(
        follow_ups
            .iter()
            .filter_map(|(f, at)| {
                let flip = *update_at.get(uuid_of.get(f)?)? + transition;
                Some(signed_ms(*at, flip))
            })
            .collect(),
    );
    let peak_lambda = peak_in(&lambda, Duration::from_secs(1));
    let peak_lambda_5s = peak_in(&lambda, Duration::from_secs(5)) as f64 / 5.0;
    Ok(json!({
        "requests": n,
        "budget_calls_per_s": budget,
        "transition_s": transition.as_secs_f64(),
        "completed": follow_ups.len(),
        "prompts_after_s": prompts_after.as_secs_f64(),
        "all_in_flight_for_s": first_follow_up.map(|t| (t - confirm_started).as_secs_f64()),
        "settle_phase_s": (finished - confirm_started).as_secs_f64(),
        "duration_s": (finished - started).as_secs_f64(),
        "click_failures": click_failures,
        "aws_calls_total": calls.len(),
        "by_operation": by_op(&calls),
        "lambda_calls_per_request": lambda.len() as f64 / n.max(1) as f64,
        "peak_lambda_calls_in_1s": peak_lambda,
        "peak_lambda_calls_per_s_over_5s": peak_lambda_5s,
        "peak_all_aws_calls_in_1s": peak_in(&all, Duration::from_secs(1)),
        "mean_lambda_calls_per_s": if busy_s > 0.0 { lambda.len() as f64 / busy_s } else { 0.0 },
        // The pacer spaces calls exactly 1/budget apart; their arrival here jitters by a few ms,
        // so a window may catch one call more than budget × its length, never two.
        "within_budget": (peak_lambda as f64) <= budget.floor() + 1.0
            && peak_lambda_5s * 5.0 <= (budget * 5.0).floor() + 1.0,
        "flip_to_follow_up_ms": {"median": percentile(&lags, 50.0), "p99": percentile(&lags, 99.0), "max": lags.last()},
        "ack_probe": {
            "command": "/lambda help",
            "rate_per_s": probe_rate,
            "count": probes.len(),
            "non_200": probe_non_200,
            "p50_ms": percentile(&lat_all, 50.0),
            "p99_ms": percentile(&lat_all, 99.0),
            "max_ms": lat_all.last(),
            "while_some_in_flight": {"count": lat_busy.len(), "p50_ms": percentile(&lat_busy, 50.0), "p99_ms": percentile(&lat_busy, 99.0)},
            "while_all_in_flight": {"count": lat_full.len(), "p50_ms": percentile(&lat_full, 50.0), "p99_ms": percentile(&lat_full, 99.0)},
        },
    }))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn num(args: &[String], name: &str, default: f64) -> anyhow::Result<f64> {
    match arg(args, name) {
        Some(s) => s.parse().with_context(|| format!("{name} {s}")),
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "{}",
            include_str!("flow_costs.rs")
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let budget = num(&args, "--budget", 5.0)?;
    let settle_n = num(&args, "--settle-n", if quick { 50.0 } else { 200.0 })? as usize;
    let settle_budget = num(&args, "--settle-budget", budget)?;
    let default_transition_ms = if quick { 8000.0 } else { 20000.0 };
    let settle_transition = Duration::from_secs_f64(
        num(&args, "--settle-transition-ms", default_transition_ms)? / 1000.0,
    );
    let probe_rate = num(&args, "--probe-rate", 20.0)?;
    let cap = Duration::from_secs_f64(num(
        &args,
        "--settle-cap-s",
        if quick { 90.0 } else { 240.0 },
    )?);
    let transitions: Vec<f64> = match arg(&args, "--lag-transitions") {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()?,
        // Spread evenly over 0.5–8 s by the golden ratio, so flips fall at every phase between
        // two polls rather than on them.
        None => (0..if quick { 4 } else { 10 })
            .map(|i| {
                let phase = (0.5 + f64::from(i) * 0.618_033_988_7).fract();
                ((0.5 + 7.5 * phase) * 100.0).round() / 100.0
            })
            .collect(),
    };
    if settle_budget <= 0.0 || budget <= 0.0 {
        bail!("budgets must be positive");
    }
    let tmp = std::env::temp_dir().join(format!("lambda-pause-flow-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;

    let t0 = Instant::now();
    eprintln!("flow_costs: pause costs (budget {budget}/s)…");
    let mut w = World::start(budget, Duration::from_secs(2), &tmp).await?;
    let one = pause_cost(&mut w, 1, Duration::from_secs(2)).await?;
    let twenty = pause_cost(&mut w, 20, Duration::from_secs(2)).await?;
    eprintln!(
        "flow_costs: flip → follow-up lag over {} transition times…",
        transitions.len()
    );
    let lag = lag_samples(&mut w, &transitions).await?;
    drop(w);
    eprintln!(
        "flow_costs: {settle_n} pauses settling at once (budget {settle_budget}/s, transition {:?})…",
        settle_transition
    );
    let mut w = World::start(settle_budget, settle_transition, &tmp).await?;
    let storm = settle_storm(
        &mut w,
        settle_n,
        settle_budget,
        settle_transition,
        probe_rate,
        cap,
    )
    .await?;
    let _ = std::fs::remove_dir_all(&tmp);

    let out = json!({
        "pause_1_mapping": one,
        "pause_20_mappings": twenty,
        "flip_to_follow_up": lag,
        "settle_storm": storm,
        "elapsed_s": t0.elapsed().as_secs_f64(),
    });
    let text = serde_json::to_string_pretty(&out)?;
    println!("{text}");
    if let Some(path) = arg(&args, "--out") {
        std::fs::write(&path, &text).with_context(|| format!("writing {path}"))?;
    }
    Ok(())
}

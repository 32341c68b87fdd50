//! The load test of `bench/load`: signed `/lambda help` and `/lambda status orders-fn` commands at a
//! fixed rate against the real `lambda-pause serve` binary, on loopback only, bounded in count.
//!
//! ```text
//! cargo run --release --example load -- --bin target/release/lambda-pause [--rate 2000] [--seconds 20] [--server-cpu 0]
//! ```
//!
//! In this process: the Lambda simulator (counting AWS calls) and a stand-in Slack that takes the
//! status answers sent to `response_url`. The server runs as its own process (pinned to
//! `--server-cpu` with `taskset` when given). The load is open-loop: each request has a scheduled
//! send time, and its latency counts from then, so a stalled server cannot hide its queueing.
//! Two phases of the same load show whether memory stays flat. Prints a report and writes it as
//! JSON to `--out` (default `target/bench/load.json`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_pause::secrets::SigningSecret;
use lambda_pause::sim::{SimConfig, Simulator};
use lambda_pause::slack::verify::sign;
use serde_json::json;

const SECRET: &str = "load-test-signing-secret";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Phase {
    sent: usize,
    ok: usize,
    failed: usize,
    statuses: usize,
    answered_in_ack: usize,
    latencies_us: Vec<u64>,
    achieved_rate: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = arg(&args, "--bin").unwrap_or_else(|| "target/release/lambda-pause".into());
    let rate: u64 = arg(&args, "--rate")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2000);
    let seconds: u64 = arg(&args, "--seconds")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20);
    let server_cpu = arg(&args, "--server-cpu");
    let out = arg(&args, "--out").unwrap_or_else(|| "target/bench/load.json".into());

    // The outside world: Lambda (simulated) and Slack's response_url (a counter).
    let sim = Simulator::start(SimConfig::default()).await?;
    sim.add_mapping("orders-fn", &sim.kinesis_arn("orders"), true);
    let answers = Arc::new(AtomicUsize::new(0));
    let sink = {
        let answers = Arc::clone(&answers);
        axum::Router::new().fallback(move |body: Bytes| {
            let answers = Arc::clone(&answers);
            async move {
                if body.windows(8).any(|w| w == b"orders-f") {
                    answers.fetch_add(1, Ordering::Relaxed);
                }
                axum::Json(json!({"ok": true}))
            }
        })
    };
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}", sink_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(sink_listener, sink).await });

    // The server, as deployed (no policy file; a fresh database).
    let dir = std::env::temp_dir().join(format!("lambda-pause-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut cmd = match &server_cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpu, &bin]);
            c
        }
        None => Command::new(&bin),
    };
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_BOT_TOKEN", "xoxb-load-test")
        .env("SLACK_API_URL", format!("{sink_url}/api/"))
        .env("AWS_ENDPOINT_URL_LAMBDA", sim.endpoint_url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDLOAD")
        .env("AWS_SECRET_ACCESS_KEY", "load")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(
            "LAMBDA_PAUSE_DB",
            format!("sqlite://{}/load.db", dir.display()),
        )
        .env("RUST_LOG", "warn")
        .env_remove("LAMBDA_PAUSE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await??;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow::anyhow!("serve printed {line:?}"))?
        .to_owned();
    let pid = child.id();
    let base = format!("http://{addr}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = rss_kb(pid);

    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(512)
        .build_http();
    let secret = SigningSecret::new(SECRET);
    let mut phases = Vec::new();
    let mut rss_after = Vec::new();
    let seq = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        phases.push(run_phase(&http, &base, &secret, &sink_url, rate, seconds, &seq).await);
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_after.push(rss_kb(pid));
    }
    // Let the last answers land.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let aws_calls = sim.calls().len();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let statuses: usize = phases.iter().map(|p| p.statuses).sum();
    let in_ack: usize = phases.iter().map(|p| p.answered_in_ack).sum();
    let via_url = answers.load(Ordering::Relaxed);
    let mut report = Vec::new();
    for (i, p) in phases.iter_mut().enumerate() {
        p.latencies_us.sort_unstable();
        report.push(json!({
            "phase": i + 1,
            "target_rate": rate,
            "achieved_rate": (p.achieved_rate * 10.0).round() / 10.0,
            "sent": p.sent,
            "ok": p.ok,
            "failed": p.failed,
            "p50_ms": percentile(&p.latencies_us, 0.50),
            "p99_ms": percentile(&p.latencies_us, 0.99),
            "max_ms": percentile(&p.latencies_us, 1.0),
            "rss_after_mb": rss_after[i] as f64 / 1024.0,
        }));
    }
    let result = json!({
        "rate": rate,
        "seconds_per_phase": seconds,
        "rss_idle_mb": rss_idle as f64 / 1024.0,
        "phases": report,
        "statuses": statuses,
        "status_answers_in_ack": in_ack,
        "status_answers_via_response_url": via_url,
        "aws_calls": aws_calls,
    });
    if let Some(parent) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&result)?)?;
    println!(
        "load test: signed /lambda help + /lambda status orders-fn, {rate}/s for {seconds} s, twice"
    );
    println!("  idle RSS {:.1} MB", rss_idle as f64 / 1024.0);
    for r in result["phases"].as_array().unwrap() {
        println!(
            "  phase {}: {} sent, {} ok, {} failed, {}/s achieved, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, RSS after {:.1} MB",
            r["phase"],
            r["sent"],
            r["ok"],
            r["failed"],
            r["achieved_rate"],
            r["p50_ms"].as_f64().unwrap_or(0.0),
            r["p99_ms"].as_f64().unwrap_or(0.0),
            r["max_ms"].as_f64().unwrap_or(0.0),
            r["rss_after_mb"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "  statuses {statuses}: {in_ack} answered in the ack, {via_url} through response_url; AWS calls: {aws_calls}"
    );
    println!("  written to {out}");
    let failed: usize = phases.iter().map(|p| p.failed).sum();
    anyhow::ensure!(failed == 0, "{failed} acks failed");
    anyhow::ensure!(
        in_ack + via_url == statuses,
        "{} statuses got no answer",
        statuses.saturating_sub(in_ack + via_url)
    );
    Ok(())
}

async fn run_phase(
    http: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    base: &str,
    secret: &SigningSecret,
    sink_url: &str,
    rate: u64,
    seconds: u64,
    seq: &Arc<AtomicUsize>,
) -> Phase {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        }
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let status = n % 2 == 1;
        let text = if status { "status orders-fn" } else { "help" };
        let body = lambda_pause::demo::SlackSender::command_form(
            "U0LOAD",
            "C0LOAD",
            text,
            &format!("{sink_url}/respond/{n}"),
        );
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            .to_string();
        let signature = sign(secret, &ts, &body);
        let request = axum::http::Request::post(format!("{base}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let http = http.clone();
        tasks.spawn(async move {
            let outcome = match http.request(request).await {
                Ok(res) if res.status().is_success() => {
                    let body = res.into_body().collect().await.map(|b| b.to_bytes());
                    let answered = body
                        .as_ref()
                        .is_ok_and(|b| b.windows(9).any(|w| w == b"(Kinesis "));
                    Ok(answered)
                }
                Ok(res) => Err(res.status().as_u16()),
                Err(_) => Err(0),
            };
            (status, outcome, due.elapsed().as_micros() as u64)
        });
    }
    let sent_in = start.elapsed();
    let mut phase = Phase {
        sent: total,
        ok: 0,
        failed: 0,
        statuses: 0,
        answered_in_ack: 0,
        latencies_us: Vec::with_capacity(total),
        achieved_rate: total as f64 / sent_in.as_secs_f64(),
    };
    while let Some(done) = tasks.join_next().await {
        let (status, outcome, latency) = done.expect("task");
        phase.latencies_us.push(latency);
        if status {
            phase.statuses += 1;
        }
        match outcome {
            Ok(answered) => {
                phase.ok += 1;
                if status && answered {
                    phase.answered_in_ack += 1;
                }
            }
            Err(_) => phase.failed += 1,
        }
    }
    phase
}

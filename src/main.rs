//! The `lambda-pause` command line: serve | demo | pause | resume | status.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use lambda_pause::clock::SystemClock;
use lambda_pause::command::{Action, FunctionRef, Region, SourceRef, parse_duration};
use lambda_pause::lambda::apply::SettlePolicy;
use lambda_pause::lambda::{DEFAULT_CALLS_PER_SECOND, Lambda};
use lambda_pause::policy::Policy;
use lambda_pause::secrets::{BotToken, SigningSecret};
use lambda_pause::server::{self, AppState};
use lambda_pause::slack::client::{DEFAULT_API_URL, Slack};
use lambda_pause::slack::verify::Verifier;
use lambda_pause::store::{SqliteStore, Store};
use lambda_pause::workflow::{Engine, Settings};
use lambda_pause::{demo, terminal};

#[derive(Parser)]
#[command(
    name = "lambda-pause",
    version,
    about = "Pause and resume AWS Lambda event source mappings, safely, from Slack"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the Slack HTTP endpoint (the production job).
    Serve(ServeArgs),
    /// Play the whole flow locally: the real server, a simulated Lambda, a stand-in Slack.
    Demo,
    /// Pause a function's event source mappings from a terminal.
    Pause(OpArgs),
    /// Resume a function's event source mappings from a terminal.
    Resume(OpArgs),
    /// Show a function's event source mappings and their state.
    Status(StatusArgs),
    /// Validate a policy file and print the effective rules.
    CheckConfig {
        /// The policy file (TOML).
        file: std::path::PathBuf,
    },
    /// Export the audit trail.
    Audit(AuditArgs),
}

#[derive(Args)]
struct AuditArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: AuditFormat,
    /// Only events since: a date (2026-12-03), a date-time (2026-12-03T14:00:00Z), unix seconds, or a duration ago (7d).
    #[arg(long)]
    since: Option<String>,
    /// Only this function (bare name).
    #[arg(long)]
    function: Option<String>,
    /// The database to read.
    #[arg(long, env = "LAMBDA_PAUSE_DB", default_value = DEFAULT_DB)]
    db: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditFormat {
    Jsonl,
    Csv,
}

/// The embedded default store.
const DEFAULT_DB: &str = "sqlite://lambda-pause.db";

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LAMBDA_PAUSE_LISTEN", default_value = "0.0.0.0:3000")]
    listen: String,
    /// Give up waiting for a mapping to settle after this long (e.g. 10m).
    #[arg(long, env = "LAMBDA_PAUSE_SETTLE_TIMEOUT", default_value = "10m", value_parser = duration)]
    settle_timeout: Duration,
    /// Lambda control-plane calls per second this process may make (the account allows 15 in total).
    #[arg(long, env = "LAMBDA_PAUSE_AWS_CALLS_PER_SECOND", default_value_t = DEFAULT_CALLS_PER_SECOND)]
    aws_calls_per_second: f64,
    /// The policy file (TOML); without one, everyone may pause and resume, with no approvals.
    #[arg(long, env = "LAMBDA_PAUSE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Where requests, approvals and the audit trail are kept.
    #[arg(long, env = "LAMBDA_PAUSE_DB", default_value = DEFAULT_DB)]
    db: String,
    /// While a mapping stays paused, remind at these percentages of its horizon.
    #[arg(long, env = "LAMBDA_PAUSE_REMINDERS", default_value = "50,80,95", value_parser = percents)]
    reminders: Percents,
    /// Log format on stderr.
    #[arg(
        long,
        env = "LAMBDA_PAUSE_LOG_FORMAT",
        value_enum,
        default_value = "json"
    )]
    log_format: LogFormat,
    /// How often paused mappings are compared with AWS for changes made outside the bot.
    #[arg(long, env = "LAMBDA_PAUSE_DRIFT_INTERVAL", default_value = "5m", value_parser = duration)]
    drift_interval: Duration,
}

/// Reminder thresholds, e.g. `50,80,95`.
#[derive(Clone, Debug)]
struct Percents(Vec<u8>);

fn percents(s: &str) -> Result<Percents, String> {
    let mut list = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.trim_end_matches('%').parse::<u8>() {
            Ok(p) if (1..=99).contains(&p) => list.push(p),
            _ => return Err(format!("`{part}` is not a percentage between 1 and 99")),
        }
    }
    list.sort_unstable();
    list.dedup();
    Ok(Percents(list))
}

#[derive(Args)]
struct OpArgs {
    /// Function name, name:alias, or ARN.
    function: String,
    /// Source: stream/table/queue/topic name, event source ARN, or mapping UUID. Omit for all.
    source: Option<String>,
    /// AWS region (default: the SDK chain's).
    #[arg(long)]
    region: Option<String>,
    /// Don't ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Why (shown in the output).
    #[arg(long)]
    reason: Option<String>,
    /// Give up waiting for the state to settle after this long.
    #[arg(long, env = "LAMBDA_PAUSE_SETTLE_TIMEOUT", default_value = "10m", value_parser = duration)]
    settle_timeout: Duration,
}

#[derive(Args)]
struct StatusArgs {
    function: String,
    source: Option<String>,
    #[arg(long)]
    region: Option<String>,
}

fn duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration (like 90s, 10m, 1h30m)"))
}

fn init_logging(default: &str) {
    init_logging_as(default, LogFormat::Text);
}

/// Log lines on stderr: `text` for people, `json` (one object per line, with span fields such as
/// `request_id`) for log pipelines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging_as(default: &str, format: LogFormat) {
    lambda_pause::logging::init(
        default,
        match format {
            LogFormat::Text => lambda_pause::logging::LogFormat::Text,
            LogFormat::Json => lambda_pause::logging::LogFormat::Json,
        },
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Serve(args) => {
            init_logging_as("info,tower_http=info", args.log_format);
            serve(args).await.map(|()| 0)
        }
        Cmd::Demo => {
            init_logging("warn");
            demo::run().await.map(|ok| if ok { 0 } else { 1 })
        }
        Cmd::Pause(args) => operate(Action::Pause, args).await,
        Cmd::Resume(args) => operate(Action::Resume, args).await,
        Cmd::Status(args) => status(args).await,
        Cmd::CheckConfig { file } => check_config(&file),
        Cmd::Audit(args) => audit(args).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("lambda-pause: {err:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let secrets =
        SigningSecret::parse_list(&std::env::var("SLACK_SIGNING_SECRET").unwrap_or_default());
    anyhow::ensure!(
        !secrets.is_empty(),
        "SLACK_SIGNING_SECRET is required (one secret, or several separated by commas)"
    );
    let token = std::env::var("SLACK_BOT_TOKEN").unwrap_or_default();
    if token.is_empty() {
        tracing::warn!(
            "SLACK_BOT_TOKEN is not set: channel follow-ups will fall back to response_url"
        );
    }
    let api_url = std::env::var("SLACK_API_URL").unwrap_or_else(|_| DEFAULT_API_URL.to_owned());
    let slack = Slack::new(&api_url, &BotToken::new(token)).context("SLACK_API_URL")?;
    let policy = match &args.config {
        Some(path) => {
            Policy::load(path).map_err(|e| anyhow::anyhow!("invalid policy file: {e}"))?
        }
        None => Policy::allow_all(),
    };
    if policy.is_allow_all() {
        tracing::warn!(
            "no policy file: every member of the workspace may pause and resume any function the AWS role can reach, with their own confirmation and no approvals"
        );
    } else {
        tracing::info!(file = ?args.config, rules = policy.rules.len(), "policy loaded");
    }
    let store = SqliteStore::open(&args.db)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", args.db))?;
    let lambda = Lambda::from_env(policy.region.clone())
        .await
        .with_rate_limit(args.aws_calls_per_second);
    let settings = Settings {
        settle: SettlePolicy {
            timeout: args.settle_timeout,
            ..SettlePolicy::default()
        },
        policy: Arc::new(policy),
        reminder_percents: args.reminders.0.clone(),
        app_id: std::env::var("SLACK_APP_ID")
            .ok()
            .filter(|a| !a.trim().is_empty()),
        drift_interval: args.drift_interval,
        ..Settings::default()
    };
    let clock = Arc::new(SystemClock);
    let engine = Engine::new(Arc::new(store), slack, lambda, clock.clone(), settings);
    engine.recover().await;
    engine.spawn_sweeper();
    let state = AppState {
        verifier: Arc::new(Verifier::new(secrets, clock)),
        engine: Arc::clone(&engine),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = shutdown_signal();
    println!("listening on {addr}");
    tracing::info!(%addr, "listening");
    server::serve(listener, server::router(state), shutdown).await?;
    // Acks are all answered. Short work they handed over (lookups, prompts, clicks) gets a few
    // seconds; every longer step (settle waits, approvals, schedules) is in the store already
    // and is picked up by the next start.
    engine.drain_work(SHUTDOWN_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

/// How long a stopping `serve` waits for short work handed over by requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Listens for SIGINT and SIGTERM from the call on (so a signal sent right after "listening on"
/// is never missed); the future resolves on the first one.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}

async fn operate(action: Action, args: OpArgs) -> anyhow::Result<u8> {
    init_logging("warn");
    let op = match terminal::operation(
        action,
        &args.function,
        args.source.as_deref(),
        args.region.as_deref(),
        args.reason,
    ) {
        Ok(op) => op,
        Err(problem) => {
            eprintln!("lambda-pause: {problem}. Nothing was changed.");
            return Ok(terminal::exit::NOTHING_CHANGED);
        }
    };
    let lambda = Lambda::from_env(None).await;
    let policy = SettlePolicy {
        timeout: args.settle_timeout,
        ..SettlePolicy::default()
    };
    let stdin = std::io::stdin();
    let code = terminal::run(
        &op,
        args.yes,
        &lambda,
        &policy,
        &mut std::io::stdout(),
        &mut stdin.lock(),
    )
    .await?;
    Ok(code)
}

async fn status(args: StatusArgs) -> anyhow::Result<u8> {
    init_logging("warn");
    let function = FunctionRef::parse(&args.function)
        .map_err(|p| anyhow::anyhow!("invalid function `{}`: {p:?}", args.function))?;
    let source = args
        .source
        .as_deref()
        .map(SourceRef::parse)
        .transpose()
        .map_err(|p| anyhow::anyhow!("invalid source: {p:?}"))?;
    let region = args
        .region
        .as_deref()
        .map(|r| Region::parse(r).ok_or_else(|| anyhow::anyhow!("invalid region `{r}`")))
        .transpose()?;
    let lambda = Lambda::from_env(None).await;
    Ok(terminal::status(
        &function,
        source.as_ref(),
        region.as_ref(),
        &lambda,
        &SettlePolicy::default(),
        &mut std::io::stdout(),
    )
    .await?)
}

fn check_config(file: &std::path::Path) -> anyhow::Result<u8> {
    match Policy::load(file) {
        Ok(policy) => {
            println!("{}", policy.describe());
            Ok(0)
        }
        Err(err) => {
            eprintln!("{err}");
            Ok(1)
        }
    }
}

async fn audit(args: AuditArgs) -> anyhow::Result<u8> {
    use std::io::Write;
    init_logging("warn");
    let now = lambda_pause::clock::unix_seconds(std::time::SystemTime::now());
    let since = match args.since.as_deref() {
        Some(s) => Some(lambda_pause::audit::parse_since(s, now).ok_or_else(|| anyhow::anyhow!("--since `{s}`: use a date (2026-12-03), a date-time (2026-12-03T14:00:00Z), unix seconds, or a duration ago (7d)"))?),
        None => None,
    };
    let store = SqliteStore::open(&args.db)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", args.db))?;
    let events = store
        .audit(&lambda_pause::audit::AuditQuery {
            function: args.function,
            since,
            limit: None,
        })
        .await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        AuditFormat::Jsonl => {
            for e in &events {
                serde_json::to_writer(&mut out, e)?;
                writeln!(out)?;
            }
        }
        AuditFormat::Csv => {
            writeln!(out, "{}", lambda_pause::audit::CSV_HEADER)?;
            for e in &events {
                writeln!(out, "{}", lambda_pause::audit::to_csv(e))?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

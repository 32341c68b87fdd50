//! The binary as deployed: `serve` prints where it listens, answers /healthz, and stops cleanly on SIGTERM/SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use lambda_pause::sim::{SimConfig, Simulator};

fn serve_command(sim_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lambda-pause"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("SLACK_SIGNING_SECRET", "new-secret,old-secret")
        .env("SLACK_BOT_TOKEN", "xoxb-process-test")
        .env("SLACK_API_URL", "http://127.0.0.1:9/api/")
        .env("AWS_ENDPOINT_URL_LAMBDA", sim_url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("LAMBDA_PAUSE_LISTEN")
        .env_remove("LAMBDA_PAUSE_CONFIG")
        .env("LAMBDA_PAUSE_DB", "sqlite::memory:")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

async fn get(url: &str) -> u16 {
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    client
        .get(url.parse().unwrap())
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn serve_listens_answers_and_stops_cleanly_on_signals() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    for signal in ["TERM", "INT"] {
        let (child, addr) = spawn_serve(&mut serve_command(&sim.endpoint_url())).await;
        assert!(!addr.ends_with(":0"), "the bound port is printed: {addr}");
        assert_eq!(get(&format!("http://{addr}/healthz")).await, 200);

        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "exit after SIG{signal}: {:?}",
            out.status
        );
        let logs = String::from_utf8_lossy(&out.stderr);
        assert!(
            logs.contains("no policy file: every member of the workspace may pause and resume"),
            "{logs}"
        );
        for secret in ["new-secret", "old-secret", "xoxb-process-test"] {
            assert!(
                !logs.contains(secret),
                "a secret leaked into the logs: {logs}"
            );
        }
    }
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_signing_secret() {
    let out = serve_command("http://127.0.0.1:9")
        .env_remove("SLACK_SIGNING_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SLACK_SIGNING_SECRET is required"));
}

#[tokio::test]
async fn serve_refuses_a_bad_policy_file_naming_file_line_and_problem() {
    let dir = std::env::temp_dir().join(format!(
        "lambda-pause-policy-{}",
        lambda_pause::ids::RequestId::generate()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("policy.toml");
    std::fs::write(&file, "[slack]\napproval_timeout = \"1h\"\n\n[[rules]]\nfunctions = [\"orders-*\"]\nchannels = [\"#incidents\"]\napprovers = [\"U222\"]\n").unwrap();
    let out = serve_command("http://127.0.0.1:9")
        .arg("--config")
        .arg(&file)
        .arg("--db")
        .arg("sqlite::memory:")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:6:", file.display())),
        "file and line: {stderr}"
    );
    assert!(
        stderr.contains("rules[0].channels[0]: `#incidents` is not a Slack channel id"),
        "{stderr}"
    );

    // check-config says the same, and describes a valid file.
    let check = Command::new(env!("CARGO_BIN_EXE_lambda-pause"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains(":6:"));
    std::fs::write(
        &file,
        "[[rules]]\nfunctions = [\"orders-*\"]\napprovers = [\"U222\", \"S0LEADS\"]\n",
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_lambda-pause"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let described = String::from_utf8_lossy(&check.stdout);
    assert!(
        described.contains("Rule 1 (line 1):")
            && described.contains("functions: orders-*")
            && described.contains("approvers: U222, S0LEADS"),
        "{described}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_keeps_its_database_where_told() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "lambda-pause-db-{}",
        lambda_pause::ids::RequestId::generate()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.db");
    // spawn_serve fails unless the first line is "listening on …".
    let (mut child, _) = spawn_serve(
        serve_command(&sim.endpoint_url())
            .arg("--db")
            .arg(format!("sqlite://{}", db.display())),
    )
    .await;
    assert!(db.exists(), "the SQLite file is created at start");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(
        tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_full_pause_logs_json_with_request_ids_and_no_secret() {
    let sim = Simulator::start(SimConfig {
        transition_time: std::time::Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let uuid = sim.add_mapping("orders-fn", &sim.kinesis_arn("orders"), true);
    let slack = wiremock::MockServer::start().await;
    crate::support::mount_slack_defaults(&slack).await;
    let (child, addr) = spawn_serve(
        serve_command(&sim.endpoint_url())
            .env("SLACK_API_URL", format!("{}/api/", slack.uri()))
            .env("RUST_LOG", "debug"),
    )
    .await;
    let sender = lambda_pause::demo::SlackSender::new(
        format!("http://{addr}"),
        lambda_pause::secrets::SigningSecret::new("old-secret"),
    );
    let hook = format!("{}/respond/918273645", slack.uri());

    let reply = sender
        .command(
            "U0ALICE",
            "C0INCIDENT",
            "pause orders-fn -- private reason text",
            &hook,
        )
        .await
        .unwrap();
    assert_eq!(
        reply.status, 200,
        "the older of two rotating secrets still verifies"
    );
    let received = |path: &'static str| {
        let slack = &slack;
        async move {
            for _ in 0..500 {
                let found: Vec<serde_json::Value> = slack
                    .received_requests()
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r.url.path().contains(path))
                    .map(|r| serde_json::from_slice(&r.body).unwrap_or_default())
                    .collect();
                if !found.is_empty() {
                    return found;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            panic!("nothing sent to {path}");
        }
    };
    let prompt = received("/respond/").await.remove(0);
    let id = prompt["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| {
            b["elements"]
                .as_array()?
                .iter()
                .find(|e| e["action_id"] == "confirm")
                .and_then(|e| e["value"].as_str())
                .map(str::to_owned)
        })
        .unwrap();
    let reply = sender
        .click(
            "U0ALICE",
            "C0INCIDENT",
            "confirm",
            &id,
            &format!("{}/respond/918273646", slack.uri()),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let follow_up = received("/api/chat.postMessage").await.remove(0);
    assert!(follow_up["text"].as_str().unwrap().contains("*Disabled*"));
    assert_eq!(sim.mapping(&uuid).unwrap().state, "Disabled");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    for secret in [
        "new-secret",
        "old-secret",
        "xoxb-process-test",
        "918273645",
        "918273646",
        "legacy-verification-token",
        "payload=",
        "response_url=",
        "private reason text",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` appears in the logs:\n{}",
            logs.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
        .collect();
    let with_id = lines
        .iter()
        .filter(|l| {
            l["span"]["request_id"]
                .as_str()
                .is_some_and(|id| id.len() == 16)
        })
        .count();
    assert!(
        with_id >= 4,
        "request-scoped lines carry a request id ({with_id} did)"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "request recorded"
                && l["span"]["request_id"].is_string()),
        "the engine's work carries the request's id"
    );
}

/// Starts `serve` and returns it with the address it printed.
async fn spawn_serve(cmd: &mut Command) -> (std::process::Child, String) {
    let mut child = cmd.spawn().expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_owned();
    (child, addr)
}

#[tokio::test]
async fn sigkill_mid_settle_then_a_restart_posts_exactly_one_follow_up() {
    let sim = Simulator::start(SimConfig {
        transition_time: std::time::Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let uuid = sim.add_mapping("orders-fn", &sim.kinesis_arn("orders"), true);
    let slack = wiremock::MockServer::start().await;
    crate::support::mount_slack_defaults(&slack).await;
    let db = crate::support::TempDb::new();
    let serve = |sim: &Simulator| {
        let mut cmd = serve_command(&sim.endpoint_url());
        cmd.env("SLACK_API_URL", format!("{}/api/", slack.uri()))
            .env("LAMBDA_PAUSE_DB", db.url())
            .env("LAMBDA_PAUSE_LOG_FORMAT", "text");
        cmd
    };
    let (mut first, addr) = spawn_serve(&mut serve(&sim)).await;
    let sender = lambda_pause::demo::SlackSender::new(
        format!("http://{addr}"),
        lambda_pause::secrets::SigningSecret::new("new-secret"),
    );
    let posts = |route: &'static str| {
        let slack = &slack;
        async move {
            slack
                .received_requests()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.url.path().contains(route))
                .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_default())
                .collect::<Vec<_>>()
        }
    };
    sender
        .command(
            "U0ALICE",
            "C0INCIDENT",
            "pause orders-fn",
            &format!("{}/respond/1", slack.uri()),
        )
        .await
        .unwrap();
    let mut prompt = Vec::new();
    for _ in 0..500 {
        prompt = posts("/respond/1").await;
        if !prompt.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let id = prompt[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| {
            b["elements"]
                .as_array()?
                .iter()
                .find(|e| e["action_id"] == "confirm")
                .and_then(|e| e["value"].as_str())
                .map(str::to_owned)
        })
        .unwrap();
    // The mapping stays `Disabling` until we say: the bot is mid-settle when it is killed.
    sim.set_stuck(&uuid, true);
    sender
        .click(
            "U0ALICE",
            "C0INCIDENT",
            "confirm",
            &id,
            &format!("{}/respond/2", slack.uri()),
        )
        .await
        .unwrap();
    while sim.update_count(&uuid) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    assert!(
        posts("chat.postMessage").await.is_empty(),
        "not settled yet"
    );

    sim.set_stuck(&uuid, false);
    let (mut second, _) = spawn_serve(&mut serve(&sim)).await;
    let mut follow_ups = Vec::new();
    for _ in 0..500 {
        follow_ups = posts("chat.postMessage").await;
        if !follow_ups.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        follow_ups[0]["text"]
            .as_str()
            .unwrap()
            .contains("`orders-fn` is paused — requested by <@U0ALICE>"),
        "{}",
        follow_ups[0]
    );
    // Let the restarted process finish; still one follow-up and one update.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(second.wait().unwrap().success());
    assert_eq!(
        posts("chat.postMessage").await.len(),
        1,
        "exactly one follow-up"
    );
    assert_eq!(
        sim.update_count(&uuid),
        1,
        "the restart did not update again"
    );
    assert_eq!(sim.mapping(&uuid).unwrap().state, "Disabled");
}

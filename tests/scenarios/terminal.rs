//! Terminal mode (`lambda-pause pause|resume|status`): the same resolve → update → settle, with a y/N question.

use std::time::Duration;

use lambda_pause::command::Action;
use lambda_pause::lambda::Lambda;
use lambda_pause::sim::{SimConfig, Simulator};
use lambda_pause::terminal::{self, exit};

use crate::support::fast_settings;

async fn setup() -> (Simulator, Lambda, String, String) {
    let sim = Simulator::start(SimConfig {
        transition_time: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let a = sim.add_mapping("orders-fn", &sim.kinesis_arn("orders"), true);
    let b = sim.add_mapping("orders-fn", &sim.sqs_arn("orders-retry"), true);
    let lambda = Lambda::for_endpoint(&sim.endpoint_url(), "us-east-1").await;
    (sim, lambda, a, b)
}

async fn run(
    lambda: &Lambda,
    action: Action,
    function: &str,
    source: Option<&str>,
    yes: bool,
    answer: &str,
) -> (u8, String) {
    let op = terminal::operation(action, function, source, None, None).unwrap();
    let mut out = Vec::new();
    let mut input = answer.as_bytes();
    let code = terminal::run(
        &op,
        yes,
        lambda,
        &fast_settings().settle,
        &mut out,
        &mut input,
    )
    .await
    .unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn asks_then_pauses_and_waits_until_disabled() {
    let (sim, lambda, a, b) = setup().await;
    let (code, out) = run(
        &lambda,
        Action::Pause,
        "orders-fn",
        Some("orders"),
        false,
        "y\n",
    )
    .await;
    assert_eq!(code, exit::OK, "{out}");
    assert!(
        out.contains(&format!(
            "orders (Kinesis stream) — Enabled → Disabled — {a}"
        )),
        "{out}"
    );
    assert!(out.contains("Proceed? [y/N]"), "{out}");
    assert!(out.contains(&format!("orders ({a}): Disabled")), "{out}");
    assert_eq!(sim.mapping(&a).unwrap().state, "Disabled");
    assert_eq!(sim.mapping(&b).unwrap().state, "Enabled");

    let (code, out) = run(&lambda, Action::Resume, "orders-fn", None, true, "").await;
    assert_eq!(code, exit::OK, "{out}");
    assert!(!out.contains("Proceed?"), "--yes does not ask");
    assert!(out.contains("already Enabled: left as is"), "{out}");
    assert_eq!(sim.mapping(&a).unwrap().state, "Enabled");
    assert_eq!(sim.update_count(&b), 0);
}

#[tokio::test]
async fn anything_but_yes_changes_nothing() {
    let (sim, lambda, a, _) = setup().await;
    for answer in ["n\n", "\n", "", "yes please\n"] {
        let (code, out) = run(&lambda, Action::Pause, "orders-fn", None, false, answer).await;
        assert_eq!(code, exit::DECLINED, "{answer:?}: {out}");
        assert!(out.contains("Not confirmed. Nothing was changed."));
    }
    assert_eq!(sim.update_count(&a), 0);
}

#[tokio::test]
async fn unknown_function_and_bad_arguments_change_nothing() {
    let (sim, lambda, _, _) = setup().await;
    let (code, out) = run(&lambda, Action::Pause, "nope-fn", None, true, "").await;
    assert_eq!(code, exit::NOTHING_CHANGED);
    assert!(
        out.contains("nope-fn has no event source mappings in us-east-1"),
        "{out}"
    );
    let (code, out) = run(&lambda, Action::Pause, "orders-fn", Some("ordrs"), true, "").await;
    assert_eq!(code, exit::NOTHING_CHANGED);
    assert!(
        out.contains("No event source mapping of orders-fn matches ordrs"),
        "{out}"
    );
    assert!(terminal::operation(Action::Pause, "bad/name", None, None, None).is_err());
    assert!(terminal::operation(Action::Pause, "f", None, Some("moon"), None).is_err());
    assert!(
        sim.calls()
            .iter()
            .all(|c| c.operation == "ListEventSourceMappings")
    );
}

#[tokio::test]
async fn a_failed_update_exits_non_zero() {
    let (sim, lambda, _, _) = setup().await;
    sim.deny("UpdateEventSourceMapping");
    let (code, out) = run(
        &lambda,
        Action::Pause,
        "orders-fn",
        Some("orders"),
        true,
        "",
    )
    .await;
    assert_eq!(code, exit::INCOMPLETE, "{out}");
    assert!(
        out.contains("FAILED, still Enabled") && out.contains("lambda:UpdateEventSourceMapping"),
        "{out}"
    );
}

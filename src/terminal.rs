//! `lambda-pause pause|resume|status` from a terminal: the same resolve → update → settle as Slack, for runbooks.

use std::io::{BufRead, Write};

use crate::command::{Action, FunctionRef, Operation, Region, SourceRef};
use crate::lambda::Lambda;
use crate::lambda::apply::{self, Outcome, SettlePolicy, target_state};
use crate::lambda::resolve::{self, Resolution};

/// Exit codes of the terminal commands.
pub mod exit {
    /// Done (or nothing to do).
    pub const OK: u8 = 0;
    /// Bad arguments, nothing found, or AWS refused: nothing was changed.
    pub const NOTHING_CHANGED: u8 = 1;
    /// Some mapping failed or did not settle in time.
    pub const INCOMPLETE: u8 = 2;
    /// The person answered no at the prompt.
    pub const DECLINED: u8 = 3;
}

/// Validates terminal arguments with the same rules as the Slack grammar.
pub fn operation(
    action: Action,
    function: &str,
    source: Option<&str>,
    region: Option<&str>,
    reason: Option<String>,
) -> Result<Operation, String> {
    let function = FunctionRef::parse(function)
        .map_err(|p| format!("invalid function `{function}`: {p:?}"))?;
    let source = source
        .map(|s| SourceRef::parse(s).map_err(|p| format!("invalid source `{s}`: {p:?}")))
        .transpose()?;
    let region = region
        .map(|r| Region::parse(r).ok_or_else(|| format!("invalid region `{r}`")))
        .transpose()?;
    Ok(Operation {
        action,
        function,
        source,
        region,
        duration: None,
        force: false,
        reason,
    })
}

/// Runs a pause or resume, asking `y/N` on `input` unless `yes`. Returns the exit code.
pub async fn run(
    op: &Operation,
    yes: bool,
    lambda: &Lambda,
    policy: &SettlePolicy,
    out: &mut dyn Write,
    input: &mut dyn BufRead,
) -> std::io::Result<u8> {
    let region = op
        .region
        .as_ref()
        .map(|r| r.as_str())
        .or(op.function.region());
    let client = lambda.client(region);
    let mappings =
        match resolve::resolve(&client, &op.function, op.source.as_ref(), &policy.retry).await {
            Ok(Resolution::Found(m)) => m,
            Ok(Resolution::NoMappings) => {
                writeln!(
                    out,
                    "{} has no event source mappings{}. Nothing was changed.",
                    op.function,
                    client
                        .region()
                        .map(|r| format!(" in {r}"))
                        .unwrap_or_default()
                )?;
                return Ok(exit::NOTHING_CHANGED);
            }
            Ok(Resolution::NoMatch { available }) => {
                writeln!(
                    out,
                    "No event source mapping of {} matches {}. Nothing was changed. It has:",
                    op.function,
                    op.source.as_ref().map(|s| s.as_str()).unwrap_or_default()
                )?;
                for m in &available {
                    writeln!(out, "  {} — {} — {}", m.short_name(), m.state, m.uuid)?;
                }
                return Ok(exit::NOTHING_CHANGED);
            }
            Err(err) => {
                writeln!(
                    out,
                    "Could not look up the mappings of {}: {err}. Nothing was changed.",
                    op.function
                )?;
                return Ok(exit::NOTHING_CHANGED);
            }
        };
    write!(
        out,
        "{}",
        crate::slack::messages::terminal_plan(op, &mappings)
    )?;
    let target = target_state(op.action.target_enabled());
    if mappings.iter().all(|m| m.state == target) {
        writeln!(out, "Nothing to change.")?;
        return Ok(exit::OK);
    }
    if !yes {
        write!(out, "Proceed? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            writeln!(out, "Not confirmed. Nothing was changed.")?;
            return Ok(exit::DECLINED);
        }
    }
    writeln!(
        out,
        "Applying and waiting for {target} (up to {})…",
        crate::command::format_duration(policy.timeout)
    )?;
    let started = std::time::Instant::now();
    let results = apply::apply(&client, &mappings, op.action.target_enabled(), policy).await;
    let mut code = exit::OK;
    for r in &results {
        let line = match &r.outcome {
            Outcome::Settled => r.mapping.state.clone(),
            Outcome::AlreadyThere => format!("{} (already; left as is)", r.mapping.state),
            Outcome::TimedOut => {
                code = exit::INCOMPLETE;
                format!(
                    "still {} after the timeout (StateTransitionReason: {})",
                    r.mapping.state,
                    r.mapping
                        .state_transition_reason
                        .as_deref()
                        .unwrap_or("none")
                )
            }
            Outcome::Failed(e) => {
                code = exit::INCOMPLETE;
                format!("FAILED, still {}: {e}", r.mapping.state)
            }
        };
        writeln!(
            out,
            "  {} ({}): {line}",
            r.mapping.short_name(),
            r.mapping.uuid
        )?;
    }
    writeln!(out, "Took {}s.", started.elapsed().as_secs())?;
    Ok(code)
}

/// Prints a function's mappings and their state.
pub async fn status(
    function: &FunctionRef,
    source: Option<&SourceRef>,
    region: Option<&Region>,
    lambda: &Lambda,
    policy: &SettlePolicy,
    out: &mut dyn Write,
) -> std::io::Result<u8> {
    let client = lambda.client(region.map(|r| r.as_str()).or(function.region()));
    match resolve::resolve(&client, function, source, &policy.retry).await {
        Ok(Resolution::Found(mappings)) => {
            for m in &mappings {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    m.short_name(),
                    m.state,
                    m.uuid,
                    m.source_arn.as_deref().unwrap_or("-")
                )?;
            }
            Ok(exit::OK)
        }
        Ok(Resolution::NoMappings) => {
            writeln!(out, "{function} has no event source mappings.")?;
            Ok(exit::NOTHING_CHANGED)
        }
        Ok(Resolution::NoMatch { available }) => {
            writeln!(
                out,
                "No mapping matches; {function} has {} mapping(s).",
                available.len()
            )?;
            Ok(exit::NOTHING_CHANGED)
        }
        Err(err) => {
            writeln!(out, "Could not look up {function}: {err}")?;
            Ok(exit::NOTHING_CHANGED)
        }
    }
}

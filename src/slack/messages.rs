//! Every word a person reads: help, usage errors, prompts, click replies, follow-ups and status (Block Kit plus a plain-text fallback).

use std::time::Duration;

use slack_morphism::prelude::*;

use crate::command::{
    Action, FunctionProblem, Operation, ParseError, SourceProblem, format_duration,
};
use crate::ids::{RequestId, UserId};
use crate::lambda::apply::{MappingResult, Outcome, target_state};
use crate::lambda::{LambdaError, Mapping, SourceKind};
use crate::workflow::request::{Button, Request, RequestState};

/// A message: its parts render both to Block Kit blocks and to the plain `text` fallback, so both say the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// mrkdwn lines (split over several section blocks if long).
    Text(Vec<String>),
    /// Small print.
    Context(String),
    /// Buttons: (action, label, value, danger?).
    Buttons(Vec<(Button, String, String, bool)>),
}

/// Slack's limit on a section's text is 3000 characters; stay well under it.
const SECTION_LIMIT: usize = 2900;
/// Slack allows 50 blocks per message.
const MAX_BLOCKS: usize = 48;
/// Mappings listed one per line before the rest are summarised.
const MAX_LISTED: usize = 150;

impl Message {
    fn new() -> Self {
        Self { parts: Vec::new() }
    }

    fn text(mut self, line: impl Into<String>) -> Self {
        self.parts.push(Part::Text(vec![line.into()]));
        self
    }

    fn lines(mut self, lines: Vec<String>) -> Self {
        if !lines.is_empty() {
            self.parts.push(Part::Text(lines));
        }
        self
    }

    fn context(mut self, text: impl Into<String>) -> Self {
        self.parts.push(Part::Context(text.into()));
        self
    }

    fn buttons(mut self, buttons: Vec<(Button, String, String, bool)>) -> Self {
        self.parts.push(Part::Buttons(buttons));
        self
    }

    /// The plain-text fallback (mrkdwn), one line per line of the blocks.
    pub fn fallback_text(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(lines) => out.extend(lines.iter().cloned()),
                Part::Context(text) => out.push(text.clone()),
                Part::Buttons(_) => {}
            }
        }
        out.join("\n")
    }

    /// Block Kit blocks.
    pub fn blocks(&self) -> Vec<SlackBlock> {
        let mut blocks: Vec<SlackBlock> = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(lines) => {
                    for chunk in chunk_lines(lines, SECTION_LIMIT) {
                        blocks.push(SlackSectionBlock::new().with_text(md(chunk)).into());
                    }
                }
                Part::Context(text) => {
                    blocks.push(
                        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                            SlackBlockMarkDownText::new(text.clone()),
                        )])
                        .into(),
                    );
                }
                Part::Buttons(buttons) => {
                    let elements = buttons
                        .iter()
                        .map(|(button, label, value, danger)| {
                            let mut b = SlackBlockButtonElement::new(
                                SlackBlockPlainTextOnly::from(label.as_str()),
                            )
                            .with_action_id(SlackActionId::new(button.action_id().to_owned()))
                            .with_value(value.clone());
                            if *danger {
                                b = b.with_style(SlackBlockButtonStyle::Danger);
                            } else if *button == Button::Confirm || *button == Button::Approve {
                                b = b.with_style(SlackBlockButtonStyle::Primary);
                            }
                            SlackActionBlockElement::Button(b)
                        })
                        .collect();
                    blocks.push(
                        SlackActionsBlock::new(elements)
                            .with_block_id(SlackBlockId::new("request-actions".into()))
                            .into(),
                    );
                }
            }
        }
        if blocks.len() > MAX_BLOCKS {
            // Keep the head and the buttons (always last) within Slack's limit.
            let tail = blocks.split_off(blocks.len() - 2);
            blocks.truncate(MAX_BLOCKS - 3);
            blocks.push(
                SlackSectionBlock::new()
                    .with_text(md(
                        "_… the list is too long for one Slack message; see `/lambda status`._"
                            .into(),
                    ))
                    .into(),
            );
            blocks.extend(tail);
        }
        blocks
    }

    /// The JSON body of an immediate, ephemeral slash-command answer.
    pub fn ack_json(&self) -> axum::body::Bytes {
        #[derive(serde::Serialize)]
        struct Ack {
            response_type: &'static str,
            #[serde(flatten)]
            content: SlackMessageContent,
        }
        let ack = Ack {
            response_type: "ephemeral",
            content: self.content(),
        };
        // Serialising plain structs of strings can't fail.
        serde_json::to_vec(&ack)
            .expect("a message serialises")
            .into()
    }

    /// slack-morphism's message content: blocks plus the fallback `text`.
    pub fn content(&self) -> SlackMessageContent {
        SlackMessageContent::new()
            .with_text(self.fallback_text())
            .with_blocks(self.blocks())
    }

    /// The values of the message's buttons, by action id (for tests and the demo).
    pub fn button_values(&self) -> Vec<(&'static str, String)> {
        self.parts
            .iter()
            .flat_map(|p| match p {
                Part::Buttons(b) => b
                    .iter()
                    .map(|(button, _, value, _)| (button.action_id(), value.clone()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}

fn md(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

/// Joins lines into chunks of at most `limit` characters (a single overlong line is cut).
fn chunk_lines(lines: &[String], limit: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for line in lines {
        let line: String = if line.chars().count() > limit {
            line.chars().take(limit - 1).chain(['…']).collect()
        } else {
            line.clone()
        };
        if !current.is_empty() && current.chars().count() + 1 + line.chars().count() > limit {
            chunks.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Text safe to embed in mrkdwn: Slack's three control characters escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Inline code, with backticks that would break it removed.
fn code(s: &str) -> String {
    format!("`{}`", esc(&s.replace('`', "'")))
}

fn mention(user: &UserId) -> String {
    format!("<@{}>", user.as_str())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::KinesisStream => "Kinesis stream",
        SourceKind::DynamoDbStream => "DynamoDB stream",
        SourceKind::SqsQueue => "SQS queue",
        SourceKind::Msk => "Amazon MSK",
        SourceKind::SelfManagedKafka => "Kafka",
        SourceKind::AmazonMq => "Amazon MQ",
        SourceKind::DocumentDb => "DocumentDB stream",
        SourceKind::Other => "event source",
    }
}

/// `` `orders` (Kinesis stream) ``, naming topics/queues where the source has them.
fn source_label(m: &Mapping) -> String {
    let mut label = format!("{} ({})", code(&m.short_name()), kind_name(m.kind()));
    if !m.topics.is_empty() && m.kind() != SourceKind::SelfManagedKafka {
        label.push_str(&format!(
            " → {}",
            m.topics
                .iter()
                .map(|t| code(t))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    label
}

fn reason_note(m: &Mapping) -> String {
    match (&m.state_transition_reason, m.reason_is_not_user_initiated()) {
        (Some(r), true) => format!(" — AWS says: _{}_", esc(r)),
        _ => String::new(),
    }
}

fn verb_ing(action: Action) -> &'static str {
    match action {
        Action::Pause => "Pausing",
        Action::Resume => "Resuming",
    }
}

fn verb_ed(action: Action) -> &'static str {
    match action {
        Action::Pause => "paused",
        Action::Resume => "resumed",
    }
}

fn list_limited(lines: Vec<String>) -> Vec<String> {
    let total = lines.len();
    let mut out: Vec<String> = lines.into_iter().take(MAX_LISTED).collect();
    if total > MAX_LISTED {
        out.push(format!("_… and {} more_", total - MAX_LISTED));
    }
    out
}

const USAGE: &[&str] = &[
    "`/lambda pause <function> [<source>] [-- <reason>]` — stop Lambda polling the source(s); your place in each stream is kept",
    "`/lambda resume <function> [<source>] [-- <reason>]` — start polling again from where it stopped",
    "`/lambda status [<function> [<source>]]` — the mappings and their state",
    "`/lambda help` — this help",
];

/// `/lambda help`.
pub fn help() -> Message {
    Message::new()
        .text("*lambda-pause* pauses and resumes the event source mappings that feed a Lambda function (Kinesis, DynamoDB streams, SQS, Kafka, MQ), without losing your place.")
        .lines(USAGE.iter().map(|s| s.to_string()).collect())
        .text("`<function>`: a name, `name:alias` or a function ARN. `<source>`: a stream, table, queue or topic name, an event source ARN, or a mapping UUID; leave it out for every mapping of the function. Option: `--region <region>`.")
        .context("You always see exactly what will change and confirm it before anything happens. Example: `/lambda pause orders-fn orders -- poison record in batch 42`")
}

fn function_problem(p: &FunctionProblem) -> String {
    match p {
        FunctionProblem::Empty => "the function name is empty".into(),
        FunctionProblem::TooLong => "a function name has at most 64 characters".into(),
        FunctionProblem::BadCharacter(c) => format!("{} is not allowed in a function name (letters, digits, `-` and `_` only)", code(&c.to_string())),
        FunctionProblem::BadQualifier => "the part after `:` must be an alias or a version (letters, digits, `-`, `_`, `$`)".into(),
        FunctionProblem::BadArn => "it starts like an ARN but is not one (`arn:aws:lambda:<region>:<account>:function:<name>`)".into(),
        FunctionProblem::NotAFunctionArn => "that ARN is not a Lambda function's (`arn:aws:lambda:<region>:<account>:function:<name>`)".into(),
        FunctionProblem::BadRegion => "the ARN's region is not an AWS region".into(),
        FunctionProblem::BadAccount => "an account id has 12 digits".into(),
        FunctionProblem::LooksLikeMention => "that is a Slack mention, not a function".into(),
        FunctionProblem::LooksLikeUrl => "that is a link, not a function".into(),
    }
}

fn source_problem(p: &SourceProblem) -> String {
    match p {
        SourceProblem::Empty => "the source is empty".into(),
        SourceProblem::TooLong => "a source name has at most 256 characters (an ARN 2048)".into(),
        SourceProblem::BadCharacter(c) => format!(
            "{} is not allowed in a source name (letters, digits, `.`, `-` and `_`)",
            code(&c.to_string())
        ),
        SourceProblem::BadArn => "it starts like an ARN but is not a complete one".into(),
        SourceProblem::LooksLikeMention => "that is a Slack mention, not a source".into(),
        SourceProblem::LooksLikeUrl => "that is a link, not a source".into(),
    }
}

/// A user's free text (a reason) made safe for mrkdwn: `&`, `<`, `>` escaped, except inside Slack's own `<…>` markup (mentions, links), which stays as Slack sent it.
fn user_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        let span = rest[start + 1..]
            .find('>')
            .map(|len| &rest[start + 1..start + 1 + len]);
        match span {
            Some(inner) if is_slack_markup(inner) => {
                out.push_str(&esc(&rest[..start]));
                out.push('<');
                out.push_str(inner);
                out.push('>');
                rest = &rest[start + inner.len() + 2..];
            }
            _ => {
                out.push_str(&esc(&rest[..=start]));
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(&esc(rest));
    out
}

/// `@U…`, `#C…`, `!here`, or a link with a scheme (`https://…`, `mailto:…`), with no nested `<`.
fn is_slack_markup(inner: &str) -> bool {
    if inner.contains('<') || inner.contains(char::is_whitespace) && !inner.contains('|') {
        return false;
    }
    let target = inner.split('|').next().unwrap_or_default();
    if target.contains(char::is_whitespace) {
        return false;
    }
    match target.chars().next() {
        Some('@' | '#' | '!') => target.len() > 1,
        _ => target.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && !rest.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+')
        }),
    }
}

/// The problem with a command, in one sentence.
pub fn parse_problem(err: &ParseError) -> String {
    match err {
        ParseError::Empty => "Tell me what to do.".into(),
        ParseError::UnknownVerb {
            verb,
            suggestion: Some(s),
        } => format!("Unknown command {} — did you mean {}?", code(verb), code(s)),
        ParseError::UnknownVerb {
            verb,
            suggestion: None,
        } => format!("Unknown command {}.", code(verb)),
        ParseError::MissingFunction { verb } => {
            format!("Which function? `/lambda {} <function>`.", verb.as_str())
        }
        ParseError::InvalidFunction { value, problem } => format!(
            "{} is not a function I can look up: {}.",
            code(value),
            function_problem(problem)
        ),
        ParseError::InvalidSource { value, problem } => format!(
            "{} is not a source I can look up: {}.",
            code(value),
            source_problem(problem)
        ),
        ParseError::InvalidRegion { value } => {
            format!("{} is not an AWS region (like `us-east-1`).", code(value))
        }
        ParseError::InvalidDuration { value } => format!(
            "{} is not a duration: use e.g. `90s`, `30m`, `2h`, `1d` or `1h30m` (at most 365d).",
            code(value)
        ),
        ParseError::MissingValue { option } => format!("{} needs a value.", code(option)),
        ParseError::UnknownOption {
            option,
            suggestion: Some(s),
        } => format!(
            "Unknown option {} — did you mean {}?",
            code(option),
            code(s)
        ),
        ParseError::UnknownOption {
            option,
            suggestion: None,
        } => format!("Unknown option {}.", code(option)),
        ParseError::Duplicate { what } => format!("{} was given twice.", code(what)),
        ParseError::UnexpectedArgument { value } => {
            format!("I don't know what to do with {}.", code(value))
        }
        ParseError::EmptyReason => {
            "The reason after `--` is empty: write one, or leave out the `--`.".into()
        }
        ParseError::ReasonTooLong { len } => {
            format!("The reason is {len} characters long; keep it under 500.")
        }
        ParseError::RegionMismatch { expected, arn } => format!(
            "{} is in another region than {}: name one region only.",
            code(arn),
            code(expected)
        ),
    }
}

/// A command that did not parse: the problem, then the usage.
pub fn parse_error(err: &ParseError) -> Message {
    Message::new()
        .text(format!(
            ":warning: {} Nothing was changed.",
            parse_problem(err)
        ))
        .lines(USAGE.iter().map(|s| s.to_string()).collect())
}

/// The ack while mappings are being looked up.
pub fn looking_up(function: &str) -> Message {
    Message::new().text(format!(
        ":mag: Looking up the event source mappings of {}…",
        code(function)
    ))
}

/// A one-line description of a mapping for lists.
fn mapping_line(m: &Mapping) -> String {
    format!(
        "• {} — *{}* — {}{}",
        source_label(m),
        m.state,
        code(m.uuid.as_str()),
        reason_note(m)
    )
}

/// The confirmation prompt.
pub fn prompt(req: &Request, ttl: Duration) -> Message {
    let target = target_state(req.target_enabled());
    let to_change = req.mappings.iter().filter(|m| m.state != target).count();
    let head = match req.action {
        Action::Pause => format!(
            "*Pause {}?* Lambda will stop polling {}. Records wait in the source, and on resume processing continues from the same position.",
            code(&req.function),
            plural(to_change, "event source mapping", "event source mappings")
        ),
        Action::Resume => format!(
            "*Resume {}?* Lambda will start polling {} again, from where it stopped.",
            code(&req.function),
            plural(to_change, "event source mapping", "event source mappings")
        ),
    };
    let lines = req
        .mappings
        .iter()
        .map(|m| {
            if m.state == target {
                format!(
                    "• {} — already *{}*: left as is — {}",
                    source_label(m),
                    m.state,
                    code(m.uuid.as_str())
                )
            } else {
                format!(
                    "• {} — *{}* → *{}* — {}{}",
                    source_label(m),
                    m.state,
                    target,
                    code(m.uuid.as_str()),
                    reason_note(m)
                )
            }
        })
        .collect();
    let mut msg = Message::new().text(head).lines(list_limited(lines));
    if let Some(reason) = &req.reason {
        msg = msg.text(format!("Reason: {}", user_text(reason)));
    }
    let now = req.created_at;
    msg = msg.lines(horizon_lines(req, now));
    if let Some(line) = timed_resume_line(req, now) {
        msg = msg.text(line);
    }
    if req.needs_approval {
        msg = msg.text(format!(
            ":busts_in_silhouette: This needs an approver: after you confirm, I'll ask {} in the channel.",
            approver_list(req)
        ));
    }
    let label = format!(
        "{} {}",
        if req.action == Action::Pause {
            "Pause"
        } else {
            "Resume"
        },
        plural(to_change, "mapping", "mappings")
    );
    msg.context(format!(
        "Requested by {}{}. Only you can confirm; this prompt expires in {}.",
        mention(&req.requester),
        req.region
            .as_ref()
            .map(|r| format!(" in {}", code(r)))
            .unwrap_or_default(),
        format_duration(ttl)
    ))
    .buttons(vec![
        (
            Button::Confirm,
            label,
            req.id.to_string(),
            req.action == Action::Pause,
        ),
        (Button::Cancel, "Cancel".into(), req.id.to_string(), false),
    ])
}

/// Every mapping in scope is already in the target state.
pub fn nothing_to_do(req: &Request) -> Message {
    let target = target_state(req.target_enabled());
    Message::new()
        .text(format!(
            ":information_source: Nothing to change: {} of {} {} already *{target}*.",
            if req.mappings.len() == 1 {
                "the mapping".to_string()
            } else {
                format!("all {} mappings", req.mappings.len())
            },
            code(&req.function),
            if req.mappings.len() == 1 { "is" } else { "are" },
        ))
        .lines(list_limited(
            req.mappings.iter().map(mapping_line).collect(),
        ))
}

/// The function has no mappings (or does not exist in this region).
pub fn no_mappings(function: &str, region: Option<&str>) -> Message {
    Message::new().text(format!(
        ":warning: {} has no event source mappings{}. Check the function name and the region (`--region`). Nothing was changed.",
        code(function),
        region.map(|r| format!(" in {}", code(r))).unwrap_or_default()
    ))
}

/// The source matched none of the function's mappings.
pub fn no_match(function: &str, source: &str, available: &[Mapping]) -> Message {
    Message::new()
        .text(format!(
            ":warning: No event source mapping of {} matches {}. Nothing was changed. It has {}:",
            code(function),
            code(source),
            plural(available.len(), "mapping", "mappings")
        ))
        .lines(list_limited(available.iter().map(mapping_line).collect()))
}

/// An AWS failure, with what to do about it.
pub fn lambda_problem(err: &LambdaError) -> String {
    match err {
        LambdaError::AccessDenied { action, .. } => format!(
            "AWS denied {}: the bot's IAM role lacks that permission. Ask the platform team to grant it (see the README's IAM policy).",
            code(action)
        ),
        LambdaError::NotFound { message } => format!("AWS says it does not exist: _{}_.", esc(message)),
        LambdaError::Throttled { .. } => "AWS is throttling Lambda control-plane calls (the account allows 15 per second) and kept doing so after several backed-off retries. Try again in a minute.".into(),
        LambdaError::InUse { .. } => "the mapping stayed busy with another change (`ResourceInUseException`) for too long.".into(),
        LambdaError::InvalidParameter { message } => format!("AWS rejected the request: _{}_.", esc(message)),
        LambdaError::Service { message } => format!("AWS Lambda had an internal error: _{}_.", esc(message)),
        LambdaError::Network { message } => format!("could not reach AWS Lambda: _{}_.", esc(message)),
        LambdaError::Unexpected { message } => format!("AWS Lambda answered unexpectedly: _{}_.", esc(message)),
    }
}

/// Looking up mappings failed.
pub fn lookup_failed(function: &str, err: &LambdaError) -> Message {
    Message::new().text(format!(
        ":x: Could not look up the event source mappings of {}: {} Nothing was changed.",
        code(function),
        lambda_problem(err)
    ))
}

/// Replaces the prompt after the requester confirmed.
pub fn confirmed(req: &Request) -> Message {
    let target = target_state(req.target_enabled());
    let n = req.mappings.iter().filter(|m| m.state != target).count();
    Message::new().text(format!(
        ":white_check_mark: {} confirmed. {} {} of {}… I'll post in this channel once {} *{}*.",
        mention(&req.requester),
        verb_ing(req.action),
        plural(n, "mapping", "mappings"),
        code(&req.function),
        if n == 1 { "it is" } else { "they are all" },
        target
    ))
}

/// Replaces the prompt after Cancel.
pub fn cancelled(req: &Request) -> Message {
    Message::new().text(format!(
        ":heavy_multiplication_x: Cancelled by {}: {} of {} was not changed.",
        mention(&req.requester),
        req.action.as_str(),
        code(&req.function)
    ))
}

/// Replaces the prompt when it was clicked too late.
pub fn expired(req: &Request, ttl: Duration) -> Message {
    Message::new().text(format!(
        ":hourglass: This request to {} {} expired (prompts are valid for {}). Nothing was changed; run the command again.",
        req.action.as_str(),
        code(&req.function),
        format_duration(ttl)
    ))
}

/// Told (only) to someone who clicked another person's prompt.
pub fn not_requester(req: &Request) -> Message {
    Message::new().text(format!(
        ":no_entry: Only {} can confirm or cancel this request. Nothing was changed.",
        mention(&req.requester)
    ))
}

/// Told to someone clicking a request that is past that point.
pub fn already_handled(state: RequestState) -> Message {
    let what = match state {
        RequestState::Requested => "is still being prepared".to_string(),
        RequestState::Confirmed | RequestState::Applying => {
            "was already confirmed and is being applied".to_string()
        }
        other => format!("is already {}", other.as_str()),
    };
    Message::new().text(format!(
        ":information_source: This request {what}; that click changed nothing."
    ))
}

/// A button value that matches no request we hold.
pub fn unknown_request() -> Message {
    Message::new().text(":warning: This button does not match any request I hold (it may be older than my last restart, or altered). Nothing was changed; run the command again.")
}

/// A click on a button we don't offer.
pub fn unknown_button() -> Message {
    Message::new().text(":warning: I don't know that button. Nothing was changed.")
}

/// The bot has too much work queued to take more; nothing was recorded or changed.
pub fn busy() -> Message {
    Message::new().text(
        ":hourglass: I'm too busy to take this right now and nothing was changed. Try again in a few seconds.",
    )
}

/// An internal failure that stopped a request; details are in the logs.
pub fn internal_error() -> Message {
    Message::new().text(
        ":x: Something went wrong on my side and nothing was changed. The details are in my logs.",
    )
}

/// The follow-up posted in the channel when a request has finished.
pub fn follow_up(req: &Request, results: &[MappingResult], took: Duration) -> Message {
    let target = target_state(req.target_enabled());
    let failed = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .count();
    let timed_out = results
        .iter()
        .filter(|r| r.outcome == Outcome::TimedOut)
        .count();
    let took_secs = took.as_secs();
    let took = if took < Duration::from_secs(1) {
        "under a second".to_string()
    } else {
        format_duration(Duration::from_secs(took.as_secs()))
    };
    let by = match req.approval.as_ref().and_then(|a| a.decided_by.as_ref()) {
        Some(approver) => format!(
            "requested by {}, approved by {}",
            mention(&req.requester),
            mention(approver)
        ),
        None if req.scheduled_by.is_some() => {
            format!("as scheduled when {} paused it", mention(&req.requester))
        }
        None => format!("requested by {}", mention(&req.requester)),
    };
    let head = if failed > 0 {
        format!(
            ":x: {} {} failed for {} of {} — {by}.",
            verb_ing(req.action),
            code(&req.function),
            failed,
            plural(results.len(), "mapping", "mappings")
        )
    } else if timed_out > 0 {
        format!(
            ":warning: {} {}: {} not *{}* after {took} — {by}. Check it in the AWS console or with `/lambda status {}`.",
            verb_ing(req.action),
            code(&req.function),
            plural(timed_out, "mapping is", "mappings are"),
            target,
            req.function
        )
    } else {
        let icon = if req.action == Action::Pause {
            ":double_vertical_bar:"
        } else {
            ":arrow_forward:"
        };
        format!(
            "{icon} {} is {} — {by}, took {took}.",
            code(&req.function),
            verb_ed(req.action)
        )
    };
    let lines = results
        .iter()
        .map(|r| {
            let m = &r.mapping;
            match &r.outcome {
                Outcome::Settled => {
                    format!("• {}: *{}*{}", source_label(m), m.state, reason_note(m))
                }
                Outcome::AlreadyThere => format!(
                    "• {}: *{}* (already; left as is){}",
                    source_label(m),
                    m.state,
                    reason_note(m)
                ),
                Outcome::TimedOut => format!(
                    "• {}: still *{}* (StateTransitionReason: {})",
                    source_label(m),
                    m.state,
                    m.state_transition_reason
                        .as_deref()
                        .map(code)
                        .unwrap_or_else(|| "none".into())
                ),
                Outcome::Failed(e) => format!(
                    "• {}: *{}*, not changed: {}",
                    source_label(m),
                    m.state,
                    lambda_problem(e)
                ),
            }
        })
        .collect();
    let mut msg = Message::new().text(head).lines(list_limited(lines));
    if let Some(reason) = &req.reason {
        msg = msg.text(format!("Reason: {}", user_text(reason)));
    }
    if failed == 0 && req.action == Action::Pause {
        let settled_at = req
            .applying_since
            .unwrap_or(req.created_at)
            .saturating_add(took_secs);
        msg = msg.lines(horizon_lines(req, settled_at));
        if let Some(line) = timed_resume_line(req, settled_at) {
            msg = msg.text(line);
        }
    }
    msg.context(format!("Request {}", code(req.id.as_str())))
}

/// `/lambda status <function>`.
pub fn status(function: &str, region: Option<&str>, mappings: &[Mapping]) -> Message {
    let paused = mappings.iter().filter(|m| m.state == "Disabled").count();
    Message::new()
        .text(format!(
            "*{}* has {}{}{}:",
            code(function),
            plural(
                mappings.len(),
                "event source mapping",
                "event source mappings"
            ),
            region
                .map(|r| format!(" in {}", code(r)))
                .unwrap_or_default(),
            if paused > 0 {
                format!(" ({paused} paused)")
            } else {
                String::new()
            }
        ))
        .lines(list_limited(mappings.iter().map(mapping_line).collect()))
}

/// `/lambda status` with no function: what this bot is doing and every mapping it paused and has not resumed.
pub fn status_overview(in_flight: &[Request], paused: &[PausedEntry<'_>]) -> Message {
    if in_flight.is_empty() && paused.is_empty() {
        return Message::new().text(":information_source: Nothing in progress, and no mapping is paused by me. Use `/lambda status <function>` to see a function's mappings.");
    }
    let mut msg = Message::new();
    if !in_flight.is_empty() {
        msg = msg.text("*In progress*").lines(
            in_flight
                .iter()
                .map(|r| {
                    let when = r
                        .not_before
                        .map(|t| format!(" at {}", fmt_time(t)))
                        .unwrap_or_default();
                    let kind = if r.scheduled_by.is_some() {
                        "scheduled resume of".to_string()
                    } else {
                        r.action.as_str().to_string()
                    };
                    format!(
                        "• {kind} {}{when} — {} by {}",
                        code(&r.function),
                        r.state.as_str(),
                        mention(&r.requester)
                    )
                })
                .collect(),
        );
    }
    if !paused.is_empty() {
        msg = msg
            .text("*Paused by me*")
            .lines(list_limited(paused.iter().map(paused_line).collect()));
    }
    msg
}

/// A policy principal as Slack renders it: `<@U…>` for a user, `<!subteam^S…>` for a user group.
fn principal(id: &str) -> String {
    if id.starts_with('S') {
        format!("<!subteam^{id}>")
    } else {
        format!("<@{id}>")
    }
}

fn approver_list(req: &Request) -> String {
    let ids: Vec<String> = req
        .approval
        .as_ref()
        .map(|a| a.approvers.clone())
        .unwrap_or_default();
    if ids.is_empty() {
        "an approver".into()
    } else {
        ids.iter()
            .map(|id| principal(id))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn rule_name(rule: usize, policy_file: Option<&str>) -> String {
    match policy_file {
        Some(file) => format!("rule {rule} of {}", code(file)),
        None => format!("rule {rule} of the policy"),
    }
}

/// No rule of the policy covers this function in this channel.
pub fn refused_no_rule(req: &Request, policy_file: Option<&str>) -> Message {
    Message::new().text(format!(
        ":no_entry: No rule of the policy{} allows changing {} in this channel, so I can't {} it. Nothing was changed. Ask the platform team if it should.",
        policy_file.map(|f| format!(" ({})", code(f))).unwrap_or_default(),
        code(&req.function),
        req.action.as_str()
    ))
}

/// The matching rule does not list the user as a requester.
pub fn refused_not_requester(req: &Request, rule: usize, policy_file: Option<&str>) -> Message {
    Message::new().text(format!(
        ":no_entry: {} covers {} here, but you are not one of its requesters, so I can't {} it for you. Nothing was changed.",
        capitalize(&rule_name(rule, policy_file)),
        code(&req.function),
        req.action.as_str()
    ))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A user group could not be resolved, so the policy can't be checked.
pub fn group_lookup_failed(group: &str, err: &crate::slack::client::SlackError) -> Message {
    let why = match err {
        crate::slack::client::SlackError::Api(code) if code == "plan_upgrade_required" => {
            "this Slack workspace's plan has no user groups (`plan_upgrade_required`); name users instead of groups in the policy".to_string()
        }
        crate::slack::client::SlackError::Api(code) if code == "missing_scope" => {
            "the app lacks the `usergroups:read` scope (`missing_scope`); reinstall it from the manifest".to_string()
        }
        crate::slack::client::SlackError::Api(code) if code == "no_such_subteam" => {
            format!("the user group {} does not exist (`no_such_subteam`); fix the policy file", code_str(group))
        }
        other => format!("Slack answered: {other}"),
    };
    Message::new().text(format!(
        ":x: I couldn't check the policy: looking up the members of user group {} failed: {why}. Nothing was changed.",
        principal(group)
    ))
}

fn code_str(s: &str) -> String {
    code(s)
}

/// Replaces the prompt once the requester confirmed a request that needs an approver.
pub fn awaiting_approval(req: &Request) -> Message {
    Message::new().text(format!(
        ":hourglass_flowing_sand: {} confirmed. I've asked {} to approve in the channel; nothing changes until one of them does.",
        mention(&req.requester),
        approver_list(req)
    ))
}

/// The approval request, posted in the channel for everyone to see.
pub fn approval_request(req: &Request, timeout: Duration) -> Message {
    let target = target_state(req.target_enabled());
    let lines = req
        .mappings
        .iter()
        .filter(|m| m.state != target)
        .map(|m| {
            format!(
                "• {} — *{}* → *{}* — {}",
                source_label(m),
                m.state,
                target,
                code(m.uuid.as_str())
            )
        })
        .collect();
    let mut msg = Message::new()
        .text(format!(
            ":raising_hand: {} wants to *{}* {}. Approval needed from {}.",
            mention(&req.requester),
            req.action.as_str(),
            code(&req.function),
            approver_list(req)
        ))
        .lines(list_limited(lines));
    if let Some(reason) = &req.reason {
        msg = msg.text(format!("Reason: {}", user_text(reason)));
    }
    msg = msg.lines(horizon_lines(req, req.created_at));
    if let Some(line) = timed_resume_line(req, req.created_at) {
        msg = msg.text(format!(
            "{line} Approving this pause also approves that resume."
        ));
    }
    let n = req.mappings.iter().filter(|m| m.state != target).count();
    msg.context(format!(
        "Expires in {}. The requester can't approve their own request. Request {}",
        format_duration(timeout),
        code(req.id.as_str())
    ))
    .buttons(vec![
        (
            Button::Approve,
            format!(
                "Approve: {} {}",
                req.action.as_str(),
                plural(n, "mapping", "mappings")
            ),
            req.id.to_string(),
            false,
        ),
        (Button::Deny, "Deny".into(), req.id.to_string(), true),
    ])
}

/// The approval request once approved (buttons gone), while applying.
pub fn approval_approved(req: &Request, approver: &UserId) -> Message {
    let target = target_state(req.target_enabled());
    Message::new().text(format!(
        ":white_check_mark: {} approved {}'s request to {} {}. {}… the result follows in this thread once it is *{target}*.",
        mention(approver),
        mention(&req.requester),
        req.action.as_str(),
        code(&req.function),
        verb_ing(req.action)
    ))
}

/// The approval request once the apply finished.
pub fn approval_done(req: &Request, approver: &UserId, results: &[MappingResult]) -> Message {
    let settled = results
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Settled | Outcome::AlreadyThere));
    let outcome = if settled {
        format!("done: {} is {}", code(&req.function), verb_ed(req.action))
    } else {
        "it did not fully succeed; see the thread".to_string()
    };
    Message::new().text(format!(
        "{} {} approved {}'s request to {} {}: {outcome}.",
        if settled {
            ":white_check_mark:"
        } else {
            ":warning:"
        },
        mention(approver),
        mention(&req.requester),
        req.action.as_str(),
        code(&req.function)
    ))
}

/// The approval request once denied (buttons gone).
pub fn approval_denied(req: &Request, by: &UserId) -> Message {
    Message::new().text(format!(
        ":no_entry_sign: {} denied {}'s request to {} {}. Nothing was changed.",
        mention(by),
        mention(&req.requester),
        req.action.as_str(),
        code(&req.function)
    ))
}

/// The approval request once it expired unanswered (buttons gone).
pub fn approval_expired(req: &Request) -> Message {
    Message::new().text(format!(
        ":hourglass: {}'s request to {} {} expired without an approval. Nothing was changed; run the command again if it is still needed.",
        mention(&req.requester),
        req.action.as_str(),
        code(&req.function)
    ))
}

/// The requester clicked Approve on their own request.
pub fn self_approval() -> Message {
    Message::new().text(":no_entry: You can't approve your own request: another approver has to. Nothing was changed.")
}

/// Someone who is not an approver clicked Approve or Deny.
pub fn not_an_approver(req: &Request) -> Message {
    Message::new().text(format!(
        ":no_entry: Only the approvers of this request ({}) can approve or deny it. Nothing was changed.",
        approver_list(req)
    ))
}

/// Confirm/Cancel clicked on an approval request, or Approve/Deny on a prompt.
pub fn wrong_button() -> Message {
    Message::new().text(":information_source: That button does not apply to this request at this stage; nothing was changed.")
}

/// The approval request could not be posted in the channel.
pub fn approval_post_failed(err: &crate::slack::client::SlackError) -> Message {
    let hint = match err {
        crate::slack::client::SlackError::Api(code)
            if code == "not_in_channel" || code == "channel_not_found" =>
        {
            " Invite me to this channel (`/invite @lambda-pause`) and run the command again."
                .to_string()
        }
        _ => String::new(),
    };
    Message::new().text(format!(":x: I couldn't post the approval request in this channel ({err}), so nobody could approve it. Nothing was changed.{hint}"))
}

/// `/lambda history [function]`: the latest audit entries, oldest first.
pub fn history(function: Option<&str>, events: &[crate::audit::AuditEvent]) -> Message {
    if events.is_empty() {
        return Message::new().text(format!(
            ":information_source: Nothing in the audit trail{} yet.",
            function
                .map(|f| format!(" for {}", code(f)))
                .unwrap_or_default()
        ));
    }
    let head = format!(
        "*Audit trail{}* — the latest {}:",
        function
            .map(|f| format!(" of {}", code(f)))
            .unwrap_or_default(),
        plural(events.len(), "entry", "entries")
    );
    Message::new().text(head).lines(
        events
            .iter()
            .map(|e| format!("• {}", audit_line(e)))
            .collect(),
    )
}

/// One audit event as a line: `2026-12-03 14:05 UTC · <@U1> paused orders-fn / orders: Enabled → Disabled — reason`.
pub fn audit_line(e: &crate::audit::AuditEvent) -> String {
    use crate::audit::AuditKind as K;
    let when = crate::audit::rfc3339(e.at)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string();
    let when = format!("{} UTC", &when[..when.len().saturating_sub(3)]);
    let who = e
        .user
        .as_ref()
        .map(mention)
        .unwrap_or_else(|| "lambda-pause".into());
    let action = e.action.map(|a| a.as_str()).unwrap_or("change");
    let what = e.function.as_deref().map(code).unwrap_or_default();
    let source = e
        .source
        .as_deref()
        .map(|s| format!(" / {}", code(s)))
        .unwrap_or_default();
    let verb = match e.kind {
        K::Requested => format!("asked to {action}"),
        K::Confirmed => format!("confirmed the {action} of"),
        K::Cancelled => format!("cancelled the {action} of"),
        K::ApprovalRequested => format!("asked for approval to {action}"),
        K::Approved => format!("approved the {action} of"),
        K::Denied => format!("denied the {action} of"),
        K::Expired => format!("the {action} request expired for"),
        K::Applied => format!("updated ({action})"),
        K::Settled => format!("{action} settled for"),
        K::TimedOut => format!("{action} did not settle for"),
        K::Failed => format!("{action} failed for"),
        K::Refused => format!("was not allowed to {action}"),
        K::Reminded => "reminded about the pause of".to_string(),
        K::Drift => "noticed a change outside lambda-pause to".to_string(),
    };
    // Outcomes read better without a subject when the bot itself observed them.
    let outcome = matches!(e.kind, K::Settled | K::TimedOut | K::Failed | K::Expired);
    let mut line = if outcome && e.user.is_none() {
        format!("{when} · {verb} {what}{source}")
    } else {
        format!("{when} · {who} {verb} {what}{source}")
    };
    match (&e.before, &e.after) {
        (Some(b), Some(a)) => line.push_str(&format!(": {b} → *{a}*")),
        (None, Some(a)) => line.push_str(&format!(": *{a}*")),
        _ => {}
    }
    if let (K::Requested, Some(reason)) = (e.kind, &e.reason) {
        line.push_str(&format!(" — _{}_", user_text(reason)));
    }
    if let Some(detail) = &e.detail {
        line.push_str(&format!(" ({})", esc(detail)));
    }
    line
}

/// An audit event posted to the audit channel.
pub fn audit_post(e: &crate::audit::AuditEvent) -> Message {
    Message::new().text(audit_line(e))
}

/// `Thu 3 Dec 12:40 UTC`.
pub fn fmt_time(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = crate::audit::rfc3339(unix);
    let month: usize = iso[5..7].parse().unwrap_or(1);
    let day: u32 = iso[8..10].parse().unwrap_or(1);
    format!(
        "{} {} {} {} UTC",
        DAYS[((unix / 86_400) % 7) as usize],
        day,
        MONTHS[month.saturating_sub(1).min(11)],
        &iso[11..16]
    )
}

/// `48 hours`, `4 days`, `90m`: how people say retention periods.
pub fn span(secs: u64) -> String {
    if secs >= 3 * 86_400 && secs.is_multiple_of(86_400) {
        plural((secs / 86_400) as usize, "day", "days")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        plural((secs / 3600) as usize, "hour", "hours")
    } else {
        format_duration(Duration::from_secs(secs))
    }
}

/// One mapping's horizon in plain words, counted from `from` (unix seconds).
pub fn horizon_line(m: &Mapping, h: &crate::lambda::horizon::Horizon, from: u64) -> String {
    use crate::lambda::horizon::{Cause, Horizon, Unknown};
    let name = code(&m.short_name());
    match h {
        Horizon::Known { secs, cause } => {
            let what = match cause {
                Cause::KinesisRetention => {
                    format!("records older than {} are deleted by Kinesis", span(*secs))
                }
                Cause::DynamoDbStream => {
                    format!("DynamoDB Streams delete records after {}", span(*secs))
                }
                Cause::SqsRetention => format!("SQS deletes messages older than {}", span(*secs)),
                Cause::MaximumRecordAge => format!(
                    "the mapping's MaximumRecordAgeInSeconds drops records older than {} when it resumes",
                    span(*secs)
                ),
            };
            format!(
                ":hourglass_flowing_sand: {name}: {what}: resume before {} to lose nothing.",
                fmt_time(from.saturating_add(*secs))
            )
        }
        Horizon::Unknown(Unknown::NotReadable(kind)) => {
            let why = match kind {
                SourceKind::Msk | SourceKind::SelfManagedKafka => {
                    "Kafka keeps records per the topic's retention settings"
                }
                SourceKind::AmazonMq => "Amazon MQ keeps messages per the broker's settings",
                SourceKind::DocumentDb => {
                    "DocumentDB keeps change events per the cluster's change stream log retention"
                }
                _ => "this kind of source keeps records by its own settings",
            };
            format!(
                ":grey_question: {name}: {why}, which I can't read: check it before a long pause."
            )
        }
        Horizon::Unknown(Unknown::NoPermission { action }) => {
            format!(
                ":grey_question: {name}: I may not read its retention ({} is not granted), so I can't tell how long records survive.",
                code(action)
            )
        }
        Horizon::Unknown(Unknown::LookupFailed { message }) => format!(
            ":grey_question: {name}: I couldn't read its retention ({}).",
            esc(message)
        ),
    }
}

fn horizon_lines(req: &Request, from: u64) -> Vec<String> {
    if req.action != Action::Pause {
        return Vec::new();
    }
    let target = target_state(false);
    req.mappings
        .iter()
        .filter(|m| m.state != target)
        .filter_map(|m| req.horizons.get(&m.uuid).map(|h| horizon_line(m, h, from)))
        .collect()
}

/// The line about a timed pause's automatic resume.
fn timed_resume_line(req: &Request, from: u64) -> Option<String> {
    req.duration.map(|d| {
        format!(
            ":alarm_clock: Resumes by itself at {} (after {}){}.",
            fmt_time(from.saturating_add(d)),
            format_duration(Duration::from_secs(d)),
            if req.force {
                ", longer than a horizon above: `--force` accepts losing records"
            } else {
                ""
            }
        )
    })
}

/// A timed pause longer than a mapping's horizon, without `--force`.
pub fn refused_past_horizon(req: &Request, m: &Mapping, horizon_secs: u64) -> Message {
    Message::new().text(format!(
        ":no_entry: A {} pause is longer than {}'s horizon ({}): records would be lost before the automatic resume. Nothing was changed. Pause for less, or add `--force` if losing them is acceptable.",
        format_duration(Duration::from_secs(req.duration.unwrap_or_default())),
        code(&m.short_name()),
        span(horizon_secs)
    ))
}

/// Posted in the pause's thread as the horizon approaches.
pub fn reminder(req: &Request, percent: u8, now: u64) -> Message {
    let watch = req.watch.as_ref();
    let paused_for = now.saturating_sub(watch.map(|w| w.paused_at).unwrap_or(now));
    let mut msg = Message::new().text(format!(
        ":alarm_clock: {} {} has been paused for {} — {percent}% of its horizon. Resume with `/lambda resume {}`.",
        mention(&req.requester),
        code(&req.function),
        format_duration(Duration::from_secs(paused_for)),
        req.function
    ));
    let from = watch.map(|w| w.paused_at).unwrap_or(now);
    msg = msg.lines(horizon_lines_settled(req, from));
    msg
}

/// Posted once when the horizon has passed.
pub fn horizon_passed(req: &Request, now: u64) -> Message {
    let from = req.watch.as_ref().map(|w| w.paused_at).unwrap_or(now);
    Message::new()
        .text(format!(
            ":rotating_light: {} {} is still paused and its horizon has passed: records are being lost now. Resume with `/lambda resume {}` as soon as you can.",
            mention(&req.requester),
            code(&req.function),
            req.function
        ))
        .lines(horizon_lines_settled(req, from))
}

fn horizon_lines_settled(req: &Request, from: u64) -> Vec<String> {
    req.results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Settled | Outcome::TimedOut))
        .filter_map(|r| {
            req.horizons
                .get(&r.mapping.uuid)
                .map(|h| horizon_line(&r.mapping, h, from))
        })
        .collect()
}

/// A mapping the bot paused was re-enabled outside the bot.
pub fn drift_re_enabled(req: &Request, m: &Mapping) -> Message {
    Message::new().text(format!(
        ":warning: {} of {} was re-enabled outside lambda-pause (State *{}*{}). I stop watching it{}.",
        code(&m.short_name()),
        code(&req.function),
        m.state,
        m.state_transition_reason.as_deref().map(|r| format!(", StateTransitionReason `{}`", esc(r))).unwrap_or_default(),
        if req.watch.as_ref().is_some_and(|w| w.resume_at.is_some()) { "; the scheduled resume will find it already running" } else { "" }
    ))
}

/// AWS changed a paused mapping's state on its own.
pub fn drift_aws_changed(req: &Request, m: &Mapping) -> Message {
    Message::new().text(format!(
        ":warning: AWS changed {} of {}: State *{}*, StateTransitionReason `{}`.",
        code(&m.short_name()),
        code(&req.function),
        m.state,
        esc(m.state_transition_reason.as_deref().unwrap_or("none"))
    ))
}

/// A paused mapping for `/lambda status` with no function.
pub struct PausedEntry<'a> {
    pub request: &'a Request,
    pub mapping: &'a Mapping,
    pub now: u64,
}

fn paused_line(e: &PausedEntry<'_>) -> String {
    let watch = e.request.watch.as_ref();
    let paused_at = watch.map(|w| w.paused_at).unwrap_or(e.now);
    let for_how_long = format_duration(Duration::from_secs(e.now.saturating_sub(paused_at)));
    let horizon = match e
        .request
        .horizons
        .get(&e.mapping.uuid)
        .and_then(|h| h.limit())
    {
        Some(limit) => {
            let end = paused_at.saturating_add(limit.as_secs());
            if end > e.now {
                format!(
                    "horizon left {}",
                    format_duration(Duration::from_secs(end - e.now))
                )
            } else {
                "*horizon passed*".to_string()
            }
        }
        None => "horizon unknown".to_string(),
    };
    let resume = watch
        .and_then(|w| w.resume_at)
        .map(|t| format!(", resumes by itself {}", fmt_time(t)))
        .unwrap_or_default();
    format!(
        "• {} {} — paused by {} for {for_how_long}, {horizon}{resume}",
        code(e.mapping.function_name()),
        source_label(e.mapping),
        mention(&e.request.requester)
    )
}

/// The id a request's buttons carry (for the demo's and tests' readers).
pub fn request_id_of(msg: &Message) -> Option<RequestId> {
    msg.button_values()
        .into_iter()
        .find_map(|(_, v)| RequestId::parse(&v))
}

/// Wording for a status lookup's ack.
pub fn checking(function: Option<&str>) -> Message {
    match function {
        Some(f) => Message::new().text(format!(":mag: Checking {}…", code(f))),
        None => Message::new().text(":mag: Checking what I'm doing…"),
    }
}

/// An operation line for the terminal (`lambda-pause pause …`).
pub fn terminal_plan(op: &Operation, mappings: &[Mapping]) -> String {
    let target = target_state(op.action.target_enabled());
    let mut out = format!(
        "{} {}:\n",
        if op.action == Action::Pause {
            "Pause"
        } else {
            "Resume"
        },
        op.function
    );
    for m in mappings {
        let line = if m.state == target {
            format!(
                "  {} ({}) — already {}: left as is — {}\n",
                m.short_name(),
                kind_name(m.kind()),
                m.state,
                m.uuid
            )
        } else {
            format!(
                "  {} ({}) — {} → {} — {}\n",
                m.short_name(),
                kind_name(m.kind()),
                m.state,
                target,
                m.uuid
            )
        };
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    //! Snapshot tests: every message's plain-text fallback, and the Block Kit JSON of the interactive ones.

    use super::*;
    use crate::command::{Command, parse};
    use crate::ids::{ChannelId, MappingUuid};
    use crate::secrets::ResponseUrl;

    fn mapping(name_arn: &str, uuid: &str, state: &str, reason: Option<&str>) -> Mapping {
        Mapping {
            uuid: MappingUuid::new(uuid),
            source_arn: Some(name_arn.to_owned()),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders-fn".into(),
            state: state.into(),
            state_transition_reason: reason.map(str::to_owned),
            topics: vec![],
            maximum_record_age: None,
        }
    }

    fn kinesis(state: &str) -> Mapping {
        mapping(
            "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
            "14e0db71-5d35-4eb5-b481-8945cf9d10c2",
            state,
            Some("USER_INITIATED"),
        )
    }

    fn sqs(state: &str) -> Mapping {
        mapping(
            "arn:aws:sqs:us-east-1:123456789012:orders-retry",
            "9a1f3c2e-0000-4000-8000-00000000beef",
            state,
            Some("PROBLEM: Function call failed"),
        )
    }

    fn request(text: &str, mappings: Vec<Mapping>) -> Request {
        let op = match parse(text).unwrap() {
            Command::Pause(op) | Command::Resume(op) => op,
            other => panic!("{other:?}"),
        };
        let mut r = Request::new(
            &op,
            UserId::new("U0ALICE"),
            None,
            ChannelId::new("C0INCIDENT"),
            ResponseUrl::new("https://hooks.slack.com/x"),
            1_764_770_000,
            900,
        );
        r.id = RequestId::parse("0123456789abcdef0123456789abcdef").unwrap();
        r.mappings = mappings;
        r
    }

    fn result(mapping: Mapping, outcome: Outcome) -> MappingResult {
        MappingResult { mapping, outcome }
    }

    #[test]
    fn help_and_usage() {
        insta::assert_snapshot!("help", help().fallback_text());
        insta::assert_snapshot!("looking_up", looking_up("orders-fn").fallback_text());
        insta::assert_snapshot!("checking", checking(Some("orders-fn")).fallback_text());
    }

    #[test]
    fn every_parse_error() {
        let inputs = [
            "",
            "pase orders-fn",
            "frobnicate",
            "pause",
            "pause orders/fn",
            "pause <@U1>",
            "pause arn:aws:sqs:us-east-1:123456789012:q",
            "pause 12345:function:x",
            "pause orders-fn bad!name",
            "pause orders-fn <@U1>",
            "pause orders-fn --region moon",
            "pause orders-fn --region",
            "pause orders-fn --regoin x",
            "pause orders-fn --force --force",
            "pause orders-fn a b",
            "pause orders-fn for 3x",
            "pause orders-fn --",
            "resume arn:aws:lambda:us-east-1:123456789012:function:f --region eu-west-1",
        ];
        let mut out = String::new();
        for input in inputs {
            let err = parse(input).expect_err(input);
            out.push_str(&format!("/lambda {input}\n  {}\n", parse_problem(&err)));
        }
        let long = format!("pause f -- {}", "x".repeat(501));
        out.push_str(&format!(
            "/lambda pause f -- x…\n  {}\n",
            parse_problem(&parse(&long).unwrap_err())
        ));
        insta::assert_snapshot!("parse_errors", out);
        insta::assert_snapshot!(
            "parse_error_full",
            parse_error(&parse("pase orders-fn").unwrap_err()).fallback_text()
        );
    }

    #[test]
    fn prompts() {
        let pause = request(
            "pause orders-fn -- poison record & retries <@U0BOB>",
            vec![kinesis("Enabled"), sqs("Disabled")],
        );
        insta::assert_snapshot!(
            "prompt_pause",
            prompt(&pause, Duration::from_secs(900)).fallback_text()
        );
        insta::assert_snapshot!(
            "prompt_pause_blocks",
            serde_json::to_string_pretty(&prompt(&pause, Duration::from_secs(900)).blocks())
                .unwrap()
        );
        let resume = request(
            "resume orders-fn orders --region us-east-1",
            vec![kinesis("Disabled")],
        );
        insta::assert_snapshot!(
            "prompt_resume",
            prompt(&resume, Duration::from_secs(900)).fallback_text()
        );
        insta::assert_snapshot!(
            "nothing_to_do",
            nothing_to_do(&request(
                "pause orders-fn",
                vec![kinesis("Disabled"), sqs("Disabled")]
            ))
            .fallback_text()
        );
    }

    #[test]
    fn lookups() {
        insta::assert_snapshot!(
            "no_mappings",
            no_mappings("ordres-fn", Some("us-east-1")).fallback_text()
        );
        insta::assert_snapshot!(
            "no_match",
            no_match("orders-fn", "ordrs", &[kinesis("Enabled"), sqs("Enabled")]).fallback_text()
        );
        let errors = [
            LambdaError::AccessDenied {
                action: "lambda:ListEventSourceMappings".into(),
                message: "User: x is not authorized".into(),
            },
            LambdaError::NotFound {
                message: "Function not found".into(),
            },
            LambdaError::Throttled {
                message: "Rate exceeded".into(),
            },
            LambdaError::InUse {
                message: "in use".into(),
            },
            LambdaError::InvalidParameter {
                message: "Function does not exist".into(),
            },
            LambdaError::Service {
                message: "boom".into(),
            },
            LambdaError::Network {
                message: "connection refused".into(),
            },
            LambdaError::Unexpected {
                message: "<html>".into(),
            },
        ];
        let out: Vec<String> = errors
            .iter()
            .map(|e| lookup_failed("orders-fn", e).fallback_text())
            .collect();
        insta::assert_snapshot!("lookup_failed", out.join("\n"));
    }

    #[test]
    fn click_replies() {
        let r = request("pause orders-fn", vec![kinesis("Enabled"), sqs("Enabled")]);
        let out = [
            confirmed(&r),
            cancelled(&r),
            expired(&r, Duration::from_secs(900)),
            not_requester(&r),
            already_handled(RequestState::Applying),
            already_handled(RequestState::Settled),
            already_handled(RequestState::Cancelled),
            unknown_request(),
            unknown_button(),
            wrong_button(),
            internal_error(),
        ]
        .iter()
        .map(Message::fallback_text)
        .collect::<Vec<_>>()
        .join("\n");
        insta::assert_snapshot!("click_replies", out);
    }

    #[test]
    fn follow_ups() {
        let pause = request(
            "pause orders-fn -- deploy 42 broke parsing",
            vec![kinesis("Enabled"), sqs("Disabled")],
        );
        let settled = follow_up(
            &pause,
            &[
                result(kinesis("Disabled"), Outcome::Settled),
                result(sqs("Disabled"), Outcome::AlreadyThere),
            ],
            Duration::from_secs(7),
        );
        insta::assert_snapshot!("follow_up_paused", settled.fallback_text());
        let resume = request("resume orders-fn orders", vec![kinesis("Disabled")]);
        let quick = follow_up(
            &resume,
            &[result(kinesis("Enabled"), Outcome::Settled)],
            Duration::from_millis(300),
        );
        insta::assert_snapshot!("follow_up_resumed", quick.fallback_text());
        let timed_out = follow_up(
            &pause,
            &[result(kinesis("Disabling"), Outcome::TimedOut)],
            Duration::from_secs(600),
        );
        insta::assert_snapshot!("follow_up_timed_out", timed_out.fallback_text());
        let denied = LambdaError::AccessDenied {
            action: "lambda:UpdateEventSourceMapping".into(),
            message: String::new(),
        };
        let failed = follow_up(
            &pause,
            &[
                result(kinesis("Enabled"), Outcome::Failed(denied)),
                result(sqs("Disabled"), Outcome::AlreadyThere),
            ],
            Duration::from_secs(2),
        );
        insta::assert_snapshot!("follow_up_failed", failed.fallback_text());
    }

    #[test]
    fn status_messages() {
        insta::assert_snapshot!(
            "status",
            status(
                "orders-fn",
                Some("us-east-1"),
                &[kinesis("Enabled"), sqs("Disabled")]
            )
            .fallback_text()
        );
        insta::assert_snapshot!(
            "status_overview_empty",
            status_overview(&[], &[]).fallback_text()
        );
        let r = request("pause orders-fn", vec![kinesis("Enabled")]);
        let mut paused = request("pause orders-fn for 2h", vec![kinesis("Enabled")]);
        paused.horizons.insert(
            kinesis("Enabled").uuid,
            crate::lambda::horizon::Horizon::Known {
                secs: 48 * 3600,
                cause: crate::lambda::horizon::Cause::KinesisRetention,
            },
        );
        paused.watch = Some(crate::workflow::request::Watch {
            paused_at: 1_764_770_000,
            limit_secs: Some(48 * 3600),
            reminders_sent: vec![],
            past_warned: false,
            resume_at: Some(1_764_777_200),
            ended: None,
            reported_reasons: Default::default(),
            released: vec![],
        });
        let disabled = kinesis("Disabled");
        let mut scheduled = request("resume orders-fn", vec![kinesis("Disabled")]);
        scheduled.state = RequestState::Confirmed;
        scheduled.not_before = Some(1_764_777_200);
        scheduled.scheduled_by = Some(paused.id.clone());
        insta::assert_snapshot!(
            "status_overview",
            status_overview(
                &[r.clone(), scheduled],
                &[PausedEntry {
                    request: &paused,
                    mapping: &disabled,
                    now: 1_764_773_600
                }]
            )
            .fallback_text()
        );
    }

    fn with_approval(mut r: Request) -> Request {
        r.needs_approval = true;
        r.rule = Some(1);
        r.approval = Some(crate::workflow::request::Approval {
            posting_since: None,
            message_ts: Some("1.2".into()),
            expires_at: 0,
            approvers: vec!["U0BOB".into(), "S0LEADS".into()],
            decided_by: None,
            decided_at: None,
        });
        r
    }

    #[test]
    fn approvals_and_refusals() {
        let r = with_approval(request(
            "resume orders-fn -- fix deployed",
            vec![kinesis("Disabled"), sqs("Enabled")],
        ));
        let bob = UserId::new("U0BOB");
        let out = [
            prompt(&r, Duration::from_secs(900)),
            awaiting_approval(&r),
            approval_request(&r, Duration::from_secs(3600)),
            approval_approved(&r, &bob),
            approval_done(&r, &bob, &[result(kinesis("Enabled"), Outcome::Settled)]),
            approval_done(&r, &bob, &[result(kinesis("Enabling"), Outcome::TimedOut)]),
            approval_denied(&r, &bob),
            approval_expired(&r),
            self_approval(),
            not_an_approver(&r),
            refused_no_rule(&r, Some("policy.toml")),
            refused_not_requester(&r, 2, Some("policy.toml")),
            group_lookup_failed(
                "S0LEADS",
                &crate::slack::client::SlackError::Api("plan_upgrade_required".into()),
            ),
            group_lookup_failed(
                "S0LEADS",
                &crate::slack::client::SlackError::Api("missing_scope".into()),
            ),
            group_lookup_failed(
                "S0LEADS",
                &crate::slack::client::SlackError::Api("no_such_subteam".into()),
            ),
            approval_post_failed(&crate::slack::client::SlackError::Api(
                "not_in_channel".into(),
            )),
        ]
        .iter()
        .map(Message::fallback_text)
        .collect::<Vec<_>>()
        .join("\n---\n");
        insta::assert_snapshot!("approvals_and_refusals", out);
        let mut approved = r.clone();
        approved.approval.as_mut().unwrap().decided_by = Some(bob);
        insta::assert_snapshot!(
            "follow_up_approved",
            follow_up(
                &approved,
                &[result(kinesis("Enabled"), Outcome::Settled)],
                Duration::from_secs(3)
            )
            .fallback_text()
        );
        insta::assert_snapshot!(
            "approval_request_blocks",
            serde_json::to_string_pretty(&approval_request(&r, Duration::from_secs(3600)).blocks())
                .unwrap()
        );
    }

    #[test]
    fn history_lines() {
        use crate::audit::{ALL_KINDS, AuditEvent};
        let events: Vec<AuditEvent> = ALL_KINDS
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                let mut e = AuditEvent::new(*kind, 1_764_770_700 + i as u64 * 60);
                e.action = Some(Action::Pause);
                e.function = Some("orders-fn".into());
                e.user = (i % 3 != 0).then(|| UserId::new("U0ALICE"));
                e.source = (i % 2 == 0).then(|| "orders".to_string());
                e.reason = Some("poison & retries".into());
                if matches!(
                    kind,
                    crate::audit::AuditKind::Applied | crate::audit::AuditKind::Settled
                ) {
                    e.before = Some("Enabled".into());
                    e.after = Some("Disabled".into());
                }
                if *kind == crate::audit::AuditKind::Refused {
                    e.detail = Some("rule 1: not one of its requesters".into());
                }
                e
            })
            .collect();
        insta::assert_snapshot!(
            "history",
            history(Some("orders-fn"), &events).fallback_text()
        );
        insta::assert_snapshot!("history_empty", history(None, &[]).fallback_text());
    }

    #[test]
    fn reasons_are_escaped_but_slack_markup_is_kept() {
        assert_eq!(
            user_text("a & b <@U1> < c > <https://x|y>"),
            "a &amp; b <@U1> &lt; c &gt; <https://x|y>"
        );
        assert_eq!(user_text("<<@U1>"), "&lt;<@U1>");
        assert_eq!(user_text("unclosed <"), "unclosed &lt;");
        assert_eq!(
            user_text("<!here> see <mailto:a@b.c|mail> & <#C1|ops>"),
            "<!here> see <mailto:a@b.c|mail> &amp; <#C1|ops>"
        );
        assert_eq!(user_text("x<y>z <a b>"), "x&lt;y&gt;z &lt;a b&gt;");
    }

    #[test]
    fn long_lists_stay_within_slack_limits() {
        let many: Vec<Mapping> = (0..400)
            .map(|i| {
                mapping(
                    &format!(
                        "arn:aws:kinesis:us-east-1:123456789012:stream/s-{i:03}-{}",
                        "x".repeat(60)
                    ),
                    &format!("uuid-{i}"),
                    "Enabled",
                    None,
                )
            })
            .collect();
        let msg = status("big-fn", None, &many);
        let blocks = msg.blocks();
        assert!(blocks.len() <= 50, "{}", blocks.len());
        for b in serde_json::to_value(&blocks).unwrap().as_array().unwrap() {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= 3000);
            }
        }
        assert!(msg.fallback_text().contains("… and 250 more"));
        let r = request("pause big-fn", many);
        let p = prompt(&r, Duration::from_secs(900));
        let blocks = serde_json::to_value(p.blocks()).unwrap();
        assert_eq!(
            blocks.as_array().unwrap().last().unwrap()["type"],
            "actions",
            "the buttons survive truncation"
        );
    }

    #[test]
    fn fallback_text_says_what_the_blocks_say() {
        let r = request(
            "pause orders-fn -- why",
            vec![kinesis("Enabled"), sqs("Enabled")],
        );
        for m in [
            help(),
            prompt(&r, Duration::from_secs(900)),
            confirmed(&r),
            status("f", None, &r.mappings),
        ] {
            let text = m.fallback_text();
            for b in serde_json::to_value(m.blocks())
                .unwrap()
                .as_array()
                .unwrap()
            {
                for line in b["text"]["text"].as_str().unwrap_or_default().lines() {
                    assert!(text.contains(line), "{line}");
                }
            }
        }
    }
}

//! Drives requests: command → resolve → prompt → click → apply → settle → follow-up, with every state change a store compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, unix_seconds};
use crate::command::{self, Command, Operation, StatusQuery};
use crate::ids::RequestId;
use crate::lambda::apply::{self, Outcome, SettlePolicy};
use crate::lambda::resolve::{self, Resolution};
use crate::lambda::{Lambda, Mapping};
use crate::slack::client::{Respond, Slack};
use crate::slack::messages::{self, Message};
use crate::slack::payload::{Click, SlashCommand};
use crate::store::Store;
use crate::workflow::request::{Button, ClickDecision, Request, RequestState, decide_click};

/// Tunables of the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a confirmation prompt stays valid.
    pub prompt_ttl: Duration,
    /// Retries, polling and the settle timeout.
    pub settle: SettlePolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prompt_ttl: Duration::from_secs(15 * 60),
            settle: SettlePolicy::default(),
        }
    }
}

/// The workflow engine. Handlers call it and return at once; slow work runs in spawned tasks.
pub struct Engine {
    store: Arc<dyn Store>,
    slack: Slack,
    lambda: Lambda,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        slack: Slack,
        lambda: Lambda,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            slack,
            lambda,
            clock,
            settings,
        })
    }

    fn now(&self) -> u64 {
        unix_seconds(self.clock.now())
    }

    /// Handles a verified slash command. Returns the immediate (ephemeral) answer; AWS work continues in a task.
    pub async fn command(self: &Arc<Self>, cmd: SlashCommand) -> Message {
        let parsed = command::parse(&cmd.text);
        tracing::info!(user = %cmd.user, channel = %cmd.channel, ok = parsed.is_ok(), "slash command");
        match parsed {
            Err(err) => messages::parse_error(&err),
            Ok(Command::Help) => messages::help(),
            Ok(Command::Status(query)) => {
                let ack = messages::checking(query.function.as_ref().map(|f| f.as_str()));
                let engine = Arc::clone(self);
                tokio::spawn(async move { engine.status(cmd, query).await });
                ack
            }
            Ok(Command::Pause(op) | Command::Resume(op)) => {
                if op.duration.is_some() {
                    return messages::timed_pause_unavailable();
                }
                let request = Request::new(
                    &op,
                    cmd.user.clone(),
                    cmd.team.clone(),
                    cmd.channel.clone(),
                    cmd.response_url.clone(),
                    self.now(),
                    self.settings.prompt_ttl.as_secs(),
                );
                if let Err(err) = self.store.insert(&request).await {
                    tracing::error!(error = %err, "could not record a request");
                    return messages::internal_error();
                }
                tracing::info!(request = %request.id, action = op.action.as_str(), function = %op.function, "request recorded");
                let ack = messages::looking_up(op.function.as_str());
                let engine = Arc::clone(self);
                tokio::spawn(async move { engine.prepare(request, op).await });
                ack
            }
        }
    }

    /// Resolves the mappings and shows the prompt (or says why there is nothing to confirm).
    async fn prepare(self: Arc<Self>, request: Request, op: Operation) {
        let region = op
            .region
            .as_ref()
            .map(|r| r.as_str())
            .or(op.function.region());
        let client = self.lambda.client(region);
        let resolution = resolve::resolve(
            &client,
            &op.function,
            op.source.as_ref(),
            &self.settings.settle.retry,
        )
        .await;
        let id = request.id.clone();
        let (message, outcome) = match resolution {
            Ok(Resolution::Found(mappings)) => {
                let target = apply::target_state(op.action.target_enabled());
                if mappings.iter().all(|m| m.state == target) {
                    let mut done = request.clone();
                    done.mappings = mappings.clone();
                    (
                        messages::nothing_to_do(&done),
                        Some((
                            RequestState::Cancelled,
                            mappings,
                            "nothing to change".to_string(),
                        )),
                    )
                } else {
                    let patch_mappings = mappings.clone();
                    match self
                        .store
                        .update(
                            &id,
                            RequestState::Requested,
                            Box::new(move |r| r.mappings = patch_mappings),
                        )
                        .await
                    {
                        Ok(Some(stored)) => {
                            (messages::prompt(&stored, self.settings.prompt_ttl), None)
                        }
                        Ok(None) => return,
                        Err(err) => {
                            tracing::error!(request = %id, error = %err, "could not store the plan");
                            (messages::internal_error(), None)
                        }
                    }
                }
            }
            Ok(Resolution::NoMappings) => (
                messages::no_mappings(op.function.as_str(), client.region()),
                Some((
                    RequestState::Failed,
                    Vec::new(),
                    "no event source mappings".to_string(),
                )),
            ),
            Ok(Resolution::NoMatch { available }) => (
                messages::no_match(
                    op.function.as_str(),
                    op.source.as_ref().map(|s| s.as_str()).unwrap_or_default(),
                    &available,
                ),
                Some((
                    RequestState::Failed,
                    Vec::new(),
                    "no matching event source mapping".to_string(),
                )),
            ),
            Err(err) => {
                tracing::warn!(request = %id, error = %err, "resolution failed");
                (
                    messages::lookup_failed(op.function.as_str(), &err),
                    Some((RequestState::Failed, Vec::new(), err.to_string())),
                )
            }
        };
        if let Some((state, mappings, why)) = outcome {
            let now = self.now();
            let patch = Box::new(move |r: &mut Request| {
                r.mappings = mappings;
                r.failure = Some(why);
                r.finished_at = Some(now);
            });
            if let Err(err) = self
                .store
                .transition(&id, RequestState::Requested, state, patch)
                .await
            {
                tracing::error!(request = %id, error = %err, "could not record the outcome");
            }
        }
        if let Err(err) = self
            .slack
            .respond(&request.response_url, &message, Respond::Ephemeral)
            .await
        {
            tracing::warn!(request = %id, error = %err, "could not deliver the prompt");
        }
    }

    /// Handles a verified button click (runs in its own task; the HTTP ack has already gone).
    pub async fn click(self: &Arc<Self>, click: Click) {
        let Some(button) = Button::from_action_id(&click.action_id) else {
            return self.tell_clicker(&click, &messages::unknown_button()).await;
        };
        let request = match RequestId::parse(&click.value) {
            Some(id) => self.store.get(&id).await,
            None => Ok(None),
        };
        let request = match request {
            Ok(Some(r)) => r,
            Ok(None) => {
                tracing::warn!(user = %click.user, "click on an unknown request id");
                return self
                    .tell_clicker(&click, &messages::unknown_request())
                    .await;
            }
            Err(err) => {
                tracing::error!(error = %err, "store failed on click");
                return self.tell_clicker(&click, &messages::internal_error()).await;
            }
        };
        let decision = decide_click(&request, &click.user, button, self.now());
        tracing::info!(request = %request.id, user = %click.user, ?button, ?decision, "click");
        let (to, reply) = match decision {
            ClickDecision::Confirm => (RequestState::Confirmed, None),
            ClickDecision::Cancel => (RequestState::Cancelled, None),
            ClickDecision::Expire => (RequestState::Expired, None),
            ClickDecision::NotAllowed => {
                return self
                    .tell_clicker(&click, &messages::not_requester(&request))
                    .await;
            }
            ClickDecision::AlreadyHandled(state) => {
                return self
                    .tell_clicker(&click, &messages::already_handled(state))
                    .await;
            }
            ClickDecision::NotApplicable => (
                RequestState::Requested,
                Some(messages::approvals_not_enabled()),
            ),
        };
        if let Some(reply) = reply {
            return self.tell_clicker(&click, &reply).await;
        }
        let now = self.now();
        let clicker = click.user.clone();
        let patch = Box::new(move |r: &mut Request| match to {
            RequestState::Confirmed => {
                r.confirmed_by = Some(clicker);
                r.confirmed_at = Some(now);
            }
            _ => r.finished_at = Some(now),
        });
        let won = match self
            .store
            .transition(&request.id, RequestState::Requested, to, patch)
            .await
        {
            Ok(Some(r)) => r,
            Ok(None) => {
                // Another click won the race.
                let state = self
                    .store
                    .get(&request.id)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| r.state)
                    .unwrap_or(request.state);
                return self
                    .tell_clicker(&click, &messages::already_handled(state))
                    .await;
            }
            Err(err) => {
                tracing::error!(request = %request.id, error = %err, "store failed on click");
                return self.tell_clicker(&click, &messages::internal_error()).await;
            }
        };
        let replacement = match to {
            RequestState::Confirmed => messages::confirmed(&won),
            RequestState::Cancelled => messages::cancelled(&won),
            _ => messages::expired(&won, self.settings.prompt_ttl),
        };
        let response_url = click
            .response_url
            .clone()
            .unwrap_or_else(|| won.response_url.clone());
        if let Err(err) = self
            .slack
            .respond(&response_url, &replacement, Respond::ReplaceOriginal)
            .await
        {
            tracing::warn!(request = %won.id, error = %err, "could not replace the prompt");
        }
        if to == RequestState::Confirmed {
            self.run(won).await;
        }
    }

    /// Applies a confirmed request, waits for it to settle, and posts the follow-up.
    async fn run(&self, request: Request) {
        let id = request.id.clone();
        let Ok(Some(request)) = self
            .store
            .transition(
                &id,
                RequestState::Confirmed,
                RequestState::Applying,
                Box::new(|_| {}),
            )
            .await
        else {
            return;
        };
        let started = tokio::time::Instant::now();
        let client = self.lambda.client(
            request
                .region
                .as_deref()
                .or(command::FunctionRef::parse(&request.function)
                    .ok()
                    .as_ref()
                    .and_then(|f| f.region())),
        );
        let results = apply::apply(
            &client,
            &request.mappings,
            request.target_enabled(),
            &self.settings.settle,
        )
        .await;
        let took = started.elapsed();
        let final_state = if results
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Failed(_)))
        {
            RequestState::Failed
        } else if results.iter().any(|r| r.outcome == Outcome::TimedOut) {
            RequestState::TimedOut
        } else {
            RequestState::Settled
        };
        tracing::info!(request = %id, state = final_state.as_str(), ?took, "request finished");
        let now = self.now();
        let stored_results = results.clone();
        let patch = Box::new(move |r: &mut Request| {
            r.results = stored_results;
            r.finished_at = Some(now);
        });
        if let Err(err) = self
            .store
            .transition(&id, RequestState::Applying, final_state, patch)
            .await
        {
            tracing::error!(request = %id, error = %err, "could not record the result");
        }
        let follow_up = messages::follow_up(&request, &results, took);
        if let Err(err) = self
            .slack
            .post_message(&request.channel, &follow_up, None)
            .await
        {
            tracing::warn!(request = %id, error = %err, "channel post failed; answering through response_url");
            if let Err(err) = self
                .slack
                .respond(&request.response_url, &follow_up, Respond::InChannel)
                .await
            {
                tracing::error!(request = %id, error = %err, "could not deliver the follow-up");
            }
        }
    }

    /// `/lambda status …`.
    async fn status(self: Arc<Self>, cmd: SlashCommand, query: StatusQuery) {
        let message = match &query.function {
            None => self.overview().await,
            Some(function) => {
                let region = query
                    .region
                    .as_ref()
                    .map(|r| r.as_str())
                    .or(function.region());
                let client = self.lambda.client(region);
                match resolve::resolve(
                    &client,
                    function,
                    query.source.as_ref(),
                    &self.settings.settle.retry,
                )
                .await
                {
                    Ok(Resolution::Found(mappings)) => {
                        messages::status(function.as_str(), client.region(), &mappings)
                    }
                    Ok(Resolution::NoMappings) => {
                        messages::no_mappings(function.as_str(), client.region())
                    }
                    Ok(Resolution::NoMatch { available }) => messages::no_match(
                        function.as_str(),
                        query
                            .source
                            .as_ref()
                            .map(|s| s.as_str())
                            .unwrap_or_default(),
                        &available,
                    ),
                    Err(err) => messages::lookup_failed(function.as_str(), &err),
                }
            }
        };
        if let Err(err) = self
            .slack
            .respond(&cmd.response_url, &message, Respond::Ephemeral)
            .await
        {
            tracing::warn!(error = %err, "could not deliver a status answer");
        }
    }

    /// Requests in flight, and the mappings this bot paused that no later request of ours resumed.
    async fn overview(&self) -> Message {
        let recent = match self.store.recent(500).await {
            Ok(r) => r,
            Err(err) => {
                tracing::error!(error = %err, "store failed on status");
                return messages::internal_error();
            }
        };
        let in_flight: Vec<Request> = recent
            .iter()
            .filter(|r| {
                matches!(r.state, RequestState::Confirmed | RequestState::Applying)
                    || (r.state == RequestState::Requested && !r.mappings.is_empty())
            })
            .cloned()
            .collect();
        // Newest first: the first settled request seen for a mapping decides whether it is paused.
        let mut seen = std::collections::HashSet::new();
        let mut paused: Vec<(Request, Mapping)> = Vec::new();
        for r in recent.iter().filter(|r| {
            matches!(
                r.state,
                RequestState::Settled | RequestState::TimedOut | RequestState::Failed
            )
        }) {
            for result in &r.results {
                if !seen.insert(result.mapping.uuid.clone()) {
                    continue;
                }
                if !r.target_enabled()
                    && matches!(result.outcome, Outcome::Settled | Outcome::TimedOut)
                {
                    paused.push((r.clone(), result.mapping.clone()));
                }
            }
        }
        messages::status_overview(&in_flight, &paused)
    }

    /// Says something to the clicker only: `chat.postEphemeral`, else the click's `response_url`.
    async fn tell_clicker(&self, click: &Click, message: &Message) {
        if let Some(channel) = &click.channel {
            match self
                .slack
                .post_ephemeral(channel, &click.user, message)
                .await
            {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "ephemeral post failed; trying response_url")
                }
            }
        }
        if let Some(url) = &click.response_url
            && let Err(err) = self.slack.respond(url, message, Respond::Ephemeral).await
        {
            tracing::warn!(error = %err, "could not answer a click");
        }
    }
}

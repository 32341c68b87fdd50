//! Drives requests: command → policy → prompt → confirm → approve → apply → settle → follow-up; every step a store compare-and-set, every step audited, resumable after a restart.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use crate::audit::{AuditEvent, AuditKind, AuditQuery};
use crate::clock::{Clock, unix_seconds};
use crate::command::{self, Command, FunctionRef, Operation, Region, SourceRef, StatusQuery};
use crate::ids::{RequestId, UserId};
use crate::lambda::apply::{self, MappingResult, Outcome, SettlePolicy, Step};
use crate::lambda::horizon::{self, Horizon};
use crate::lambda::resolve::{self, Resolution};
use crate::lambda::{Lambda, LambdaClient, Mapping};
use crate::policy::{Decision, GroupMembers, Policy};
use crate::slack::client::{Respond, Slack, SlackError};
use crate::slack::messages::{self, Message};
use crate::slack::payload::{Click, SlashCommand};
use crate::slack::replay::ReplayGuard;
use crate::store::{Patch, Store};
use crate::workflow::request::{
    Approval, ApprovalDecision, Button, ClickDecision, OwedFollowUp, Request, RequestState, Watch,
    decide_approval, decide_click,
};

/// Tunables of the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a confirmation prompt stays valid.
    pub prompt_ttl: Duration,
    /// Retries, polling and the settle timeout.
    pub settle: SettlePolicy,
    /// Who may do what (allow-all without a policy file).
    pub policy: Arc<Policy>,
    /// How long user-group members are cached.
    pub group_cache_ttl: Duration,
    /// How often expired prompts and approval requests are swept.
    pub sweep_interval: Duration,
    /// How many entries `/lambda history` shows.
    pub history_len: usize,
    /// Reminders while paused, in percent of the horizon.
    pub reminder_percents: Vec<u8>,
    /// How often paused mappings are checked for changes made outside the bot.
    pub drift_interval: Duration,
    /// When set (`SLACK_APP_ID`), requests for any other Slack app are refused.
    pub app_id: Option<String>,
    /// How long one function's `/lambda status` answer is shared by everyone who asks.
    pub status_shared_for: Duration,
    /// Most tasks handed over by requests at once; past it, new commands are told to retry.
    pub max_queued_work: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prompt_ttl: Duration::from_secs(15 * 60),
            settle: SettlePolicy::default(),
            policy: Arc::new(Policy::allow_all()),
            group_cache_ttl: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(30),
            history_len: 20,
            reminder_percents: vec![50, 80, 95],
            drift_interval: Duration::from_secs(300),
            app_id: None,
            status_shared_for: STATUS_SHARED_FOR,
            max_queued_work: MAX_QUEUED_WORK,
        }
    }
}

/// Default for [`Settings::max_queued_work`].
pub const MAX_QUEUED_WORK: usize = 1024;

/// The workflow engine. Handlers call it and return at once; slow work runs in spawned tasks.
pub struct Engine {
    store: Arc<dyn Store>,
    slack: Slack,
    lambda: Lambda,
    clock: Arc<dyn Clock>,
    settings: Settings,
    groups: Mutex<HashMap<String, (Instant, HashSet<UserId>)>>,
    last_drift_check: Mutex<Option<Instant>>,
    replays: ReplayGuard,
    /// Status acks rendered from shared listings.
    status_acks: crate::workflow::acks::StatusAcks,
    /// Bounds the tasks requests hand over (durable work after a restart is not counted).
    work: Arc<tokio::sync::Semaphore>,
}

/// Until when a signature must be remembered: Slack's window plus a minute of clock skew.
fn replay_expiry(signature: &crate::slack::verify::Signature) -> u64 {
    let window = crate::slack::verify::MAX_CLOCK_SKEW.as_secs();
    signature.timestamp.saturating_add(window + 60)
}

/// Why a request was refused by the policy (for the message and the audit trail).
struct Refusal {
    message: Message,
    detail: String,
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
            groups: Mutex::default(),
            last_drift_check: Mutex::default(),
            replays: ReplayGuard::default(),
            status_acks: Default::default(),
            work: Arc::new(tokio::sync::Semaphore::new(settings.max_queued_work.max(1))),
            settings,
        })
    }

    fn now(&self) -> u64 {
        unix_seconds(self.clock.now())
    }

    fn policy(&self) -> &Policy {
        &self.settings.policy
    }

    /// Whether requests from this workspace are accepted at all (`allowed_team_ids`).
    pub fn team_allowed(&self, team: Option<&crate::ids::TeamId>) -> bool {
        self.policy().team_allowed(team)
    }

    /// Whether a request is for this Slack app (when `SLACK_APP_ID` is set).
    pub fn app_allowed(&self, app_id: Option<&str>) -> bool {
        self.settings
            .app_id
            .as_deref()
            .is_none_or(|expected| app_id == Some(expected))
    }

    /// Whether this process sees a signed request for the first time (replays get `false`).
    /// In memory only: every request pays a hash-map lookup, nothing more.
    pub fn first_seen_here(&self, signature: &crate::slack::verify::Signature) -> bool {
        self.replays
            .first_seen(signature, replay_expiry(signature), self.now())
    }

    /// Whether a parsed slash command can change something, so its replay must also be
    /// checked against the store (other processes).
    pub fn command_has_effect(parsed: &Result<Command, command::ParseError>) -> bool {
        matches!(parsed, Ok(Command::Pause(_) | Command::Resume(_)))
    }

    /// Whether this is the first delivery of a signed request in any process sharing the store
    /// (replays get `false`). If the store fails, the request is let through: the signature
    /// already proved it is Slack's, and this process has not seen it.
    pub async fn first_delivery(&self, signature: &crate::slack::verify::Signature) -> bool {
        let expires_at = replay_expiry(signature);
        match self
            .store
            .first_delivery(&signature.value, expires_at, self.now())
            .await
        {
            Ok(first) => first,
            Err(err) => {
                tracing::error!(error = %err, "replay check failed; accepting the request");
                true
            }
        }
    }

    /// A place in the bounded queue of work handed over by requests (lookups, prompts, clicks),
    /// or `None` when it is full.
    fn work_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.work).try_acquire_owned().ok()
    }

    /// Runs `work` in a task if the queue has room (`false`: it is full, nothing was started).
    pub fn spawn_work(&self, work: impl Future<Output = ()> + Send + 'static) -> bool {
        let Some(permit) = self.work_permit() else {
            tracing::warn!("work queue full; refusing new work");
            return false;
        };
        tokio::spawn(
            async move {
                work.await;
                drop(permit);
            }
            .in_current_span(),
        );
        true
    }

    /// Waits (at most `grace`) until the work handed over by requests has finished (shutdown).
    pub async fn drain_work(&self, grace: Duration) {
        let all = u32::try_from(self.settings.max_queued_work.max(1)).unwrap_or(u32::MAX);
        match tokio::time::timeout(grace, self.work.acquire_many(all)).await {
            Ok(_) => tracing::info!("handed-over work finished"),
            Err(_) => tracing::warn!(
                "handed-over work still running at shutdown; its requests resume at the next start"
            ),
        }
    }

    /// Hands a verified click to a task; `false` when the work queue is full (nothing changed).
    pub fn spawn_click(self: &Arc<Self>, click: Click) -> bool {
        let engine = Arc::clone(self);
        self.spawn_work(async move { engine.click(click).await })
    }

    /// The store (for the CLI's audit export and tests).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    // ----- slash commands ---------------------------------------------------------------

    /// The ack to `/lambda {text}` if it is a status rendered moments ago from the listing that
    /// is still the latest: the same answer, ready to send, with no parsing or rendering.
    pub fn status_ack_at_hand(self: &Arc<Self>, text: &str) -> Option<axum::body::Bytes> {
        let generation = self.lambda.listings_generation();
        let hit = self
            .status_acks
            .get(text, generation, self.settings.status_shared_for)?;
        if let Some(query) = hit.refresh {
            self.refresh_listing(query);
        }
        Some(hit.body)
    }

    /// Lists `query`'s function again in a task, replacing the shared listing (statuses keep
    /// being answered from the old one meanwhile). Skipped when the work queue is full.
    fn refresh_listing(self: &Arc<Self>, query: StatusQuery) {
        let Some(function) = query.function else {
            return;
        };
        let engine = Arc::clone(self);
        self.spawn_work(async move {
            let client = engine.client_for(&function, query.region.as_ref());
            client
                .list_shared(
                    function.as_str(),
                    Duration::ZERO,
                    &engine.settings.settle.retry,
                )
                .await;
        });
    }

    /// Handles a verified slash command, already parsed. Returns the immediate (ephemeral)
    /// answer; AWS work continues in a task.
    pub async fn command(
        self: &Arc<Self>,
        cmd: SlashCommand,
        parsed: Result<Command, command::ParseError>,
    ) -> Message {
        if matches!(parsed, Ok(Command::Pause(_) | Command::Resume(_))) {
            tracing::info!(user = %cmd.user, channel = %cmd.channel, "slash command");
        } else {
            // Reads (help, status, history) and typos: frequent, and they change nothing.
            tracing::debug!(user = %cmd.user, channel = %cmd.channel, ok = parsed.is_ok(), "slash command");
        }
        match parsed {
            Err(err) => messages::parse_error(&err),
            Ok(Command::Help) => messages::help(),
            Ok(Command::History(function)) => self.history(function.as_ref()).await,
            Ok(Command::Status(query)) => {
                // Read before the listing: a change in between makes the rendering stale at once.
                let generation = self.lambda.listings_generation();
                if let Some((made, answer)) = self.status_at_hand(&query) {
                    self.status_acks
                        .put(&cmd.text, &query, generation, made, answer.ack_json());
                    return answer;
                }
                let ack = messages::checking(query.function.as_ref().map(|f| f.as_str()));
                let engine = Arc::clone(self);
                if self.spawn_work(async move { engine.status(cmd, query).await }) {
                    ack
                } else {
                    messages::busy()
                }
            }
            Ok(Command::Pause(op) | Command::Resume(op)) => {
                // Taken before anything is recorded: a busy bot refuses cleanly, changing nothing.
                let Some(permit) = self.work_permit() else {
                    return messages::busy();
                };
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
                self.audit(
                    AuditKind::Requested,
                    &request,
                    Some(&request.requester),
                    |_| {},
                )
                .await;
                let ack = messages::looking_up(op.function.as_str());
                let engine = Arc::clone(self);
                tokio::spawn(
                    async move {
                        engine.prepare(request, op).await;
                        drop(permit);
                    }
                    .in_current_span(),
                );
                ack
            }
        }
    }

    /// Resolves the mappings, checks the policy and shows the prompt (or says why not).
    async fn prepare(self: Arc<Self>, request: Request, op: Operation) {
        let client = self.client_for(&op.function, op.region.as_ref());
        let resolution = resolve::resolve(
            &client,
            &op.function,
            op.source.as_ref(),
            &self.settings.settle.retry,
        )
        .await;
        let id = request.id.clone();
        let finish = |state: RequestState, mappings: Vec<Mapping>, why: String| {
            let now = self.now();
            let patch: Patch<'static> = Box::new(move |r: &mut Request| {
                r.mappings = mappings;
                r.failure = Some(why);
                r.finished_at = Some(now);
            });
            (state, patch)
        };
        let (message, end) = match resolution {
            Ok(Resolution::Found(mappings)) => match self.decide(&request, &mappings).await {
                Err(refusal) => {
                    self.audit(
                        AuditKind::Refused,
                        &request,
                        Some(&request.requester),
                        |e| e.detail = Some(refusal.detail.clone()),
                    )
                    .await;
                    (
                        refusal.message,
                        Some(finish(
                            RequestState::Failed,
                            mappings,
                            format!("refused: {}", refusal.detail),
                        )),
                    )
                }
                Ok((rule, needs_approval, approvers)) => {
                    let target = apply::target_state(op.action.target_enabled());
                    let horizons = if op.action == command::Action::Pause {
                        self.horizons(&client, &mappings).await
                    } else {
                        Default::default()
                    };
                    let too_long = request.duration.filter(|_| !request.force).and_then(|d| {
                        mappings.iter().filter(|m| m.state != target).find_map(|m| {
                            horizons
                                .get(&m.uuid)
                                .and_then(|h| h.limit())
                                .filter(|l| l.as_secs() < d)
                                .map(|l| (m.clone(), l.as_secs()))
                        })
                    });
                    if let Some((mapping, limit)) = too_long {
                        let detail = format!(
                            "a {}s timed pause is longer than {}'s horizon ({limit}s); no --force",
                            request.duration.unwrap_or_default(),
                            mapping.short_name()
                        );
                        self.audit(
                            AuditKind::Refused,
                            &request,
                            Some(&request.requester),
                            |e| e.detail = Some(detail.clone()),
                        )
                        .await;
                        (
                            messages::refused_past_horizon(&request, &mapping, limit),
                            Some(finish(
                                RequestState::Failed,
                                mappings,
                                format!("refused: {detail}"),
                            )),
                        )
                    } else if mappings.iter().all(|m| m.state == target) {
                        let mut done = request.clone();
                        done.mappings = mappings.clone();
                        (
                            messages::nothing_to_do(&done),
                            Some(finish(
                                RequestState::Cancelled,
                                mappings,
                                "nothing to change".into(),
                            )),
                        )
                    } else {
                        let patch = Box::new(move |r: &mut Request| {
                            r.mappings = mappings;
                            r.horizons = horizons;
                            r.rule = rule;
                            r.needs_approval = needs_approval;
                            if needs_approval {
                                r.approval = Some(Approval {
                                    posting_since: None,
                                    message_ts: None,
                                    expires_at: 0,
                                    approvers,
                                    decided_by: None,
                                    decided_at: None,
                                });
                            }
                        });
                        match self.store.update(&id, RequestState::Requested, patch).await {
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
            },
            Ok(Resolution::NoMappings) => (
                messages::no_mappings(op.function.as_str(), client.region()),
                Some(finish(
                    RequestState::Failed,
                    Vec::new(),
                    "no event source mappings".into(),
                )),
            ),
            Ok(Resolution::NoMatch { available }) => (
                messages::no_match(
                    op.function.as_str(),
                    op.source.as_ref().map(|s| s.as_str()).unwrap_or_default(),
                    &available,
                ),
                Some(finish(
                    RequestState::Failed,
                    Vec::new(),
                    "no matching event source mapping".into(),
                )),
            ),
            Err(err) => {
                tracing::warn!(request = %id, error = %err, "resolution failed");
                (
                    messages::lookup_failed(op.function.as_str(), &err),
                    Some(finish(RequestState::Failed, Vec::new(), err.to_string())),
                )
            }
        };
        if let Some((state, patch)) = end {
            match self
                .store
                .transition(&id, RequestState::Requested, state, patch)
                .await
            {
                Ok(Some(done))
                    if state == RequestState::Failed
                        && !done
                            .failure
                            .as_deref()
                            .unwrap_or_default()
                            .starts_with("refused") =>
                {
                    self.audit(AuditKind::Failed, &done, None, |e| {
                        e.detail = done.failure.clone()
                    })
                    .await;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(request = %id, error = %err, "could not record the outcome")
                }
            }
        }
        self.tell_requester(
            &request.response_url,
            &request.channel,
            &request.requester,
            &message,
        )
        .await;
    }

    /// The policy's verdict: `(rule, needs_approval, approvers)` or a refusal.
    async fn decide(
        &self,
        request: &Request,
        mappings: &[Mapping],
    ) -> Result<(Option<usize>, bool, Vec<String>), Refusal> {
        let policy = self.policy();
        let name = request.function_name();
        let arn = mappings.first().map(|m| m.function_arn.as_str());
        let groups: Vec<String> = policy
            .rule_for(&name, arn, &request.channel)
            .map(|r| {
                r.requester_groups()
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let members = self
            .members(&groups)
            .await
            .map_err(|(group, err)| Refusal {
                message: messages::group_lookup_failed(&group, &err),
                detail: format!("user group {group} lookup failed: {err}"),
            })?;
        let file = policy.file.as_deref();
        match policy.decide(
            request.action,
            &name,
            arn,
            &request.channel,
            &request.requester,
            &members,
        ) {
            Decision::Allowed {
                rule,
                needs_approval,
            } => {
                // A timed pause settles its resume's approval now: an approver of the pause approves the resume.
                let resume_needs = request.duration.is_some()
                    && matches!(
                        policy.decide(
                            command::Action::Resume,
                            &name,
                            arn,
                            &request.channel,
                            &request.requester,
                            &members
                        ),
                        Decision::Allowed {
                            needs_approval: true,
                            ..
                        }
                    );
                let needs_approval = needs_approval || resume_needs;
                let approvers = rule
                    .and_then(|n| policy.rules.get(n - 1))
                    .map(|r| r.approvers.iter().map(|p| p.as_str().to_owned()).collect())
                    .unwrap_or_default();
                Ok((rule, needs_approval, approvers))
            }
            Decision::NoRule => Err(Refusal {
                message: messages::refused_no_rule(request, file),
                detail: "no policy rule matches this function in this channel".into(),
            }),
            Decision::NotARequester { rule } => Err(Refusal {
                message: messages::refused_not_requester(request, rule, file),
                detail: format!("rule {rule}: not one of its requesters"),
            }),
        }
    }

    /// Members of the given user groups, from a short-lived cache or `usergroups.users.list`.
    async fn members(&self, groups: &[String]) -> Result<GroupMembers, (String, SlackError)> {
        let mut members = GroupMembers::new();
        for group in groups {
            let cached = {
                let cache = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                cache
                    .get(group)
                    .filter(|(at, _)| at.elapsed() < self.settings.group_cache_ttl)
                    .map(|(_, m)| m.clone())
            };
            let set = match cached {
                Some(set) => set,
                None => {
                    let fetched: HashSet<UserId> = self
                        .slack
                        .usergroup_members(group)
                        .await
                        .map_err(|e| (group.clone(), e))?
                        .into_iter()
                        .collect();
                    self.groups
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(group.clone(), (Instant::now(), fetched.clone()));
                    fetched
                }
            };
            members.insert(group.clone(), set);
        }
        Ok(members)
    }

    // ----- clicks -----------------------------------------------------------------------

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
        match button {
            Button::Confirm | Button::Cancel => self.click_prompt(click, request, button).await,
            Button::Approve | Button::Deny => self.click_approval(click, request, button).await,
        }
    }

    async fn click_prompt(self: &Arc<Self>, click: Click, request: Request, button: Button) {
        let decision = decide_click(&request, &click.user, button, self.now());
        tracing::info!(request = %request.id, user = %click.user, ?button, ?decision, "click");
        let to = match decision {
            ClickDecision::Confirm => RequestState::Confirmed,
            ClickDecision::Cancel => RequestState::Cancelled,
            ClickDecision::Expire => RequestState::Expired,
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
            ClickDecision::NotApplicable => {
                return self.tell_clicker(&click, &messages::wrong_button()).await;
            }
        };
        let now = self.now();
        let clicker = click.user.clone();
        let patch = Box::new(move |r: &mut Request| match to {
            RequestState::Confirmed => {
                r.confirmed_by = Some(clicker);
                r.confirmed_at = Some(now);
            }
            _ => r.finished_at = Some(now),
        });
        let Some(won) = self
            .transition_or_tell(&click, &request, RequestState::Requested, to, patch)
            .await
        else {
            return;
        };
        let (kind, replacement) = match to {
            RequestState::Confirmed if won.needs_approval => {
                (AuditKind::Confirmed, messages::awaiting_approval(&won))
            }
            RequestState::Confirmed => (AuditKind::Confirmed, messages::confirmed(&won)),
            RequestState::Cancelled => (AuditKind::Cancelled, messages::cancelled(&won)),
            _ => (
                AuditKind::Expired,
                messages::expired(&won, self.settings.prompt_ttl),
            ),
        };
        self.audit(kind, &won, Some(&click.user), |_| {}).await;
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
            self.advance(won).await;
        }
    }

    async fn click_approval(self: &Arc<Self>, click: Click, request: Request, button: Button) {
        if request.state == RequestState::Requested {
            return self.tell_clicker(&click, &messages::wrong_button()).await;
        }
        let rule = request
            .rule
            .and_then(|n| self.policy().rules.get(n.wrapping_sub(1)));
        let groups: Vec<String> = rule
            .map(|r| r.approver_groups().into_iter().map(str::to_owned).collect())
            .unwrap_or_default();
        let members = match self.members(&groups).await {
            Ok(m) => m,
            Err((group, err)) => {
                return self
                    .tell_clicker(&click, &messages::group_lookup_failed(&group, &err))
                    .await;
            }
        };
        let is_approver = rule.is_some_and(|r| r.is_approver(&click.user, &members));
        let decision = decide_approval(&request, &click.user, button, is_approver, self.now());
        tracing::info!(request = %request.id, user = %click.user, ?button, ?decision, "approval click");
        let (to, kind) = match decision {
            ApprovalDecision::Approve => (RequestState::Approved, AuditKind::Approved),
            ApprovalDecision::Deny => (RequestState::Denied, AuditKind::Denied),
            ApprovalDecision::Expire => {
                self.expire_approval(&request).await;
                return self
                    .tell_clicker(&click, &messages::already_handled(RequestState::Expired))
                    .await;
            }
            ApprovalDecision::SelfApproval => {
                self.audit(AuditKind::Refused, &request, Some(&click.user), |e| {
                    e.detail = Some("tried to approve their own request".into())
                })
                .await;
                return self.tell_clicker(&click, &messages::self_approval()).await;
            }
            ApprovalDecision::NotAnApprover => {
                self.audit(AuditKind::Refused, &request, Some(&click.user), |e| {
                    e.detail = Some("not an approver".into())
                })
                .await;
                return self
                    .tell_clicker(&click, &messages::not_an_approver(&request))
                    .await;
            }
            ApprovalDecision::AlreadyHandled(state) => {
                return self
                    .tell_clicker(&click, &messages::already_handled(state))
                    .await;
            }
        };
        let now = self.now();
        let by = click.user.clone();
        let patch = Box::new(move |r: &mut Request| {
            if let Some(a) = r.approval.as_mut() {
                a.decided_by = Some(by);
                a.decided_at = Some(now);
            }
            if to == RequestState::Denied {
                r.finished_at = Some(now);
            }
        });
        let Some(won) = self
            .transition_or_tell(&click, &request, RequestState::AwaitingApproval, to, patch)
            .await
        else {
            return;
        };
        self.audit(kind, &won, Some(&click.user), |_| {}).await;
        let update = if to == RequestState::Approved {
            messages::approval_approved(&won, &click.user)
        } else {
            messages::approval_denied(&won, &click.user)
        };
        self.update_approval_message(&won, &update).await;
        if to == RequestState::Approved {
            self.advance(won).await;
        }
    }

    /// A compare-and-set for a click; tells the clicker when another click won first.
    async fn transition_or_tell(
        &self,
        click: &Click,
        request: &Request,
        from: RequestState,
        to: RequestState,
        patch: Patch<'_>,
    ) -> Option<Request> {
        match self.store.transition(&request.id, from, to, patch).await {
            Ok(Some(r)) => Some(r),
            Ok(None) => {
                let state = self
                    .store
                    .get(&request.id)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| r.state)
                    .unwrap_or(request.state);
                self.tell_clicker(click, &messages::already_handled(state))
                    .await;
                None
            }
            Err(err) => {
                tracing::error!(request = %request.id, error = %err, "store failed on click");
                self.tell_clicker(click, &messages::internal_error()).await;
                None
            }
        }
    }

    // ----- moving a request forward (clicks, restarts, sweeps) ---------------------------

    /// Takes the next step a request in `request.state` is owed. Safe to call again after a
    /// restart: every step is a compare-and-set, and sent updates are never repeated.
    pub async fn advance(self: &Arc<Self>, request: Request) {
        match request.state {
            RequestState::Requested if request.mappings.is_empty() => {
                // The process stopped while resolving: resolve again.
                match operation_of(&request) {
                    Some(op) => Arc::clone(self).prepare(request, op).await,
                    None => {
                        tracing::error!(request = %request.id, "stored request no longer parses")
                    }
                }
            }
            RequestState::Confirmed if request.not_before.is_some_and(|t| t > self.now()) => {
                self.arm_timer(request)
            }
            RequestState::Confirmed if request.needs_approval => self.ask_approval(request).await,
            RequestState::AwaitingApproval
                if request
                    .approval
                    .as_ref()
                    .is_none_or(|a| a.message_ts.is_none()) =>
            {
                self.post_approval(request).await
            }
            RequestState::Confirmed | RequestState::Approved | RequestState::Applying => {
                self.run(request).await
            }
            _ => {}
        }
    }

    /// Moves a confirmed request to `AwaitingApproval` and posts the approval request.
    async fn ask_approval(self: &Arc<Self>, request: Request) {
        let expires_at = self
            .now()
            .saturating_add(self.policy().approval_timeout.as_secs());
        let patch = Box::new(move |r: &mut Request| {
            let approval = r.approval.get_or_insert(Approval {
                posting_since: None,
                message_ts: None,
                expires_at,
                approvers: Vec::new(),
                decided_by: None,
                decided_at: None,
            });
            approval.expires_at = expires_at;
        });
        if let Ok(Some(waiting)) = self
            .store
            .transition(
                &request.id,
                RequestState::Confirmed,
                RequestState::AwaitingApproval,
                patch,
            )
            .await
        {
            self.post_approval(waiting).await;
        }
    }

    /// Posts the approval request in the channel and remembers its `ts`.
    async fn post_approval(&self, request: Request) {
        let message = messages::approval_request(&request, self.policy().approval_timeout);
        let earlier = request.approval.as_ref().and_then(|a| a.posting_since);
        let found = match earlier {
            Some(since) => self
                .slack
                .find_posted(&request.channel, None, since.saturating_sub(120), |c| {
                    c.contains(request.id.as_str()) && c.contains(r#""action_id":"approve""#)
                })
                .await
                .unwrap_or_else(|err| {
                    tracing::warn!(request = %request.id, error = %err, "could not check for an earlier approval request; posting it");
                    None
                }),
            None => {
                let now = self.now();
                let _ = self
                    .store
                    .update(
                        &request.id,
                        RequestState::AwaitingApproval,
                        Box::new(move |r: &mut Request| {
                            if let Some(a) = r.approval.as_mut() {
                                a.posting_since = Some(now);
                            }
                        }),
                    )
                    .await;
                None
            }
        };
        let posted = match found {
            Some(ts) => Ok(ts),
            None => {
                self.slack
                    .post_message(&request.channel, &message, None)
                    .await
            }
        };
        match posted {
            Ok(ts) => {
                let patch = Box::new(move |r: &mut Request| {
                    if let Some(a) = r.approval.as_mut() {
                        a.message_ts = Some(ts);
                    }
                });
                match self
                    .store
                    .update(&request.id, RequestState::AwaitingApproval, patch)
                    .await
                {
                    Ok(Some(r)) => {
                        let approvers = r
                            .approval
                            .as_ref()
                            .map(|a| a.approvers.join(", "))
                            .unwrap_or_default();
                        self.audit(AuditKind::ApprovalRequested, &r, None, |e| {
                            e.detail = Some(format!("approvers: {approvers}"))
                        })
                        .await;
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::error!(request = %request.id, error = %err, "could not record the approval message")
                    }
                }
            }
            Err(err) if err.is_transient() => {
                // Kept waiting for approval: the sweeper posts it once Slack answers again.
                tracing::warn!(request = %request.id, error = %err, "could not post the approval request yet; will retry");
            }
            Err(err) => {
                tracing::warn!(request = %request.id, error = %err, "could not post the approval request");
                let why = format!("could not post the approval request: {err}");
                self.close(
                    &request,
                    RequestState::AwaitingApproval,
                    RequestState::Failed,
                    AuditKind::Failed,
                    None,
                    &why,
                    true,
                )
                .await;
                self.tell_requester(
                    &request.response_url,
                    &request.channel,
                    &request.requester,
                    &messages::approval_post_failed(&err),
                )
                .await;
            }
        }
    }

    /// Moves an unanswered approval request to `Expired` and removes its buttons.
    async fn expire_approval(&self, request: &Request) {
        if let Some(expired) = self
            .close(
                request,
                RequestState::AwaitingApproval,
                RequestState::Expired,
                AuditKind::Expired,
                None,
                "no approval in time",
                false,
            )
            .await
        {
            self.update_approval_message(&expired, &messages::approval_expired(&expired))
                .await;
        }
    }

    /// Moves a request to a final state (recording when, and `why` as its failure if asked) and
    /// audits it once; None if another step got there first.
    #[allow(clippy::too_many_arguments)]
    async fn close(
        &self,
        request: &Request,
        from: RequestState,
        to: RequestState,
        kind: AuditKind,
        user: Option<&UserId>,
        why: &str,
        as_failure: bool,
    ) -> Option<Request> {
        let now = self.now();
        let failure = as_failure.then(|| why.to_owned());
        let patch = Box::new(move |r: &mut Request| {
            r.finished_at = Some(now);
            if failure.is_some() {
                r.failure = failure;
            }
        });
        match self.store.transition(&request.id, from, to, patch).await {
            Ok(Some(closed)) => {
                self.audit(kind, &closed, user, |e| e.detail = Some(why.to_owned()))
                    .await;
                Some(closed)
            }
            Ok(None) => None,
            Err(err) => {
                tracing::error!(request = %request.id, error = %err, "could not record the outcome");
                None
            }
        }
    }

    async fn update_approval_message(&self, request: &Request, message: &Message) {
        if let Some(ts) = request
            .approval
            .as_ref()
            .and_then(|a| a.message_ts.as_deref())
            && let Err(err) = self
                .slack
                .update_message(&request.channel, ts, message)
                .await
        {
            tracing::warn!(request = %request.id, error = %err, "could not update the approval request");
        }
    }

    /// Applies a confirmed (or approved) request, waits for it to settle, posts the follow-up.
    /// Also resumes an `Applying` request after a restart without repeating any update.
    async fn run(&self, request: Request) {
        let id = request.id.clone();
        // Already applying: a process before this one started it, and may have sent updates it
        // did not get to record. Each mapping's state is read again before anything is sent.
        let recovering = request.state == RequestState::Applying;
        let request = match request.state {
            RequestState::Confirmed | RequestState::Approved => {
                let now = self.now();
                let patch = Box::new(move |r: &mut Request| r.applying_since = Some(now));
                match self
                    .store
                    .transition(&id, request.state, RequestState::Applying, patch)
                    .await
                {
                    Ok(Some(r)) => r,
                    _ => return,
                }
            }
            RequestState::Applying => request,
            _ => return,
        };
        let resuming = recovering || !request.updated.is_empty() || !request.results.is_empty();
        if request.action == command::Action::Resume && request.scheduled_by.is_none() && !resuming
        {
            self.cancel_schedules(&request).await;
        }
        let results = if request.results.is_empty() {
            self.apply(&request, resuming).await
        } else {
            request.results.clone()
        };
        let took = Duration::from_secs(
            self.now()
                .saturating_sub(request.applying_since.unwrap_or(request.created_at)),
        );
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
        if request.results.is_empty() {
            let stored = results.clone();
            let _ = self
                .store
                .update(
                    &id,
                    RequestState::Applying,
                    Box::new(move |r: &mut Request| r.results = stored),
                )
                .await;
        }
        self.complete_audit(&request, &results).await;
        // When it settled: reminders and a timed resume count from here (read before anything slow).
        let now = self.now();
        let mut request = request;
        let in_doubt = request.follow_up_sending.is_some();
        if !in_doubt {
            // Recorded before posting: a process that takes over after a crash looks in Slack first.
            request.follow_up_sending = Some(now);
            let _ = self
                .store
                .update(
                    &id,
                    RequestState::Applying,
                    Box::new(move |r: &mut Request| r.follow_up_sending = Some(now)),
                )
                .await;
        }
        let delivery = self
            .deliver_follow_up(&request, &results, took, in_doubt)
            .await;
        let owed = delivery.is_none().then(|| OwedFollowUp {
            took_secs: took.as_secs(),
            attempts: 1,
            retry_at: OwedFollowUp::next_try(now, 1),
        });
        let follow_up_ts = delivery.flatten();
        if let Some(approver) = request.approval.as_ref().and_then(|a| a.decided_by.clone()) {
            self.update_approval_message(
                &request,
                &messages::approval_done(&request, &approver, &results),
            )
            .await;
        }
        let watch = (request.action == command::Action::Pause
            && final_state == RequestState::Settled)
            .then(|| {
                let limit = request
                    .mappings
                    .iter()
                    .filter_map(|m| request.horizons.get(&m.uuid).and_then(|h| h.limit()))
                    .min();
                Watch {
                    paused_at: now,
                    limit_secs: limit.map(|l| l.as_secs()),
                    reminders_sent: Vec::new(),
                    past_warned: false,
                    resume_at: request.duration.map(|d| now.saturating_add(d)),
                    ended: None,
                    reported_reasons: Default::default(),
                    released: Vec::new(),
                }
            });
        // Everything durable happens before the final transition, which is the last step: a
        // request seen as finished has its schedule and its released watches in place.
        let mut done = request.clone();
        done.results = results.clone();
        if follow_up_ts.is_some() {
            done.follow_up_ts = follow_up_ts.clone();
        }
        if let Some(at) = watch.as_ref().and_then(|w| w.resume_at) {
            self.schedule_resume(&done, at).await;
        }
        if done.action == command::Action::Resume && final_state == RequestState::Settled {
            self.release_watches(&done).await;
        }
        let patch = Box::new(move |r: &mut Request| {
            r.finished_at = Some(now);
            r.watch = watch;
            r.follow_up_owed = owed;
            if follow_up_ts.is_some() {
                r.follow_up_ts = follow_up_ts;
            }
        });
        if let Err(err) = self
            .store
            .transition(&id, RequestState::Applying, final_state, patch)
            .await
        {
            tracing::error!(request = %id, error = %err, "could not record the result");
        }
    }

    /// Makes the audit trail whole for a finished request: one `applied` event per update sent
    /// and one outcome event per mapping. Events a crash kept from being written are added now
    /// (marked as recorded after a restart); events already there are not repeated.
    async fn complete_audit(&self, request: &Request, results: &[MappingResult]) {
        let query = AuditQuery {
            function: Some(request.function_name()),
            since: Some(request.created_at),
            limit: None,
        };
        let existing: Vec<AuditEvent> = match self.store.audit(&query).await {
            Ok(events) => events
                .into_iter()
                .filter(|e| e.request.as_ref() == Some(&request.id))
                .collect(),
            Err(err) => {
                tracing::error!(request = %request.id, error = %err, "could not read the audit trail");
                return;
            }
        };
        let has = |kind: AuditKind, uuid: &crate::ids::MappingUuid| {
            existing
                .iter()
                .any(|e| e.kind == kind && e.mapping.as_ref() == Some(uuid))
        };
        let updated = match self.store.get(&request.id).await {
            Ok(Some(stored)) => stored.updated,
            _ => request.updated.clone(),
        };
        let has_step = |kind: AuditKind| existing.iter().any(|e| e.kind == kind);
        if let Some(by) = request.confirmed_by.as_ref()
            && !has_step(AuditKind::Confirmed)
        {
            self.audit(AuditKind::Confirmed, request, Some(by), |e| {
                e.detail = Some("recorded after a restart".into())
            })
            .await;
        }
        if let Some(by) = request
            .approval
            .as_ref()
            .and_then(|a| a.decided_by.as_ref())
            && !has_step(AuditKind::Approved)
        {
            self.audit(AuditKind::Approved, request, Some(by), |e| {
                e.detail = Some("recorded after a restart".into())
            })
            .await;
        }
        for planned in &request.mappings {
            if updated.contains(&planned.uuid) && !has(AuditKind::Applied, &planned.uuid) {
                self.audit(AuditKind::Applied, request, None, |e| {
                    e.mapping = Some(planned.uuid.clone());
                    e.source = Some(planned.short_name());
                    e.before = Some(planned.state.clone());
                    e.after = Some(apply::transitional_state(request.target_enabled()).to_owned());
                    e.detail = Some("recorded after a restart".into());
                })
                .await;
            }
        }
        for (result, planned) in results.iter().zip(&request.mappings) {
            let kind = match result.outcome {
                Outcome::Settled | Outcome::AlreadyThere => AuditKind::Settled,
                Outcome::TimedOut => AuditKind::TimedOut,
                Outcome::Failed(_) => AuditKind::Failed,
            };
            if has(kind, &result.mapping.uuid) {
                continue;
            }
            self.audit(kind, request, None, |e| {
                e.mapping = Some(result.mapping.uuid.clone());
                e.source = Some(result.mapping.short_name());
                e.before = Some(planned.state.clone());
                e.after = Some(result.mapping.state.clone());
                e.detail = match &result.outcome {
                    Outcome::AlreadyThere => Some("already in that state; left as is".into()),
                    Outcome::TimedOut => Some(format!(
                        "not settled; StateTransitionReason: {}",
                        result
                            .mapping
                            .state_transition_reason
                            .as_deref()
                            .unwrap_or("none")
                    )),
                    Outcome::Failed(err) => Some(err.to_string()),
                    Outcome::Settled => None,
                };
            })
            .await;
        }
    }

    /// Updates each mapping once (recording each sent update before moving on) and settles them.
    async fn apply(&self, request: &Request, resuming: bool) -> Vec<MappingResult> {
        let policy = &self.settings.settle;
        let elapsed = self
            .now()
            .saturating_sub(request.applying_since.unwrap_or(request.created_at));
        let deadline = Instant::now() + policy.timeout.saturating_sub(Duration::from_secs(elapsed));
        let client = self.client_for_request(request);
        let enabled = request.target_enabled();
        let mut steps = Vec::with_capacity(request.mappings.len());
        for planned in &request.mappings {
            if request.updated.contains(&planned.uuid) {
                // Sent before a restart: only wait for it.
                steps.push(Step::Pending(Mapping {
                    state: "Unknown".into(),
                    ..planned.clone()
                }));
                continue;
            }
            let current = if resuming {
                match crate::lambda::with_retries(&policy.retry, || client.get(&planned.uuid)).await
                {
                    Ok(m) => m,
                    Err(err) => {
                        steps.push(Step::Failed(planned.clone(), err));
                        continue;
                    }
                }
            } else {
                planned.clone()
            };
            let sends_update = current.state != apply::target_state(enabled)
                && current.state != apply::transitional_state(enabled);
            if resuming && !sends_update && current.state != planned.state {
                // Already on its way although no update was recorded: ours, sent just before a
                // crash. Recorded now, so it is waited for and audited once.
                let uuid = planned.uuid.clone();
                let _ = self
                    .store
                    .update(
                        &request.id,
                        RequestState::Applying,
                        Box::new(move |r: &mut Request| {
                            if !r.updated.contains(&uuid) {
                                r.updated.push(uuid)
                            }
                        }),
                    )
                    .await;
            }
            let step = apply::update_one(&client, &current, enabled, policy, deadline).await;
            if let (true, Step::Pending(after)) = (sends_update, &step) {
                let uuid = planned.uuid.clone();
                let _ = self
                    .store
                    .update(
                        &request.id,
                        RequestState::Applying,
                        Box::new(move |r: &mut Request| r.updated.push(uuid)),
                    )
                    .await;
                self.audit(AuditKind::Applied, request, None, |e| {
                    e.mapping = Some(planned.uuid.clone());
                    e.source = Some(planned.short_name());
                    e.before = Some(current.state.clone());
                    e.after = Some(after.state.clone());
                })
                .await;
            }
            steps.push(step);
        }
        let results = apply::settle(&client, steps, enabled, policy, deadline).await;
        // Statuses asked from now on show the new states.
        client.forget_listing(&request.function);
        client.forget_listing(&request.function_name());
        results
    }

    /// Posts the follow-up in the channel (in the approval request's thread when there was one),
    /// falling back to the command's `response_url`. `Some(ts)` when delivered (`ts` of the
    /// channel message or thread, if any); `None` when it could not be delivered now.
    /// When an earlier delivery may have landed (`in_doubt`: `follow_up_sending` was set by an
    /// earlier attempt), looks for it in the channel first, so the follow-up is posted once.
    async fn deliver_follow_up(
        &self,
        request: &Request,
        results: &[MappingResult],
        took: Duration,
        in_doubt: bool,
    ) -> Option<Option<String>> {
        let follow_up = messages::follow_up(request, results, took);
        // In the approval request's thread, or (a scheduled resume) in its pause's follow-up thread.
        let thread = request
            .approval
            .as_ref()
            .and_then(|a| a.message_ts.as_deref())
            .or(request.follow_up_ts.as_deref());
        let settled_thread = |ts: String| Some(Some(thread.map(str::to_owned).unwrap_or(ts)));
        if let Some(since) = request.follow_up_sending.filter(|_| in_doubt) {
            match self
                .slack
                .find_posted(&request.channel, thread, since.saturating_sub(120), |c| {
                    // The follow-up names the request and, unlike the approval request, has no buttons.
                    c.contains(request.id.as_str()) && !c.contains(r#""action_id""#)
                })
                .await
            {
                Ok(Some(ts)) => {
                    tracing::info!(request = %request.id, "the follow-up was already posted; not posting it again");
                    return settled_thread(ts);
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(request = %request.id, error = %err, "could not check for an earlier follow-up; posting it")
                }
            }
        }
        match self
            .slack
            .post_message(&request.channel, &follow_up, thread)
            .await
        {
            Ok(ts) => settled_thread(ts),
            Err(err) => {
                tracing::warn!(request = %request.id, error = %err, "channel post failed; answering through response_url");
                match self
                    .slack
                    .respond(&request.response_url, &follow_up, Respond::InChannel)
                    .await
                {
                    Ok(()) => Some(None),
                    Err(err) => {
                        tracing::error!(request = %request.id, error = %err, "could not deliver the follow-up; it is kept and retried");
                        None
                    }
                }
            }
        }
    }

    /// Retries the follow-ups that could not be delivered (the sweeper calls this; it survives restarts).
    async fn redeliver_follow_ups(&self, now: u64) {
        let Ok(owed) = self.store.owed_follow_ups().await else {
            return;
        };
        for request in owed {
            let Some(debt) = request.follow_up_owed.clone() else {
                continue;
            };
            if debt.retry_at > now {
                continue;
            }
            let results = request.results.clone();
            let delivery = self
                .deliver_follow_up(
                    &request,
                    &results,
                    Duration::from_secs(debt.took_secs),
                    request.follow_up_sending.is_some(),
                )
                .await;
            let state = request.state;
            let patch: Patch = match delivery {
                Some(ts) => {
                    tracing::info!(request = %request.id, attempts = debt.attempts + 1, "owed follow-up delivered");
                    Box::new(move |r: &mut Request| {
                        r.follow_up_owed = None;
                        if ts.is_some() {
                            r.follow_up_ts = ts;
                        }
                    })
                }
                None => {
                    let attempts = debt.attempts + 1;
                    Box::new(move |r: &mut Request| {
                        r.follow_up_owed = Some(OwedFollowUp {
                            took_secs: debt.took_secs,
                            attempts,
                            retry_at: OwedFollowUp::next_try(now, attempts),
                        })
                    })
                }
            };
            if let Err(err) = self.store.update(&request.id, state, patch).await {
                tracing::error!(request = %request.id, error = %err, "could not record a follow-up delivery");
            }
        }
    }

    // ----- the data-loss guard: horizons, schedules, reminders, drift ----------------------

    /// Looks up each to-be-paused mapping's horizon (one lookup per distinct source, at most 20).
    async fn horizons(
        &self,
        client: &LambdaClient,
        mappings: &[Mapping],
    ) -> std::collections::BTreeMap<crate::ids::MappingUuid, Horizon> {
        let mut by_source: HashMap<(Option<String>, Option<i32>), Horizon> = HashMap::new();
        let mut out = std::collections::BTreeMap::new();
        for m in mappings
            .iter()
            .filter(|m| m.state != apply::target_state(false))
        {
            let key = (m.source_arn.clone(), m.maximum_record_age);
            let h = match by_source.get(&key) {
                Some(h) => h.clone(),
                None if by_source.len() >= 20 => continue,
                None => {
                    let h = horizon::horizon(&self.lambda, client.region(), m).await;
                    by_source.insert(key, h.clone());
                    h
                }
            };
            out.insert(m.uuid.clone(), h);
        }
        out
    }

    /// Records the automatic resume of a timed pause: a resume request, confirmed in advance, due at `at`.
    async fn schedule_resume(&self, pause: &Request, at: u64) {
        let now = self.now();
        let mut resume = pause.clone();
        // Derived from the pause, so scheduling it again after a crash is a no-op (a duplicate insert).
        resume.id = RequestId::derived(&pause.id, "timed-resume");
        resume.action = command::Action::Resume;
        resume.state = RequestState::Confirmed;
        resume.created_at = now;
        resume.expires_at = at;
        resume.mappings = pause.watched_mappings().into_iter().cloned().collect();
        resume.confirmed_by = pause.confirmed_by.clone();
        resume.confirmed_at = Some(now);
        resume.needs_approval = false;
        resume.approval = None;
        resume.not_before = Some(at);
        resume.scheduled_by = Some(pause.id.clone());
        resume.results = Vec::new();
        resume.updated = Vec::new();
        resume.duration = None;
        resume.force = false;
        resume.horizons = Default::default();
        resume.watch = None;
        resume.applying_since = None;
        resume.finished_at = None;
        resume.failure = None;
        // The follow-up of the pause is where the resume will report.
        resume.follow_up_ts = pause.follow_up_ts.clone();
        match self.store.insert(&resume).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Duplicate(_)) => return,
            Err(err) => {
                tracing::error!(request = %pause.id, error = %err, "could not schedule the resume");
                return;
            }
        }
        let approver = pause
            .approval
            .as_ref()
            .and_then(|a| a.decided_by.as_ref())
            .map(|u| format!("; its approval was given with the pause by {u}"))
            .unwrap_or_default();
        let forced = if pause.force {
            "; --force: longer than the horizon"
        } else {
            ""
        };
        self.audit(
            AuditKind::Requested,
            &resume,
            pause.confirmed_by.as_ref(),
            |e| {
                e.detail = Some(format!(
                    "timed resume scheduled for {}{approver}{forced}",
                    crate::audit::rfc3339(at)
                ));
            },
        )
        .await;
    }

    /// A manual resume cancels any scheduled resume of the same mappings.
    async fn cancel_schedules(&self, manual: &Request) {
        let Ok(unfinished) = self.store.unfinished().await else {
            return;
        };
        let uuids: HashSet<_> = manual.mappings.iter().map(|m| &m.uuid).collect();
        for scheduled in unfinished.into_iter().filter(|r| {
            r.state == RequestState::Confirmed
                && r.not_before.is_some()
                && r.mappings.iter().any(|m| uuids.contains(&m.uuid))
        }) {
            let why = format!("cancelled by the manual resume {}", manual.id);
            self.close(
                &scheduled,
                RequestState::Confirmed,
                RequestState::Cancelled,
                AuditKind::Cancelled,
                Some(&manual.requester),
                &why,
                true,
            )
            .await;
        }
    }

    /// A resume settled: the pauses of those mappings need no more watching.
    async fn release_watches(&self, resume: &Request) {
        let Ok(watched) = self.store.watched().await else {
            return;
        };
        let resumed: Vec<_> = resume
            .results
            .iter()
            .map(|r| r.mapping.uuid.clone())
            .collect();
        for pause in watched.into_iter().filter(|p| {
            p.watched_mappings()
                .iter()
                .any(|m| resumed.contains(&m.uuid))
        }) {
            let resumed = resumed.clone();
            let by = resume.id.clone();
            let patch = Box::new(move |r: &mut Request| {
                let still: Vec<_> = r
                    .watched_mappings()
                    .into_iter()
                    .map(|m| m.uuid.clone())
                    .filter(|u| !resumed.contains(u))
                    .collect();
                if let Some(w) = r.watch.as_mut() {
                    w.released.extend(resumed);
                    if still.is_empty() {
                        w.ended = Some(format!("resumed by request {by}"));
                    }
                }
            });
            let _ = self
                .store
                .update(&pause.id, RequestState::Settled, patch)
                .await;
        }
    }

    /// Posts reminders at the configured fractions of the horizon, and one loud warning past it; each exactly once.
    async fn remind(&self, pause: &Request, now: u64) {
        let Some(watch) = pause.watch.as_ref() else {
            return;
        };
        let Some(limit) = watch.limit_secs.filter(|l| *l > 0) else {
            return;
        };
        let percent = now.saturating_sub(watch.paused_at).saturating_mul(100) / limit;
        let past = percent >= 100;
        let due: Vec<u8> = self
            .settings
            .reminder_percents
            .iter()
            .copied()
            .filter(|p| u64::from(*p) <= percent && !watch.reminders_sent.contains(p))
            .collect();
        if (past && watch.past_warned) || (!past && due.is_empty()) {
            return;
        }
        // Mark first, inside the store's atomic update, so only one process ever posts it.
        let won = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&won);
        let all_due = self.settings.reminder_percents.clone();
        let patch = Box::new(move |r: &mut Request| {
            if let Some(w) = r.watch.as_mut() {
                let fresh: Vec<u8> = all_due
                    .iter()
                    .copied()
                    .filter(|p| u64::from(*p) <= percent && !w.reminders_sent.contains(p))
                    .collect();
                if past && !w.past_warned {
                    w.past_warned = true;
                    w.reminders_sent.extend(fresh);
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                } else if !past && !fresh.is_empty() {
                    w.reminders_sent.extend(fresh);
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        let Ok(Some(updated)) = self
            .store
            .update(&pause.id, RequestState::Settled, patch)
            .await
        else {
            return;
        };
        if !won.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let shown = due.iter().max().copied().unwrap_or(100);
        let message = if past {
            messages::horizon_passed(&updated, now)
        } else {
            messages::reminder(&updated, shown, now)
        };
        self.audit(AuditKind::Reminded, &updated, None, |e| {
            e.detail = Some(if past {
                "the horizon has passed".into()
            } else {
                format!("{shown}% of the horizon")
            })
        })
        .await;
        if let Err(err) = self
            .slack
            .post_message(&updated.channel, &message, updated.follow_up_ts.as_deref())
            .await
        {
            tracing::warn!(request = %updated.id, error = %err, "could not post a reminder");
        }
    }

    /// Compares the watched mappings with AWS (one listing per function) and reports changes made outside the bot.
    async fn check_drift(&self, watched: &[Request]) {
        let in_flight: HashSet<crate::ids::MappingUuid> = self
            .store
            .unfinished()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                r.action == command::Action::Resume
                    && matches!(
                        r.state,
                        RequestState::Approved
                            | RequestState::Applying
                            | RequestState::AwaitingApproval
                    )
                    || (r.state == RequestState::Confirmed
                        && r.not_before.is_none_or(|t| t <= self.now()))
            })
            .flat_map(|r| r.mappings.into_iter().map(|m| m.uuid))
            .collect();
        let mut listings: HashMap<
            (Option<String>, String),
            HashMap<crate::ids::MappingUuid, Mapping>,
        > = HashMap::new();
        for pause in watched {
            let client = self.client_for_request(pause);
            for m in pause.watched_mappings() {
                if in_flight.contains(&m.uuid) {
                    continue;
                }
                let key = (client.region().map(str::to_owned), m.function_arn.clone());
                if !listings.contains_key(&key) {
                    match resolve::list_all(
                        &client,
                        &m.function_arn,
                        None,
                        &self.settings.settle.retry,
                    )
                    .await
                    {
                        Ok(list) => {
                            listings.insert(
                                key.clone(),
                                list.into_iter().map(|m| (m.uuid.clone(), m)).collect(),
                            );
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "drift check failed");
                            continue;
                        }
                    }
                }
                let Some(fresh) = listings.get(&key).and_then(|l| l.get(&m.uuid)) else {
                    continue;
                };
                let re_enabled = matches!(fresh.state.as_str(), "Enabled" | "Enabling");
                let new_reason = fresh.reason_is_not_user_initiated()
                    && pause
                        .watch
                        .as_ref()
                        .and_then(|w| w.reported_reasons.get(&m.uuid))
                        != fresh.state_transition_reason.as_ref();
                if !re_enabled && !new_reason {
                    continue;
                }
                let won = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let flag = Arc::clone(&won);
                let (uuid, reason) = (
                    m.uuid.clone(),
                    fresh.state_transition_reason.clone().unwrap_or_default(),
                );
                let patch = Box::new(move |r: &mut Request| {
                    let still_watched = r.watched_mappings().iter().any(|w| w.uuid == uuid);
                    let remaining = r.watched_mappings().len();
                    if let Some(w) = r.watch.as_mut().filter(|_| still_watched) {
                        if re_enabled {
                            w.released.push(uuid.clone());
                            if remaining <= 1 {
                                w.ended = Some("re-enabled outside lambda-pause".into());
                            }
                            flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        } else if w.reported_reasons.get(&uuid) != Some(&reason) {
                            w.reported_reasons.insert(uuid.clone(), reason);
                            flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
                let Ok(Some(updated)) = self
                    .store
                    .update(&pause.id, RequestState::Settled, patch)
                    .await
                else {
                    continue;
                };
                if !won.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let message = if re_enabled {
                    messages::drift_re_enabled(&updated, fresh)
                } else {
                    messages::drift_aws_changed(&updated, fresh)
                };
                self.audit(AuditKind::Drift, &updated, None, |e| {
                    e.mapping = Some(fresh.uuid.clone());
                    e.source = Some(fresh.short_name());
                    e.before = Some(m.state.clone());
                    e.after = Some(fresh.state.clone());
                    e.detail = Some(if re_enabled {
                        "re-enabled outside lambda-pause".into()
                    } else {
                        format!(
                            "StateTransitionReason: {}",
                            fresh.state_transition_reason.as_deref().unwrap_or("none")
                        )
                    });
                })
                .await;
                if let Err(err) = self
                    .slack
                    .post_message(&updated.channel, &message, updated.follow_up_ts.as_deref())
                    .await
                {
                    tracing::warn!(request = %updated.id, error = %err, "could not post a drift notice");
                }
            }
        }
    }

    // ----- restarts and sweeps ----------------------------------------------------------

    /// After a restart: picks up every unfinished request where it stopped.
    pub async fn recover(self: &Arc<Self>) {
        let unfinished = match self.store.unfinished().await {
            Ok(list) => list,
            Err(err) => {
                tracing::error!(error = %err, "could not read unfinished requests");
                return;
            }
        };
        if !unfinished.is_empty() {
            tracing::info!(count = unfinished.len(), "resuming unfinished requests");
        }
        for request in unfinished {
            let engine = Arc::clone(self);
            tokio::spawn(async move { engine.advance(request).await });
        }
    }

    /// Wakes a scheduled resume when it is due (the sweeper is the fallback after restarts or clock changes).
    fn arm_timer(self: &Arc<Self>, request: Request) {
        let Some(at) = request.not_before else { return };
        let wait = Duration::from_secs(at.saturating_sub(self.now()));
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Ok(Some(current)) = engine.store.get(&request.id).await
                && current.state == RequestState::Confirmed
                && current.not_before.is_some_and(|t| t <= engine.now())
            {
                engine.advance(current).await;
            }
        });
    }

    /// The periodic pass: expires prompts and approval requests, starts due scheduled resumes,
    /// posts due reminders, and (every `drift_interval`) checks paused mappings for drift.
    pub async fn sweep(self: &Arc<Self>) {
        let now = self.now();
        self.replays.prune(now);
        if let Ok(unfinished) = self.store.unfinished().await {
            for request in unfinished {
                match request.state {
                    RequestState::AwaitingApproval
                        if request
                            .approval
                            .as_ref()
                            .is_some_and(|a| now > a.expires_at) =>
                    {
                        self.expire_approval(&request).await
                    }
                    RequestState::Requested
                        if !request.mappings.is_empty() && now > request.expires_at =>
                    {
                        self.close(
                            &request,
                            RequestState::Requested,
                            RequestState::Expired,
                            AuditKind::Expired,
                            None,
                            "not confirmed in time",
                            false,
                        )
                        .await;
                    }
                    RequestState::AwaitingApproval
                        if request.approval.as_ref().is_some_and(|a| {
                            // Not while a first post may still be retrying.
                            a.message_ts.is_none()
                                && a.posting_since.is_none_or(|t| now.saturating_sub(t) >= 60)
                        }) =>
                    {
                        self.post_approval(request).await
                    }
                    RequestState::Confirmed if request.not_before.is_some_and(|t| t <= now) => {
                        let engine = Arc::clone(self);
                        tokio::spawn(async move { engine.advance(request).await });
                    }
                    _ => {}
                }
            }
        }
        self.redeliver_follow_ups(now).await;
        let Ok(watched) = self.store.watched().await else {
            return;
        };
        for pause in &watched {
            self.remind(pause, now).await;
        }
        let drift_due = {
            let mut last = self
                .last_drift_check
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= self.settings.drift_interval);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if drift_due && !watched.is_empty() {
            self.check_drift(&watched).await;
        }
    }

    /// Runs [`Engine::sweep`] every `sweep_interval` until the process ends.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(engine.settings.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                engine.sweep().await;
            }
        });
    }

    // ----- status and history -----------------------------------------------------------

    /// `/lambda status <function>` answered in the ack, when a listing of the function made
    /// in the last [`STATUS_SHARED_FOR`] is at hand.
    /// Also says when that listing was made.
    fn status_at_hand(&self, query: &StatusQuery) -> Option<(Instant, Message)> {
        let function = query.function.as_ref()?;
        let client = self.client_for(function, query.region.as_ref());
        let (made, listing) =
            client.recent_listing_since(function.as_str(), self.settings.status_shared_for)?;
        let resolution = resolve::from_listing(&listing, query.source.as_ref());
        Some((made, status_message(&client, query, function, resolution)))
    }

    /// `/lambda status …`.
    async fn status(self: Arc<Self>, cmd: SlashCommand, query: StatusQuery) {
        let message = match &query.function {
            None => self.overview().await,
            Some(function) => {
                let client = self.client_for(function, query.region.as_ref());
                let resolution = resolve::resolve_shared(
                    &client,
                    function,
                    query.source.as_ref(),
                    &self.settings.settle.retry,
                    self.settings.status_shared_for,
                )
                .await;
                status_message(&client, &query, function, resolution)
            }
        };
        self.tell_requester(&cmd.response_url, &cmd.channel, &cmd.user, &message)
            .await;
    }

    /// Answers the person who ran a command, only to them: through the command's `response_url`,
    /// or, when that has expired or been used up, with `chat.postEphemeral`.
    async fn tell_requester(
        &self,
        response_url: &crate::secrets::ResponseUrl,
        channel: &crate::ids::ChannelId,
        user: &UserId,
        message: &Message,
    ) {
        if let Err(err) = self
            .slack
            .respond(response_url, message, Respond::Ephemeral)
            .await
        {
            tracing::warn!(error = %err, "response_url failed; answering with chat.postEphemeral");
            if let Err(err) = self.slack.post_ephemeral(channel, user, message).await {
                tracing::error!(error = %err, "could not answer the requester");
            }
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
                matches!(
                    r.state,
                    RequestState::Confirmed
                        | RequestState::AwaitingApproval
                        | RequestState::Approved
                        | RequestState::Applying
                ) || (r.state == RequestState::Requested && !r.mappings.is_empty())
            })
            .cloned()
            .collect();
        let watched = self.store.watched().await.unwrap_or_default();
        let now = self.now();
        let paused: Vec<messages::PausedEntry<'_>> = watched
            .iter()
            .flat_map(|r| {
                r.watched_mappings()
                    .into_iter()
                    .map(move |m| messages::PausedEntry {
                        request: r,
                        mapping: m,
                        now,
                    })
            })
            .collect();
        messages::status_overview(&in_flight, &paused)
    }

    /// `/lambda history [function]`: the latest audit entries.
    async fn history(&self, function: Option<&FunctionRef>) -> Message {
        let query = AuditQuery {
            function: function.map(|f| f.name().to_owned()),
            since: None,
            limit: Some(self.settings.history_len),
        };
        match self.store.audit(&query).await {
            Ok(events) => messages::history(function.map(|f| f.as_str()), &events),
            Err(err) => {
                tracing::error!(error = %err, "store failed on history");
                messages::internal_error()
            }
        }
    }

    // ----- helpers ----------------------------------------------------------------------

    /// Records an audit event about `request` (and posts it to the audit channel, if any).
    async fn audit(
        &self,
        kind: AuditKind,
        request: &Request,
        user: Option<&UserId>,
        fill: impl FnOnce(&mut AuditEvent),
    ) {
        let mut event = AuditEvent::new(kind, self.now());
        event.request = Some(request.id.clone());
        event.action = Some(request.action);
        event.user = user.cloned();
        event.channel = Some(request.channel.clone());
        event.function = Some(request.function_name());
        event.source = request.source.clone();
        event.reason = request.reason.clone();
        fill(&mut event);
        match self.store.append_audit(&event).await {
            Ok(seq) => event.seq = seq,
            Err(err) => {
                tracing::error!(request = %request.id, kind = kind.as_str(), error = %err, "could not append to the audit trail")
            }
        }
        if let Some(channel) = self.policy().audit_channel.clone() {
            let slack = self.slack.clone();
            tokio::spawn(async move {
                if let Err(err) = slack
                    .post_message(&channel, &messages::audit_post(&event), None)
                    .await
                {
                    tracing::warn!(error = %err, "could not post to the audit channel");
                }
            });
        }
    }

    fn client_for(&self, function: &FunctionRef, region: Option<&Region>) -> LambdaClient {
        let region = region
            .map(|r| r.as_str())
            .or(function.region())
            .or(self.policy().region.as_deref());
        self.lambda.client(region)
    }

    fn client_for_request(&self, request: &Request) -> LambdaClient {
        match FunctionRef::parse(&request.function) {
            Ok(f) => self.client_for(
                &f,
                request.region.as_deref().and_then(Region::parse).as_ref(),
            ),
            Err(_) => self.lambda.client(request.region.as_deref()),
        }
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

/// Rebuilds the operation a stored request was made from.
/// Default for [`Settings::status_shared_for`].
pub const STATUS_SHARED_FOR: Duration = Duration::from_secs(2);

/// The answer to `/lambda status <function>` for a resolution.
fn status_message(
    client: &LambdaClient,
    query: &StatusQuery,
    function: &FunctionRef,
    resolution: Result<Resolution, crate::lambda::LambdaError>,
) -> Message {
    match resolution {
        Ok(Resolution::Found(mappings)) => {
            messages::status(function.as_str(), client.region(), &mappings)
        }
        Ok(Resolution::NoMappings) => messages::no_mappings(function.as_str(), client.region()),
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

fn operation_of(request: &Request) -> Option<Operation> {
    Some(Operation {
        action: request.action,
        function: FunctionRef::parse(&request.function).ok()?,
        source: request
            .source
            .as_deref()
            .map(SourceRef::parse)
            .transpose()
            .ok()?,
        region: request.region.as_deref().and_then(Region::parse),
        duration: None,
        force: false,
        reason: request.reason.clone(),
    })
}

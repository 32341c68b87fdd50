//! A pause/resume request, its states, and which transitions and clicks are allowed (pure: no I/O).

use serde::{Deserialize, Serialize};

use crate::command::{Action, Operation};
use crate::ids::{ChannelId, RequestId, TeamId, UserId};
use crate::lambda::Mapping;
use crate::lambda::apply::MappingResult;
use crate::secrets::ResponseUrl;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestState {
    /// Recorded; mappings being resolved, then the prompt awaits the requester's click.
    Requested,
    /// The requester confirmed; an apply (or an approval request) is about to start.
    Confirmed,
    /// Posted in the channel; waiting for an approver's click.
    AwaitingApproval,
    /// An approver approved; an apply is about to start.
    Approved,
    /// An approver denied: nothing was changed.
    Denied,
    /// Updates sent; waiting for every mapping to settle.
    Applying,
    /// Every mapping reached the target state (or already was there).
    Settled,
    /// Some mapping did not settle within the timeout.
    TimedOut,
    /// Resolution or an update failed.
    Failed,
    /// The requester cancelled.
    Cancelled,
    /// Nobody confirmed in time.
    Expired,
}

impl RequestState {
    /// Every state, in the order of a request's life.
    pub const ALL: [RequestState; 11] = [
        RequestState::Requested,
        RequestState::Confirmed,
        RequestState::AwaitingApproval,
        RequestState::Approved,
        RequestState::Applying,
        RequestState::Settled,
        RequestState::TimedOut,
        RequestState::Failed,
        RequestState::Denied,
        RequestState::Cancelled,
        RequestState::Expired,
    ];

    /// A stable identifier for storage (`awaiting_approval`, …).
    pub fn key(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Confirmed => "confirmed",
            RequestState::AwaitingApproval => "awaiting_approval",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Applying => "applying",
            RequestState::Settled => "settled",
            RequestState::TimedOut => "timed_out",
            RequestState::Failed => "failed",
            RequestState::Cancelled => "cancelled",
            RequestState::Expired => "expired",
        }
    }

    pub fn from_key(key: &str) -> Option<RequestState> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Confirmed => "confirmed",
            RequestState::AwaitingApproval => "awaiting approval",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Applying => "applying",
            RequestState::Settled => "settled",
            RequestState::TimedOut => "timed out",
            RequestState::Failed => "failed",
            RequestState::Cancelled => "cancelled",
            RequestState::Expired => "expired",
        }
    }

    /// No transition leaves a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Settled
                | RequestState::TimedOut
                | RequestState::Failed
                | RequestState::Denied
                | RequestState::Cancelled
                | RequestState::Expired
        )
    }

    /// The allowed edges of the state machine.
    pub fn can_become(self, to: RequestState) -> bool {
        use RequestState::*;
        matches!(
            (self, to),
            (Requested, Confirmed | Cancelled | Expired | Failed)
                | (Confirmed, Applying | AwaitingApproval | Failed | Cancelled)
                | (AwaitingApproval, Approved | Denied | Expired | Failed)
                | (Approved, Applying)
                | (Applying, Settled | TimedOut | Failed)
        )
    }
}

/// A request held by the server. Buttons carry only its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub action: Action,
    /// The function as the user named it (name, `name:alias` or ARN).
    pub function: String,
    /// The source as the user named it, if any.
    pub source: Option<String>,
    pub region: Option<String>,
    pub reason: Option<String>,
    pub requester: UserId,
    pub team: Option<TeamId>,
    pub channel: ChannelId,
    pub response_url: ResponseUrl,
    pub state: RequestState,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds after which a click no longer confirms.
    pub expires_at: u64,
    /// The plan: the mappings in scope as resolved when the prompt was shown.
    pub mappings: Vec<Mapping>,
    pub confirmed_by: Option<UserId>,
    pub confirmed_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// How each mapping ended, once applied.
    pub results: Vec<MappingResult>,
    /// Why the request failed before any update (e.g. resolution failed).
    pub failure: Option<String>,
    /// The policy rule (1-based) that allowed it; None without a policy file.
    #[serde(default)]
    pub rule: Option<usize>,
    /// Whether an approver must approve after the requester confirms.
    #[serde(default)]
    pub needs_approval: bool,
    /// The approval request, once posted.
    #[serde(default)]
    pub approval: Option<Approval>,
    /// Unix seconds when the apply started (the settle timeout counts from here, also after a restart).
    #[serde(default)]
    pub applying_since: Option<u64>,
    /// Mappings whose update was sent: never updated again, even after a restart.
    #[serde(default)]
    pub updated: Vec<crate::ids::MappingUuid>,
    /// A timed pause: resume by itself after this many seconds.
    #[serde(default)]
    pub duration: Option<u64>,
    /// `--force`: a timed pause longer than the horizon was accepted anyway.
    #[serde(default)]
    pub force: bool,
    /// How long each mapping's unprocessed records survive a pause, as looked up at the prompt.
    #[serde(default)]
    pub horizons:
        std::collections::BTreeMap<crate::ids::MappingUuid, crate::lambda::horizon::Horizon>,
    /// A scheduled resume: do not apply before this unix time.
    #[serde(default)]
    pub not_before: Option<u64>,
    /// The timed pause that scheduled this resume.
    #[serde(default)]
    pub scheduled_by: Option<RequestId>,
    /// The follow-up's `ts` (reminders and notices go into its thread).
    #[serde(default)]
    pub follow_up_ts: Option<String>,
    /// While the mappings this pause paused stay paused: reminders and drift checks.
    #[serde(default)]
    pub watch: Option<Watch>,
    /// When a delivery of the follow-up began (unix seconds). A process that finds it set looks
    /// in Slack for the follow-up before posting it again, so a crash mid-delivery posts no twin.
    #[serde(default)]
    pub follow_up_sending: Option<u64>,
    /// The follow-up could not be delivered yet: the sweeper keeps trying, after restarts too.
    #[serde(default)]
    pub follow_up_owed: Option<OwedFollowUp>,
}

/// A follow-up still to be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedFollowUp {
    /// How long the request took (the follow-up says it).
    pub took_secs: u64,
    /// Deliveries tried so far.
    pub attempts: u32,
    /// Unix seconds of the next try.
    pub retry_at: u64,
}

impl OwedFollowUp {
    /// The next try after `attempts` failures: 1, 2, 4 … minutes, then hourly; never given up.
    pub fn next_try(now: u64, attempts: u32) -> u64 {
        let minutes = 1u64 << attempts.saturating_sub(1).min(6);
        now.saturating_add(minutes.min(60) * 60)
    }
}

/// What the bot keeps watching after a pause settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// Unix seconds when the pause settled.
    pub paused_at: u64,
    /// The shortest known horizon of the paused mappings.
    pub limit_secs: Option<u64>,
    /// Reminder thresholds (percent of the horizon) already posted.
    pub reminders_sent: Vec<u8>,
    /// The loud warning once the horizon has passed.
    pub past_warned: bool,
    /// The scheduled resume, if this was a timed pause.
    pub resume_at: Option<u64>,
    /// Why watching stopped (resumed, re-enabled outside the bot); None while active.
    pub ended: Option<String>,
    /// The last `StateTransitionReason` reported as drift, per mapping (so each is reported once).
    #[serde(default)]
    pub reported_reasons: std::collections::BTreeMap<crate::ids::MappingUuid, String>,
    /// Paused mappings no longer watched (resumed by the bot, or re-enabled outside it).
    #[serde(default)]
    pub released: Vec<crate::ids::MappingUuid>,
}

impl Request {
    /// The mappings this (pause) request left paused and still watches.
    pub fn watched_mappings(&self) -> Vec<&Mapping> {
        let released = self
            .watch
            .as_ref()
            .map(|w| w.released.as_slice())
            .unwrap_or_default();
        self.results
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    crate::lambda::apply::Outcome::Settled
                        | crate::lambda::apply::Outcome::TimedOut
                )
            })
            .map(|r| &r.mapping)
            .filter(|m| !released.contains(&m.uuid))
            .collect()
    }
}

/// The approval request posted in the channel, and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The channel message's `ts` (for `chat.update` and the follow-up's thread), once posted.
    pub message_ts: Option<String>,
    /// Unix seconds after which it can no longer be approved.
    pub expires_at: u64,
    /// The approvers as the policy names them (user and group ids).
    pub approvers: Vec<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<u64>,
    /// When a post of the approval request began (unix seconds): a later attempt looks in the
    /// channel for it first, so a crash mid-post leaves no twin.
    #[serde(default)]
    pub posting_since: Option<u64>,
}

impl Request {
    /// A new request in state `Requested`.
    pub fn new(
        op: &Operation,
        requester: UserId,
        team: Option<TeamId>,
        channel: ChannelId,
        response_url: ResponseUrl,
        now: u64,
        ttl_secs: u64,
    ) -> Self {
        Self {
            id: RequestId::generate(),
            action: op.action,
            function: op.function.to_string(),
            source: op.source.as_ref().map(|s| s.to_string()),
            region: op.region.as_ref().map(|r| r.to_string()),
            reason: op.reason.clone(),
            requester,
            team,
            channel,
            response_url,
            state: RequestState::Requested,
            created_at: now,
            expires_at: now.saturating_add(ttl_secs),
            mappings: Vec::new(),
            confirmed_by: None,
            confirmed_at: None,
            finished_at: None,
            results: Vec::new(),
            failure: None,
            rule: None,
            needs_approval: false,
            approval: None,
            applying_since: None,
            updated: Vec::new(),
            duration: op.duration.map(|d| d.as_secs()),
            force: op.force,
            horizons: Default::default(),
            not_before: None,
            scheduled_by: None,
            follow_up_ts: None,
            follow_up_sending: None,
            follow_up_owed: None,
            watch: None,
        }
    }

    /// `Enabled` value this request sets.
    pub fn target_enabled(&self) -> bool {
        self.action.target_enabled()
    }

    /// The bare function name (for policy matching and the audit trail).
    pub fn function_name(&self) -> String {
        crate::command::FunctionRef::parse(&self.function)
            .map(|f| f.name().to_owned())
            .unwrap_or_else(|_| self.function.clone())
    }
}

/// Which of our buttons was clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Confirm,
    Cancel,
    Approve,
    Deny,
}

impl Button {
    /// The contract's `action_id`s.
    pub fn from_action_id(action_id: &str) -> Option<Button> {
        match action_id {
            "confirm" => Some(Button::Confirm),
            "cancel" => Some(Button::Cancel),
            "approve" => Some(Button::Approve),
            "deny" => Some(Button::Deny),
            _ => None,
        }
    }

    pub fn action_id(self) -> &'static str {
        match self {
            Button::Confirm => "confirm",
            Button::Cancel => "cancel",
            Button::Approve => "approve",
            Button::Deny => "deny",
        }
    }
}

/// What an Approve/Deny click should do, given the policy's verdict on the clicker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalDecision {
    Approve,
    Deny,
    /// The approval window has passed: move to `Expired`.
    Expire,
    /// The requester tried to approve their own request.
    SelfApproval,
    /// The clicker is not an approver of this request.
    NotAnApprover,
    /// Not waiting for an approval (yet, or any more).
    AlreadyHandled(RequestState),
}

/// Decides an Approve/Deny click. `is_approver`: the clicker is one of the rule's approvers
/// (directly or through a group), whoever they are.
pub fn decide_approval(
    request: &Request,
    clicker: &UserId,
    button: Button,
    is_approver: bool,
    now: u64,
) -> ApprovalDecision {
    if request.state != RequestState::AwaitingApproval {
        return ApprovalDecision::AlreadyHandled(request.state);
    }
    if request
        .approval
        .as_ref()
        .is_some_and(|a| now > a.expires_at)
    {
        return ApprovalDecision::Expire;
    }
    match button {
        Button::Approve if clicker == &request.requester => ApprovalDecision::SelfApproval,
        _ if !is_approver => ApprovalDecision::NotAnApprover,
        Button::Approve => ApprovalDecision::Approve,
        _ => ApprovalDecision::Deny,
    }
}

/// What a click on a request should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickDecision {
    /// Move `Requested` → `Confirmed` and apply.
    Confirm,
    /// Move `Requested` → `Cancelled`.
    Cancel,
    /// Move `Requested` → `Expired`: the click came too late.
    Expire,
    /// The clicker may not click this button; nothing changes.
    NotAllowed,
    /// The request is past the point where this button means anything.
    AlreadyHandled(RequestState),
    /// A button this request does not have (approvals arrive with the policy file).
    NotApplicable,
}

/// Decides a Confirm/Cancel click from the stored request alone (never from the payload's message
/// contents). Approve/Deny are decided with the policy (see [`decide_approval`]).
pub fn decide_click(
    request: &Request,
    clicker: &UserId,
    button: Button,
    now: u64,
) -> ClickDecision {
    match button {
        Button::Approve | Button::Deny => ClickDecision::NotApplicable,
        Button::Confirm | Button::Cancel => {
            if clicker != &request.requester {
                ClickDecision::NotAllowed
            } else if request.state != RequestState::Requested {
                ClickDecision::AlreadyHandled(request.state)
            } else if request.mappings.is_empty() {
                // The prompt was never shown: no click can be for it.
                ClickDecision::AlreadyHandled(request.state)
            } else if now > request.expires_at {
                ClickDecision::Expire
            } else if button == Button::Confirm {
                ClickDecision::Confirm
            } else {
                ClickDecision::Cancel
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{FunctionRef, Operation};
    use crate::ids::MappingUuid;

    fn request() -> Request {
        let op = Operation {
            action: Action::Pause,
            function: FunctionRef::parse("orders-fn").unwrap(),
            source: None,
            region: None,
            duration: None,
            force: false,
            reason: None,
        };
        let mut r = Request::new(
            &op,
            UserId::new("U1"),
            None,
            ChannelId::new("C1"),
            ResponseUrl::new("https://hooks.slack.com/x"),
            1_000,
            900,
        );
        r.mappings.push(Mapping {
            uuid: MappingUuid::new("u-1"),
            source_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/orders".into()),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders-fn".into(),
            state: "Enabled".into(),
            state_transition_reason: None,
            topics: vec![],
            maximum_record_age: None,
        });
        r
    }

    #[test]
    fn the_requester_confirms_or_cancels_in_time() {
        let r = request();
        let me = UserId::new("U1");
        assert_eq!(
            decide_click(&r, &me, Button::Confirm, 1_000),
            ClickDecision::Confirm
        );
        assert_eq!(
            decide_click(&r, &me, Button::Cancel, 1_900),
            ClickDecision::Cancel
        );
        assert_eq!(
            decide_click(&r, &me, Button::Confirm, 1_901),
            ClickDecision::Expire
        );
    }

    #[test]
    fn others_may_not_click() {
        let r = request();
        assert_eq!(
            decide_click(&r, &UserId::new("U2"), Button::Confirm, 1_000),
            ClickDecision::NotAllowed
        );
        assert_eq!(
            decide_click(&r, &UserId::new("U2"), Button::Cancel, 5_000),
            ClickDecision::NotAllowed
        );
    }

    #[test]
    fn a_second_click_changes_nothing() {
        let mut r = request();
        for state in [
            RequestState::Confirmed,
            RequestState::Applying,
            RequestState::Settled,
            RequestState::Cancelled,
            RequestState::Expired,
        ] {
            r.state = state;
            assert_eq!(
                decide_click(&r, &UserId::new("U1"), Button::Confirm, 1_000),
                ClickDecision::AlreadyHandled(state)
            );
        }
    }

    #[test]
    fn approvals_do_not_apply_without_a_policy() {
        let r = request();
        assert_eq!(
            decide_click(&r, &UserId::new("U2"), Button::Approve, 1_000),
            ClickDecision::NotApplicable
        );
    }

    #[test]
    fn state_machine_edges() {
        use RequestState::*;
        let all = [
            Requested,
            Confirmed,
            AwaitingApproval,
            Approved,
            Denied,
            Applying,
            Settled,
            TimedOut,
            Failed,
            Cancelled,
            Expired,
        ];
        let allowed: Vec<(RequestState, RequestState)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Requested, Confirmed),
                (Requested, Failed),
                (Requested, Cancelled),
                (Requested, Expired),
                (Confirmed, AwaitingApproval),
                (Confirmed, Applying),
                (Confirmed, Failed),
                (Confirmed, Cancelled),
                (AwaitingApproval, Approved),
                (AwaitingApproval, Denied),
                (AwaitingApproval, Failed),
                (AwaitingApproval, Expired),
                (Approved, Applying),
                (Applying, Settled),
                (Applying, TimedOut),
                (Applying, Failed),
            ]
        );
        for s in all {
            if s.is_final() {
                assert!(all.iter().all(|t| !s.can_become(*t)), "{s:?} is final");
            }
        }
    }

    #[test]
    fn approvals_need_another_approver_in_time() {
        let mut r = request();
        r.state = RequestState::AwaitingApproval;
        r.approval = Some(Approval {
            posting_since: None,
            message_ts: Some("1.2".into()),
            expires_at: 5_000,
            approvers: vec!["U2".into()],
            decided_by: None,
            decided_at: None,
        });
        let (me, bob, eve) = (UserId::new("U1"), UserId::new("U2"), UserId::new("U3"));
        assert_eq!(
            decide_approval(&r, &bob, Button::Approve, true, 4_000),
            ApprovalDecision::Approve
        );
        assert_eq!(
            decide_approval(&r, &bob, Button::Deny, true, 4_000),
            ApprovalDecision::Deny
        );
        assert_eq!(
            decide_approval(&r, &me, Button::Approve, true, 4_000),
            ApprovalDecision::SelfApproval,
            "even an approver can't approve their own"
        );
        assert_eq!(
            decide_approval(&r, &me, Button::Deny, true, 4_000),
            ApprovalDecision::Deny,
            "an approver may deny their own"
        );
        assert_eq!(
            decide_approval(&r, &eve, Button::Approve, false, 4_000),
            ApprovalDecision::NotAnApprover
        );
        assert_eq!(
            decide_approval(&r, &eve, Button::Deny, false, 4_000),
            ApprovalDecision::NotAnApprover
        );
        assert_eq!(
            decide_approval(&r, &bob, Button::Approve, true, 5_001),
            ApprovalDecision::Expire
        );
        r.state = RequestState::Approved;
        assert_eq!(
            decide_approval(&r, &bob, Button::Approve, true, 4_000),
            ApprovalDecision::AlreadyHandled(RequestState::Approved)
        );
    }

    #[test]
    fn state_keys_round_trip() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::from_key(s.key()), Some(s));
        }
    }

    #[test]
    fn buttons_round_trip_their_action_ids() {
        for b in [
            Button::Confirm,
            Button::Cancel,
            Button::Approve,
            Button::Deny,
        ] {
            assert_eq!(Button::from_action_id(b.action_id()), Some(b));
        }
        assert_eq!(Button::from_action_id("Confirm"), None);
    }
}

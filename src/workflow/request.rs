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
    /// The requester confirmed; an apply is about to start.
    Confirmed,
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
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Confirmed => "confirmed",
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
                | (Confirmed, Applying)
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
        }
    }

    /// `Enabled` value this request sets.
    pub fn target_enabled(&self) -> bool {
        self.action.target_enabled()
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

/// Decides a click from the stored request alone (never from the payload's message contents).
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
            Requested, Confirmed, Applying, Settled, TimedOut, Failed, Cancelled, Expired,
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
                (Confirmed, Applying),
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

//! Decoding what Slack sends us: the slash-command form and `block_actions` interaction payloads (only the fields we use).

use serde::Deserialize;

use crate::ids::{ChannelId, TeamId, UserId};
use crate::secrets::ResponseUrl;

/// Why a verified body could not be decoded. Answered with 400.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed form body: field `{0}` appears twice")]
    Duplicate(&'static str),
    #[error("malformed interaction payload: {0}")]
    Json(#[from] serde_json::Error),
    #[error("missing field `{0}`")]
    Missing(&'static str),
}

/// The slash-command form's fields we use, in the order [`decode_command`] reads them.
pub const COMMAND_FIELDS: [&str; 7] = [
    "team_id",
    "channel_id",
    "user_id",
    "command",
    "text",
    "response_url",
    "api_app_id",
];

/// A slash command invocation.
#[derive(Debug, Clone)]
pub struct SlashCommand {
    pub team: Option<TeamId>,
    pub channel: ChannelId,
    pub user: UserId,
    /// The command as typed (`/lambda`).
    pub command: String,
    /// What followed the command, still in Slack's escaped form.
    pub text: String,
    pub response_url: ResponseUrl,
    pub app_id: Option<String>,
}

/// Decodes an `application/x-www-form-urlencoded` slash-command body.
pub fn decode_command(body: &[u8]) -> Result<SlashCommand, PayloadError> {
    let [
        team_id,
        channel_id,
        user_id,
        command,
        text,
        response_url,
        api_app_id,
    ] = form_fields(body, COMMAND_FIELDS)?;
    let required = |value: Option<String>, name| match value {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(PayloadError::Missing(name)),
    };
    Ok(SlashCommand {
        team: non_empty(team_id).map(TeamId::new),
        channel: ChannelId::new(required(channel_id, "channel_id")?),
        user: UserId::new(required(user_id, "user_id")?),
        command: command.unwrap_or_default(),
        text: text.unwrap_or_default(),
        response_url: ResponseUrl::new(required(response_url, "response_url")?),
        app_id: non_empty(api_app_id),
    })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// The decoded values of the `wanted` fields of a form body, in `wanted`'s order. Only the
/// pairs whose name is wanted are decoded (by `form_urlencoded`); the others are skipped
/// unread, unless their name itself is encoded. A wanted field given twice is an error (which
/// of the two would count is not obvious, so neither does).
fn form_fields<const N: usize>(
    body: &[u8],
    wanted: [&'static str; N],
) -> Result<[Option<String>; N], PayloadError> {
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    for pair in body.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let raw_name = pair.split(|&b| b == b'=').next().unwrap_or_default();
        let encoded = raw_name.iter().any(|&b| b == b'%' || b == b'+');
        if !encoded && !wanted.iter().any(|w| w.as_bytes() == raw_name) {
            continue;
        }
        let Some((name, value)) = form_urlencoded::parse(pair).next() else {
            continue;
        };
        if let Some(i) = wanted.iter().position(|w| *w == name) {
            if values[i].is_some() {
                return Err(PayloadError::Duplicate(wanted[i]));
            }
            values[i] = Some(value.into_owned());
        }
    }
    Ok(values)
}

#[derive(Deserialize)]
struct RawInteraction {
    #[serde(rename = "type")]
    kind: String,
    user: Option<RawId>,
    team: Option<RawId>,
    channel: Option<RawId>,
    container: Option<RawContainer>,
    response_url: Option<String>,
    api_app_id: Option<String>,
    #[serde(default)]
    actions: Vec<RawAction>,
}

#[derive(Deserialize)]
struct RawId {
    id: String,
    /// On `user`: the user's workspace (present also when the top-level `team` is null).
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct RawContainer {
    channel_id: Option<String>,
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    action_id: String,
    value: Option<String>,
}

/// An interaction payload, reduced to what we act on.
#[derive(Debug, Clone)]
pub enum Interaction {
    /// A button click.
    BlockActions(Click),
    /// Any other interaction type; acknowledged and ignored.
    Other { kind: String },
}

/// A click on one of our buttons.
#[derive(Debug, Clone)]
pub struct Click {
    pub user: UserId,
    pub team: Option<TeamId>,
    pub channel: Option<ChannelId>,
    /// The `ts` of the message holding the button (absent for some ephemeral containers).
    pub message_ts: Option<String>,
    pub action_id: String,
    /// The button's value as sent back; untrusted, only ever used as a lookup key.
    pub value: String,
    pub response_url: Option<ResponseUrl>,
    /// The Slack app the click was for (`api_app_id`).
    pub app_id: Option<String>,
}

/// Decodes an interaction body: a form with one field, `payload`, holding JSON.
pub fn decode_interaction(body: &[u8]) -> Result<Interaction, PayloadError> {
    let [payload] = form_fields(body, ["payload"])?;
    let payload = payload.ok_or(PayloadError::Missing("payload"))?;
    let raw: RawInteraction = serde_json::from_str(&payload)?;
    if raw.kind != "block_actions" {
        return Ok(Interaction::Other { kind: raw.kind });
    }
    let user = raw.user.ok_or(PayloadError::Missing("user"))?;
    let action = raw
        .actions
        .into_iter()
        .next()
        .ok_or(PayloadError::Missing("actions"))?;
    let channel = raw
        .channel
        .map(|c| c.id)
        .or_else(|| raw.container.as_ref().and_then(|c| c.channel_id.clone()));
    Ok(Interaction::BlockActions(Click {
        user: UserId::new(user.id),
        team: raw
            .team
            .map(|t| t.id)
            .or(user.team_id.clone())
            .map(TeamId::new),
        channel: channel.map(ChannelId::new),
        message_ts: raw.container.and_then(|c| c.message_ts),
        action_id: action.action_id,
        value: action.value.unwrap_or_default(),
        response_url: raw.response_url.map(ResponseUrl::new),
        app_id: raw.api_app_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slash-command form as Slack documents it (copied from Slack's payload reference).
    const COMMAND: &str = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&channel_name=incidents&user_id=U2147483697&user_name=steve&command=%2Flambda&text=pause+orders-fn+arn%3Aaws%3Akinesis%3Aus-east-1%3A123456789012%3Astream%2Forders&api_app_id=A0LAMBDA&is_enterprise_install=false&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1234%2F5678&trigger_id=13345224609.738474920.8088930838d88f008e0";

    /// A `block_actions` payload from an ephemeral message, shaped as Slack documents it.
    const CLICK: &str = r#"{
      "type": "block_actions",
      "user": {"id": "U2147483697", "username": "steve", "name": "steve", "team_id": "T0001"},
      "api_app_id": "A0LAMBDA",
      "token": "gIkuvaNzQIHg97ATvDxqgjtO",
      "container": {"type": "message", "message_ts": "1733230000.000200", "channel_id": "C2147483705", "is_ephemeral": true},
      "trigger_id": "13345224609.738474920.8088930838d88f008e0",
      "team": {"id": "T0001", "domain": "example"},
      "enterprise": null,
      "is_enterprise_install": false,
      "channel": {"id": "C2147483705", "name": "incidents"},
      "state": {"values": {}},
      "response_url": "https://hooks.slack.com/actions/T0001/1234/abcd",
      "actions": [
        {"action_id": "confirm", "block_id": "prompt-actions", "text": {"type": "plain_text", "text": "Pause", "emoji": true},
         "value": "0123456789abcdef0123456789abcdef", "style": "danger", "type": "button", "action_ts": "1733230005.123456"}
      ]
    }"#;

    fn form(payload: &str) -> Vec<u8> {
        serde_urlencoded::to_string([("payload", payload)])
            .unwrap()
            .into_bytes()
    }

    #[test]
    fn decodes_slacks_slash_command_form() {
        let c = decode_command(COMMAND.as_bytes()).unwrap();
        assert_eq!(c.user.as_str(), "U2147483697");
        assert_eq!(c.channel.as_str(), "C2147483705");
        assert_eq!(c.team.as_ref().map(TeamId::as_str), Some("T0001"));
        assert_eq!(c.command, "/lambda");
        assert_eq!(
            c.text,
            "pause orders-fn arn:aws:kinesis:us-east-1:123456789012:stream/orders"
        );
        assert_eq!(
            c.response_url.expose(),
            "https://hooks.slack.com/commands/T0001/1234/5678"
        );
        assert_eq!(c.app_id.as_deref(), Some("A0LAMBDA"));
    }

    #[test]
    fn form_fields_decode_as_browsers_do() {
        let [text, missing] =
            form_fields(b"text=a+b%20c%2Flambda%E2%9C%93&x=1", ["text", "nope"]).unwrap();
        assert_eq!(text.as_deref(), Some("a b c/lambda\u{2713}"));
        assert_eq!(missing, None);
        // Agrees with the reference decoder on Slack's own example.
        let reference: Vec<(String, String)> = serde_urlencoded::from_str(COMMAND).unwrap();
        let ours = form_fields(COMMAND.as_bytes(), COMMAND_FIELDS).unwrap();
        for (field, value) in COMMAND_FIELDS.iter().zip(ours) {
            let expected = reference
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, v)| v.clone());
            assert_eq!(value, expected, "{field}");
        }
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        let body = format!("{COMMAND}&text=resume+orders-fn");
        assert!(matches!(
            decode_command(body.as_bytes()),
            Err(PayloadError::Duplicate("text"))
        ));
        // Encoded keys are still keys.
        let body = format!("{COMMAND}&user%5Fid=U0OTHER");
        assert!(matches!(
            decode_command(body.as_bytes()),
            Err(PayloadError::Duplicate("user_id"))
        ));
    }

    #[test]
    fn command_without_user_or_response_url_is_rejected() {
        for body in [
            "channel_id=C1&response_url=x",
            "user_id=U1&channel_id=C1",
            "",
        ] {
            assert!(decode_command(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn decodes_a_button_click() {
        let Interaction::BlockActions(click) = decode_interaction(&form(CLICK)).unwrap() else {
            panic!("not a click");
        };
        assert_eq!(click.user.as_str(), "U2147483697");
        assert_eq!(click.action_id, "confirm");
        assert_eq!(click.value, "0123456789abcdef0123456789abcdef");
        assert_eq!(
            click.channel.as_ref().map(ChannelId::as_str),
            Some("C2147483705")
        );
        assert_eq!(click.message_ts.as_deref(), Some("1733230000.000200"));
        assert!(click.response_url.is_some());
    }

    #[test]
    fn org_wide_installs_have_a_null_team() {
        let payload = CLICK.replace(
            r#""team": {"id": "T0001", "domain": "example"}"#,
            r#""team": null"#,
        );
        let Interaction::BlockActions(click) = decode_interaction(&form(&payload)).unwrap() else {
            panic!("not a click");
        };
        assert_eq!(
            click.team,
            Some(TeamId::new("T0001")),
            "the user's team_id stands in"
        );
    }

    #[test]
    fn other_interaction_types_are_passed_over() {
        let got =
            decode_interaction(&form(r#"{"type":"view_submission","user":{"id":"U1"}}"#)).unwrap();
        assert!(matches!(got, Interaction::Other { kind } if kind == "view_submission"));
    }

    #[test]
    fn malformed_interactions_are_errors_not_panics() {
        for body in [
            b"".to_vec(),
            b"payload=".to_vec(),
            b"payload=%7B".to_vec(),
            form("[]"),
            form(r#"{"type": 5}"#),
            form(r#"{"type":"block_actions"}"#),
            form(r#"{"type":"block_actions","user":{"id":"U1"},"actions":[]}"#),
            form(r#"{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":7}]}"#),
            b"%ff%fe=%00".to_vec(),
        ] {
            assert!(
                decode_interaction(&body).is_err(),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Arbitrary JSON values, a few levels deep.
        fn json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                ".{0,20}".prop_map(serde_json::Value::from),
                Just(serde_json::Value::from("block_actions")),
            ];
            leaf.prop_recursive(3, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                    prop::collection::btree_map(
                        prop::sample::select(vec![
                            "type",
                            "user",
                            "id",
                            "team",
                            "actions",
                            "action_id",
                            "value",
                            "channel",
                            "container",
                            "response_url"
                        ])
                        .prop_map(str::to_owned),
                        inner,
                        0..5
                    )
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn decoders_never_panic_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = decode_command(&body);
                let _ = decode_interaction(&body);
            }

            #[test]
            fn interactions_never_panic_on_any_json(value in json()) {
                let _ = decode_interaction(&form(&value.to_string()));
            }

            /// The lean decoder reads what the reference form decoder reads.
            #[test]
            fn form_fields_agree_with_serde_urlencoded(
                text in any::<String>(),
                noise in proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
            ) {
                let mut pairs = vec![("text".to_owned(), text.clone())];
                pairs.extend(noise.into_iter().filter(|(k, _)| k != "text"));
                let body = serde_urlencoded::to_string(&pairs).unwrap();
                let [ours] = form_fields(body.as_bytes(), ["text"]).unwrap();
                prop_assert_eq!(ours, Some(text));
            }

        }
    }
}

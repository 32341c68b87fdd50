//! `slack::payload::decode_interaction` with arbitrary JSON in the `payload=` form field.
//!
//! An input that is JSON text (the seeds: real payload shapes) is used as is; any other input
//! is turned into a JSON value by `arbitrary` (object keys drawn mostly from the fields the
//! decoder reads, so it reaches the `block_actions` paths). The value is form-encoded as
//! `payload=<json>` the way Slack does, and decoded.
//!
//! Invariants:
//! * no panic;
//! * an accepted interaction agrees with the JSON it came from: `Other { kind }` has the JSON's
//!   `type` (never `block_actions`); a click has `type = block_actions`, its user id is
//!   `user.id`, its action is `actions[0]`, its value `actions[0].value` (or empty), its
//!   channel `channel.id` else `container.channel_id`, its team `team.id` else `user.team_id`,
//!   and `message_ts`, `response_url`, `api_app_id` are copied unchanged. (serde also reads a
//!   struct from an array of its fields in order; the oracle models that too.)
#![no_main]

use lambda_pause::slack::payload::{Interaction, decode_interaction};
use libfuzzer_sys::arbitrary::{self, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const KEYS: [&str; 16] = [
    "type",
    "user",
    "id",
    "team_id",
    "team",
    "channel",
    "container",
    "channel_id",
    "message_ts",
    "response_url",
    "api_app_id",
    "actions",
    "action_id",
    "value",
    "block_id",
    "token",
];

const STRINGS: [&str; 8] = [
    "block_actions",
    "view_submission",
    "U2147483697",
    "T0001",
    "C2147483705",
    "confirm",
    "https://hooks.slack.com/actions/T0001/1234/abcd",
    "",
];

fn string(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(if u.arbitrary()? {
        (*u.choose(&STRINGS)?).to_owned()
    } else {
        u.arbitrary()?
    })
}

fn value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth == 0 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=kinds - 1)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<f64>()?), // NaN/inf become null
        4 => Value::String(string(u)?),
        5 => {
            let n = u.int_in_range(0..=4)?;
            Value::Array(
                (0..n)
                    .map(|_| value(u, depth - 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        _ => {
            let n = u.int_in_range(0..=6)?;
            let mut map = Map::new();
            for _ in 0..n {
                let key = if u.ratio(7, 8)? {
                    (*u.choose(&KEYS)?).to_owned()
                } else {
                    u.arbitrary()?
                };
                map.insert(key, value(u, depth - 1)?);
            }
            Value::Object(map)
        }
    })
}

/// Mostly an object at the top, like Slack sends; sometimes anything.
fn payload(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    if u.ratio(1, 8)? {
        return value(u, 4);
    }
    let n = u.int_in_range(0..=10)?;
    let mut map = Map::new();
    for _ in 0..n {
        let key = (*u.choose(&KEYS)?).to_owned();
        map.insert(key, value(u, 3)?);
    }
    Ok(Value::Object(map))
}

/// A struct field as serde reads it: by name from an object, or by position from an array
/// (serde's derive also accepts a struct as the sequence of its fields).
fn field<'v>(v: &'v Value, name: &str, index: usize) -> Option<&'v Value> {
    match v {
        Value::Object(map) => map.get(name),
        Value::Array(items) => items.get(index),
        _ => None,
    }
}

/// `RawInteraction`'s fields, in declaration order.
const TOP: [&str; 8] = [
    "type",
    "user",
    "team",
    "channel",
    "container",
    "response_url",
    "api_app_id",
    "actions",
];

/// A string at a path of (field, position) steps.
fn str_at<'v>(v: &'v Value, path: &[(&str, usize)]) -> Option<&'v str> {
    path.iter()
        .try_fold(v, |v, (name, index)| field(v, name, *index))?
        .as_str()
}

fn top(name: &'static str) -> (&'static str, usize) {
    (name, TOP.iter().position(|n| *n == name).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let json = match serde_json::from_slice::<Value>(data) {
        Ok(json) => json,
        Err(_) => match payload(&mut Unstructured::new(data)) {
            Ok(json) => json,
            Err(_) => return,
        },
    };
    let body = serde_urlencoded::to_string([("payload", json.to_string())]).unwrap();
    let got = decode_interaction(body.as_bytes());
    match got {
        Err(_) => {}
        Ok(Interaction::Other { kind }) => {
            assert_eq!(Some(kind.as_str()), str_at(&json, &[top("type")]));
            assert_ne!(kind, "block_actions");
        }
        Ok(Interaction::BlockActions(click)) => {
            // RawId: id, team_id. RawContainer: channel_id, message_ts. RawAction: action_id, value.
            assert_eq!(str_at(&json, &[top("type")]), Some("block_actions"));
            assert_eq!(
                Some(click.user.as_str()),
                str_at(&json, &[top("user"), ("id", 0)])
            );
            let action = [top("actions"), ("0", 0)];
            assert_eq!(
                Some(click.action_id.as_str()),
                str_at(&json, &[action[0], action[1], ("action_id", 0)])
            );
            assert_eq!(
                click.value,
                str_at(&json, &[action[0], action[1], ("value", 1)]).unwrap_or("")
            );
            let channel = str_at(&json, &[top("channel"), ("id", 0)])
                .or(str_at(&json, &[top("container"), ("channel_id", 0)]));
            assert_eq!(click.channel.as_ref().map(|c| c.as_str()), channel);
            let team = str_at(&json, &[top("team"), ("id", 0)])
                .or(str_at(&json, &[top("user"), ("team_id", 1)]));
            assert_eq!(click.team.as_ref().map(|t| t.as_str()), team);
            assert_eq!(
                click.message_ts.as_deref(),
                str_at(&json, &[top("container"), ("message_ts", 1)])
            );
            assert_eq!(
                click.response_url.as_ref().map(|r| r.expose()),
                str_at(&json, &[top("response_url")])
            );
            assert_eq!(click.app_id.as_deref(), str_at(&json, &[top("api_app_id")]));
        }
    }
});

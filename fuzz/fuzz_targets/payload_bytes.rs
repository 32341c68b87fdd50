//! `slack::payload::{decode_command, decode_interaction}` on arbitrary bytes (the verified body).
//!
//! Invariants:
//! * neither decoder panics;
//! * an accepted slash command has its required fields (`channel_id`, `user_id`,
//!   `response_url`) non-blank, and optional ones (`team_id`, `api_app_id`) either absent or
//!   non-blank;
//! * an accepted command re-encoded as a form decodes to the same fields;
//! * an accepted click has the `block_actions` shape: a user and an action.
#![no_main]

use lambda_pause::slack::payload::{
    COMMAND_FIELDS, Interaction, SlashCommand, decode_command, decode_interaction,
};
use libfuzzer_sys::fuzz_target;

/// A command's fields, in `COMMAND_FIELDS`' order.
fn fields(c: &SlashCommand) -> [Option<String>; 7] {
    [
        c.team.as_ref().map(|t| t.as_str().to_owned()),
        Some(c.channel.as_str().to_owned()),
        Some(c.user.as_str().to_owned()),
        Some(c.command.clone()),
        Some(c.text.clone()),
        Some(c.response_url.expose().to_owned()),
        c.app_id.clone(),
    ]
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = decode_command(data) {
        assert!(!cmd.channel.as_str().trim().is_empty());
        assert!(!cmd.user.as_str().trim().is_empty());
        assert!(!cmd.response_url.expose().trim().is_empty());
        assert!(
            cmd.team
                .as_ref()
                .is_none_or(|t| !t.as_str().trim().is_empty())
        );
        assert!(cmd.app_id.as_ref().is_none_or(|a| !a.trim().is_empty()));

        let original = fields(&cmd);
        let pairs: Vec<(&str, &str)> = COMMAND_FIELDS
            .iter()
            .zip(&original)
            .filter_map(|(name, value)| Some((*name, value.as_deref()?)))
            .collect();
        let body = serde_urlencoded::to_string(&pairs).expect("strings always encode");
        let again = decode_command(body.as_bytes())
            .unwrap_or_else(|e| panic!("re-encoded command {body:?} rejected: {e}"));
        assert_eq!(fields(&again), original, "re-encoded as {body:?}");
    }

    match decode_interaction(data) {
        Ok(Interaction::BlockActions(click)) => {
            // `user` and `actions[0]` are required; ids are taken as given (may be empty).
            let _ = (click.user.as_str(), click.action_id.as_str(), &click.value);
        }
        Ok(Interaction::Other { kind }) => assert_ne!(kind, "block_actions"),
        Err(_) => {}
    }
});

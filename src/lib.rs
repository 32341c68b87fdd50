//! lambda-pause: pause and resume AWS Lambda event source mappings, safely, from Slack.
//!
//! Error policy: library modules return typed errors (`thiserror` enums: `LambdaError`,
//! `SlackError`, `StoreError`, `ParseError`, `VerifyError`, `PayloadError`) that callers match on;
//! only the binary's top level (`main.rs`, the demo, the terminal mode) uses `anyhow` to report
//! and exit. Anything a person reads is worded in `slack::messages`, never in error `Display`s.
//!
//! Logging policy: `tracing` events carry ids (request, user, channel, mapping UUID) and error
//! kinds. Never log tokens, signing secrets, `response_url`s or raw request bodies: they are held
//! in newtypes (`secrets`) whose `Debug` is redacted, and the Slack client marks response URLs
//! as sensitive so they are not printed either.

pub mod audit;
pub mod clock;
pub mod command;
pub mod demo;
pub mod ids;
pub mod lambda;
pub mod logging;
pub mod policy;
pub mod secrets;
pub mod server;
pub mod sim;
pub mod slack;
pub mod store;
pub mod terminal;
pub mod workflow;

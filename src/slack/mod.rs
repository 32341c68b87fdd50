//! The Slack edge: verifying requests, decoding payloads, the words we send, and the client that sends them.

pub mod client;
pub mod messages;
pub mod payload;
pub mod replay;
pub mod verify;

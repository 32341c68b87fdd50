//! The request workflow: the state machine and the engine that drives it from Slack to Lambda and back.

pub mod acks;
pub mod engine;
pub mod request;

pub use engine::{Engine, Settings};
pub use request::{Request, RequestState};

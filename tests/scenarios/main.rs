//! Scenario tests: stories through the real router, with signed requests, wiremock as Slack and the simulator as Lambda.

mod edge;
mod faults;
mod moto;
mod process;
mod stories;
mod support;
mod terminal;

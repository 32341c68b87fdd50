//! Scenario tests: stories through the real router, with signed requests, wiremock as Slack and the simulator as Lambda.

mod approvals;
mod chaos;
mod edge;
mod faults;
mod horizons;
mod hostile;
mod moto;
mod process;
mod restarts;
mod sharing;
mod stories;
mod support;
mod terminal;

//! Setting `Enabled` on each mapping (retrying in-use and throttled calls), then polling until every one has settled.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Backoff, LambdaClient, LambdaError, Mapping, with_retries};
use crate::ids::MappingUuid;

/// How patiently to apply and wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlePolicy {
    /// For throttling, 5xx and network failures of single calls.
    pub retry: Backoff,
    /// For `ResourceInUseException` on update (bounded by `timeout`, not by attempts).
    pub in_use: Backoff,
    /// Between polls of the state.
    pub poll: Backoff,
    /// Give up waiting for `Disabled`/`Enabled` after this long.
    pub timeout: Duration,
}

impl Default for SettlePolicy {
    fn default() -> Self {
        Self {
            retry: Backoff::standard(),
            in_use: Backoff::standard(),
            // Polls every second: a settled mapping is seen within about a second. Polls of one
            // function are shared by every request waiting on it, and the pacer keeps the total
            // under budget however many wait.
            poll: Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
                attempts: 6,
            },
            timeout: Duration::from_secs(600),
        }
    }
}

/// The settled state word for a target (`Disabled` after a pause, `Enabled` after a resume).
pub fn target_state(enabled: bool) -> &'static str {
    if enabled { "Enabled" } else { "Disabled" }
}

/// The transitional state on the way to a target.
pub fn transitional_state(enabled: bool) -> &'static str {
    if enabled { "Enabling" } else { "Disabling" }
}

/// How one mapping ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Updated and settled in the target state.
    Settled,
    /// Already in the target state: nothing was changed.
    AlreadyThere,
    /// Updated, but not settled before the timeout.
    TimedOut,
    /// An error stopped it.
    Failed(LambdaError),
}

/// One mapping's result, with the last state seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingResult {
    pub mapping: Mapping,
    pub outcome: Outcome,
}

/// What the update phase did to one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Already in the target state: not touched.
    AlreadyThere(Mapping),
    /// Updated (or already on its way there): to be polled until settled.
    Pending(Mapping),
    /// The update failed.
    Failed(Mapping, LambdaError),
}

/// Applies `enabled` to each mapping of the plan (one update each, skipping those already there)
/// and polls with backoff until all have settled or `policy.timeout` has passed.
pub async fn apply(
    client: &LambdaClient,
    plan: &[Mapping],
    enabled: bool,
    policy: &SettlePolicy,
) -> Vec<MappingResult> {
    let deadline = Instant::now() + policy.timeout;
    let mut steps = Vec::with_capacity(plan.len());
    for mapping in plan {
        steps.push(update_one(client, mapping, enabled, policy, deadline).await);
    }
    settle(client, steps, enabled, policy, deadline).await
}

/// The update phase for one mapping: skips it if already there (or on its way), else one
/// `UpdateEventSourceMapping`, retried while in use or throttled.
pub async fn update_one(
    client: &LambdaClient,
    mapping: &Mapping,
    enabled: bool,
    policy: &SettlePolicy,
    deadline: Instant,
) -> Step {
    if mapping.state == target_state(enabled) {
        Step::AlreadyThere(mapping.clone())
    } else if mapping.state == transitional_state(enabled) {
        // Already on its way (someone else's update): wait for it, don't update again.
        Step::Pending(mapping.clone())
    } else {
        match update(client, &mapping.uuid, enabled, policy, deadline).await {
            Ok(updated) => Step::Pending(updated),
            Err(error) => {
                tracing::warn!(uuid = %mapping.uuid, %error, "update failed");
                Step::Failed(mapping.clone(), error)
            }
        }
    }
}

/// The settle phase: polls the pending mappings with backoff until each reaches the target state
/// or `deadline` passes. Results are in the order of `steps`.
pub async fn settle(
    client: &LambdaClient,
    steps: Vec<Step>,
    enabled: bool,
    policy: &SettlePolicy,
    deadline: Instant,
) -> Vec<MappingResult> {
    let target = target_state(enabled);
    let mut results: Vec<Option<MappingResult>> = vec![None; steps.len()];
    let mut pending: Vec<(usize, Mapping)> = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        match step {
            Step::AlreadyThere(mapping) => {
                results[i] = Some(MappingResult {
                    mapping,
                    outcome: Outcome::AlreadyThere,
                })
            }
            Step::Failed(mapping, error) => {
                results[i] = Some(MappingResult {
                    mapping,
                    outcome: Outcome::Failed(error),
                })
            }
            Step::Pending(mapping) => pending.push((i, mapping)),
        }
    }

    let mut functions: Vec<&str> = pending
        .iter()
        .map(|(_, m)| m.function_arn.as_str())
        .collect();
    functions.sort_unstable();
    functions.dedup();
    let _polling: Vec<_> = functions.iter().map(|f| client.settling(f)).collect();
    let mut poll = 0;
    loop {
        pending.retain(|(i, m)| {
            if m.state == target {
                results[*i] = Some(MappingResult {
                    mapping: m.clone(),
                    outcome: Outcome::Settled,
                });
                false
            } else {
                true
            }
        });
        if pending.is_empty() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            for (i, m) in pending.drain(..) {
                results[i] = Some(MappingResult {
                    mapping: m,
                    outcome: Outcome::TimedOut,
                });
            }
            break;
        }
        tokio::time::sleep_until(aligned(now, policy.poll.delay(poll)).min(deadline)).await;
        poll += 1;
        refresh(client, &mut pending, &mut results, policy).await;
    }

    results
        .into_iter()
        .map(|r| r.unwrap_or_else(unreachable_result))
        .collect()
}

/// The first multiple of `interval` (counted from a process-wide epoch) at least `interval`/2
/// after `now`: concurrent settle loops wake at the same instants, so the listing one of them
/// makes serves the others too.
fn aligned(now: Instant, interval: Duration) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let step = interval.as_nanos().max(1);
    let earliest = (now + interval / 2)
        .saturating_duration_since(epoch)
        .as_nanos();
    let slots = earliest.div_ceil(step);
    let offset = u64::try_from(slots.saturating_mul(step)).unwrap_or(u64::MAX);
    epoch + Duration::from_nanos(offset)
}

fn unreachable_result() -> MappingResult {
    MappingResult {
        mapping: Mapping {
            uuid: MappingUuid::new(""),
            source_arn: None,
            function_arn: String::new(),
            state: "Unknown".into(),
            state_transition_reason: None,
            topics: Vec::new(),
            maximum_record_age: None,
        },
        outcome: Outcome::Failed(LambdaError::Unexpected {
            message: "no result".into(),
        }),
    }
}

/// One `UpdateEventSourceMapping`, retried while the mapping is in use (until the deadline) or the call is throttled.
async fn update(
    client: &LambdaClient,
    uuid: &MappingUuid,
    enabled: bool,
    policy: &SettlePolicy,
    deadline: Instant,
) -> Result<Mapping, LambdaError> {
    let mut in_use_retry = 0;
    loop {
        match with_retries(&policy.retry, || client.set_enabled(uuid, enabled)).await {
            Err(LambdaError::InUse { message }) => {
                let pause = policy.in_use.jittered(in_use_retry);
                if Instant::now() + pause >= deadline {
                    return Err(LambdaError::InUse { message });
                }
                tracing::info!(%uuid, retry = in_use_retry, "mapping in use; waiting before updating");
                tokio::time::sleep(pause).await;
                in_use_retry += 1;
            }
            other => return other,
        }
    }
}

/// Re-reads the pending mappings: one `ListEventSourceMappings` per function when several are
/// pending (fewer calls), `GetEventSourceMapping` otherwise. Transient failures wait for the next round.
async fn refresh(
    client: &LambdaClient,
    pending: &mut Vec<(usize, Mapping)>,
    results: &mut [Option<MappingResult>],
    policy: &SettlePolicy,
) {
    let once = Backoff {
        attempts: 1,
        ..policy.retry.clone()
    };
    // One listing per function when several of its mappings are pending, here or in other
    // requests settling at the same time; a listing younger than one poll interval is as good
    // as a new one, so concurrent requests share it.
    let max_age = policy.poll.delay(0) / 2;
    let mut fresh: HashMap<MappingUuid, Result<Mapping, LambdaError>> = HashMap::new();
    let mut functions: Vec<&str> = pending
        .iter()
        .map(|(_, m)| m.function_arn.as_str())
        .collect();
    functions.sort_unstable();
    functions.dedup();
    for function in functions {
        let here = pending
            .iter()
            .filter(|(_, m)| m.function_arn == function)
            .count();
        let listing = if here > 1 || client.settling_count(function) > 1 {
            client.list_shared(function, max_age, &once).await
        } else if let Some(listing) = client.recent_listing(function, max_age) {
            listing
        } else {
            continue;
        };
        match listing.as_ref() {
            Ok(listed) => {
                for m in listed {
                    if pending.iter().any(|(_, p)| p.uuid == m.uuid) {
                        fresh.insert(m.uuid.clone(), Ok(m.clone()));
                    }
                }
            }
            Err(e) => {
                for (_, m) in pending.iter().filter(|(_, m)| m.function_arn == function) {
                    fresh.insert(m.uuid.clone(), Err(e.clone()));
                }
            }
        }
    }
    // One at a time, or whatever a listing did not return (some stand-ins only list by exact name).
    for (_, m) in pending.iter() {
        if !fresh.contains_key(&m.uuid) {
            fresh.insert(m.uuid.clone(), client.get(&m.uuid).await);
        }
    }
    pending.retain_mut(|(i, m)| match fresh.remove(&m.uuid) {
        Some(Ok(now)) => {
            *m = now;
            true
        }
        Some(Err(e)) if e.is_transient() => true,
        Some(Err(e)) => {
            results[*i] = Some(MappingResult {
                mapping: m.clone(),
                outcome: Outcome::Failed(e),
            });
            false
        }
        None => {
            let message = format!("mapping {} disappeared while settling", m.uuid);
            results[*i] = Some(MappingResult {
                mapping: m.clone(),
                outcome: Outcome::Failed(LambdaError::NotFound { message }),
            });
            false
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let b = Backoff::standard();
        let delays: Vec<u64> = (0..6).map(|i| b.delay(i).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn concurrent_settle_loops_wake_together() {
        let d = Duration::from_millis(1000);
        let now = Instant::now();
        let a = aligned(now, d);
        assert!(a >= now + d / 2 && a <= now + d + d / 2);
        // A loop that started polling a little later wakes at the same instant, or one interval on.
        let b = aligned(now + Duration::from_millis(30), d);
        assert!(b == a || b == a + d);
        assert_eq!(aligned(now, d), a, "deterministic");
    }

    #[test]
    fn target_words_are_spelled_as_aws_does() {
        assert_eq!(
            (target_state(false), transitional_state(false)),
            ("Disabled", "Disabling")
        );
        assert_eq!(
            (target_state(true), transitional_state(true)),
            ("Enabled", "Enabling")
        );
    }
}

//! Rendered `/lambda status` acks, reused while the listing they were made from is still the latest.
//!
//! A status answered from a shared listing is the same for everyone who asks within
//! [`super::Settings::status_shared_for`]; rendering its Block Kit JSON once per listing, not once per
//! request, is what lets a storm of status commands cost little more than their signature checks.
//! Past half that time, the first asker also starts one refresh of the listing in the background,
//! so that while statuses keep coming the listing never lapses and none has to wait for AWS.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use tokio::time::Instant;

use crate::command::StatusQuery;

/// Most distinct status texts remembered at once (past it, the cache starts over).
const CAPACITY: usize = 1024;

struct Entry {
    /// The listings' generation the body was rendered at ([`crate::lambda::Lambda::listings_generation`]).
    generation: u64,
    /// When the listing it was rendered from was made.
    made: Instant,
    body: Bytes,
    /// What to list again when the listing gets old; taken by the one asker who starts it.
    refresh: Option<StatusQuery>,
}

/// A rendered ack, and the query whose listing the caller should refresh now, if any.
pub struct Hit {
    pub body: Bytes,
    pub refresh: Option<StatusQuery>,
}

/// Ack bodies keyed by the command's text (the answer depends on nothing else).
#[derive(Default)]
pub struct StatusAcks {
    entries: Mutex<HashMap<String, Entry>>,
}

impl StatusAcks {
    /// The body rendered for `text`, if no listing has changed since and it is at most `max_age`
    /// old; past half of `max_age`, the first caller is also handed the query to refresh.
    pub fn get(&self, text: &str, generation: u64, max_age: Duration) -> Option<Hit> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(text)?;
        let age = entry.made.elapsed();
        if entry.generation != generation || age > max_age {
            return None;
        }
        Some(Hit {
            body: entry.body.clone(),
            refresh: if age >= max_age / 2 {
                entry.refresh.take()
            } else {
                None
            },
        })
    }

    /// Remembers the body rendered for `text` (`query`) from a listing made at `made`, as of
    /// `generation` (read before the listing was).
    pub fn put(
        &self,
        text: &str,
        query: &StatusQuery,
        generation: u64,
        made: Instant,
        body: Bytes,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(text) {
            entries.clear();
        }
        entries.insert(
            text.to_owned(),
            Entry {
                generation,
                made,
                body,
                refresh: Some(query.clone()),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> StatusQuery {
        match crate::command::parse("status orders-fn") {
            Ok(crate::command::Command::Status(query)) => query,
            other => panic!("{other:?}"),
        }
    }

    fn body(hit: Option<Hit>) -> Option<Bytes> {
        hit.map(|hit| hit.body)
    }

    /// An instant `ago` in the past (the listing a body was rendered from was made then).
    fn ago(ago: Duration) -> Instant {
        Instant::now()
            .checked_sub(ago)
            .expect("the clock is past its start")
    }

    #[test]
    fn a_body_is_reused_only_at_its_generation_and_while_fresh() {
        let acks = StatusAcks::default();
        let max_age = Duration::from_secs(2);
        assert!(acks.get("status orders-fn", 7, max_age).is_none());
        acks.put(
            "status orders-fn",
            &query(),
            7,
            Instant::now(),
            Bytes::from_static(b"{}"),
        );
        assert_eq!(
            body(acks.get("status orders-fn", 7, max_age)),
            Some(Bytes::from_static(b"{}"))
        );
        assert!(acks.get("status  orders-fn", 7, max_age).is_none());
        // A listing changed somewhere: rendered again.
        assert!(acks.get("status orders-fn", 8, max_age).is_none());
        // Rendered from a listing older than `max_age`: rendered again.
        acks.put(
            "status orders-fn",
            &query(),
            7,
            ago(Duration::from_secs(3)),
            Bytes::from_static(b"{}"),
        );
        assert!(acks.get("status orders-fn", 7, max_age).is_none());
    }

    #[test]
    fn past_half_its_age_one_asker_is_told_to_refresh() {
        let acks = StatusAcks::default();
        let max_age = Duration::from_secs(60);
        acks.put(
            "status orders-fn",
            &query(),
            1,
            Instant::now(),
            Bytes::new(),
        );
        assert!(
            acks.get("status orders-fn", 1, max_age)
                .unwrap()
                .refresh
                .is_none()
        );
        acks.put(
            "status orders-fn",
            &query(),
            1,
            ago(Duration::from_secs(40)),
            Bytes::new(),
        );
        let first = acks.get("status orders-fn", 1, max_age).unwrap();
        assert_eq!(first.refresh, Some(query()));
        // Everyone else is still answered, without starting another refresh.
        for _ in 0..10 {
            assert!(
                acks.get("status orders-fn", 1, max_age)
                    .unwrap()
                    .refresh
                    .is_none()
            );
        }
    }

    #[test]
    fn the_cache_is_bounded() {
        let acks = StatusAcks::default();
        for i in 0..(CAPACITY + 10) {
            acks.put(
                &format!("status fn-{i}"),
                &query(),
                1,
                Instant::now(),
                Bytes::new(),
            );
        }
        assert!(acks.entries.lock().unwrap().len() <= CAPACITY);
    }
}

//! Where requests and the audit trail live: the `Store` trait (compare-and-set transitions), its SQLite and in-memory backends, and their shared test suite.

mod memory;
mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;

use crate::audit::{AuditEvent, AuditQuery};
use crate::ids::RequestId;
use crate::workflow::request::{Request, RequestState};

/// A store failure (not a lost race: that is `Ok(None)` from [`Store::transition`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("request {0} already exists")]
    Duplicate(RequestId),
    #[error("illegal transition {from:?} → {to:?}")]
    IllegalTransition {
        from: RequestState,
        to: RequestState,
    },
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// Changes applied to a request in the same atomic step as its state transition.
pub type Patch<'a> = Box<dyn FnOnce(&mut Request) + Send + 'a>;

/// Request storage. Every state change is a compare-and-set, so only one of any number of
/// concurrent clicks (or processes) can win it.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records a new request.
    async fn insert(&self, request: &Request) -> Result<(), StoreError>;

    /// Loads a request by id.
    async fn get(&self, id: &RequestId) -> Result<Option<Request>, StoreError>;

    /// If the request is in state `from`, applies `patch` and moves it to `to`, atomically, and
    /// returns the updated request; returns `Ok(None)` if it was not in `from` (someone else won).
    async fn transition(
        &self,
        id: &RequestId,
        from: RequestState,
        to: RequestState,
        patch: Patch<'_>,
    ) -> Result<Option<Request>, StoreError>;

    /// Changes fields of a request without changing its state, if it is still in `state`.
    async fn update(
        &self,
        id: &RequestId,
        state: RequestState,
        patch: Patch<'_>,
    ) -> Result<Option<Request>, StoreError>;

    /// The most recent requests, newest first.
    async fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError>;

    /// Every request not in a final state (for recovery after a restart), oldest first.
    async fn unfinished(&self) -> Result<Vec<Request>, StoreError>;

    /// Settled pauses whose watch is still active (reminders, drift checks), oldest first.
    async fn watched(&self) -> Result<Vec<Request>, StoreError>;

    /// Finished requests whose follow-up is still owed (Slack was unreachable), oldest first.
    async fn owed_follow_ups(&self) -> Result<Vec<Request>, StoreError>;

    /// Records a request signature as seen until `expires_at`; true the first time, false for a
    /// replay (also across processes sharing the store). Forgets signatures that expired before `now`.
    async fn first_delivery(
        &self,
        signature: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Appends an event to the audit trail; returns its `seq`.
    async fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError>;

    /// The newest `limit` events matching the query, oldest first.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
}

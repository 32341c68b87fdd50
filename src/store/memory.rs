//! An in-memory `Store`: the same compare-and-set semantics under one mutex; contents end with the process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Patch, Store, StoreError};
use crate::audit::{AuditEvent, AuditQuery};
use crate::ids::RequestId;
use crate::workflow::request::{Request, RequestState};

#[derive(Default)]
struct Inner {
    requests: HashMap<RequestId, Request>,
    audit: Vec<AuditEvent>,
    seen: HashMap<String, u64>,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// The requests `keep` selects, oldest first (ties by id), as the SQLite store orders them.
    fn oldest_first(&self, keep: impl Fn(&Request) -> bool) -> Vec<Request> {
        let inner = self.lock();
        let mut list: Vec<Request> = inner
            .requests
            .values()
            .filter(|r| keep(r))
            .cloned()
            .collect();
        list.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        list
    }

    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert(&self, request: &Request) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.requests.contains_key(&request.id) {
            return Err(StoreError::Duplicate(request.id.clone()));
        }
        inner.requests.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn get(&self, id: &RequestId) -> Result<Option<Request>, StoreError> {
        Ok(self.lock().requests.get(id).cloned())
    }

    async fn transition(
        &self,
        id: &RequestId,
        from: RequestState,
        to: RequestState,
        patch: Patch<'_>,
    ) -> Result<Option<Request>, StoreError> {
        if !from.can_become(to) {
            return Err(StoreError::IllegalTransition { from, to });
        }
        let mut inner = self.lock();
        match inner.requests.get_mut(id) {
            Some(request) if request.state == from => {
                patch(request);
                request.state = to;
                Ok(Some(request.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn update(
        &self,
        id: &RequestId,
        state: RequestState,
        patch: Patch<'_>,
    ) -> Result<Option<Request>, StoreError> {
        let mut inner = self.lock();
        match inner.requests.get_mut(id) {
            Some(request) if request.state == state => {
                patch(request);
                request.state = state;
                Ok(Some(request.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError> {
        let inner = self.lock();
        let mut list: Vec<Request> = inner.requests.values().cloned().collect();
        list.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        list.truncate(limit);
        Ok(list)
    }

    async fn unfinished(&self) -> Result<Vec<Request>, StoreError> {
        Ok(self.oldest_first(|r| !r.state.is_final()))
    }

    async fn owed_follow_ups(&self) -> Result<Vec<Request>, StoreError> {
        Ok(self.oldest_first(|r| r.follow_up_owed.is_some()))
    }

    async fn watched(&self) -> Result<Vec<Request>, StoreError> {
        Ok(self.oldest_first(|r| r.watch.as_ref().is_some_and(|w| w.ended.is_none())))
    }

    async fn first_delivery(
        &self,
        signature: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        inner.seen.retain(|_, until| *until >= now);
        Ok(inner
            .seen
            .insert(signature.to_owned(), expires_at)
            .is_none())
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError> {
        let mut inner = self.lock();
        let seq = inner.audit.len() as i64 + 1;
        let mut event = event.clone();
        event.seq = seq;
        inner.audit.push(event);
        Ok(seq)
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let inner = self.lock();
        let matching: Vec<&AuditEvent> = inner.audit.iter().filter(|e| query.matches(e)).collect();
        let skip = query
            .limit
            .map(|l| matching.len().saturating_sub(l))
            .unwrap_or(0);
        Ok(matching.into_iter().skip(skip).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_passes_the_store_suite() {
        super::super::suite::run_all(Arc::new(super::MemoryStore::new())).await;
    }
}

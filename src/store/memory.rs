//! An in-memory `Store`: the same compare-and-set semantics under one mutex; contents end with the process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Patch, Store, StoreError};
use crate::ids::RequestId;
use crate::workflow::request::{Request, RequestState};

#[derive(Default)]
pub struct MemoryStore {
    requests: Mutex<HashMap<RequestId, Request>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert(&self, request: &Request) -> Result<(), StoreError> {
        let mut all = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if all.contains_key(&request.id) {
            return Err(StoreError::Duplicate(request.id.clone()));
        }
        all.insert(request.id.clone(), request.clone());
        Ok(())
    }

    async fn get(&self, id: &RequestId) -> Result<Option<Request>, StoreError> {
        Ok(self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned())
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
        let mut all = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        match all.get_mut(id) {
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
        let mut all = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        match all.get_mut(id) {
            Some(request) if request.state == state => {
                patch(request);
                request.state = state;
                Ok(Some(request.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError> {
        let all = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<Request> = all.values().cloned().collect();
        list.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        list.truncate(limit);
        Ok(list)
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

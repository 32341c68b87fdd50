//! The durable `Store`: SQLite (one file, WAL) with compare-and-set transitions safe across processes.
//!
//! # Compare-and-set
//!
//! Every write that reads before it writes ([`Store::transition`], [`Store::update`]) runs as
//! one short `BEGIN IMMEDIATE` transaction: `SELECT state, version, body` → call the patch once
//! on the decoded request → `UPDATE … WHERE id = ? AND state = ? AND version = ?` → `COMMIT`.
//! No `.await` on anything but SQLite happens inside it, and the patch is a plain closure.
//!
//! `BEGIN IMMEDIATE` takes SQLite's single write lock (the `RESERVED` lock; in WAL mode, the
//! WAL write lock) *before* the read, and SQLite grants it to one connection at a time, in any
//! process that opens the file. So between our `SELECT` and our `UPDATE` no other writer can
//! commit: the state we compared is the state we replace. Two transitions out of the same state
//! are therefore serialised; the second one reads the state the first one wrote, sees that it is
//! no longer `from`, and returns `Ok(None)`. It never loses a write either: the patch is applied
//! to the row as it is under the lock, so an `update()` that committed just before is kept (no
//! stale read-modify-write), and because the lock is held, the patch (an `FnOnce`) is called at
//! most once and never needs a retry. The `state`/`version` conditions on the `UPDATE` are a
//! second line of defence; they always hold under the lock (a miss is reported as an error).
//!
//! In one process, writes also queue on a `tokio::sync::Mutex` first, so they wait for each
//! other without tying up pool connections or sleeping in SQLite's busy handler. Across
//! processes, SQLite's lock is what serialises, and a writer waits up to the `busy_timeout`
//! (5 s) for it before failing with [`StoreError::Backend`] ("database is locked"). Reads go to
//! the pool and, in WAL mode, never wait for writers.
//!
//! The `state` column is authoritative: it is what writes compare against, and reads take a
//! request's state from it (it always equals the body's `state` unless someone edited the
//! table by hand).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{Patch, Store, StoreError};
use crate::audit::{AuditEvent, AuditKind, AuditQuery};
use crate::command::Action;
use crate::ids::{ChannelId, MappingUuid, RequestId, UserId};
use crate::workflow::request::{Request, RequestState};

/// The schema, embedded at compile time from `./migrations`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How long a writer waits for another process' write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool size for a database file (WAL readers run in parallel; writers queue).
const FILE_POOL_SIZE: u32 = 8;

/// Requests and the audit trail in SQLite. Cheap to clone: clones share the pool and the
/// in-process write queue.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises this process' writes (see the module docs); SQLite's lock does it across
    /// processes.
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database that `--db` / `LAMBDA_PAUSE_DB` names, and
    /// applies the embedded migrations.
    ///
    /// Accepts `sqlite://FILE` (relative to the working directory), `sqlite:///ABS/PATH`,
    /// `sqlite:FILE`, optional query parameters (`?mode=rwc`), and `sqlite::memory:` (a private
    /// in-memory database held by a single connection, gone when the store is dropped).
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            // Only the scheme is echoed: a foreign URL may carry credentials.
            let scheme = match url.split_once("://") {
                Some((s, _))
                    if !s.is_empty()
                        && s.len() <= 16
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
                {
                    format!("scheme `{s}:`")
                }
                _ => "without a scheme".to_owned(),
            };
            return Err(StoreError::Backend(format!(
                "unsupported --db URL ({scheme}): expected sqlite://FILE or sqlite::memory: \
                 (dynamodb://TABLE is not supported yet)"
            )));
        };
        let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = database == ":memory:"
            || params
                .split('&')
                .any(|p| p.eq_ignore_ascii_case("mode=memory"));
        if database.is_empty() && !in_memory {
            return Err(StoreError::Backend(
                "the --db URL names no file: expected sqlite://FILE or sqlite::memory:".into(),
            ));
        }

        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| backend("cannot use the --db URL", e))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let (options, pool_options) = if in_memory {
            // Every connection to `:memory:` would be its own empty database (sqlx names a
            // shared-cache one, but it vanishes with its last connection): keep exactly one,
            // forever.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            (options, pool)
        } else {
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            let pool = SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE);
            (options, pool)
        };
        // Turning a new file to WAL needs an exclusive lock that SQLite's busy handler does not
        // wait for, so a process opening the file while another one creates it can get
        // "database is locked" here: retry that, for as long as a writer would wait.
        let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
        let pool = loop {
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(pool) => break pool,
                Err(e) if is_busy(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => return Err(backend("cannot open the database", e)),
            }
        };

        let store = SqliteStore {
            pool,
            writes: Arc::new(tokio::sync::Mutex::new(())),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations under the write lock, so two processes starting on a new
    /// file at once do not both try to create the tables (the second waits, then finds them).
    async fn migrate(&self) -> Result<(), StoreError> {
        let _queue = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        MIGRATOR
            .run(&mut *tx)
            .await
            .map_err(|e| StoreError::Backend(format!("sqlite migration failed: {e}")))?;
        tx.commit()
            .await
            .map_err(|e| backend("migration commit failed", e))
    }

    /// Waits for running queries to finish and closes every connection (checkpointing the
    /// WAL). Further calls on any clone of this store fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| backend("cannot start a write", e))
    }

    /// The compare-and-set behind `transition` and `update`: if the request is in `from`, calls
    /// `patch` once and stores it in state `to`.
    async fn compare_and_set(
        &self,
        id: &RequestId,
        from: RequestState,
        to: RequestState,
        patch: Patch<'_>,
    ) -> Result<Option<Request>, StoreError> {
        let _queue = self.writes.lock().await;
        let mut tx = self.begin_write().await?;
        match cas_in(&mut tx, id, from, to, patch).await {
            Ok(Some(request)) => {
                tx.commit().await.map_err(|e| backend("commit failed", e))?;
                Ok(Some(request))
            }
            other => {
                // Nothing was written; give the lock back now rather than when the
                // connection is next used.
                let _ = tx.rollback().await;
                other
            }
        }
    }
}

/// The body of [`SqliteStore::compare_and_set`], inside its `BEGIN IMMEDIATE` transaction.
async fn cas_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: &RequestId,
    from: RequestState,
    to: RequestState,
    patch: Patch<'_>,
) -> Result<Option<Request>, StoreError> {
    let Some(row) = sqlx::query("SELECT id, state, version, body FROM requests WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| backend("read failed", e))?
    else {
        return Ok(None);
    };
    let mut request = request_from_row(&row)?;
    if request.state != from {
        return Ok(None);
    }
    let version: i64 = row
        .try_get("version")
        .map_err(|e| backend("read failed", e))?;

    patch(&mut request);
    // The row's key and state are not the patch's to change.
    request.id = id.clone();
    request.state = to;

    let done = sqlx::query(
        "UPDATE requests SET state = ?, version = version + 1, body = ?, created_at = ?, function = ? \
         WHERE id = ? AND state = ? AND version = ?",
    )
    .bind(to.key())
    .bind(encode(&request)?)
    .bind(to_i64(request.created_at, "created_at")?)
    .bind(&request.function)
    .bind(id.as_str())
    .bind(from.key())
    .bind(version)
    .execute(&mut **tx)
    .await
    .map_err(|e| backend("write failed", e))?;
    if done.rows_affected() != 1 {
        // Cannot happen while we hold the write lock.
        return Err(StoreError::Backend(format!(
            "request {id} changed while its write lock was held"
        )));
    }
    Ok(Some(request))
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, request: &Request) -> Result<(), StoreError> {
        let body = encode(request)?;
        let _queue = self.writes.lock().await;
        sqlx::query(
            "INSERT INTO requests (id, state, version, created_at, function, body) \
             VALUES (?, ?, 0, ?, ?, ?)",
        )
        .bind(request.id.as_str())
        .bind(request.state.key())
        .bind(to_i64(request.created_at, "created_at")?)
        .bind(&request.function)
        .bind(body)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Duplicate(request.id.clone())
            }
            e => backend("insert failed", e),
        })
    }

    async fn get(&self, id: &RequestId) -> Result<Option<Request>, StoreError> {
        sqlx::query("SELECT id, state, body FROM requests WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| backend("read failed", e))?
            .map(|row| request_from_row(&row))
            .transpose()
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
        self.compare_and_set(id, from, to, patch).await
    }

    async fn update(
        &self,
        id: &RequestId,
        state: RequestState,
        patch: Patch<'_>,
    ) -> Result<Option<Request>, StoreError> {
        self.compare_and_set(id, state, state, patch).await
    }

    async fn recent(&self, limit: usize) -> Result<Vec<Request>, StoreError> {
        sqlx::query(
            "SELECT id, state, body FROM requests ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| backend("read failed", e))?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn unfinished(&self) -> Result<Vec<Request>, StoreError> {
        let finals: Vec<&str> = RequestState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(RequestState::key)
            .collect();
        let finals = serde_json::to_string(&finals)
            .map_err(|e| StoreError::Backend(format!("cannot list final states: {e}")))?;
        sqlx::query(
            "SELECT id, state, body FROM requests \
             WHERE state NOT IN (SELECT value FROM json_each(?)) \
             ORDER BY created_at, id",
        )
        .bind(finals)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| backend("read failed", e))?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn watched(&self) -> Result<Vec<Request>, StoreError> {
        // The watch lives in the JSON body; SQLite's JSON functions read it (few rows qualify).
        sqlx::query(
            "SELECT id, state, body FROM requests \
             WHERE state = ? AND json_type(body, '$.watch') = 'object' \
             AND json_type(body, '$.watch.ended') IS NOT 'text' \
             ORDER BY created_at, id",
        )
        .bind(RequestState::Settled.key())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| backend("read failed", e))?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn owed_follow_ups(&self) -> Result<Vec<Request>, StoreError> {
        sqlx::query(
            "SELECT id, state, body FROM requests \
             WHERE json_type(body, '$.follow_up_owed') = 'object' \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| backend("read failed", e))?
        .iter()
        .map(request_from_row)
        .collect()
    }

    async fn first_delivery(
        &self,
        signature: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let _queue = self.writes.lock().await;
        sqlx::query("DELETE FROM seen_signatures WHERE expires_at < ?")
            .bind(now as i64)
            .execute(&self.pool)
            .await
            .map_err(|e| backend("write failed", e))?;
        let done = sqlx::query(
            "INSERT OR IGNORE INTO seen_signatures (signature, expires_at) VALUES (?, ?)",
        )
        .bind(signature)
        .bind(expires_at as i64)
        .execute(&self.pool)
        .await
        .map_err(|e| backend("write failed", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError> {
        let _queue = self.writes.lock().await;
        let done = sqlx::query(
            "INSERT INTO audit (at, kind, request_id, action, user_id, channel_id, function, \
             mapping_uuid, source, before_state, after_state, reason, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(event.at, "at")?)
        .bind(event.kind.as_str())
        .bind(event.request.as_ref().map(RequestId::as_str))
        .bind(event.action.as_ref().map(Action::as_str))
        .bind(event.user.as_ref().map(UserId::as_str))
        .bind(event.channel.as_ref().map(ChannelId::as_str))
        .bind(event.function.as_deref())
        .bind(event.mapping.as_ref().map(MappingUuid::as_str))
        .bind(event.source.as_deref())
        .bind(event.before.as_deref())
        .bind(event.after.as_deref())
        .bind(event.reason.as_deref())
        .bind(event.detail.as_deref())
        .execute(&self.pool)
        .await
        .map_err(|e| backend("audit append failed", e))?;
        Ok(done.last_insert_rowid())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        // One static statement per filter combination, so each can use its index.
        macro_rules! select {
            ($tail:literal) => {
                concat!(
                    "SELECT seq, at, kind, request_id, action, user_id, channel_id, function, \
                     mapping_uuid, source, before_state, after_state, reason, detail FROM audit",
                    $tail
                )
            };
        }
        let sql = match (query.function.is_some(), query.since.is_some()) {
            (false, false) => select!(" ORDER BY seq DESC LIMIT ?"),
            (true, false) => select!(" WHERE function = ? ORDER BY seq DESC LIMIT ?"),
            (false, true) => select!(" WHERE at >= ? ORDER BY seq DESC LIMIT ?"),
            (true, true) => select!(" WHERE function = ? AND at >= ? ORDER BY seq DESC LIMIT ?"),
        };
        let mut q = sqlx::query(sql);
        if let Some(function) = &query.function {
            q = q.bind(function.as_str());
        }
        if let Some(since) = query.since {
            // Past i64::MAX nothing can match; clamping keeps that true.
            q = q.bind(i64::try_from(since).unwrap_or(i64::MAX));
        }
        // A negative LIMIT is no limit in SQLite.
        let limit = query
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = q
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| backend("audit read failed", e))?;
        let mut events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        events.reverse();
        Ok(events)
    }
}

fn backend(context: &str, e: sqlx::Error) -> StoreError {
    // sqlx errors carry SQLite's message and code, never bound values, so no body (and no
    // `response_url`) can end up here.
    StoreError::Backend(format!("sqlite {context}: {e}"))
}

/// `SQLITE_BUSY` and its extended codes: another connection holds a lock we need.
fn is_busy(e: &sqlx::Error) -> bool {
    const SQLITE_BUSY: i64 = 5;
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| c & 0xff == SQLITE_BUSY),
        _ => false,
    }
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Backend(format!("{what} {value} is out of range")))
}

fn encode(request: &Request) -> Result<String, StoreError> {
    serde_json::to_string(request).map_err(|e| {
        StoreError::Backend(format!(
            "cannot encode request {}: {:?} error",
            request.id,
            e.classify()
        ))
    })
}

/// A request from a row with `id`, `state` and `body` columns.
fn request_from_row(row: &SqliteRow) -> Result<Request, StoreError> {
    let id: String = row.try_get("id").map_err(|e| backend("read failed", e))?;
    let state: String = row
        .try_get("state")
        .map_err(|e| backend("read failed", e))?;
    let body: String = row.try_get("body").map_err(|e| backend("read failed", e))?;
    // serde_json's messages can quote the offending value; report only where it is.
    let mut request: Request = serde_json::from_str(&body).map_err(|e| {
        StoreError::Backend(format!(
            "request {id}: stored body is not a valid request ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    request.state = RequestState::from_key(&state).ok_or_else(|| {
        StoreError::Backend(format!(
            "request {id}: unknown state {state:?} in the table"
        ))
    })?;
    Ok(request)
}

fn event_from_row(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    fn text(row: &SqliteRow, column: &str) -> Result<Option<String>, StoreError> {
        row.try_get(column)
            .map_err(|e| backend("audit read failed", e))
    }
    let seq: i64 = row
        .try_get("seq")
        .map_err(|e| backend("audit read failed", e))?;
    let at: i64 = row
        .try_get("at")
        .map_err(|e| backend("audit read failed", e))?;
    let kind: String = row
        .try_get("kind")
        .map_err(|e| backend("audit read failed", e))?;
    let bad = |what: &str| StoreError::Backend(format!("audit event {seq}: {what}"));
    let action = match text(row, "action")?.as_deref() {
        None => None,
        Some("pause") => Some(Action::Pause),
        Some("resume") => Some(Action::Resume),
        Some(other) => return Err(bad(&format!("unknown action {other:?}"))),
    };
    Ok(AuditEvent {
        seq,
        at: u64::try_from(at).map_err(|_| bad("negative time"))?,
        kind: AuditKind::parse(&kind).ok_or_else(|| bad(&format!("unknown kind {kind:?}")))?,
        // Kept verbatim (`RequestId` is a transparent string), whatever its shape.
        request: text(row, "request_id")?
            .map(|s| serde_json::from_value(s.into()))
            .transpose()
            .map_err(|_| bad("unreadable request id"))?,
        action,
        user: text(row, "user_id")?.map(UserId::new),
        channel: text(row, "channel_id")?.map(ChannelId::new),
        function: text(row, "function")?,
        mapping: text(row, "mapping_uuid")?.map(MappingUuid::new),
        source: text(row, "source")?,
        before: text(row, "before_state")?,
        after: text(row, "after_state")?,
        reason: text(row, "reason")?,
        detail: text(row, "detail")?,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::SqliteStore;
    use crate::audit::{AuditEvent, AuditKind, AuditQuery};
    use crate::command::Action;
    use crate::ids::{ChannelId, RequestId, UserId};
    use crate::store::{Store, StoreError, suite};
    use crate::workflow::request::{Request, RequestState};

    /// A database file in the temp dir, removed (with its WAL files) on drop.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new() -> Self {
            let name = format!("lambda-pause-test-{}.db", RequestId::generate());
            Self(std::env::temp_dir().join(name))
        }

        fn url(&self) -> String {
            format!("sqlite://{}", self.0.display())
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn request(created_at: u64) -> Request {
        suite::request(created_at)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_see_each_others_signatures() {
        let db = TempDb::new();
        let (a, b) = (
            SqliteStore::open(&db.url()).await.unwrap(),
            SqliteStore::open(&db.url()).await.unwrap(),
        );
        let mut firsts = 0;
        for i in 0..8 {
            let store = if i % 2 == 0 { &a } else { &b };
            firsts += usize::from(store.first_delivery("v0=same", 2_000, 1_000).await.unwrap());
        }
        assert_eq!(firsts, 1, "one delivery, however many processes see it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_store_passes_the_store_suite() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        suite::run_all(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_store_passes_the_store_suite() {
        let db = TempDb::new();
        let store = SqliteStore::open(&db.url()).await.unwrap();
        suite::run_all(Arc::new(store.clone())).await;
        store.close().await;
        assert!(db.0.exists(), "the file was created");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_have_one_winner() {
        let db = TempDb::new();
        // Opened at once, as two processes starting together would (both migrate).
        let url = db.url();
        let (a, b) = tokio::join!(SqliteStore::open(&url), SqliteStore::open(&url));
        let (a, b) = (a.unwrap(), b.unwrap());
        let r = request(1);
        a.insert(&r).await.unwrap();

        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = r.id.clone();
            let to = if i % 4 < 2 {
                RequestState::Confirmed
            } else {
                RequestState::Cancelled
            };
            tasks.push(tokio::spawn(async move {
                store
                    .transition(
                        &id,
                        RequestState::Requested,
                        to,
                        Box::new(move |r| r.failure = Some(format!("winner {i}"))),
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "exactly one of 16 transitions wins");
        // Both stores see the winner's write, patch included.
        assert_eq!(a.get(&r.id).await.unwrap().as_ref(), Some(&winners[0]));
        assert_eq!(b.get(&r.id).await.unwrap().as_ref(), Some(&winners[0]));
        let version: i64 = sqlx::query_scalar("SELECT version FROM requests WHERE id = ?")
            .bind(r.id.as_str())
            .fetch_one(&a.pool)
            .await
            .unwrap();
        assert_eq!(version, 1, "one write");
        a.close().await;
        b.close().await;
    }

    /// Cross-process: eight processes (this test binary, re-run as [`race_in_a_child_process`])
    /// each race two transitions on one file at the same instant; exactly one of 16 wins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_sharing_one_file_have_one_winner() {
        let db = TempDb::new();
        let store = SqliteStore::open(&db.url()).await.unwrap();
        let r = request(1);
        store.insert(&r).await.unwrap();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let start_at = (now_ms + 1_500).to_string();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..8)
            .map(|_| {
                let (exe, url, id, start_at) =
                    (exe.clone(), db.url(), r.id.to_string(), start_at.clone());
                tokio::task::spawn_blocking(move || {
                    std::process::Command::new(exe)
                        .args([
                            "store::sqlite::tests::race_in_a_child_process",
                            "--exact",
                            "--nocapture",
                            "--test-threads=1",
                        ])
                        .env(CHILD_DB, url)
                        .env(CHILD_ID, id)
                        .env(CHILD_START_AT, start_at)
                        .output()
                        .unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for child in children {
            let out = child.await.unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "child failed: {stdout}");
            // The harness prints the test's name on the same line, so search, don't match lines.
            let after = stdout
                .split_once("child wins: ")
                .unwrap_or_else(|| panic!("no result from the child: {stdout}"))
                .1;
            wins += after[..1].parse::<usize>().unwrap();
        }
        assert_eq!(wins, 1, "exactly one of 16 transitions in 8 processes wins");
        let stored = store.get(&r.id).await.unwrap().unwrap();
        assert!(
            stored
                .failure
                .as_deref()
                .is_some_and(|f| f.starts_with("pid "))
        );
        store.close().await;
    }

    const CHILD_DB: &str = "LAMBDA_PAUSE_TEST_CHILD_DB";
    const CHILD_ID: &str = "LAMBDA_PAUSE_TEST_CHILD_ID";
    const CHILD_START_AT: &str = "LAMBDA_PAUSE_TEST_CHILD_START_AT";

    /// Does nothing unless started by [`processes_sharing_one_file_have_one_winner`].
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn race_in_a_child_process() {
        let (Ok(url), Ok(id), Ok(start_at)) = (
            std::env::var(CHILD_DB),
            std::env::var(CHILD_ID),
            std::env::var(CHILD_START_AT),
        ) else {
            return;
        };
        let store = SqliteStore::open(&url).await.unwrap();
        let id = RequestId::parse(&id).unwrap();
        let start_at =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(start_at.parse().unwrap());
        if let Ok(wait) = start_at.duration_since(std::time::SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
        let pid = std::process::id();
        let attempt = |to| {
            store.transition(
                &id,
                RequestState::Requested,
                to,
                Box::new(move |r: &mut Request| r.failure = Some(format!("pid {pid}"))),
            )
        };
        let (x, y) = tokio::join!(
            attempt(RequestState::Confirmed),
            attempt(RequestState::Cancelled)
        );
        let wins = usize::from(x.unwrap().is_some()) + usize::from(y.unwrap().is_some());
        println!("child wins: {wins}");
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_updates_from_two_stores_lose_no_write() {
        let db = TempDb::new();
        let a = SqliteStore::open(&db.url()).await.unwrap();
        let b = SqliteStore::open(&db.url()).await.unwrap();
        let r = request(1);
        a.insert(&r).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = r.id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .update(
                        &id,
                        RequestState::Requested,
                        Box::new(move |r| r.mappings.push(mapping(i))),
                    )
                    .await
                    .unwrap()
                    .is_some()
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap());
        }
        let stored = b.get(&r.id).await.unwrap().unwrap();
        let mut seen: Vec<String> = stored.mappings.iter().map(|m| m.uuid.to_string()).collect();
        seen.sort();
        let mut want: Vec<String> = (0..20).map(|i| format!("u-{i}")).collect();
        want.sort();
        assert_eq!(seen, want, "every update kept");
        a.close().await;
        b.close().await;
    }

    fn mapping(i: usize) -> crate::lambda::Mapping {
        crate::lambda::Mapping {
            uuid: crate::ids::MappingUuid::new(format!("u-{i}")),
            source_arn: None,
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders-fn".into(),
            state: "Enabled".into(),
            state_transition_reason: None,
            topics: vec![],
            maximum_record_age: None,
        }
    }

    #[tokio::test]
    async fn requests_and_audit_survive_a_restart() {
        let db = TempDb::new();
        let r = request(5);
        let pending = request(6);
        let mut event = AuditEvent::new(AuditKind::Confirmed, 7);
        event.request = Some(r.id.clone());
        event.action = Some(Action::Resume);
        event.user = Some(UserId::new("U1"));
        event.channel = Some(ChannelId::new("C1"));
        event.function = Some("orders-fn".into());
        event.detail = Some("line\nbreak".into());
        let confirmed = {
            let store = SqliteStore::open(&db.url()).await.unwrap();
            store.insert(&r).await.unwrap();
            store.insert(&pending).await.unwrap();
            event.seq = store.append_audit(&event).await.unwrap();
            let confirmed = store
                .transition(
                    &r.id,
                    RequestState::Requested,
                    RequestState::Confirmed,
                    Box::new(|r| r.confirmed_by = Some(UserId::new("U1"))),
                )
                .await
                .unwrap()
                .unwrap();
            store.close().await;
            confirmed
        };

        let store = SqliteStore::open(&db.url()).await.unwrap();
        assert_eq!(store.get(&r.id).await.unwrap(), Some(confirmed));
        assert_eq!(store.get(&pending.id).await.unwrap(), Some(pending));
        assert_eq!(
            store.audit(&AuditQuery::default()).await.unwrap(),
            vec![event.clone()]
        );
        assert_eq!(
            store
                .unfinished()
                .await
                .unwrap()
                .iter()
                .map(|r| r.created_at)
                .collect::<Vec<_>>(),
            vec![5, 6]
        );
        let next = store
            .append_audit(&AuditEvent::new(AuditKind::Applied, 8))
            .await
            .unwrap();
        assert!(next > event.seq, "seq keeps increasing after a restart");
        store.close().await;
    }

    #[tokio::test]
    async fn foreign_urls_are_refused_clearly() {
        for url in [
            "dynamodb://lambda-pause",
            "postgres://me:hunter2@db/x",
            "lambda-pause.db",
            "sqlite://",
        ] {
            let err = SqliteStore::open(url).await.unwrap_err();
            let StoreError::Backend(message) = &err else {
                panic!("{url}: {err:?}");
            };
            assert!(
                message.contains("expected sqlite://FILE or sqlite::memory:"),
                "{message}"
            );
            assert!(
                !message.contains("hunter2"),
                "no credentials echoed: {message}"
            );
        }
        let StoreError::Backend(message) = SqliteStore::open("dynamodb://t").await.unwrap_err()
        else {
            unreachable!()
        };
        assert!(message.contains("dynamodb://TABLE"), "{message}");
        assert!(message.contains("(scheme `dynamodb:`)"), "{message}");
        let StoreError::Backend(message) = SqliteStore::open("me:hunter2@host").await.unwrap_err()
        else {
            unreachable!()
        };
        assert!(message.contains("(without a scheme)"), "{message}");
    }

    #[tokio::test]
    async fn a_missing_directory_is_an_error_not_a_panic() {
        let dir = TempDb::new();
        let url = format!("sqlite://{}/nested/x.db", dir.0.display());
        assert!(matches!(
            SqliteStore::open(&url).await,
            Err(StoreError::Backend(_))
        ));
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        let db = TempDb::new();
        let first = SqliteStore::open(&db.url()).await.unwrap();
        let r = request(1);
        first.insert(&r).await.unwrap();
        first.close().await;
        let second = SqliteStore::open(&db.url()).await.unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&second.pool)
            .await
            .unwrap();
        assert_eq!(applied, super::MIGRATOR.iter().count() as i64);
        assert_eq!(second.get(&r.id).await.unwrap(), Some(r));
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&second.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        second.close().await;
    }

    #[tokio::test]
    async fn in_memory_databases_are_private_and_persist_across_queries() {
        let a = SqliteStore::open("sqlite::memory:").await.unwrap();
        let b = SqliteStore::open("sqlite::memory:").await.unwrap();
        let r = request(1);
        a.insert(&r).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(a.get(&r.id).await.unwrap(), Some(r.clone()));
        assert_eq!(b.get(&r.id).await.unwrap(), None);
    }
}

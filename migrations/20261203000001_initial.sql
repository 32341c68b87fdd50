-- lambda-pause: requests (compare-and-set on `state`) and the append-only audit trail.
--
-- Applied by `SqliteStore::open` (embedded at compile time with `sqlx::migrate!()`).
-- Never edit a migration that has shipped: sqlx records its checksum; add a new file instead.

-- One row per request. `body` is the whole `Request` as JSON; `state`, `created_at` and
-- `function` repeat fields of it so they can be filtered and sorted on (and read with sqlite3).
-- `state` is the stored key of `RequestState` (`requested`, `awaiting_approval`, …) and is the
-- column every transition compares and sets; `version` counts the writes to the row.
CREATE TABLE requests (
    id         TEXT    PRIMARY KEY NOT NULL,
    state      TEXT    NOT NULL,
    version    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    function   TEXT    NOT NULL,
    body       TEXT    NOT NULL
);

CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_created_at ON requests (created_at);

-- The audit trail: one row per event, typed columns, never updated or deleted by the bot.
-- `seq` is AUTOINCREMENT so numbers are never reused, even after rows are removed by hand.
-- Times are unix seconds (UTC).
CREATE TABLE audit (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    request_id   TEXT,
    action       TEXT,
    user_id      TEXT,
    channel_id   TEXT,
    function     TEXT,
    mapping_uuid TEXT,
    source       TEXT,
    before_state TEXT,
    after_state  TEXT,
    reason       TEXT,
    detail       TEXT
);

CREATE INDEX audit_function_seq ON audit (function, seq);
CREATE INDEX audit_at ON audit (at);

-- Signatures of requests already accepted, so a replayed request is refused (also across processes sharing this file).
CREATE TABLE IF NOT EXISTS seen_signatures (
    signature TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_signatures_expires_at ON seen_signatures (expires_at);

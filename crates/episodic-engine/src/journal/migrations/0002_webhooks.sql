-- Webhook deliveries received by `episodic webhooks serve`, verified, by fal request id.
-- A render run waiting on a request reads its outcome here instead of polling fal.
-- Inserts are idempotent on request_id: fal may deliver the same webhook more than once.
CREATE TABLE webhook_results (
    request_id  TEXT PRIMARY KEY NOT NULL,
    ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
    payload     TEXT NOT NULL,
    error       TEXT,
    received_at INTEGER NOT NULL
);

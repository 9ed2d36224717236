-- PostgreSQL migration 1: the journal's schema as SQLite's migrations 1, 2 and 6 leave it, for a
-- database shared by several machines. Released migrations are never edited; change the schema
-- with a new numbered file (journal/postgres.rs lists them).
--
-- Times are Unix seconds (BIGINT), from the clock of the machine that wrote them. Money is
-- integer micro-dollars. No table holds a credential.

CREATE TABLE runs (
    id           BIGSERIAL PRIMARY KEY,
    started_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    pid          BIGINT  NOT NULL,
    host         TEXT    NOT NULL,
    manifests    TEXT    NOT NULL,
    outcome      TEXT CHECK (outcome IN ('succeeded', 'failed', 'interrupted')),
    heartbeat_at BIGINT  NOT NULL,
    batch        TEXT,
    session      BIGINT REFERENCES runs (id),
    CHECK ((finished_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX runs_open_batch ON runs (batch) WHERE finished_at IS NULL;

CREATE TABLE renders (
    key              TEXT    PRIMARY KEY NOT NULL,
    endpoint         TEXT    NOT NULL,
    args             TEXT    NOT NULL,
    state            TEXT    NOT NULL
                     CHECK (state IN ('submitting', 'submitted', 'completed', 'failed')),
    attempts         BIGINT  NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    owner_run        BIGINT  NOT NULL REFERENCES runs (id),
    owner_pid        BIGINT  NOT NULL,
    owner_host       TEXT    NOT NULL,
    claimed_at       BIGINT  NOT NULL,
    request_id       TEXT,
    submitted_at     BIGINT,
    result           TEXT,
    billed_seconds   DOUBLE PRECISION CHECK (billed_seconds >= 0),
    cost_micros      BIGINT  CHECK (cost_micros >= 0),
    completed_at     BIGINT,
    completed_by_run BIGINT  REFERENCES runs (id),
    error            TEXT,
    failed_at        BIGINT,
    updated_at       BIGINT  NOT NULL,
    reserved_micros  BIGINT  CHECK (reserved_micros >= 0),
    CHECK (state = 'submitting' OR state = 'failed' OR request_id IS NOT NULL),
    CHECK (state <> 'submitted' OR submitted_at IS NOT NULL),
    CHECK (state <> 'completed' OR (result IS NOT NULL AND billed_seconds IS NOT NULL
        AND cost_micros IS NOT NULL AND completed_at IS NOT NULL AND completed_by_run IS NOT NULL)),
    CHECK (state <> 'failed' OR (error IS NOT NULL AND failed_at IS NOT NULL))
);
CREATE INDEX renders_unfinished ON renders (state) WHERE state IN ('submitting', 'submitted');
CREATE INDEX renders_completed_by_run ON renders (completed_by_run) WHERE completed_by_run IS NOT NULL;
CREATE INDEX renders_owner_run ON renders (owner_run) WHERE state IN ('submitting', 'submitted');

CREATE TABLE uploads (
    sha256       TEXT    PRIMARY KEY NOT NULL,
    url          TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         BIGINT  NOT NULL CHECK (size >= 0),
    uploaded_at  BIGINT  NOT NULL,
    expires_at   BIGINT
);

CREATE TABLE artifacts (
    key        TEXT    PRIMARY KEY NOT NULL,
    path       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size       BIGINT  NOT NULL CHECK (size >= 0),
    created_at BIGINT  NOT NULL
);

CREATE TABLE webhook_results (
    request_id  TEXT    PRIMARY KEY NOT NULL,
    ok          BOOLEAN NOT NULL,
    payload     TEXT    NOT NULL,
    error       TEXT,
    received_at BIGINT  NOT NULL
);

CREATE TABLE spend_breaker (
    id         BIGSERIAL PRIMARY KEY,
    tripped_at BIGINT  NOT NULL,
    run        BIGINT  NOT NULL REFERENCES runs (id),
    reason     TEXT    NOT NULL
);
CREATE INDEX spend_breaker_tripped_at ON spend_breaker (tripped_at);

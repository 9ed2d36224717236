-- Migration 1: the initial journal schema.
--
-- Released migrations are never edited: a state.sqlite written by this schema must open with
-- every later build (tests/fixtures/state-v1.sql holds such a database). Change the schema with a
-- new numbered file.
--
-- Times are Unix seconds (INTEGER). Money is integer micro-dollars, like `Usd` in the catalog.
-- No table holds a credential: the fal key lives in the environment only (see the schema test in
-- journal/migrate.rs).

-- One row per `episodic render` invocation. `heartbeat_at` tells other processes, possibly on
-- other hosts sharing the state directory, that the run is alive.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    pid          INTEGER NOT NULL,
    host         TEXT    NOT NULL,
    manifests    TEXT    NOT NULL,   -- JSON array of the manifest paths as given
    outcome      TEXT CHECK (outcome IN ('succeeded', 'failed', 'interrupted')),
    heartbeat_at INTEGER NOT NULL,
    CHECK ((finished_at IS NULL) = (outcome IS NULL))
);

-- One row per render key (a hash of endpoint and canonical arguments). A key with no row has not
-- been claimed yet. The CHECKs keep every state's data present, mirroring `RenderState`.
CREATE TABLE renders (
    key              TEXT    PRIMARY KEY NOT NULL,
    endpoint         TEXT    NOT NULL,
    args             TEXT    NOT NULL,   -- canonical JSON, the bytes the key was hashed from
    state            TEXT    NOT NULL
                     CHECK (state IN ('submitting', 'submitted', 'completed', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    owner_run        INTEGER NOT NULL REFERENCES runs (id),
    owner_pid        INTEGER NOT NULL,
    owner_host       TEXT    NOT NULL,
    claimed_at       INTEGER NOT NULL,
    request_id       TEXT,
    submitted_at     INTEGER,
    result           TEXT,               -- fal's result JSON, verbatim
    billed_seconds   REAL    CHECK (billed_seconds >= 0),
    cost_micros      INTEGER CHECK (cost_micros >= 0),
    completed_at     INTEGER,
    completed_by_run INTEGER REFERENCES runs (id),
    error            TEXT,
    failed_at        INTEGER,
    updated_at       INTEGER NOT NULL,
    CHECK (state = 'submitting' OR state = 'failed' OR request_id IS NOT NULL),
    CHECK (state <> 'submitted' OR submitted_at IS NOT NULL),
    CHECK (state <> 'completed' OR (result IS NOT NULL AND billed_seconds IS NOT NULL
        AND cost_micros IS NOT NULL AND completed_at IS NOT NULL AND completed_by_run IS NOT NULL)),
    CHECK (state <> 'failed' OR (error IS NOT NULL AND failed_at IS NOT NULL))
);

-- Recovery reads the unfinished rows on every start.
CREATE INDEX renders_unfinished ON renders (state) WHERE state IN ('submitting', 'submitted');
-- Budget checks sum a run's spending.
CREATE INDEX renders_completed_by_run ON renders (completed_by_run) WHERE completed_by_run IS NOT NULL;

-- Upload cache: file content hash → the URL fal's storage gave it. `expires_at` NULL: no known expiry.
CREATE TABLE uploads (
    sha256       TEXT    PRIMARY KEY NOT NULL,
    url          TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    uploaded_at  INTEGER NOT NULL,
    expires_at   INTEGER
);

-- Downloaded and composed files: node key → file under artifacts/, named by content hash.
CREATE TABLE artifacts (
    key        TEXT    PRIMARY KEY NOT NULL,
    path       TEXT    NOT NULL,   -- relative to the state directory
    sha256     TEXT    NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at INTEGER NOT NULL
);

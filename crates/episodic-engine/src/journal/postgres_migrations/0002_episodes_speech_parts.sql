-- PostgreSQL migration 2: what SQLite's migrations 3 (episodes), 4 (speech) and 5 (node parts)
-- added, with the reservation of SQLite's migration 6 on lines. See those files for the why of
-- each table; the columns are the same, with PostgreSQL's types.

-- What each journaled episode needs (journal/needs.rs).
CREATE TABLE episodes (
    output     TEXT    PRIMARY KEY NOT NULL,
    episode    TEXT    NOT NULL,
    manifest   TEXT    NOT NULL,
    run_id     BIGINT  NOT NULL REFERENCES runs (id),
    planned_at BIGINT  NOT NULL
);

CREATE TABLE episode_nodes (
    output  TEXT NOT NULL REFERENCES episodes (output) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    key     TEXT NOT NULL,
    PRIMARY KEY (output, node_id)
);
CREATE INDEX episode_nodes_by_key ON episode_nodes (key);

CREATE TABLE node_origins (
    key        TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    render     TEXT,
    sha256     TEXT
);

-- Lines voiced by ElevenLabs, claimed and journaled like renders (journal/speech.rs).
CREATE TABLE speeches (
    key              TEXT    PRIMARY KEY NOT NULL,
    voice_id         TEXT    NOT NULL,
    model_id         TEXT    NOT NULL,
    request          TEXT    NOT NULL,
    state            TEXT    NOT NULL
                     CHECK (state IN ('voicing', 'answered', 'completed', 'failed')),
    attempts         BIGINT  NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    owner_run        BIGINT  NOT NULL REFERENCES runs (id),
    owner_pid        BIGINT  NOT NULL,
    owner_host       TEXT    NOT NULL,
    claimed_at       BIGINT  NOT NULL,
    history_item_id  TEXT,
    request_id       TEXT,
    answered_at      BIGINT,
    characters       BIGINT  CHECK (characters >= 0),
    credits          BIGINT  CHECK (credits >= 0),
    cost_micros      BIGINT  CHECK (cost_micros >= 0),
    aligned          BOOLEAN,
    completed_at     BIGINT,
    completed_by_run BIGINT  REFERENCES runs (id),
    error            TEXT,
    failed_at        BIGINT,
    updated_at       BIGINT  NOT NULL,
    reserved_micros  BIGINT  CHECK (reserved_micros >= 0),
    CHECK (state <> 'answered' OR (history_item_id IS NOT NULL AND answered_at IS NOT NULL)),
    CHECK (state <> 'completed' OR (characters IS NOT NULL AND cost_micros IS NOT NULL
        AND aligned IS NOT NULL AND completed_at IS NOT NULL AND completed_by_run IS NOT NULL)),
    CHECK (state <> 'failed' OR (error IS NOT NULL AND failed_at IS NOT NULL))
);
CREATE INDEX speeches_by_history_item ON speeches (history_item_id) WHERE history_item_id IS NOT NULL;
CREATE INDEX speeches_completed_by_run ON speeches (completed_by_run) WHERE completed_by_run IS NOT NULL;
CREATE INDEX speeches_owner_run ON speeches (owner_run) WHERE state IN ('voicing', 'answered');

-- Each node's inputs by name, as it was last made (journal/parts.rs).
CREATE TABLE node_parts (
    episode     TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    parts       TEXT    NOT NULL,
    recorded_at BIGINT  NOT NULL,
    PRIMARY KEY (episode, node)
);

-- Migration 3: lines voiced by ElevenLabs, journaled like renders so none is paid for twice.
--
-- One row per speech key (a hash of voice, model, settings, output format and the exact text).
-- ElevenLabs has no idempotency key, so a line is claimed ('voicing') before its request, and the
-- `history_item_id` it answers with is committed the moment it arrives ('answered'): a run that
-- dies before keeping the audio fetches it from ElevenLabs' history instead of voicing it again.
-- The audio (and its alignment) are kept in `artifacts` under the speech key.
CREATE TABLE speeches (
    key              TEXT    PRIMARY KEY NOT NULL,
    voice_id         TEXT    NOT NULL,
    model_id         TEXT    NOT NULL,
    request          TEXT    NOT NULL,   -- canonical JSON of what the key was hashed from
    state            TEXT    NOT NULL
                     CHECK (state IN ('voicing', 'answered', 'completed', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    owner_run        INTEGER NOT NULL REFERENCES runs (id),
    owner_pid        INTEGER NOT NULL,
    owner_host       TEXT    NOT NULL,
    claimed_at       INTEGER NOT NULL,
    history_item_id  TEXT,
    request_id       TEXT,
    answered_at      INTEGER,
    characters       INTEGER CHECK (characters >= 0),
    credits          INTEGER CHECK (credits >= 0),   -- ElevenLabs' `character-cost`, when sent
    cost_micros      INTEGER CHECK (cost_micros >= 0),
    aligned          INTEGER CHECK (aligned IN (0, 1)),
    completed_at     INTEGER,
    completed_by_run INTEGER REFERENCES runs (id),
    error            TEXT,
    failed_at        INTEGER,
    updated_at       INTEGER NOT NULL,
    CHECK (state <> 'answered' OR (history_item_id IS NOT NULL AND answered_at IS NOT NULL)),
    CHECK (state <> 'completed' OR (characters IS NOT NULL AND cost_micros IS NOT NULL
        AND aligned IS NOT NULL AND completed_at IS NOT NULL AND completed_by_run IS NOT NULL)),
    CHECK (state <> 'failed' OR (error IS NOT NULL AND failed_at IS NOT NULL))
);

-- A history item found for one line must never be taken for another.
CREATE INDEX speeches_by_history_item ON speeches (history_item_id) WHERE history_item_id IS NOT NULL;
-- Budget checks sum a run's spending.
CREATE INDEX speeches_completed_by_run ON speeches (completed_by_run) WHERE completed_by_run IS NOT NULL;

-- Migration 6: spending shared by the runs of one batch, and fal's out-of-credit answer seen by
-- every run (journal/spend.rs).

-- `batch`: a hash of the render keys a run was given; runs of one batch alive at once share a
-- budget session, `session` (the id of the session's first run).
ALTER TABLE runs ADD COLUMN batch TEXT;
ALTER TABLE runs ADD COLUMN session INTEGER REFERENCES runs (id);

-- The plan's estimate of an unfinished render, counted against its run's budget session until
-- the render completes (then its billed cost counts instead).
ALTER TABLE renders ADD COLUMN reserved_micros INTEGER CHECK (reserved_micros >= 0);
-- The same for a line being voiced by ElevenLabs.
ALTER TABLE speeches ADD COLUMN reserved_micros INTEGER CHECK (reserved_micros >= 0);

-- Each time fal refused a submit for lack of credit: every run started before it stops submitting.
CREATE TABLE spend_breaker (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tripped_at INTEGER NOT NULL,
    run        INTEGER NOT NULL REFERENCES runs (id),
    reason     TEXT    NOT NULL
);
CREATE INDEX spend_breaker_tripped_at ON spend_breaker (tripped_at);

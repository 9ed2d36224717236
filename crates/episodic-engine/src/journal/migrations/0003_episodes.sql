-- Migration 3: what each journaled episode needs, so `episodic cache gc` can tell the files no
-- episode uses any more from the ones a rerun would reuse, and `cache ls` can say why a file is
-- kept.
--
-- A render run records, before it starts any node, every node of each episode's plan. An episode
-- is identified by its output path (a preview or a comparison writes another file and is its own
-- entry); a later run of the same output replaces its whole list.
CREATE TABLE episodes (
    output     TEXT    PRIMARY KEY NOT NULL,   -- the episode's file, an absolute path
    episode    TEXT    NOT NULL,               -- the manifest's episode id
    manifest   TEXT    NOT NULL,               -- as given on the command line
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    planned_at INTEGER NOT NULL
);

CREATE TABLE episode_nodes (
    output  TEXT NOT NULL REFERENCES episodes (output) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    key     TEXT NOT NULL,
    PRIMARY KEY (output, node_id)
);
CREATE INDEX episode_nodes_by_key ON episode_nodes (key);

-- What made each node key. A key hashes what made it, so a row never changes; it is kept after
-- every episode has moved on, because gc must still know that an unneeded file is the clip of a
-- paid render.
CREATE TABLE node_origins (
    key        TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,   -- upload, render, download, compose, audio, concat
    render     TEXT,            -- a download's render (its node key)
    sha256     TEXT             -- an upload's file
);

-- Migration 3: each node's inputs by name, as it was last made.
--
-- A node key says whether a node changed, not what changed. When a node completes, its parts
-- (small canonical JSON: `{"prompt": "...", "audio file": {"file": "assets/x.mp3", "sha256": ...}}`)
-- are kept here under the episode and the node's readable id, so `episodic plan` can name the input
-- that differs (`prompt`, `audio file assets/x.mp3`, `model a → b`) when the key is new.
-- One row per node id: the latest wins.
CREATE TABLE node_parts (
    episode     TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    parts       TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (episode, node)
);

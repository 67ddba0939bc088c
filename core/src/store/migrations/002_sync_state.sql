-- Sync bookkeeping, kept beside the documents so that it changes in the same transactions.

-- The heads the server has acknowledged as durably stored; NULL until the first upload.
ALTER TABLE surveys ADD COLUMN acked_heads BLOB;
-- 1 when the survey has changes the server has not acknowledged.
ALTER TABLE surveys ADD COLUMN dirty INTEGER NOT NULL DEFAULT 1;

CREATE INDEX surveys_dirty ON surveys (dirty) WHERE dirty = 1;

-- One row per server: where this device is in the server's change feed.
CREATE TABLE sync_cursors (
    server  TEXT PRIMARY KEY,
    cursor  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A change feed over the store: each write gives the survey the next sequence number, so
-- "what changed since N" is an index range scan. The server serves it to devices; analysts'
-- incremental exports read it too.

ALTER TABLE surveys ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

UPDATE surveys SET change_seq = rowid;
INSERT INTO counters (name, value) VALUES ('change_seq', (SELECT coalesce(max(change_seq), 0) FROM surveys));

CREATE INDEX surveys_by_change ON surveys (change_seq);

-- When this store received each change (local clock): devices' clocks are often wrong, so
-- history shows this beside the change's own time.
CREATE TABLE change_receipts (
    survey_id   TEXT NOT NULL REFERENCES surveys (survey_id) ON DELETE CASCADE,
    hash        BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (survey_id, hash)
) STRICT, WITHOUT ROWID;
CREATE INDEX surveys_by_creator_change ON surveys (created_by, change_seq);

-- 0 while the snapshot is the log of changes as received (surveys arriving in bulk are
-- stored as they came and compacted later, off the request's critical path).
ALTER TABLE surveys ADD COLUMN compacted INTEGER NOT NULL DEFAULT 1;
CREATE INDEX surveys_uncompacted ON surveys (survey_id) WHERE compacted = 0;

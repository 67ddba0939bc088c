-- Saved exports: a form, a format and filters under a stable URL, read with a token that
-- opens that export only. It runs with its creator's rights; an incremental one remembers
-- the cursor of its last download.

CREATE TABLE saved_exports (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    form_id     TEXT NOT NULL,
    query       TEXT NOT NULL,            -- the export's options, as JSON
    incremental INTEGER NOT NULL,
    cursor      INTEGER NOT NULL DEFAULT 0,
    token_hash  BLOB NOT NULL UNIQUE,     -- SHA-256 of the export's token
    created_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
) STRICT;

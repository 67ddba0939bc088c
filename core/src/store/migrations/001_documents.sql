-- Forms, survey documents (snapshot + incremental chunks) and the actors who wrote them.

CREATE TABLE forms (
    form_id     TEXT NOT NULL,
    version     TEXT NOT NULL,
    title       TEXT NOT NULL,
    definition  TEXT NOT NULL,            -- the Form as JSON
    saved_at    INTEGER NOT NULL,         -- ms since the epoch, local clock
    PRIMARY KEY (form_id, version)
) STRICT;

CREATE TABLE actors (
    actor       TEXT PRIMARY KEY,         -- Automerge actor id, hex
    user_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE surveys (
    survey_id     TEXT PRIMARY KEY,
    form_id       TEXT NOT NULL,
    form_version  TEXT NOT NULL,
    status        TEXT NOT NULL,          -- draft | finalized
    created_by    TEXT NOT NULL,
    created_on    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,       -- local clock, ms, at the last write to this row
    review_status TEXT,
    has_conflicts INTEGER NOT NULL DEFAULT 0,
    heads         BLOB NOT NULL,          -- concatenated 32-byte change hashes, sorted
    snapshot      BLOB NOT NULL,          -- Automerge save()
    chunk_count   INTEGER NOT NULL DEFAULT 0,
    chunk_bytes   INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (form_id, form_version) REFERENCES forms (form_id, version)
) STRICT;

CREATE INDEX surveys_by_form ON surveys (form_id, status, updated_at);
CREATE INDEX surveys_by_enumerator ON surveys (created_by, updated_at);
CREATE INDEX surveys_by_update ON surveys (updated_at);
CREATE INDEX surveys_conflicted ON surveys (updated_at) WHERE has_conflicts = 1;

-- Changes appended since the snapshot; folded into it by compaction.
CREATE TABLE survey_chunks (
    survey_id TEXT NOT NULL REFERENCES surveys (survey_id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    PRIMARY KEY (survey_id, seq)
) STRICT, WITHOUT ROWID;

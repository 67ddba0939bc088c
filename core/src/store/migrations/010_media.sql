-- Attached files (`crate::media`): the bytes live in the folder beside the store, named by
-- their SHA-256 (`digest`, 32 bytes); these rows say what each is.
--
-- On a device: each file held here, and whether the server has it (`uploaded_at`, NULL
-- until a sync finished sending it, or set when it came from the server).
CREATE TABLE media_blobs (
    digest      BLOB PRIMARY KEY NOT NULL,
    size        INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    uploaded_at INTEGER
) STRICT, WITHOUT ROWID;

-- On a device: the surveys each file was attached to here. A file none of them still
-- references when its upload comes is not sent.
CREATE TABLE media_attachments (
    digest    BLOB NOT NULL REFERENCES media_blobs (digest) ON DELETE CASCADE,
    survey_id TEXT NOT NULL,
    PRIMARY KEY (digest, survey_id)
) STRICT, WITHOUT ROWID;

-- In a store that keeps projections (the relay): the files each survey's answers reference,
-- written with its projection row. Who may download a file is decided from the surveys
-- that reference it.
CREATE TABLE survey_media (
    survey_id TEXT NOT NULL REFERENCES surveys (survey_id) ON DELETE CASCADE,
    digest    BLOB NOT NULL,
    PRIMARY KEY (survey_id, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX survey_media_by_digest ON survey_media (digest);

-- Project settings (approved surveys frozen or not), and the surveys that could not be read:
-- skipped everywhere else and listed to administrators as needing attention.

ALTER TABLE projects ADD COLUMN freeze_approved INTEGER NOT NULL DEFAULT 0;

CREATE TABLE survey_faults (
    survey_id   TEXT PRIMARY KEY,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    occurrences INTEGER NOT NULL,
    error       TEXT NOT NULL
) STRICT;

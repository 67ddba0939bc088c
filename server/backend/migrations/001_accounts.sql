-- The server's own records: people, their devices and tokens, projects and teams, which
-- project each form belongs to, survey assignments, what each device holds, and the audit
-- log. Survey documents live in the survey store beside this file.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,          -- argon2id, PHC string
    role          TEXT NOT NULL,          -- enumerator | supervisor | analyst | admin
    display_name  TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    device_key  BLOB PRIMARY KEY,         -- 8 random bytes: the prefix of the device's actors
    user_id     INTEGER NOT NULL REFERENCES users (id),
    device_id   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, device_id)
) STRICT;

CREATE TABLE tokens (
    hash        BLOB PRIMARY KEY,         -- SHA-256 of the token; the token itself is never stored
    user_id     INTEGER NOT NULL REFERENCES users (id),
    device_key  BLOB REFERENCES devices (device_key),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;

-- Analysts and admins scoped to a project; supervisors and enumerators join through teams.
CREATE TABLE project_members (
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (project_id, user_id)
) STRICT;

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    UNIQUE (project_id, name)
) STRICT;

CREATE TABLE team_members (
    team_id     INTEGER NOT NULL REFERENCES teams (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
) STRICT;

CREATE TABLE project_forms (
    form_id     TEXT PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id)
) STRICT;

CREATE TABLE assignments (
    survey_id   TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (survey_id, user_id)
) STRICT;

-- What each device is known to hold of each survey: `confirmed` heads (it pushed them, or
-- acknowledged receiving them by moving its cursor past `pending_cursor`) and the `pending`
-- heads last sent to it.
CREATE TABLE device_heads (
    device_key      BLOB NOT NULL,
    survey_id       TEXT NOT NULL,
    confirmed       BLOB,
    pending         BLOB,
    pending_cursor  INTEGER,
    PRIMARY KEY (device_key, survey_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    user_id     INTEGER REFERENCES users (id),
    action      TEXT NOT NULL,
    survey_id   TEXT,
    detail      TEXT
) STRICT;

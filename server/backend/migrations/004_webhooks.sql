-- Outbound webhooks: each project's targets, the durable outbox of deliveries (one row per
-- event and target, kept as the delivery log), and the dispatcher's place in the survey
-- change feed with the last state it saw of each survey, from which events are derived.

CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,            -- the HMAC key deliveries are signed with
    events      TEXT NOT NULL,            -- event names, space-separated
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
) STRICT;

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    webhook_id   INTEGER NOT NULL REFERENCES webhooks (id),
    event_id     TEXT NOT NULL,           -- the same for every target of one event
    event        TEXT NOT NULL,
    body         TEXT NOT NULL,           -- sent as is on every attempt, so signatures match
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    delivered_at INTEGER,
    failed_at    INTEGER,                 -- given up after the last retry
    last_status  INTEGER,
    last_error   TEXT,
    UNIQUE (webhook_id, event_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

CREATE TABLE webhook_cursor (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    cursor  INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_seen (
    survey_id     TEXT PRIMARY KEY,
    status        TEXT NOT NULL,
    review_status TEXT NOT NULL,
    conflicts     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Who this server is, and which epoch of it is running. A restore from a backup starts a
-- new epoch: devices that synced with an older one offer everything again, since the
-- restored server may lack what it acknowledged to them (`terrain_core::sync::wire::Epoch`).
CREATE TABLE identity (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    server_id   BLOB NOT NULL,
    epoch       INTEGER NOT NULL,
    -- The change feed's position when the epoch started.
    epoch_start INTEGER NOT NULL,
    started_at  INTEGER NOT NULL
) STRICT;

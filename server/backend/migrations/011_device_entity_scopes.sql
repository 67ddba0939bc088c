-- What each device last pulled entities under (`Scope::entity_visibility`, as a
-- fingerprint), and how far it has been brought up to date since that changed: a device
-- whose user joins a team may now read entities that changed before its cursor, so the
-- entity feed is walked again from `backfill_at` up to `backfill_until`, sending what the
-- device lacks (`terrain_services::sync`).
CREATE TABLE device_entity_scopes (
    device_key     BLOB PRIMARY KEY,
    fingerprint    TEXT NOT NULL,
    backfill_at    INTEGER,               -- NULL: nothing left to walk
    backfill_until INTEGER
) STRICT, WITHOUT ROWID;

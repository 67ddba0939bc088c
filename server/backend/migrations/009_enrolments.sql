-- One-time codes that enrol a device for a user from a QR code: stored hashed, expiring,
-- revocable, and redeemed at most once.
CREATE TABLE enrolments (
    id          INTEGER PRIMARY KEY,
    code_hash   BLOB NOT NULL UNIQUE,         -- SHA-256 of the code; the code is never stored
    user_id     INTEGER NOT NULL REFERENCES users (id),
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    redeemed_at INTEGER,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX enrolments_by_user ON enrolments (user_id);

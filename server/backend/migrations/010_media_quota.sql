-- The bytes of attached files each device has sent each day (UTC), held against
-- `MediaLimits::device_bytes_per_day`: kept here, not in a relay's memory, so that a
-- restart does not hand a device a new day's allowance.
CREATE TABLE media_bytes (
    device_key BLOB NOT NULL,
    day        TEXT NOT NULL,
    bytes      INTEGER NOT NULL,
    PRIMARY KEY (device_key, day)
) STRICT, WITHOUT ROWID;

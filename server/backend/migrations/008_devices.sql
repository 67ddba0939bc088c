-- Each device's life: when it last synced and with what client (its User-Agent, as the
-- devices page shows it), and when it was revoked (its tokens end with it, and it may not
-- log in again).
ALTER TABLE devices ADD COLUMN last_sync_at INTEGER;
ALTER TABLE devices ADD COLUMN client TEXT;
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;

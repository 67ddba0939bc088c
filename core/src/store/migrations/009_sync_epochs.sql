-- Which server, and which epoch of it, this device's cursor and acknowledgements are from.
-- A server restored from a backup starts a new epoch and may have lost what it had
-- acknowledged; a device that sees a new epoch re-offers everything (`Store::begin_epoch`).
-- NULL until the first sync that names one.
ALTER TABLE sync_cursors ADD COLUMN server_id BLOB;
ALTER TABLE sync_cursors ADD COLUMN epoch INTEGER;

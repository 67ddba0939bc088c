-- An entity may be assigned to one enumerator (ODK's per-user entity lists): among the
-- enumerators who see its team's entities, only that one does, and only their devices
-- receive it. A user id of the relay, which alone sets it; devices leave it NULL.
ALTER TABLE entities ADD COLUMN assignee INTEGER;

-- Entities (`crate::entity`): one Automerge document per entity of a list, with the
-- columns that list, search and look them up without loading it. `properties` holds the
-- values readers see, as a JSON object; a property with competing values shows the winner
-- and sets `has_conflicts`.
CREATE TABLE entities (
    list          TEXT NOT NULL,
    entity_id     TEXT NOT NULL,
    label         TEXT NOT NULL,
    properties    TEXT NOT NULL,
    has_conflicts INTEGER NOT NULL DEFAULT 0,
    deleted       INTEGER NOT NULL DEFAULT 0,
    heads         BLOB NOT NULL,          -- concatenated 32-byte change hashes, sorted
    document      BLOB NOT NULL,          -- Automerge save()
    updated_at    INTEGER NOT NULL,       -- local clock, ms, at the last write
    PRIMARY KEY (list, entity_id)
) STRICT;

CREATE INDEX entities_by_label ON entities (list, deleted, label);

-- Entities travel like surveys (`store::entity_sync`): each write takes the next number of
-- the change feed, so one cursor covers surveys and entities; `acked_heads` and `dirty`
-- say what the server has not acknowledged. `team` is the relay's partition of a list:
-- which team's devices receive the entity (NULL: every device that may read the list);
-- devices leave it NULL.
ALTER TABLE entities ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entities ADD COLUMN acked_heads BLOB;
ALTER TABLE entities ADD COLUMN dirty INTEGER NOT NULL DEFAULT 1;
ALTER TABLE entities ADD COLUMN team INTEGER;

CREATE INDEX entities_by_change ON entities (change_seq);
CREATE INDEX entities_pending ON entities (change_seq) WHERE dirty = 1;

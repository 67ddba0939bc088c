-- Which surveys created or updated which entities: each entity document's `sources`,
-- indexed in the transaction that writes the entity (`store::entity_sources`), so that a
-- survey's export row and page lead to its entities without loading documents. Entities
-- written before this migration are indexed when the store next opens.
CREATE TABLE entity_sources (
    survey_id TEXT NOT NULL,
    list      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action    TEXT NOT NULL,          -- create | update
    PRIMARY KEY (survey_id, list, entity_id)
) STRICT, WITHOUT ROWID;

INSERT INTO settings (key, value) SELECT 'entity_sources', 'to_index' WHERE EXISTS (SELECT 1 FROM entities);

-- Each survey's current metadata, review and relevant answers, kept by stores that serve
-- exports (the relay), so that exports and the map never load a document. A row is current
-- only while its `heads` equal the survey's; readers take the document otherwise. Which
-- stores keep rows is the `settings` key `projections`.
CREATE TABLE survey_projections (
    survey_id TEXT PRIMARY KEY NOT NULL REFERENCES surveys (survey_id) ON DELETE CASCADE,
    heads     BLOB NOT NULL,
    data      BLOB NOT NULL
) STRICT;

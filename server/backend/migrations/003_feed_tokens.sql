-- Feed tokens: long-lived, named, read-only tokens an analyst hands to Excel, Power BI or a
-- script. They open OData feeds and nothing else; sessions (`purpose` 'session') open
-- everything their user may do.

ALTER TABLE tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'session';
ALTER TABLE tokens ADD COLUMN label TEXT;

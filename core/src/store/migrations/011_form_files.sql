-- Files attached to a form version (`form::attachments`: the CSV lists that
-- select_one_from_file and pulldata() read). Like the form version itself, a file never
-- changes once stored: a changed list is a new form version.
CREATE TABLE form_files (
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,
    name    TEXT NOT NULL,
    sha256  BLOB NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (form_id, version, name),
    FOREIGN KEY (form_id, version) REFERENCES forms (form_id, version)
) STRICT;

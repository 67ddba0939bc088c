-- How many of a survey's changes have a hash starting with a zero byte ("fragments"):
-- Automerge's cost of holding a document grows with the square of their number, so the
-- write path holds it to the write budget (see terrain_core::intake::Budget::fragments).
-- Surveys stored before this column count from zero.

ALTER TABLE surveys ADD COLUMN fragments INTEGER NOT NULL DEFAULT 0;

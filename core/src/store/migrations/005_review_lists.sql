-- Listing surveys for review: sorted by last write or start time and paged by key (the sort
-- value, then the survey id), filtered by review status or form. Supervisors page through
-- lists of up to 100,000 surveys.

DROP INDEX surveys_by_update;
CREATE INDEX surveys_by_update ON surveys (updated_at, survey_id);
CREATE INDEX surveys_by_start ON surveys (created_at, survey_id);
CREATE INDEX surveys_by_review ON surveys (review_status, updated_at);
CREATE INDEX surveys_by_form_update ON surveys (form_id, updated_at, survey_id);
-- Conflicted surveys in list order, so that "only with conflicts" stays an index walk.
DROP INDEX surveys_conflicted;
CREATE INDEX surveys_conflicted ON surveys (updated_at, survey_id) WHERE has_conflicts = 1;

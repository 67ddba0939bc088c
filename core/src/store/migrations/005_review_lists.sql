-- Listing surveys for review: by start time, by review status, newest first. Supervisors
-- page through lists of up to 100,000 surveys sorted and filtered on these columns.

CREATE INDEX surveys_by_start ON surveys (created_at, survey_id);
CREATE INDEX surveys_by_review ON surveys (review_status, updated_at);
CREATE INDEX surveys_by_form_update ON surveys (form_id, updated_at, survey_id);

-- Counting a list's matches (every list page shows its total) without reading the table:
-- the columns lists filter on, led by the creator (a team's or a supervisor's surveys) and
-- the start date (date ranges), so that a team's count over a month reads this index
-- alone. `updated_at` is left out: every answer rewrites it, and would rewrite this entry.
CREATE INDEX surveys_listing ON surveys (
    created_by, created_at, form_id, review_status, status, form_version, has_conflicts, survey_id
);

------------------------------------------------------------------------------
-- Scheduling: the visit trigger in C, writing the sessions itself
------------------------------------------------------------------------------

-- Same rules and verdicts as 0.4.0 (sql/schedule_compare.sql replays random
-- loads through both and compares every session).  src/schedule.c says why
-- it is C and why its session rows need no per-row foreign-key check.
CREATE OR REPLACE FUNCTION nps.schedule_visits() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_schedule_visits' LANGUAGE C;
COMMENT ON FUNCTION nps.schedule_visits() IS
    'Trigger: creates the survey session of every inserted visit (due = visit + survey delay, moved into the region''s sending hours), cancelling opted-out, duplicate and superseded ones';

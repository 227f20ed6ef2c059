------------------------------------------------------------------------------
-- Scheduling: a visit load creates its sessions in one pass
------------------------------------------------------------------------------

-- Same rules as 0.2.0 (opted out, duplicate visit, latest visit wins within
-- the load and across loads), cheaper for big loads that arrive in batches:
--
-- * one index probe per visit on visit (msisdn, occurred_at) fetches the
--   subscriber's visits once and answers both "is this a duplicate" and "has
--   this subscriber visits from earlier loads";
-- * only subscribers who do have earlier visits are looked up again, for
--   the pending sessions of those visits (by visit_id, a unique key whose
--   index the planner takes whatever the statistics say):
--   0.2.0 read every pending session of the table for every load, so a
--   million visits in batches of 10,000 grew quadratically;
-- * the cross-load verdict is decided before the INSERT, so the new
--   sessions are inserted in their final state and only older pending
--   sessions that lose are updated, by key, in the same statement.
--
-- Probes are written as LATERAL subqueries on one key each (behind OFFSET 0,
-- so that the planner cannot turn them into a join over a whole table), and
-- the function runs with bitmap scans off: while a table has no statistics
-- yet (a first load, a TRUNCATE; a plan made then is kept for the session)
-- the planner expects hundreds of rows per subscriber and chose bitmap scans
-- plus a sort for each probe, and for the earlier loads' sessions a bitmap
-- scan of every pending session of the table, joined by hash (seen with
-- auto_explain in the benchmark: 1.2 s per 10,000 visits instead of 0.3).
-- A one-row insert costs one probe, whatever the table's size.  jit is off
-- for the same reason: those estimates pushed the statement over
-- jit_above_cost, and each batch spent a second compiling it.
CREATE OR REPLACE FUNCTION nps.schedule_visits() RETURNS trigger
LANGUAGE plpgsql SET jit = off SET enable_bitmapscan = off AS $$
DECLARE
    dup_window interval := nps.setting_value('duplicate_window')::interval;
    fatigue interval := nps.setting_value('fatigue_period')::interval;
BEGIN
    WITH load AS MATERIALIZED (
        -- The load's visits with their survey, due time and refusal; within
        -- the load, of a subscriber's eligible visits those due within the
        -- fatigue period before the newest one's are superseded by it.
        SELECT e.*,
               first_value(e.id) OVER w AS newest,
               fatigue > '0' AND e.reason IS NULL AND e.id <> first_value(e.id) OVER w
                   AND e.due_at > first_value(e.due_at) OVER w - fatigue AS superseded
        FROM (SELECT n.id, sv.id AS survey_id, n.msisdn, n.occurred_at,
                     nps.send_time(n.occurred_at, sv.delay, r.time_zone, r.send_from, r.send_until) AS due_at,
                     CASE WHEN o.msisdn IS NOT NULL THEN 'opted out'
                          WHEN h.dup THEN 'duplicate visit' END AS reason,
                     h.visits
              FROM new_visits n
              JOIN nps.survey sv ON sv.channel = n.channel AND sv.active
              JOIN nps.salon sa ON sa.code = n.salon_code
              JOIN nps.region r ON r.code = sa.region_code
              LEFT JOIN nps.opt_out o ON o.msisdn = n.msisdn
              -- The subscriber's visits (a handful), this one included: a
              -- duplicate is an earlier one to the same salon within the window.
              CROSS JOIN LATERAL (
                  SELECT count(*) AS visits,
                         dup_window > '0' AND coalesce(bool_or(
                             v.salon_code = n.salon_code
                             AND v.occurred_at >= n.occurred_at - dup_window
                             AND (v.occurred_at, v.id) < (n.occurred_at, n.id)), false) AS dup
                  FROM (SELECT v.id, v.salon_code, v.occurred_at FROM nps.visit v
                        WHERE v.msisdn = n.msisdn OFFSET 0) v) h) e
        WINDOW w AS (PARTITION BY e.msisdn, e.reason IS NULL ORDER BY e.occurred_at DESC, e.id DESC)
    ), earlier AS MATERIALIZED (
        -- Pending sessions left by earlier loads, of the subscribers with
        -- more visits in the table than in this load (nothing to look up when
        -- the fatigue rule is off).
        SELECT p.id AS session_id, p.visit_id, p.msisdn, p.due_at, v.occurred_at
        FROM (SELECT l.msisdn FROM load l WHERE fatigue > '0'
              GROUP BY l.msisdn HAVING max(l.visits) > count(*)) m
        CROSS JOIN LATERAL (SELECT v.id, v.occurred_at FROM nps.visit v
                            WHERE v.msisdn = m.msisdn OFFSET 0) v
        CROSS JOIN LATERAL (SELECT p.id, p.visit_id, p.msisdn, p.due_at, p.state FROM nps.session p
                            WHERE p.visit_id = v.id OFFSET 0) p
        WHERE p.state IN ('scheduled', 'deferred')
    ), lost AS MATERIALIZED (
        -- Latest visit wins across loads: of those pending sessions and this
        -- load's surviving ones, those due within the fatigue period before
        -- the newest visit's lose to it.
        SELECT x.session_id, x.visit_id, x.newest_visit
        FROM (SELECT y.*,
                     first_value(y.visit_id) OVER w AS newest_visit,
                     first_value(y.due_at) OVER w AS newest_due
              FROM (SELECT session_id, visit_id, msisdn, due_at, occurred_at FROM earlier
                    UNION ALL
                    SELECT NULL, l.id, l.msisdn, l.due_at, l.occurred_at FROM load l
                    WHERE l.reason IS NULL AND NOT l.superseded
                      AND l.msisdn IN (SELECT msisdn FROM earlier)) y
              WINDOW w AS (PARTITION BY y.msisdn ORDER BY y.occurred_at DESC, y.visit_id DESC)) x
        WHERE x.visit_id <> x.newest_visit AND x.due_at > x.newest_due - fatigue
    ), inserted AS (
        INSERT INTO nps.session (visit_id, survey_id, msisdn, due_at, state, state_reason)
        SELECT l.id, l.survey_id, l.msisdn, l.due_at,
               CASE WHEN l.reason IS NULL AND NOT l.superseded AND k.visit_id IS NULL
                    THEN 'scheduled' ELSE 'cancelled' END,
               coalesce(l.reason, 'superseded: visit ' || CASE WHEN l.superseded THEN l.newest ELSE k.newest_visit END)
        FROM load l
        LEFT JOIN lost k ON k.visit_id = l.id AND k.session_id IS NULL
    )
    -- Older pending sessions that lost (a few), by key.
    UPDATE nps.session s
    SET state = 'cancelled', state_reason = 'superseded: visit ' || k.newest_visit, updated_at = now()
    FROM lost k
    WHERE s.id = k.session_id;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.schedule_visits() IS
    'Trigger: creates the survey session of every inserted visit (due = visit + survey delay, moved into the region''s sending hours), cancelling opted-out, duplicate and superseded ones';

------------------------------------------------------------------------------
-- msisdn normalisation on insert: in C
------------------------------------------------------------------------------

-- Same behaviour as the 0.1.0 PL/pgSQL body (NEW.msisdn :=
-- nps.normalize_msisdn(NEW.msisdn); NULL stays NULL for the NOT NULL
-- constraint to report), for nps.visit, nps.opt_out and nps.roaming.
CREATE OR REPLACE FUNCTION nps.normalize_msisdn_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_normalize_msisdn_trigger' LANGUAGE C;
COMMENT ON FUNCTION nps.normalize_msisdn_trigger() IS
    'Trigger (BEFORE INSERT OR UPDATE, per row): rewrites the msisdn column as 7XXXXXXXXXX; an invalid number raises invalid_text_representation naming it';

------------------------------------------------------------------------------
-- The send time of a visit: in C
------------------------------------------------------------------------------

-- Same result as the 0.2.0 SQL expression (NULL in, NULL out): one
-- conversion to local time and one back per visit instead of four, the zone
-- looked up once per statement.
CREATE OR REPLACE FUNCTION nps.send_time(visit_at timestamptz, delay interval, tz text, send_from time, send_until time)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'nps_send_time'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.send_time(timestamptz, interval, text, time, time) IS
    'When a survey for a visit at visit_at may be sent: visit_at + delay in local time of zone tz, moved into the sending hours [send_from, send_until)';

------------------------------------------------------------------------------
-- Scheduling: the superseded older sessions are updated by key
------------------------------------------------------------------------------

-- Same rules and the same statement as 0.3.0 but for its last step.  The
-- UPDATE of the older pending sessions that lose to a newer visit joined
-- "lost" to nps.session; the planner's estimate of "lost" comes from the
-- visit probes, which it expects to return hundreds of rows per subscriber
-- while nps.visit has no statistics (a bulk load inside one transaction or
-- procedure never gets them: the statistics collector only hears of the rows
-- when the load ends), so it hashed a sequential scan of EVERY session for
-- each batch (auto_explain on the million-visit benchmark: 56,000 sessions
-- read for batch 10, 406,000 for batch 65; the cause of the batches growing
-- slower through the load).  The sessions to update are now named by an
-- array of keys, which the planner can only take through session_pkey.
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
    WHERE s.id = k.session_id
      AND s.id = ANY ((SELECT array_agg(session_id) FROM lost)::bigint[]);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.schedule_visits() IS
    'Trigger: creates the survey session of every inserted visit (due = visit + survey delay, moved into the region''s sending hours), cancelling opted-out, duplicate and superseded ones';


------------------------------------------------------------------------------
-- The salon check of every visit: an index probe, not a scan of the salons
------------------------------------------------------------------------------

-- The foreign key visit.salon_code -> salon checks each inserted visit with
-- a query the backend plans once for its life.  A network of a few hundred
-- salons fits in three pages, so the planner reads all of them and compares
-- each code (cheaper on paper than one index page plus one heap page): 37 %
-- of the CPU of a bulk visit load went there (perf, 300,000 visits in
-- batches of 10,000; 241 salons).  Spread over more pages (a few hundred KB
-- at most, even for thousands of salons) the check becomes a probe of
-- salon_pkey: the same load 25 % faster.  CLUSTER rewrites the rows that are
-- already there with the new fill (a table so small takes no time).
ALTER TABLE nps.salon SET (fillfactor = 10);
CLUSTER nps.salon USING salon_pkey;
ALTER TABLE nps.salon SET WITHOUT CLUSTER;

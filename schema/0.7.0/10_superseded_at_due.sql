------------------------------------------------------------------------------
-- "Latest visit wins" across loads, at the due time
------------------------------------------------------------------------------

-- Until 0.6.0 the scheduling trigger cancelled, while loading a visit, every
-- pending session of the subscriber that the new visit superseded: an
-- UPDATE of a random older session per repeat visit (non-HOT: state is in
-- the predicates of the partial indexes), a fifth of what the trigger cost
-- on a million visits.  The same rule is now applied when the older session
-- comes due: its verdict is the one the load would have given if nothing
-- changed since, and what changed is taken into account (a newer visit
-- deleted, or its session cancelled or already started, supersedes nothing).
-- Within one load the trigger still cancels the older visits at once (that
-- costs nothing: the rows are written cancelled).
CREATE FUNCTION nps.superseded_by(p_session bigint, p_fatigue interval)
RETURNS TABLE (visit_id bigint)
LANGUAGE sql STABLE AS $$
    -- the newest pending session of the subscriber, if its visit is newer
    -- and it is due within the fatigue period after this one (0 = off);
    -- pending sessions are found through the subscriber's visits, as the
    -- scheduling trigger finds them (session has no index on msisdn for them;
    -- the fence keeps a planner without statistics from scanning session_due,
    -- every pending session, for each one)
    SELECT w.visit_id
    FROM nps.session s
    JOIN nps.visit v ON v.id = s.visit_id
    CROSS JOIN LATERAL (
        SELECT o.visit_id, o.due_at, ov.occurred_at, ov.id
        FROM nps.visit ov
        CROSS JOIN LATERAL (SELECT x.id, x.visit_id, x.msisdn, x.state, x.due_at
                            FROM nps.session x WHERE x.visit_id = ov.id OFFSET 0) o
        WHERE ov.msisdn = s.msisdn AND o.msisdn = s.msisdn
          AND o.state IN ('scheduled', 'deferred') AND o.id <> s.id
        ORDER BY ov.occurred_at DESC, ov.id DESC
        LIMIT 1) w
    WHERE s.id = p_session AND s.state IN ('scheduled', 'deferred') AND p_fatigue > '0'
      AND (w.occurred_at, w.id) > (v.occurred_at, v.id)
      AND s.due_at > w.due_at - p_fatigue
$$;
COMMENT ON FUNCTION nps.superseded_by(bigint, interval) IS
    'The newer visit whose pending session supersedes this session ("latest visit wins" within the fatigue period), or no row; applied by nps.run_due() at the due time';

-- nps.run_due: as in 0.2.0, with the superseded rule right after the opt-out
-- (the load cancelled such a session before anything else could apply), and
-- the sessions a subscriber started found by session_msisdn_started
-- (schema/0.7.0/30_session_msisdn.sql; every started session has its code);
-- each starter's free short code is probed for that starter (below).
CREATE OR REPLACE FUNCTION nps.run_due(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    p_at ALIAS FOR $1;
    fatigue interval := nps.setting_value('fatigue_period')::interval;
    give_up interval := nps.setting_value('roaming_give_up')::interval;
    catch_up interval := nps.setting_value('catch_up_limit')::interval;
    started integer;
BEGIN
    -- pg_cron and an operator may call this at once: one run at a time.
    PERFORM pg_advisory_xact_lock(hashtext('nps.run_due'));

    -- One verdict per due session, in the order of the rules; 'wait' leaves
    -- the session untouched (night in its region) and is not written.
    WITH due AS (
        SELECT s.id, s.msisdn, s.survey_id, s.state, s.state_reason, s.due_at, v.occurred_at,
               v.id AS visit_id, ro.country_code AS abroad_in,
               (p_at AT TIME ZONE r.time_zone)::time >= r.send_from
                   AND (p_at AT TIME ZONE r.time_zone)::time < r.send_until AS daytime,
               EXISTS (SELECT FROM nps.opt_out o WHERE o.msisdn = s.msisdn) AS opted_out,
               (SELECT w.visit_id FROM nps.superseded_by(s.id, fatigue) w) AS superseded_by,
               -- started: session_msisdn_started; the fence keeps min() from
               -- walking session_pkey when the planner has no statistics
               (SELECT min(o.id) FROM (SELECT o.id FROM nps.session o
                                       WHERE o.msisdn = s.msisdn AND o.short_code IS NOT NULL
                                         AND o.started_at > p_at - fatigue AND o.started_at <= p_at
                                       OFFSET 0) o) AS recent
        FROM nps.session s
        JOIN nps.visit v ON v.id = s.visit_id
        JOIN nps.salon sa ON sa.code = v.salon_code
        JOIN nps.region r ON r.code = sa.region_code
        LEFT JOIN LATERAL (SELECT rm.country_code FROM nps.roaming rm
                           WHERE rm.msisdn = s.msisdn AND rm.started_at <= p_at
                             AND (rm.ended_at IS NULL OR rm.ended_at > p_at)
                           ORDER BY rm.started_at DESC LIMIT 1) ro ON true
        WHERE s.state IN ('scheduled', 'deferred') AND s.due_at <= p_at
        FOR UPDATE OF s
    ), ruled AS (
        SELECT d.*,
               CASE WHEN d.opted_out THEN 'cancelled:opted out'
                    WHEN d.superseded_by IS NOT NULL THEN 'cancelled:superseded: visit ' || d.superseded_by
                    WHEN d.state = 'scheduled' AND d.due_at < p_at - catch_up
                        THEN 'cancelled:overdue: due ' || to_char(d.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
                    WHEN d.abroad_in IS NOT NULL AND d.due_at < p_at - give_up
                        THEN 'cancelled:abroad too long: ' || d.abroad_in
                    WHEN d.abroad_in IS NOT NULL THEN 'deferred:abroad: ' || d.abroad_in
                    WHEN NOT d.daytime THEN 'wait'
                    WHEN d.recent IS NOT NULL AND fatigue > '0'
                        THEN 'cancelled:surveyed recently: session ' || d.recent
                    ELSE 'start' END AS verdict
        FROM due d
    ), contenders AS (
        -- Of several sessions of one subscriber starting now, the newest
        -- visit's goes (unless the fatigue rule is off); the pool then gives
        -- each starter, oldest visit first, a distinct free code, least
        -- recently used first.
        SELECT c.*, row_number() OVER (PARTITION BY c.msisdn ORDER BY c.occurred_at, c.visit_id) AS rn,
               first_value(c.visit_id) OVER (PARTITION BY c.msisdn ORDER BY c.occurred_at DESC, c.visit_id DESC) AS newest
        FROM ruled c WHERE c.verdict = 'start'
    ), first_question AS (
        SELECT DISTINCT ON (q.survey_id) q.survey_id, q.question_no, q.body
        FROM nps.question q
        WHERE q.survey_id IN (SELECT survey_id FROM contenders)
        ORDER BY q.survey_id, q.question_no
    ), decided AS (
        SELECT r.id, r.verdict, NULL::text AS code, NULL::smallint AS question_no, NULL::text AS body
        FROM ruled r WHERE r.verdict NOT IN ('start', 'wait')
        UNION ALL
        SELECT c.id,
               CASE WHEN fatigue > '0' AND c.visit_id <> c.newest THEN 'cancelled:superseded: visit ' || c.newest
                    WHEN fq.survey_id IS NULL THEN 'cancelled:survey has no questions'
                    WHEN f.code IS NULL THEN 'deferred:all short codes busy'
                    ELSE 'active:' END,
               f.code, fq.question_no, fq.body
        FROM contenders c
        LEFT JOIN first_question fq ON fq.survey_id = c.survey_id
        -- the starter's code: the rn-th free one (the first with the fatigue
        -- rule on), probed per starter; until 0.6.0 a join of every starter
        -- with every subscriber's free codes, which the planner (expecting a
        -- few hundred starters) ran as a nested loop: 35,000 starters of a
        -- catch-up took two minutes, and it grew with the square
        LEFT JOIN LATERAL (
            SELECT sc.code
            FROM nps.short_code sc
            LEFT JOIN LATERAL (SELECT bool_or(o.state = 'active') AS busy, max(o.started_at) AS last_used
                               FROM nps.session o
                               WHERE o.msisdn = c.msisdn AND o.short_code = sc.code) u ON true
            WHERE u.busy IS NOT TRUE AND (fatigue = '0' OR c.visit_id = c.newest)
            ORDER BY u.last_used NULLS FIRST, sc.code
            OFFSET (CASE WHEN fatigue > '0' THEN 1 ELSE c.rn END) - 1
            LIMIT 1) f ON true
    ), updated AS (
        UPDATE nps.session s
        SET state = split_part(d.verdict, ':', 1),
            state_reason = nullif(substr(d.verdict, strpos(d.verdict, ':') + 1), ''),
            short_code = coalesce(d.code, s.short_code),
            question_no = coalesce(d.question_no, s.question_no),
            asked_at = CASE WHEN d.code IS NOT NULL THEN p_at ELSE s.asked_at END,
            started_at = CASE WHEN d.code IS NOT NULL THEN p_at ELSE s.started_at END,
            finished_at = CASE WHEN d.verdict LIKE 'cancelled:%' THEN p_at ELSE s.finished_at END,
            reasked = false,
            updated_at = now()
        FROM decided d
        WHERE s.id = d.id
          -- a session still deferred for the same reason is not rewritten every minute
          AND (s.state, coalesce(s.state_reason, '')) IS DISTINCT FROM
              (split_part(d.verdict, ':', 1), substr(d.verdict, strpos(d.verdict, ':') + 1))
        RETURNING s.id, s.msisdn, s.short_code, s.state, d.question_no, d.body
    )
    INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no)
    SELECT u.id, u.msisdn, u.short_code, u.body, 'question', u.question_no
    FROM updated u WHERE u.state = 'active';
    GET DIAGNOSTICS started = ROW_COUNT;
    RETURN started;
END $$;
COMMENT ON FUNCTION nps.run_due(timestamptz) IS
    'Starts every session due at the given time (queues its first question from a free short code); applies opt-out, latest visit wins, catch-up limit, roaming, night, fatigue and pool rules; returns the number started';

COMMENT ON FUNCTION nps.schedule_visits() IS
    'Trigger: creates the survey session of every inserted visit (due = visit + survey delay, moved into the region''s sending hours), cancelling opted-out and duplicate ones and, within the load, the older visits of a subscriber (latest visit wins; across loads nps.run_due() decides)';

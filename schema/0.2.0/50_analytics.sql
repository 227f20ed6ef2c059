-- Analytics: NPS by salon, dealer and region per day, week and month; per-question
-- results; the funnel from visit to completed questionnaire; dealer and salon league
-- tables; retention of raw personal data; the BI interface and its roles.
--
-- Why incremental: a year holds ~15 million answers, and recomputing all of them on
-- every refresh would make the refresh cost grow with history.  A statement trigger on
-- nps.answer logs the UTC hours that received (or changed) answers; nps.refresh()
-- recomputes only the local days those hours fall on (per region time zone) into small
-- daily tables keyed by (salon, day), then re-sums only the (level, period) keys those
-- days belong to.  The contract names are plain views over these tables, so readers
-- never wait on a refresh and always see the last committed one.

-- Settings --------------------------------------------------------------------------

CREATE TABLE nps.analytics_setting (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    description text NOT NULL
);
INSERT INTO nps.analytics_setting VALUES
    ('ranking_min_responses', '30', 'Answers to question 1 a dealer or salon needs in a period to be ranked'),
    ('movers_count', '5', 'How many best and worst movers nps.movers lists per period'),
    ('funnel_window', '45 days', 'Visits this recent have their funnel recomputed by every refresh (the survey delay plus its answer window)'),
    ('text_retention', '180 days', 'Free texts (answer and reply bodies) older than this are erased by nps.apply_retention()'),
    ('msisdn_retention', '400 days', 'Raw rows carrying phone numbers (visits, sessions, answers, messages) older than this are deleted by nps.apply_retention(); aggregates stay');
COMMENT ON TABLE nps.analytics_setting IS 'Analytics settings (ranking threshold, funnel window, retention periods); change with UPDATE';
COMMENT ON COLUMN nps.analytics_setting.name IS 'Setting name (key)';
COMMENT ON COLUMN nps.analytics_setting.value IS 'Value as text (an integer or an interval)';
COMMENT ON COLUMN nps.analytics_setting.description IS 'What the setting does';

CREATE FUNCTION nps.analytics_setting(p_name text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT value INTO v FROM nps.analytics_setting WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown analytics setting "%"', p_name
            USING ERRCODE = 'undefined_object', HINT = 'See SELECT * FROM nps.analytics_setting.';
    END IF;
    RETURN v;
END $$;
COMMENT ON FUNCTION nps.analytics_setting(text) IS 'Value of an analytics setting; raises undefined_object for an unknown name';

-- The key of the subscriber pseudonyms.  Readable by nps_admin only; views join it so
-- that analysts see stable pseudonyms without ever being able to compute one.
CREATE TABLE nps.analytics_secret (
    id  boolean PRIMARY KEY DEFAULT true CHECK (id),
    key bytea NOT NULL DEFAULT sha256(convert_to(gen_random_uuid()::text || clock_timestamp()::text, 'UTF8'))
);
INSERT INTO nps.analytics_secret DEFAULT VALUES;
REVOKE ALL ON nps.analytics_secret FROM PUBLIC;
COMMENT ON TABLE nps.analytics_secret IS 'Secret key of subscriber pseudonyms (one row; nps_admin only); replacing it changes every pseudonym';
COMMENT ON COLUMN nps.analytics_secret.id IS 'Always true: the table has one row';
COMMENT ON COLUMN nps.analytics_secret.key IS 'Random key mixed into every pseudonym';

CREATE FUNCTION nps.pseudonym(p_msisdn text, p_key bytea) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 's' || left(encode(sha256(p_key || convert_to(p_msisdn, 'UTF8')), 'hex'), 20)
$$;
COMMENT ON FUNCTION nps.pseudonym(text, bytea) IS
    'Keyed hash of a phone number: the same subscriber always gets the same pseudonym, which cannot be reversed without the key';

-- Bookkeeping of refreshes and retention.
CREATE TABLE nps.analytics_state (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    refreshed_at    timestamptz,
    full_refresh_at timestamptz,
    frozen_before   date NOT NULL DEFAULT '-infinity',
    ranked_with     integer,
    last_refresh    jsonb,
    last_retention  jsonb
);
INSERT INTO nps.analytics_state DEFAULT VALUES;
COMMENT ON TABLE nps.analytics_state IS 'When the aggregates were last refreshed and which days are frozen because their raw rows were removed';
COMMENT ON COLUMN nps.analytics_state.id IS 'Always true: the table has one row';
COMMENT ON COLUMN nps.analytics_state.refreshed_at IS 'End of the last nps.refresh()';
COMMENT ON COLUMN nps.analytics_state.full_refresh_at IS 'End of the last full refresh (the first refresh is always full)';
COMMENT ON COLUMN nps.analytics_state.ranked_with IS 'ranking_min_responses the league tables were computed with (a change re-ranks every period)';
COMMENT ON COLUMN nps.analytics_state.frozen_before IS 'Local days before this date lost raw answers to retention: their aggregates are kept and never recomputed';
COMMENT ON COLUMN nps.analytics_state.last_refresh IS 'Figures of the last refresh (mode, days, keys, milliseconds)';
COMMENT ON COLUMN nps.analytics_state.last_retention IS 'Figures of the last nps.apply_retention()';

-- Indexes the refresh and the retention need on the raw tables (all append-mostly
-- timestamps, cheap to maintain).
CREATE INDEX answer_answered_at ON nps.answer (answered_at);
CREATE INDEX visit_occurred_at ON nps.visit (occurred_at);
CREATE INDEX inbox_received_at ON nps.inbox (received_at);
CREATE INDEX outbox_queued_at ON nps.outbox (queued_at);

-- Periods --------------------------------------------------------------------------

CREATE FUNCTION nps.period_shift(p_kind text, p_period date, p_steps integer) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (p_period + p_steps * CASE p_kind WHEN 'day' THEN interval '1 day'
                                             WHEN 'week' THEN interval '7 days'
                                             ELSE interval '1 month' END)::date
$$;
COMMENT ON FUNCTION nps.period_shift(text, date, integer) IS
    'Start of the period p_steps periods after (or before, when negative) the one starting at p_period';

-- The day, ISO week (Monday) and month a local day belongs to.
-- Not STRICT, so that the planner inlines it into the queries that use it.
CREATE FUNCTION nps.periods_of(p_day date) RETURNS TABLE (period_kind text, period date)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES ('day', p_day), ('week', date_trunc('week', p_day)::date), ('month', date_trunc('month', p_day)::date)
$$;
COMMENT ON FUNCTION nps.periods_of(date) IS 'The three periods (day, ISO week starting Monday, month) a local day belongs to';

-- Which codes a salon's figures count towards: itself, its dealer (own offices have
-- none) and its region.
CREATE VIEW nps.salon_rollup AS
    SELECT code AS salon_code, 'salon'::text AS level, code FROM nps.salon
    UNION ALL
    SELECT code, 'dealer', dealer_code FROM nps.salon WHERE dealer_code IS NOT NULL
    UNION ALL
    SELECT code, 'region', region_code FROM nps.salon;
COMMENT ON VIEW nps.salon_rollup IS 'Each salon with the codes its results roll up to: the salon, its dealer (not for own offices) and its region';

-- NPS arithmetic ----------------------------------------------------------------------

CREATE FUNCTION nps.nps_value(p_promoters bigint, p_detractors bigint, p_responses bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(100.0 * (p_promoters - p_detractors) / nullif(p_responses, 0), 1)
$$;
COMMENT ON FUNCTION nps.nps_value(bigint, bigint, bigint) IS
    'NPS in points (-100..100), one decimal: % promoters minus % detractors; NULL without responses';

-- Half-width of the 95% interval: the score of one answer is +1, 0 or -1, so its
-- variance is p + d - (p - d)^2 and that of the mean is this over n.
CREATE FUNCTION nps.nps_margin(p_promoters bigint, p_detractors bigint, p_responses bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round((196.0 * sqrt(greatest(p + d - (p - d) ^ 2, 0) / p_responses))::numeric, 1)
    FROM (SELECT p_promoters::float8 / nullif(p_responses, 0) AS p,
                 p_detractors::float8 / nullif(p_responses, 0) AS d) s
$$;
COMMENT ON FUNCTION nps.nps_margin(bigint, bigint, bigint) IS
    'Half-width in points of the 95% confidence interval of an NPS: 1.96 * sqrt((p + d - (p - d)^2) / n) * 100';

-- Change log --------------------------------------------------------------------------

-- Append-only (no unique key) so that concurrent transactions never wait on each
-- other here; nps.refresh() consumes it.
CREATE TABLE nps.change_log (
    source      text NOT NULL CHECK (source IN ('answer', 'visit')),
    hour        timestamptz NOT NULL,
    logged_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE nps.change_log IS 'UTC hours whose answers or visits were inserted or changed since the last refresh (consumed by nps.refresh())';
COMMENT ON COLUMN nps.change_log.source IS 'answer (answered_at) or visit (occurred_at)';
COMMENT ON COLUMN nps.change_log.hour IS 'Start of the UTC hour of the changed row (old and new value on updates)';
COMMENT ON COLUMN nps.change_log.logged_at IS 'When the change was logged';

-- Shared by the insert triggers: TG_ARGV[0] is the source, TG_ARGV[1] its time column.
CREATE FUNCTION nps.log_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO nps.change_log (source, hour) SELECT DISTINCT %L, date_trunc(''hour'', %I, ''UTC'') FROM new_rows',
                   TG_ARGV[0], TG_ARGV[1]);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.log_insert() IS 'Logs the hours of inserted answers or visits for the incremental refresh';

-- Only changes that move a figure count: erasing a text (retention) does not.
CREATE FUNCTION nps.log_answer_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO nps.change_log (source, hour)
    SELECT DISTINCT 'answer', date_trunc('hour', answered_at, 'UTC') FROM (
        (SELECT session_id, question_no, score, answered_at FROM new_answers
         EXCEPT SELECT session_id, question_no, score, answered_at FROM old_answers)
        UNION ALL
        (SELECT session_id, question_no, score, answered_at FROM old_answers
         EXCEPT SELECT session_id, question_no, score, answered_at FROM new_answers)) changed;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.log_answer_update() IS 'Logs the hours of answers whose session, question, score or time changed';

CREATE TRIGGER answer_log_insert AFTER INSERT ON nps.answer
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nps.log_insert('answer', 'answered_at');
CREATE TRIGGER answer_log_update AFTER UPDATE ON nps.answer
    REFERENCING OLD TABLE AS old_answers NEW TABLE AS new_answers
    FOR EACH STATEMENT EXECUTE FUNCTION nps.log_answer_update();

-- Visits loaded late (older than the funnel window) still reach the funnel.
CREATE TRIGGER visit_log_insert AFTER INSERT ON nps.visit
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nps.log_insert('visit', 'occurred_at');

-- Aggregate tables ----------------------------------------------------------------------

CREATE TABLE nps.nps_daily (
    salon_code  text NOT NULL,
    day         date NOT NULL,
    responses   integer NOT NULL,
    promoters   integer NOT NULL,
    passives    integer NOT NULL,
    detractors  integer NOT NULL,
    PRIMARY KEY (salon_code, day)
);
CREATE INDEX nps_daily_day ON nps.nps_daily (day);
COMMENT ON TABLE nps.nps_daily IS 'Answers to question 1 per salon and local day (the base of every NPS figure; kept when raw rows are removed)';

CREATE TABLE nps.question_daily (
    salon_code  text NOT NULL,
    day         date NOT NULL,
    question_no smallint NOT NULL,
    kind        text NOT NULL,
    answers     integer NOT NULL,
    scored      integer NOT NULL,
    score_sum   bigint NOT NULL,
    yes         integer NOT NULL,
    PRIMARY KEY (salon_code, day, question_no, kind)
);
CREATE INDEX question_daily_day ON nps.question_daily (day);
COMMENT ON TABLE nps.question_daily IS 'Answers to every question per salon and local day';

CREATE TABLE nps.nps_summary (
    level       text NOT NULL CHECK (level IN ('salon', 'dealer', 'region')),
    period_kind text NOT NULL CHECK (period_kind IN ('day', 'week', 'month')),
    period      date NOT NULL,
    code        text NOT NULL,
    responses   integer NOT NULL,
    promoters   integer NOT NULL,
    passives    integer NOT NULL,
    detractors  integer NOT NULL,
    PRIMARY KEY (level, period_kind, period, code)
);
COMMENT ON TABLE nps.nps_summary IS 'Answers to question 1 per salon, dealer and region per day, week and month (maintained by nps.refresh())';

CREATE TABLE nps.question_summary (
    level       text NOT NULL CHECK (level IN ('salon', 'dealer', 'region')),
    period_kind text NOT NULL CHECK (period_kind IN ('day', 'week', 'month')),
    period      date NOT NULL,
    code        text NOT NULL,
    question_no smallint NOT NULL,
    kind        text NOT NULL,
    answers     integer NOT NULL,
    scored      integer NOT NULL,
    score_sum   bigint NOT NULL,
    yes         integer NOT NULL,
    PRIMARY KEY (level, period_kind, period, code, question_no, kind)
);
COMMENT ON TABLE nps.question_summary IS 'Answers to every question per salon, dealer and region per day, week and month (maintained by nps.refresh())';

CREATE TABLE nps.funnel_daily (
    salon_code  text NOT NULL,
    day         date NOT NULL,
    visits      integer NOT NULL,
    eligible    integer NOT NULL,
    sent        integer NOT NULL,
    delivered   integer NOT NULL,
    started     integer NOT NULL,
    completed   integer NOT NULL,
    PRIMARY KEY (salon_code, day)
);
COMMENT ON TABLE nps.funnel_daily IS 'Visits per salon and local visit day and how far their survey got';

CREATE TABLE nps.funnel_drop_daily (
    salon_code  text NOT NULL,
    day         date NOT NULL,
    stage       text NOT NULL,
    reason      text NOT NULL,
    visits      integer NOT NULL,
    PRIMARY KEY (salon_code, day, stage, reason)
);
COMMENT ON TABLE nps.funnel_drop_daily IS 'Visits per salon and local visit day that stopped before a funnel stage, by reason';

-- How far each visit's survey got: 0 visit only, 1 eligible, 2 sent, 3 delivered,
-- 4 started, 5 completed; every stage implies the previous ones.
CREATE VIEW nps.visit_funnel AS
SELECT v.id AS visit_id, v.salon_code, v.occurred_at,
       (v.occurred_at AT TIME ZONE r.time_zone)::date AS day,
       f.reached,
       (ARRAY['eligible', 'sent', 'delivered', 'started', 'completed'])[f.reached + 1] AS dropped_before,
       CASE WHEN f.reached = 5 THEN NULL
            WHEN se.id IS NULL THEN 'no session'
            WHEN f.reached = 2 THEN coalesce('failed: ' || o.failure, 'no delivery receipt')
            ELSE se.state || coalesce(': ' || se.state_reason, '') END AS reason
FROM nps.visit v
JOIN nps.salon s ON s.code = v.salon_code
JOIN nps.region r ON r.code = s.region_code
LEFT JOIN nps.session se ON se.visit_id = v.id
LEFT JOIN LATERAL (
    SELECT count(*) AS messages, bool_or(state = 'delivered') AS delivered,
           (array_agg(coalesce(error, 'error ' || error_code, 'unknown') ORDER BY id)
                FILTER (WHERE state = 'failed'))[1] AS failure
    FROM nps.outbox WHERE session_id = se.id) o ON true
LEFT JOIN LATERAL (SELECT true AS answered FROM nps.answer WHERE session_id = se.id LIMIT 1) a ON true
CROSS JOIN LATERAL (SELECT CASE
        WHEN se.id IS NULL THEN 0
        WHEN a.answered AND se.state = 'completed' THEN 5
        WHEN a.answered THEN 4
        WHEN o.delivered THEN 3
        WHEN se.started_at IS NOT NULL OR o.messages > 0 THEN 2
        WHEN se.state IN ('cancelled', 'opted_out') THEN 0
        ELSE 1 END AS reached) f;
COMMENT ON VIEW nps.visit_funnel IS 'Each visit with the funnel stage its survey reached (0 visit .. 5 completed) and why it stopped';

-- Refresh -----------------------------------------------------------------------------

CREATE FUNCTION nps.refresh(p_full boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    st nps.analytics_state;
    v_full boolean;
    v_hours timestamptz[];
    v_visit_hours timestamptz[];
    v_funnel_from date;
    v_from date;
    v_until date;
    v_min_responses integer;
    n_days integer;
    n_keys integer;
    n_visits integer;
    result jsonb;
BEGIN
    -- One refresh at a time: a second caller waits rather than counting twice.
    PERFORM pg_advisory_xact_lock(hashtext('nps.refresh'));
    SELECT * INTO st FROM nps.analytics_state FOR UPDATE;
    v_full := p_full OR st.full_refresh_at IS NULL;

    WITH consumed AS (DELETE FROM nps.change_log RETURNING source, hour)
    SELECT array_agg(DISTINCT hour) FILTER (WHERE source = 'answer'),
           array_agg(DISTINCT hour) FILTER (WHERE source = 'visit')
    INTO v_hours, v_visit_hours FROM consumed;

    -- The (region, local day) pairs to recompute, and the answers that fall on them.
    CREATE TEMP TABLE nps_touched (region_code text, day date, PRIMARY KEY (region_code, day)) ON COMMIT DROP;
    CREATE TEMP TABLE nps_fact (salon_code text, region_code text, day date, question_no smallint,
                                kind text, score smallint, visit_day date) ON COMMIT DROP;
    IF v_full THEN
        INSERT INTO nps_fact
        SELECT v.salon_code, s.region_code, (a.answered_at AT TIME ZONE r.time_zone)::date, a.question_no,
               coalesce(q.kind, CASE WHEN a.score IS NULL THEN 'text' ELSE 'score' END), a.score,
               (v.occurred_at AT TIME ZONE r.time_zone)::date
        FROM nps.answer a
        JOIN nps.session se ON se.id = a.session_id
        JOIN nps.visit v ON v.id = se.visit_id
        JOIN nps.salon s ON s.code = v.salon_code
        JOIN nps.region r ON r.code = s.region_code
        LEFT JOIN nps.question q ON q.survey_id = se.survey_id AND q.question_no = a.question_no;
        INSERT INTO nps_touched SELECT DISTINCT region_code, day FROM nps_fact;
        -- Days that lost all their answers are cleared too.
        INSERT INTO nps_touched
        SELECT DISTINCT s.region_code, d.day FROM nps.question_daily d JOIN nps.salon s ON s.code = d.salon_code
        ON CONFLICT DO NOTHING;
    ELSE
        -- An hour lies in one local day in whole-hour zones; both ends cover the others.
        INSERT INTO nps_touched
        SELECT DISTINCT r.code, (x AT TIME ZONE r.time_zone)::date
        FROM unnest(v_hours) h, nps.region r,
             LATERAL (VALUES (h), (h + interval '1 hour' - interval '1 microsecond')) e(x);
        -- One scan per merged run of UTC ranges, however many regions share it.
        WITH bounds AS (
            SELECT (t.day::timestamp AT TIME ZONE r.time_zone) AS lo,
                   ((t.day + 1)::timestamp AT TIME ZONE r.time_zone) AS hi
            FROM nps_touched t JOIN nps.region r ON r.code = t.region_code),
        marked AS (
            SELECT lo, hi, CASE WHEN lo <= max(hi) OVER (ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                                THEN 0 ELSE 1 END AS starts
            FROM bounds),
        runs AS (
            SELECT min(lo) AS lo, max(hi) AS hi
            FROM (SELECT lo, hi, sum(starts) OVER (ORDER BY lo, hi) AS run FROM marked) m GROUP BY run)
        INSERT INTO nps_fact
        SELECT f.* FROM (
            SELECT v.salon_code, s.region_code, (a.answered_at AT TIME ZONE r.time_zone)::date AS day, a.question_no,
                   coalesce(q.kind, CASE WHEN a.score IS NULL THEN 'text' ELSE 'score' END), a.score,
                   (v.occurred_at AT TIME ZONE r.time_zone)::date
            FROM runs
            JOIN nps.answer a ON a.answered_at >= runs.lo AND a.answered_at < runs.hi
            JOIN nps.session se ON se.id = a.session_id
            JOIN nps.visit v ON v.id = se.visit_id
            JOIN nps.salon s ON s.code = v.salon_code
            JOIN nps.region r ON r.code = s.region_code
            LEFT JOIN nps.question q ON q.survey_id = se.survey_id AND q.question_no = a.question_no) f
        JOIN nps_touched t ON t.region_code = f.region_code AND t.day = f.day;
    END IF;
    -- Days whose raw answers retention removed keep the figures they had.
    DELETE FROM nps_touched WHERE day < st.frozen_before;
    SELECT count(*) INTO n_days FROM nps_touched;
    ANALYZE nps_touched;
    ANALYZE nps_fact;

    DELETE FROM nps.nps_daily d USING nps.salon s, nps_touched t
    WHERE s.code = d.salon_code AND t.region_code = s.region_code AND t.day = d.day;
    INSERT INTO nps.nps_daily
    SELECT f.salon_code, f.day, count(*), count(*) FILTER (WHERE f.score >= 9),
           count(*) FILTER (WHERE f.score IN (7, 8)), count(*) FILTER (WHERE f.score <= 6)
    FROM nps_fact f JOIN nps_touched t USING (region_code, day)
    WHERE f.question_no = 1 AND f.score BETWEEN 0 AND 10
    GROUP BY f.salon_code, f.day;

    DELETE FROM nps.question_daily d USING nps.salon s, nps_touched t
    WHERE s.code = d.salon_code AND t.region_code = s.region_code AND t.day = d.day;
    INSERT INTO nps.question_daily
    SELECT f.salon_code, f.day, f.question_no, f.kind, count(*), count(f.score), coalesce(sum(f.score), 0),
           count(*) FILTER (WHERE f.kind = 'yes_no' AND f.score = 1)
    FROM nps_fact f JOIN nps_touched t USING (region_code, day)
    GROUP BY f.salon_code, f.day, f.question_no, f.kind;

    -- Re-sum only the (level, period, code) keys the touched days belong to, from
    -- the daily rows of the periods they span (a month or two on a daily refresh).
    CREATE TEMP TABLE nps_affected ON COMMIT DROP AS
    SELECT DISTINCT ro.level, ro.code, p.period_kind, p.period
    FROM (SELECT DISTINCT t.region_code, p.period_kind, p.period
          FROM nps_touched t CROSS JOIN LATERAL nps.periods_of(t.day) p) p
    JOIN nps.salon s ON s.region_code = p.region_code
    JOIN nps.salon_rollup ro ON ro.salon_code = s.code;
    SELECT count(*), min(period), max(nps.period_shift(period_kind, period, 1))
    INTO n_keys, v_from, v_until FROM nps_affected;
    ANALYZE nps_affected;

    DELETE FROM nps.nps_summary n USING nps_affected a
    WHERE n.level = a.level AND n.period_kind = a.period_kind AND n.period = a.period AND n.code = a.code;
    INSERT INTO nps.nps_summary
    SELECT g.* FROM (
        SELECT ro.level, p.period_kind, p.period, ro.code,
               sum(d.responses), sum(d.promoters), sum(d.passives), sum(d.detractors)
        FROM nps.nps_daily d
        JOIN nps.salon_rollup ro ON ro.salon_code = d.salon_code
        CROSS JOIN LATERAL nps.periods_of(d.day) p
        WHERE d.day >= v_from AND d.day < v_until
        GROUP BY ro.level, p.period_kind, p.period, ro.code) g
    JOIN nps_affected a ON a.level = g.level AND a.code = g.code AND a.period_kind = g.period_kind AND a.period = g.period;

    DELETE FROM nps.question_summary n USING nps_affected a
    WHERE n.level = a.level AND n.period_kind = a.period_kind AND n.period = a.period AND n.code = a.code;
    INSERT INTO nps.question_summary
    SELECT g.* FROM (
        SELECT ro.level, p.period_kind, p.period, ro.code, d.question_no, d.kind,
               sum(d.answers), sum(d.scored), sum(d.score_sum), sum(d.yes)
        FROM nps.question_daily d
        JOIN nps.salon_rollup ro ON ro.salon_code = d.salon_code
        CROSS JOIN LATERAL nps.periods_of(d.day) p
        WHERE d.day >= v_from AND d.day < v_until
        GROUP BY ro.level, p.period_kind, p.period, ro.code, d.question_no, d.kind) g
    JOIN nps_affected a ON a.level = g.level AND a.code = g.code AND a.period_kind = g.period_kind AND a.period = g.period;

    -- The funnel of a visit moves for as long as its survey runs: recompute the
    -- visits of the funnel window (all of them on a full refresh), and older days
    -- that got visits or answers since the last refresh.
    v_funnel_from := greatest(CASE WHEN v_full THEN '-infinity'::date
                                   ELSE (now() - nps.analytics_setting('funnel_window')::interval)::date END,
                              st.frozen_before);
    CREATE TEMP TABLE nps_funnel_day ON COMMIT DROP AS
    SELECT visit_day AS day FROM nps_fact
    UNION
    SELECT (x AT TIME ZONE r.time_zone)::date
    FROM unnest(v_visit_hours) h, nps.region r,
         LATERAL (VALUES (h), (h + interval '1 hour' - interval '1 microsecond')) e(x);
    DELETE FROM nps_funnel_day WHERE day >= v_funnel_from OR day < st.frozen_before;
    DELETE FROM nps.funnel_daily WHERE day >= v_funnel_from OR day IN (SELECT day FROM nps_funnel_day);
    DELETE FROM nps.funnel_drop_daily WHERE day >= v_funnel_from OR day IN (SELECT day FROM nps_funnel_day);
    CREATE TEMP TABLE nps_visit_stage ON COMMIT DROP AS
    SELECT salon_code, day, reached, dropped_before, reason FROM nps.visit_funnel
    WHERE occurred_at >= (v_funnel_from - 1)::timestamptz AND day >= v_funnel_from
    UNION ALL
    SELECT f.salon_code, f.day, f.reached, f.dropped_before, f.reason
    FROM nps_funnel_day d
    JOIN nps.visit_funnel f ON f.occurred_at >= (d.day - 1)::timestamptz AND f.occurred_at < (d.day + 2)::timestamptz
                           AND f.day = d.day;
    INSERT INTO nps.funnel_daily
    SELECT salon_code, day, count(*), count(*) FILTER (WHERE reached >= 1), count(*) FILTER (WHERE reached >= 2),
           count(*) FILTER (WHERE reached >= 3), count(*) FILTER (WHERE reached >= 4), count(*) FILTER (WHERE reached >= 5)
    FROM nps_visit_stage GROUP BY salon_code, day;
    INSERT INTO nps.funnel_drop_daily
    SELECT salon_code, day, dropped_before, reason, count(*)
    FROM nps_visit_stage WHERE reached < 5 GROUP BY 1, 2, 3, 4;
    SELECT count(*) INTO n_visits FROM nps_visit_stage;

    -- League tables: the affected periods and every later one (its change against
    -- the previous period moves too); all of them when the threshold changed.
    v_min_responses := nps.analytics_setting('ranking_min_responses')::int;
    IF v_full OR st.ranked_with IS DISTINCT FROM v_min_responses THEN
        v_from := '-infinity';
    END IF;
    IF v_from IS NOT NULL THEN
        DELETE FROM nps.ranking WHERE period >= v_from;
        INSERT INTO nps.ranking SELECT * FROM nps.ranking_rows(v_from);
    END IF;
    IF v_full THEN
        ANALYZE nps.nps_daily;
        ANALYZE nps.question_daily;
        ANALYZE nps.nps_summary;
        ANALYZE nps.question_summary;
        ANALYZE nps.ranking;
    END IF;

    result := jsonb_build_object('mode', CASE WHEN v_full THEN 'full' ELSE 'incremental' END,
                                 'days', n_days, 'keys', n_keys, 'funnel_visits', n_visits,
                                 'ms', round(extract(epoch FROM clock_timestamp() - t0) * 1000));
    UPDATE nps.analytics_state
    SET refreshed_at = clock_timestamp(), last_refresh = result,
        full_refresh_at = CASE WHEN v_full THEN clock_timestamp() ELSE full_refresh_at END,
        ranked_with = v_min_responses;
    RETURN result;
END $$;
COMMENT ON FUNCTION nps.refresh(boolean) IS
    'Brings the NPS, per-question, funnel and ranking figures up to date, recomputing only the local days with new or changed answers and the funnel window; p_full (or the first call) recomputes everything still held raw';

-- League tables ----------------------------------------------------------------------------

-- Empirical Bayes: each dealer's (salon's) NPS is pulled towards the period's pooled
-- NPS by the weight n*tau2 / (n*tau2 + s2), where s2 is the pooled variance of one
-- answer and tau2 the spread of true NPS between dealers (method of moments: the
-- variance of the observed NPS minus its average sampling variance).  A dealer with
-- five answers therefore stays near the mean however lucky the five were.
CREATE FUNCTION nps.ranking_rows(p_from date DEFAULT '-infinity') RETURNS TABLE (
    level text, period_kind text, period date, code text, responses integer,
    promoters integer, detractors integer, nps numeric, ci_low numeric, ci_high numeric,
    score numeric, rank integer, ranked_count integer, prev_nps numeric, nps_change numeric,
    prev_rank integer, rank_change integer)
LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT n.level, n.period_kind, n.period, n.code, n.responses AS n, n.promoters, n.detractors,
               (n.promoters - n.detractors)::float8 / n.responses AS x,
               (n.promoters + n.detractors)::float8 / n.responses
                   - ((n.promoters - n.detractors)::float8 / n.responses) ^ 2 AS v
        FROM nps.nps_summary n
        WHERE n.level IN ('salon', 'dealer') AND n.responses > 0
          AND n.period >= (p_from - interval '1 month')::date),
    prior AS (
        SELECT s.level, s.period_kind, s.period,
               sum(s.n * s.x) / sum(s.n) AS mu, sum(s.n * s.v) / sum(s.n) AS s2,
               greatest(var_pop(s.x) - sum(s.n * s.v) / sum(s.n) * avg(1.0 / s.n), 0) AS tau2
        FROM s GROUP BY 1, 2, 3),
    scored AS (
        SELECT s.*, p.mu + CASE WHEN p.s2 = 0 THEN 1 ELSE s.n * p.tau2 / (s.n * p.tau2 + p.s2) END * (s.x - p.mu) AS shrunk,
               s.n >= nps.analytics_setting('ranking_min_responses')::int AS ranked
        FROM s JOIN prior p USING (level, period_kind, period)),
    ranked AS (
        SELECT sc.*, round((100 * sc.shrunk)::numeric, 1) AS score,
               CASE WHEN sc.ranked THEN rank() OVER w END::int AS rank,
               count(*) FILTER (WHERE sc.ranked) OVER (PARTITION BY sc.level, sc.period_kind, sc.period)::int AS ranked_count
        FROM scored sc
        WINDOW w AS (PARTITION BY sc.level, sc.period_kind, sc.period, sc.ranked ORDER BY round(sc.shrunk::numeric, 9) DESC))
    SELECT r.level, r.period_kind, r.period, r.code, r.n, r.promoters, r.detractors, cur.nps,
           greatest(cur.nps - cur.margin, -100.0), least(cur.nps + cur.margin, 100.0),
           r.score, r.rank, r.ranked_count,
           prev.nps, cur.nps - prev.nps, prev.rank, prev.rank - r.rank
    FROM ranked r
    CROSS JOIN LATERAL (SELECT nps.nps_value(r.promoters, r.detractors, r.n) AS nps,
                               nps.nps_margin(r.promoters, r.detractors, r.n) AS margin) cur
    LEFT JOIN (SELECT p.level, p.period_kind, p.period, p.code, p.rank,
                      nps.nps_value(p.promoters, p.detractors, p.n) AS nps FROM ranked p) prev
           ON prev.level = r.level AND prev.period_kind = r.period_kind AND prev.code = r.code
          AND prev.period = nps.period_shift(r.period_kind, r.period, -1)
    WHERE r.period >= p_from
$$;
COMMENT ON FUNCTION nps.ranking_rows(date) IS
    'Computes the dealer and salon league tables of the periods starting on or after p_from (raw NPS, 95% interval, empirical-Bayes score, rank, change against the previous period); nps.refresh() stores them in nps.ranking';

-- A table rather than a materialized view: a concurrent refresh would diff every
-- period of history each time, while nps.refresh() rewrites only the periods that
-- moved, in one transaction, so readers see the old rows until it commits.
CREATE TABLE nps.ranking (
    level        text NOT NULL,
    period_kind  text NOT NULL,
    period       date NOT NULL,
    code         text NOT NULL,
    responses    integer NOT NULL,
    promoters    integer NOT NULL,
    detractors   integer NOT NULL,
    nps          numeric NOT NULL,
    ci_low       numeric NOT NULL,
    ci_high      numeric NOT NULL,
    score        numeric NOT NULL,
    rank         integer,
    ranked_count integer NOT NULL,
    prev_nps     numeric,
    nps_change   numeric,
    prev_rank    integer,
    rank_change  integer,
    PRIMARY KEY (level, period_kind, period, code)
);
CREATE INDEX ranking_period ON nps.ranking (period);
COMMENT ON TABLE nps.ranking IS 'League tables of dealers and salons per period (maintained by nps.refresh())';

-- The BI interface -----------------------------------------------------------------------------
-- Stable views; every column is described (see the comments at the end).  nps_analyst
-- reads exactly the views nps.analyst_views() lists.

CREATE VIEW nps.network AS
SELECT s.code AS salon_code, s.name AS salon_name, s.kind, s.dealer_code, d.name AS dealer_name,
       s.region_code, r.name AS region_name, r.time_zone
FROM nps.salon s
LEFT JOIN nps.dealer d ON d.code = s.dealer_code
JOIN nps.region r ON r.code = s.region_code;
COMMENT ON VIEW nps.network IS 'Salons with their dealer and region: the dimension table to join the results with';

CREATE VIEW nps.nps_results AS
SELECT level, period_kind, period, code, responses, promoters, passives, detractors,
       nps.nps_value(promoters, detractors, responses) AS nps,
       greatest(nps.nps_value(promoters, detractors, responses) - nps.nps_margin(promoters, detractors, responses), -100.0) AS ci_low,
       least(nps.nps_value(promoters, detractors, responses) + nps.nps_margin(promoters, detractors, responses), 100.0) AS ci_high
FROM nps.nps_summary;
COMMENT ON VIEW nps.nps_results IS 'NPS of every salon, dealer and region per day, week and month, with its 95% confidence interval; periods without answers have no row';

CREATE VIEW nps.nps_by_salon AS
SELECT period_kind, period, code, responses, promoters, passives, detractors, nps, ci_low, ci_high
FROM nps.nps_results WHERE level = 'salon';
COMMENT ON VIEW nps.nps_by_salon IS 'NPS per salon per day, week and month (local to the salon''s region)';

CREATE VIEW nps.nps_by_dealer AS
SELECT period_kind, period, code, responses, promoters, passives, detractors, nps, ci_low, ci_high
FROM nps.nps_results WHERE level = 'dealer';
COMMENT ON VIEW nps.nps_by_dealer IS 'NPS per dealer per day, week and month (each salon''s answers counted in its own local period)';

CREATE VIEW nps.nps_by_region AS
SELECT period_kind, period, code, responses, promoters, passives, detractors, nps, ci_low, ci_high
FROM nps.nps_results WHERE level = 'region';
COMMENT ON VIEW nps.nps_by_region IS 'NPS per region (own offices included) per day, week and month';

CREATE VIEW nps.dealer_ranking AS
SELECT period_kind, period, code AS dealer_code, responses, nps, ci_low, ci_high, score, rank, ranked_count,
       prev_nps, nps_change, prev_rank, rank_change
FROM nps.ranking WHERE level = 'dealer';
COMMENT ON VIEW nps.dealer_ranking IS 'League table of dealers per period: ranked by the empirical-Bayes score among dealers with at least ranking_min_responses answers';

CREATE VIEW nps.salon_ranking AS
SELECT period_kind, period, code AS salon_code, responses, nps, ci_low, ci_high, score, rank, ranked_count,
       prev_nps, nps_change, prev_rank, rank_change
FROM nps.ranking WHERE level = 'salon';
COMMENT ON VIEW nps.salon_ranking IS 'League table of salons per period, as nps.dealer_ranking';

CREATE VIEW nps.movers AS
SELECT level, period_kind, period, code, direction, position, responses, nps, prev_nps, nps_change, rank, prev_rank
FROM (SELECT r.*, d.direction,
             row_number() OVER (PARTITION BY r.level, r.period_kind, r.period, d.direction
                                ORDER BY d.sign * r.nps_change DESC, r.code)::int AS position
      FROM nps.ranking r
      CROSS JOIN (VALUES ('best', 1), ('worst', -1)) d(direction, sign)
      WHERE r.rank IS NOT NULL AND r.prev_rank IS NOT NULL AND d.sign * r.nps_change > 0) m
WHERE position <= nps.analytics_setting('movers_count')::int;
COMMENT ON VIEW nps.movers IS 'Best and worst movers per period: the dealers and salons ranked in this and the previous period whose NPS rose or fell most';

CREATE VIEW nps.question_results AS
SELECT q.level, q.period_kind, q.period, q.code, q.question_no, q.kind, q.answers,
       CASE WHEN q.kind = 'score' THEN round(q.score_sum::numeric / nullif(q.scored, 0), 2) END AS mean_score,
       CASE WHEN q.kind = 'yes_no' THEN round(100.0 * q.yes / nullif(q.scored, 0), 1) END AS yes_percent
FROM nps.question_summary q;
COMMENT ON VIEW nps.question_results IS 'Results of every question per salon, dealer and region per period: answers, mean score (score questions) and share of yes (yes/no questions)';

-- The funnel rolled up on the fly: its daily table is small (salons x days).
CREATE VIEW nps.funnel AS
SELECT ro.level, p.period_kind, p.period, ro.code,
       sum(f.visits)::bigint AS visits, sum(f.eligible)::bigint AS eligible, sum(f.sent)::bigint AS sent,
       sum(f.delivered)::bigint AS delivered, sum(f.started)::bigint AS started, sum(f.completed)::bigint AS completed,
       round(100.0 * sum(f.started) / nullif(sum(f.sent), 0), 1) AS response_rate,
       round(100.0 * sum(f.completed) / nullif(sum(f.sent), 0), 1) AS completion_rate
FROM nps.funnel_daily f
JOIN nps.salon_rollup ro ON ro.salon_code = f.salon_code
CROSS JOIN LATERAL nps.periods_of(f.day) p
GROUP BY ro.level, p.period_kind, p.period, ro.code;
COMMENT ON VIEW nps.funnel IS 'Funnel visits -> eligible -> sent -> delivered -> started -> completed per salon, dealer and region per local visit period, with response and completion rates';

CREATE VIEW nps.funnel_drop AS
SELECT ro.level, p.period_kind, p.period, ro.code, f.stage, f.reason, sum(f.visits)::bigint AS visits
FROM nps.funnel_drop_daily f
JOIN nps.salon_rollup ro ON ro.salon_code = f.salon_code
CROSS JOIN LATERAL nps.periods_of(f.day) p
GROUP BY ro.level, p.period_kind, p.period, ro.code, f.stage, f.reason;
COMMENT ON VIEW nps.funnel_drop IS 'Why visits left the funnel: per level, period and code, the first stage not reached and the reason';

-- One row per session with a pseudonymous subscriber instead of the phone number.
CREATE VIEW nps.responses AS
SELECT se.id AS session_id, nps.pseudonym(se.msisdn, k.key) AS subscriber,
       v.salon_code, s.dealer_code, s.region_code, v.channel, v.specialist,
       (v.occurred_at AT TIME ZONE r.time_zone)::date AS visit_day,
       (min(a.answered_at) AT TIME ZONE r.time_zone)::date AS answer_day,
       se.state,
       max(a.score) FILTER (WHERE a.question_no = 1) AS recommend,
       CASE WHEN max(a.score) FILTER (WHERE a.question_no = 1) >= 9 THEN 'promoter'
            WHEN max(a.score) FILTER (WHERE a.question_no = 1) >= 7 THEN 'passive'
            WHEN max(a.score) FILTER (WHERE a.question_no = 1) >= 0 THEN 'detractor' END AS category,
       max(a.body) FILTER (WHERE a.question_no = 2) AS comment,
       max(a.score) FILTER (WHERE a.question_no = 3) AS specialist_score,
       bool_or(a.score = 1) FILTER (WHERE a.question_no = 4) AS tariff_explained,
       bool_or(a.score = 1) FILTER (WHERE a.question_no = 5) AS paid_without_consent,
       bool_or(a.score = 1) FILTER (WHERE a.question_no = 6) AS solved
FROM nps.session se
CROSS JOIN nps.analytics_secret k
JOIN nps.visit v ON v.id = se.visit_id
JOIN nps.salon s ON s.code = v.salon_code
JOIN nps.region r ON r.code = s.region_code
JOIN nps.answer a ON a.session_id = se.id
GROUP BY se.id, k.key, v.id, s.code, r.code;
COMMENT ON VIEW nps.responses IS 'Answered sessions one per row (questions of the default surveys as columns) with a pseudonymous subscriber; raw rows leave with retention';

CREATE FUNCTION nps.analyst_views() RETURNS regclass[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['nps.network', 'nps.nps_results', 'nps.nps_by_salon', 'nps.nps_by_dealer', 'nps.nps_by_region',
                 'nps.dealer_ranking', 'nps.salon_ranking', 'nps.movers', 'nps.question_results',
                 'nps.funnel', 'nps.funnel_drop', 'nps.responses']::regclass[]
$$;
COMMENT ON FUNCTION nps.analyst_views() IS 'The views nps_analyst may read (the BI interface)';

-- Column descriptions, shared by every view and aggregate table that has the column.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT a.attrelid::regclass AS rel, a.attname, d.comment
        FROM unnest(nps.analyst_views() || '{nps.ranking, nps.salon_rollup, nps.visit_funnel, nps.nps_daily,
                 nps.question_daily, nps.nps_summary, nps.question_summary, nps.funnel_daily,
                 nps.funnel_drop_daily}'::regclass[]) v(rel)
        JOIN pg_attribute a ON a.attrelid = v.rel AND a.attnum > 0
        JOIN (VALUES
            ('level', 'salon, dealer or region'),
            ('period_kind', 'Grain of the period: day, week (ISO, from Monday) or month'),
            ('period', 'First local day of the period, in the time zone of the salon''s region'),
            ('code', 'Salon, dealer or region code (see nps.network)'),
            ('dealer_code', 'Dealer code; NULL for the operator''s own offices'),
            ('salon_code', 'Salon code'),
            ('region_code', 'Region code'),
            ('salon_name', 'Salon name'),
            ('dealer_name', 'Dealer name'),
            ('region_name', 'Region name'),
            ('kind', 'dealer or office (network); score, yes_no or text (question results)'),
            ('time_zone', 'IANA time zone of the region: periods are local to it'),
            ('responses', 'Answers to question 1 (recommend, 0-10)'),
            ('promoters', 'Answers 9-10'),
            ('passives', 'Answers 7-8'),
            ('detractors', 'Answers 0-6'),
            ('nps', 'Net Promoter Score in points: % promoters - % detractors (-100..100)'),
            ('ci_low', 'Lower end of the 95% confidence interval of the NPS (points)'),
            ('ci_high', 'Upper end of the 95% confidence interval of the NPS (points)'),
            ('score', 'Empirical-Bayes NPS (points): pulled towards the period average the more, the fewer answers; ranks are by it'),
            ('rank', 'Place in the period (1 = best, ties share a place); NULL below ranking_min_responses answers'),
            ('ranked_count', 'How many were ranked in the period'),
            ('prev_nps', 'NPS in the previous period of the same grain; NULL without answers then'),
            ('nps_change', 'NPS minus the previous period''s NPS (points)'),
            ('prev_rank', 'Rank in the previous period'),
            ('rank_change', 'Places gained since the previous period (positive = climbed)'),
            ('direction', 'best (NPS rose most) or worst (fell most)'),
            ('position', 'Order among the best or worst movers, 1 = largest change'),
            ('question_no', 'Question: 1 recommend 0-10, 2 why (text), 3 specialist 1-5, 4 tariff explained, 5 paid services without consent, 6 question solved'),
            ('answers', 'Answers to the question'),
            ('mean_score', 'Mean score (score questions)'),
            ('yes_percent', 'Share of yes answers in % (yes/no questions)'),
            ('visits', 'Visits (funnel: of the local visit period; funnel_drop: that stopped here)'),
            ('eligible', 'Visits with a survey not excluded before its start (opt-out, rules)'),
            ('sent', 'Surveys whose first question was sent'),
            ('delivered', 'Surveys with a delivered message or a reply'),
            ('started', 'Surveys with at least one answer'),
            ('completed', 'Surveys answered to the end'),
            ('response_rate', 'started / sent in %'),
            ('completion_rate', 'completed / sent in %'),
            ('stage', 'First funnel stage not reached: eligible, sent, delivered, started or completed'),
            ('reason', 'Why: no session, the session state and its reason, or the delivery error'),
            ('session_id', 'Survey session id'),
            ('subscriber', 'Pseudonym of the subscriber (keyed hash of the phone number): stable, not reversible'),
            ('channel', 'dealer, office or contact_centre'),
            ('specialist', 'Login of the specialist who served the customer'),
            ('visit_day', 'Local day of the visit'),
            ('answer_day', 'Local day of the first answer'),
            ('state', 'Session state: active, completed, expired, opted_out, ...'),
            ('recommend', 'Answer to question 1 (0-10)'),
            ('category', 'promoter (9-10), passive (7-8) or detractor (0-6)'),
            ('comment', 'Answer to question 2 (free text; erased after text_retention)'),
            ('specialist_score', 'Answer to question 3 (1-5)'),
            ('tariff_explained', 'Answer to question 4 (true = yes)'),
            ('paid_without_consent', 'Answer to question 5 (true = yes: paid services added without consent)'),
            ('solved', 'Answer to question 6 (true = yes)'),
            ('visit_id', 'Visit'),
            ('occurred_at', 'When the visit took place'),
            ('day', 'Local day in the salon''s region: of the answer (nps_daily, question_daily) or of the visit (funnel tables)'),
            ('scored', 'Answers with a score (score and yes/no questions)'),
            ('score_sum', 'Sum of the scores'),
            ('yes', 'Yes answers (yes/no questions)'),
            ('reached', 'Funnel stage reached: 0 visit, 1 eligible, 2 sent, 3 delivered, 4 started, 5 completed'),
            ('dropped_before', 'First stage not reached (NULL when completed)')) d(attname, comment) ON d.attname = a.attname
    LOOP
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.rel, c.attname, c.comment);
    END LOOP;
END $$;

-- Retention ---------------------------------------------------------------------------------

CREATE FUNCTION nps.apply_retention(at timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    text_before timestamptz := at - nps.analytics_setting('text_retention')::interval;
    raw_before timestamptz := at - nps.analytics_setting('msisdn_retention')::interval;
    last_answer timestamptz;
    n_texts bigint; n_replies bigint; n_visits bigint; n_outbox bigint; n_inbox bigint; n_roaming bigint;
    result jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('nps.refresh'));
    -- Bring the figures up to date first: the rows about to go must be counted.
    PERFORM nps.refresh();

    UPDATE nps.answer SET body = NULL WHERE answered_at < text_before AND body IS NOT NULL;
    GET DIAGNOSTICS n_texts = ROW_COUNT;
    UPDATE nps.inbox SET body = '' WHERE received_at < text_before AND body <> '';
    GET DIAGNOSTICS n_replies = ROW_COUNT;

    -- Days that lose raw answers are frozen so that no later refresh recounts them.
    SELECT max(a.answered_at) INTO last_answer
    FROM nps.visit v JOIN nps.session se ON se.visit_id = v.id JOIN nps.answer a ON a.session_id = se.id
    WHERE v.occurred_at < raw_before;
    IF last_answer IS NOT NULL THEN
        UPDATE nps.analytics_state SET frozen_before = greatest(frozen_before, (last_answer AT TIME ZONE 'UTC')::date + 2);
    END IF;
    DELETE FROM nps.outbox WHERE queued_at < raw_before AND state IN ('delivered', 'failed');
    GET DIAGNOSTICS n_outbox = ROW_COUNT;
    DELETE FROM nps.inbox WHERE received_at < raw_before;
    GET DIAGNOSTICS n_inbox = ROW_COUNT;
    -- Sessions and answers go with their visit (ON DELETE CASCADE).
    DELETE FROM nps.visit WHERE occurred_at < raw_before;
    GET DIAGNOSTICS n_visits = ROW_COUNT;
    DELETE FROM nps.roaming WHERE ended_at < raw_before;
    GET DIAGNOSTICS n_roaming = ROW_COUNT;

    result := jsonb_build_object('texts_erased', n_texts, 'replies_erased', n_replies, 'visits_deleted', n_visits,
                                 'outbox_deleted', n_outbox, 'inbox_deleted', n_inbox, 'roaming_deleted', n_roaming);
    UPDATE nps.analytics_state SET last_retention = result;
    RETURN result;
END $$;
COMMENT ON FUNCTION nps.apply_retention(timestamptz) IS
    'Erases free texts older than text_retention and deletes raw rows carrying phone numbers (visits with their sessions and answers, messages, ended roaming) older than msisdn_retention; refreshes first and freezes the affected days, so aggregates are kept. Opt-outs are kept: they must be honoured.';

-- Schedules ---------------------------------------------------------------------------------

CREATE FUNCTION nps.schedule_analytics(
    p_refresh text DEFAULT '*/5 * * * *',
    p_retention text DEFAULT '30 3 * * *')
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'undefined_object',
                  HINT = 'CREATE EXTENSION pg_cron in cron.database_name, or schedule SELECT nps.refresh() yourself.';
    END IF;
    RETURN NEXT cron.schedule('nps-refresh', p_refresh, 'SELECT nps.refresh()');
    RETURN NEXT cron.schedule('nps-retention', p_retention, 'SELECT nps.apply_retention()');
END $$;
COMMENT ON FUNCTION nps.schedule_analytics(text, text) IS
    'Creates (or updates) the pg_cron jobs nps-refresh (every 5 minutes) and nps-retention (daily 03:30); returns their job ids';

-- Roles ---------------------------------------------------------------------------------------

CREATE FUNCTION nps.setup_roles() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r text;
    t regclass;
    smsc_columns text;
BEGIN
    FOREACH r IN ARRAY ARRAY['nps_analyst', 'nps_operator', 'nps_admin'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA nps TO %I', r);
        -- Start from nothing so that re-running after an upgrade gives exactly these grants.
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA nps FROM %I', r);
    END LOOP;

    GRANT ALL ON ALL TABLES IN SCHEMA nps TO nps_admin;
    GRANT ALL ON ALL SEQUENCES IN SCHEMA nps TO nps_admin;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA nps TO nps_admin, nps_operator;

    -- Operators run the service: every table and view, except the SMSC passwords and
    -- the pseudonym key.
    FOR t IN SELECT c.oid::regclass FROM pg_class c
             WHERE c.relnamespace = 'nps'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
               AND c.oid NOT IN ('nps.smsc'::regclass, 'nps.analytics_secret'::regclass)
    LOOP
        EXECUTE format('GRANT SELECT%s ON %s TO nps_operator', CASE WHEN EXISTS
            (SELECT FROM pg_class WHERE oid = t AND relkind IN ('r', 'p')) THEN ', INSERT, UPDATE' ELSE '' END, t);
    END LOOP;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO smsc_columns
    FROM pg_attribute WHERE attrelid = 'nps.smsc'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'password';
    EXECUTE format('GRANT SELECT (%1$s), INSERT (%1$s), UPDATE (%1$s) ON nps.smsc TO nps_operator', smsc_columns);
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA nps TO nps_operator;

    -- Analysts: the BI views only (they show pseudonyms, never a phone number).
    FOREACH t IN ARRAY nps.analyst_views() LOOP
        EXECUTE format('GRANT SELECT ON %s TO nps_analyst', t);
    END LOOP;
    RETURN 'nps_analyst, nps_operator, nps_admin';
END $$;
COMMENT ON FUNCTION nps.setup_roles() IS
    'Creates the roles nps_analyst (the BI views of nps.analyst_views()), nps_operator (read/insert/update every table except nps.smsc.password) and nps_admin (everything) and grants them; re-run after every upgrade or new table';

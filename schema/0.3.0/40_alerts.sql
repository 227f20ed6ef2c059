------------------------------------------------------------------------------
-- Alerts: cheaper detection (issue 6: ingest with alerts on at most 20%
-- slower than with them off)
------------------------------------------------------------------------------

-- The same normalisation, in C (src/alert_filter.c): the alert trigger runs
-- it on every comment before any SQL, and the lexicon compiles its terms
-- through it, so both sides keep agreeing.
CREATE OR REPLACE FUNCTION nps.alert_normalize(body text) RETURNS text
    AS 'MODULE_PATHNAME', 'nps_alert_normalize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.alert_normalize(text) IS
    'Text ready for Russian full-text search: lower case, ё as е, negations glued to the word they negate ("не обманули" -> "необманули")';

-- The trigger function becomes C: it reads the transition table once and
-- calls nps.raise_alerts() only with the answers that may alarm (a score in
-- an active rule's range, or a comment matching some active lexicon term),
-- from rules and terms cached per backend.  A statement whose answers cannot
-- alarm (most of them) then runs no SQL at all.
CREATE OR REPLACE FUNCTION nps.answer_alerts() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_answer_alerts'
    LANGUAGE C;
COMMENT ON FUNCTION nps.answer_alerts() IS
    'Trigger: raises or updates the alerts of the answers a statement inserted or changed, in the same transaction; answers that cannot alarm are filtered out in C (rules and lexicon cached per backend), the rest go to nps.raise_alerts';

-- The rule cache is dropped in every backend when the rules change (the
-- lexicon's all-terms view is refreshed on every change, which drops it too).
CREATE FUNCTION nps.alert_rule_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_alert_rule_changed'
    LANGUAGE C;
COMMENT ON FUNCTION nps.alert_rule_changed() IS
    'Trigger: makes every session reload the alert rules it caches for nps.answer_alerts';
CREATE TRIGGER alert_rule_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nps.alert_rule
    FOR EACH STATEMENT EXECUTE FUNCTION nps.alert_rule_changed();

-- The announcement's payload alone, in SQL so that it is inlined: raising a
-- batch of alerts then announces them inside its own statement instead of
-- calling PL/pgSQL once per alert.
CREATE FUNCTION nps.alert_payload(a nps.alert, p_event text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'event', p_event, 'session_id', a.session_id, 'salon_code', a.salon_code,
        'dealer_code', a.dealer_code, 'severity', a.severity, 'level', a.level,
        'assignee', a.assignee, 'due_at', a.due_at, 'reasons', to_jsonb(a.reasons))
$$;
COMMENT ON FUNCTION nps.alert_payload(nps.alert, text) IS
    'The alert as the JSON announced on nps_alert (id, event, session_id, salon_code, dealer_code, severity, level, assignee, due_at, reasons)';

CREATE OR REPLACE FUNCTION nps.alert_announce(a nps.alert, p_event text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    payload jsonb := nps.alert_payload(a, p_event);
BEGIN
    -- Delivered to listeners when the transaction commits, never before.
    PERFORM pg_notify('nps_alert', payload::text);
    RETURN payload;
END $$;

-- As in 0.2.0, in one statement: without the rule pre-check (the trigger has
-- filtered the answers in C, so nearly every call raises something) and with
-- the announcements made in the writing statement.  Each statement a call
-- runs costs its executor start, which a one-answer INSERT pays in full.
CREATE OR REPLACE FUNCTION nps.raise_alerts(answers nps.answer[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    n integer;
BEGIN
    -- Comments are scanned set-based, each parsed once (the same verdict as
    -- nps.alert_scan, which alert_detect checks on both paths); one test
    -- against all terms at once before the term-by-term scoring.
    WITH texts AS MATERIALIZED (
        SELECT na.session_id, na.answered_at, na.question_no, r.reason,
               to_tsvector('russian'::regconfig, nps.alert_normalize(na.body)) AS v
        FROM unnest(answers) na
        JOIN nps.alert_rule r ON r.question_no = na.question_no AND r.active AND r.scan_text
        JOIN nps.session s ON s.id = na.session_id AND (r.survey_id IS NULL OR r.survey_id = s.survey_id)
        WHERE na.body IS NOT NULL
    ), alarming AS MATERIALIZED (
        SELECT * FROM texts WHERE texts.v @@ (SELECT x.query FROM nps.alert_lexicon_any x)
    ), hit AS (
        SELECT na.session_id, na.answered_at, r.severity,
               format('q%s = %s: %s', na.question_no, na.score, r.reason) AS reason
        FROM unnest(answers) na
        JOIN nps.alert_rule r ON r.question_no = na.question_no AND r.active AND NOT r.scan_text
             AND na.score BETWEEN r.min_score AND r.max_score
        JOIN nps.session s ON s.id = na.session_id AND (r.survey_id IS NULL OR r.survey_id = s.survey_id)
        UNION ALL
        SELECT m.session_id, m.answered_at,
               (SELECT max(sv.severity) FROM nps.alert_severity sv WHERE sv.min_text_score <= m.score),
               format('q%s: %s (%s)', m.question_no, m.reason, array_to_string(m.categories, ', '))
        FROM (SELECT t.session_id, t.answered_at, t.question_no, t.reason, sum(l.weight) AS score,
                     array_agg(DISTINCT l.category) AS categories
              FROM alarming t JOIN nps.alert_lexicon l ON l.active AND t.v @@ l.query
              GROUP BY t.session_id, t.answered_at, t.question_no, t.reason) m
    ), per_session AS (
        -- what the answers of one session raise: the highest severity, the
        -- latest answer time, the reasons
        SELECT h.session_id, max(h.severity) AS severity, max(h.answered_at) AS at,
               array_agg(DISTINCT h.reason ORDER BY h.reason) AS reasons
        FROM hit h GROUP BY h.session_id
    ), up AS (
        INSERT INTO nps.alert AS a (session_id, salon_code, dealer_code, region_code, specialist,
                                    severity, level, assignee, reasons, raised_at, due_at, updated_at)
        SELECT p.session_id, v.salon_code, sa.dealer_code, sa.region_code, v.specialist,
               p.severity, coalesce(f.level, 2), f.assignee, p.reasons, p.at, p.at + f.allowed, p.at
        FROM per_session p
        JOIN nps.session s ON s.id = p.session_id
        JOIN nps.visit v ON v.id = s.visit_id
        JOIN nps.salon sa ON sa.code = v.salon_code
        LEFT JOIN nps.alert_first_route f ON f.salon_code = v.salon_code AND f.severity = p.severity
        ON CONFLICT (session_id) DO UPDATE
        SET severity = greatest(a.severity, excluded.severity),
            reasons = a.reasons || ARRAY(SELECT x FROM unnest(excluded.reasons) x WHERE x <> ALL (a.reasons)),
            -- a graver alert gets the shorter deadline of its level
            due_at = CASE WHEN a.state = 'open' AND excluded.severity > a.severity
                          THEN least(a.due_at, excluded.raised_at +
                                     (SELECT r.allowed FROM nps.alert_route r
                                      WHERE r.severity = excluded.severity AND r.level = a.level))
                          ELSE a.due_at END,
            updated_at = excluded.raised_at
        WHERE excluded.severity > a.severity OR NOT excluded.reasons <@ a.reasons
        RETURNING a, CASE WHEN a.xmax = 0 THEN 'raised' ELSE 'updated' END AS event
    ), ev AS (
        INSERT INTO nps.alert_event (alert_id, at, event, actor, to_level, severity, note)
        SELECT (u.a).id, (u.a).updated_at, u.event, 'nps.answer', (u.a).level, (u.a).severity,
               array_to_string((u.a).reasons, '; ')
        FROM up u
    )
    -- delivered to listeners at commit, as nps.alert_announce does
    SELECT count(pg_notify('nps_alert', nps.alert_payload(u.a, u.event)::text)) INTO n FROM up u;
    RETURN n;
END $$;

-- Its array carried the hits between the two statements of 0.2.0.
DROP TYPE nps.alert_hit;

------------------------------------------------------------------------------
-- The reply path, set-based: one statement-level trigger per INSERT on
-- nps.inbox takes every reply of the statement through the dialogue with a
-- fixed handful of statements, whatever their number (0.2.0 ran a PL/pgSQL
-- row trigger and five statements per reply, and each reply's answer fired
-- the statement triggers of nps.answer once).
------------------------------------------------------------------------------

-- Expiry reads the active sessions by when they started, not by when their
-- current question was asked: asked_at changes with every answer, and an
-- index on it made every answer's session UPDATE a non-HOT one (a new entry
-- in all five indexes of nps.session).  A question is never asked before
-- the session started, so started_at <= cutoff bounds asked_at <= cutoff.
DROP INDEX nps.session_active_asked;
CREATE INDEX session_active_started ON nps.session (started_at) WHERE state = 'active';
-- A HOT update needs room on the row's own page: a session is updated about
-- eight times in its life (started, each answer, the end), so its pages keep
-- a fifth free (rows written from now on; older pages make room as they are
-- pruned).
ALTER TABLE nps.session SET (fillfactor = 80);

CREATE OR REPLACE FUNCTION nps.expire(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    p_at ALIAS FOR $1;
    cutoff timestamptz := p_at - nps.setting_value('expire_after')::interval;
    n integer;
BEGIN
    UPDATE nps.session
    SET state = 'expired', state_reason = 'no answer: question ' || question_no,
        finished_at = p_at, updated_at = now()
    WHERE state = 'active' AND started_at <= cutoff AND asked_at <= cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The sender's normal form is inlined into the queries that use it once it
-- is not STRICT (it was a function call per reply, twice).  NULL in, NULL
-- out as before: its CASE falls through to raw.
ALTER FUNCTION nps.reply_msisdn(text) CALLED ON NULL INPUT;

-- One round: replies of distinct subscribers, so that no two of them touch
-- the same session, opt-out or pool entry.  One statement matches, parses
-- (C), decides, stores the answers, moves the sessions on, queues the next
-- questions, re-asks and thank-yous, and records every reply's fate; STOP
-- replies then go through nps.opt_out_by_sms one by one (rare, and each
-- ends all sessions of its subscriber).
--
-- Plans.  Several replies: EXECUTE, planned for the replies at hand and the
-- tables as they are now.  A cached generic plan knows neither: made while
-- nps.answer or nps.inbox was still small it scans them whole (or
-- materialises one side of a nested loop) at every later call until an
-- ANALYZE happens to invalidate it (seen: 1,000 replies/s instead of 4,000).
-- One reply (the worker stores each in its own statement): the statement
-- as static SQL with the connection's generic plan, made once, since
-- planning it costs as much as its work; its index probes are right for one
-- row, and a plan made on small tables is replaced when autovacuum analyzes
-- them.  plan_cache_mode is forced for that reason (the default would keep
-- making custom plans: each is cheaper than the generic plan's estimate for
-- ten rows).  The one statement text is written once below and put in both
-- places when the function is created ($1, $2 are the arguments either way).
DO $do$
DECLARE
    stmt constant text := $stmt$
    WITH matched AS MATERIALIZED (
        SELECT r.id, r.m, r.code, r.body, r.received_at, se.sid, se.survey_id, se.question_no,
               se.reasked, coalesce(se.hint, se.question) AS hint,
               CASE WHEN se.sid IS NOT NULL
                    THEN nps.parse_reply(r.body, se.kind, coalesce(se.min_score, 0), coalesce(se.max_score, 10)) END AS p
        FROM (SELECT x.id, nps.reply_msisdn(x.msisdn) AS m, x.short_code AS code, x.body, x.received_at
              FROM unnest($1) x) r
        LEFT JOIN LATERAL (
            SELECT s.id AS sid, s.survey_id, s.question_no, s.reasked,
                   q.kind, q.min_score, q.max_score, q.hint, q.body AS question
            FROM nps.session s
            JOIN nps.question q ON q.survey_id = s.survey_id AND q.question_no = s.question_no
            WHERE s.msisdn = r.m AND s.short_code = r.code AND s.state = 'active') se ON true
    ), decided AS MATERIALIZED (
        -- stop: opt out (a score given with it counts); advance: an answer, or
        -- the second failure for this question, which is kept as the answer's
        -- text (score NULL) so that the customer is not trapped; reask: the
        -- first failure; none: no active session (late or unmatched).
        SELECT m.*,
               CASE WHEN m.sid IS NULL THEN CASE WHEN nps.is_stop(m.body) THEN 'stop' ELSE 'none' END
                    WHEN (m.p).status = 'stop' THEN 'stop'
                    WHEN (m.p).status = 'ok' OR m.reasked THEN 'advance'
                    ELSE 'reask' END AS act,
               CASE WHEN (m.p).status IN ('ok', 'stop') THEN (m.p).score END AS score
        FROM matched m
    ), fate AS MATERIALIZED (
        SELECT d.*, nx.question_no AS nq, coalesce(nx.body, th.thanks) AS next_body,
               late.id AS late_session, late.why AS late_why
        FROM decided d
        -- The next question the branching allows: the survey's first later
        -- question without a condition, or whose condition the answer just
        -- given (or an earlier one) meets.
        LEFT JOIN LATERAL (
            SELECT qq.question_no, qq.body
            FROM nps.question qq
            WHERE d.act = 'advance' AND qq.survey_id = d.survey_id AND qq.question_no > d.question_no
              AND CASE WHEN qq.ask_if_question IS NULL THEN true
                       -- an earlier answer is read only for a conditional question
                       ELSE coalesce((SELECT c.cond BETWEEN coalesce(qq.ask_if_min, c.cond) AND coalesce(qq.ask_if_max, c.cond)
                                      FROM (SELECT CASE WHEN qq.ask_if_question = d.question_no THEN d.score
                                                        ELSE (SELECT a.score FROM nps.answer a
                                                              WHERE a.session_id = d.sid AND a.question_no = qq.ask_if_question) END
                                            AS cond) c), false) END
            ORDER BY qq.question_no LIMIT 1) nx ON true
        LEFT JOIN LATERAL (
            SELECT sv.thanks FROM nps.survey sv
            WHERE d.act = 'advance' AND nx.question_no IS NULL AND sv.id = d.survey_id) th ON true
        LEFT JOIN LATERAL (
            SELECT s.id, 'session ' || s.id || ' already ' || s.state AS why
            FROM nps.session s
            WHERE d.act = 'none' AND s.msisdn = d.m AND s.short_code = d.code
              AND s.state IN ('completed', 'expired', 'opted_out', 'cancelled')
            ORDER BY s.finished_at DESC NULLS LAST, s.id DESC LIMIT 1) late ON true
    ), answered AS (
        INSERT INTO nps.answer (session_id, question_no, score, body, inbox_id, answered_at)
        SELECT f.sid, f.question_no, f.score, f.body, f.id, f.received_at
        FROM fate f
        WHERE f.act = 'advance' OR f.act = 'stop' AND f.sid IS NOT NULL AND f.score IS NOT NULL
        ORDER BY f.id
    ), moved AS (
        -- Only columns outside every index change while the session stays
        -- active, so the update is HOT.
        UPDATE nps.session s
        SET question_no = CASE WHEN f.act = 'advance' THEN coalesce(f.nq, s.question_no) ELSE s.question_no END,
            state = CASE WHEN f.act = 'advance' AND f.nq IS NULL THEN 'completed' ELSE s.state END,
            finished_at = CASE WHEN f.act = 'advance' AND f.nq IS NULL THEN f.received_at ELSE s.finished_at END,
            asked_at = f.received_at, reasked = (f.act = 'reask'), updated_at = now()
        FROM fate f
        WHERE s.id = f.sid AND f.act IN ('advance', 'reask')
    ), queued AS (
        INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no)
        SELECT f.sid, f.m, f.code,
               CASE WHEN f.act = 'reask' THEN f.hint ELSE f.next_body END,
               CASE WHEN f.act = 'reask' THEN 'reask' WHEN f.nq IS NULL THEN 'thanks' ELSE 'question' END,
               CASE WHEN f.act = 'reask' THEN f.question_no ELSE f.nq END
        FROM fate f
        WHERE f.act IN ('advance', 'reask')
        ORDER BY f.id
    ), marked AS (
        UPDATE nps.inbox i
        SET msisdn = f.m, session_id = coalesce(f.sid, f.late_session),
            status = CASE f.act
                WHEN 'stop' THEN 'opt_out'
                WHEN 'none' THEN CASE WHEN f.late_session IS NOT NULL THEN 'late' ELSE 'unmatched' END
                WHEN 'reask' THEN 'reasked'
                ELSE CASE WHEN (f.p).status = 'ok' THEN 'answered' ELSE 'unparsed' END END,
            reason = CASE f.act
                WHEN 'stop' THEN CASE WHEN f.sid IS NULL THEN 'no active session' END
                WHEN 'none' THEN coalesce(f.late_why, 'no session for this sender and short code')
                WHEN 'reask' THEN (f.p).status || coalesce(': ' || (f.p).reason, '')
                ELSE CASE WHEN (f.p).status <> 'ok'
                          THEN (f.p).status || coalesce(': ' || (f.p).reason, '') || ' (after a re-ask)' END END
        FROM fate f
        -- the rows by their key ($2, the ids of $1): planned while nps.inbox
        -- was small, a join alone becomes a scan of the whole table
        WHERE i.id = ANY ($2) AND i.id = f.id
    )
    SELECT array_agg(f.id ORDER BY f.id), array_agg(f.m ORDER BY f.id), array_agg(f.code ORDER BY f.id),
           array_agg(f.sid ORDER BY f.id), array_agg(f.received_at ORDER BY f.id)
    FROM fate f WHERE f.act = 'stop'
$stmt$;
BEGIN
    EXECUTE format($fn$
CREATE FUNCTION nps.take_replies(replies nps.inbox[], ids bigint[]) RETURNS integer
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $body$
DECLARE
    stop record;
    stop_ids bigint[];
    stop_msisdns text[];
    stop_codes text[];
    stop_sessions bigint[];
    stop_at timestamptz[];
BEGIN
    IF array_length(replies, 1) = 1 THEN
        %s
        INTO stop_ids, stop_msisdns, stop_codes, stop_sessions, stop_at;
    ELSE
        EXECUTE %L INTO stop_ids, stop_msisdns, stop_codes, stop_sessions, stop_at USING replies, ids;
    END IF;
    FOR stop IN SELECT * FROM unnest(stop_ids, stop_msisdns, stop_codes, stop_sessions, stop_at)
                AS u(id, msisdn, code, session_id, at) LOOP
        PERFORM nps.opt_out_by_sms(stop.msisdn, stop.code, stop.id, stop.session_id, stop.at);
    END LOOP;
    RETURN coalesce(array_length(replies, 1), 0);
END $body$ $fn$, stmt, stmt);
END $do$;
COMMENT ON FUNCTION nps.take_replies(nps.inbox[], bigint[]) IS
    'Takes stored replies of distinct subscribers through the dialogue at once (match, parse, answer, next question / re-ask / thanks / opt-out) and records each one''s fate on its inbox row; ids are the replies'' inbox ids; returns how many. Called by the inbox_dialogue trigger';

-- A statement may hold several replies of one subscriber: its k-th reply
-- goes in round k, so each sees the session as the previous one left it
-- (the order of arrival, by inbox id).  The rows reach take_replies as an
-- array: a query on a transition table is planned anew at every statement.
CREATE OR REPLACE FUNCTION nps.dialogue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    replies nps.inbox[];
    ids bigint[];
    rounds integer[];
    first integer;
    last integer;
BEGIN
    SELECT array_agg(x.r ORDER BY x.round, (x.r).id), array_agg((x.r).id ORDER BY x.round, (x.r).id),
           array_agg(x.round ORDER BY x.round, (x.r).id)
      INTO replies, ids, rounds
    FROM (SELECT r, row_number() OVER (PARTITION BY nps.reply_msisdn(r.msisdn) ORDER BY r.id)::integer AS round
          FROM new_replies r WHERE r.status = 'received') x;
    IF replies IS NULL THEN
        RETURN NULL;
    ELSIF rounds[array_length(rounds, 1)] = 1 THEN
        PERFORM nps.take_replies(replies, ids);
    ELSE
        FOR k IN 1 .. rounds[array_length(rounds, 1)] LOOP
            first := array_position(rounds, k);
            last := coalesce(array_position(rounds, k + 1, first) - 1, array_length(rounds, 1));
            PERFORM nps.take_replies(replies[first:last], ids[first:last]);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.dialogue() IS
    'Trigger: takes the replies an INSERT stored (status received) through the dialogue, set-based, in rounds by order of arrival when a subscriber sent several (nps.take_replies)';

DROP TRIGGER inbox_dialogue ON nps.inbox;
CREATE TRIGGER inbox_dialogue AFTER INSERT ON nps.inbox
    REFERENCING NEW TABLE AS new_replies
    FOR EACH STATEMENT EXECUTE FUNCTION nps.dialogue();

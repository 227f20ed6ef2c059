------------------------------------------------------------------------------
-- The reply path, 0.4.0: decide first, then store each reply once.
--
-- Until 0.3.0 every reply was written twice: the INSERT into nps.inbox
-- (status 'received'), then, in the dialogue trigger, an UPDATE recording
-- its session, status and reason.  That UPDATE could not be HOT (it sets
-- the indexed inbox.session_id and, for senders in another number form,
-- the indexed msisdn), so each reply cost a second heap tuple and three
-- more index entries, and it was the largest single write of the path.
--
-- nps.store_replies() now draws the replies' inbox ids first (in order of
-- arrival), takes them through the dialogue, and INSERTs each inbox row
-- with its outcome already decided, in the same statement that stores the
-- answers and queues the next questions (the foreign keys of the answers to
-- their inbox rows are checked at the end of that statement, when the rows
-- are there).  nps.receive goes through it (and so nps.receive_from_smsc,
-- the worker's path for parts and possible redeliveries), and the worker
-- stores a whole flush of replies with one call.  An INSERT into
-- nps.inbox of rows with status 'received' is still taken through the
-- dialogue by the inbox_dialogue trigger, with the UPDATE as before: the
-- dialogue statement serves both, with one of two endings.
------------------------------------------------------------------------------

-- take_replies gains the way the rows are recorded: the trigger's rows are
-- in nps.inbox already (updated), store_replies' rows are not (inserted).
DROP FUNCTION nps.take_replies(nps.inbox[], bigint[]);

-- One round: replies of distinct subscribers, so that no two of them touch
-- the same session, opt-out or pool entry.  One statement matches, parses
-- (C), decides, stores the answers, moves the sessions on, queues the next
-- questions, re-asks and thank-yous, and records every reply's fate on its
-- inbox row (INSERT for store_replies, UPDATE for the trigger's rows, which
-- are stored already); STOP replies then go through nps.opt_out_by_sms one
-- by one (rare, and each ends all sessions of its subscriber).
--
-- Plans.  The statement is static SQL with the connection's generic plan,
-- made once: planning it costs about a tenth of the work of a batch of 1000
-- replies (8 ms) and as much as the work of one reply.  0.3.0 planned every
-- batch anew (EXECUTE), because a cached plan made while nps.answer or
-- nps.inbox was still small scanned them whole at every later call until an
-- ANALYZE invalidated it.  Now every table the statement reads is reached by
-- an index probe per reply, keyed by the reply (LATERAL ... OFFSET 0, or the
-- key = ANY of the ids), and the function runs with sequential and bitmap
-- scans off (and JIT off), so the plan does not depend on how large the
-- tables were when it was made.  The statement text is written once below,
-- with its two endings, and put in each place ($1, $2 are the arguments).
-- Each copy of a subquery on the partitioned nps.answer is planned for every
-- partition, so the statement holds one.
DO $do$
DECLARE
    head constant text := $stmt$
    WITH matched AS MATERIALIZED (
        SELECT rs.id, rs.m, rs.code, rs.body, rs.received_at, rs.smsc, rs.sid, rs.survey_id, rs.question_no,
               rs.reasked, coalesce(q.hint, q.body) AS hint,
               CASE WHEN rs.sid IS NOT NULL
                    THEN nps.parse_reply(rs.body, q.kind, coalesce(q.min_score, 0), coalesce(q.max_score, 10)) END AS p
        -- One probe of session_active_code per reply (OFFSET 0 keeps the
        -- planner from joining instead: it hashed every active session per
        -- batch, 20 of 160 ms at 10,000 sessions and growing with the
        -- table), then the questions, a handful of rows, hashed once.
        FROM (SELECT r.*, se.*
              FROM (SELECT x.id, nps.reply_msisdn(x.msisdn) AS m, x.short_code AS code, x.body, x.received_at,
                           x.smsc_name AS smsc
                    FROM unnest($1) x) r
              LEFT JOIN LATERAL (
                  SELECT s.id AS sid, s.survey_id, s.question_no, s.reasked
                  FROM nps.session s
                  WHERE s.msisdn = r.m AND s.short_code = r.code AND s.state = 'active'
                  OFFSET 0) se ON true
              OFFSET 0) rs
        LEFT JOIN nps.question q ON q.survey_id = rs.survey_id AND q.question_no = rs.question_no
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
               late.id AS late_session, late.why AS late_why,
               -- what the inbox row records
               coalesce(d.sid, late.id) AS inbox_session,
               CASE d.act
                   WHEN 'stop' THEN 'opt_out'
                   WHEN 'none' THEN CASE WHEN late.id IS NOT NULL THEN 'late' ELSE 'unmatched' END
                   WHEN 'reask' THEN 'reasked'
                   ELSE CASE WHEN (d.p).status = 'ok' THEN 'answered' ELSE 'unparsed' END END AS status,
               CASE d.act
                   WHEN 'stop' THEN CASE WHEN d.sid IS NULL THEN 'no active session' END
                   WHEN 'none' THEN coalesce(late.why, 'no session for this sender and short code')
                   WHEN 'reask' THEN (d.p).status || coalesce(': ' || (d.p).reason, '')
                   ELSE CASE WHEN (d.p).status <> 'ok'
                             THEN (d.p).status || coalesce(': ' || (d.p).reason, '') || ' (after a re-ask)' END END AS reason
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
                       -- (OFFSET 0: inlined, c.cond would copy the subquery five times)
                       ELSE coalesce((SELECT c.cond BETWEEN coalesce(qq.ask_if_min, c.cond) AND coalesce(qq.ask_if_max, c.cond)
                                      FROM (SELECT CASE WHEN qq.ask_if_question = d.question_no THEN d.score
                                                        ELSE (SELECT a.score FROM nps.answer a
                                                              WHERE a.session_id = d.sid AND a.question_no = qq.ask_if_question) END
                                            AS cond OFFSET 0) c), false) END
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
    ), $stmt$;
    -- store_replies: the inbox rows go in once, decided; the answers'
    -- foreign keys to them are checked at the end of the statement
    by_insert constant text := $stmt$stored AS (
        INSERT INTO nps.inbox (id, msisdn, short_code, body, received_at, session_id, smsc_name, status, reason)
        SELECT f.id, f.m, f.code, f.body, f.received_at, f.inbox_session, f.smsc, f.status, f.reason
        FROM fate f
        ORDER BY f.id
    ) $stmt$;
    -- the inbox_dialogue trigger: the rows are there, record their fate
    by_update constant text := $stmt$marked AS (
        UPDATE nps.inbox i
        SET msisdn = f.m, session_id = f.inbox_session, status = f.status, reason = f.reason
        FROM fate f
        -- the rows by their key ($2, the ids of $1): planned while nps.inbox
        -- was small, a join alone becomes a scan of the whole table
        WHERE i.id = ANY ($2) AND i.id = f.id
    ) $stmt$;
    tail constant text := $stmt$
    SELECT array_agg(f.id ORDER BY f.id), array_agg(f.m ORDER BY f.id), array_agg(f.code ORDER BY f.id),
           array_agg(f.sid ORDER BY f.id), array_agg(f.received_at ORDER BY f.id)
    FROM fate f WHERE f.act = 'stop'
$stmt$;
    ins constant text := head || by_insert || tail;
    upd constant text := head || by_update || tail;
BEGIN
    EXECUTE format($fn$
CREATE FUNCTION nps.take_replies(replies nps.inbox[], ids bigint[], store boolean) RETURNS integer
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
    SET enable_bitmapscan = off SET jit = off AS $body$
DECLARE
    stop record;
    stop_ids bigint[];
    stop_msisdns text[];
    stop_codes text[];
    stop_sessions bigint[];
    stop_at timestamptz[];
BEGIN
    IF store THEN
        %s
        INTO stop_ids, stop_msisdns, stop_codes, stop_sessions, stop_at;
    ELSE
        %s
        INTO stop_ids, stop_msisdns, stop_codes, stop_sessions, stop_at;
    END IF;
    FOR stop IN SELECT * FROM unnest(stop_ids, stop_msisdns, stop_codes, stop_sessions, stop_at)
                AS u(id, msisdn, code, session_id, at) LOOP
        PERFORM nps.opt_out_by_sms(stop.msisdn, stop.code, stop.id, stop.session_id, stop.at);
    END LOOP;
    RETURN coalesce(array_length(replies, 1), 0);
END $body$ $fn$, ins, upd);
END $do$;
COMMENT ON FUNCTION nps.take_replies(nps.inbox[], bigint[], boolean) IS
    'Takes replies of distinct subscribers through the dialogue at once (match, parse, answer, next question / re-ask / thanks / opt-out) and records each one''s fate on its inbox row: inserts the rows when store is true, updates them (already stored) when false; ids are the replies'' inbox ids; returns how many';

-- A set of replies may hold several of one subscriber: the k-th goes in
-- round k, so each sees the session as the previous one left it (the order
-- of arrival, by inbox id).
CREATE FUNCTION nps.take_replies_in_rounds(replies nps.inbox[], store boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ordered nps.inbox[];
    ids bigint[];
    rounds integer[];
    first integer;
    last integer;
BEGIN
    SELECT array_agg(x.r ORDER BY x.round, (x.r).id), array_agg((x.r).id ORDER BY x.round, (x.r).id),
           array_agg(x.round ORDER BY x.round, (x.r).id)
      INTO ordered, ids, rounds
    FROM (SELECT r, row_number() OVER (PARTITION BY nps.reply_msisdn(r.msisdn) ORDER BY r.id)::integer AS round
          FROM unnest(replies) r) x;
    IF ordered IS NULL THEN
        RETURN;
    ELSIF rounds[array_length(rounds, 1)] = 1 THEN
        PERFORM nps.take_replies(ordered, ids, store);
    ELSE
        FOR k IN 1 .. rounds[array_length(rounds, 1)] LOOP
            first := array_position(rounds, k);
            last := coalesce(array_position(rounds, k + 1, first) - 1, array_length(rounds, 1));
            PERFORM nps.take_replies(ordered[first:last], ids[first:last], store);
        END LOOP;
    END IF;
END $$;
COMMENT ON FUNCTION nps.take_replies_in_rounds(nps.inbox[], boolean) IS
    'Takes replies through the dialogue (nps.take_replies) in rounds by order of arrival (inbox id) when a subscriber sent several';

CREATE OR REPLACE FUNCTION nps.dialogue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    replies nps.inbox[];
BEGIN
    SELECT array_agg(r) INTO replies FROM new_replies r WHERE r.status = 'received';
    PERFORM nps.take_replies_in_rounds(replies, false);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.dialogue() IS
    'Trigger: takes the replies an INSERT stored with status received through the dialogue, set-based (nps.take_replies_in_rounds); rows stored by nps.store_replies are decided already';

-- The replies as nps.inbox rows not yet stored: ids drawn now, in the order
-- of the arrays (the order of arrival), the rest as an INSERT would default
-- it.  ROW() lists the columns in table order.
CREATE FUNCTION nps.store_replies(p_smsc text, p_msisdns text[], p_short_codes text[], p_bodies text[],
                                  p_received_at timestamptz[])
RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    replies nps.inbox[];
BEGIN
    -- The dialogue reads sessions before it writes the inbox: a caller who
    -- may not store replies learns so first, as from a plain INSERT.
    IF NOT has_table_privilege('nps.inbox', 'INSERT') THEN
        RAISE EXCEPTION 'permission denied for table inbox' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF cardinality(p_msisdns) IS DISTINCT FROM cardinality(p_short_codes)
       OR cardinality(p_msisdns) IS DISTINCT FROM cardinality(p_bodies)
       OR cardinality(p_msisdns) IS DISTINCT FROM cardinality(p_received_at) THEN
        RAISE EXCEPTION 'the arrays of replies differ in length'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s senders, %s short codes, %s texts, %s times.', cardinality(p_msisdns),
                                  cardinality(p_short_codes), cardinality(p_bodies), cardinality(p_received_at)),
                  HINT = 'Each reply is one element of each array, in the same position.';
    END IF;
    SELECT array_agg(ROW(nps.next_id('nps.inbox_id_seq'), u.msisdn, u.code, coalesce(u.body, ''), u.at,
                         NULL, p_smsc, 'received', NULL, NULL, now())::nps.inbox ORDER BY u.no)
      INTO replies
    FROM unnest(p_msisdns, p_short_codes, p_bodies, p_received_at) WITH ORDINALITY AS u(msisdn, code, body, at, no);
    PERFORM nps.take_replies_in_rounds(replies, true);
    RETURN ARRAY(SELECT r.id FROM unnest(replies) r);
END $$;
COMMENT ON FUNCTION nps.store_replies(text, text[], text[], text[], timestamptz[]) IS
    'Stores replies received (on bind p_smsc, NULL for nps.receive) in order of arrival and takes them through the dialogue in the same statements: each inbox row is inserted once, with its outcome; returns their inbox ids in the order given';

CREATE OR REPLACE FUNCTION nps.receive(msisdn text, short_code text, body text, received_at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE sql AS $$
    SELECT (nps.store_replies(NULL, ARRAY[msisdn], ARRAY[short_code], ARRAY[body], ARRAY[received_at]))[1]
$$;
COMMENT ON FUNCTION nps.receive(text, text, text, timestamptz) IS
    'Records a reply exactly as the worker does for a deliver_sm (an nps.inbox row, taken through the dialogue by nps.store_replies); returns the inbox id';

-- bench/alerts_replies.sql: reply ingest itself (nps.inbox: parse, answer,
-- next question) with alerts on vs off, in one run.  Loaded by
-- bench/alerts_ingest.sh after bench/alerts_ingest.sql, in the same database
-- (it reuses bench_answer and bench_cpu); psql variables:
--   reply_sessions  sessions whose six replies go in statements of :batch rows (default 2000)
--   reply_singles   sessions whose replies go one per transaction through nps.receive (default 300)
--   batch, rounds   as in bench/alerts_ingest.sql
-- Every round gets fresh sessions (visits of its own seed, distinct
-- subscribers, started by nps.run_due before the clock starts) and replays
-- the same replies: session n answers as bench_answer's session n, in the
-- order replies arrive (everybody's first answer, then everybody's second,
-- ...).  The salons differ from round to round (another seed), the replies,
-- their order and batching do not.
\set ON_ERROR_STOP 1
\if :{?reply_sessions} \else \set reply_sessions 2000 \endif
\if :{?reply_singles} \else \set reply_singles 300 \endif
\if :{?batch} \else \set batch 1000 \endif
\if :{?rounds} \else \set rounds 3 \endif
SET client_min_messages = warning;
-- Send at any hour and never give up catching up: every session starts at once.
UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59.999999';
UPDATE nps.setting SET value = '10 years' WHERE key = 'catch_up_limit';

CREATE TABLE bench_reply_result (round integer, mode text, alerts boolean, replies integer, answers bigint,
                                 alerts_raised bigint, seconds float8, cpu_seconds float8);

-- Fresh sessions for one run, started, and their replies in reply_stream.
CREATE PROCEDURE bench_reply_prepare(p_round integer, p_alerts boolean, p_sessions integer, p_singles integer)
LANGUAGE plpgsql AS $$
DECLARE
    last_session bigint;
BEGIN
    SELECT coalesce(max(id), 0) INTO last_session FROM nps.session;
    PERFORM nps.generate_visits(p_sessions + p_singles, '2026-01-01 00:00+03', '2026-02-01 00:00+03',
                                1000 + 2 * p_round + p_alerts::integer, 1000000000);
    PERFORM nps.run_due('2026-03-01 12:00+03');
    DROP TABLE IF EXISTS reply_stream;
    CREATE TABLE reply_stream AS
    WITH s AS (SELECT id, msisdn, short_code, row_number() OVER (ORDER BY id) AS n
               FROM nps.session WHERE id > last_session AND state = 'active')
    SELECT row_number() OVER (ORDER BY s.n > p_sessions, b.question_no, s.n) AS id, s.id AS session_id,
           s.n > p_sessions AS single, s.msisdn, s.short_code,
           CASE WHEN b.question_no = 2 THEN b.comment
                WHEN b.question_no IN (1, 3) THEN b.score::text
                WHEN b.score = 1 THEN 'да' ELSE 'нет' END AS body
    FROM s JOIN bench_answer b ON b.seq = s.n
    WHERE s.n <= p_sessions + p_singles;
    CREATE INDEX ON reply_stream (id);
    -- Every run starts from fresh statistics, whatever the runs before it left.
    ANALYZE reply_stream, nps.session, nps.visit, nps.inbox, nps.answer, nps.outbox, nps.alert;
    EXECUTE format('ALTER TABLE nps.answer %s TRIGGER answer_alerts_insert', CASE WHEN p_alerts THEN 'ENABLE' ELSE 'DISABLE' END);
    EXECUTE format('ALTER TABLE nps.answer %s TRIGGER answer_alerts_update', CASE WHEN p_alerts THEN 'ENABLE' ELSE 'DISABLE' END);
END $$;

-- One run: the replies of reply_stream, batched then one per transaction;
-- the clock and the CPU are read before the counts (counting is not ingest).
CREATE PROCEDURE bench_reply_run(p_round integer, p_alerts boolean, p_batch integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    c0 float8;
    seconds float8;
    cpu float8;
    n integer;
    r record;
BEGIN

    SELECT count(*) INTO n FROM reply_stream WHERE NOT single;
    t0 := clock_timestamp();
    c0 := bench_cpu();
    FOR b IN 0 .. (n - 1) / p_batch LOOP
        INSERT INTO nps.inbox (msisdn, short_code, body)
        SELECT msisdn, short_code, body FROM reply_stream
        WHERE id > b * p_batch AND id <= least((b + 1) * p_batch, n) ORDER BY id;
        COMMIT;
    END LOOP;
    seconds := extract(epoch FROM clock_timestamp() - t0);
    cpu := bench_cpu() - c0;
    INSERT INTO bench_reply_result VALUES (p_round, 'reply batch', p_alerts, n,
        (SELECT count(*) FROM nps.answer WHERE session_id IN (SELECT session_id FROM reply_stream WHERE NOT single)),
        (SELECT count(*) FROM nps.alert WHERE session_id IN (SELECT session_id FROM reply_stream WHERE NOT single)),
        seconds, cpu);
    COMMIT;

    SELECT count(*) INTO n FROM reply_stream WHERE single;
    t0 := clock_timestamp();
    c0 := bench_cpu();
    FOR r IN SELECT * FROM reply_stream WHERE single ORDER BY id LOOP
        PERFORM nps.receive(r.msisdn, r.short_code, r.body);
        COMMIT;
    END LOOP;
    seconds := extract(epoch FROM clock_timestamp() - t0);
    cpu := bench_cpu() - c0;
    INSERT INTO bench_reply_result VALUES (p_round, 'reply single', p_alerts, n,
        (SELECT count(*) FROM nps.answer WHERE session_id IN (SELECT session_id FROM reply_stream WHERE single)),
        (SELECT count(*) FROM nps.alert WHERE session_id IN (SELECT session_id FROM reply_stream WHERE single)),
        seconds, cpu);
    COMMIT;
END $$;

-- Alternate off/on, on first every other round: the tables grow from run to
-- run, and drift on a shared machine should hit both alike.
SELECT format('CALL bench_reply_prepare(%s, %L, %s, %s)', r, a, :reply_sessions, :reply_singles),
       format('CALL bench_reply_run(%s, %L, %s)', r, a, :batch)
FROM generate_series(1, :rounds) r, unnest(ARRAY[false, true]) a ORDER BY r, a <> (r % 2 = 0) \gexec

\pset footer off
SELECT mode, alerts, count(*) AS rounds, max(replies) AS replies, min(answers) AS answers_min, max(answers) AS answers_max,
       max(alerts_raised) AS alerts_raised,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::numeric, 3) AS median_s,
       round((max(replies) / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::numeric) AS replies_per_s,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds)::numeric, 2) AS median_cpu_s
FROM bench_reply_result GROUP BY mode, alerts ORDER BY mode, alerts;
SELECT mode, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE alerts)
              / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE NOT alerts))::numeric, 3) AS on_off_ratio,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds) FILTER (WHERE alerts)
              / percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds) FILTER (WHERE NOT alerts))::numeric, 3) AS cpu_ratio
FROM bench_reply_result GROUP BY mode ORDER BY mode;
SELECT round, mode, alerts, replies, answers, alerts_raised, round(seconds::numeric, 3) AS seconds,
       round(cpu_seconds::numeric, 2) AS cpu_seconds
FROM bench_reply_result ORDER BY round, mode, alerts;

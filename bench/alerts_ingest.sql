-- bench/alerts_ingest.sql: reply ingest with alerts on vs off, in one run.
-- Loaded by bench/alerts_ingest.sh into a fresh database; psql variables:
--   answers  number of answers per run (default 100000)
--   batch    answers per INSERT statement (default 1000)
--   rounds   alternating off/on rounds (default 3)
--   singles  answers inserted one per statement per run (default 5000)
\set ON_ERROR_STOP 1
\if :{?answers} \else \set answers 100000 \endif
\if :{?batch} \else \set batch 1000 \endif
\if :{?rounds} \else \set rounds 3 \endif
\if :{?singles} \else \set singles 5000 \endif
SET client_min_messages = warning;
CREATE EXTENSION nps CASCADE;

-- A national network and enough sessions for six answers each.
SELECT nps.generate_network(42) \gset
SELECT nps.generate_visits((:answers / 6 + :singles / 6 + 10)::integer, '2026-09-01 00:00+03', '2026-09-30 00:00+03', 42) AS visits \gset

-- Answers made once, replayed in every run, in the proportions of the
-- reference deployment: 60% promoters, 25% passives, 15% detractors; about 3%
-- of comments alarm (80,000 a year out of 2.6 million questionnaires); 3% say
-- paid services were added without consent, 10% that the question is not solved.
CREATE TABLE bench_answer AS
WITH s AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM nps.session),
texts AS (SELECT array[
    'Всё отлично, спасибо', 'Быстро и вежливо обслужили', 'Нормально', 'Специалист всё объяснил понятно',
    'Долго ждал, но в итоге всё решили', 'Меня не обманули, всё честно', 'Никто не хамил, всё вежливо',
    'Хороший салон, рекомендую', 'Дорого', 'Очередь была небольшая, всё хорошо'] AS calm,
    array['Меня обманули с тарифом', 'Продавец нахамил и отказался помогать',
    'Подключили платные подписки, о которых я не просил', 'Деньги за возврат телефона так и не вернули',
    'Навязали страховку и ненужный аксессуар'] AS alarming)
SELECT s.n AS seq, s.id AS session_id, q.q AS question_no,
       CASE q.q
           WHEN 1 THEN (SELECT CASE WHEN u < 0.15 THEN floor(u / 0.15 * 7) WHEN u < 0.40 THEN 7 + floor((u - 0.15) / 0.25 * 2)
                                    ELSE 9 + floor((u - 0.40) / 0.60 * 2) END
                        FROM (SELECT nps.sample_random(42, s.n, 'q1') AS u) x)::smallint
           WHEN 2 THEN NULL
           WHEN 3 THEN 1 + floor(nps.sample_random(42, s.n, 'q3') * 5)::smallint
           WHEN 4 THEN (nps.sample_random(42, s.n, 'q4') < 0.8)::int::smallint
           WHEN 5 THEN (nps.sample_random(42, s.n, 'q5') < 0.03)::int::smallint
           WHEN 6 THEN (nps.sample_random(42, s.n, 'q6') < 0.9)::int::smallint END AS score,
       CASE q.q WHEN 2 THEN CASE WHEN nps.sample_random(42, s.n, 'alarm') < 0.03
                                 THEN texts.alarming[1 + floor(nps.sample_random(42, s.n, 'q2') * 5)::int]
                                 ELSE texts.calm[1 + floor(nps.sample_random(42, s.n, 'q2') * 10)::int] END END AS comment,
       '2026-10-01 10:00+03'::timestamptz + s.n * interval '1 second' AS answered_at
FROM s CROSS JOIN generate_series(1, 6) q(q) CROSS JOIN texts;
CREATE INDEX ON bench_answer (seq);
ANALYZE bench_answer;

CREATE TABLE bench_result (round integer, mode text, alerts boolean, answers integer, seconds float8, alerts_raised bigint,
                           cpu_seconds float8);

-- CPU time of this backend (user + system, in clock ticks of 1/100 s) from
-- /proc: on a shared machine wall time includes waiting for a core, which
-- the other engineers' load makes vary by a factor of two; CPU time does not.
-- NULL where /proc cannot be read.
CREATE FUNCTION bench_cpu() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    f text[];
BEGIN
    -- the fields after "(comm) ": utime and stime are the 12th and 13th
    f := string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ');
    RETURN (f[12]::bigint + f[13]::bigint) / 100.0;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END $$;

-- One run: the first p_answers answers (batch mode) or the next p_singles
-- (one INSERT per answer), each statement its own transaction.
CREATE PROCEDURE bench_run(p_round integer, p_alerts boolean, p_answers integer, p_batch integer, p_singles integer)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    c0 float8;
    seconds float8;
    cpu float8;
    b integer;
    r record;
    per_session integer := 6;
    first_single bigint := p_answers / per_session + 1;
    first_session bigint := (SELECT min(session_id) FROM bench_answer WHERE seq = first_single);
BEGIN
    TRUNCATE nps.answer, nps.alert, nps.alert_event;
    EXECUTE format('ALTER TABLE nps.answer %s TRIGGER answer_alerts_insert', CASE WHEN p_alerts THEN 'ENABLE' ELSE 'DISABLE' END);
    EXECUTE format('ALTER TABLE nps.answer %s TRIGGER answer_alerts_update', CASE WHEN p_alerts THEN 'ENABLE' ELSE 'DISABLE' END);
    COMMIT;

    t0 := clock_timestamp();
    c0 := bench_cpu();
    FOR b IN 0 .. (p_answers / per_session - 1) / (p_batch / per_session) LOOP
        INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
        SELECT session_id, question_no, score, coalesce(comment, score::text), answered_at
        FROM bench_answer
        WHERE seq > b * (p_batch / per_session) AND seq <= least((b + 1) * (p_batch / per_session), p_answers / per_session);
        COMMIT;
    END LOOP;
    -- The clock and the CPU are read before the counts: counting is not
    -- ingest, and it costs more with alerts on (there are alerts to count).
    seconds := extract(epoch FROM clock_timestamp() - t0);
    cpu := bench_cpu() - c0;
    INSERT INTO bench_result VALUES (p_round, 'batch', p_alerts,
        (SELECT count(*) FROM nps.answer), seconds, (SELECT count(*) FROM nps.alert), cpu);
    COMMIT;

    t0 := clock_timestamp();
    c0 := bench_cpu();
    FOR r IN SELECT * FROM bench_answer WHERE seq >= first_single AND seq < first_single + p_singles / per_session ORDER BY seq, question_no LOOP
        INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
        VALUES (r.session_id, r.question_no, r.score, coalesce(r.comment, r.score::text), r.answered_at);
        COMMIT;
    END LOOP;
    seconds := extract(epoch FROM clock_timestamp() - t0);
    cpu := bench_cpu() - c0;
    -- bench_answer numbers sessions in the order of their ids
    INSERT INTO bench_result VALUES (p_round, 'single', p_alerts,
        (SELECT count(*) FROM nps.answer WHERE session_id >= first_session), seconds,
        (SELECT count(*) FROM nps.alert a WHERE a.session_id >= first_session), cpu);
    COMMIT;
END $$;

-- Alternate off/on so that drift on a shared machine hits both alike.
SELECT format('CALL bench_run(%s, %L, %s, %s, %s)', r, a, :answers, :batch, :singles)
FROM generate_series(1, :rounds) r, unnest(ARRAY[false, true]) a ORDER BY r, a \gexec

\pset footer off
SELECT mode, alerts, count(*) AS rounds, max(answers) AS answers, max(alerts_raised) AS alerts_raised,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)::numeric, 3) AS median_s,
       round((max(answers) / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::numeric) AS answers_per_s,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds)::numeric, 2) AS median_cpu_s
FROM bench_result GROUP BY mode, alerts ORDER BY mode, alerts;
SELECT mode, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE alerts)
              / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE NOT alerts))::numeric, 3) AS on_off_ratio,
       round((100 * (percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE alerts)
              / percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE NOT alerts) - 1))::numeric, 1) AS slower_pct,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds) FILTER (WHERE alerts)
              / percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_seconds) FILTER (WHERE NOT alerts))::numeric, 3) AS cpu_ratio
FROM bench_result GROUP BY mode ORDER BY mode;
SELECT round, mode, alerts, answers, round(seconds::numeric, 3) AS seconds, round(cpu_seconds::numeric, 2) AS cpu_seconds, alerts_raised FROM bench_result ORDER BY round, mode, alerts;

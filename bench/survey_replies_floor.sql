-- Replies benchmark, the floor: what the writes alone cost, whatever the
-- code around them.  Each reply taken through the dialogue stores its row in
-- nps.inbox, its answer in nps.answer, queues the next question in
-- nps.outbox and moves its session on: three rows and an update against the
-- baseline's one row.  In statements of :batch replies, as the dialogue
-- writes them (one statement per batch, the rows' values computed
-- beforehand: no matching, no parsing, no deciding), against the plain
-- INSERT of the same replies in the same batches:
--   A. the dialogue's writes to the nps tables as they are (their indexes,
--      checks and partitions), foreign-key checks and triggers off
--      (session_replication_role = replica);
--   B. the least any design of the issue writes: three rows, each in a
--      plain table with only its key, and the session's new question, a HOT
--      update of a narrow copy of the sessions;
--   C. B's three rows alone (a design that kept no session state).
-- Prints label | rows | seconds | cpu_s | ratio_cpu | ratio_wall.  Run by
-- bench/survey_bench.sh after survey_replies_setup.sql.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TEMP TABLE floor_result (label text, rows bigint, seconds numeric, cpu_s numeric);
CREATE FUNCTION pg_temp.cpu_s() RETURNS numeric LANGUAGE sql AS $$
    SELECT (f[12]::numeric + f[13]::numeric) / 100
    FROM string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') f
$$;
-- each reply with its session, question and what the dialogue would write
CREATE TEMP TABLE floor_src AS
SELECT rs.id, nps.id_base(now()) + 500000000 + rs.id AS inbox_id, s.id AS sid, rs.msisdn, rs.short_code, rs.body,
       ((rs.id - 1) * 6 / count(*) OVER () + 1)::smallint AS qno,
       CASE WHEN rs.body ~ '^[0-9]+$' THEN rs.body::smallint END AS score,
       'Оцените, пожалуйста, работу специалиста от 1 до 5'::text AS next_body
FROM reply_stream rs
JOIN nps.session s ON s.msisdn = rs.msisdn AND s.short_code = rs.short_code AND s.state = 'active';
ALTER TABLE floor_src ADD PRIMARY KEY (id);
DROP TABLE IF EXISTS floor_inbox, floor_answer, floor_outbox, floor_session;
CREATE TABLE floor_inbox (id bigint PRIMARY KEY, msisdn text NOT NULL, short_code text NOT NULL, body text NOT NULL,
                          received_at timestamptz NOT NULL, session_id bigint, status text NOT NULL);
CREATE TABLE floor_answer (session_id bigint, question_no smallint, score smallint, body text, inbox_id bigint,
                           answered_at timestamptz NOT NULL, PRIMARY KEY (session_id, question_no));
CREATE TABLE floor_outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, session_id bigint, msisdn text NOT NULL,
                           source_addr text NOT NULL, body text NOT NULL, kind text NOT NULL, question_no smallint,
                           queued_at timestamptz NOT NULL DEFAULT now());
-- half-full pages, so that nearly every update can be HOT
CREATE TABLE floor_session WITH (fillfactor = 50) AS
SELECT id, question_no, asked_at, reasked, updated_at FROM nps.session WHERE state = 'active';
ALTER TABLE floor_session ADD PRIMARY KEY (id);
VACUUM ANALYZE floor_src, floor_session, nps.session;
SELECT count(*) AS n FROM floor_src \gset
TRUNCATE plain_inbox;
CHECKPOINT;

SELECT clock_timestamp() AS t0, pg_temp.cpu_s() AS c0 \gset
SELECT format('INSERT INTO plain_inbox (msisdn, short_code, body) SELECT msisdn, short_code, body FROM floor_src WHERE id > %s AND id <= %s ORDER BY id', b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
INSERT INTO floor_result SELECT 'plain INSERT', :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;
CHECKPOINT;

SET session_replication_role = replica;
SELECT clock_timestamp() AS t0, pg_temp.cpu_s() AS c0 \gset
SELECT format($q$WITH src AS MATERIALIZED (SELECT * FROM floor_src WHERE id > %1$s AND id <= %2$s),
  i AS (INSERT INTO nps.inbox (id, msisdn, short_code, body, received_at, session_id, smsc_name, status)
        SELECT inbox_id, msisdn, short_code, body, now(), sid, 'bench', 'answered' FROM src ORDER BY id),
  a AS (INSERT INTO nps.answer (session_id, question_no, score, body, inbox_id, answered_at)
        SELECT sid, qno, score, body, inbox_id, now() FROM src ORDER BY id),
  o AS (INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no)
        SELECT sid, msisdn, short_code, next_body, 'question', qno + 1 FROM src ORDER BY id)
UPDATE nps.session s SET question_no = f.qno + 1, asked_at = now(), reasked = false, updated_at = now()
FROM src f WHERE s.id = f.sid$q$, b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
INSERT INTO floor_result SELECT 'A. the dialogue''s writes, no FK checks or triggers', :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;
RESET session_replication_role;
CHECKPOINT;

SELECT clock_timestamp() AS t0, pg_temp.cpu_s() AS c0 \gset
SELECT format($q$WITH src AS MATERIALIZED (SELECT * FROM floor_src WHERE id > %1$s AND id <= %2$s),
  i AS (INSERT INTO floor_inbox SELECT inbox_id, msisdn, short_code, body, now(), sid, 'answered' FROM src ORDER BY id),
  a AS (INSERT INTO floor_answer SELECT sid, qno, score, body, inbox_id, now() FROM src ORDER BY id),
  o AS (INSERT INTO floor_outbox (session_id, msisdn, source_addr, body, kind, question_no)
        SELECT sid, msisdn, short_code, next_body, 'question', qno + 1 FROM src ORDER BY id)
UPDATE floor_session s SET question_no = f.qno + 1, asked_at = now(), reasked = false, updated_at = now()
FROM src f WHERE s.id = f.sid$q$, b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
INSERT INTO floor_result SELECT 'B. three rows with keys only + HOT update', :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;
TRUNCATE floor_inbox, floor_answer, floor_outbox;
CHECKPOINT;

SELECT clock_timestamp() AS t0, pg_temp.cpu_s() AS c0 \gset
SELECT format($q$WITH src AS MATERIALIZED (SELECT * FROM floor_src WHERE id > %1$s AND id <= %2$s),
  i AS (INSERT INTO floor_inbox SELECT inbox_id, msisdn, short_code, body, now(), sid, 'answered' FROM src ORDER BY id),
  a AS (INSERT INTO floor_answer SELECT sid, qno, score, body, inbox_id, now() FROM src ORDER BY id)
INSERT INTO floor_outbox (session_id, msisdn, source_addr, body, kind, question_no)
SELECT sid, msisdn, short_code, next_body, 'question', qno + 1 FROM src ORDER BY id$q$, b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
INSERT INTO floor_result SELECT 'C. the three rows of B alone (no session update)', :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;

-- the writes happened: every reply, answer and question once, every session moved
SELECT (SELECT count(*) FROM nps.inbox WHERE smsc_name = 'bench' AND status = 'answered') AS a_inbox,
       (SELECT count(*) FROM nps.answer) AS a_answers, (SELECT count(*) FROM nps.outbox WHERE kind = 'question') AS a_outbox,
       (SELECT count(*) FROM floor_inbox) AS b_inbox, (SELECT count(*) FROM floor_answer) AS b_answers,
       (SELECT count(*) FROM floor_outbox) AS b_outbox,
       (SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'floor_session'::regclass) AS b_hot_updates;
\pset format unaligned
\pset fieldsep ' | '
SELECT label, rows, seconds, cpu_s,
       round(cpu_s / (SELECT cpu_s FROM floor_result WHERE label = 'plain INSERT'), 2) AS ratio_cpu,
       round(seconds / (SELECT seconds FROM floor_result WHERE label = 'plain INSERT'), 2) AS ratio_wall
FROM floor_result;
\pset format aligned

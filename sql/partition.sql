-- Monthly partitions of nps.answer (by session id) and nps.inbox (by id): ids that
-- encode their UTC month, rows landing in their month's partition, partitions created
-- ahead idempotently, unique keys across partitions, retention dropping an old month
-- while its aggregates stay, and the upgrade of a 0.2.0 database that holds rows.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

-- Ids: 10^10 per UTC month after the month of installation (month 0: the plain
-- counter).  01:00 on 1 December in Moscow is still November in UTC; 23:30 on
-- 31 December in New York is already January.
SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US "UTC"') AS at, nps.id_month(nps.id_base(t) + 42) AS month,
       (nps.id_base(t) - nps.id_base('2026-11-15 12:00+00')) / 10000000000 AS months_after_november
FROM (VALUES ('2026-11-30 23:59:59.999999+00'::timestamptz), ('2026-12-01 01:00+03'),
             ('2026-12-01 00:00+00'), ('2026-12-31 23:30-05'), ('2025-01-31 23:30-05')) v(t);
SELECT nps.id_epoch() = date_trunc('month', now() AT TIME ZONE 'UTC') AS epoch_is_this_month,
       nps.id_base(now()) = 0 AS this_month_starts_at_0, nps.id_month(1) = nps.id_epoch() AS first_id_in_epoch;

-- The install made this month's partitions and partition_months_ahead (3) more.
SELECT parent, count(*) AS partitions,
       count(*) FILTER (WHERE month >= date_trunc('month', now() AT TIME ZONE 'UTC')) AS current_and_ahead
FROM nps.partitions GROUP BY 1 ORDER BY 1;

-- Created ahead, idempotently: January..April 2025 (the UTC month of p_at and three more).
SELECT nps.ensure_partitions('2024-12-31 23:30-05') AS created;
SELECT nps.ensure_partitions('2024-12-31 23:30-05') AS created_again;
SELECT parent, partition, month, to_id - from_id AS ids, from_id = nps.id_base(month) AS from_month_start FROM nps.partitions
WHERE month < '2025-06-01' ORDER BY 1, 3;
-- A partition has the indexes, constraints and triggers of its table.
SELECT indexdef FROM pg_indexes WHERE tablename = 'inbox_202501' ORDER BY 1;
SELECT conname FROM pg_constraint WHERE conrelid = 'nps.inbox_202501'::regclass ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'nps.inbox_202501'::regclass AND NOT tgisinternal ORDER BY 1;

-- A small network and a survey.
INSERT INTO nps.region (code, name, time_zone) VALUES ('MOW', 'Москва', 'Europe/Moscow');
INSERT INTO nps.dealer (code, name, region_code) VALUES ('DA', 'Дилер A', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES ('SA1', 'A', 'DA', 'MOW');

-- Rows drawn now land in this month's partitions: a visit's session id carries the
-- month, a reply's id too, and the answer follows its session.
UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59.999999';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES ('79160000001', 'SA1', now() - interval '24 days 1 hour', 'now-1');
SELECT nps.run_due(now()) AS started;
SELECT nps.id_month(s.id) = date_trunc('month', now() AT TIME ZONE 'UTC')::date AS session_id_of_this_month
FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = 'now-1';
SELECT nps.receive('79160000001', (SELECT short_code FROM nps.session WHERE msisdn = '79160000001'), '9') AS reply \gset
SELECT i.tableoid::regclass::text = 'nps.inbox_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM') AS reply_in_this_month,
       a.tableoid::regclass::text = 'nps.answer_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM') AS answer_in_this_month,
       i.status, a.score
FROM nps.inbox i JOIN nps.answer a ON a.inbox_id = i.id WHERE i.id = :reply;

-- Rows with ids of January 2025: a visit of 2 January whose session was scheduled
-- then, and its answers and replies; one more in March.  An id drawn at 02:30 on
-- 1 February in Moscow (23:30 on 31 January UTC) is January's.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79160000002', 'SA1', '2025-01-02 12:00+03', 'jan-1'),
    ('79160000003', 'SA1', '2025-01-03 12:00+03', 'jan-2'),
    ('79160000004', 'SA1', '2025-03-02 12:00+03', 'mar-1');
UPDATE nps.session s SET id = nps.id_base(v.occurred_at) + s.id % 10000000000
FROM nps.visit v WHERE v.id = s.visit_id AND v.external_ref IN ('jan-1', 'jan-2', 'mar-1');
INSERT INTO nps.inbox (id, msisdn, short_code, body, received_at, status, dedupe_key) VALUES
    (nps.id_base('2025-01-27 12:00+03') + 1, '79160000002', '0650', '9', '2025-01-27 12:00+03', 'answered', 'smsc-a:1'),
    (nps.id_base('2025-02-01 02:30+03') + 2, '79160000003', '0650', '3 плохо', '2025-01-31 23:30+00', 'answered', 'smsc-a:2'),
    (nps.id_base('2025-02-01 02:45+03') + 3, '79160000003', '0650', 'STOP', '2025-01-31 23:45+00', 'opt_out', NULL),
    (nps.id_base('2025-03-27 12:00+03') + 4, '79160000004', '0650', '10', '2025-03-27 12:00+03', 'answered', 'smsc-a:4'),
    (nps.id_base('2025-02-01 03:00+03') + 5, '79160000003', '0650', 'спасибо', '2025-02-01 00:00+00', 'late', NULL);
SELECT id - nps.id_base(nps.id_month(id)) AS n, nps.id_month(id), tableoid::regclass AS partition,
       received_at AT TIME ZONE 'UTC' AS received_utc
FROM nps.inbox WHERE id < nps.id_base('2026-01-01') ORDER BY id;
INSERT INTO nps.answer (session_id, question_no, score, body, inbox_id, answered_at)
SELECT s.id, 1, x.score, x.body, x.inbox_id, x.at
FROM (VALUES ('jan-1', 9, '9', nps.id_base('2025-01-01') + 1, '2025-01-27 12:00+03'::timestamptz),
             ('jan-2', 3, '3 плохо', nps.id_base('2025-01-01') + 2, '2025-02-01 02:30+03'),
             -- answered in March, from a reply stored in January (it keeps the answer, not the link)
             ('mar-1', 10, '10', nps.id_base('2025-01-01') + 1, '2025-03-27 12:00+03')) x(ref, score, body, inbox_id, at)
JOIN nps.visit v ON v.external_ref = x.ref JOIN nps.session s ON s.visit_id = v.id;
INSERT INTO nps.opt_out (msisdn, opted_at, inbox_id) VALUES ('79160000003', '2025-02-01 00:00+00', nps.id_base('2025-01-01') + 3);
SELECT v.external_ref, a.tableoid::regclass AS partition, a.score FROM nps.answer a
JOIN nps.session s ON s.id = a.session_id JOIN nps.visit v ON v.id = s.visit_id
WHERE v.external_ref <> 'now-1' ORDER BY 1;

-- Unique keys hold across partitions.  One answer per session and question:
\set VERBOSITY terse
INSERT INTO nps.answer (session_id, question_no, score, answered_at)
SELECT s.id, 1, 5, '2025-01-28 12:00+03' FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = 'jan-1';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.answer (session_id, question_no, score, answered_at)
SELECT s.id, 1, 5, '2025-01-28 12:00+03' FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref = 'jan-1'
ON CONFLICT (session_id, question_no) DO NOTHING;
-- The dedupe key of a reply, here one stored in March against one of January:
INSERT INTO nps.inbox (id, msisdn, short_code, body, received_at, status, dedupe_key)
VALUES (nps.id_base('2025-03-28 12:00+03') + 6, '79160000004', '0650', '10', '2025-03-28 12:00+03', 'answered', 'smsc-a:1');
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.inbox SET dedupe_key = 'smsc-a:2' WHERE id = nps.id_base('2025-03-01') + 4;
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.inbox SET dedupe_key = 'smsc-a:4b' WHERE id = nps.id_base('2025-03-01') + 4;
SELECT dedupe_key, inbox_id - nps.id_base(nps.id_month(inbox_id)) AS n FROM nps.inbox_dedupe_key ORDER BY 1;
-- An id outside every partition is refused (a month never created):
INSERT INTO nps.inbox (id, msisdn, short_code, body) VALUES (nps.id_base('2030-01-01') + 7, '79160000004', '0650', 'x');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- Retention.  Figures first; then, 400 days of raw rows as of 15 March 2026: the
-- month of January 2025 (session ids and reply ids) goes whole; February, March
-- and the rows from before partitioning stay.
SELECT nps.refresh(true) ->> 'mode' AS refresh;
SELECT period, code, responses, promoters, detractors, nps FROM nps.nps_by_salon
WHERE period_kind = 'month' AND period < '2026-01-01' ORDER BY period;
-- The January sessions never ran (scheduled): answers could still come, their month stays.
SELECT parent, partition FROM nps.expired_partitions('2025-02-08 12:00+00') ORDER BY 1, 2;
UPDATE nps.session s SET state = CASE v.external_ref WHEN 'jan-1' THEN 'completed' ELSE 'expired' END
FROM nps.visit v WHERE v.id = s.visit_id AND v.external_ref IN ('jan-1', 'jan-2');
SELECT parent, partition, newest AT TIME ZONE 'UTC' AS newest_utc FROM nps.expired_partitions('2025-02-08 12:00+00') ORDER BY 1, 2;
SELECT r - 'texts_erased' - 'replies_erased' AS retention
FROM nps.apply_retention('2026-03-15 12:00+00') r;
SELECT partition FROM nps.partitions WHERE month < '2025-06-01' ORDER BY 1;
SELECT to_regclass('nps.answer_202501') IS NULL AS answers_gone, to_regclass('nps.inbox_202501') IS NULL AS replies_gone;
-- The March answer lost its link to the January reply, the opt-out too (the STOP stays honoured):
SELECT a.score, a.inbox_id FROM nps.answer a WHERE a.answered_at = '2025-03-27 12:00+03';
SELECT msisdn, inbox_id FROM nps.opt_out;
SELECT dedupe_key FROM nps.inbox_dedupe_key ORDER BY 1;
SELECT external_ref FROM nps.visit ORDER BY 1;
-- The aggregates of January stay, also through a full refresh (the days are frozen).
SELECT frozen_before FROM nps.analytics_state;
SELECT nps.refresh(true) ->> 'mode' AS refresh;
SELECT period, code, responses, promoters, detractors, nps FROM nps.nps_by_salon
WHERE period_kind = 'month' AND period < '2026-01-01' ORDER BY period;
-- A partition that is not one is refused.
SELECT nps.drop_partition('nps.visit');
\echo :LAST_ERROR_SQLSTATE

-- Upgrade of a 0.2.0 database holding rows: every row stays (the old tables become
-- the partitions of month 0), with grants, comments, policies, triggers and the views that read
-- the tables, the user's own included.
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
CREATE EXTENSION nps VERSION '0.2.0' CASCADE;
RESET client_min_messages;
SELECT nps.generate_network(7) IS NOT NULL AS network;
UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59.999999';
UPDATE nps.setting SET value = '10 years' WHERE key = 'catch_up_limit';
SELECT nps.generate_visits(200, '2026-01-01 00:00+03', '2026-02-01 00:00+03', 7, 1000000000) AS visits;
SELECT nps.run_due('2026-03-01 12:00+03') > 0 AS started;
SELECT count(nps.receive(msisdn, short_code, '9', '2026-03-01 13:00+03')) AS replies
FROM nps.session WHERE state = 'active';
SELECT count(nps.receive(msisdn, short_code, CASE WHEN id % 10 = 0 THEN 'STOP' ELSE 'Долго ждал' END, '2026-03-01 14:00+03')) AS replies
FROM nps.session WHERE state = 'active';
UPDATE nps.inbox SET dedupe_key = 'k' || id WHERE id % 3 = 0;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nps_partition_reader') THEN CREATE ROLE nps_partition_reader; END IF;
END $$;
GRANT SELECT ON nps.answer TO nps_partition_reader;
GRANT SELECT (id, status) ON nps.inbox TO nps_partition_reader;
COMMENT ON INDEX nps.answer_answered_at IS 'retention and refresh';
CREATE VIEW public.my_answers AS SELECT a.session_id, a.score, i.status FROM nps.answer a JOIN nps.inbox i ON i.id = a.inbox_id;
ALTER TABLE nps.inbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY inbox_own ON nps.inbox FOR SELECT TO nps_partition_reader USING (status <> 'opt_out');
CREATE FUNCTION public.count_answers() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER my_answer_trigger AFTER DELETE ON nps.answer FOR EACH ROW EXECUTE FUNCTION public.count_answers();
ALTER TABLE nps.answer DISABLE TRIGGER my_answer_trigger;
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM nps.answer) AS answers, (SELECT count(*) FROM nps.inbox) AS replies,
       (SELECT count(*) FROM nps.session) AS sessions, (SELECT count(*) FROM nps.opt_out WHERE inbox_id IS NOT NULL) AS opt_outs,
       (SELECT count(*) FROM public.my_answers) AS my_answers, (SELECT max(id) FROM nps.session) AS last_session,
       (SELECT sum(hashtext(a::text)) FROM nps.answer a) AS answer_hash, (SELECT sum(hashtext(i::text)) FROM nps.inbox i) AS inbox_hash,
       'nps.answer'::regclass::oid AS answer_table, 'nps.inbox'::regclass::oid AS inbox_table;
SELECT answers, replies, sessions, opt_outs, my_answers FROM before;

-- A view of the user's own on the tables cannot be replaced by the upgrade: it says so.
ALTER EXTENSION nps UPDATE TO '0.3.0';
\echo :LAST_ERROR_SQLSTATE
SELECT extversion FROM pg_extension WHERE extname = 'nps';
DROP VIEW public.my_answers;
ALTER EXTENSION nps UPDATE TO '0.3.0';
CREATE VIEW public.my_answers AS SELECT a.session_id, a.score, i.status FROM nps.answer a JOIN nps.inbox i ON i.id = a.inbox_id;

SELECT (SELECT count(*) FROM nps.answer) = answers AS answers_kept, (SELECT count(*) FROM nps.inbox) = replies AS replies_kept,
       (SELECT count(*) FROM nps.answer a JOIN nps.partitions p ON p.partition = a.tableoid WHERE p.month = nps.id_epoch() AND p.partition = answer_table) = answers AS answers_in_old_table,
       (SELECT count(*) FROM nps.inbox i JOIN nps.partitions p ON p.partition = i.tableoid WHERE p.month = nps.id_epoch() AND p.partition = inbox_table) = replies AS replies_in_old_table,
       (SELECT sum(hashtext(a::text)) FROM nps.answer a) = answer_hash AS answers_same, (SELECT sum(hashtext(i::text)) FROM nps.inbox i) = inbox_hash AS replies_same,
       (SELECT count(*) FROM nps.opt_out WHERE inbox_id IS NOT NULL) = opt_outs AS opt_out_links_kept,
       (SELECT count(*) FROM public.my_answers) = my_answers AS user_view_works
FROM before;
SELECT relname, relkind FROM pg_class WHERE oid IN ('nps.answer'::regclass, 'nps.inbox'::regclass) ORDER BY 1;
SELECT has_table_privilege('nps_partition_reader', 'nps.answer', 'SELECT') AS answer_grant,
       has_column_privilege('nps_partition_reader', 'nps.inbox', 'status', 'SELECT') AS inbox_column_grant,
       has_column_privilege('nps_partition_reader', 'nps.inbox', 'body', 'SELECT') AS inbox_body_hidden;
SELECT obj_description('nps.answer_answered_at'::regclass) AS index_comment, obj_description('nps.inbox'::regclass) AS table_comment;
SELECT relrowsecurity FROM pg_class WHERE oid = 'nps.inbox'::regclass;
SELECT policyname, roles, cmd, qual FROM pg_policies WHERE tablename = 'inbox';
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid IN ('nps.answer'::regclass, 'nps.inbox'::regclass) AND NOT tgisinternal ORDER BY 1;
SELECT conrelid::regclass, conname FROM pg_constraint
WHERE confrelid IN ('nps.answer'::regclass, 'nps.inbox'::regclass) AND conparentid = 0 ORDER BY 1::text, 2;
-- The extension's views read the partitioned tables, none the old tables (now partitions).
SELECT CASE WHEN d.refobjid IN (answer_table, inbox_table) THEN 'old table' ELSE d.refobjid::regclass::text END AS reads,
       string_agg(DISTINCT w.ev_class::regclass::text, ', ') AS views
FROM before, pg_depend d JOIN pg_rewrite w ON w.oid = d.objid
WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid IN ('nps.answer'::regclass, 'nps.inbox'::regclass, answer_table, inbox_table)
  AND w.ev_class <> d.refobjid
GROUP BY 1 ORDER BY 1;
SELECT pg_get_function_identity_arguments('nps.raise_alerts'::regproc) AS raise_alerts_takes;
-- Dedupe keys moved and still refuse a duplicate.
SELECT count(*) = (SELECT count(*) FROM nps.inbox WHERE dedupe_key IS NOT NULL) AS keys_moved FROM nps.inbox_dedupe_key;
UPDATE nps.inbox SET dedupe_key = (SELECT min(dedupe_key) FROM nps.inbox) WHERE id = (SELECT min(id) FROM nps.inbox WHERE dedupe_key IS NULL);
\echo :LAST_ERROR_SQLSTATE
-- The dialogue goes on: the upgrade's month is month 0, whose partition is the old table.
SELECT count(nps.receive(msisdn, short_code, '5', '2026-03-01 15:00+03')) AS replies FROM nps.session WHERE state = 'active';
SELECT a.tableoid = answer_table AS in_old_table, count(*) FROM nps.answer a, before GROUP BY 1;
SELECT i.tableoid = inbox_table AS in_old_table, count(*) FROM nps.inbox i, before GROUP BY 1;
SELECT nps.generate_visits(3, '2026-02-01 00:00+03', '2026-02-02 00:00+03', 8, 1000000000) AS visits;
SELECT count(*) AS new_sessions, bool_and(nps.id_month(id) = nps.id_epoch()) AS ids_of_month_0
FROM nps.session, before WHERE id > last_session;
-- A month later ids move to the next range (as next_id() computes for a time a month on).
SELECT nps.id_month(nps.id_base((date_trunc('month', now() AT TIME ZONE 'UTC') + interval '40 days') AT TIME ZONE 'UTC') + 1)
       = (nps.id_epoch() + interval '1 month')::date AS next_month_range;
SELECT nps.refresh() ->> 'mode' AS refresh;
SELECT count(*) > 0 AS figures FROM nps.nps_by_region;

DROP VIEW public.my_answers;
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
RESET client_min_messages;
DROP FUNCTION public.count_answers();
DROP ROLE nps_partition_reader;

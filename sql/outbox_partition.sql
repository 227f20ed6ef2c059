SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;
-- Monthly partitions of the outgoing messages (0.4.0): nps.outbox by id and
-- nps.outbox_part by outbox_id, each month with fillfactor 40 on the
-- messages; the worker's statements across months (HOT claim and receipt on
-- a partition made later); retention of a month of messages only once every
-- message in it is final, its month of parts dropped first; the upgrade of a
-- 0.3.0 database holding messages.

-- Made at install (this month and three ahead) and ahead, idempotently, every
-- month of messages with fillfactor 40 (a partitioned table carries none).
SELECT parent, count(*) AS partitions FROM nps.partitions
WHERE parent IN ('nps.outbox'::regclass, 'nps.outbox_part'::regclass) GROUP BY 1 ORDER BY 1::text;
SELECT nps.ensure_partitions('2025-01-15 12:00+00') AS created;
SELECT nps.ensure_partitions('2025-01-15 12:00+00') AS created_again;
SELECT p.partition, c.reloptions FROM nps.partitions p JOIN pg_class c ON c.oid = p.partition
WHERE p.parent IN ('nps.outbox'::regclass, 'nps.outbox_part'::regclass) AND p.month < '2025-06-01' ORDER BY 1::text;
SELECT count(*) AS outbox_months, bool_and(c.reloptions = '{fillfactor=40}') AS all_fillfactor_40
FROM nps.partitions p JOIN pg_class c ON c.oid = p.partition WHERE p.parent = 'nps.outbox'::regclass;
-- A month has the indexes of its table: none on a column the claim or the
-- receipt changes (state, smsc_name, attempts, sent_at, not_before, done_at).
SELECT indexdef FROM pg_indexes WHERE tablename = 'outbox_202501' ORDER BY 1;
-- What points at the messages and their parts, and where they point.
SELECT conrelid::regclass AS referencing, conname, confrelid::regclass AS referenced, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE contype = 'f' AND conparentid = 0
  AND (confrelid IN ('nps.outbox'::regclass, 'nps.outbox_part'::regclass) OR conrelid IN ('nps.outbox'::regclass, 'nps.outbox_part'::regclass))
ORDER BY 1::text, 2;

-- Messages of January 2025 (ids of that month) and of this month.
INSERT INTO nps.outbox (id, msisdn, source_addr, body, queued_at)
SELECT nps.id_base('2025-01-10 10:00+00') + n, '7916000000' || n, '0650', b, '2025-01-10 10:00+00'
FROM (VALUES (1, 'jan one'), (2, 'jan two'), (3, 'jan three, in two parts')) v(n, b);
INSERT INTO nps.outbox (msisdn, source_addr, body) VALUES ('79160000001', '0650', 'now one'), ('79160000004', '0650', 'now four');
SELECT body, nps.id_month(id) = '2025-01-01' AS january, nps.id_month(id) = date_trunc('month', now() AT TIME ZONE 'UTC')::date AS this_month
FROM nps.outbox ORDER BY id;

-- The claim reads the months in id order; a subscriber's messages go one at
-- a time across months (now one waits for jan one).  HOT on the January
-- partition, created after the install by ensure_partitions().  (Ids of
-- months before nps.id_epoch() are negative, hence p_after: the worker's
-- never are.)
CREATE FUNCTION pg_temp.hot(p_rel regclass, OUT updated bigint, OUT hot bigint) LANGUAGE sql AS $$
    SELECT pg_stat_get_xact_tuples_updated(p_rel), pg_stat_get_xact_tuples_hot_updated(p_rel)
$$;
BEGIN;
SELECT updated AS u0, hot AS h0 FROM pg_temp.hot('nps.outbox_202501') \gset
SELECT id = nps.id_base('2025-01-10 10:00+00') + 1 AS jan_first, body FROM nps.smsc_claim('a', 10, -9223372036854775808);
SELECT updated - :u0 AS updated, hot - :h0 AS hot FROM pg_temp.hot('nps.outbox_202501');
COMMIT;
SELECT nps.id_base('2025-01-10 10:00+00') AS jan \gset
SELECT nps.smsc_submitted('a', ARRAY[:jan + 1, :jan + 2, :jan + 3], '{1,1,2}', '{j1,j2,j3a}',
                          ARRAY[:jan + 3, :jan + 3], '{1,2}', '{j3a,j3b}') AS recorded;
SELECT (SELECT id FROM nps.outbox WHERE body = 'now four') AS now4 \gset
SELECT nps.smsc_submitted('a', ARRAY[:now4::bigint], '{1}', '{n4}', '{}', '{}', '{}') AS recorded;
-- The parts live in their message's month.
SELECT tableoid::regclass AS partition, part_no, message_id FROM nps.outbox_part ORDER BY part_no;

-- Receipts: this month's message within receipt_window; January's after it
-- (looked for in every month), HOT on the January partition.
BEGIN;
SELECT updated AS u0, hot AS h0 FROM pg_temp.hot('nps.outbox_202501') \gset
SELECT nps.smsc_receipts('a', '{n4,j1,j3a,j3b}', '{delivered,delivered,delivered,delivered}', '{0,0,0,0}') AS matched;
SELECT updated - :u0 AS updated, hot - :h0 AS hot FROM pg_temp.hot('nps.outbox_202501');
COMMIT;
-- A receipt sent twice, and one whose submit_sm_resp has not come yet.
SELECT nps.smsc_receipts('a', '{j1,x9}', '{delivered,delivered}', '{0,0}') AS matched;
SELECT message_id, state FROM nps.receipt_pending;
SELECT body, state, message_id FROM nps.outbox ORDER BY id;

-- Retention.  A month of messages stays while one of them may still change:
-- jan two waits for its receipt.
SELECT parent, partition FROM nps.expired_partitions('2025-02-08 00:00+00')
WHERE parent IN ('nps.outbox'::regclass, 'nps.outbox_part'::regclass);
SELECT nps.smsc_receipts('a', '{j2}', '{failed}', '{11}') AS matched;
SELECT parent, partition FROM nps.expired_partitions('2025-02-08 00:00+00')
WHERE parent IN ('nps.outbox'::regclass, 'nps.outbox_part'::regclass);
-- A message still queued keeps its month however old; one submitted before
-- the retention limit without a receipt will never get one.
INSERT INTO nps.outbox (id, msisdn, source_addr, body, queued_at) VALUES (:jan + 5, '79160000005', '0650', 'jan five', '2025-01-11 10:00+00');
SELECT count(*) AS outbox_expired FROM nps.expired_partitions('2025-02-08 00:00+00') WHERE parent = 'nps.outbox'::regclass;
UPDATE nps.outbox SET state = 'submitted', message_id = 'j5', smsc_name = 'a', parts = 1, submitted_at = '2025-01-11 10:01+00'
WHERE id = :jan + 5;
SELECT count(*) AS outbox_expired FROM nps.expired_partitions('2025-02-08 00:00+00') WHERE parent = 'nps.outbox'::regclass;
UPDATE nps.outbox SET submitted_at = '2025-02-08 00:00+00' WHERE id = :jan + 5;
SELECT count(*) AS outbox_expired FROM nps.expired_partitions('2025-02-08 00:00+00') WHERE parent = 'nps.outbox'::regclass;
UPDATE nps.outbox SET submitted_at = '2025-01-11 10:01+00' WHERE id = :jan + 5;
-- Dropping the month of messages drops its month of parts first (whole, not
-- row by row); this month's messages and parts stay.
SELECT r -> 'partitions_dropped' AS dropped, r -> 'outbox_deleted' AS outbox_rows_deleted
FROM nps.apply_retention('2026-03-15 12:00+00') r;
SELECT to_regclass('nps.outbox_202501') IS NULL AS messages_gone, to_regclass('nps.outbox_part_202501') IS NULL AS parts_gone;
SELECT body, state FROM nps.outbox ORDER BY id;
SELECT count(*) AS parts FROM nps.outbox_part;
-- A month of parts is never dropped on its own.
SELECT count(*) FROM nps.expired_partitions('2030-01-01 00:00+00') WHERE parent = 'nps.outbox_part'::regclass;

-- Upgrade of a 0.3.0 database holding messages in every state, parts, a
-- receipt waiting for its submit_sm_resp, a grant and the extension's view
-- on the table: the old tables become the partitions of month 0.
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
CREATE EXTENSION nps VERSION '0.3.0' CASCADE;
RESET client_min_messages;
INSERT INTO nps.outbox (msisdn, source_addr, body, state, smsc_name, parts, message_id, submitted_at, done_at) VALUES
    ('79160000011', '0650', 'queued', 'queued', NULL, NULL, NULL, NULL, NULL),
    ('79160000012', '0650', 'sending', 'sending', 'a', NULL, NULL, NULL, NULL),
    ('79160000013', '0650', 'submitted', 'submitted', 'a', 1, 'u13', now(), NULL),
    ('79160000014', '0650', 'delivered', 'delivered', 'a', 1, 'u14', now(), now()),
    ('79160000015', '0650', 'failed', 'failed', 'a', 1, 'u15', now(), now()),
    ('79160000016', '0650', 'two parts', 'submitted', 'a', 2, 'u16a', now(), NULL),
    ('79160000012', '0650', 'queued behind', 'queued', NULL, NULL, NULL, NULL, NULL);
INSERT INTO nps.outbox_part (outbox_id, part_no, smsc_name, message_id)
SELECT id, n, 'a', 'u16' || chr(96 + n) FROM nps.outbox, generate_series(1, 2) n WHERE body = 'two parts';
INSERT INTO nps.receipt_pending (smsc_name, message_id, state, received_at) VALUES ('a', 'u18', 'delivered', now());
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nps_outbox_reader') THEN CREATE ROLE nps_outbox_reader; END IF;
END $$;
GRANT SELECT (id, state) ON nps.outbox TO nps_outbox_reader;
CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM nps.outbox) AS messages, (SELECT count(*) FROM nps.outbox_part) AS parts,
       (SELECT sum(hashtext(o::text)) FROM nps.outbox o) AS outbox_hash, (SELECT sum(hashtext(p::text)) FROM nps.outbox_part p) AS part_hash,
       (SELECT max(id) FROM nps.outbox) AS last_id, 'nps.outbox'::regclass::oid AS outbox_table, 'nps.outbox_part'::regclass::oid AS part_table;
-- A view of the user's own on the messages cannot be replaced by the upgrade: it says so.
CREATE VIEW public.my_messages AS SELECT id, state FROM nps.outbox;
ALTER EXTENSION nps UPDATE TO '0.4.0';
\echo :LAST_ERROR_SQLSTATE
DROP VIEW public.my_messages;
ALTER EXTENSION nps UPDATE TO '0.4.0';
SELECT extversion FROM pg_extension WHERE extname = 'nps';

SELECT (SELECT count(*) FROM nps.outbox) = messages AS messages_kept, (SELECT count(*) FROM nps.outbox_part) = parts AS parts_kept,
       (SELECT sum(hashtext(o::text)) FROM nps.outbox o) = outbox_hash AS messages_same,
       (SELECT sum(hashtext(p::text)) FROM nps.outbox_part p) = part_hash AS parts_same,
       (SELECT count(*) FROM nps.outbox WHERE tableoid = outbox_table) = messages AS messages_in_old_table,
       (SELECT count(*) FROM nps.outbox_part WHERE tableoid = part_table) = parts AS parts_in_old_table
FROM before;
SELECT x.what, c.relkind, c.reloptions, p.month = nps.id_epoch() AS month_0, p.from_id, p.to_id
FROM before CROSS JOIN LATERAL (VALUES ('outbox', 'nps.outbox'::regclass::oid), ('outbox_part', 'nps.outbox_part'::regclass::oid),
                                       ('old outbox', outbox_table), ('old outbox_part', part_table)) x(what, rel)
JOIN pg_class c ON c.oid = x.rel LEFT JOIN nps.partitions p ON p.partition = c.oid ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'nps.outbox'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT has_column_privilege('nps_outbox_reader', 'nps.outbox', 'state', 'SELECT') AS state_granted,
       has_column_privilege('nps_outbox_reader', 'nps.outbox', 'msisdn', 'SELECT') AS msisdn_hidden;
-- The extension's view reads the partitioned table, not the old one.
SELECT DISTINCT w.ev_class::regclass AS view, d.refobjid = outbox_table AS reads_old_table
FROM before, pg_depend d JOIN pg_rewrite w ON w.oid = d.objid
WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid IN ('nps.outbox'::regclass, outbox_table);
SELECT pg_get_expr(adbin, adrelid) AS id_default FROM pg_attrdef WHERE adrelid = 'nps.outbox'::regclass AND adnum = 1;
-- The foreign key of the parts holds (the message names this month's partition).
DO $$ BEGIN
    INSERT INTO nps.outbox_part (outbox_id, part_no, smsc_name, message_id) SELECT max(id) + 1000, 1, 'a', 'nothing' FROM nps.outbox;
EXCEPTION WHEN foreign_key_violation THEN
    RAISE NOTICE 'refused: %', SQLSTATE;
END $$;

-- The worker goes on: the queued are claimed (not the one behind, nor the
-- one in sending), a new message draws the next id, the submitted and the
-- parts take their receipts, the pending receipt meets its message.
SELECT body FROM nps.smsc_claim('a', 10) ORDER BY id;
INSERT INTO nps.outbox (msisdn, source_addr, body) VALUES ('79160000018', '0650', 'after the upgrade');
SELECT o.id > b.last_id AS id_after_old_ones, nps.id_month(o.id) = date_trunc('month', now() AT TIME ZONE 'UTC')::date AS this_month
FROM nps.outbox o, before b WHERE o.body = 'after the upgrade';
SELECT (SELECT id FROM nps.outbox WHERE body = 'after the upgrade') AS new_id, (SELECT id FROM nps.outbox WHERE body = 'queued') AS q_id \gset
SELECT count(*) AS claimed FROM nps.smsc_claim('a', 10);
SELECT nps.smsc_submitted('a', ARRAY[:q_id, :new_id]::bigint[], '{1,1}', '{u11,u18}', '{}', '{}', '{}') AS recorded;
SELECT nps.smsc_receipts('a', '{u13,u16a,u16b,u11}', '{delivered,delivered,delivered,failed}', '{0,0,0,69}') AS matched;
SELECT body, state, error_code FROM nps.outbox ORDER BY id;
SELECT count(*) AS pending FROM nps.receipt_pending;

DROP TABLE before;
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
RESET client_min_messages;
DROP ROLE nps_outbox_reader;

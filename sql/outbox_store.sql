SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;
-- The worker's store in 0.3.0: HOT state changes, single-part messages
-- without outbox_part rows, receipts recorded with their submit result,
-- requeued rows claimable again, and the upgrade of 0.2.0 rows.

INSERT INTO nps.outbox (msisdn, source_addr, body) VALUES
    ('79160000001', '0650', 'one'), ('79160000002', '0650', 'two'),
    ('79160000003', '0650', 'three'), ('79160000004', '0650', 'four'),
    ('79160000005', '0650', 'five');

-- No index covers what the claim and the receipt change: both are HOT
-- updates; recording the message id (indexed for the receipts) is not.
-- (Counters read inside one transaction block: the backend may report and
-- reset its pending counts between transactions.)  The rows live in the
-- monthly partitions (0.4.0), which count their own updates: each has
-- fillfactor 40, the partitioned table cannot carry it.
CREATE FUNCTION pg_temp.outbox_updates(OUT updated bigint, OUT hot bigint) LANGUAGE sql AS $$
    SELECT sum(pg_stat_get_xact_tuples_updated(relid)), sum(pg_stat_get_xact_tuples_hot_updated(relid))
    FROM pg_partition_tree('nps.outbox') WHERE isleaf
$$;
SELECT count(DISTINCT t.relid) AS partitions, bool_and(c.reloptions @> '{fillfactor=40}') AS fillfactor_40,
       count(DISTINCT o.tableoid) AS holding_the_rows
FROM pg_partition_tree('nps.outbox') t JOIN pg_class c ON c.oid = t.relid LEFT JOIN nps.outbox o ON o.tableoid = t.relid
WHERE t.isleaf;
BEGIN;
SELECT updated AS u0, hot AS h0 FROM pg_temp.outbox_updates() \gset
SELECT id, body FROM nps.smsc_claim('a', 10);
SELECT updated - :u0 AS updated, hot - :h0 AS hot FROM pg_temp.outbox_updates();
COMMIT;
BEGIN;
SELECT updated AS u0, hot AS h0 FROM pg_temp.outbox_updates() \gset
-- 1 and 2 accepted; 3 accepted with its receipt in the same batch
-- (delivered); 4 accepted with a failure receipt (err 11); 5 in two parts.
SELECT nps.smsc_submitted('a', '{1,2,3,4,5}', '{1,1,1,1,2}', '{aa01,aa02,aa03,aa04,aa05}',
                          '{5,5}', '{1,2}', '{aa05,aa06}', true,
                          '{NULL,NULL,delivered,failed,delivered}', '{0,0,0,11,0}') AS recorded;
SELECT updated - :u0 AS updated, hot - :h0 AS hot FROM pg_temp.outbox_updates();
COMMIT;
SELECT id, state, parts, message_id, error_code, error, done_at IS NOT NULL AS done FROM nps.outbox ORDER BY id;
-- Single-part messages have no part rows; the receipt given with a
-- multi-part message's resp does not finish it (its other part is out).
SELECT outbox_id, part_no, message_id, state FROM nps.outbox_part ORDER BY 1, 2;

BEGIN;
SELECT updated AS u0, hot AS h0 FROM pg_temp.outbox_updates() \gset
-- 1 exactly; 2 in decimal (0xaa02 = 43522); both parts of 5.
SELECT nps.smsc_receipts('a', '{aa01,43522,aa05,aa06}', '{delivered,delivered,delivered,delivered}', '{0,0,0,0}') AS matched;
SELECT updated - :u0 AS updated, hot - :h0 AS hot FROM pg_temp.outbox_updates();
COMMIT;
SELECT id, state FROM nps.outbox ORDER BY id;

-- A receipt sent twice for a finished message is matched, not kept as pending.
SELECT nps.smsc_receipts('a', '{aa01,AA03}', '{delivered,delivered}', '{0,0}') AS matched;
SELECT count(*) AS pending FROM nps.receipt_pending;
SELECT state FROM nps.outbox WHERE id = 1;

-- Put back in the queue by anyone (here an operator retrying a failed
-- message): it forgets the earlier outcome and the claim finds it again.
UPDATE nps.outbox SET state = 'queued' WHERE id = 4;
SELECT id, state, message_id, error_code, error FROM nps.outbox WHERE id = 4;
SELECT id, body FROM nps.smsc_claim('a', 10);
SELECT nps.smsc_recover('a') AS requeued_at_start;
SELECT id, state, attempts FROM nps.outbox WHERE id = 4;

-- ---------------------------------------------------------------------------
-- Upgrade of a 0.2.0 database holding rows in every state.
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
CREATE EXTENSION nps VERSION '0.2.0' CASCADE;
RESET client_min_messages;
INSERT INTO nps.outbox (msisdn, source_addr, body) VALUES
    ('79160000011', '0650', 'single'), ('79160000012', '0650', 'multi'),
    ('79160000013', '0650', 'in flight'), ('79160000014', '0650', 'waiting');
SELECT count(*) AS claimed FROM nps.smsc_claim('old', 3);
SELECT nps.smsc_submitted('old', '{1,2}', '{1,2}', '{b001,b002}', '{1,2,2}', '{1,1,2}', '{b001,b002,b003}');
-- a queued row with an error left by hand (0.2.0 did not forbid it)
UPDATE nps.outbox SET error_code = 88, error = 'old error' WHERE id = 4;
ALTER EXTENSION nps UPDATE TO '0.3.0';
SELECT outbox_id, part_no, message_id FROM nps.outbox_part ORDER BY 1, 2;
SELECT id, state, message_id, error_code, error FROM nps.outbox ORDER BY id;
-- the single-part message is found through nps.outbox.message_id
SELECT nps.smsc_receipts('old', '{b001}', '{delivered}', '{0}') AS matched;
SELECT nps.smsc_recover('old') AS requeued_at_start;
SELECT id, body FROM nps.smsc_claim('old', 10);
SELECT id, state FROM nps.outbox ORDER BY id;
SELECT reloptions FROM pg_class WHERE oid = 'nps.outbox'::regclass;

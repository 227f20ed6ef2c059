SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;
-- The SMPP engine's SQL side, without a network: claiming, recording,
-- receipts (hex and decimal ids, early receipts, multi-part), requeueing,
-- replies (redeliveries, concatenated parts), text decoding, status view.

INSERT INTO nps.outbox (msisdn, source_addr, body) VALUES
    ('79160000001', '0650', 'first to 1'),
    ('79160000002', '0650', 'first to 2'),
    ('79160000001', '0650', 'second to 1'),
    ('79160000003', '0650', 'first to 3');

-- One message per subscriber at a time, oldest first.
SELECT id, msisdn, body FROM nps.smsc_claim('a', 10);
SELECT id, state, smsc_name, attempts FROM nps.outbox ORDER BY id;
SELECT count(*) AS nothing_more FROM nps.smsc_claim('a', 10);

-- Message 1 accepted in two parts with hex ids; 2 refused; 4 outcome unknown.
SELECT nps.smsc_submitted('a', '{1}', '{2}', '{1a2b}', '{1,1}', '{1,2}', '{1a2b,1a2c}');
SELECT nps.smsc_failed('a', '{2}', '{69}', '{"refused by the SMSC: command_status 0x00000045"}');
SELECT nps.smsc_requeue('a', '{4}');
SELECT id, state, parts, message_id, error_code, error FROM nps.outbox ORDER BY id;

-- Now the second message to subscriber 1 may go (the first is submitted).
SELECT id, body FROM nps.smsc_claim('a', 10);

-- Spellings of an id: decimal <-> hex.
SELECT nps.message_id_spellings('6699'), nps.message_id_spellings('1a2b'), nps.message_id_spellings('1A2B'),
       nps.message_id_spellings('msg-1');

-- Receipts: part 1 given in decimal (6699 = 0x1a2b), part 2 in upper-case hex.
SELECT nps.smsc_receipts('a', '{6699}', '{delivered}', '{0}');
SELECT state FROM nps.outbox WHERE id = 1;
SELECT nps.smsc_receipts('a', '{1A2C}', '{delivered}', '{0}');
SELECT o.state, array_agg(p.state ORDER BY p.part_no) FROM nps.outbox o JOIN nps.outbox_part p ON p.outbox_id = o.id
WHERE o.id = 1 GROUP BY o.state;

-- A receipt that overtakes its submit_sm_resp waits, then applies.
SELECT nps.smsc_receipts('a', '{ff01}', '{failed}', '{11}');
SELECT message_id, state, error_code FROM nps.receipt_pending;
SELECT nps.smsc_submitted('a', '{3}', '{1}', '{65281}', '{3}', '{1}', '{65281}');
SELECT id, state, error_code, error FROM nps.outbox WHERE id = 3;
SELECT count(*) AS pending_left FROM nps.receipt_pending;

-- A crash leaves rows in sending: recovery queues them again.
SELECT nps.smsc_recover('a');
SELECT id, state, attempts FROM nps.outbox WHERE id = 4;

-- Text decoding as SMPP carries it.
SELECT nps.decode_sms(8, '\x041f04400438043204350442'::bytea) AS ucs2,
       nps.decode_sms(0, '\x48656c6c6f1b65'::bytea) AS gsm,
       nps.decode_sms(3, '\xe9'::bytea) AS latin1;
SELECT nps.decode_sms(5, '\x00'::bytea);
\echo :LAST_ERROR_SQLSTATE

-- Replies: stored through nps.receive; a redelivery of a reply stored before
-- a loss is stored as its duplicate (sql/redelivery.sql has the whole rule).
SELECT inbox_id > 0 AS stored, redelivery_of FROM nps.receive_from_smsc('a', '79161234567', '0650', '10', '2026-11-01 12:00:00+03');
SELECT inbox_id > 0 AS stored, redelivery_of = (SELECT min(id) FROM nps.inbox) AS redelivery
FROM nps.receive_from_smsc('a', '79161234567', '0650', '10', '2026-11-01 12:00:01+03',
                           ARRAY[(SELECT min(id) FROM nps.inbox)], ARRAY[now()]);
SELECT inbox_id > 0 AS stored, redelivery_of AS same_text_later_is_new FROM nps.receive_from_smsc('a', '79161234567', '0650', '10', '2026-11-01 12:00:02+03');
SELECT msisdn, short_code, body, smsc_name, received_at, status FROM nps.inbox ORDER BY id;

-- A concatenated reply in three UCS-2 parts, out of order, one part twice.
SELECT inbox_id FROM nps.receive_part_from_smsc('a', '79161234567', '0651', 7, 3, 2, 8, '\x0020'::bytea);
SELECT inbox_id FROM nps.receive_part_from_smsc('a', '79161234567', '0651', 7, 3, 1, 8, '\x041f04400438043204350442'::bytea);
SELECT inbox_id FROM nps.receive_part_from_smsc('a', '79161234567', '0651', 7, 3, 1, 8, '\x041f04400438043204350442'::bytea);
SELECT count(*) AS parts_waiting FROM nps.inbox_part;
SELECT inbox_id > 0 AS complete FROM nps.receive_part_from_smsc('a', '79161234567', '0651', 7, 3, 3, 8, '\x043c043804400021'::bytea);
SELECT body FROM nps.inbox WHERE short_code = '0651';
SELECT count(*) AS parts_waiting FROM nps.inbox_part;

-- Status: a bind with no worker (the regress cluster has nps.enabled off).
INSERT INTO nps.smsc (name, system_id, enabled) VALUES ('quiet', 'nps', false);
SELECT name, state, window_in_use, window_size, submitted, received FROM nps.smsc_status;

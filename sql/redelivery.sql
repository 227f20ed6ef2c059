-- Redelivered replies (schema/0.3.0/10_redelivery.sql): genuine identical
-- answers are kept, a redelivery of a reply stored before a loss is stored
-- once as its duplicate, and after a restart the candidates come from the
-- inbox and the outbox.
SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;

INSERT INTO nps.region (code, name, time_zone) VALUES ('MOW', 'Москва', 'Europe/Moscow');
INSERT INTO nps.dealer VALUES ('D1', 'Дилер 1', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES ('S1', 'Салон 1', 'D1', 'MOW');

-- A session for a new visit of msisdn: its first question is queued.
CREATE FUNCTION pg_temp.start(p_msisdn text) RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES (p_msisdn, 'S1', '2026-03-01 12:00+03', p_msisdn);
    SELECT nps.run_due('2026-03-25 12:00+03');
$$;
-- The worker of bind 'a' claims what is queued and the SMSC accepts it.
CREATE FUNCTION pg_temp.send_all() RETURNS integer
LANGUAGE sql AS $$
    SELECT coalesce(nps.smsc_submitted('a', array_agg(id), array_agg(1::smallint), array_agg('m' || id),
                                       array_agg(id), array_agg(1::smallint), array_agg('m' || id)), 0)
    FROM nps.smsc_claim('a', 100)
$$;
-- A reply on bind 'a' with the candidates the worker holds (all lost at p_lost).
CREATE FUNCTION pg_temp.reply(p_msisdn text, p_body text, p_candidates bigint[] DEFAULT NULL,
                              p_lost timestamptz DEFAULT NULL) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN r.redelivery_of IS NULL THEN 'reply ' || r.inbox_id
                ELSE 'duplicate ' || r.inbox_id || ' of ' || r.redelivery_of END
    FROM nps.receive_from_smsc('a', p_msisdn, '0650', p_body, now(), p_candidates,
                               CASE WHEN p_candidates IS NOT NULL
                                    THEN array_fill(p_lost, ARRAY[cardinality(p_candidates)]) END) r
$$;
CREATE TEMP VIEW got AS
SELECT i.id, i.msisdn, i.body, i.status, i.reason, i.dedupe_key,
       (SELECT a.question_no FROM nps.answer a WHERE a.inbox_id = i.id) AS answers_q
FROM nps.inbox i ORDER BY i.id;

-- 1. No loss, no candidates: the same text twice is two answers ("да" to
-- questions 4 and 5), whatever the time between them.
SELECT pg_temp.start('79000000001');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000001', '9');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000001', 'Хорошо');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000001', '5');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000001', 'да');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000001', 'да');
SELECT * FROM got;

-- 2. The connection is lost right after "5" (reply 8) was stored: its resp
-- may not have reached the SMSC.  The SMSC delivers "5" again before
-- question 4 went out: a duplicate of reply 8, kept out of the dialogue.
-- The subscriber then sends "5" once more on his own: a candidate absorbs
-- one redelivery only, so that one is a reply (question 4 gets it, not
-- understood: re-asked).
SELECT pg_temp.start('79000000002');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000002', '8');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000002', 'Нормально');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000002', '5') AS stored_before_the_loss;
SELECT clock_timestamp() AS lost \gset
SELECT pg_temp.reply('79000000002', '5', '{8}', :'lost') AS redelivered;
SELECT pg_temp.reply('79000000002', '5', '{8}', :'lost') AS sent_again;
SELECT * FROM got WHERE msisdn = '79000000002';

-- 3. Genuine identical answers across a loss: "да" to question 4 stored
-- before the loss (a candidate), question 5 first sent after the loss and
-- accepted, then "да" to it: an answer, not a redelivery.
SELECT pg_temp.send_all() AS q4_sent;
SELECT pg_temp.send_all() AS q4_reasked;
SELECT pg_temp.reply('79000000002', 'да') AS q4_answer;
SELECT clock_timestamp() AS lost \gset
SELECT pg_temp.send_all() AS q5_sent_after_the_loss;
SELECT pg_temp.reply('79000000002', 'да', '{11}', :'lost') AS q5_answer;
-- Question 6 claimed before the loss, its submit_sm never answered, proves
-- nothing: the SMSC may have read neither it nor the resp of that "да".
-- It goes again after the loss and is accepted: still nothing.
SELECT count(*) AS q6_claimed FROM nps.smsc_claim('a', 100);
SELECT clock_timestamp() AS lost \gset
SELECT nps.smsc_requeue('a', ARRAY(SELECT id FROM nps.outbox WHERE state = 'sending')) AS q6_requeued;
SELECT pg_temp.send_all() AS q6_sent_again;
SELECT pg_temp.reply('79000000002', 'да', '{12}', :'lost') AS redelivered;
-- Accepted before the loss (a transmitter_receiver bind: the candidate's
-- resp went on the other connection), the next message may draw the same
-- text: the thank-you needs no answer, but "да" to it is kept as a reply.
SELECT pg_temp.reply('79000000002', 'да') AS q6_answer;
SELECT pg_temp.send_all() AS thanks_sent;
SELECT clock_timestamp() AS lost \gset
SELECT pg_temp.reply('79000000002', 'да', '{14}', :'lost') AS after_the_thanks;
SELECT * FROM got WHERE id >= 11;

-- 4. Several candidates with the same text: each absorbs one redelivery,
-- the oldest first; a duplicate row can itself come again after a second
-- loss; a reply the worker does not name (its resp was read) absorbs none.
-- The subscriber sends "5" twice before anything else went out (the second
-- answers question 2), then the loss.
SELECT pg_temp.start('79000000003');
SELECT pg_temp.send_all();
SELECT pg_temp.reply('79000000003', '5');
SELECT pg_temp.reply('79000000003', '5');
SELECT clock_timestamp() AS lost \gset
SELECT pg_temp.reply('79000000003', '5', '{16,17}', :'lost') AS first;
SELECT pg_temp.reply('79000000003', '5', '{16,17}', :'lost') AS second;
SELECT pg_temp.reply('79000000003', '5', '{16,17}', :'lost') AS third;
SELECT pg_temp.reply('79000000003', '5', '{16,17,18}', :'lost') AS after_a_second_loss;
SELECT pg_temp.reply('79000000003', 'Ок', '{16,17,18}', :'lost') AS not_a_candidate;
SELECT * FROM got WHERE msisdn = '79000000003';
-- A sender in another form is the same subscriber.
SELECT pg_temp.reply('+7 900 000-00-03', '5', '{19}', :'lost') AS other_form;
-- The unique dedupe_key makes "once" hold even against a stale list.
INSERT INTO nps.inbox (msisdn, short_code, body, smsc_name, status, dedupe_key)
VALUES ('79000000003', '0650', '5', 'a', 'duplicate', 'redelivery:16');
\echo :LAST_ERROR_SQLSTATE

-- 5. After a restart: the replies of the bind's last minute stored after
-- the claim of the last message the SMSC accepted (its submit_sm followed
-- their resps), not yet repeated.  Times are set explicitly.
INSERT INTO nps.inbox (msisdn, short_code, body, smsc_name, received_at, stored_at, status)
SELECT '7900000010' || n, '0650', 'x', b, '2026-03-25 12:00+03'::timestamptz + s * interval '1 second',
       '2026-03-25 12:00+03'::timestamptz + s * interval '1 second', 'unmatched'
FROM (VALUES (1, 0, 'a'),     -- over a minute before the last: no longer in doubt
             (2, 50, 'a'),    -- before the last accepted claim (12:01:05)
             (3, 65, 'a'),    -- stored by the transaction that claimed it
             (4, 70, 'a'),    -- after it: in doubt
             (5, 75, 'a'),    -- in doubt, but its redelivery is already stored
             (6, 80, 'a'),    -- the last one: in doubt
             (7, 79, 'b')) v(n, s, b);   -- another bind
INSERT INTO nps.inbox (msisdn, short_code, body, smsc_name, received_at, stored_at, status, dedupe_key)
SELECT msisdn, short_code, body, 'a', stored_at, stored_at, 'duplicate', 'redelivery:' || id
FROM nps.inbox WHERE msisdn = '79000000105';
UPDATE nps.outbox SET smsc_name = 'a', state = 'delivered', queued_at = '2026-03-25 12:01+03',
       sent_at = '2026-03-25 12:01:05+03', submitted_at = '2026-03-25 12:01:06+03'
WHERE id = (SELECT min(id) FROM nps.outbox);
UPDATE nps.outbox SET smsc_name = 'a', state = 'sending', queued_at = '2026-03-25 12:01+03',
       sent_at = '2026-03-25 12:01:19+03', submitted_at = NULL        -- claimed, never answered
WHERE id = (SELECT min(id) + 1 FROM nps.outbox);
-- The duplicate row stored for 79000000105 is one (it may come again), the
-- reply it repeats is not; a restart before any of it finds none.
SELECT msisdn, status FROM nps.inbox
WHERE id = ANY (nps.smsc_redelivery_candidates('a', '2026-03-25 12:01:30+03')) ORDER BY id;
SELECT nps.smsc_redelivery_candidates('a', '2026-03-25 11:00+03') AS before_any;
-- The worker of 'a' had recorded that the SMSC read every resp up to
-- 79000000104's (schema/0.8.0/10_smsc_watermark.sql): only the replies
-- above that mark remain.  A mark is never lowered; each bind has its own.
INSERT INTO nps.smsc (name, system_id) VALUES ('a', 'a'), ('b', 'b');
SELECT nps.smsc_record_watermark('a', (SELECT id FROM nps.inbox WHERE msisdn = '79000000104'));
SELECT nps.smsc_record_watermark('a', (SELECT id FROM nps.inbox WHERE msisdn = '79000000102'));
SELECT nps.smsc_record_watermark('b', (SELECT max(id) FROM nps.inbox));
SELECT w.smsc_name, i.msisdn, i.status FROM nps.smsc_watermark w JOIN nps.inbox i ON i.id = w.inbox_id ORDER BY 1;
SELECT msisdn, status FROM nps.inbox
WHERE id = ANY (nps.smsc_redelivery_candidates('a', '2026-03-25 12:01:30+03')) ORDER BY id;

-- 6. While a reply may still come again, its subscriber's next message
-- waits (schema/0.6.0/10_redelivery_hold.sql): sent afresh after the loss,
-- it would make the redelivery look like a genuine answer to it.  "9" is
-- stored, the connection is lost before question 2 was claimed; another
-- subscriber's message goes meanwhile.
SELECT pg_temp.start('79000000004');
SELECT pg_temp.send_all() > 0 AS q1_sent;
SELECT (regexp_match(pg_temp.reply('79000000004', '9'), '\d+'))[1] AS nine \gset
SELECT clock_timestamp() AS lost \gset
SELECT pg_temp.start('79000000005');
SELECT msisdn, left(body, 20) AS body FROM nps.smsc_claim('a', 100, 0, ARRAY[:nine]::bigint[]);
-- The redelivery comes: a duplicate; the question is free to go.
SELECT pg_temp.reply('79000000004', '9', ARRAY[:nine]::bigint[], :'lost') ~ '^duplicate' AS redelivered;
SELECT msisdn, left(body, 20) AS body FROM nps.smsc_claim('a', 100, 0, ARRAY[:nine]::bigint[]);

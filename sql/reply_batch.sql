-- Replies stored many at a time (one INSERT of many rows) take exactly the
-- dialogue they take one by one: the same script of replies goes once
-- through nps.inbox, reply by reply, for subscribers 7900000xxxx, once as a
-- single multi-row INSERT for subscribers 7911000xxxx, and once in a single
-- nps.store_replies call (as the worker stores a flush) for subscribers
-- 7922000xxxx; the outcomes must match.  The script mixes several replies
-- of one session (taken in rounds, in order of arrival), re-asks, STOP
-- followed by a late reply, a score sent with STOP, senders in other number
-- forms, unknown senders, and a row the worker marked as a duplicate.
SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;

INSERT INTO nps.region (code, name, time_zone) VALUES ('MOW', 'Москва', 'Europe/Moscow');
INSERT INTO nps.dealer VALUES ('D1', 'Дилер 1', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES ('S1', 'Салон 1', 'D1', 'MOW');

-- Five subscribers in each group, each with a session started on 0650.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
SELECT p || '000' || n, 'S1', '2026-03-01 12:00+03', p || '-' || n
FROM unnest(ARRAY['7900000', '7911000', '7922000']) p, generate_series(1, 5) n;
SELECT nps.run_due('2026-03-25 12:00+03') AS started;

-- The script: the sender with {q} for the group's digits, short code, text.
CREATE TEMP TABLE script (no integer PRIMARY KEY, sender text, code text, body text, status text DEFAULT 'received');
INSERT INTO script (no, sender, code, body) VALUES
    (1, '7{q}0001', '0650', '9'),
    (2, '7{q}0002', '0650', '11'),                         -- out of range: re-asked
    (3, '7{q}0001', '0650', 'Быстро и вежливо'),
    (4, '7{q}0003', '0650', 'СТОП'),                       -- opts out ...
    (5, '7{q}0003', '0650', '5'),                          -- ... so this one is late
    (6, '7{q}0002', '0650', '8'),
    (7, '+7 {q}0004', '0650', '10'),                        -- other number forms, one session
    (8, '7{q}0001', '0650', '5'),
    (9, '8{q}0004', '0650', 'Отлично'),
    (10, '7{q}0002', '0650', ''),                          -- empty comment: re-asked
    (11, '7{q}0005', '0650', '8, больше не пишите'),       -- the score counts, then STOP
    (12, '7{q}0001', '0650', 'да'),
    (13, '7{q}0002', '0650', 'не знаю'),                   -- the comment, after its re-ask
    (14, '7{q}0001', '0650', 'нет'),
    (15, '7{q}0009', '0655', 'stop'),                      -- STOP with no session at all
    (16, '7{q}0007', '0650', '10'),                        -- unknown subscriber
    (17, 'MegaFon', '0650', 'Акция!'),                    -- not a number
    (18, '7{q}0001', '0650', 'да'),                        -- completes the survey
    (19, '7{q}0001', '0650', 'И ещё: спасибо!'),           -- late
    (20, '7{q}0004', '0650', '4');
INSERT INTO script (no, sender, code, body, status) VALUES
    (21, '7{q}0004', '0650', 'Отлично', 'duplicate');      -- marked by the worker: not processed

-- One by one, each reply its own statement (as the worker stores them).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM script ORDER BY no LOOP
        INSERT INTO nps.inbox (msisdn, short_code, body, received_at, status)
        VALUES (replace(r.sender, '{q}', '900000'), r.code, r.body,
                '2026-03-25 12:00+03'::timestamptz + r.no * interval '1 minute', r.status);
    END LOOP;
END $$;
-- All at once.
INSERT INTO nps.inbox (msisdn, short_code, body, received_at, status)
SELECT replace(sender, '{q}', '911000'), code, body,
       '2026-03-25 12:00+03'::timestamptz + no * interval '1 minute', status
FROM script ORDER BY no;
-- In one call, as the worker stores a flush (the inbox ids are drawn in the
-- order of the arrays); the worker stores a duplicate itself, after it.
SELECT cardinality(nps.store_replies('smsc1', array_agg(replace(sender, '{q}', '922000') ORDER BY no),
                                     array_agg(code ORDER BY no), array_agg(body ORDER BY no),
                                     array_agg('2026-03-25 12:00+03'::timestamptz + no * interval '1 minute' ORDER BY no)))
       AS stored
FROM script WHERE status = 'received';
INSERT INTO nps.inbox (msisdn, short_code, body, received_at, status, smsc_name)
SELECT replace(sender, '{q}', '922000'), code, body,
       '2026-03-25 12:00+03'::timestamptz + no * interval '1 minute', status, 'smsc1'
FROM script WHERE status <> 'received' ORDER BY no;

-- What became of each reply, per group (the group's prefix taken out).
CREATE TEMP VIEW fate AS
SELECT CASE WHEN i.id <= 21 THEN 'one by one' WHEN i.id <= 42 THEN 'at once' ELSE 'worker batch' END AS path,
       i.id - CASE WHEN i.id <= 21 THEN 0 WHEN i.id <= 42 THEN 21 ELSE 42 END AS no,
       regexp_replace(i.msisdn, '^79(00000|11000|22000)', '7…') AS msisdn, i.status,
       regexp_replace(i.reason, 'session [0-9]+', 'session …') AS reason,
       s.visit_id IS NOT NULL AS has_session
FROM nps.inbox i LEFT JOIN nps.session s ON s.id = i.session_id;
SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'at once' ORDER BY no;
-- The three paths agree on every reply ...
(SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'one by one'
 EXCEPT SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'at once')
UNION ALL
(SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'at once'
 EXCEPT SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'one by one')
UNION ALL
(SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'one by one'
 EXCEPT SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'worker batch')
UNION ALL
(SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'worker batch'
 EXCEPT SELECT no, msisdn, status, reason, has_session FROM fate WHERE path = 'one by one');
SELECT path, count(*) FROM fate GROUP BY path ORDER BY path;

-- ... on the sessions, answers, messages sent and opt-outs.
CREATE TEMP VIEW outcome AS
SELECT substr(s.msisdn, 2, 6) AS grp, 'session' AS what,
       format('%s %s q%s reasked=%s %s', right(s.msisdn, 4), s.state, s.question_no, s.reasked, coalesce(s.state_reason, '')) AS item
FROM nps.session s
UNION ALL
SELECT substr(s.msisdn, 2, 6), 'answer', format('%s q%s %s %s', right(s.msisdn, 4), a.question_no, a.score, a.body)
FROM nps.answer a JOIN nps.session s ON s.id = a.session_id
UNION ALL
SELECT substr(o.msisdn, 2, 6), 'message',
       format('%s #%s %s q%s %s', right(o.msisdn, 4),
              row_number() OVER (PARTITION BY o.msisdn ORDER BY o.id), o.kind, o.question_no, o.source_addr)
FROM nps.outbox o
UNION ALL
SELECT substr(msisdn, 2, 6), 'opt-out', right(msisdn, 4) FROM nps.opt_out;
SELECT what, count(*) FILTER (WHERE grp = '900000') AS one_by_one, count(*) FILTER (WHERE grp = '911000') AS at_once,
       count(*) FILTER (WHERE grp = '922000') AS worker_batch
FROM outcome GROUP BY what ORDER BY what;
(SELECT what, item FROM outcome WHERE grp = '900000' EXCEPT SELECT what, item FROM outcome WHERE grp = '911000')
UNION ALL
(SELECT what, item FROM outcome WHERE grp = '911000' EXCEPT SELECT what, item FROM outcome WHERE grp = '900000')
UNION ALL
(SELECT what, item FROM outcome WHERE grp = '900000' EXCEPT SELECT what, item FROM outcome WHERE grp = '922000')
UNION ALL
(SELECT what, item FROM outcome WHERE grp = '922000' EXCEPT SELECT what, item FROM outcome WHERE grp = '900000');
SELECT what, item FROM outcome WHERE grp = '911000' ORDER BY what, item;

-- The arrays of nps.store_replies go together, element by element.
SELECT nps.store_replies('smsc1', ARRAY['79220000001', '79220000002'], ARRAY['0650'], ARRAY['1', '2'], ARRAY[now(), now()]);
\echo :LAST_ERROR_SQLSTATE

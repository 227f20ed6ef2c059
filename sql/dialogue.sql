-- The reply dialogue through nps.receive: a full questionnaire, re-ask with a
-- hint, branching, STOP, unmatched and late replies, expiry.
SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;

INSERT INTO nps.region (code, name, time_zone) VALUES ('MOW', 'Москва', 'Europe/Moscow');
INSERT INTO nps.dealer VALUES ('D1', 'Дилер 1', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES
    ('S1', 'Салон 1', 'D1', 'MOW'), ('S2', 'Салон 2', 'D1', 'MOW');

-- What went out, what came in, what was stored.  Reasons are shown up to
-- the first colon: the parser's own explanation after it is its business.
CREATE TEMP VIEW sent AS
SELECT o.session_id AS s, o.msisdn, o.source_addr AS code, o.kind, o.question_no AS q, o.body
FROM nps.outbox o ORDER BY o.id;
CREATE TEMP VIEW got AS
SELECT i.id, i.msisdn, i.short_code AS code, i.body, i.session_id AS s, i.status,
       split_part(i.reason, ':', 1) AS reason
FROM nps.inbox i ORDER BY i.id;

-- Starts a session for a new visit of msisdn on 2026-03-01 (due 03-25 12:00).
CREATE FUNCTION pg_temp.start(p_msisdn text, p_ref text, p_salon text DEFAULT 'S1') RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES (p_msisdn, p_salon, '2026-03-01 12:00+03', p_ref);
    SELECT nps.run_due('2026-03-25 12:00+03');
$$;

-- 1. The full dialogue of one session: six answers and the thank-you, all
-- from the session's short code.
SELECT pg_temp.start('79000000001', 'full');
SELECT nps.receive('79000000001', '0650', '9', '2026-03-25 12:03+03');
SELECT nps.receive('79000000001', '0650', 'Быстро подключили, вежливый специалист', '2026-03-25 12:05+03');
SELECT nps.receive('79000000001', '0650', '5', '2026-03-25 12:06+03');
SELECT nps.receive('79000000001', '0650', 'Да', '2026-03-25 12:07+03');
SELECT nps.receive('79000000001', '0650', 'нет', '2026-03-25 12:08+03');
SELECT nps.receive('79000000001', '0650', 'да', '2026-03-25 12:09+03');
SELECT * FROM sent;
SELECT * FROM got;
SELECT session_id, question_no, score, body, inbox_id, to_char(answered_at AT TIME ZONE 'Europe/Moscow', 'HH24:MI') AS at_msk
FROM nps.answer ORDER BY session_id, question_no;
SELECT id, state, state_reason, short_code, question_no,
       to_char(started_at AT TIME ZONE 'Europe/Moscow', 'MM-DD HH24:MI') AS started,
       to_char(finished_at AT TIME ZONE 'Europe/Moscow', 'MM-DD HH24:MI') AS finished
FROM nps.session;
-- A reply after the end is kept as late, tied to the session.
SELECT nps.receive('79000000001', '0650', 'И ещё: спасибо!', '2026-03-25 12:30+03');
SELECT * FROM got WHERE id = 7;

-- 2. Re-ask once with the hint; a second failure is stored (score NULL) and
-- the dialogue moves on.  An empty reply is a failure too.
SELECT pg_temp.start('79000000002', 'reask');
SELECT nps.receive('79000000002', '0650', '11', '2026-03-25 12:03+03');    -- out of range
SELECT nps.receive('79000000002', '0650', '8', '2026-03-25 12:04+03');     -- fine now
SELECT nps.receive('79000000002', '0650', '', '2026-03-25 12:05+03');      -- empty comment
SELECT nps.receive('79000000002', '0650', 'Всё хорошо', '2026-03-25 12:06+03');
SELECT nps.receive('79000000002', '0650', 'отлично', '2026-03-25 12:07+03');   -- not 1-5
SELECT nps.receive('79000000002', '0650', 'не знаю', '2026-03-25 12:08+03');   -- again: moves on
SELECT s, kind, q, body FROM sent WHERE msisdn = '79000000002';
SELECT id, body, status, reason FROM got WHERE msisdn = '79000000002';
SELECT question_no, score, body FROM nps.answer WHERE session_id = 2 ORDER BY question_no;
SELECT question_no, reasked FROM nps.session WHERE id = 2;

-- 3. Branching: an operator's own survey asks "what went wrong" only of
-- detractors (0-6) and "what was unclear" only after a "no".
UPDATE nps.survey SET active = false WHERE code = 'dealer-default';
INSERT INTO nps.survey (code, name, channel, thanks)
    VALUES ('dealer-short', 'Короткий опрос', 'dealer', 'Спасибо! Мы учтём ваш ответ.');
INSERT INTO nps.question (survey_id, question_no, kind, body, min_score, max_score, hint, ask_if_question, ask_if_min, ask_if_max)
SELECT s.id, q.* FROM nps.survey s, (VALUES
    (1, 'score', 'Порекомендуете ли вы салон друзьям? Ответьте числом от 0 до 10.', 0, 10, 'Ответьте числом от 0 до 10.', NULL, NULL, NULL),
    (2, 'text', 'Что пошло не так? Напишите нам.', NULL, NULL, NULL, 1, 0, 6),
    (3, 'yes_no', 'Тариф объяснили понятно? Ответьте да или нет.', NULL, NULL, 'Ответьте да или нет.', NULL, NULL, NULL),
    (4, 'text', 'Что осталось непонятным?', NULL, NULL, NULL, 3, 0, 0))
    AS q(no, kind, body, lo, hi, hint, ifq, ifmin, ifmax)
WHERE s.code = 'dealer-short';
-- A promoter who understood everything: questions 1 and 3 only.
SELECT pg_temp.start('79000000003', 'promoter');
SELECT nps.receive('79000000003', '0650', '10', '2026-03-25 12:03+03');
SELECT nps.receive('79000000003', '0650', 'да', '2026-03-25 12:04+03');
-- A detractor who did not: every question.
SELECT pg_temp.start('79000000004', 'detractor');
SELECT nps.receive('79000000004', '0650', '3', '2026-03-25 12:03+03');
SELECT nps.receive('79000000004', '0650', 'Долго ждал', '2026-03-25 12:04+03');
SELECT nps.receive('79000000004', '0650', 'нет', '2026-03-25 12:05+03');
SELECT nps.receive('79000000004', '0650', 'Роуминг', '2026-03-25 12:06+03');
SELECT s, msisdn, kind, q, body FROM sent WHERE msisdn IN ('79000000003', '79000000004');
SELECT s.msisdn, s.state, array_agg(a.question_no ORDER BY a.question_no) AS answered
FROM nps.session s JOIN nps.answer a ON a.session_id = s.id
WHERE s.msisdn IN ('79000000003', '79000000004') GROUP BY 1, 2 ORDER BY 1;
UPDATE nps.survey SET active = false WHERE code = 'dealer-short';
UPDATE nps.survey SET active = true WHERE code = 'dealer-default';

-- 4. Two active sessions of one subscriber on two codes: each reply goes to
-- the session of its code; the sender's number may come in any usual form.
UPDATE nps.setting SET value = '0' WHERE key IN ('fatigue_period', 'duplicate_window');
SELECT pg_temp.start('79000000005', 'two-a', 'S1');
SELECT pg_temp.start('79000000005', 'two-b', 'S2');
SELECT id, short_code, state FROM nps.session WHERE msisdn = '79000000005' ORDER BY id;
SELECT nps.receive('+7 900 000-00-05', '0651', '7', '2026-03-25 12:03+03');
SELECT nps.receive('89000000005', '0650', '2', '2026-03-25 12:04+03');
SELECT id, msisdn, code, body, s, status FROM got WHERE msisdn = '79000000005';
SELECT session_id, question_no, score FROM nps.answer s
WHERE session_id IN (SELECT id FROM nps.session WHERE msisdn = '79000000005') ORDER BY 1, 2;

-- 5. STOP in the middle: the subscriber is opted out, the session ends as
-- opted_out, the other pending and active ones are cancelled, and a
-- confirmation goes out from the code the STOP came to.
SELECT pg_temp.start('79000000005', 'two-c-pending', 'S1');    -- due, but all fine: starts on 0652
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000005', 'S2', '2026-04-01 12:00+03', 'two-d-later');
SELECT nps.receive('79000000005', '0651', 'СТОП', '2026-03-25 12:10+03');
SELECT v.external_ref, s.state, s.state_reason, s.short_code
FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE s.msisdn = '79000000005' ORDER BY s.id;
SELECT msisdn, source, inbox_id, to_char(opted_at AT TIME ZONE 'Europe/Moscow', 'MM-DD HH24:MI') AS opted FROM nps.opt_out;
SELECT s, code, kind, body FROM sent WHERE kind = 'opt_out_confirmation';
SELECT id, body, s, status, reason FROM got WHERE msisdn = '79000000005' AND id > 17;
-- Later replies to any of those codes are late; a new visit is cancelled at once.
SELECT nps.receive('79000000005', '0650', '5', '2026-03-25 12:11+03');
SELECT id, body, s, status, reason FROM got ORDER BY id DESC LIMIT 1;
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000005', 'S1', '2026-04-02 12:00+03', 'after-stop');
SELECT state, state_reason FROM nps.session WHERE visit_id = (SELECT id FROM nps.visit WHERE external_ref = 'after-stop');
-- STOP with no session at all still opts out (and confirms).
SELECT nps.receive('79000000009', '0655', 'stop', '2026-03-25 12:12+03');
SELECT id, s, status, reason FROM got ORDER BY id DESC LIMIT 1;
SELECT msisdn FROM nps.opt_out ORDER BY 1;
SELECT code, kind FROM sent WHERE msisdn = '79000000009';

-- 6. Nothing is lost: unknown sender, wrong code, garbage sender.
SELECT nps.receive('79000000777', '0650', '10', '2026-03-25 12:13+03');
SELECT nps.receive('79000000002', '0659', '10', '2026-03-25 12:14+03');
SELECT nps.receive('MegaFon', '0650', 'Акция!', '2026-03-25 12:15+03');
SELECT id, msisdn, code, body, s, status, reason FROM got ORDER BY id DESC LIMIT 3;
-- A row the worker already marked (a redelivered deliver_sm) is not processed.
INSERT INTO nps.inbox (msisdn, short_code, body, status, reason)
    VALUES ('79000000002', '0650', '10', 'duplicate', 'redelivered');
SELECT status, reason FROM got ORDER BY id DESC LIMIT 1;
SELECT count(*) AS inbox_rows, count(*) FILTER (WHERE status = 'received') AS left_unprocessed FROM nps.inbox;

-- 7. Expiry: three days without an answer; the answers so far are kept, and
-- a reply after that is late.
SELECT nps.receive('79000000002', '0650', 'да', '2026-03-25 12:20+03');   -- session 2 now at question 5
SELECT nps.expire('2026-03-28 12:19+03') AS expired;
SELECT nps.expire('2026-03-28 12:20+03') AS expired;
SELECT id, state, state_reason, to_char(finished_at AT TIME ZONE 'Europe/Moscow', 'MM-DD HH24:MI') AS finished
FROM nps.session WHERE id = 2;
SELECT count(*) AS answers_kept FROM nps.answer WHERE session_id = 2;
SELECT nps.receive('79000000002', '0650', 'нет', '2026-03-28 13:00+03');
SELECT id, s, status, reason FROM got ORDER BY id DESC LIMIT 1;
-- The expiry clock restarts with each question and re-ask.
SELECT pg_temp.start('79000000006', 'clock');
SELECT nps.receive('79000000006', '0650', '100', '2026-03-27 12:00+03');   -- re-asked on 03-27
SELECT nps.expire('2026-03-30 11:59+03') AS expired;
SELECT nps.expire('2026-03-30 12:00+03') AS expired;

-- 8. A score sent with the STOP still counts: the answer is stored, then the
-- subscriber is opted out.
SELECT pg_temp.start('79000000008', 'score-and-stop');
SELECT nps.receive('79000000008', '0650', '8, больше не пишите', '2026-03-25 12:03+03');
SELECT s, status FROM got ORDER BY id DESC LIMIT 1;
SELECT a.question_no, a.score, s.state, s.state_reason
FROM nps.answer a JOIN nps.session s ON s.id = a.session_id WHERE s.msisdn = '79000000008';

-- A subscriber already opted out who sends STOP again gets no second
-- confirmation: an auto-responder must not start an SMS ping-pong.
SELECT nps.receive('79990000001', '0650', 'STOP', '2026-10-20 12:00+03') IS NOT NULL AS first_stop;
SELECT nps.receive('79990000001', '0650', 'СТОП', '2026-10-20 12:01+03') IS NOT NULL AS second_stop;
SELECT count(*) AS confirmations FROM nps.outbox WHERE kind = 'opt_out_confirmation' AND msisdn = '79990000001';

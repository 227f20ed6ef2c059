-- The C filter in front of nps.raise_alerts (src/alert_filter.c): answers
-- that cannot alarm are dropped before any SQL; a comment that contains no
-- operand of the lexicon skips the stemmer.  Whatever the lexicon holds, the
-- trigger must give the verdict of nps.alert_scan.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;
SELECT nps.generate_network(1, 2, 2, 4);
SELECT nps.generate_visits(42, '2026-09-01 10:00+03', '2026-09-02 10:00+03', 7);
CREATE TEMP TABLE subject AS
SELECT row_number() OVER (ORDER BY s.id)::integer AS n, s.id AS session_id FROM nps.session s;
-- Answers question 2 of session n with a comment; returns the alert's severity.
CREATE FUNCTION pg_temp.comment(p_n integer, p_body text) RETURNS smallint
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
    SELECT j.session_id, 2, NULL, p_body, '2026-10-01 12:00+03' FROM subject j WHERE j.n = p_n;
    RETURN (SELECT a.severity FROM nps.alert a JOIN subject j ON j.session_id = a.session_id WHERE j.n = p_n);
END $$;

-- The normalisation in C: lower case (Cyrillic spelled out), ё as е, negations glued.
SELECT nps.alert_normalize('ВСЁ ХОРОШО, Ёлки'), nps.alert_normalize('Обмана НЕ БЫЛО'),
       nps.alert_normalize('никто не хамил'), nps.alert_normalize('  Без  спроса  ');

-- The C function skips each negation pattern when the text holds no word it
-- could match; the result must stay that of the SQL definition of 0.2.0,
-- which always ran both.  Texts with and without negators, negators inside
-- words, before punctuation, at the end, after other whitespace.
CREATE FUNCTION pg_temp.normalize_sql(body text) RETURNS text LANGUAGE sql AS $$
    SELECT btrim(regexp_replace(regexp_replace(
        ' ' || translate(lower(body), 'АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё', 'абвгдеежзийклмнопрстуфхцчшщъыьэюяе'),
        '([а-яa-z0-9]+)\s+(не\s+было|не\s+заметил[а-я]*|не\s+замечено|нет)(?![а-яa-z0-9])', 'не\1', 'g'),
        '\s(?:(?:не|ни|нет|без|ник(?:то|ого|ому|ем|ак|огда|акого|акой|аких|акие|акое|акую)|нич(?:его|ем)|нисколько)\s+)+',
        ' не', 'g'))
$$;
SELECT count(*) AS texts, count(*) FILTER (WHERE nps.alert_normalize(t) IS DISTINCT FROM pg_temp.normalize_sql(t)) AS differ
FROM unnest(ARRAY['Меня не обманули, всё честно', 'Никто не хамил', 'Обмана НЕ БЫЛО', 'Грубости не заметил, всё хорошо',
    'Обмана не замечено', 'Хамства нет!', 'хамства нет', 'Нет, не обманули', 'не', 'нет', ' не ', 'Не было обмана',
    'Небольшая очередь, нетбук', 'Ни-ни, без спроса', 'без', 'Без  спроса', E'не\tобманули', E'не\nбыло', 'было не',
    'Никогда не вернут деньги', 'ничего не объяснили', 'Замечательно, не заметила', 'не, обманули', 'нисколько не жалею',
    'Очередь была небольшая', 'Всё отлично', 'НЕТ', 'обмана нет5', 'обмана нетто', 'ёлки не ёлки', '']) t;

-- Edits in this session work at the next statement: a new term ...
SELECT pg_temp.comment(1, 'Сим-карту заблокировали без причины') AS before_term;
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('заблокировали:*', 5, 'blocked');
SELECT pg_temp.comment(2, 'Сим-карту заблокировали без причины') AS with_term;
-- ... and its removal, also inside a transaction that rolls back.
BEGIN;
DELETE FROM nps.alert_lexicon WHERE term = 'заблокировали:*';
SELECT pg_temp.comment(3, 'Сим-карту заблокировали без причины') AS term_deleted;
ROLLBACK;
SELECT pg_temp.comment(4, 'Сим-карту заблокировали без причины') AS after_rollback;

-- A term true without any of its words ("!спасибо") makes every comment
-- without "спасибо" alarm: the substring pre-filter must step aside.
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('!спасибо', 1, 'no thanks');
SELECT pg_temp.comment(5, 'Нормально') AS without_thanks, pg_temp.comment(6, 'Спасибо, нормально') AS with_thanks;
DELETE FROM nps.alert_lexicon WHERE term = '!спасибо';
-- A Latin term is stemmed by the English stemmer, which rewrites endings
-- ("happy" -> "happi", not a substring of the comment): the pre-filter steps aside.
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('happy', 5, 'latin');
SELECT to_tsquery('russian', 'happy') AS stem, pg_temp.comment(7, 'Not happy at all') AS latin;
DELETE FROM nps.alert_lexicon WHERE term = 'happy';
SELECT pg_temp.comment(8, 'Not happy at all') AS latin_deleted;

-- The pre-filter judges the all-terms query whole on the words present: a
-- comment holding one side of an AND term ("очередь & (час | долго)") skips
-- the stemmer, one holding both alarms; a phrase term keeps its order.
SELECT pg_temp.comment(31, 'Очередь была небольшая') AS one_side,
       pg_temp.comment(32, 'Очередь на час') AS both_sides;
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('плохая <-> связь', 3, 'network');
SELECT pg_temp.comment(33, 'Плохая связь в салоне') AS phrase, pg_temp.comment(34, 'Связь плохая') AS phrase_reversed;
DELETE FROM nps.alert_lexicon WHERE term = 'плохая <-> связь';
-- The negation patterns run only when a negator is a word of its own; any
-- whitespace or punctuation delimits it, a word merely starting with one does not.
SELECT nps.alert_normalize(E'Меня не\tобманули') AS tab, nps.alert_normalize('Хамства нет!') AS punctuation,
       nps.alert_normalize('Небольшая очередь, нетбук') AS inside_words;
SELECT pg_temp.comment(35, E'Меня не\tобманули') AS tab_negated, pg_temp.comment(36, 'Небольшой обман') AS not_negated;
-- A term counts only at the start of a word ("необманули" holds no "обман"),
-- and a word starts after anything but a letter а-я: a digit, a dot, a hyphen.
SELECT pg_temp.comment(37, 'Тариф 1.5обман') AS after_digit, pg_temp.comment(38, 'Сим-обманули') AS after_hyphen,
       pg_temp.comment(39, 'Сайт www.обман.ru') AS after_dot, pg_temp.comment(40, 'Самообман') AS inside_word;
-- Past 64 words the pre-filter stops listing word starts and searches the text.
SELECT pg_temp.comment(41, repeat('очень ', 70) || 'обманули') AS long_alarming,
       pg_temp.comment(42, repeat('очень ', 70) || 'необманули') AS long_calm;

-- The alerts raised, beside alert_scan with the lexicon as it is now (the
-- term of sessions 1-4 is still there, the others are gone, the phrase of
-- 33 too; 3 rolled back).
SELECT j.n, a.body, s.severity AS scan_now, al.severity AS alert
FROM subject j JOIN nps.answer a ON a.session_id = j.session_id
LEFT JOIN nps.alert al ON al.session_id = j.session_id
LEFT JOIN LATERAL nps.alert_scan(a.body) s ON true
WHERE j.n BETWEEN 1 AND 8 OR j.n BETWEEN 31 AND 40 ORDER BY j.n;

-- Rules are cached too: a rule switched off, one added.
UPDATE nps.alert_rule SET active = false WHERE reason = 'detractor';
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT session_id, 1, 2, '2', '2026-10-01 12:00+03' FROM subject WHERE n = 9;
INSERT INTO nps.alert_rule (question_no, min_score, max_score, severity, reason) VALUES (3, 1, 2, 1, 'specialist rated poorly');
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT session_id, 3, 1, '1', '2026-10-01 12:00+03' FROM subject WHERE n = 10;
SELECT j.n, a.severity, a.reasons FROM subject j JOIN nps.alert a ON a.session_id = j.session_id WHERE j.n IN (9, 10) ORDER BY j.n;

-- Per row or per batch, the same alerts: ten sessions answered in one
-- statement and ten one answer per statement.
UPDATE nps.alert_rule SET active = true WHERE reason = 'detractor';
CREATE TEMP TABLE script AS
SELECT j.n, j.session_id, q.q,
       CASE q.q WHEN 1 THEN j.n % 10 + 1 WHEN 5 THEN j.n % 10 % 2 WHEN 6 THEN j.n % 10 / 3 % 2 END::smallint AS score,
       CASE q.q WHEN 2 THEN (ARRAY['Меня обманули', 'Меня не обманули', 'Всё хорошо', 'Обмана не было'])[1 + j.n % 10 % 4] END AS body
FROM subject j CROSS JOIN (VALUES (1), (2), (5), (6)) q(q) WHERE j.n BETWEEN 11 AND 30;
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT session_id, q, score, coalesce(body, score::text), '2026-10-01 12:00+03' FROM script WHERE n <= 20;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM script WHERE n > 20 ORDER BY n, q LOOP
        INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
        VALUES (r.session_id, r.q, r.score, coalesce(r.body, r.score::text), '2026-10-01 12:00+03');
    END LOOP;
END $$;
-- Sessions n (all in one statement) and n + 10 (one answer per statement)
-- gave the same answers: the same alerts, side by side.
SELECT b.n, b.severity AS batch, s.severity AS single, b.reasons AS batch_reasons, s.reasons AS single_reasons
FROM (SELECT DISTINCT j.n, a.severity, a.reasons FROM script j LEFT JOIN nps.alert a ON a.session_id = j.session_id WHERE j.n <= 20) b
JOIN (SELECT DISTINCT j.n - 10 AS n, a.severity, a.reasons FROM script j LEFT JOIN nps.alert a ON a.session_id = j.session_id WHERE j.n > 20) s
  ON s.n = b.n
ORDER BY b.n;

-- The alert statement plans with the planner's defaults even when it is
-- reached from a reply round, which turns sequential and bitmap scans off
-- for its own statements (a function's settings reach what it calls).
SELECT p.oid::regprocedure AS function, array_to_string(p.proconfig, ', ') AS settings
FROM pg_proc p
WHERE p.oid IN ('nps.raise_alerts(nps.answer[])'::regprocedure, 'nps.take_replies(nps.inbox[], bigint[], boolean)'::regprocedure)
ORDER BY 1::text;

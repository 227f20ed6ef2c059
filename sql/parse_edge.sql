-- Reply parsing around the verdicts: the canonical form, the one-answer
-- wrappers, reasons, invalid arguments, random Unicode, long values, and the
-- function properties the dialogue relies on.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

-- The canonical form the parser works on.
SELECT input, nps.normalize_reply(input) AS normalized FROM (VALUES
    ('  Оценка:   8!!! '), ('ДА'), ('Ёлки, всё ОК'), ('HET'), ('Heт'), ('CTOП'),
    ('yеs'), ('OK'), ('y'), ('ACE'), ('1O'), ('l0'), ('8баллов'), ('9 👍'),
    ('👎10'), ('1️⃣0️⃣'), ('🔟 ⑨'), ('９/１０'), ('9–10'), ('9 — 10'), ('-1'),
    ('8,5'), ('8, 5'), ('стоп-кран'), ('don''t know'), ('да́'), (E'и\u0306од'),
    (E'a\u200bb'), ('Σ Ω'), ('«ок»'), ('...'), (E'\t \n')) v(input);

-- Reasons for every status that is not ok.
SELECT input, kind, min_score, max_score, r.*
FROM (VALUES
    ('7 и 9', 'score', 0, 10), ('3 5 7', 'score', 0, 10),
    ('1 2 3 4 5', 'score', 0, 10), ('9-10', 'score', 0, 10),
    ('8.5', 'score', 0, 10), ('5/5', 'score', 0, 10), ('11', 'score', 0, 10),
    ('-1', 'score', 0, 10), ('6', 'score', 1, 5), (repeat('9', 30), 'score', 0, 10),
    ('отлично', 'score', 0, 10), ('да нет', 'yes_no', 0, 10),
    ('не знаю', 'yes_no', 0, 10), ('не знаю, наверное нет', 'yes_no', 0, 10),
    ('хорошо', 'yes_no', 0, 10), ('', 'text', 0, 10), ('...', 'text', 0, 10),
    ('стоп', 'text', 0, 10), ('9, больше не пишите', 'score', 0, 10)
) v(input, kind, min_score, max_score),
nps.parse_reply(input, kind, min_score, max_score) r;

-- Defaults: a score question on 0..10.
SELECT (nps.parse_reply('10', 'score')).*;

-- The one-answer wrappers agree with parse_reply.
SELECT nps.parse_score('9/10', 0, 10) AS nine, nps.parse_score('9-10', 0, 10) AS range,
       nps.parse_score('6', 1, 5) AS outside, nps.parse_score('10, стоп', 0, 10) AS with_stop,
       pg_typeof(nps.parse_score('1', 0, 10)) AS type;
SELECT nps.parse_yes_no('Да!') AS yes, nps.parse_yes_no('HET') AS no,
       nps.parse_yes_no('не знаю') AS unsure, nps.parse_yes_no('') AS empty;
SELECT nps.is_stop('СТОП') AS stop, nps.is_stop('Отписаться от опросов') AS opt_out,
       nps.is_stop('в салоне нажали стоп и всё') AS mention, nps.is_stop('') AS empty;
SELECT count(*) AS disagreements
FROM (VALUES ('9'), ('9-10'), ('да'), ('нет'), ('стоп 8'), ('не знаю'), ('11'), ('')) v(b)
WHERE nps.parse_score(b, 0, 10) IS DISTINCT FROM (nps.parse_reply(b, 'score')).score
   OR nps.parse_yes_no(b) IS DISTINCT FROM ((nps.parse_reply(b, 'yes_no')).score = 1)
   OR nps.is_stop(b) IS DISTINCT FROM ((nps.parse_reply(b, 'text')).status = 'stop');

-- A NULL reply gives NULL.  parse_reply takes a NULL scale for yes_no and
-- text questions (nps.question keeps it NULL for them); a score question needs one.
SELECT nps.parse_reply(NULL, 'score') IS NULL AS null_body,
       nps.parse_reply('9', NULL) IS NULL AS null_kind,
       nps.parse_score('9', NULL, 10) IS NULL AS null_min,
       nps.normalize_reply(NULL) IS NULL AS null_normalize,
       nps.is_stop(NULL) IS NULL AS null_stop;
SELECT q.kind, r.*
FROM (VALUES ('yes_no'), ('text')) q(kind),
     nps.parse_reply('Да', q.kind, NULL, NULL) r;
SELECT nps.parse_reply('9', 'score', NULL, 10);
\echo :LAST_ERROR_SQLSTATE

-- Invalid arguments are errors; replies never are.
SELECT nps.parse_reply('9', 'rating');
\echo :LAST_ERROR_SQLSTATE
SELECT nps.parse_reply('9', 'score', 10, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT nps.parse_score('9', 5, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT nps.parse_reply('9', 'score', 0, 40000);
\echo :LAST_ERROR_SQLSTATE

-- Random Unicode (every plane, controls included, surrogates skipped since
-- PostgreSQL cannot store them) from a fixed seed: a valid verdict, no error.
SELECT setseed(0.5);
CREATE TEMP TABLE random_reply AS
SELECT g AS id, (ARRAY['score', 'yes_no', 'text'])[1 + g % 3] AS kind,
       string_agg(chr(CASE WHEN cp BETWEEN 55296 AND 57343 THEN cp + 2048 ELSE cp END), '') AS body
FROM (SELECT g, CASE WHEN random() < 0.5 THEN 1 + floor(random() * 1114111)::int
                     ELSE 1 + floor(random() * 1280)::int END AS cp
      FROM generate_series(1, 3000) g, generate_series(1, 1 + (random() * 30)::int)) x
GROUP BY g;
SELECT count(*) AS replies,
       count(*) FILTER (WHERE r.status IN ('ok', 'stop', 'empty', 'unparsed', 'ambiguous', 'out_of_range')) AS valid_status,
       count(*) FILTER (WHERE (r.status = 'ok') = (r.reason IS NULL)) AS reason_iff_not_ok,
       count(*) FILTER (WHERE r.score IS NULL OR r.status IN ('ok', 'stop')) AS score_only_when_ok
FROM random_reply, nps.parse_reply(body, kind) r;
SELECT count(*) AS idempotent
FROM random_reply
WHERE nps.normalize_reply(nps.normalize_reply(body)) = nps.normalize_reply(body);

-- Long values: only the first 2000 characters are read, whatever the size.
SELECT length(nps.normalize_reply(repeat('а', 1000000))) AS kept_chars,
       (nps.parse_reply(repeat('9 ', 500000), 'score')).status AS status,
       nps.is_stop(repeat('спасибо ', 300000) || 'стоп') AS late_stop_not_seen;

-- Properties: the dialogue calls these for every reply, in triggers and in parallel plans.
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p WHERE p.pronamespace = 'nps'::regnamespace
  AND p.proname IN ('parse_reply', 'parse_score', 'parse_yes_no', 'is_stop', 'normalize_reply')
ORDER BY p.proname;

-- A stored, compressed, out-of-line value: only its first 8000 bytes are fetched.
CREATE TEMP TABLE big_reply (body text);
INSERT INTO big_reply VALUES (repeat('девять ', 200000)), ('стоп ' || repeat('x', 900000));
SELECT pg_column_size(body) < octet_length(body) AS compressed, r.*
FROM big_reply, nps.parse_reply(body, 'score') r;

-- The parser reads UTF-8 only: a database in another encoding is told so.
CREATE DATABASE nps_parse_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c nps_parse_ascii
-- (the C function alone: the whole extension may need things this database lacks)
CREATE FUNCTION normalize_reply(text) RETURNS text AS 'nps', 'nps_normalize_reply' LANGUAGE C STRICT;
SELECT normalize_reply('9');
\echo :LAST_ERROR_SQLSTATE
\c contrib_regression
DROP DATABASE nps_parse_ascii;

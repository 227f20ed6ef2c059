-- Replies benchmark, setup: :sessions active sessions of distinct subscribers
-- and the stream of their six replies each (in the order they would come:
-- everybody's first answer, then everybody's second, ...), plus a plain
-- table with the same columns for the baseline (-v version=0.3.0: through
-- that release's reply path).  Run by bench/survey_bench.sh.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
\if :{?version}
CREATE EXTENSION nps VERSION :'version' CASCADE;
\else
CREATE EXTENSION nps CASCADE;
\endif
SELECT nps.generate_network(42) AS network;
-- Send at any hour and never give up catching up: every session starts at once.
UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59.999999';
UPDATE nps.setting SET value = '10 years' WHERE key = 'catch_up_limit';
SELECT nps.generate_visits(:sessions, '2026-01-01 00:00+03', '2026-02-01 00:00+03', 7, 1000000000) AS visits;
SELECT nps.run_due('2026-03-01 12:00+03') AS started;

DROP TABLE IF EXISTS reply_stream;
CREATE UNLOGGED TABLE reply_stream AS
SELECT row_number() OVER (ORDER BY r.no, s.id) AS id, s.msisdn, s.short_code, r.body
FROM nps.session s
CROSS JOIN (VALUES (1, '9'), (2, 'Вежливо и быстро, спасибо'), (3, '5'), (4, 'да'), (5, 'нет'), (6, 'да')) r(no, body)
WHERE s.state = 'active';
ALTER TABLE reply_stream ADD PRIMARY KEY (id);
DROP TABLE IF EXISTS plain_inbox;
CREATE TABLE plain_inbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msisdn text NOT NULL, short_code text NOT NULL, body text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now());
DROP SEQUENCE IF EXISTS stream_seq; CREATE SEQUENCE stream_seq;
DROP SEQUENCE IF EXISTS plain_seq; CREATE SEQUENCE plain_seq;
SELECT count(*) AS replies FROM reply_stream;
VACUUM ANALYZE;

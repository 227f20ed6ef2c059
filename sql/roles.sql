-- Roles: nps_analyst reads the BI views only and never a raw phone number or an SMSC
-- password; nps_operator reads and writes every table except smsc.password;
-- nps_admin reads everything.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

-- A table another engineer might add later with a phone number: setup_roles() grants
-- generically, so it is covered as soon as setup_roles() runs again.
CREATE TABLE nps.late_addition (id integer, msisdn text);
SELECT nps.setup_roles();
-- Running it twice is harmless.
SELECT nps.setup_roles();
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'nps\_%' ORDER BY rolname;

-- No column named msisdn or password anywhere in the schema is readable by analysts.
SELECT count(*) AS msisdn_or_password_columns,
       count(*) FILTER (WHERE has_column_privilege('nps_analyst', a.attrelid, a.attname, 'SELECT')) AS analyst_can_read
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'nps'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
  AND a.attnum > 0 AND NOT a.attisdropped AND a.attname IN ('msisdn', 'password');
-- What analysts can read at all: exactly the BI views.
SELECT c.relname, c.relkind FROM pg_class c
WHERE c.relnamespace = 'nps'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
  AND has_table_privilege('nps_analyst', c.oid, 'SELECT')
ORDER BY 1;
-- Operators: everything but the password (and the pseudonym key); admins: all.
SELECT role, has_column_privilege(role, 'nps.smsc', 'password', 'SELECT') AS password_read,
       has_column_privilege(role, 'nps.smsc', 'password', 'UPDATE') AS password_write,
       has_column_privilege(role, 'nps.smsc', 'host', 'UPDATE') AS host_write,
       has_table_privilege(role, 'nps.session', 'SELECT, INSERT, UPDATE') AS session_rw,
       has_table_privilege(role, 'nps.late_addition', 'SELECT, INSERT, UPDATE') AS late_rw,
       has_table_privilege(role, 'nps.analytics_secret', 'SELECT') AS key_read
FROM unnest(ARRAY['nps_analyst', 'nps_operator', 'nps_admin']) role ORDER BY role;

-- Some data for the views.
INSERT INTO nps.region (code, name, time_zone) VALUES ('MOW', 'Москва', 'Europe/Moscow');
INSERT INTO nps.dealer (code, name, region_code) VALUES ('D1', 'Дилер', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES ('S1', 'Салон', 'D1', 'MOW');
INSERT INTO nps.survey (code, name, channel, thanks) VALUES ('dealer-default', 'Дилеры', 'dealer', 'Спасибо!')
ON CONFLICT (code) DO NOTHING;
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
VALUES ('79161234567', 'S1', '2026-10-01 12:00+03', 'r1');
INSERT INTO nps.session (visit_id, survey_id, msisdn, due_at)
SELECT v.id, s.id, v.msisdn, '2026-10-25 12:00+03' FROM nps.visit v, nps.survey s WHERE s.code = 'dealer-default'
ON CONFLICT (visit_id) DO NOTHING;
UPDATE nps.session SET state = 'completed', started_at = '2026-10-25 12:00+03';
INSERT INTO nps.answer (session_id, question_no, score, answered_at)
SELECT id, 1, 10, '2026-10-25 12:05+03' FROM nps.session;
INSERT INTO nps.smsc (name, system_id, password) VALUES ('main', 'nps', 'secret');
SELECT nps.refresh() ->> 'mode' AS mode;

SET ROLE nps_analyst;
SELECT period_kind, period, code, responses, nps FROM nps.nps_by_dealer ORDER BY period_kind;
SELECT subscriber <> '79161234567' AND subscriber !~ '1234567' AS hidden, recommend FROM nps.responses;
SELECT msisdn FROM nps.session;
\echo :LAST_ERROR_SQLSTATE
SELECT msisdn FROM nps.visit;
\echo :LAST_ERROR_SQLSTATE
SELECT password FROM nps.smsc;
\echo :LAST_ERROR_SQLSTATE
SELECT key FROM nps.analytics_secret;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

SET ROLE nps_operator;
SELECT name, system_id FROM nps.smsc;
UPDATE nps.smsc SET host = '127.0.0.2' WHERE name = 'main';
SELECT password FROM nps.smsc;
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.smsc SET password = 'x' WHERE name = 'main';
\echo :LAST_ERROR_SQLSTATE
SELECT msisdn FROM nps.session;
RESET ROLE;

SET ROLE nps_admin;
SELECT name, host, password FROM nps.smsc;
RESET ROLE;

DROP TABLE nps.late_addition;

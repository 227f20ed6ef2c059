-- Who sees what: staff logins (members of nps_staff) see the alerts and the
-- feedback of their scope only; a specialist the feedback on their own
-- visits; the CEO everything.  Proved with SET ROLE.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;
SET TimeZone = 'Europe/Moscow';
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixture :abs_srcdir '/sql/alert_fixture.inc'
\i :fixture

-- Feedback from every visit; v1, v3, v4, v5 alarm.
SELECT pg_temp.answer(v, 1, score, score::text, '2026-10-01 10:00+03')
FROM (VALUES ('v1', 2), ('v2', 9), ('v3', 4), ('v4', 0), ('v5', 10)) AS x(v, score);
SELECT pg_temp.answer('v5', 2, NULL, 'Продавец нахамил', '2026-10-01 10:01+03');
SELECT pg_temp.answer('v2', 2, NULL, 'Всё отлично', '2026-10-01 10:01+03');
SELECT salon_code, specialist, severity, level, assignee FROM nps.alert ORDER BY salon_code, specialist;
-- (pg_temp.alert_of reads base tables: look the ids up before switching role.)
SELECT pg_temp.alert_of('v1') AS v1, pg_temp.alert_of('v3') AS v3, pg_temp.alert_of('v5') AS v5 \gset

-- Logins for staff members.
SELECT nps.create_staff_login(login)
FROM unnest(ARRAY['al_spec1', 'al_spec2', 'al_mgr_s1', 'al_mgr_s2', 'al_dealer_d1', 'al_region_kgd', 'al_ceo']) login;
SELECT r.rolname, r.rolcanlogin, pg_has_role(r.rolname, 'nps_staff', 'MEMBER') AS staff
FROM pg_roles r WHERE r.rolname LIKE 'al\_%' ORDER BY 1;
-- Twice is fine; somebody who is not staff is refused.
SELECT nps.create_staff_login('al_mgr_s1');
SELECT nps.create_staff_login('al_nobody');
\echo :LAST_ERROR_SQLSTATE

-- What each login sees: alerts, feedback rows, figures.
CREATE TEMP TABLE seen (login text, alerts text, feedback text, salons_in_figures text);
GRANT ALL ON seen TO nps_staff;
DO $$
DECLARE
    l text;
BEGIN
    FOREACH l IN ARRAY ARRAY['al_spec1', 'al_spec2', 'al_mgr_s1', 'al_mgr_s2', 'al_dealer_d1', 'al_region_kgd', 'al_ceo'] LOOP
        EXECUTE format('SET LOCAL ROLE %I', l);
        INSERT INTO seen VALUES (l,
            (SELECT string_agg(salon_code || '/' || coalesce(specialist, '-'), ' ' ORDER BY salon_code, specialist) FROM nps.alert),
            (SELECT string_agg(DISTINCT salon_code || '/' || coalesce(specialist, '-'), ' ') FROM nps.feedback),
            (SELECT string_agg(salon_code, ' ' ORDER BY salon_code) FROM nps.alert_by_salon));
        RESET ROLE;
    END LOOP;
END $$;
SELECT * FROM seen ORDER BY login;

-- A salon manager, row by row.
SET ROLE al_mgr_s1;
SELECT salon_code, specialist, question_no, score, body FROM nps.feedback ORDER BY session_id, question_no;
SELECT count(*) AS events_seen FROM nps.alert_event;
-- Base tables stay closed; the phone number is not in the view.
SELECT * FROM nps.answer;
\echo :LAST_ERROR_SQLSTATE
SELECT msisdn FROM nps.feedback;
\echo :LAST_ERROR_SQLSTATE
-- Handling: only within scope, only under one's own name, only through the functions.
SELECT state, acknowledged_by FROM nps.ack_alert(:v1, 'al_mgr_s1', 'беру');
SELECT nps.ack_alert(:v3, 'al_mgr_s1', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT nps.ack_alert(:v5, 'al_ceo', NULL);
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.alert SET severity = 1;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- A specialist sees the alert on their visit but does not handle it.
SET ROLE al_spec1;
SELECT nps.ack_alert(:v5, 'al_spec1', NULL);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- The dealer's contact handles the other salon's alert.
SET ROLE al_dealer_d1;
SELECT state, acknowledged_by FROM nps.ack_alert(:v3, 'al_dealer_d1', 'разберусь');
SELECT event, actor FROM nps.alert_event WHERE alert_id = :v3 ORDER BY id;
RESET ROLE;

-- A member who left sees nothing any more.
UPDATE nps.staff SET active = false WHERE login = 'al_mgr_s2';
SET ROLE al_mgr_s2;
SELECT count(*) AS alerts, (SELECT count(*) FROM nps.feedback) AS feedback FROM nps.alert;
RESET ROLE;

-- The logins outlive the extension: drop them.
DROP OWNED BY al_spec1, al_spec2, al_mgr_s1, al_mgr_s2, al_dealer_d1, al_region_kgd, al_ceo;
DROP ROLE al_spec1, al_spec2, al_mgr_s1, al_mgr_s2, al_dealer_d1, al_region_kgd, al_ceo;

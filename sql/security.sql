-- Security: SMSC passwords, SECURITY DEFINER hygiene, analysts never see a
-- phone number, subscriber text is never executed, and what each role may do.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
SELECT nps.setup_roles();
RESET client_min_messages;

-- Every SECURITY DEFINER function pins its search_path (none may be missing).
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p
WHERE p.pronamespace = 'nps'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
SELECT count(*) > 0 AS some_definer_functions_checked
FROM pg_proc WHERE pronamespace = 'nps'::regnamespace AND prosecdef;

-- SMSC passwords: nps_admin only.
SELECT r AS role,
       has_column_privilege(r, 'nps.smsc', 'password', 'SELECT') AS reads_password,
       has_column_privilege(r, 'nps.smsc', 'host', 'SELECT') AS reads_host
FROM unnest(ARRAY['nps_admin', 'nps_operator', 'nps_analyst', 'nps_staff', 'public']) r;
INSERT INTO nps.smsc (name, system_id, password, enabled) VALUES ('sec', 'nps', 'secret', false);
SET ROLE nps_operator;
SELECT password FROM nps.smsc;
SELECT * FROM nps.smsc;
SELECT name, host, enabled FROM nps.smsc;
RESET ROLE;
SET ROLE nps_admin;
SELECT name, password FROM nps.smsc;
RESET ROLE;

-- A small network with answers, so that the views analysts read hold data.
SET client_min_messages = warning;
SELECT nps.generate_network(5, p_regions => 4, p_dealers => 4, p_salons => 12) IS NOT NULL AS network;
SELECT nps.generate_visits(300, '2026-09-24 00:00+03', '2026-09-26 00:00+03', 5) AS visits;
SELECT nps.run_due('2026-10-20 12:00+03') > 0 AS started;
SELECT count(nps.receive(s.msisdn, s.short_code, (s.id % 11)::text, '2026-10-20 12:05+03')) > 0 AS replied
FROM nps.session s WHERE s.state = 'active';
SELECT nps.refresh() IS NOT NULL AS refreshed;
RESET client_min_messages;

-- Every relation of nps the current role can read, searched row by row for
-- any phone number the database holds, whatever the column is called.
CREATE TEMP TABLE known_msisdn AS
    SELECT msisdn FROM nps.visit UNION SELECT msisdn FROM nps.inbox;
GRANT SELECT ON known_msisdn TO nps_analyst;
CREATE FUNCTION pg_temp.phone_leaks() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    rel regclass;
    n bigint;
    leaks text := '';
BEGIN
    FOR rel IN SELECT c.oid::regclass FROM pg_class c
               WHERE c.relnamespace = 'nps'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
                 AND has_table_privilege(c.oid, 'SELECT')
               ORDER BY c.relname
    LOOP
        EXECUTE format('SELECT count(*) FROM %s t WHERE EXISTS
                            (SELECT FROM known_msisdn k WHERE strpos(t::text, k.msisdn) > 0)', rel) INTO n;
        IF n > 0 THEN
            leaks := leaks || ' ' || rel::text;
        END IF;
    END LOOP;
    RETURN coalesce(nullif(leaks, ''), ' none');
END $$;
-- The check finds numbers where they are (run as the owner) ...
SELECT count(*) > 100 AS numbers_known, pg_temp.phone_leaks() LIKE '% nps.visit%' AS finds_visit FROM known_msisdn;
-- ... and finds none in what an analyst can read.
SET ROLE nps_analyst;
SELECT pg_temp.phone_leaks() AS phone_numbers_visible_to_analyst;
SELECT count(*) > 0 AS analyst_reads_nps FROM nps.nps_by_salon;
SELECT msisdn FROM nps.visit LIMIT 1;
SELECT msisdn FROM nps.inbox LIMIT 1;
SELECT body FROM nps.answer LIMIT 1;
SELECT nps.receive('79160000001', '0650', 'analyst writes');
RESET ROLE;

-- Columns named like a phone number are closed to analysts, table by table.
SELECT c.relname, a.attname
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'nps'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attname ~ 'msisdn|phone' AND has_column_privilege('nps_analyst', c.oid, a.attnum, 'SELECT');

-- Subscriber text is data, never code: stored as sent, nothing executed.
SELECT nps.receive('79160000002', '0651', body, '2026-10-20 13:00+03') IS NOT NULL AS stored
FROM (VALUES ($q$'); DROP TABLE nps.visit; --$q$),
             ($q$$$; CREATE TABLE public.pwned(); $$$q$),
             ($q$9'; SELECT pg_sleep(10); --$q$),
             ($q$\\x00; COPY nps.smsc TO PROGRAM 'id'$q$)) v(body);
SELECT body, status FROM nps.inbox WHERE msisdn = '79160000002' ORDER BY id;
SELECT to_regclass('nps.visit') IS NOT NULL AS visit_intact, to_regclass('public.pwned') IS NULL AS nothing_created;

-- What each role may do with the main tables.
SELECT r AS role, t AS relation,
       has_table_privilege(r, t, 'SELECT') AS sel,
       has_table_privilege(r, t, 'INSERT') AS ins,
       has_table_privilege(r, t, 'UPDATE') AS upd,
       has_table_privilege(r, t, 'DELETE') AS del
FROM unnest(ARRAY['nps_admin', 'nps_operator', 'nps_analyst', 'nps_staff']) r,
     unnest(ARRAY['nps.visit', 'nps.session', 'nps.outbox', 'nps.inbox', 'nps.answer', 'nps.opt_out',
                  'nps.smsc', 'nps.alert', 'nps.nps_by_dealer', 'nps.dealer_ranking']) t
ORDER BY 1, 2;

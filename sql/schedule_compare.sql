-- The scheduling trigger in C (0.5.0) against the PL/pgSQL statement of
-- 0.4.0: the same random loads give the same sessions, row for row, once
-- the rule 0.7.0 moved to the due time (nps.superseded_by) is applied right
-- after each load, as 0.4.0 applied it while loading.  The
-- loads mix every rule: subscribers with many visits (latest visit wins
-- within a load and across loads, out of time order), repeat visits to one
-- salon (duplicates, ties included), opted-out subscribers, a channel
-- without an active survey, pending sessions deferred or finished between
-- loads, and the fatigue and duplicate rules each switched off for a load.
SELECT setseed(0.5);
CREATE TEMP TABLE cmp_visit AS
SELECT n, 1 + floor(random() * 8)::int AS batch,
       '7900' || lpad((random() * 500)::int::text, 7, '0') AS msisdn,
       1 + floor(random() * 6)::int AS salon_rank,
       '2026-03-01 00:00+00'::timestamptz + random() * interval '150 days' AS occurred_at,
       (ARRAY['dealer', 'dealer', 'office', 'contact_centre'])[1 + floor(random() * 4)::int] AS channel
FROM generate_series(1, 3000) n;
-- repeat visits: the same subscriber and salon minutes to days later, some
-- at the very same time
INSERT INTO cmp_visit
SELECT 3000 + n, 1 + floor(random() * 8)::int, msisdn, salon_rank,
       occurred_at + (ARRAY['0', '10 minutes', '20 hours', '3 days'])[1 + floor(random() * 4)::int]::interval,
       channel
FROM cmp_visit WHERE n % 5 = 0;

\getenv abs_srcdir PG_ABS_SRCDIR
\set run :abs_srcdir '/sql/schedule_compare.inc'
\set version '0.4.0'
\set with_trigger false
\i :run
ALTER TABLE cmp_result RENAME TO cmp_plpgsql;
-- The C trigger with another trigger on nps.session (the ordinary INSERT),
-- then without (the sessions written directly)
SELECT default_version AS version FROM pg_available_extensions WHERE name = 'nps' \gset
\set with_trigger true
\i :run
SELECT (SELECT count(*) FROM cmp_seen) AS seen_by_trigger,
       (SELECT count(*) FROM nps.session) AS sessions;
ALTER TABLE cmp_result RENAME TO cmp_insert;
DROP TRIGGER cmp_seen ON nps.session;
DROP TABLE cmp_seen;
DROP FUNCTION cmp_seen();
\set with_trigger false
\i :run
SELECT p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c') AS trigger_in_c
FROM pg_proc p WHERE p.oid = 'nps.schedule_visits'::regproc;

-- What the loads exercised (the same for both)
SELECT state, split_part(reason, ':', 1) AS reason, count(*) FROM cmp_result GROUP BY 1, 2 ORDER BY 1, 2;
SELECT (SELECT count(*) FROM cmp_plpgsql) AS plpgsql_sessions, (SELECT count(*) FROM cmp_insert) AS c_insert_sessions,
       (SELECT count(*) FROM cmp_result) AS c_direct_sessions;
-- Every difference (none)
(SELECT 'only 0.4.0' AS side, * FROM cmp_plpgsql EXCEPT SELECT 'only 0.4.0', * FROM cmp_result)
UNION ALL
(SELECT 'only C', * FROM cmp_result EXCEPT SELECT 'only C', * FROM cmp_plpgsql)
UNION ALL
(SELECT 'only C INSERT', * FROM cmp_insert EXCEPT SELECT 'only C INSERT', * FROM cmp_plpgsql)
UNION ALL
(SELECT 'only 0.4.0 vs INSERT', * FROM cmp_plpgsql EXCEPT SELECT 'only 0.4.0 vs INSERT', * FROM cmp_insert)
ORDER BY 2, 1 LIMIT 20;

-- Rights: the trigger reads and writes with the loading role's privileges,
-- as the SQL statement did.  A role that may load visits and read what the
-- rules read, but not write sessions, is refused; granted INSERT on them
-- (not SELECT: the trigger does not read them), it schedules.
SET client_min_messages = warning;
DROP ROLE IF EXISTS cmp_loader;
CREATE ROLE cmp_loader;
RESET client_min_messages;
GRANT USAGE ON SCHEMA nps TO cmp_loader;
GRANT SELECT, INSERT ON nps.visit TO cmp_loader;
GRANT INSERT ON nps.change_log TO cmp_loader;
GRANT SELECT ON nps.setting, nps.survey, nps.salon, nps.region, nps.opt_out TO cmp_loader;
SET ROLE cmp_loader;
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
SELECT '79000000999', min(code), '2026-09-01 12:00+03', 'acl-1' FROM nps.salon;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT INSERT ON nps.session TO cmp_loader;
GRANT USAGE ON SEQUENCE nps.session_id_seq TO cmp_loader;
SET ROLE cmp_loader;
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
SELECT '79000000999', min(code), '2026-09-01 12:00+03', 'acl-1' FROM nps.salon;
RESET ROLE;
SELECT v.external_ref, s.state FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id
WHERE v.external_ref LIKE 'acl-%';
-- Row level security on nps.session would filter what the role sees: the
-- trigger refuses rather than bypass it.
ALTER TABLE nps.session ENABLE ROW LEVEL SECURITY;
CREATE POLICY cmp_all ON nps.session USING (true);
SET ROLE cmp_loader;
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
SELECT '79000000998', min(code), '2026-09-01 12:00+03', 'acl-2' FROM nps.salon;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP POLICY cmp_all ON nps.session;
ALTER TABLE nps.session DISABLE ROW LEVEL SECURITY;
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
DROP OWNED BY cmp_loader;
DROP ROLE cmp_loader;

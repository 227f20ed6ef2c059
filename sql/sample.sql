-- The sample-data generator: a network across the Russian time zones and
-- visits, deterministic for a seed.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

SELECT nps.generate_network(42, p_regions => 13, p_dealers => 50, p_salons => 200);
SELECT time_zone, count(*) FROM nps.region GROUP BY 1 ORDER BY min(code);
SELECT kind, count(*) > 0 AS present FROM nps.salon GROUP BY 1 ORDER BY 1;
SELECT role, count(*) FROM nps.staff GROUP BY role ORDER BY min(id);
-- Every dealer salon lies in its dealer's region.
SELECT count(*) AS misplaced FROM nps.salon s JOIN nps.dealer d ON d.code = s.dealer_code
WHERE s.region_code <> d.region_code;
-- Running it again adds nothing.
SELECT nps.generate_network(42, p_regions => 13, p_dealers => 50, p_salons => 200);

SELECT nps.generate_visits(10000, '2026-09-01', '2026-10-01', 7);
SELECT count(*), count(DISTINCT msisdn) < count(*) AS some_come_twice,
       min(occurred_at) >= '2026-09-01' AND max(occurred_at) < '2026-10-01' AS in_period,
       bool_and(msisdn ~ '^79[0-9]{9}$') AS valid_numbers
FROM nps.visit;
SELECT channel, count(*) > 0 AS present FROM nps.visit GROUP BY 1 ORDER BY 1;
-- Same seed, same visits: the second load is a no-op; a fresh load is identical.
SELECT nps.generate_visits(10000, '2026-09-01', '2026-10-01', 7) AS added_again;
CREATE TEMP TABLE first AS SELECT md5(string_agg(concat_ws('|', msisdn, salon_code, occurred_at, specialist, external_ref), ',' ORDER BY external_ref)) AS h FROM nps.visit;
SET client_min_messages = warning;
TRUNCATE nps.visit CASCADE;
RESET client_min_messages;
SELECT nps.generate_visits(10000, '2026-09-01', '2026-10-01', 7);
SELECT (SELECT h FROM first) = md5(string_agg(concat_ws('|', msisdn, salon_code, occurred_at, specialist, external_ref), ',' ORDER BY external_ref)) AS deterministic FROM nps.visit;
SELECT nps.generate_visits(10, '2026-10-01', '2026-09-01');
SELECT nps.generate_network(1, 0);
-- A one-region network (Kaliningrad) still gets its contact centre.
SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
CREATE EXTENSION nps;
RESET client_min_messages;
SELECT nps.generate_network(1, 1, 1, 2);
SELECT code, dealer_code, region_code FROM nps.salon ORDER BY code;

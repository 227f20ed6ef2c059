-- Scheduling one million visits: the same INSERT ... SELECT into nps.visit
-- with the session trigger (visit_schedule) and without it, in one run.
-- Prints one line per run: label, rows, seconds.  Run by bench/survey_bench.sh.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
SELECT nps.generate_network(42) AS network;

-- The visits are generated once (without sessions) and copied aside, so
-- every run inserts exactly the same rows and the generator's cost is not
-- part of any figure.
ALTER TABLE nps.visit DISABLE TRIGGER visit_schedule;
SELECT nps.generate_visits(:visits, '2026-01-01 00:00+03', '2026-02-01 00:00+03', 42) AS generated;
DROP TABLE IF EXISTS bench_visit;
CREATE UNLOGGED TABLE bench_visit AS
    SELECT msisdn, salon_code, occurred_at, channel, specialist, external_ref FROM nps.visit ORDER BY id;
TRUNCATE nps.visit CASCADE;

CREATE TEMP TABLE bench_result (label text, rows bigint, seconds numeric);
CREATE FUNCTION pg_temp.load(p_label text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    n bigint;
BEGIN
    t0 := clock_timestamp();
    INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, specialist, external_ref)
    SELECT msisdn, salon_code, occurred_at, channel, specialist, external_ref FROM bench_visit;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO bench_result VALUES (p_label, n, round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2));
END $$;

CHECKPOINT;
SELECT pg_temp.load('visits, no session trigger (1)');
TRUNCATE nps.visit CASCADE; CHECKPOINT;
ALTER TABLE nps.visit ENABLE TRIGGER visit_schedule;
SELECT pg_temp.load('visits + sessions (1)');
SELECT state, split_part(state_reason, ':', 1) AS reason, count(*) FROM nps.session GROUP BY 1, 2 ORDER BY 3 DESC;
SELECT count(*) AS sessions FROM nps.session;

\pset format unaligned
\pset fieldsep ' | '
SELECT label, rows, seconds, round(rows / seconds) AS rows_per_s FROM bench_result;
\pset format aligned
SELECT round(avg(seconds) FILTER (WHERE label LIKE 'visits +%') / avg(seconds) FILTER (WHERE label LIKE '%no session%'), 2) AS ratio_with_to_without
FROM bench_result;

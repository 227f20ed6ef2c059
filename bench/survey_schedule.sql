-- Scheduling one million visits as an operator loads them: in batches (one
-- INSERT ... SELECT of :batch visits per transaction, in the order of the
-- visits' times, as periodic exports from the sales systems arrive), through
-- the real triggers of nps.visit.  The same batches run first with the
-- session trigger (visit_schedule) disabled, then with it, in one run; every
-- other trigger, constraint and index of nps.visit is at work in both.
-- Prints one line per run: label, rows, batches, seconds.  Run by
-- bench/survey_bench.sh (SCHEDULE_ONLY=1 for this part alone).
\set ON_ERROR_STOP 1
\if :{?batch}
\else
\set batch 10000
\endif
-- -v profile=1: pg_stat_statements (track = all) for the run with the trigger.
\if :{?profile}
\else
\set profile ''
\endif
SELECT :'profile' <> '' AS profiling \gset
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
-- -v version=0.2.0 measures an older release's triggers on the same load.
\if :{?version}
CREATE EXTENSION nps VERSION :'version' CASCADE;
\else
CREATE EXTENSION nps CASCADE;
\endif
SELECT extversion AS nps_version FROM pg_extension WHERE extname = 'nps';
SELECT nps.generate_network(42) AS network;
-- -v prep='SQL' (bench/survey_bench.sh PREP=...): a schema change to measure.
\if :{?prep}
:prep
\endif

-- The visits are generated once (without sessions) and copied aside, so
-- every run inserts exactly the same rows and the generator's cost is not
-- part of any figure.  n numbers them in time order: batch k is n in
-- ((k - 1) * batch, k * batch].
ALTER TABLE nps.visit DISABLE TRIGGER visit_schedule;
SELECT nps.generate_visits(:visits, '2026-01-01 00:00+03', '2026-02-01 00:00+03', 42) AS generated;
DROP TABLE IF EXISTS bench_visit;
CREATE UNLOGGED TABLE bench_visit AS
    SELECT row_number() OVER (ORDER BY occurred_at, id) AS n,
           msisdn, salon_code, occurred_at, channel, specialist, external_ref
    FROM nps.visit;
CREATE INDEX ON bench_visit (n);
ANALYZE bench_visit;
TRUNCATE nps.visit CASCADE;

CREATE TEMP TABLE bench_result (label text, rows bigint, batches integer, seconds numeric, cpu_s numeric, probe_s numeric);
-- The backend's own CPU time (user + system, /proc/self/stat): on this shared
-- machine the wall clock also counts waiting for a core and other tenants.
CREATE FUNCTION pg_temp.cpu_s() RETURNS numeric LANGUAGE sql AS $$
    -- fields 14 and 15 (utime, stime, in ticks of 1/100 s), after the command name
    SELECT (f[12]::numeric + f[13]::numeric) / 100
    FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f) x
$$;
-- How fast the machine is right now: the same CPU-bound query, timed right
-- before each run (on this shared machine the same code runs 1.5x slower
-- in some hours; compare runs whose probe_s agree).
CREATE FUNCTION pg_temp.probe_s() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); x numeric;
BEGIN
    SELECT sum(i) INTO x FROM generate_series(1, 5000000) i;
    RETURN round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3);
END $$;
CREATE TEMP TABLE bench_batch (label text, batch integer, seconds numeric);
CREATE PROCEDURE pg_temp.load(p_label text, p_batch integer)
LANGUAGE plpgsql AS $$
DECLARE
    probe numeric := pg_temp.probe_s();
    t0 timestamptz := clock_timestamp();
    c0 numeric := pg_temp.cpu_s();
    tb timestamptz;
    total bigint := 0;
    k integer := 0;
    n bigint;
BEGIN
    LOOP
        tb := clock_timestamp();
        INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, specialist, external_ref)
        SELECT msisdn, salon_code, occurred_at, channel, specialist, external_ref
        FROM bench_visit WHERE bench_visit.n > k::bigint * p_batch AND bench_visit.n <= (k + 1)::bigint * p_batch;
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        COMMIT;
        INSERT INTO bench_batch VALUES (p_label, k + 1, extract(epoch FROM clock_timestamp() - tb));
        total := total + n;
        k := k + 1;
    END LOOP;
    INSERT INTO bench_result VALUES (p_label, total, k, round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2),
                                     round(pg_temp.cpu_s() - c0, 2), probe);
    COMMIT;
END $$;

CHECKPOINT;
CALL pg_temp.load('visits, no session trigger', :batch);
TRUNCATE nps.visit, nps.change_log CASCADE;
CHECKPOINT;
ALTER TABLE nps.visit ENABLE TRIGGER visit_schedule;
\if :profiling
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SELECT pg_stat_statements_reset();
\endif
CALL pg_temp.load('visits + sessions', :batch);
SELECT state, split_part(state_reason, ':', 1) AS reason, count(*) FROM nps.session GROUP BY 1, 2 ORDER BY 3 DESC;
SELECT count(*) AS sessions FROM nps.session;
-- Catching up after an outage: nps.run_due() first called when a day and a
-- half of the sessions are due (those of 1-2 January, 24 days later).
CREATE TEMP TABLE bench_catch_up AS
SELECT clock_timestamp() AS t0, nps.run_due('2026-01-26 12:00+03') AS started, clock_timestamp() AS t1;
SELECT started, round(extract(epoch FROM t1 - t0)::numeric, 2) AS catch_up_seconds,
       (SELECT count(*) FROM nps.session WHERE due_at <= '2026-01-26 12:00+03') AS due
FROM bench_catch_up;
\if :profiling
SELECT round(total_exec_time) AS ms, calls, round(mean_exec_time::numeric, 3) AS ms_per_call,
       left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15;
\endif

\pset format unaligned
\pset fieldsep ' | '
SELECT label, rows, batches, seconds, cpu_s, round(rows / seconds) AS rows_per_s, probe_s FROM bench_result;
\pset format aligned
-- Does a batch cost more as the tables grow?  Seconds per tenth of the load.
SELECT (batch - 1) * 10 / (SELECT max(batch) FROM bench_batch) + 1 AS tenth,
       round(sum(seconds) FILTER (WHERE label LIKE '%no session%'), 2) AS without_trigger,
       round(sum(seconds) FILTER (WHERE label LIKE 'visits +%'), 2) AS with_trigger
FROM bench_batch GROUP BY 1 ORDER BY 1;
SELECT round(avg(seconds) FILTER (WHERE label LIKE 'visits +%') / avg(seconds) FILTER (WHERE label LIKE '%no session%'), 2) AS ratio_with_to_without
FROM bench_result;

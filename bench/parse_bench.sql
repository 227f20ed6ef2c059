-- Reply parser micro-benchmark: 100,000 replies through each parsing function.
-- Run in a database with nps installed:  psql -X -f bench/parse_bench.sql
-- (bench/parse_bench.sh does it on a throwaway cluster, and adds CPU times).
-- Each figure is the best of 3 runs; "scan only" is the same query with
-- length() instead of the parser, so parser cost = its time minus that.
\ir parse_bench_data.sql

CREATE FUNCTION pg_temp.bench(label text, query text, runs integer DEFAULT 3)
RETURNS TABLE (what text, replies bigint, best_seconds numeric, replies_per_s bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    best float8 := 'Infinity';
    n bigint;
BEGIN
    FOR i IN 1..runs LOOP
        t0 := clock_timestamp();
        EXECUTE query INTO n;
        best := least(best, extract(epoch FROM clock_timestamp() - t0)::float8);
    END LOOP;
    RETURN QUERY SELECT label, n, round(best::numeric, 3), (n / best)::bigint;
END $$;

SET max_parallel_workers_per_gather = 0;   -- one core: the per-backend rate
SELECT * FROM pg_temp.bench('scan only (length)',
    'SELECT count(length(body)) FROM bench_reply')
UNION ALL SELECT * FROM pg_temp.bench('nps.parse_reply',
    'SELECT count((nps.parse_reply(body, kind)).status) FROM bench_reply')
UNION ALL SELECT * FROM pg_temp.bench('nps.parse_score',
    'SELECT count(nps.parse_score(body, 0, 10) IS NULL) FROM bench_reply')
UNION ALL SELECT * FROM pg_temp.bench('nps.parse_yes_no',
    'SELECT count(nps.parse_yes_no(body) IS NULL) FROM bench_reply')
UNION ALL SELECT * FROM pg_temp.bench('nps.is_stop',
    'SELECT count(nps.is_stop(body)) FROM bench_reply')
UNION ALL SELECT * FROM pg_temp.bench('nps.normalize_reply',
    'SELECT count(nps.normalize_reply(body)) FROM bench_reply')
UNION ALL SELECT * FROM pg_temp.bench('regexp baseline (substring ''\d+'')',
    'SELECT count(substring(body FROM ''\d+'') IS NULL) FROM bench_reply');

-- What the mix of replies parses to (a sanity check on the workload).
SELECT (nps.parse_reply(body, kind)).status, count(*) FROM bench_reply GROUP BY 1 ORDER BY 2 DESC;

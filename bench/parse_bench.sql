-- Reply parser micro-benchmark: 100,000 replies through each parsing function.
-- Run in a database with nps installed:  psql -X -f bench/parse_bench.sql
-- (bench/parse_bench.sh does it on a throwaway cluster).  Each figure is the
-- best of 3 runs; "scan only" is the same query with length() instead of the
-- parser, so parser cost = its time minus that.
\set ON_ERROR_STOP on
SELECT setseed(0.2024);
CREATE TEMP TABLE bench_reply AS
SELECT g AS id, t.kind,
       CASE WHEN random() < 0.3 THEN t.body || ' ' || (ARRAY['!', ')))', '👍', 'спасибо', '...'])[1 + g % 5]
            ELSE t.body END AS body
FROM generate_series(1, 100000) g
JOIN (SELECT row_number() OVER () - 1 AS n, kind, body FROM (VALUES
    ('score', '10'), ('score', '9'), ('score', '8'), ('score', '0'), ('score', '5'),
    ('score', '10 из 10'), ('score', '9/10'), ('score', 'оценка: 8!'), ('score', 'на 9'),
    ('score', 'десять'), ('score', 'твердая восьмерка'), ('score', 'Девятка'),
    ('score', '9-10'), ('score', '7 или 8'), ('score', '11'), ('score', '1O'),
    ('score', '10, всё отлично, спасибо специалисту Марине за помощь с тарифом'),
    ('score', '3, ждал в очереди 40 минут, никто не подошёл'), ('score', 'СТОП'),
    ('yes_no', 'да'), ('yes_no', 'Да!'), ('yes_no', 'нет'), ('yes_no', 'HET'),
    ('yes_no', 'нет, не объяснили'), ('yes_no', 'да, но долго'), ('yes_no', 'не знаю'),
    ('yes_no', 'конечно'), ('yes_no', 'угу'), ('yes_no', 'no'),
    ('text', 'Всё отлично, спасибо'), ('text', 'Долго ждал, специалист был один на весь салон, очередь человек десять'),
    ('text', 'не пишите больше'), ('text', '👍')) v(kind, body)) t
ON t.n = g % 33;
ANALYZE bench_reply;

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

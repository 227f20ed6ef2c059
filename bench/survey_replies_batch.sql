-- Replies benchmark, batched: the stream goes in statements of :batch rows
-- (autocommit, one transaction each) into nps.inbox (trigger: parse, answer,
-- next question), or with -v store=1 through nps.store_replies (the call
-- the worker makes for a flush of replies), and, as the baseline, into
-- plain_inbox.  Prints label | rows | seconds | rows/s | cpu_s, cpu_s being
-- the CPU time this backend spent (user + system, from /proc): on a shared
-- machine the wall-clock figures include waiting for a core, the CPU time
-- does not.
\set ON_ERROR_STOP 1
CREATE TEMP TABLE bench_result (label text, rows bigint, seconds numeric, cpu_s numeric);
-- utime + stime of this backend, in seconds (fields 14 and 15 of
-- /proc/<pid>/stat; the clock tick is 1/100 s on Linux)
CREATE FUNCTION pg_temp.cpu_s() RETURNS numeric LANGUAGE sql AS $$
    SELECT (f[12]::numeric + f[13]::numeric) / 100
    FROM string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') f
$$;
SELECT count(*) AS n FROM reply_stream \gset
CHECKPOINT;

SELECT clock_timestamp() AS t0, pg_temp.cpu_s() AS c0 \gset
SELECT format('INSERT INTO plain_inbox (msisdn, short_code, body) SELECT msisdn, short_code, body FROM reply_stream WHERE id > %s AND id <= %s ORDER BY id', b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
INSERT INTO bench_result SELECT 'plain INSERT, batches of ' || :batch, :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;
CHECKPOINT;

SELECT clock_timestamp() AS t0, pg_temp.cpu_s() AS c0 \gset
\if :{?store}
-- (each call's result, one row a batch, is not printed)
\o /dev/null
SELECT format('SELECT cardinality(nps.store_replies(%L, array_agg(msisdn ORDER BY id), array_agg(short_code ORDER BY id), array_agg(body ORDER BY id), array_agg(now() ORDER BY id))) FROM reply_stream WHERE id > %s AND id <= %s', 'bench', b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
\o
INSERT INTO bench_result SELECT 'nps.store_replies (worker) + dialogue, batches of ' || :batch, :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;
\else
SELECT format('INSERT INTO nps.inbox (msisdn, short_code, body) SELECT msisdn, short_code, body FROM reply_stream WHERE id > %s AND id <= %s ORDER BY id', b, b + :batch)
FROM generate_series(0, :n - 1, :batch) b \gexec
INSERT INTO bench_result SELECT 'INSERT INTO nps.inbox + dialogue trigger, batches of ' || :batch, :n, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2), pg_temp.cpu_s() - :c0;
\endif

-- Every reply landed where it should.
SELECT status, count(*) FROM nps.inbox GROUP BY 1 ORDER BY 1;
SELECT state, count(*) FROM nps.session GROUP BY 1 ORDER BY 1;
SELECT kind, count(*) FROM nps.outbox GROUP BY 1 ORDER BY 1;
SELECT count(*) AS answers FROM nps.answer;
\pset format unaligned
\pset fieldsep ' | '
SELECT label, rows, seconds, round(rows / seconds) AS rows_per_s, cpu_s FROM bench_result;
\pset format aligned
SELECT round(max(seconds) FILTER (WHERE label NOT LIKE 'plain%') / max(seconds) FILTER (WHERE label LIKE 'plain%'), 2) AS ratio_nps_to_plain,
       round(max(cpu_s) FILTER (WHERE label NOT LIKE 'plain%') / nullif(max(cpu_s) FILTER (WHERE label LIKE 'plain%'), 0), 2) AS cpu_ratio
FROM bench_result;

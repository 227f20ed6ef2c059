#!/usr/bin/env bash
# bench/smpp_throughput.sh: nps worker throughput and latency against the
# simulator in --sink mode, with the bare libsmpp34 client (smpp-blast) as
# the ceiling, in the same run on the same machine.
#
#   bench/smpp_throughput.sh [COUNT] [WINDOW]      (defaults 100000, 100)
#   COUNT 0 runs the latency measurement only.
#
# 1. ceiling: smpp-blast sends COUNT submit_sm with receipts to the sink;
# 2. nps: COUNT queued outbox rows; the bind is enabled and the time from
#    the first submit to the last receipt recorded (state delivered) is
#    measured in the database (min(sent_at) .. max(done_at));
# 3. latency at low load: 200 rows inserted one per transaction, 20 ms
#    apart; commit time (track_commit_timestamp) against the time the
#    simulator logged the submit_sm.
# Runs as root like scripts/test; PostgreSQL runs as postgres on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
# Installs into $PG_CONFIG's tree (default: the system PostgreSQL 15; on a
# shared machine use a private copy, scripts/pg-sandbox).
. scripts/lib.sh
COUNT=${1:-100000}
WINDOW=${2:-100}
PORT=${NPS_BENCH_PGPORT:-$(nps_free_port)}

nps_build_install
nps_workdir
cleanup() {
    nps_stop_sim
    nps_stop_cluster
    [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"
}
trap cleanup EXIT

# NPS_BENCH_STATEMENTS=1: also report the worker's statements from
# pg_stat_statements (nested ones too) after part 2.
bench_conf() {
    printf '%s\n' "track_commit_timestamp = on" "max_wal_size = 4GB" "log_min_messages = warning"
    if [ -n "${NPS_BENCH_STATEMENTS:-}" ]; then
        printf '%s\n' "shared_preload_libraries = 'pg_cron,nps,pg_stat_statements'" \
            "pg_stat_statements.track = all" "pg_stat_statements.track_planning = on" "pg_stat_statements.max = 1000"
    fi
}
nps_start_cluster "$PORT" < <(bench_conf)
psql() { as_postgres "$NPS_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$NPS_WORK" -p "$PORT" -U postgres -d postgres "$@"; }

start_sim() { nps_start_sim --sink "$@"; }

echo "== machine: $(nproc) cores, $(uname -r); PostgreSQL $("$NPS_BINDIR/postgres" --version | awk '{print $3}')"

if [ "$COUNT" -gt 0 ]; then
echo "== 1. ceiling: bench/smpp-blast, $COUNT messages, window $WINDOW, receipts on"
start_sim
blast=$(bench/smpp-blast --port "$SIM_PORT" --count "$COUNT" --window "$WINDOW" --text 'Оцените салон от 0 до 10')
echo "$blast"
blast_rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$blast")
nps_stop_sim

echo "== 2. nps: $COUNT queued outbox rows -> submit_sm -> receipt recorded (delivered)"
# NPS_BENCH_RECEIPT_DELAY_MS: the simulator holds each receipt that long
# (a real SMSC's receipts come seconds after the submit_sm_resp; the sink's
# at once), for nps only.
start_sim --log "$NPS_WORK/submits.tsv" ${NPS_BENCH_RECEIPT_DELAY_MS:+--receipt-delay-ms "$NPS_BENCH_RECEIPT_DELAY_MS"}
chown postgres: "$NPS_WORK/submits.tsv" 2>/dev/null || true
psql -c "SET client_min_messages = warning; CREATE EXTENSION nps CASCADE"
psql -c "INSERT INTO nps.smsc (name, port, system_id, window_size, enabled) VALUES ('bench', $SIM_PORT, 'nps', $WINDOW, false)"
psql -c "INSERT INTO nps.outbox (msisdn, source_addr, body)
         SELECT '7916' || lpad(g::text, 7, '0'), '0650', 'Оцените салон от 0 до 10 #' || g
         FROM generate_series(1, $COUNT) g"
psql -c "VACUUM ANALYZE nps.outbox"
psql -c "UPDATE nps.smsc SET enabled = true"
start=$(date +%s.%N)
worker_pid=
for _ in $(seq 600); do
    worker_pid=$(psql -At -c "SELECT pid FROM nps.smsc_status WHERE pid IS NOT NULL")
    [ -n "$worker_pid" ] && break
    sleep 0.1
done
if command -v perf >/dev/null && [ -n "$worker_pid" ]; then
    perf record -F 499 -g -p "$worker_pid" -o "$NPS_WORK/perf.data" -- sleep 5 >/dev/null 2>&1 &
    PERF_PID=$!
fi
# Wait on the worker's counter (shared memory: a count over the outbox every
# half second would take a good share of the CPU the worker is measured on),
# then on the rows themselves.
while [ "$(psql -At -c "SELECT delivered FROM nps.smsc_status")" -lt "$COUNT" ] ||
      [ "$(psql -At -c "SELECT count(*) FROM nps.outbox WHERE state = 'delivered'")" -lt "$COUNT" ]; do
    sleep 0.5
    if [ "$(echo "$(date +%s.%N) - $start > 600" | bc)" = 1 ]; then echo "timed out"; break; fi
done
psql -At -F ' ' -c "SELECT 'nps: messages=' || count(*) || ' seconds=' ||
         round(extract(epoch FROM max(done_at) - min(sent_at))::numeric, 2) || ' rate=' ||
         round(count(*) / extract(epoch FROM max(done_at) - min(sent_at))::numeric) || '/s'
         FROM nps.outbox WHERE state = 'delivered'"
nps_rate=$(psql -At -c "SELECT round(count(*) / extract(epoch FROM max(done_at) - min(sent_at))::numeric)
         FROM nps.outbox WHERE state = 'delivered'")
echo "nps / ceiling = $(echo "scale=3; $nps_rate / $blast_rate" | bc)"
psql -c "SELECT name, submitted, acknowledged, delivered, throttled, failed, requeued FROM nps.smsc_status"
if [ -n "${NPS_BENCH_STATEMENTS:-}" ]; then
    echo "== the worker's statements (pg_stat_statements, whole run, nested included)"
    psql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    psql -c "SELECT calls, round(total_exec_time::numeric) AS exec_ms, round(total_plan_time::numeric) AS plan_ms,
                    rows, round((1000 * total_exec_time / $COUNT)::numeric, 1) AS us_per_msg,
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
             FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
    sleep 1     # the worker reports its table statistics at most once a second
    # the tables are partitioned by month: their figures are the sums over the months
    psql -c "SELECT t.tbl AS relname, sum(s.n_tup_ins) AS n_tup_ins, sum(s.n_tup_upd) AS n_tup_upd,
                    sum(s.n_tup_hot_upd) AS n_tup_hot_upd, pg_size_pretty(sum(pg_relation_size(s.relid))) AS size
             FROM unnest(array['nps.outbox', 'nps.outbox_part']::regclass[]) t(tbl)
             JOIN LATERAL pg_partition_tree(t.tbl) p ON p.isleaf
             JOIN pg_stat_user_tables s ON s.relid = p.relid
             GROUP BY t.tbl"
fi
if [ -n "${PERF_PID:-}" ]; then
    wait "$PERF_PID" || true
    echo "== where the worker's time goes (perf, 5 s of the run, self time)"
    perf report -i "$NPS_WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -25 || true
fi

else
    start_sim --log "$NPS_WORK/submits.tsv"
    psql -c "SET client_min_messages = warning; CREATE EXTENSION nps CASCADE"
    psql -c "INSERT INTO nps.smsc (name, port, system_id, window_size) VALUES ('bench', $SIM_PORT, 'nps', $WINDOW)"
    sleep 2
fi

echo "== 3. latency at low load: commit to submit_sm at the SMSC, 200 single-row transactions"
# Two clocks for the commit: pg_xact_commit_timestamp of the inserting
# transaction (taken just before its WAL flush), and clock_timestamp() in the
# client's next statement (after COMMIT returned to the client and the client
# sent the next statement: this one includes the client round trip).
: > "$NPS_WORK/submits.tsv"
{
    echo "CREATE TEMP TABLE lat (body text, x xid, t timestamptz);"
    for i in $(seq 200); do
        # the outbox is partitioned: no xmin in RETURNING; the transaction's own xid instead
        echo "WITH i AS (INSERT INTO nps.outbox (msisdn, source_addr, body) VALUES ('79260000001', '0650', 'latency $i') RETURNING 1) SELECT (pg_current_xact_id()::text::bigint % 4294967296)::text::xid AS x FROM i \\gset"
        echo "INSERT INTO lat VALUES ('latency $i', :'x', clock_timestamp());"
        echo "SELECT pg_sleep(0.02);"
    done
    echo "SELECT pg_sleep(2);"
    echo "CREATE TEMP TABLE wire (ms bigint, body text);"
    echo "COPY wire FROM PROGRAM 'awk -F \"\t\" ''\$4 != \"-\" {print \$1 \"\t\" \$NF}'' $NPS_WORK/submits.tsv';"
    cat <<'SQL'
\o
\pset format aligned
SELECT count(*) AS messages,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY after_commit)::numeric, 2) AS p50_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY after_commit)::numeric, 2) AS p99_ms,
       round(max(after_commit)::numeric, 2) AS max_ms,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY from_commit_ts)::numeric, 2) AS p50_from_commit_ts,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY from_commit_ts)::numeric, 2) AS p99_from_commit_ts
FROM (SELECT w.ms - extract(epoch FROM l.t) * 1000 AS after_commit,
             w.ms - extract(epoch FROM pg_xact_commit_timestamp(l.x)) * 1000 AS from_commit_ts
      FROM lat l JOIN wire w ON w.body = l.body) s;
SQL
} | psql -o /dev/null

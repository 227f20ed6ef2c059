#!/usr/bin/env bash
# bench/survey_bench.sh: the survey engine's two benchmarks on a throwaway
# cluster (127.0.0.1, removed afterwards), each against its baseline in the
# same run:
#   1. scheduling: VISITS visits (default 1,000,000) loaded in batches of
#      SCHEDULE_BATCH (default 10,000) per transaction with the session
#      trigger vs the same batches with the trigger disabled, then one
#      nps.run_due() catching up 1.5 days of due sessions
#      (SCHEDULE_ONLY=1: this part alone; NPS_VERSION=0.2.0: through that
#      release's triggers);
#   2. replies: REPLIES_SESSIONS sessions x 6 replies through nps.inbox (parse,
#      answer, next question) vs a plain INSERT of the same rows into a plain
#      table, in statements of BATCH rows (default 1000), then (2b) the same
#      through nps.store_replies (the worker's call for a flush), and (2c)
#      the floor: the rows the dialogue writes, written alone
#      (survey_replies_floor.sql)
#      (REPLIES_VERSIONS="0.3.0": part 2 first through each release named, in
#      the same cluster, for a same-run comparison), and one reply per
#      transaction through nps.receive (pgbench, one client, ONE_TX replies)
#      vs one plain INSERT per transaction.
# PROFILE=1 adds pg_stat_statements (track = all) and prints where the time
# went (it slows the runs down a little).  For experiments on the schema:
# PREP='SQL' runs after CREATE EXTENSION in part 1 (e.g. an index replaced),
# SHARED_BUFFERS (default 512MB) sizes the cluster's buffer pool.
#   bench/survey_bench.sh            VISITS=200000 bench/survey_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib.sh

VISITS=${VISITS:-1000000}
REPLIES_SESSIONS=${REPLIES_SESSIONS:-20000}
BATCH=${BATCH:-1000}
ONE_TX=${ONE_TX:-20000}
PORT=${PORT:-$(nps_free_port)}

# PGXS reads PROFILE as extra compiler flags: not ours while building
PROFILE= nps_build_install
nps_workdir
trap 'nps_stop_cluster; [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"' EXIT
for f in bench/survey_*.sql; do cp "$f" "$NPS_WORK/"; done
chown postgres: "$NPS_WORK"/survey_*.sql
# The extra settings go in through a file: a pipeline would start the
# cluster in a subshell and lose the PGHOST/NPS_PGDATA it exports.
{
    echo "shared_buffers = ${SHARED_BUFFERS:-512MB}"
    echo "max_wal_size = 4GB"
    echo "nps.enabled = off"
    if [ -n "${PROFILE:-}" ]; then
        echo "shared_preload_libraries = 'pg_cron,nps,pg_stat_statements'"
        echo "pg_stat_statements.track = all"
    fi
} > "$NPS_WORK/extra.conf"
nps_start_cluster "$PORT" < "$NPS_WORK/extra.conf"

psql_() { as_postgres env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres psql -X -q "$@"; }
profile() {
    [ -n "${PROFILE:-}" ] || return 0
    echo "-- where the time went ($1): top statements, nested ones included"
    psql_ -c "SELECT round(total_exec_time) AS ms, calls, round(mean_exec_time::numeric, 3) AS ms_per_call,
                     left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query
              FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12"
}
reset_profile() { [ -z "${PROFILE:-}" ] || psql_ -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()" >/dev/null; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
SCHEDULE_BATCH=${SCHEDULE_BATCH:-10000}
echo "== 1. scheduling $VISITS visits in batches of $SCHEDULE_BATCH"
echo "   (${NPS_VERSION:+NPS_VERSION=$NPS_VERSION }VISITS=$VISITS SCHEDULE_BATCH=$SCHEDULE_BATCH bench/survey_bench.sh)"
psql_ -v visits="$VISITS" -v batch="$SCHEDULE_BATCH" -v profile="${PROFILE:-}" ${PREP:+-v prep="$PREP"} \
      ${NPS_VERSION:+-v version="$NPS_VERSION"} -f "$NPS_WORK/survey_schedule.sql"
if [ -n "${SCHEDULE_ONLY:-}" ]; then
    echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    exit 0
fi

echo "== 2. replies: $REPLIES_SESSIONS sessions x 6 replies"
REPLIES_VERSIONS=${REPLIES_VERSIONS:-}
for version in $REPLIES_VERSIONS ""; do
    echo "== 2${version:+ (nps $version)}. INSERT INTO nps.inbox, the dialogue trigger"
    psql_ -v sessions="$REPLIES_SESSIONS" ${version:+-v version="$version"} -f "$NPS_WORK/survey_replies_setup.sql" >/dev/null
    reset_profile
    psql_ -v batch="$BATCH" -f "$NPS_WORK/survey_replies_batch.sql"
    profile "replies in batches, INSERT INTO nps.inbox${version:+ (nps $version)}"
done
echo "== 2b. the same through nps.store_replies, as the worker stores a flush"
psql_ -v sessions="$REPLIES_SESSIONS" -f "$NPS_WORK/survey_replies_setup.sql" >/dev/null
reset_profile
psql_ -v batch="$BATCH" -v store=1 -f "$NPS_WORK/survey_replies_batch.sql"
profile "replies in batches, nps.store_replies"
echo "== 2c. the floor: the dialogue's writes alone, and the least any design writes"
psql_ -v sessions="$REPLIES_SESSIONS" -f "$NPS_WORK/survey_replies_setup.sql" >/dev/null
psql_ -v batch="$BATCH" -f "$NPS_WORK/survey_replies_floor.sql"

echo "== 3. one reply per transaction, $ONE_TX of them (pgbench, 1 client)"
psql_ -v sessions="$REPLIES_SESSIONS" -f "$NPS_WORK/survey_replies_setup.sql" >/dev/null
for script in survey_plain_one survey_reply_one; do
    as_postgres env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
        pgbench -n -c 1 -t "$ONE_TX" -f "$NPS_WORK/$script.sql" postgres 2>&1 |
        awk -v s="$script" '/^tps/ { print s " | " $3 " per second" }'
done
psql_ -c "SELECT status, count(*) FROM nps.inbox GROUP BY 1 ORDER BY 1"
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

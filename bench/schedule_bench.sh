#!/usr/bin/env bash
# bench/schedule_bench.sh: the scheduling benchmark alone (part 1 of
# bench/survey_bench.sh) on a throwaway cluster: VISITS visits (default
# 1,000,000) loaded in batches of SCHEDULE_BATCH (default 10,000) per
# transaction, without and with the session trigger, in the same run.
# PROFILE=1 adds pg_stat_statements (track = all) and prints where the time
# went in the run with the trigger.
# NPS_VERSION=0.2.0 installs that release instead of the current one (the
# same load through the older triggers, for a before/after comparison).
#   bench/schedule_bench.sh        VISITS=200000 PROFILE=1 bench/schedule_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

VISITS=${VISITS:-1000000}
SCHEDULE_BATCH=${SCHEDULE_BATCH:-10000}
PORT=${PORT:-$(nps_free_port)}

nps_build_install
nps_workdir
trap 'nps_stop_cluster; [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"' EXIT
cp bench/survey_schedule.sql "$NPS_WORK/"
chown postgres: "$NPS_WORK/survey_schedule.sql"
{
    echo "shared_buffers = 512MB"
    echo "max_wal_size = 4GB"
    echo "nps.enabled = off"
    if [ -n "${PROFILE:-}" ]; then
        echo "shared_preload_libraries = 'pg_cron,nps,pg_stat_statements'"
        echo "pg_stat_statements.track = all"
    fi
} > "$NPS_WORK/extra.conf"
nps_start_cluster "$PORT" < "$NPS_WORK/extra.conf"
psql_() { as_postgres env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres psql -X -q "$@"; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== scheduling $VISITS visits in batches of $SCHEDULE_BATCH"
echo "   (command: ${NPS_VERSION:+NPS_VERSION=$NPS_VERSION }VISITS=$VISITS SCHEDULE_BATCH=$SCHEDULE_BATCH bench/schedule_bench.sh)"
psql_ -v visits="$VISITS" -v batch="$SCHEDULE_BATCH" -v profile="${PROFILE:-}" \
      ${NPS_VERSION:+-v version="$NPS_VERSION"} -f "$NPS_WORK/survey_schedule.sql"
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

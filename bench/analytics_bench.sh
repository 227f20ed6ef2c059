#!/usr/bin/env bash
# bench/analytics_bench.sh [SCALE]: one year of surveys at SCALE x the reference
# scale (1 = 2.6 million sessions, about 15 million answers), loaded set-based into a
# throwaway cluster; then the first (full) refresh, one more day of data, the daily
# incremental refresh, and a full refresh of the same data for comparison.
# Prints one "name seconds" line per step and the refresh figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SCALE=${1:-1}
PORT=${NPS_BENCH_PORT:-54392}
YEAR_VISITS=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 2600000 * s }')
DAY_VISITS=$(awk -v s="$SCALE" 'BEGIN { printf "%d", 2600000 * s / 365 }')

nps_build_install
nps_workdir
trap 'nps_stop_cluster; [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"' EXIT
nps_start_cluster "$PORT" <<CONF
nps.enabled = off
shared_buffers = 2GB
work_mem = 256MB
maintenance_work_mem = 1GB
max_wal_size = 16GB
checkpoint_timeout = 30min
synchronous_commit = off
CONF
sql() { as_postgres psql -X -q -At -v ON_ERROR_STOP=1 -h "$NPS_WORK" -p "$PORT" -U postgres -d postgres "$@"; }
step() {  # step NAME psql-args...: runs and prints the wall time
    local name=$1 t0 t1; shift
    t0=$(date +%s.%N); sql "$@" >/dev/null; t1=$(date +%s.%N)
    printf '%-28s %8.1f s\n' "$name" "$(echo "$t1 - $t0" | bc)"
}

echo "scale $SCALE: $YEAR_VISITS visits in the year, $DAY_VISITS a day"
sql -c "CREATE EXTENSION nps CASCADE" 2>/dev/null
sql -f bench/analytics_setup.sql >/dev/null
# The bulk load skips row triggers and foreign-key checks (the generator writes
# consistent rows); the daily load below goes through every trigger.
step load_year -c "SET session_replication_role = replica" \
    -v visits="$YEAR_VISITS" -v from_days=389 -v until_days=24 -v seed=1 -f bench/analytics_generate.sql
step analyze -c "VACUUM ANALYZE"
sql -c "SELECT 'rows: ' || (SELECT count(*) FROM nps.session) || ' sessions, ' || (SELECT count(*) FROM nps.answer) || ' answers, ' || (SELECT count(*) FROM nps.outbox) || ' messages'"
step first_refresh_full -c "SELECT nps.refresh()"
step load_day -v visits="$DAY_VISITS" -v from_days=25 -v until_days=24 -v seed=2 -f bench/analytics_generate.sql
sql -c "SELECT 'change log: ' || count(*) || ' rows' FROM nps.change_log"
step refresh_daily_incremental -c "SELECT nps.refresh()"
sql -c "SELECT 'incremental: ' || last_refresh::text FROM nps.analytics_state"
step refresh_idle -c "SELECT nps.refresh()"
step refresh_full -c "SELECT nps.refresh(true)"
sql -c "SELECT 'full: ' || last_refresh::text FROM nps.analytics_state"
sql -c "SELECT 'aggregates: ' || (SELECT count(*) FROM nps.nps_summary) || ' nps rows, ' || (SELECT count(*) FROM nps.question_summary) || ' question rows, ' || (SELECT count(*) FROM nps.ranking) || ' ranking rows, ' || (SELECT count(*) FROM nps.funnel_daily) || ' funnel days'"
step read_dealer_month -c "SELECT * FROM nps.dealer_ranking WHERE period_kind = 'month'"
step read_funnel_month -c "SELECT * FROM nps.funnel WHERE level = 'region' AND period_kind = 'month'"

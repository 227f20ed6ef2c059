#!/usr/bin/env bash
# bench/parse_bench.sh: builds and installs nps, starts a throwaway cluster on
# 127.0.0.1 (port $PORT, default 55471), and measures the reply parser:
#   1. wall clock: bench/parse_bench.sql (100,000 replies per function, best of 3);
#   2. CPU time of the backend (user + system, from /proc) for 1,000,000
#      replies per function: steadier than wall clock on a shared machine.
# Then stops the cluster.
#   PG_CONFIG=/tmp/pg-me/usr/lib/postgresql/15/bin/pg_config bench/parse_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib.sh
nps_install_packages
nps_build_install
nps_workdir
trap 'nps_stop_cluster; rm -rf "$NPS_WORK"' EXIT
nps_start_cluster "${PORT:-55471}" <<<"nps.enabled = off"   # not a pipe: it exports PGHOST etc.
as_postgres psql -X -q -c "CREATE EXTENSION nps CASCADE" >/dev/null

echo "== wall clock"
as_postgres psql -X -f "$ROOT/bench/parse_bench.sql"

echo "== backend CPU time for 1,000,000 replies"
{
    echo '\set QUIET on'
    echo "\\ir $ROOT/bench/parse_bench_data.sql"
    echo '\o'
    echo 'SELECT pg_backend_pid() AS pid \gset'
    echo '\setenv BENCH_PID :pid'
    while IFS='|' read -r label expr; do
        echo "\\! awk '{print \$14 + \$15}' /proc/\$BENCH_PID/stat > $NPS_WORK/cpu0"
        echo "SELECT count($expr) FROM bench_reply, generate_series(1, 10) \\g /dev/null"
        echo "\\! echo \"$label|\$(( \$(awk '{print \$14 + \$15}' /proc/\$BENCH_PID/stat) - \$(cat $NPS_WORK/cpu0) ))\""
    done <<'QUERIES'
scan only (length)|length(body)
nps.parse_reply|(nps.parse_reply(body, kind)).status
nps.parse_score|nps.parse_score(body, 0, 10) IS NULL
nps.parse_yes_no|nps.parse_yes_no(body) IS NULL
nps.is_stop|nps.is_stop(body)
nps.normalize_reply|nps.normalize_reply(body)
QUERIES
} | as_postgres psql -X -q -o /dev/null 2>&1 | awk -F'|' -v hz="$(getconf CLK_TCK)" '
    /\|/ { s = $2 / hz; if ($1 ~ /^scan/) base = s
           printf "%-22s %6.2f s CPU  %8.2f us/reply  %9d replies/s (parser only: %.2f us)\n",
                  $1, s, s, 1e6 / s, s - base }'

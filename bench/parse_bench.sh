#!/usr/bin/env bash
# bench/parse_bench.sh: builds and installs nps, starts a throwaway cluster on
# 127.0.0.1 (port $PORT, default 55471), runs bench/parse_bench.sql (100,000
# replies through each parsing function) and stops the cluster.
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
as_postgres psql -X -f "$ROOT/bench/parse_bench.sql"

#!/usr/bin/env bash
# bench/alerts_ingest.sh: how much slower is reply ingest with alerts on?
# Inserts the same answers (default 100,000 in batches of 1,000, then 5,000
# one per statement as the dialogue trigger does) with the alert triggers
# disabled and enabled, alternating, in one throwaway cluster, and prints the
# medians and the on/off ratio.  Then the same for reply ingest itself
# (bench/alerts_replies.sql: replies into nps.inbox, parsed into answers,
# next question queued; REPLY_SESSIONS sessions of six replies in batches,
# REPLY_SINGLES sessions one reply per transaction through nps.receive;
# REPLY_SESSIONS=0 skips it).  Needs nps built and installed (scripts/test
# does that; or make install).  Usage:
#   [REPLY_SESSIONS=2000] [REPLY_SINGLES=300] bench/alerts_ingest.sh [answers] [batch] [rounds] [singles]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
nps_workdir
trap 'nps_stop_cluster; [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"' EXIT
# The first free port from 54391 (other clusters may be running).
port=${NPS_BENCH_PORT:-54391}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
nps_start_cluster "$port" <<'CONF'
nps.enabled = off
shared_buffers = 256MB
synchronous_commit = off
CONF
echo "== load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== answers straight into nps.answer"
as_postgres psql -X -q -v answers="${1:-100000}" -v batch="${2:-1000}" -v rounds="${3:-3}" -v singles="${4:-5000}" \
    -f bench/alerts_ingest.sql
if [ "${REPLY_SESSIONS:-2000}" -gt 0 ]; then
    echo "== replies through nps.inbox (parse, answer, next question)"
    as_postgres psql -X -q -v reply_sessions="${REPLY_SESSIONS:-2000}" -v reply_singles="${REPLY_SINGLES:-300}" \
        -v batch="${2:-1000}" -v rounds="${3:-3}" -f bench/alerts_replies.sql
fi
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# bench/reply_latency.sh: how long a subscriber waits for the next question.
# SESSIONS surveys (default 2000) run end to end on the SMSC simulator, every
# question answered (after 200-400 ms, no STOP, nothing unparseable), one
# transceiver bind; then, per answer, the time from the reply stored (its
# store transaction) to the next message (question or thanks) accepted by
# the SMSC (its submit_sm_resp), as percentiles, and the time the whole
# loop took (first question queued to last message accepted).  A throwaway cluster and simulator on 127.0.0.1, removed
# afterwards.
#   bench/reply_latency.sh            SESSIONS=500 bench/reply_latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SESSIONS=${SESSIONS:-2000}
PORT=${PORT:-$(nps_free_port)}

nps_build_install
nps_workdir
cleanup() {
    nps_stop_sim
    nps_stop_cluster
    [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"
}
trap cleanup EXIT

nps_start_sim --system-id nps --password bench --seed 7 \
    --reply-rate 1 --reply-min-ms 200 --reply-max-ms 400 --stop-rate 0 --garbage-rate 0 \
    --receipt-delay-ms 100

nps_start_cluster "$PORT" </dev/null
psql_() { as_postgres env PGHOST="$PGHOST" PGPORT="$PGPORT" "$NPS_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(git describe --always --dirty)"
psql_ <<SQL
SET client_min_messages = warning;
CREATE EXTENSION nps CASCADE;
SELECT nps.generate_network(7, p_dealers => 10, p_salons => 40) IS NOT NULL AS network;
UPDATE nps.region SET send_from = '00:00', send_until = '23:59:59';
SELECT nps.generate_visits($SESSIONS, now() - interval '26 days', now() - interval '24 days', 7) AS visits;
INSERT INTO nps.smsc (name, host, port, system_id, password) VALUES ('sim', '127.0.0.1', $SIM_PORT, 'nps', 'bench');
SQL
for _ in $(seq 100); do
    [ "$(psql_ -At -c "SELECT state FROM nps.smsc_status")" = bound ] && break
    sleep 0.1
done
psql_ -At -c "SELECT nps.run_due() AS started" >/dev/null
# until no session is active and nothing waits to go (or 10 minutes)
for _ in $(seq 600); do
    sleep 1
    [ "$(psql_ -At -c "SELECT count(*) FROM nps.session WHERE state = 'active'")" = 0 ] && break
done

psql_ <<SQL
\pset footer off
SELECT state, count(*) FROM nps.session GROUP BY 1 ORDER BY 1;
SELECT status, count(*) FROM nps.inbox GROUP BY 1 ORDER BY 1;
-- each answer, and the message its store transaction queued
WITH waits AS (
    SELECT extract(epoch FROM o.submitted_at - i.stored_at) * 1000 AS ms
    FROM nps.inbox i
    JOIN nps.outbox o ON o.session_id = i.session_id AND o.queued_at = i.stored_at
    WHERE i.status = 'answered' AND o.submitted_at IS NOT NULL
)
SELECT count(*) AS answers,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p50_ms,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p90_ms,
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS p99_ms,
       round(max(ms)::numeric, 1) AS max_ms
FROM waits;
-- first question queued to last message accepted
SELECT round(extract(epoch FROM max(submitted_at) - min(queued_at))::numeric, 2) AS loop_seconds FROM nps.outbox;
SQL
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

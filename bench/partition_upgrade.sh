#!/usr/bin/env bash
# bench/partition_upgrade.sh: what partitioning costs where it happens once or
# rarely, on a throwaway cluster (127.0.0.1, removed afterwards):
#   1. ALTER EXTENSION nps UPDATE from 0.2.0 to 0.3.0 on a database holding
#      SESSIONS sessions with six answers and six replies each (default
#      200,000: 1.2 million answers and 1.2 million replies), against the time
#      a plain pass over the same rows takes (count(*) of both tables);
#   2. nps.ensure_partitions() creating a month, and its idempotent re-run;
#   3. dropping a month of answers and replies (nps.drop_partition) against
#      deleting the same rows with DELETE.
#   SESSIONS=1000000 bench/partition_upgrade.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib.sh

SESSIONS=${SESSIONS:-200000}
PORT=${PORT:-$(nps_free_port)}

nps_build_install
nps_workdir
trap 'nps_stop_cluster; [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"' EXIT
{
    echo "shared_buffers = 512MB"
    echo "max_wal_size = 4GB"
    echo "nps.enabled = off"
} > "$NPS_WORK/extra.conf"
nps_start_cluster "$PORT" < "$NPS_WORK/extra.conf"
psql_() { as_postgres env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 0.2.0 with $SESSIONS sessions, six answers and six replies each"
psql_ -v sessions="$SESSIONS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nps VERSION '0.2.0' CASCADE;
SELECT nps.generate_network(42) IS NOT NULL AS network;
SELECT nps.generate_visits(:sessions, '2026-01-01 00:00+03', '2026-02-01 00:00+03', 7, 1000000000) AS visits;
-- Replies already processed (status answered: the dialogue trigger skips them) and their answers.
INSERT INTO nps.inbox (msisdn, short_code, body, received_at, session_id, status)
SELECT s.msisdn, '0650', q::text, s.due_at + q * interval '1 minute', s.id, 'answered'
FROM nps.session s CROSS JOIN generate_series(1, 6) q ORDER BY s.id, q;
INSERT INTO nps.answer (session_id, question_no, score, inbox_id, answered_at)
SELECT session_id, row_number() OVER (PARTITION BY session_id ORDER BY id), 9, id, received_at FROM nps.inbox;
VACUUM ANALYZE;
SELECT (SELECT count(*) FROM nps.answer) AS answers, (SELECT count(*) FROM nps.inbox) AS replies;
SQL

echo "== 1. upgrade"
psql_ <<'SQL'
\timing on
SELECT count(*) FROM nps.answer;
SELECT count(*) FROM nps.inbox;
ALTER EXTENSION nps UPDATE TO '0.3.0';
\timing off
SELECT parent, count(*) AS partitions FROM nps.partitions GROUP BY 1 ORDER BY 1;
SQL

echo "== 2. partitions ahead"
psql_ <<'SQL'
\timing on
SELECT nps.ensure_partitions(now() + interval '5 months') AS created;
SELECT nps.ensure_partitions(now() + interval '5 months') AS created_again;
SQL

echo "== 3. a month of replies (with the answers pointing at them): DELETE vs drop_partition"
psql_ -v sessions="$SESSIONS" <<'SQL'
-- The same month of replies twice, two months back: deleted row by row, then
-- dropped whole.  Each time a tenth of the answers point at them (answer.inbox_id
-- is set to NULL either way).
SELECT nps.ensure_partitions(now() - interval '3 months') AS created;
CREATE TEMP TABLE link AS SELECT session_id, question_no, inbox_id FROM nps.answer WHERE session_id % 10 = 0;
CREATE FUNCTION pg_temp.fill() RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO nps.inbox (id, msisdn, short_code, body, received_at, status)
    SELECT nps.id_base(now() - interval '2 months') + 1000000000 + i.id, i.msisdn, i.short_code, i.body,
           now() - interval '2 months', 'answered'
    FROM nps.inbox i WHERE i.id < 10000000000;
    UPDATE nps.answer a SET inbox_id = nps.id_base(now() - interval '2 months') + 1000000000 + l.inbox_id
    FROM link l WHERE a.session_id = l.session_id AND a.question_no = l.question_no;
    SELECT count(*) FROM nps.inbox WHERE id >= nps.id_base(now() - interval '2 months') AND id < nps.id_base(now() - interval '1 month');
$$;
SELECT pg_temp.fill() AS replies_of_the_month;
CHECKPOINT;
\timing on
DELETE FROM nps.inbox WHERE id >= nps.id_base(now() - interval '2 months') AND id < nps.id_base(now() - interval '1 month');
\timing off
UPDATE nps.answer SET inbox_id = NULL WHERE session_id % 10 = 0;
SELECT pg_temp.fill() AS replies_of_the_month;
SELECT format('nps.inbox_%s', to_char(now() AT TIME ZONE 'UTC' - interval '2 months', 'YYYYMM')) AS inbox_part \gset
CHECKPOINT;
\timing on
SELECT nps.drop_partition(:'inbox_part');
\timing off
SELECT count(*) FILTER (WHERE inbox_id IS NULL) AS answers_unlinked FROM nps.answer;
SQL
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

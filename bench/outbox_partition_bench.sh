#!/usr/bin/env bash
# bench/outbox_partition_bench.sh: what the monthly partitions of nps.outbox
# cost the worker's store, in one run on one throwaway cluster (127.0.0.1,
# removed afterwards), against the unpartitioned outbox of 0.3.0:
#   0.3.0     one table holding HISTORY delivered messages;
#   4 parts   0.4.0 as installed (this month and 3 ahead), the same history
#             in this month;
#   13 parts  0.4.0 a year on: 9 past months, this month and 3 ahead, the
#             history spread over the past months and this one.
# Each runs the worker's SQL exactly as the worker calls it, one transaction
# per call (the time counted is the calls', not the commits': a commit's
# fsync costs the same in every configuration and only adds noise): MESSAGES queued messages claimed and recorded as submitted in
# batches of BATCH (nps.smsc_claim + nps.smsc_submitted), then their
# receipts in batches of BATCH (nps.smsc_receipts: the receipt of a message
# comes later than its submit_sm_resp, as from a real SMSC).  ROUNDS rounds,
# the configurations taking turns; the best round of each is reported with
# the ratios against 0.3.0 and the load average.
#   HISTORY=1000000 MESSAGES=20000 bench/outbox_partition_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

HISTORY=${HISTORY:-1000000}
MESSAGES=${MESSAGES:-20000}
BATCH=${BATCH:-100}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-$(nps_free_port)}

nps_build_install
nps_workdir
trap 'nps_stop_cluster; [ -n "${NPS_KEEP:-}" ] || rm -rf "$NPS_WORK"' EXIT
nps_start_cluster "$PORT" < <(printf '%s\n' "shared_buffers = 512MB" "max_wal_size = 4GB" "nps.enabled = off")
psql_() { as_postgres env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres psql -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); history $HISTORY messages, $MESSAGES per round, batches of $BATCH"

# One round: the send path, then the receipt path, each call its own transaction.
psql_ <<'SQL'
CREATE TABLE public.result (config text, round int, partitions int, send_s numeric, receipt_s numeric, load text);
CREATE PROCEDURE public.store_round(p_messages int, p_batch int, INOUT send_s numeric DEFAULT NULL, INOUT receipt_s numeric DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    ids bigint[];
    sent bigint[] := '{}';
    i int;
BEGIN
    INSERT INTO nps.outbox (msisdn, source_addr, body)
    SELECT '7916' || lpad(g::text, 7, '0'), '0650', 'Оцените салон от 0 до 10 #' || g FROM generate_series(1, p_messages) g;
    COMMIT;
    send_s := 0;
    receipt_s := 0;
    LOOP
        t0 := clock_timestamp();
        SELECT array_agg(c.id ORDER BY c.id) INTO ids FROM nps.smsc_claim('bench', p_batch) c;
        EXIT WHEN ids IS NULL;
        PERFORM nps.smsc_submitted('bench', ids, array_fill(1::smallint, ARRAY[cardinality(ids)]),
                                   ARRAY(SELECT 'm' || x FROM unnest(ids) x), '{}', '{}', '{}', true, NULL, NULL);
        send_s := send_s + extract(epoch FROM clock_timestamp() - t0);
        COMMIT;
        sent := sent || ids;
    END LOOP;
    i := 1;
    WHILE i <= cardinality(sent) LOOP
        ids := sent[i:i + p_batch - 1];
        t0 := clock_timestamp();
        PERFORM nps.smsc_receipts('bench', ARRAY(SELECT 'm' || x FROM unnest(ids) x),
                                  array_fill('delivered'::text, ARRAY[cardinality(ids)]), array_fill(0, ARRAY[cardinality(ids)]));
        receipt_s := receipt_s + extract(epoch FROM clock_timestamp() - t0);
        COMMIT;
        i := i + p_batch;
    END LOOP;
    IF (SELECT count(*) FROM nps.outbox WHERE id = ANY (sent) AND state = 'delivered') <> cardinality(sent) THEN
        RAISE EXCEPTION 'not every message was delivered';
    END IF;
END $$;
SQL

# A configuration: the extension at a version, the history in the past months.
setup() {   # version, past months holding history (0: all in this month)
    psql_ -v version="$1" -v past="$2" -v history="$HISTORY" <<'SQL'
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps VERSION :'version' CASCADE;
INSERT INTO nps.smsc (name, port, system_id, enabled) VALUES ('bench', 1, 'nps', false);
SELECT (:'version' = '0.3.0') AS v030 \gset
\if :v030
INSERT INTO nps.outbox (msisdn, source_addr, body, state, smsc_name, parts, message_id, queued_at, submitted_at, done_at)
SELECT '7903' || lpad(g::text, 7, '0'), '0650', 'Оцените салон от 0 до 10', 'delivered', 'bench', 1, 'h' || g,
       now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, :history) g;
\else
UPDATE nps.analytics_setting SET value = '0' WHERE name = 'partition_months_ahead';
SELECT sum(nps.ensure_partitions(now() - k * interval '1 month')) AS past_months FROM generate_series(1, :past) k;
-- history spread evenly over the past months and this one (ids of their months)
INSERT INTO nps.outbox (id, msisdn, source_addr, body, state, smsc_name, parts, message_id, queued_at, submitted_at, done_at)
SELECT nps.id_base(now() - m * interval '1 month') + g, '7903' || lpad(g::text, 7, '0'), '0650', 'Оцените салон от 0 до 10',
       'delivered', 'bench', 1, 'h' || m || '-' || g, now() - m * interval '1 month', now() - m * interval '1 month', now() - m * interval '1 month'
FROM generate_series(0, :past) m, generate_series(1, :history / (:past + 1)) g;
ALTER SEQUENCE nps.outbox_id_seq RESTART WITH 5000000;
\endif
VACUUM ANALYZE nps.outbox;
SELECT count(*) AS history FROM nps.outbox;
SQL
}

configs=("0.3.0:0" "0.4.0:0" "0.4.0:9")
for round in $(seq "$ROUNDS"); do
    for c in "${configs[@]}"; do
        version=${c%:*} past=${c#*:}
        setup "$version" "$past" >/dev/null
        psql_ -v version="$version" -v round="$round" -v messages="$MESSAGES" -v batch="$BATCH" <<'SQL'
CALL public.store_round(:messages, :batch, NULL, NULL) \gset
INSERT INTO public.result
SELECT CASE WHEN :'version' = '0.3.0' THEN '0.3.0' ELSE count(*) || ' partitions' END, :round,
       count(*), :send_s, :receipt_s, pg_read_file('/proc/loadavg')
FROM pg_partition_tree('nps.outbox') WHERE isleaf;
SQL
    done
done

psql_ -v messages="$MESSAGES" <<'SQL'
\echo == every round (seconds)
SELECT config, round, round(send_s, 2) AS send_s, round(receipt_s, 2) AS receipt_s, split_part(load, ' ', 1) AS load1 FROM public.result ORDER BY round, partitions;
\echo == best round of each: messages per second, and against 0.3.0
WITH best AS (SELECT config, partitions, min(send_s) AS send_s, min(receipt_s) AS receipt_s FROM public.result GROUP BY 1, 2)
SELECT b.config, round(:messages / b.send_s) AS send_per_s, round(:messages / b.receipt_s) AS receipts_per_s,
       round(o.send_s / b.send_s, 2) AS send_vs_030, round(o.receipt_s / b.receipt_s, 2) AS receipts_vs_030
FROM best b, best o WHERE o.config = '0.3.0' ORDER BY b.partitions;
SQL
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

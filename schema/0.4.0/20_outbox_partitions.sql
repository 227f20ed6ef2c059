-- Monthly partitions of the outgoing messages, nps.outbox and nps.outbox_part
-- (the largest raw tables: every question text with its phone number), the
-- same way 0.3.0 partitioned nps.answer and nps.inbox (50_partitions.sql):
--   nps.outbox       by id         ids drawn by nps.next_id(): a message
--                                  lives in the partition of the UTC month it
--                                  was queued in;
--   nps.outbox_part  by outbox_id  the parts of a message live in the month of
--                                  their message, so a month of parts is
--                                  dropped together with its month of messages
--                                  (its foreign key to nps.outbox stays).
-- What partitioning must not cost the worker:
-- * The claim and the receipt stay HOT updates: a partitioned table carries
--   no fillfactor, so every partition of nps.outbox is created with
--   fillfactor 40 (nps.partitioned_table.partition_options), at the upgrade
--   (the old table keeps its own) and by nps.ensure_partitions().
-- * A statement that names its rows by id bounds the ids by their least and
--   greatest value, so that the executor prunes the partitions no id falls in:
--   "id = ANY (ids)" alone probes the index of every partition.  The
--   worker's functions keep one generic plan each (plan_cache_mode): the
--   bounds are parameters, the months are left out when the plan starts;
--   PL/pgSQL would otherwise plan these statements anew at every call (a
--   plan pruned to one month looks cheaper than one for all months), at a
--   cost that grows with the number of months.
-- * A receipt names its message by the SMSC's message id only.  It is looked
--   for in the partitions of the messages queued recently (the current month,
--   and the previous one during the first days of a month): a receipt follows
--   its message within seconds or hours.  Only the receipts not found there
--   (an early receipt waiting for its submit_sm_resp, a receipt days late, a
--   receipt sent twice) are looked for in every month.

-- Options of the partitions ----------------------------------------------------------

ALTER TABLE nps.partitioned_table ADD COLUMN partition_options text[];
COMMENT ON COLUMN nps.partitioned_table.partition_options IS
    'Storage parameters of every partition nps.ensure_partitions() creates (a partitioned table carries none itself), such as fillfactor';

-- Receipts are looked for first among the messages queued since this long.
INSERT INTO nps.analytics_setting VALUES
    ('receipt_window', '3 days',
     'Delivery receipts are first matched against the messages queued since this long (the partitions of those months only); older messages are found too, by a search of every month');

CREATE OR REPLACE FUNCTION nps.ensure_partitions(p_at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '10s' AS $$
DECLARE
    t record;
    m timestamp;     -- a month's start on the UTC clock: month arithmetic must not follow the session's TimeZone
    part name;
    n integer := 0;
    this_month timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
BEGIN
    FOR t IN SELECT p.relation, c.relname, c.relnamespace::regnamespace AS ns,
                    ' WITH (' || array_to_string(p.partition_options, ', ') || ')' AS options
             FROM nps.partitioned_table p JOIN pg_class c ON c.oid = p.relation ORDER BY c.relname LOOP
        FOR m IN SELECT generate_series(this_month, this_month + nps.analytics_setting('partition_months_ahead')::int * interval '1 month',
                                        interval '1 month') LOOP
            part := t.relname || '_' || to_char(m, 'YYYYMM');
            CONTINUE WHEN EXISTS (SELECT FROM pg_class WHERE relname = part AND relnamespace = t.ns);
            EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS)%s',
                           t.ns, part, t.relation, t.options);
            EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%s) TO (%s)', t.relation, t.ns, part,
                           nps.id_base(m AT TIME ZONE 'UTC'), nps.id_base((m + interval '1 month') AT TIME ZONE 'UTC'));
            EXECUTE format('COMMENT ON TABLE %I.%I IS %L', t.ns, part,
                           format('Partition of %s: ids drawn in %s (UTC)', t.relation, to_char(m, 'YYYY-MM')));
            n := n + 1;
        END LOOP;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.ensure_partitions(timestamptz) IS
    'Creates the monthly partitions of the tables of nps.partitioned_table (answers, replies, messages and their parts) for the UTC month of p_at and the partition_months_ahead following ones, where missing, with their partition_options; returns how many it created (0 when all exist)';
UPDATE nps.job SET description = 'Creates the monthly partitions of nps.answer, nps.inbox, nps.outbox and nps.outbox_part months ahead'
WHERE name = 'nps-partitions';

-- Retention of months of messages -----------------------------------------------------

-- A month of messages may go once every message in it is final: delivered or
-- failed, or submitted so long ago (before p_before, i.e. more than
-- msisdn_retention) that its receipt will never come; a message still queued
-- or being sent keeps its month however old.  A month of parts goes with its
-- month of messages (nps.drop_partition), never on its own.
CREATE OR REPLACE FUNCTION nps.expired_partitions(p_before timestamptz)
RETURNS TABLE (parent regclass, partition regclass, newest timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    unfinished boolean;
BEGIN
    FOR r IN SELECT p.parent, p.partition, p.from_id, p.to_id, t.time_column
             FROM nps.partitions p JOIN nps.partitioned_table t ON t.relation = p.parent
             WHERE (p.month + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= p_before
               AND p.parent <> 'nps.outbox_part'::regclass
             ORDER BY p.parent::text, p.from_id LOOP
        -- An answer may still come for a session of the month that has not
        -- ended (a short msisdn_retention): its partition must stay.
        CONTINUE WHEN r.parent = 'nps.answer'::regclass
            AND EXISTS (SELECT FROM nps.session s WHERE s.id >= r.from_id AND s.id < r.to_id
                        AND s.state IN ('scheduled', 'deferred', 'active'));
        IF r.parent = 'nps.outbox'::regclass THEN
            -- queued and sending: through outbox_unsent
            EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE message_id IS NULL AND error_code IS NULL AND state IN (''queued'', ''sending'')) '
                           'OR EXISTS (SELECT FROM %s WHERE state = ''submitted'' AND submitted_at >= $1)', r.partition, r.partition)
                INTO unfinished USING p_before;
            CONTINUE WHEN unfinished;
        END IF;
        parent := r.parent;
        partition := r.partition;
        EXECUTE format('SELECT max(%I) FROM %s', r.time_column, r.partition) INTO newest;
        IF newest IS NULL OR newest < p_before THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION nps.expired_partitions(timestamptz) IS
    'Partitions whose rows were all created before p_before and are all older than it by their time column (answered_at, received_at, queued_at), answers only once every session of their month has ended, messages only once none is queued, being sent or submitted since p_before: what retention drops (a month of message parts goes with its month of messages); newest is their newest row';

-- Rows of other tables that point into the partition get what their foreign
-- key's ON DELETE says (SET NULL, CASCADE, SET DEFAULT), by id range through
-- their index, before the partition is detached; a NO ACTION or RESTRICT key
-- that still has such rows makes the detach fail, as a DELETE would.  A table
-- partitioned by the very column that points here (the parts of messages)
-- loses its partition of the same months first, whole: its rows are not
-- deleted one by one, and the detach then finds none pointing into the month.
CREATE OR REPLACE FUNCTION nps.drop_partition(p_partition regclass) RETURNS void
LANGUAGE plpgsql SET lock_timeout = '10s' AS $$
DECLARE
    p record;
    fk record;
    range text;
BEGIN
    SELECT * INTO p FROM nps.partitions WHERE partition = p_partition;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a partition of a month-partitioned table', p_partition
            USING ERRCODE = 'invalid_parameter_value', HINT = 'See SELECT * FROM nps.partitions.';
    END IF;
    FOR fk IN SELECT q.partition
              FROM pg_constraint c
              JOIN pg_partitioned_table pt ON pt.partrelid = c.conrelid AND pt.partnatts = 1 AND pt.partattrs[0] = c.conkey[1]
              JOIN nps.partitions q ON q.parent = c.conrelid AND q.from_id = p.from_id AND q.to_id = p.to_id
              WHERE c.contype = 'f' AND c.confrelid = p.parent AND c.conparentid = 0 LOOP
        PERFORM nps.drop_partition(fk.partition);
    END LOOP;
    FOR fk IN SELECT c.conrelid::regclass AS rel, a.attname, c.confdeltype
              FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
              WHERE c.contype = 'f' AND c.confrelid = p.parent AND c.conparentid = 0 AND c.conrelid <> p.parent LOOP
        range := format('%I >= %s AND %I < %s', fk.attname, p.from_id, fk.attname, p.to_id);
        CASE fk.confdeltype
            WHEN 'n' THEN EXECUTE format('UPDATE %s SET %I = NULL WHERE %s', fk.rel, fk.attname, range);
            WHEN 'd' THEN EXECUTE format('UPDATE %s SET %I = DEFAULT WHERE %s', fk.rel, fk.attname, range);
            WHEN 'c' THEN EXECUTE format('DELETE FROM %s WHERE %s', fk.rel, range);
            ELSE NULL;
        END CASE;
    END LOOP;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', p.parent, p_partition);
    EXECUTE format('DROP TABLE %s', p_partition);
END $$;
COMMENT ON FUNCTION nps.drop_partition(regclass) IS
    'Drops a partition of nps.answer, nps.inbox or nps.outbox with its rows (a month of messages with its month of nps.outbox_part), applying first what the foreign keys pointing into it say on delete (SET NULL, CASCADE); retention calls it, it does not refresh or freeze aggregates itself';

-- The worker's statements on the partitions ----------------------------------------

-- The queue is read in id order through the outbox_unsent index of each
-- partition, month after month, and the reading stops after p_limit
-- claimable rows (enable_sort = off): a plan that collects every queued row
-- of every partition and sorts them would test each against the
-- per-subscriber rule, and the planner picks it whenever the statistics
-- describe a nearly empty queue (measured: 20 times slower with 2,000
-- queued, bench/RESULTS-partition.md).  The claimed rows are then updated by
-- id within the range they span, which leaves out the other partitions.
CREATE OR REPLACE FUNCTION nps.smsc_claim(p_smsc text, p_limit integer, p_after bigint DEFAULT 0)
RETURNS TABLE (id bigint, msisdn text, source_addr text, body text)
LANGUAGE plpgsql SET jit = off SET enable_sort = off SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    -- no message below the oldest waiting one needs looking at: the months
    -- before its month are left out, for the queue and for the rule
    oldest bigint := (SELECT min(w.id) FROM nps.outbox w WHERE w.message_id IS NULL AND w.error_code IS NULL);
BEGIN
    IF oldest IS NULL THEN
        RETURN;
    END IF;
    ids := ARRAY(
        SELECT q.id FROM nps.outbox q
        WHERE q.message_id IS NULL AND q.error_code IS NULL AND q.state = 'queued'
          AND (q.not_before IS NULL OR q.not_before <= now()) AND q.id > p_after AND q.id >= oldest
          -- a scalar subquery, evaluated row by row through the index:
          -- NOT EXISTS could become an anti join over the whole table
          AND (SELECT e.id FROM nps.outbox e
               WHERE e.msisdn = q.msisdn AND e.id < q.id AND e.id >= oldest AND e.message_id IS NULL
                 AND e.error_code IS NULL AND e.state IN ('queued', 'sending')
               LIMIT 1) IS NULL
        ORDER BY q.id LIMIT p_limit
        FOR UPDATE OF q SKIP LOCKED);
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH c AS (
        UPDATE nps.outbox o
        SET state = 'sending', smsc_name = p_smsc, attempts = o.attempts + 1,
            sent_at = coalesce(o.sent_at, now()), not_before = NULL
        WHERE o.id = ANY (ids) AND o.id BETWEEN ids[1] AND ids[cardinality(ids)]
        RETURNING o.id, o.msisdn, o.source_addr, o.body)
    SELECT c.id, c.msisdn, c.source_addr, c.body FROM c ORDER BY c.id;
END $$;

CREATE OR REPLACE FUNCTION nps.smsc_submitted(p_smsc text, p_ids bigint[], p_parts smallint[], p_first_msgids text[],
                                   p_part_ids bigint[], p_part_nos smallint[], p_part_msgids text[],
                                   p_check_pending boolean DEFAULT true,
                                   p_states text[] DEFAULT NULL, p_errors integer[] DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    n integer;
    lo bigint := (SELECT min(x) FROM unnest(p_ids) x);
    hi bigint := (SELECT max(x) FROM unnest(p_ids) x);
BEGIN
    -- The parts of multi-part messages (a single part is the message
    -- itself), only for rows this statement records: the foreign key is
    -- then checked for multi-part messages only.  A message resent after a
    -- crash replaces the ids of its earlier parts.
    WITH s AS (
        -- One scan of the primary key, "id = ANY" within the range of the
        -- ids: that range leaves out the other months, and each row's values
        -- are read at its position in the arrays.  (A join with unnest() was
        -- planned as a scan of every partition, or as a nested loop reading
        -- the arrays again for every row: the planner expects a single row in
        -- sending per partition.)  A multi-part message waits for the
        -- receipts of all its parts: only a single part takes p_states.
        UPDATE nps.outbox o
        SET (state, parts, message_id, submitted_at, done_at, error_code, error) =
            (SELECT coalesce(f.final, 'submitted'), p_parts[f.k], p_first_msgids[f.k], now(),
                    CASE WHEN f.final IS NOT NULL THEN now() END,
                    CASE WHEN f.final = 'failed' THEN nullif(p_errors[f.k], 0) END,
                    CASE WHEN f.final = 'failed' THEN 'delivery receipt: not delivered' END
             FROM (SELECT k, CASE WHEN p_parts[k] = 1 THEN p_states[k] END AS final
                   FROM array_position(p_ids, o.id) k) f)
        WHERE o.id = ANY (p_ids) AND o.id BETWEEN lo AND hi AND o.state = 'sending'
        RETURNING o.id, o.parts),
    p AS (
        INSERT INTO nps.outbox_part (outbox_id, part_no, smsc_name, message_id)
        SELECT u.id, u.part_no, p_smsc, u.msgid
        FROM unnest(p_part_ids, p_part_nos, p_part_msgids) AS u(id, part_no, msgid)
        JOIN s ON s.id = u.id AND s.parts > 1
        ON CONFLICT (outbox_id, part_no) DO UPDATE
            SET smsc_name = EXCLUDED.smsc_name, message_id = EXCLUDED.message_id, state = 'submitted',
                error_code = NULL, submitted_at = now(), done_at = NULL)
    SELECT count(*) INTO n FROM s;
    IF p_check_pending THEN
        PERFORM nps.smsc_apply_pending(p_smsc, p_first_msgids || p_part_msgids);
    END IF;
    RETURN n;
END $$;

-- Refused and requeued messages (throttling, errors): the same range of ids.
CREATE OR REPLACE FUNCTION nps.smsc_failed(p_smsc text, p_ids bigint[], p_codes integer[], p_errors text[])
RETURNS integer LANGUAGE sql AS $$
    WITH f AS (
        UPDATE nps.outbox o
        SET state = 'failed', error_code = p_codes[array_position(p_ids, o.id)],
            error = p_errors[array_position(p_ids, o.id)], done_at = now()
        WHERE o.id = ANY (p_ids) AND o.state = 'sending' AND o.smsc_name = p_smsc
          AND o.id BETWEEN (SELECT min(x) FROM unnest(p_ids) x) AND (SELECT max(x) FROM unnest(p_ids) x)
        RETURNING 1)
    SELECT count(*)::integer FROM f
$$;

CREATE OR REPLACE FUNCTION nps.smsc_requeue(p_smsc text, p_ids bigint[], p_delay interval DEFAULT '0')
RETURNS integer LANGUAGE sql AS $$
    WITH q AS (
        UPDATE nps.outbox o
        SET state = 'queued', not_before = CASE WHEN p_delay > '0' THEN now() + p_delay END
        WHERE o.id = ANY (p_ids) AND o.state = 'sending' AND o.smsc_name = p_smsc
          AND o.id BETWEEN (SELECT min(x) FROM unnest(p_ids) x) AND (SELECT max(x) FROM unnest(p_ids) x)
        RETURNING 1)
    SELECT count(*)::integer FROM q
$$;

-- Receipts: steps 1 and 2 (the exact id, of a single-part message, then of
-- a part) first among the messages queued within receipt_window, through the
-- indexes of those months only; then, for the ids not found there, in every
-- month.  Step 3 (other spellings, duplicates, receipts that overtook their
-- submit_sm_resp) looks at every month, as before.
CREATE OR REPLACE FUNCTION nps.smsc_receipts(p_smsc text, p_ids text[], p_states text[], p_errors integer[],
                                             p_at timestamptz DEFAULT now())
RETURNS integer LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    matched text[];
    part_hits text[];
    touched bigint[];
    rest integer[];
    i integer;
    spellings text[];
    hit bigint;
    part_hit bigint[];
    delivered_ids bigint[];
    failed_ids bigint[];
    failed_codes integer[];
    -- ids of the messages queued since the window (now() may be later than
    -- p_at, a receipt read from the queue of pending ones)
    recent bigint := nps.id_base(least(p_at, now()) - nps.analytics_setting('receipt_window')::interval);
    lo bigint;
BEGIN
    rest := ARRAY(SELECT generate_subscripts(p_ids, 1));
    FOR pass IN 1 .. 2 LOOP
        EXIT WHEN rest IS NULL;
        -- the recent months, then every month (the recent ones again: the
        -- rare ids not found there; a one-sided bound, which a generic plan
        -- does not mistake for a narrow range of the primary key)
        lo := CASE pass WHEN 1 THEN recent ELSE -9223372036854775808 END;
        -- Delivered and failed apart, each "message_id = ANY (ids)": probes of
        -- outbox_message whatever the statistics say, and no join whose inner
        -- side would be rescanned for every row; "id >= lo" leaves out the
        -- partitions of the older months.
        WITH u AS (
            UPDATE nps.outbox o SET state = 'delivered', done_at = p_at
            WHERE o.message_id = ANY (ARRAY(SELECT p_ids[k] FROM unnest(rest) k WHERE p_states[k] = 'delivered'))
              AND o.id >= lo
              AND o.smsc_name = p_smsc AND o.parts = 1 AND o.state = 'submitted'
            RETURNING o.message_id)
        SELECT matched || array_agg(u.message_id) INTO matched FROM u;
        IF 'failed' = ANY (p_states) THEN
            WITH u AS (
                UPDATE nps.outbox o
                SET state = 'failed', done_at = p_at, error = 'delivery receipt: not delivered',
                    error_code = nullif(p_errors[array_position(p_ids, o.message_id)], 0)
                WHERE o.message_id = ANY (ARRAY(SELECT p_ids[k] FROM unnest(rest) k WHERE p_states[k] = 'failed'))
                  AND o.id >= lo
                  AND o.smsc_name = p_smsc AND o.parts = 1 AND o.state = 'submitted'
                RETURNING o.message_id)
            SELECT matched || array_agg(u.message_id) INTO matched FROM u;
        END IF;
        SELECT array_agg(k) INTO rest FROM unnest(rest) k WHERE NOT p_ids[k] = ANY (coalesce(matched, '{}'));
        EXIT WHEN rest IS NULL;
        WITH u AS (
            UPDATE nps.outbox_part p
            SET state = p_states[array_position(p_ids, p.message_id)], done_at = p_at,
                error_code = nullif(p_errors[array_position(p_ids, p.message_id)], 0)
            WHERE p.message_id = ANY (ARRAY(SELECT p_ids[k] FROM unnest(rest) k))
              AND p.outbox_id >= lo AND p.smsc_name = p_smsc
            RETURNING p.outbox_id, p.message_id)
        SELECT touched || array_agg(u.outbox_id), part_hits || array_agg(u.message_id) INTO touched, part_hits FROM u;
        SELECT array_agg(k) INTO rest FROM unnest(rest) k WHERE NOT p_ids[k] = ANY (coalesce(part_hits, '{}'));
    END LOOP;
    IF rest IS NOT NULL THEN
        FOREACH i IN ARRAY rest LOOP
            spellings := nps.message_id_spellings(p_ids[i]);
            -- another spelling of a single-part message; or any spelling of one
            -- already finished (a receipt sent twice): nothing more to record
            SELECT o.id INTO hit FROM nps.outbox o
            WHERE o.message_id = ANY (spellings) AND o.smsc_name = p_smsc AND o.parts = 1
            ORDER BY o.state = 'submitted' DESC, o.id DESC LIMIT 1;
            IF FOUND THEN
                UPDATE nps.outbox o
                SET state = p_states[i], done_at = p_at,
                    error_code = CASE WHEN p_states[i] = 'failed' THEN nullif(p_errors[i], 0) END,
                    error = CASE WHEN p_states[i] = 'failed' THEN 'delivery receipt: not delivered' END
                WHERE o.id = hit AND o.state = 'submitted';
                matched := matched || p_ids[i];
                CONTINUE;
            END IF;
            WITH u AS (
                UPDATE nps.outbox_part p
                SET state = p_states[i], error_code = nullif(p_errors[i], 0), done_at = p_at
                WHERE p.smsc_name = p_smsc AND p.message_id = ANY (spellings[2:])
                RETURNING p.outbox_id)
            SELECT array_agg(u.outbox_id) INTO part_hit FROM u;
            IF part_hit IS NOT NULL THEN
                touched := touched || part_hit;
                part_hits := part_hits || p_ids[i];
                CONTINUE;
            END IF;
            INSERT INTO nps.receipt_pending (smsc_name, message_id, state, error_code, received_at)
            VALUES (p_smsc, p_ids[i], p_states[i], nullif(p_errors[i], 0), p_at)
            ON CONFLICT (smsc_name, message_id) DO UPDATE
                SET state = EXCLUDED.state, error_code = EXCLUDED.error_code, received_at = EXCLUDED.received_at;
        END LOOP;
    END IF;

    IF touched IS NOT NULL THEN
        -- A message is delivered when all its parts are, failed once one part fails.
        SELECT array_agg(outbox_id) FILTER (WHERE delivered AND NOT failed),
               array_agg(outbox_id) FILTER (WHERE failed), array_agg(error_code) FILTER (WHERE failed)
        INTO delivered_ids, failed_ids, failed_codes
        FROM (SELECT p.outbox_id, bool_or(p.state = 'failed') AS failed,
                     bool_and(p.state = 'delivered') AS delivered, max(p.error_code) AS error_code
              FROM nps.outbox_part p WHERE p.outbox_id = ANY (touched) GROUP BY p.outbox_id) s;
        UPDATE nps.outbox o SET state = 'delivered', done_at = p_at
        WHERE o.id = ANY (delivered_ids) AND o.state = 'submitted';
        UPDATE nps.outbox o
        SET state = 'failed', error_code = failed_codes[array_position(failed_ids, o.id)],
            error = 'delivery receipt: not delivered', done_at = p_at
        WHERE o.id = ANY (failed_ids) AND o.state = 'submitted';
    END IF;
    RETURN coalesce(array_length(matched, 1), 0) + coalesce(array_length(part_hits, 1), 0);
END $$;

-- The migration -----------------------------------------------------------------------
--
-- As in 0.3.0, each table keeps its rows where they are: it is renamed
-- <name>_<yyyymm of nps.id_epoch()> and attached as the partition of month 0
-- (ids below 10^10: every message queued before 0.4.0), under a new
-- partitioned table of the same name that takes over its indexes,
-- constraints, triggers, grants, comments, the foreign keys pointing at it
-- and the views reading it.  The old indexes are adopted by the new
-- table's, not rebuilt.  Used by this script only.
CREATE FUNCTION nps.partition_by_id_(p_table regclass, p_key name, p_time_column name, p_options text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t pg_class;
    qname text;
    month0 name;
    last_id bigint;
    seq text;
    s text;
    r record;
    ddl text[] := '{}';           -- replayed on the new table, in this order
BEGIN
    SELECT * INTO t FROM pg_class WHERE oid = p_table;
    qname := format('%I.%I', t.relnamespace::regnamespace, t.relname);
    month0 := t.relname || '_' || to_char(nps.id_epoch(), 'YYYYMM');

    IF t.relrowsecurity THEN
        RAISE EXCEPTION 'cannot partition %: it has row level security', qname
            USING ERRCODE = 'feature_not_supported', HINT = 'Disable it and drop its policies before ALTER EXTENSION nps UPDATE, then create them again.';
    END IF;
    -- A view of the user's own cannot be replaced by an extension script.
    SELECT string_agg(DISTINCT v.oid::regclass::text, ', ') INTO s
    FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = p_table AND v.oid <> p_table
      AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = v.oid AND e.deptype = 'e');
    IF s IS NOT NULL THEN
        RAISE EXCEPTION 'cannot partition %: objects that do not belong to nps depend on it', qname
            USING ERRCODE = 'dependent_objects_still_exist', DETAIL = format('Depending on %s: %s.', qname, s),
                  HINT = 'Drop them before ALTER EXTENSION nps UPDATE and create them again afterwards: they then read the partitioned table.';
    END IF;

    -- Captured before the rename: the texts name the table as it is named
    -- now, which then resolves to the new table.
    FOR r IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def
             FROM pg_constraint c WHERE c.conrelid = p_table AND c.contype IN ('p', 'u', 'f') ORDER BY c.contype = 'f', c.conname LOOP
        ddl := ddl || format('ALTER TABLE %s ADD CONSTRAINT %I %s', qname, r.conname, r.def);
        IF r.def LIKE 'FOREIGN KEY%' THEN
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', qname, r.conname);
        END IF;
    END LOOP;
    FOR r IN SELECT i.indexrelid::regclass AS idx, pg_get_indexdef(i.indexrelid) AS def, obj_description(i.indexrelid, 'pg_class') AS cmt
             FROM pg_index i
             WHERE i.indrelid = p_table AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = p_table)
             ORDER BY 1 LOOP
        ddl := ddl || r.def || format('COMMENT ON INDEX %s IS %L', r.idx, r.cmt);
    END LOOP;
    FOR r IN SELECT tg.tgname, pg_get_triggerdef(tg.oid) AS def, tg.tgenabled
             FROM pg_trigger tg WHERE tg.tgrelid = p_table AND NOT tg.tgisinternal ORDER BY tg.tgname LOOP
        ddl := ddl || r.def;
        IF r.tgenabled <> 'O' THEN
            ddl := ddl || format('ALTER TABLE %s %s TRIGGER %I', qname,
                CASE r.tgenabled WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END, r.tgname);
        END IF;
        EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, qname);
    END LOOP;
    FOR r IN SELECT c.conname, c.conrelid::regclass AS rel, pg_get_constraintdef(c.oid) AS def
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.confrelid = p_table AND c.conrelid <> p_table AND c.conparentid = 0 ORDER BY 2, 1 LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname);
        ddl := ddl || format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.rel, r.conname, r.def);
    END LOOP;
    FOR r IN SELECT DISTINCT v.oid::regclass AS view, pg_get_viewdef(v.oid) AS def, v.reloptions
             FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = p_table AND v.oid <> p_table LOOP
        ddl := ddl || format('CREATE OR REPLACE VIEW %s%s AS %s', r.view, ' WITH (' || array_to_string(r.reloptions, ', ') || ')', r.def);
    END LOOP;
    FOR s IN SELECT format('GRANT %s%s ON TABLE %s TO %s%s', a.privilege_type, ' (' || quote_ident(x.col) || ')', qname,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
             FROM (SELECT NULL::name AS col, t.relacl AS acl
                   UNION ALL
                   SELECT at.attname, at.attacl FROM pg_attribute at
                   WHERE at.attrelid = p_table AND at.attnum > 0 AND at.attacl IS NOT NULL) x
             CROSS JOIN LATERAL aclexplode(x.acl) a LOOP
        ddl := ddl || s;
    END LOOP;

    -- The old table becomes the partition of month 0 under new index names.
    FOR r IN SELECT ic.relname AS name, c.oid IS NOT NULL AS con
             FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = p_table
             WHERE i.indrelid = p_table LOOP
        s := left(month0 || substr(r.name, length(t.relname) + 1), 63);
        IF r.con THEN
            EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', qname, r.name, s);
        ELSE
            EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', t.relnamespace::regnamespace, r.name, s);
        END IF;
    END LOOP;
    EXECUTE format('SELECT max(%I) FROM %s', p_key, qname) INTO last_id;
    IF last_id >= 10000000000 THEN
        RAISE EXCEPTION 'cannot partition % by %: ids reach %', qname, p_key, last_id
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Ids drawn before 0.4.0 must stay below 10^10.';
    END IF;
    seq := pg_get_serial_sequence(qname, p_key);
    IF seq IS NOT NULL THEN
        last_id := greatest(last_id, pg_sequence_last_value(seq::regclass));
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY', qname, p_key);
    END IF;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', qname, month0);

    EXECUTE format('CREATE TABLE %s (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS '
                   'INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (%I)',
                   qname, t.relnamespace::regnamespace, month0, p_key);
    EXECUTE format('ALTER TABLE %s OWNER TO %I', qname, pg_get_userbyid(t.relowner));
    EXECUTE format('COMMENT ON TABLE %s IS %L', qname, obj_description(p_table, 'pg_class'));
    IF seq IS NOT NULL THEN
        -- the identity becomes an id drawn by nps.next_id(), as for nps.inbox
        EXECUTE format('CREATE SEQUENCE %s AS bigint MINVALUE 1 MAXVALUE 9999999999 START WITH %s OWNED BY %s.%I',
                       seq, coalesce(last_id, 0) + 1, qname, p_key);
        EXECUTE format('COMMENT ON SEQUENCE %s IS %L', seq, format('Low part of %s.%s (nps.next_id() adds the month)', qname, p_key));
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO PUBLIC', seq);
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT nps.next_id(%L)', qname, p_key, seq);
    END IF;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (0) TO (10000000000)',
                   qname, t.relnamespace::regnamespace, month0);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', t.relnamespace::regnamespace, month0,
                   format('Partition of %s: ids drawn in %s (UTC) and every row from before 0.4.0', qname, to_char(nps.id_epoch(), 'YYYY-MM')));
    FOREACH s IN ARRAY ddl LOOP
        EXECUTE s;
    END LOOP;
    INSERT INTO nps.partitioned_table (relation, time_column, partition_options) VALUES (qname::regclass, p_time_column, p_options);
END $$;

-- The parts first: attaching a table whose foreign key points at an already
-- partitioned table fails in PostgreSQL 15 (see 50_partitions.sql of 0.3.0).
SELECT nps.partition_by_id_('nps.outbox_part', 'outbox_id', 'submitted_at', NULL);
SELECT nps.partition_by_id_('nps.outbox', 'id', 'queued_at', '{fillfactor=40}');
DROP FUNCTION nps.partition_by_id_(regclass, name, name, text[]);

SELECT nps.ensure_partitions() > 0 AS partitions_created;
COMMENT ON VIEW nps.partitions IS 'Monthly partitions of nps.answer, nps.inbox, nps.outbox and nps.outbox_part: the UTC month whose ids each holds and its id range';

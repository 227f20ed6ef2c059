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
--   "id = ANY (ids)" alone probes the index of every partition.
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

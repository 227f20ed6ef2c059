-- Monthly partitions of the two largest raw tables, nps.answer and nps.inbox
-- (about 15 million rows a year each at the reference scale), and retention
-- that drops whole months of them.
--
-- The partition key is an id whose value encodes its month: ids drawn by
-- nps.next_id() are k * 10^10 + a counter, k being the number of UTC months
-- since the month nps 0.3.0 was installed (nps.id_epoch()).  Each month's
-- rows therefore fill one range of ids, and RANGE partitioning on the id
-- keeps every key the code relies on:
--   nps.inbox   by id          primary key (id), answer.inbox_id and
--                              opt_out.inbox_id keep referencing it;
--   nps.answer  by session_id  primary key (session_id, question_no): one
--                              answer per session and question; session ids
--                              encode their month too, so a session's answers
--                              live in the partition of the month it was
--                              scheduled in.
-- Partitioning by a timestamp instead would have put the timestamp into
-- every unique key (a duplicate reply could become a second answer) and
-- into every foreign key pointing at the table.
--
-- nps.visit and nps.session are not partitioned: loaders rely on
-- ON CONFLICT (external_ref) of nps.visit, the short-code pool on the
-- unique (msisdn, short_code) of active sessions, and the reply path finds
-- the active session by (msisdn, short_code), which no id range can prune.
-- Neither key can contain a partition key.  They are a sixth of the size of
-- answers and replies; retention deletes their rows as before.
-- nps.outbox (and nps.outbox_part) are left for the store redesign.

-- Month-aware ids ------------------------------------------------------------------

-- Month 0 is the month of installation (or of the upgrade to 0.3.0): the ids
-- drawn before 0.3.0 and in that month are the plain counter, below 10^10, so
-- the first month's ids look as they always did; each later month adds 10^10
-- (ids stay below 2^53: JSON and JavaScript read them exactly).  Written into
-- the function at install time, so that it folds into a constant.
DO $$
BEGIN
    EXECUTE format('CREATE FUNCTION nps.id_epoch() RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                   format('SELECT DATE %L', date_trunc('month', now() AT TIME ZONE 'UTC')::date));
END $$;
COMMENT ON FUNCTION nps.id_epoch() IS
    'UTC month nps 0.3.0 was installed in: month 0 of the month-aware ids (ids below 10^10, the rows from before 0.3.0 included)';

-- Months are UTC months: an id must not depend on the TimeZone of the session
-- that drew it.
CREATE FUNCTION nps.id_base(p_at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((extract(year FROM p_at AT TIME ZONE 'UTC') - extract(year FROM nps.id_epoch())) * 12
            + extract(month FROM p_at AT TIME ZONE 'UTC') - extract(month FROM nps.id_epoch()))::bigint * 10000000000
$$;
COMMENT ON FUNCTION nps.id_base(timestamptz) IS
    'Lowest id of the UTC month of p_at: its number of months after nps.id_epoch() times 10^10 (ids drawn by nps.next_id() in that month lie in [id_base, id_base + 10^10))';

CREATE FUNCTION nps.id_month(p_id bigint) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (nps.id_epoch() + floor(p_id / 10000000000.0)::int * interval '1 month')::date
$$;
COMMENT ON FUNCTION nps.id_month(bigint) IS
    'First day of the UTC month an id was drawn in (for ids from before 0.3.0: the month of the upgrade)';

-- Not STRICT and a single expression, so that the planner inlines it into
-- every INSERT: a default costs no function call per row.
CREATE FUNCTION nps.next_id(p_sequence regclass) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT nps.id_base(now()) + nextval(p_sequence)
$$;
COMMENT ON FUNCTION nps.next_id(regclass) IS
    'Next id of a month-partitioned table (and of nps.session): the UTC month of the transaction as nps.id_base() plus the next value of the sequence (at most 10^10 - 1)';

-- Which tables are partitioned ------------------------------------------------------

CREATE TABLE nps.partitioned_table (
    relation     regclass PRIMARY KEY,
    time_column  name NOT NULL
);
COMMENT ON TABLE nps.partitioned_table IS 'Tables partitioned by month of their id: nps.ensure_partitions() creates their partitions ahead, nps.apply_retention() drops old ones';
COMMENT ON COLUMN nps.partitioned_table.relation IS 'Partitioned table';
COMMENT ON COLUMN nps.partitioned_table.time_column IS 'Time of a row by which retention judges its age';

INSERT INTO nps.analytics_setting VALUES
    ('partition_months_ahead', '3', 'Months after the current one whose partitions nps.ensure_partitions() creates ahead of time');

-- Turning a table into a partitioned one ----------------------------------------------
--
-- The table keeps its rows where they are: it is renamed <name>_<yyyymm> and
-- attached as the partition of month 0 (ids from 0 to 10^10, which holds
-- every id drawn before 0.3.0), under a new partitioned table of the same name.  Everything that
-- hangs on the old table is read from the catalog first and recreated on the
-- new one, so that what other parts of 0.3.0 added before this file
-- (triggers, indexes, policies, grants) moves too: constraints, indexes,
-- triggers (with their enabled state), row level security and its policies,
-- grants (table and column), owner and comments; foreign keys of other
-- tables that point at it; views reading it (CREATE OR REPLACE: their oid,
-- grants and dependants stay); functions whose signature names its row type
-- (recreated for the new row type) or whose SQL body depends on it.
-- Used by this script only.
CREATE FUNCTION nps.partition_by_id_(p_table regclass, p_key name, p_time_column name) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t pg_class;
    month0 name;
    qname text;
    rowtype oid;
    arraytype oid;
    seq_last bigint;
    was_identity boolean;
    r record;
    -- Captured DDL, in the order it is replayed.
    own_ddl text[] := '{}';       -- constraints, indexes, triggers, policies on the new table
    their_fks text[] := '{}';     -- foreign keys of other tables pointing at it
    dependants text[] := '{}';    -- views and functions
    old_functions regprocedure[] := '{}';
    s text;
BEGIN
    SELECT * INTO t FROM pg_class WHERE oid = p_table;
    qname := format('%I.%I', t.relnamespace::regnamespace, t.relname);
    month0 := t.relname || '_' || to_char(nps.id_epoch(), 'YYYYMM');
    rowtype := t.reltype;
    SELECT typarray INTO arraytype FROM pg_type WHERE oid = rowtype;

    SELECT string_agg(i.indexrelid::regclass::text, ', ') INTO s
    FROM pg_index i JOIN pg_attribute a ON a.attrelid = p_table AND a.attname = p_key
    WHERE i.indrelid = p_table AND i.indisunique AND NOT a.attnum = ANY (i.indkey);
    IF s IS NOT NULL THEN
        RAISE EXCEPTION 'cannot partition % by %: unique index % does not contain %', qname, p_key, s, p_key
            USING ERRCODE = 'invalid_table_definition',
                  HINT = 'A unique key of a partitioned table must contain the partition key: enforce it another way (see nps.inbox_dedupe_key) before partitioning.';
    END IF;
    IF EXISTS (SELECT FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
               WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = p_table AND v.relkind = 'm') THEN
        RAISE EXCEPTION 'cannot partition %: a materialized view reads it', qname
            USING ERRCODE = 'dependent_objects_still_exist';
    END IF;

    -- A view or function of the user's own cannot be replaced by an extension
    -- script: rather than leave it reading only the old rows, stop here.
    SELECT string_agg(x.what, ', ' ORDER BY x.what) INTO s
    FROM (SELECT DISTINCT format('view %s', v.oid::regclass) AS what, v.oid, 'pg_class'::regclass AS cls
          FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
          WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = p_table AND v.oid <> p_table
          UNION
          SELECT format('function %s', d.objid::regprocedure), d.objid, 'pg_proc'::regclass
          FROM pg_depend d
          WHERE d.classid = 'pg_proc'::regclass
            AND (d.refclassid = 'pg_class'::regclass AND d.refobjid = p_table
                 OR d.refclassid = 'pg_type'::regclass AND d.refobjid IN (rowtype, arraytype))) x
    WHERE NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = x.cls AND e.objid = x.oid AND e.deptype = 'e');
    IF s IS NOT NULL THEN
        RAISE EXCEPTION 'cannot partition %: objects that do not belong to nps depend on it', qname
            USING ERRCODE = 'dependent_objects_still_exist', DETAIL = format('Depending on %s: %s.', qname, s),
                  HINT = 'Drop them before ALTER EXTENSION nps UPDATE and create them again afterwards: they then read the partitioned table.';
    END IF;

    -- Everything is captured before the rename: the texts name the table as
    -- it is named now, which then resolves to the new table.
    FOR r IN SELECT c.conname, pg_get_constraintdef(c.oid) AS def, obj_description(c.oid, 'pg_constraint') AS cmt
             FROM pg_constraint c
             WHERE c.conrelid = p_table AND c.contype IN ('p', 'u', 'x', 'f')
             ORDER BY c.contype = 'f', c.conname LOOP
        own_ddl := own_ddl || format('ALTER TABLE %s ADD CONSTRAINT %I %s', qname, r.conname, r.def);
        IF r.cmt IS NOT NULL THEN
            own_ddl := own_ddl || format('COMMENT ON CONSTRAINT %I ON %s IS %L', r.conname, qname, r.cmt);
        END IF;
    END LOOP;
    FOR r IN SELECT pg_get_indexdef(i.indexrelid) AS def, i.indexrelid::regclass AS idx,
                    obj_description(i.indexrelid, 'pg_class') AS cmt
             FROM pg_index i
             WHERE i.indrelid = p_table AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = p_table)
             ORDER BY 2 LOOP
        own_ddl := own_ddl || r.def;
        IF r.cmt IS NOT NULL THEN
            own_ddl := own_ddl || format('COMMENT ON INDEX %s IS %L', r.idx, r.cmt);
        END IF;
    END LOOP;
    FOR r IN SELECT tg.tgname, pg_get_triggerdef(tg.oid) AS def, tg.tgenabled, obj_description(tg.oid, 'pg_trigger') AS cmt
             FROM pg_trigger tg WHERE tg.tgrelid = p_table AND NOT tg.tgisinternal ORDER BY tg.tgname LOOP
        own_ddl := own_ddl || r.def;
        IF r.tgenabled <> 'O' THEN
            own_ddl := own_ddl || format('ALTER TABLE %s %s TRIGGER %I', qname,
                CASE r.tgenabled WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END, r.tgname);
        END IF;
        IF r.cmt IS NOT NULL THEN
            own_ddl := own_ddl || format('COMMENT ON TRIGGER %I ON %s IS %L', r.tgname, qname, r.cmt);
        END IF;
    END LOOP;
    FOR r IN SELECT p.policyname, p.permissive, p.cmd, p.roles, p.qual, p.with_check, obj_description(po.oid, 'pg_policy') AS cmt
             FROM pg_policies p JOIN pg_policy po ON po.polrelid = p_table AND po.polname = p.policyname
             WHERE p.schemaname = t.relnamespace::regnamespace::name AND p.tablename = t.relname ORDER BY 1 LOOP
        own_ddl := own_ddl || format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', r.policyname, qname, r.permissive, r.cmd,
            (SELECT string_agg(CASE WHEN x = 'public' THEN 'PUBLIC' ELSE quote_ident(x) END, ', ') FROM unnest(r.roles) x),
            ' USING (' || r.qual || ')', ' WITH CHECK (' || r.with_check || ')');
        IF r.cmt IS NOT NULL THEN
            own_ddl := own_ddl || format('COMMENT ON POLICY %I ON %s IS %L', r.policyname, qname, r.cmt);
        END IF;
    END LOOP;

    FOR r IN SELECT c.conname, c.conrelid::regclass AS rel, pg_get_constraintdef(c.oid) AS def, obj_description(c.oid, 'pg_constraint') AS cmt
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.confrelid = p_table AND c.conrelid <> p_table AND c.conparentid = 0 ORDER BY 2, 1 LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname);
        their_fks := their_fks || format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.rel, r.conname, r.def);
        IF r.cmt IS NOT NULL THEN
            their_fks := their_fks || format('COMMENT ON CONSTRAINT %I ON %s IS %L', r.conname, r.rel, r.cmt);
        END IF;
    END LOOP;

    FOR r IN SELECT DISTINCT v.oid::regclass AS view, pg_get_viewdef(v.oid) AS def, v.reloptions
             FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = p_table AND v.oid <> p_table LOOP
        dependants := dependants || format('CREATE OR REPLACE VIEW %s%s AS %s', r.view,
            ' WITH (' || array_to_string(r.reloptions, ', ') || ')', r.def);
    END LOOP;
    FOR r IN SELECT p.oid, p.oid::regprocedure::text AS sig, pg_get_functiondef(p.oid) AS def,
                    obj_description(p.oid, 'pg_proc') AS cmt, p.proacl, pg_get_userbyid(p.proowner) AS owner,
                    ARRAY[rowtype, arraytype] && (p.proargtypes::oid[] || p.prorettype || coalesce(p.proallargtypes, '{}')) AS typed
             FROM pg_proc p
             WHERE p.oid IN (SELECT d.objid FROM pg_depend d
                             WHERE d.classid = 'pg_proc'::regclass
                               AND (d.refclassid = 'pg_class'::regclass AND d.refobjid = p_table
                                    OR d.refclassid = 'pg_type'::regclass AND d.refobjid IN (rowtype, arraytype)))
             ORDER BY 2 LOOP
        dependants := dependants || r.def;
        -- A signature naming the row type makes a new function (the captured
        -- signature then resolves to the new type): it takes over the old
        -- one's owner, comment and grants, and the old one goes.
        IF r.typed THEN
            old_functions := old_functions || r.oid::regprocedure;
            dependants := dependants || format('ALTER FUNCTION %s OWNER TO %I', r.sig, r.owner);
            IF r.cmt IS NOT NULL THEN
                dependants := dependants || format('COMMENT ON FUNCTION %s IS %L', r.sig, r.cmt);
            END IF;
            IF r.proacl IS NOT NULL THEN
                dependants := dependants || format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.sig)
                    || ARRAY(SELECT format('GRANT EXECUTE ON FUNCTION %s TO %s%s', r.sig,
                                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
                             FROM aclexplode(r.proacl) a);
            END IF;
        END IF;
    END LOOP;

    -- The old table becomes the partition of month 0: its own triggers go (the
    -- new table's fire on it), its index and constraint names get its new
    -- name as prefix, its identity goes (the new table draws the ids).
    FOR r IN SELECT tg.tgname FROM pg_trigger tg WHERE tg.tgrelid = p_table AND NOT tg.tgisinternal LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, qname);
    END LOOP;
    FOR r IN SELECT c.conname AS name, true AS con FROM pg_constraint c WHERE c.conrelid = p_table AND c.contype IN ('p', 'u', 'x')
             UNION ALL
             SELECT ic.relname, false FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE i.indrelid = p_table AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = p_table) LOOP
        s := left(CASE WHEN starts_with(r.name, t.relname || '_') THEN month0 || substr(r.name, length(t.relname) + 1)
                       ELSE month0 || '_' || r.name END, 63);
        IF r.con THEN
            EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', qname, r.name, s);
        ELSE
            EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', t.relnamespace::regnamespace, r.name, s);
        END IF;
    END LOOP;
    EXECUTE format('SELECT max(%I) FROM %s', p_key, qname) INTO seq_last;
    IF seq_last >= 10000000000 THEN
        RAISE EXCEPTION 'cannot partition % by %: ids reach %', qname, p_key, seq_last
            USING ERRCODE = 'numeric_value_out_of_range', DETAIL = 'Ids drawn before 0.3.0 must stay below 10^10.';
    END IF;
    SELECT a.attidentity <> '' INTO was_identity FROM pg_attribute a WHERE a.attrelid = p_table AND a.attname = p_key;
    IF was_identity THEN
        seq_last := greatest(seq_last, pg_sequence_last_value(pg_get_serial_sequence(qname, p_key)::regclass));
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY', qname, p_key);
    END IF;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', qname, month0);

    EXECUTE format('CREATE TABLE %s (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS '
                   'INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING GENERATED) PARTITION BY RANGE (%I)',
                   qname, t.relnamespace::regnamespace, month0, p_key);
    EXECUTE format('ALTER TABLE %s OWNER TO %I', qname, pg_get_userbyid(t.relowner));
    EXECUTE format('COMMENT ON TABLE %s IS %L', qname, obj_description(p_table, 'pg_class'));
    IF t.relrowsecurity THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', qname);
    END IF;
    IF t.relforcerowsecurity THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', qname);
    END IF;
    FOR s IN SELECT format('GRANT %s%s ON TABLE %s TO %s%s', a.privilege_type, ' (' || quote_ident(col) || ')', qname,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
             FROM (SELECT NULL::name AS col, t.relacl AS acl
                   UNION ALL
                   SELECT at.attname, at.attacl FROM pg_attribute at
                   WHERE at.attrelid = p_table AND at.attnum > 0 AND at.attacl IS NOT NULL) x
             CROSS JOIN LATERAL aclexplode(x.acl) a LOOP
        EXECUTE s;
    END LOOP;
    IF was_identity THEN
        PERFORM nps.draw_ids_by_month_(qname::regclass, p_key, seq_last);
    END IF;
    FOREACH s IN ARRAY own_ddl LOOP
        EXECUTE s;
    END LOOP;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (0) TO (10000000000)',
                   qname, t.relnamespace::regnamespace, month0);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', t.relnamespace::regnamespace, month0,
                   format('Partition of %s: ids drawn in %s (UTC) and every row from before 0.3.0', qname, to_char(nps.id_epoch(), 'YYYY-MM')));
    FOREACH s IN ARRAY their_fks || dependants LOOP
        EXECUTE s;
    END LOOP;
    FOR s IN SELECT unnest(old_functions) LOOP
        EXECUTE format('DROP FUNCTION %s', s);
    END LOOP;
    INSERT INTO nps.partitioned_table (relation, time_column) VALUES (qname::regclass, p_time_column);
END $$;

-- An identity column becomes one drawn by nps.next_id(), continuing after p_last.
-- Identity values need no grant on their sequence: USAGE to PUBLIC keeps it
-- so for whoever may insert (drawing an id grants nothing else).
CREATE FUNCTION nps.draw_ids_by_month_(p_table regclass, p_column name, p_last bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seq text := format('%I.%I', (SELECT relnamespace::regnamespace FROM pg_class WHERE oid = p_table),
                       (SELECT relname FROM pg_class WHERE oid = p_table) || '_' || p_column || '_seq');
BEGIN
    IF (SELECT attidentity FROM pg_attribute WHERE attrelid = p_table AND attname = p_column) <> '' THEN
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY', p_table, p_column);
    END IF;
    EXECUTE format('CREATE SEQUENCE %s AS bigint MINVALUE 1 MAXVALUE 9999999999 START WITH %s OWNED BY %s.%I',
                   seq, coalesce(p_last, 0) + 1, p_table, p_column);
    EXECUTE format('COMMENT ON SEQUENCE %s IS %L', seq,
                   format('Low part of %s.%s (nps.next_id() adds the month)', p_table, p_column));
    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO PUBLIC', seq);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT nps.next_id(%L)', p_table, p_column, seq);
END $$;

-- Partitions ahead of time ------------------------------------------------------------

-- A new partition is created apart and then attached: ATTACH takes a lock that
-- lets inserts go on, where CREATE TABLE ... PARTITION OF would block them
-- (and queue them behind any long reader of the table).  The lock timeout
-- keeps a busy moment from stalling the reply path: the partitions are made
-- months ahead, so the next run simply tries again.
CREATE FUNCTION nps.ensure_partitions(p_at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '10s' AS $$
DECLARE
    t record;
    m timestamp;     -- a month's start on the UTC clock: month arithmetic must not follow the session's TimeZone
    part name;
    n integer := 0;
    this_month timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
BEGIN
    FOR t IN SELECT p.relation, c.relname, c.relnamespace::regnamespace AS ns
             FROM nps.partitioned_table p JOIN pg_class c ON c.oid = p.relation ORDER BY c.relname LOOP
        FOR m IN SELECT generate_series(this_month, this_month + nps.analytics_setting('partition_months_ahead')::int * interval '1 month',
                                        interval '1 month') LOOP
            part := t.relname || '_' || to_char(m, 'YYYYMM');
            CONTINUE WHEN EXISTS (SELECT FROM pg_class WHERE relname = part AND relnamespace = t.ns);
            EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS)', t.ns, part, t.relation);
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
    'Creates the monthly partitions of nps.answer and nps.inbox for the UTC month of p_at and the partition_months_ahead following ones, where missing; returns how many it created (0 when all exist)';

INSERT INTO nps.job (name, schedule, command, description) VALUES
    ('nps-partitions', '17 0 * * *', 'SELECT nps.ensure_partitions()',
     'Creates the monthly partitions of nps.answer and nps.inbox months ahead');

-- The partitions with the id range each holds.
CREATE VIEW nps.partitions AS
SELECT p.relation AS parent, c.oid::regclass AS partition, nps.id_month(b.lo) AS month, b.lo AS from_id, b.hi AS to_id
FROM nps.partitioned_table p
JOIN pg_inherits i ON i.inhparent = p.relation
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (SELECT m[1]::bigint AS lo, m[2]::bigint AS hi
                    FROM regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?(-?\d+)''?\) TO \(''?(-?\d+)''?\)') m) b;
COMMENT ON VIEW nps.partitions IS 'Monthly partitions of nps.answer and nps.inbox: the UTC month whose ids each holds and its id range';
COMMENT ON COLUMN nps.partitions.parent IS 'Partitioned table';
COMMENT ON COLUMN nps.partitions.partition IS 'Partition';
COMMENT ON COLUMN nps.partitions.month IS 'UTC month its ids were drawn in (the month of nps.id_epoch() also holds every row from before 0.3.0)';
COMMENT ON COLUMN nps.partitions.from_id IS 'Lowest id it holds';
COMMENT ON COLUMN nps.partitions.to_id IS 'Ids it holds are below this';

-- Retention by whole months -------------------------------------------------------------

-- A partition may go once every row it holds and may ever hold is older than
-- p_before: its month ended before p_before (its ids were all drawn before)
-- and its newest row by the table's time column is older (an answer or a
-- reply comes after its visit; the rows from before 0.3.0 count here too).
CREATE FUNCTION nps.expired_partitions(p_before timestamptz)
RETURNS TABLE (parent regclass, partition regclass, newest timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT p.parent, p.partition, p.from_id, p.to_id, t.time_column
             FROM nps.partitions p JOIN nps.partitioned_table t ON t.relation = p.parent
             WHERE (p.month + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= p_before
             ORDER BY p.parent::text, p.from_id LOOP
        -- An answer may still come for a session of the month that has not
        -- ended (a short msisdn_retention): its partition must stay.
        CONTINUE WHEN r.parent = 'nps.answer'::regclass
            AND EXISTS (SELECT FROM nps.session s WHERE s.id >= r.from_id AND s.id < r.to_id
                        AND s.state IN ('scheduled', 'deferred', 'active'));
        parent := r.parent;
        partition := r.partition;
        EXECUTE format('SELECT max(%I) FROM %s', r.time_column, r.partition) INTO newest;
        IF newest IS NULL OR newest < p_before THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION nps.expired_partitions(timestamptz) IS
    'Partitions whose rows were all created before p_before and are all older than it by their time column (answered_at, received_at), answers only once every session of their month has ended: what retention drops; newest is their newest row';

-- Rows of other tables that point into the partition get what their foreign
-- key's ON DELETE says (SET NULL, CASCADE, SET DEFAULT), by id range through
-- their index, before the partition is detached; a NO ACTION or RESTRICT key
-- that still has such rows makes the detach fail, as a DELETE would.
CREATE FUNCTION nps.drop_partition(p_partition regclass) RETURNS void
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
    'Drops a partition of nps.answer or nps.inbox with its rows, applying first what the foreign keys pointing into it say on delete (SET NULL, CASCADE); retention calls it, it does not refresh or freeze aggregates itself';

CREATE OR REPLACE FUNCTION nps.apply_retention(at timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    text_before timestamptz := at - nps.analytics_setting('text_retention')::interval;
    raw_before timestamptz := at - nps.analytics_setting('msisdn_retention')::interval;
    last_answer timestamptz;
    expired regclass[];
    dropped text[] := '{}';
    part regclass;
    part_name text;
    n_texts bigint; n_replies bigint; n_visits bigint; n_outbox bigint; n_inbox bigint; n_roaming bigint;
    result jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('nps.refresh'));
    -- Bring the figures up to date first: the rows about to go must be counted.
    PERFORM nps.refresh();

    -- Days that lose raw answers are frozen so that no later refresh recounts
    -- them: those of the answers of the visits about to go, and of the
    -- months of answers about to be dropped.
    SELECT max(a.answered_at) INTO last_answer
    FROM nps.visit v JOIN nps.session se ON se.visit_id = v.id JOIN nps.answer a ON a.session_id = se.id
    WHERE v.occurred_at < raw_before;
    SELECT greatest(last_answer, max(e.newest) FILTER (WHERE e.parent = 'nps.answer'::regclass)),
           array_agg(e.partition ORDER BY e.parent::text)
    INTO last_answer, expired
    FROM nps.expired_partitions(raw_before) e;
    IF last_answer IS NOT NULL THEN
        UPDATE nps.analytics_state SET frozen_before = greatest(frozen_before, (last_answer AT TIME ZONE 'UTC')::date + 2);
    END IF;

    -- Whole months first (answers before the replies they point at), so the
    -- row deletes below only meet the month at the edge.  A partition that
    -- cannot be locked now stays: its rows then go row by row below.
    FOREACH part IN ARRAY coalesce(expired, '{}') LOOP
        part_name := part::text;     -- its name, while it has one
        BEGIN
            PERFORM nps.drop_partition(part);
            dropped := dropped || part_name;
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'partition % not dropped: it is in use', part
                USING HINT = 'Its rows are deleted one by one instead; the next nps.apply_retention() tries again.';
        END;
    END LOOP;

    UPDATE nps.answer SET body = NULL WHERE answered_at < text_before AND body IS NOT NULL;
    GET DIAGNOSTICS n_texts = ROW_COUNT;
    UPDATE nps.inbox SET body = '' WHERE received_at < text_before AND body <> '';
    GET DIAGNOSTICS n_replies = ROW_COUNT;

    DELETE FROM nps.outbox WHERE queued_at < raw_before AND state IN ('delivered', 'failed');
    GET DIAGNOSTICS n_outbox = ROW_COUNT;
    DELETE FROM nps.inbox WHERE received_at < raw_before;
    GET DIAGNOSTICS n_inbox = ROW_COUNT;
    -- Sessions and answers go with their visit (ON DELETE CASCADE).
    DELETE FROM nps.visit WHERE occurred_at < raw_before;
    GET DIAGNOSTICS n_visits = ROW_COUNT;
    DELETE FROM nps.roaming WHERE ended_at < raw_before;
    GET DIAGNOSTICS n_roaming = ROW_COUNT;

    result := jsonb_build_object('texts_erased', n_texts, 'replies_erased', n_replies, 'visits_deleted', n_visits,
                                 'outbox_deleted', n_outbox, 'inbox_deleted', n_inbox, 'roaming_deleted', n_roaming,
                                 'partitions_dropped', to_jsonb(dropped));
    UPDATE nps.analytics_state SET last_retention = result;
    RETURN result;
END $$;
COMMENT ON FUNCTION nps.apply_retention(timestamptz) IS
    'Erases free texts older than text_retention; drops the monthly partitions of answers and replies whose rows are all older than msisdn_retention and deletes the other raw rows carrying phone numbers (visits with their sessions and answers, messages, replies, ended roaming) older than it; refreshes first and freezes the affected days, so aggregates are kept. Opt-outs are kept: they must be honoured.';

-- The migration ---------------------------------------------------------------------------

-- Answers first: attaching a table whose foreign key points at an already
-- partitioned table fails in PostgreSQL 15 ("cache lookup failed for constraint").
SELECT nps.partition_by_id_('nps.answer', 'session_id', 'answered_at');

-- The unique dedupe_key of replies cannot be a unique index of a table
-- partitioned by id: the keys live in a table of their own, whose primary
-- key keeps the index's name (a duplicate raises the same error as before).
DROP INDEX nps.inbox_dedupe;
SELECT nps.partition_by_id_('nps.inbox', 'id', 'received_at');

CREATE TABLE nps.inbox_dedupe_key (
    dedupe_key text CONSTRAINT inbox_dedupe PRIMARY KEY,
    inbox_id   bigint NOT NULL REFERENCES nps.inbox ON DELETE CASCADE
);
CREATE INDEX inbox_dedupe_key_inbox ON nps.inbox_dedupe_key (inbox_id);
COMMENT ON TABLE nps.inbox_dedupe_key IS 'Unique dedupe_key of every reply that has one (kept by triggers on nps.inbox): a redelivered deliver_sm is refused across all monthly partitions';
COMMENT ON COLUMN nps.inbox_dedupe_key.dedupe_key IS 'nps.inbox.dedupe_key';
COMMENT ON COLUMN nps.inbox_dedupe_key.inbox_id IS 'Reply that carries it';
INSERT INTO nps.inbox_dedupe_key SELECT dedupe_key, id FROM nps.inbox WHERE dedupe_key IS NOT NULL;

CREATE FUNCTION nps.inbox_dedupe() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM nps.inbox_dedupe_key WHERE inbox_id = OLD.id;
    END IF;
    IF NEW.dedupe_key IS NOT NULL THEN
        INSERT INTO nps.inbox_dedupe_key (dedupe_key, inbox_id) VALUES (NEW.dedupe_key, NEW.id);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.inbox_dedupe() IS 'Trigger: records the dedupe_key of a reply in nps.inbox_dedupe_key, raising unique_violation for a key already there';
-- Named to fire before nps.dialogue(): a duplicate is refused before it is processed.
CREATE TRIGGER inbox_dedupe_insert AFTER INSERT ON nps.inbox
    FOR EACH ROW WHEN (NEW.dedupe_key IS NOT NULL) EXECUTE FUNCTION nps.inbox_dedupe();
CREATE TRIGGER inbox_dedupe_update AFTER UPDATE OF dedupe_key ON nps.inbox
    FOR EACH ROW WHEN (NEW.dedupe_key IS DISTINCT FROM OLD.dedupe_key) EXECUTE FUNCTION nps.inbox_dedupe();

-- Sessions are not partitioned, but their ids carry their month so that
-- their answers fall into that month's partition.
DO $$
DECLARE
    last_id bigint := (SELECT greatest(max(id), pg_sequence_last_value('nps.session_id_seq')) FROM nps.session);
BEGIN
    PERFORM nps.draw_ids_by_month_('nps.session', 'id', last_id);
END $$;

-- Dropping a month of replies sets the inbox_id of the answers and opt-outs
-- that point into it to NULL by id range: through these indexes, not by a
-- scan of every answer while the replies are locked.
CREATE INDEX answer_inbox_id ON nps.answer (inbox_id);
CREATE INDEX opt_out_inbox_id ON nps.opt_out (inbox_id);

DROP FUNCTION nps.partition_by_id_(regclass, name, name);
DROP FUNCTION nps.draw_ids_by_month_(regclass, name, bigint);

SELECT nps.ensure_partitions() > 0 AS partitions_created;

-- Upgrade path: installing the first release and updating gives exactly the
-- objects of a fresh install of the current version.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps VERSION '0.1.0' CASCADE;
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'nps';

CREATE FUNCTION pg_temp.nps_objects() RETURNS TABLE (object text)
LANGUAGE sql AS $$
    SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
    WHERE refclassid = 'pg_extension'::regclass
      AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nps')
    UNION
    SELECT format('%s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                  a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'nps'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    UNION
    SELECT format('%s %s', conrelid::regclass, pg_get_constraintdef(oid)) FROM pg_constraint
    WHERE connamespace = 'nps'::regnamespace
    UNION
    SELECT pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relnamespace = 'nps'::regnamespace
$$;

ALTER EXTENSION nps UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'nps') AS at_default
FROM pg_extension WHERE extname = 'nps';
CREATE TEMP TABLE upgraded AS SELECT * FROM pg_temp.nps_objects();

SET client_min_messages = warning;
DROP EXTENSION nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.nps_objects();

SELECT count(*) > 50 AS has_objects FROM fresh;
(SELECT 'only upgraded' AS side, object FROM upgraded EXCEPT SELECT 'only upgraded', object FROM fresh)
UNION ALL
(SELECT 'only fresh', object FROM fresh EXCEPT SELECT 'only fresh', object FROM upgraded)
ORDER BY 1, 2;
SELECT path FROM pg_extension_update_paths('nps') WHERE source = '0.1.0' AND target = '0.8.0';

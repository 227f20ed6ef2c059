-- nps 0.1.0: the data model.  Assembled from schema/0.1.0/*.sql by the Makefile.
\echo Use "CREATE EXTENSION nps" to load this file. \quit

COMMENT ON SCHEMA nps IS 'nps: SMS Net Promoter surveys run end to end inside PostgreSQL';

CREATE FUNCTION nps.normalize_msisdn(text) RETURNS text
    AS 'MODULE_PATHNAME', 'nps_normalize_msisdn'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.normalize_msisdn(text) IS
    'Returns a Russian msisdn as 7XXXXXXXXXX; accepts +7 and 8 prefixes, spaces, dashes and parentheses; raises invalid_text_representation otherwise';

CREATE FUNCTION nps.check_time_zone(text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'nps_check_time_zone'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.check_time_zone(text) IS
    'True for an IANA time-zone name PostgreSQL knows; raises invalid_parameter_value otherwise';

CREATE FUNCTION nps.worker_state() RETURNS text
    AS 'MODULE_PATHNAME', 'nps_worker_state'
    LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION nps.worker_state() IS
    'State of the background worker: running, disabled, or not loaded (nps missing from shared_preload_libraries)';

-- Normalises the msisdn column of any table that has one, before the CHECK sees it.
CREATE FUNCTION nps.normalize_msisdn_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.msisdn := nps.normalize_msisdn(NEW.msisdn);
    RETURN NEW;
END $$;

-- Keeps updated_at honest on tables edited by operators.
CREATE FUNCTION nps.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

DO $$
BEGIN
    IF NOT ('nps' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))) THEN
        RAISE WARNING 'nps is not in shared_preload_libraries: the SMPP worker is off'
            USING HINT = 'Set shared_preload_libraries = ''pg_cron,nps'' and restart; the SQL interface works meanwhile.';
    END IF;
END $$;

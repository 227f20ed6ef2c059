------------------------------------------------------------------------------
-- The msisdn CHECK of every table: in C
------------------------------------------------------------------------------

-- The same rule as the regular expression '^7[0-9]{10}$' (the normal form the
-- msisdn triggers write), without running the regex engine for each visit,
-- session and message: 3 % of the CPU of a visit load with its sessions.
-- The constraints keep their names; adding them back checks the rows there.
CREATE FUNCTION nps.is_msisdn(text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'nps_is_msisdn' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.is_msisdn(text) IS
    'True for an msisdn in its normal form: 7 followed by ten digits (the CHECK of every msisdn column)';

ALTER TABLE nps.visit DROP CONSTRAINT visit_msisdn_check,
    ADD CONSTRAINT visit_msisdn_check CHECK (nps.is_msisdn(msisdn));
ALTER TABLE nps.session DROP CONSTRAINT session_msisdn_check,
    ADD CONSTRAINT session_msisdn_check CHECK (nps.is_msisdn(msisdn));
ALTER TABLE nps.opt_out DROP CONSTRAINT opt_out_msisdn_check,
    ADD CONSTRAINT opt_out_msisdn_check CHECK (nps.is_msisdn(msisdn));
ALTER TABLE nps.roaming DROP CONSTRAINT roaming_msisdn_check,
    ADD CONSTRAINT roaming_msisdn_check CHECK (nps.is_msisdn(msisdn));
ALTER TABLE nps.outbox DROP CONSTRAINT outbox_msisdn_check,
    ADD CONSTRAINT outbox_msisdn_check CHECK (nps.is_msisdn(msisdn));

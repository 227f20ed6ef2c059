------------------------------------------------------------------------------
-- Alerts: cheaper detection (issue 6: ingest with alerts on at most 20%
-- slower than with them off)
------------------------------------------------------------------------------

-- The same normalisation, in C (src/alert_filter.c): the alert trigger runs
-- it on every comment before any SQL, and the lexicon compiles its terms
-- through it, so both sides keep agreeing.
CREATE OR REPLACE FUNCTION nps.alert_normalize(body text) RETURNS text
    AS 'MODULE_PATHNAME', 'nps_alert_normalize'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.alert_normalize(text) IS
    'Text ready for Russian full-text search: lower case, ё as е, negations glued to the word they negate ("не обманули" -> "необманули")';

-- The trigger function becomes C: it reads the transition table once and
-- calls nps.raise_alerts() only with the answers that may alarm (a score in
-- an active rule's range, or a comment matching some active lexicon term),
-- from rules and terms cached per backend.  A statement whose answers cannot
-- alarm (most of them) then runs no SQL at all.
CREATE OR REPLACE FUNCTION nps.answer_alerts() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_answer_alerts'
    LANGUAGE C;
COMMENT ON FUNCTION nps.answer_alerts() IS
    'Trigger: raises or updates the alerts of the answers a statement inserted or changed, in the same transaction; answers that cannot alarm are filtered out in C (rules and lexicon cached per backend), the rest go to nps.raise_alerts';

-- The rule cache is dropped in every backend when the rules change (the
-- lexicon's all-terms view is refreshed on every change, which drops it too).
CREATE FUNCTION nps.alert_rule_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_alert_rule_changed'
    LANGUAGE C;
COMMENT ON FUNCTION nps.alert_rule_changed() IS
    'Trigger: makes every session reload the alert rules it caches for nps.answer_alerts';
CREATE TRIGGER alert_rule_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nps.alert_rule
    FOR EACH STATEMENT EXECUTE FUNCTION nps.alert_rule_changed();

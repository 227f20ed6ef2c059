
-- Reply parsing: what a customer's SMS answer says (src/parse_*.c).
-- The rules, with examples, are in docs/parsing.md.

CREATE TYPE nps.parsed_reply AS (status text, score smallint, reason text);
COMMENT ON TYPE nps.parsed_reply IS
    'Verdict on one SMS reply: status ok, stop, empty, unparsed, ambiguous or out_of_range; the score it gives; why it is not ok';
COMMENT ON COLUMN nps.parsed_reply.status IS
    'ok | stop (opt-out request) | empty (no letters or digits) | unparsed (no answer found) | ambiguous (more than one answer) | out_of_range (a number outside the scale)';
COMMENT ON COLUMN nps.parsed_reply.score IS
    'Score questions: the number; yes_no: 1 = yes, 0 = no; NULL for text questions and when no valid answer was found (a stop keeps the answer given with it)';
COMMENT ON COLUMN nps.parsed_reply.reason IS
    'Short lowercase English explanation when status is not ok, e.g. ''two different numbers: 7 and 9''; NULL when ok';

CREATE FUNCTION nps.parse_reply(body text, kind text, min_score integer DEFAULT 0, max_score integer DEFAULT 10)
RETURNS nps.parsed_reply
    AS 'MODULE_PATHNAME', 'nps_parse_reply'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;  -- not STRICT: min/max may be NULL for yes_no and text
COMMENT ON FUNCTION nps.parse_reply(text, text, integer, integer) IS
    'Parses an SMS reply to a question of kind score (min_score..max_score), yes_no or text (min/max ignored, may be NULL); NULL body or kind gives NULL; never fails on the reply, raises invalid_parameter_value for an unknown kind or min_score > max_score';

CREATE FUNCTION nps.parse_score(body text, min_score integer, max_score integer) RETURNS smallint
    AS 'MODULE_PATHNAME', 'nps_parse_score'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.parse_score(text, integer, integer) IS
    'The score an SMS reply gives on the scale min_score..max_score, or NULL when it gives no valid score';

CREATE FUNCTION nps.parse_yes_no(body text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'nps_parse_yes_no'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.parse_yes_no(text) IS
    'True for a yes (да, ага, yes, +), false for a no (нет, неа, no, -), NULL when the reply is neither or both';

CREATE FUNCTION nps.is_stop(body text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'nps_is_stop'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.is_stop(text) IS
    'True when an SMS reply asks to stop the surveys: first word STOP/СТОП/ОТПИСКА, or a request such as отписаться, не пишите';

CREATE FUNCTION nps.normalize_reply(body text) RETURNS text
    AS 'MODULE_PATHNAME', 'nps_normalize_reply'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.normalize_reply(text) IS
    'The canonical form the reply parser works on: lowercase, ё as е, look-alike letters folded, emoji and punctuation dropped, single spaces; first 2000 characters';

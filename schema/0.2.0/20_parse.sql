-- TEMPORARY stand-in for the parse branch (schema/0.2.0/20_parse.sql, C):
-- the same signatures with a crude PL/pgSQL body, so that the survey engine
-- can be built and tested before that branch lands.  On merge, take the parse
-- branch's version of this file.
CREATE TYPE nps.parsed_reply AS (status text, score smallint, reason text);

CREATE FUNCTION nps.is_stop(body text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT upper(btrim(body, E' \t\r\n.!')) IN ('STOP', 'СТОП', 'ОТПИСКА')
$$;

CREATE FUNCTION nps.parse_reply(body text, kind text, min_score integer DEFAULT 0, max_score integer DEFAULT 10)
RETURNS nps.parsed_reply
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    t text := lower(btrim(coalesce(body, '')));
    nums text[];
BEGIN
    IF nps.is_stop(t) THEN RETURN ROW('stop', NULL, NULL)::nps.parsed_reply; END IF;
    IF t = '' THEN RETURN ROW('empty', NULL, NULL)::nps.parsed_reply; END IF;
    IF kind = 'text' THEN RETURN ROW('ok', NULL, NULL)::nps.parsed_reply; END IF;
    IF kind = 'yes_no' THEN
        IF t ~ '^(да|yes|д)\M' THEN RETURN ROW('ok', 1, NULL)::nps.parsed_reply; END IF;
        IF t ~ '^(нет|no|н)\M' THEN RETURN ROW('ok', 0, NULL)::nps.parsed_reply; END IF;
        RETURN ROW('unparsed', NULL, 'not yes or no')::nps.parsed_reply;
    END IF;
    nums := ARRAY(SELECT m[1] FROM regexp_matches(t, '([0-9]+)', 'g') m);
    IF cardinality(nums) = 0 THEN RETURN ROW('unparsed', NULL, 'no number')::nps.parsed_reply; END IF;
    IF cardinality(nums) > 1 THEN RETURN ROW('ambiguous', NULL, 'several numbers')::nps.parsed_reply; END IF;
    IF nums[1]::int NOT BETWEEN min_score AND max_score THEN
        RETURN ROW('out_of_range', NULL, format('%s is not in %s..%s', nums[1], min_score, max_score))::nps.parsed_reply;
    END IF;
    RETURN ROW('ok', nums[1]::smallint, NULL)::nps.parsed_reply;
END $$;

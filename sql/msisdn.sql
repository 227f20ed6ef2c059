-- msisdn normalisation: accepted spellings and rejected ones.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

SELECT input, nps.normalize_msisdn(input) FROM (VALUES
    ('79161234567'), ('+79161234567'), ('89161234567'), ('+7 916 123-45-67'),
    ('8 (916) 123-45-67'), ('7.916.123.45.67'), (' 7 916 1234567 ')) v(input);
SELECT nps.normalize_msisdn('9161234567');
\echo :LAST_ERROR_SQLSTATE
SELECT nps.normalize_msisdn('+8 916 123 45 67');
SELECT nps.normalize_msisdn('+89161234567');
SELECT nps.normalize_msisdn('791612345678');
SELECT nps.normalize_msisdn('7916123456a');
SELECT nps.normalize_msisdn('');
SELECT nps.normalize_msisdn('7916+1234567');
SELECT nps.normalize_msisdn('+1 212 555 0100');
SELECT nps.normalize_msisdn(NULL) IS NULL AS null_stays_null;

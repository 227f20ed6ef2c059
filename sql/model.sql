-- The data model's rules and its bad inputs, each with the exact error.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

SELECT extversion FROM pg_extension WHERE extname = 'nps';
SELECT nps.worker_state();

-- Regions need an IANA time zone.
INSERT INTO nps.region (code, name, time_zone) VALUES
    ('KGD', 'Калининград', 'Europe/Kaliningrad'),
    ('MOW', 'Москва', 'Europe/Moscow'),
    ('KAM', 'Камчатка', 'Asia/Kamchatka');
INSERT INTO nps.region (code, name, time_zone) VALUES ('MARS', 'Марс', 'Mars/Olympus');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.region (code, name, time_zone) VALUES ('MSK', 'Москва', 'MSK');
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.region SET time_zone = 'Moscow' WHERE code = 'MOW';
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.region (code, name, time_zone, send_from, send_until)
    VALUES ('X', 'bad hours', 'UTC', '21:00', '10:00');
\echo :LAST_ERROR_SQLSTATE

-- Dealers, salons and own offices (no dealer).
INSERT INTO nps.dealer VALUES ('D1', 'Дилер 1', 'MOW');
INSERT INTO nps.dealer VALUES ('D2', 'Дилер 2', 'NOPE');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES
    ('S1', 'Салон 1', 'D1', 'MOW'),
    ('O1', 'Офис 1', NULL, 'KGD');
SELECT code, kind FROM nps.salon ORDER BY code;

-- Staff and the hierarchy a salon's feedback climbs.
INSERT INTO nps.staff (login, full_name, role, salon_code) VALUES
    ('spec1', 'Специалист', 'specialist', 'S1'),
    ('mgr1', 'Менеджер салона', 'salon_manager', 'S1'),
    ('mgr2', 'Менеджер офиса', 'salon_manager', 'O1');
INSERT INTO nps.staff (login, full_name, role, dealer_code) VALUES ('dm1', 'Контакт дилера', 'dealer_manager', 'D1');
INSERT INTO nps.staff (login, full_name, role, region_code) VALUES
    ('rm-mow', 'Директор Москвы', 'region_manager', 'MOW'),
    ('rm-kgd', 'Директор Калининграда', 'region_manager', 'KGD');
INSERT INTO nps.staff (login, full_name, role) VALUES ('vp', 'Вице-президент', 'vp_cx'), ('ceo', 'Генеральный директор', 'ceo');
INSERT INTO nps.staff (login, full_name, role) VALUES ('lost', 'Без салона', 'specialist');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.staff (login, full_name, role) VALUES ('boss', 'Начальник', 'emperor');
\echo :LAST_ERROR_SQLSTATE
SELECT level, role, login FROM nps.hierarchy('S1');
-- An own office skips the dealer level.
SELECT level, role, login FROM nps.hierarchy('O1');

-- Visits: msisdn normalised, unknown salon and duplicate external_ref refused.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, specialist, external_ref) VALUES
    ('+7 916 123-45-67', 'S1', '2026-10-01 12:00+03', 'dealer', 'spec1', 'crm-1'),
    ('8 (916) 123 45 68', 'O1', '2026-10-01 12:00+03', 'office', NULL, 'crm-2'),
    ('79161234569', 'S1', '2026-10-01 12:00+03', DEFAULT, NULL, 'crm-3');
SELECT msisdn, salon_code, channel, external_ref FROM nps.visit ORDER BY id;
INSERT INTO nps.visit (msisdn, salon_code, external_ref) VALUES ('12345', 'S1', 'crm-4');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.visit (msisdn, salon_code, external_ref) VALUES ('79161234567', 'S404', 'crm-5');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.visit (msisdn, salon_code, external_ref) VALUES ('79161234567', 'S1', 'crm-1');
\echo :LAST_ERROR_SQLSTATE
-- A loader that sends the same visit twice keeps one.
INSERT INTO nps.visit (msisdn, salon_code, external_ref) VALUES ('79161234567', 'S1', 'crm-1')
    ON CONFLICT (external_ref) DO NOTHING;
SELECT count(*) FROM nps.visit WHERE external_ref = 'crm-1';
\set VERBOSITY terse
INSERT INTO nps.visit (msisdn, salon_code, channel, external_ref) VALUES ('79161234567', 'S1', 'shop', 'crm-6');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
UPDATE nps.visit SET msisdn = '8-916-000-00-00' WHERE external_ref = 'crm-3' RETURNING msisdn;

-- Short-code pool.
SELECT string_agg(code, ',' ORDER BY code) FROM nps.short_code;

-- Opt-outs and roaming normalise numbers too.
INSERT INTO nps.opt_out (msisdn) VALUES ('+79161234567') RETURNING msisdn, source;
INSERT INTO nps.roaming VALUES ('8 916 123 45 68', 'TR', '2026-10-20 00:00+03', NULL) RETURNING msisdn;
INSERT INTO nps.roaming VALUES ('79161234568', 'tr', '2026-10-21 00:00+03', NULL);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.roaming VALUES ('79161234568', 'TR', '2026-10-22 00:00+03', '2026-10-21 00:00+03');
\echo :LAST_ERROR_SQLSTATE

-- SMSC binds: the password is not for PUBLIC.
INSERT INTO nps.smsc (name, system_id, password, enabled) VALUES ('sim', 'nps', 'secret', false);
\set VERBOSITY terse
INSERT INTO nps.smsc (name, system_id, password) VALUES ('long', 'nps', 'far-too-long-password');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT has_column_privilege('public', 'nps.smsc', 'password', 'SELECT') AS public_reads_password;

-- Outbox and inbox states are closed lists.  The row lands in the outbox
-- partition of the current month, whose name the error message carries, so
-- the test reports the constraint and the SQLSTATE.
DO $$
DECLARE
    c text;
BEGIN
    INSERT INTO nps.outbox (msisdn, source_addr, body, state) VALUES ('79161234567', '0650', 'x', 'lost');
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
    RAISE NOTICE 'refused by %, sqlstate %', c, SQLSTATE;
END $$;

-- Every table and every column of the model is documented.
SELECT c.relname, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'nps'
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND col_description(c.oid, a.attnum) IS NULL
ORDER BY 1, 2;
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'nps'
WHERE c.relkind IN ('r', 'p', 'v', 'm') AND obj_description(c.oid, 'pg_class') IS NULL;

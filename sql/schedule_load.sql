-- Scheduling across loads: the one-pass trigger of 0.3.0 keeps the 0.2.0
-- verdicts when a load meets sessions left by earlier loads (latest visit
-- wins within the load, then across loads; duplicates of earlier loads), and
-- the msisdn trigger (in C) normalises and refuses as before.  Since 0.7.0
-- "across loads" is decided at the due time: the view's at_due column is
-- that verdict for a session the load left pending.
SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;

INSERT INTO nps.region (code, name, time_zone) VALUES ('MOW', 'Москва', 'Europe/Moscow');
INSERT INTO nps.dealer VALUES ('D1', 'Дилер 1', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES
    ('S1', 'Салон 1', 'D1', 'MOW'), ('S2', 'Салон 2', 'D1', 'MOW');

CREATE TEMP VIEW sess AS
SELECT v.external_ref AS visit, s.state,
       CASE WHEN s.state_reason LIKE 'superseded: visit %'
            THEN 'superseded: visit ' || (SELECT w.external_ref FROM nps.visit w
                                          WHERE w.id = split_part(s.state_reason, 'visit ', 2)::bigint)
            ELSE s.state_reason END AS reason,
       -- across loads the older session is cancelled when it comes due
       -- (0.7.0): what nps.run_due() will then say of a pending one
       (SELECT 'superseded: visit ' || w.external_ref
        FROM nps.superseded_by(s.id, nps.setting_value('fatigue_period')::interval) x
        JOIN nps.visit w ON w.id = x.visit_id) AS at_due
FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id
ORDER BY v.occurred_at, v.id;

-- Load 1: A on 1 March, B on 1 March.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000001', 'S1', '2026-03-01 12:00+03', 'a-mar01'),
    ('79000000002', 'S1', '2026-03-01 12:00+03', 'b-mar01');
-- Load 2: A again on 10 March (wins over the pending 1 March session of load
-- 1); B's visit to the same salon 3 hours after load 1's is a duplicate; C
-- is new.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000001', 'S2', '2026-03-10 12:00+03', 'a-mar10'),
    ('79000000002', 'S1', '2026-03-01 15:00+03', 'b-dup'),
    ('79000000003', 'S1', '2026-03-10 12:00+03', 'c-mar10');
SELECT * FROM sess;
-- Load 3: A on 5 March (loaded late) and on 20 March.  Within the load 20
-- March wins over 5 March; across loads it wins over the pending 10 March.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000001', 'S1', '2026-03-05 12:00+03', 'a-mar05'),
    ('79000000001', 'S2', '2026-03-20 12:00+03', 'a-mar20');
SELECT * FROM sess WHERE visit LIKE 'a-%';
-- Load 4: C on 2 March, loaded late, loses to the pending 10 March session.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000003', 'S2', '2026-03-02 12:00+03', 'c-mar02');
SELECT * FROM sess WHERE visit LIKE 'c-%';
-- An earlier session that is no longer pending (started) is not touched.
UPDATE nps.session SET state = 'completed', finished_at = '2026-04-14 12:00+03'
WHERE visit_id = (SELECT id FROM nps.visit WHERE external_ref = 'a-mar20');
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000001', 'S1', '2026-03-25 12:00+03', 'a-mar25');
SELECT * FROM sess WHERE visit IN ('a-mar20', 'a-mar25');
-- Further apart than the fatigue period: both stay.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000003', 'S1', '2026-07-01 12:00+03', 'c-jul01');
SELECT * FROM sess WHERE visit IN ('c-mar10', 'c-jul01');
-- With the fatigue rule off, a later load supersedes nothing.
UPDATE nps.setting SET value = '0' WHERE key = 'fatigue_period';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000003', 'S2', '2026-07-02 12:00+03', 'c-jul02');
SELECT * FROM sess WHERE visit IN ('c-jul01', 'c-jul02');

-- msisdn normalisation (C trigger): on insert and on update of the number;
-- NULL is left to the NOT NULL constraint; a bad number names itself.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('8 (900) 000-00-04', 'S1', '2026-03-01 12:00+03', 'd-1') RETURNING msisdn;
UPDATE nps.visit SET msisdn = '+7 900 000 00 05' WHERE external_ref = 'd-1' RETURNING msisdn;
\set VERBOSITY terse
INSERT INTO nps.visit (msisdn, salon_code, external_ref) VALUES (NULL, 'S1', 'd-2');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
INSERT INTO nps.roaming (msisdn, country_code, started_at) VALUES ('7900000000x', 'TR', '2026-03-01 12:00+03');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.opt_out (msisdn, source) VALUES ('8-900-000-00-06', 'operator') RETURNING msisdn;
-- An unknown salon is still the foreign key's clear error.
INSERT INTO nps.visit (msisdn, salon_code, external_ref) VALUES ('79000000007', 'S404', 'd-3');
\echo :LAST_ERROR_SQLSTATE

-- nps.send_time (in C) gives what the 0.2.0 SQL expression gave: zones from
-- Kaliningrad to Kamchatka and two with daylight saving, every 7 hours 13
-- minutes of a year, delays with months, days and hours, two windows.
SELECT count(*) AS cases,
       count(*) FILTER (WHERE nps.send_time(t, d, z, f, u) IS DISTINCT FROM CASE
           WHEN ((t AT TIME ZONE z) + d)::time < f THEN (((t AT TIME ZONE z) + d)::date + f) AT TIME ZONE z
           WHEN ((t AT TIME ZONE z) + d)::time >= u THEN (((t AT TIME ZONE z) + d)::date + 1 + f) AT TIME ZONE z
           ELSE ((t AT TIME ZONE z) + d) AT TIME ZONE z END) AS different
FROM generate_series('2026-01-01 00:00+00'::timestamptz, '2027-01-01 00:00+00', '7 hours 13 minutes') t,
     unnest(ARRAY['Europe/Kaliningrad', 'Europe/Moscow', 'Asia/Novosibirsk', 'Asia/Kamchatka',
                  'Europe/Berlin', 'America/New_York', 'UTC', 'MSK']) z,
     unnest(ARRAY['24 days', '1 day 2 hours', '0', '1 mon 30 minutes']::interval[]) d,
     (VALUES ('10:00'::time, '21:00'::time), ('02:30', '03:30')) w(f, u);
SELECT nps.send_time(NULL, '24 days', 'Europe/Moscow', '10:00', '21:00') IS NULL AS null_in_null_out;
SELECT nps.send_time('2026-03-01 12:00+03', '24 days', 'Mars/Olympus', '10:00', '21:00');
\echo :LAST_ERROR_SQLSTATE

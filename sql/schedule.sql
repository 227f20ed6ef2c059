-- Scheduling and eligibility: sessions from visits across the time zones,
-- duplicates, latest visit wins, and run_due()'s rules (night, roaming,
-- fatigue, opt-out, short-code pool, catch-up after an outage).
SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;

INSERT INTO nps.region (code, name, time_zone) VALUES
    ('KGD', 'Калининград', 'Europe/Kaliningrad'),    -- UTC+2
    ('MOW', 'Москва', 'Europe/Moscow'),               -- UTC+3
    ('NVS', 'Новосибирск', 'Asia/Novosibirsk'),       -- UTC+7
    ('KAM', 'Камчатка', 'Asia/Kamchatka');            -- UTC+12
INSERT INTO nps.dealer VALUES ('D1', 'Дилер 1', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES
    ('S-KGD', 'Салон KGD', 'D1', 'KGD'), ('S-MOW', 'Салон MOW', 'D1', 'MOW'),
    ('S-MOW2', 'Салон MOW 2', 'D1', 'MOW'),
    ('S-NVS', 'Салон NVS', 'D1', 'NVS'), ('S-KAM', 'Салон KAM', 'D1', 'KAM');

-- Sessions in the local time of their salon's region.
CREATE TEMP VIEW sess AS
SELECT v.external_ref AS visit, s.id, s.msisdn, s.state, s.state_reason AS reason,
       to_char(s.due_at AT TIME ZONE r.time_zone, 'YYYY-MM-DD HH24:MI') AS due_local,
       s.short_code AS code, s.question_no AS q
FROM nps.session s
JOIN nps.visit v ON v.id = s.visit_id
JOIN nps.salon sa ON sa.code = v.salon_code
JOIN nps.region r ON r.code = sa.region_code
ORDER BY v.id;

CREATE FUNCTION pg_temp.reset() RETURNS void LANGUAGE sql AS $$
    TRUNCATE nps.visit, nps.session, nps.outbox, nps.outbox_part, nps.inbox, nps.answer, nps.opt_out, nps.roaming
        RESTART IDENTITY CASCADE;
    UPDATE nps.setting SET value = CASE key
        WHEN 'fatigue_period' THEN '90 days' WHEN 'duplicate_window' THEN '1 day'
        WHEN 'roaming_give_up' THEN '14 days' WHEN 'catch_up_limit' THEN '2 days'
        WHEN 'expire_after' THEN '3 days' ELSE value END;
$$;

-- 1. Due = visit + 24 days, moved into 10:00-21:00 local time.  23:30 local
-- lands at 10:00 the next local morning from Kaliningrad to Kamchatka; an
-- early visit waits for 10:00 the same day; a daytime one keeps its time;
-- 21:00 itself is already too late, 20:59 is not.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000001', 'S-KGD', '2026-03-01 23:30+02', 'kgd-2330'),
    ('79000000002', 'S-MOW', '2026-03-01 23:30+03', 'mow-2330'),
    ('79000000003', 'S-NVS', '2026-03-01 23:30+07', 'nvs-2330'),
    ('79000000004', 'S-KAM', '2026-03-01 23:30+12', 'kam-2330'),
    ('79000000005', 'S-KAM', '2026-03-01 05:00+12', 'kam-0500'),
    ('79000000006', 'S-NVS', '2026-03-01 14:15+07', 'nvs-1415'),
    ('79000000007', 'S-MOW', '2026-03-01 21:00+03', 'mow-2100'),
    ('79000000008', 'S-MOW', '2026-03-01 20:59+03', 'mow-2059'),
    ('79000000009', 'S-KGD', '2026-03-01 00:10+02', 'kgd-0010');
SELECT visit, state, due_local FROM sess;
-- The same instants in UTC: Kamchatka's 10:00 is the previous evening in UTC.
SELECT v.external_ref, to_char(s.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS due_utc
FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id WHERE v.external_ref LIKE '%-2330' ORDER BY s.id;
-- A region with other sending hours, and a survey with another delay.
UPDATE nps.region SET send_from = '09:00', send_until = '20:00' WHERE code = 'NVS';
UPDATE nps.survey SET delay = '1 day 2 hours' WHERE code = 'dealer-default';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000010', 'S-NVS', '2026-03-01 18:30+07', 'nvs-delay');
SELECT visit, due_local FROM sess WHERE visit = 'nvs-delay';
UPDATE nps.region SET send_from = '10:00', send_until = '21:00' WHERE code = 'NVS';
UPDATE nps.survey SET delay = '24 days' WHERE code = 'dealer-default';
-- Channels get their own survey; the same visit loaded twice is one visit.
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES ('O-MOW', 'Офис', NULL, 'MOW');
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, external_ref) VALUES
    ('79000000011', 'O-MOW', '2026-03-01 12:00+03', 'office', 'office-1'),
    ('79000000012', 'S-MOW', '2026-03-01 12:00+03', 'contact_centre', 'cc-1')
ON CONFLICT (external_ref) DO NOTHING;
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, external_ref)
    VALUES ('79000000011', 'O-MOW', '2026-03-01 12:00+03', 'office', 'office-1')
ON CONFLICT (external_ref) DO NOTHING;
SELECT v.external_ref, sv.code FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id
JOIN nps.survey sv ON sv.id = s.survey_id WHERE v.external_ref IN ('office-1', 'cc-1') ORDER BY 1;
-- A channel without an active survey gets no session.
UPDATE nps.survey SET active = false WHERE code = 'office-default';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, external_ref)
    VALUES ('79000000013', 'O-MOW', '2026-03-01 12:00+03', 'office', 'office-2');
SELECT count(*) AS sessions_for_office_2 FROM sess WHERE visit = 'office-2';
UPDATE nps.survey SET active = true WHERE code = 'office-default';

-- 2. Duplicates and "latest visit wins", in one load and across loads.
SELECT pg_temp.reset();
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000020', 'S-MOW', '2026-03-01 12:00+03', 'a-first'),
    ('79000000020', 'S-MOW', '2026-03-01 15:00+03', 'a-dup'),        -- same salon 3 h later
    ('79000000020', 'S-MOW2', '2026-03-01 16:00+03', 'a-other-salon'),
    ('79000000021', 'S-MOW', '2026-03-01 12:00+03', 'b-first');
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000021', 'S-MOW', '2026-03-03 12:00+03', 'b-two-days-later'),  -- outside the window: not a duplicate
    ('79000000022', 'S-MOW', '2026-03-10 12:00+03', 'c-newer');
-- A visit loaded late, older than the subscriber's pending one, loses.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000022', 'S-MOW', '2026-03-05 12:00+03', 'c-older-loaded-late');
-- Within one load the older visits are cancelled at once; across loads the
-- older session stays pending until it comes due, when nps.run_due() asks
-- nps.superseded_by() (0.7.0): its verdict is the one the load gave before.
SELECT visit, state, reason, due_local FROM sess;
SELECT v.external_ref AS visit, w.external_ref AS superseded_by
FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id
CROSS JOIN nps.superseded_by(s.id, '90 days') x JOIN nps.visit w ON w.id = x.visit_id
ORDER BY 1;
SELECT nps.run_due('2026-03-25 12:00+03') AS started;
SELECT nps.run_due('2026-03-27 12:00+03') AS started;
SELECT nps.run_due('2026-03-29 12:00+03') AS started;
SELECT visit, state, reason, due_local FROM sess;
-- Visits further apart than the fatigue period both keep their sessions.
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000023', 'S-MOW', '2026-01-01 12:00+03', 'd-january'),
    ('79000000023', 'S-MOW', '2026-05-01 12:00+03', 'd-may');
SELECT visit, state, reason FROM sess WHERE visit LIKE 'd-%';
-- With both rules off every visit gets its session.
UPDATE nps.setting SET value = '0' WHERE key IN ('fatigue_period', 'duplicate_window');
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000024', 'S-MOW', '2026-03-01 12:00+03', 'e-1'),
    ('79000000024', 'S-MOW', '2026-03-01 12:05+03', 'e-2');
SELECT visit, state, reason FROM sess WHERE visit LIKE 'e-%';
-- An opted-out subscriber's visit is cancelled at once.
INSERT INTO nps.opt_out (msisdn, source) VALUES ('+7 900 000-00-25', 'operator');
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('89000000025', 'S-MOW', '2026-03-01 12:00+03', 'f-opted-out');
SELECT visit, msisdn, state, reason FROM sess WHERE visit = 'f-opted-out';

-- 3. run_due: night in some regions, day in others; outage catch-up.
SELECT pg_temp.reset();
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000030', 'S-KGD', '2026-03-02 12:00+02', 'kgd'),      -- due 2026-03-26 10:00 UTC
    ('79000000031', 'S-MOW', '2026-03-02 12:00+03', 'mow'),      -- due 2026-03-26 09:00 UTC
    ('79000000032', 'S-NVS', '2026-03-02 12:00+07', 'nvs'),      -- due 2026-03-26 05:00 UTC
    ('79000000033', 'S-KAM', '2026-03-02 12:00+12', 'kam'),      -- due 2026-03-26 00:00 UTC
    ('79000000034', 'S-MOW', '2026-03-03 12:00+03', 'mow-next-day'),
    ('79000000035', 'S-MOW', '2026-02-20 12:00+03', 'mow-long-ago');
-- Before anything is due nothing starts.
SELECT nps.run_due('2026-03-14 12:00+03') AS started;
-- An outage: nobody ran run_due from 2026-03-14 until 2026-03-26 18:30 UTC.
-- It is then evening in Kaliningrad (20:30: starts) and Moscow (21:30: too
-- late), night in Novosibirsk (01:30) and Kamchatka (06:30): they wait.  The
-- session due 2026-03-16 is more than 2 days late and is cancelled.
SELECT nps.run_due('2026-03-26 18:30+00') AS started;
SELECT visit, state, reason, code, q FROM sess;
-- The next morning at 07:30 UTC: Moscow 10:30, Novosibirsk 14:30 and
-- Kamchatka 19:30 start, a day late but within the catch-up limit;
-- mow-next-day is due only at 09:00 UTC.
SELECT nps.run_due('2026-03-27 07:30+00') AS started;
SELECT visit, state, reason, code, q FROM sess;
-- Each start queued its first question from the session's short code.
SELECT o.session_id, o.msisdn, o.source_addr, o.kind, o.question_no, o.state, left(o.body, 40) AS body
FROM nps.outbox o ORDER BY o.id;
-- Running again starts nothing twice.
SELECT nps.run_due('2026-03-27 07:31+00') AS started;

-- 4. Roaming: deferred while abroad, started once back (in daytime), or
-- dropped after roaming_give_up.
SELECT pg_temp.reset();
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000040', 'S-MOW', '2026-03-01 12:00+03', 'back-soon'),
    ('79000000041', 'S-MOW', '2026-03-01 12:00+03', 'never-back'),
    ('79000000042', 'S-MOW', '2026-03-01 12:00+03', 'was-abroad');
INSERT INTO nps.roaming (msisdn, country_code, started_at, ended_at) VALUES
    ('79000000040', 'TR', '2026-03-20 08:00+03', NULL),
    ('79000000041', 'TH', '2026-03-10 08:00+03', NULL),
    ('79000000042', 'AM', '2026-03-10 08:00+03', '2026-03-20 08:00+03');
SELECT nps.run_due('2026-03-25 12:00+03') AS started;
SELECT visit, state, reason, code FROM sess;
-- Still deferred for the same reason: the row is not rewritten every minute.
SELECT updated_at AS before FROM nps.session WHERE msisdn = '79000000040' \gset
SELECT nps.run_due('2026-03-25 12:01+03') AS started;
SELECT updated_at = :'before' AS untouched FROM nps.session WHERE msisdn = '79000000040';
-- Back on 2026-03-28 at 08:00 Moscow; at 09:30 it is too early, at 10:00 it
-- goes, although the due time is 3 days past (deferred is not overdue).
UPDATE nps.roaming SET ended_at = '2026-03-28 08:00+03' WHERE msisdn = '79000000040';
SELECT nps.run_due('2026-03-28 09:30+03') AS started;
SELECT nps.run_due('2026-03-28 10:00+03') AS started;
SELECT nps.run_due('2026-04-08 12:00+03') AS started;   -- 14 days: still waiting
SELECT nps.run_due('2026-04-08 12:01+03') AS started;   -- past roaming_give_up
SELECT visit, state, reason, code FROM sess;

-- 5. Fatigue: one survey per subscriber per 90 days; opted out before due.
SELECT pg_temp.reset();
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000050', 'S-MOW', '2026-01-01 12:00+03', 'jan');
SELECT nps.run_due('2026-01-25 12:00+03') AS started;
UPDATE nps.session SET state = 'completed', finished_at = '2026-01-25 13:00+03' WHERE msisdn = '79000000050';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref) VALUES
    ('79000000050', 'S-MOW', '2026-03-01 12:00+03', 'mar'),
    ('79000000051', 'S-MOW', '2026-03-01 12:00+03', 'will-opt-out');
INSERT INTO nps.opt_out (msisdn, source) VALUES ('79000000051', 'operator');
SELECT nps.run_due('2026-03-25 12:00+03') AS started;
SELECT visit, state, reason, code FROM sess;
-- A shorter period lets the next visit through.
UPDATE nps.setting SET value = '30 days' WHERE key = 'fatigue_period';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000050', 'S-MOW2', '2026-03-02 12:00+03', 'mar-2');
SELECT nps.run_due('2026-03-26 12:00+03') AS started;
SELECT visit, state, reason, code FROM sess WHERE visit = 'mar-2';

-- 6. Short-code pool: eleven concurrent sessions of one subscriber (fatigue
-- and duplicate rules off): ten codes, the eleventh waits until one frees.
SELECT pg_temp.reset();
UPDATE nps.setting SET value = '0' WHERE key IN ('fatigue_period', 'duplicate_window');
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
SELECT '79000000060', 'S-MOW', '2026-03-01 12:00+03'::timestamptz + i * interval '1 minute', 'pool-' || lpad(i::text, 2, '0')
FROM generate_series(1, 11) i;
SELECT nps.run_due('2026-03-25 13:00+03') AS started;
SELECT visit, state, reason, code FROM sess;
SELECT count(DISTINCT short_code) AS distinct_codes FROM nps.session WHERE state = 'active';
-- The index refuses a second active session on one code.
UPDATE nps.session SET short_code = '0650' WHERE short_code = '0651';
\echo :LAST_ERROR_SQLSTATE
-- One finishes (its code 0654 frees up); the waiting one takes it.
UPDATE nps.session SET state = 'completed', finished_at = '2026-03-25 13:30+03' WHERE short_code = '0654';
SELECT nps.run_due('2026-03-25 13:31+03') AS started;
SELECT visit, state, reason, code FROM sess WHERE visit IN ('pool-05', 'pool-11');
-- The least recently used code comes first: a new session of a subscriber
-- whose last survey used 0650 gets 0651.
SELECT pg_temp.reset();
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000061', 'S-MOW', '2026-01-01 12:00+03', 'lru-1');
SELECT nps.run_due('2026-01-25 12:00+03') AS started;
UPDATE nps.session SET state = 'completed', finished_at = '2026-01-25 13:00+03';
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000061', 'S-MOW', '2026-05-01 12:00+03', 'lru-2');
SELECT nps.run_due('2026-05-25 12:00+03') AS started;
SELECT visit, state, code FROM sess;

-- 7. The catch-up limit and the night, again at a glance: due 10:00 Kamchatka
-- (22:00 UTC the day before) and run at 02:00 Kamchatka waits; a run two days
-- and a minute late cancels.
SELECT pg_temp.reset();
INSERT INTO nps.visit (msisdn, salon_code, occurred_at, external_ref)
    VALUES ('79000000070', 'S-KAM', '2026-03-01 23:30+12', 'kam-night');
SELECT nps.run_due('2026-03-27 02:00+12') AS started;
SELECT visit, state, due_local FROM sess;
SELECT nps.run_due('2026-03-28 10:01+12') AS started;
SELECT visit, state, reason FROM sess;

-- Missing settings are a clear error.
DELETE FROM nps.setting WHERE key = 'catch_up_limit';
SELECT nps.run_due('2026-03-28 10:01+12');
\echo :LAST_ERROR_SQLSTATE

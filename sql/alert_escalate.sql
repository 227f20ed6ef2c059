-- Routing and escalation with synthetic time: an alert climbs every level to
-- the CEO; an own office skips the dealer; acknowledging stops the climb;
-- resolve, reopen, the history, the errors and the figures.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;
SET TimeZone = 'Europe/Moscow';
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixture :abs_srcdir '/sql/alert_fixture.inc'
\i :fixture

-- The ladder is data: time allowed per severity and level (6 = CEO, no deadline).
SELECT s.name AS severity, string_agg(format('%s %s', r.level, coalesce(r.allowed::text, '-')), ', ' ORDER BY r.level) AS ladder
FROM nps.alert_route r JOIN nps.alert_severity s USING (severity) GROUP BY s.severity, s.name ORDER BY s.severity;
-- pg_cron runs the escalation every minute (nps.schedule_jobs registers it).
SELECT name, schedule, command FROM nps.job WHERE name = 'nps-escalate';

-- A detractor at a dealer salon (medium), paid services without consent at
-- an own office (high), fraud at another dealer salon (critical).
SELECT pg_temp.answer('v1', 1, 3, '3', '2026-10-01 10:00+03');
SELECT pg_temp.answer('v4', 5, 1, 'да', '2026-10-01 10:00+03');
SELECT pg_temp.answer('v3', 2, NULL, 'Мошенники, подключили подписки без спроса', '2026-10-01 10:00+03');
SELECT pg_temp.answer('v2', 1, 5, '5', '2026-10-01 10:00+03');
SELECT v.external_ref AS visit, a.salon_code, a.severity, a.level, a.assignee, a.state, a.due_at
FROM nps.alert a JOIN nps.session s ON s.id = a.session_id JOIN nps.visit v ON v.id = s.visit_id ORDER BY v.external_ref;

-- The announcement every listener of nps_alert gets (the TAP test proves delivery at commit).
SELECT jsonb_pretty(nps.alert_announce(a, 'raised')) FROM nps.alert a WHERE a.id = pg_temp.alert_of('v1');

-- Nothing is due yet; then the critical one acknowledged in time stays put.
SELECT nps.escalate('2026-10-01 10:59+03');
SELECT id = pg_temp.alert_of('v3') AS is_v3, state, acknowledged_by, acknowledged_at
FROM nps.ack_alert(pg_temp.alert_of('v3'), 'al_mgr_s2', 'звоню клиенту', '2026-10-01 10:30+03');
SELECT nps.escalate('2026-10-01 11:00+03');
SELECT state FROM nps.ack_alert(pg_temp.alert_of('v2'), 'al_mgr_s1', 'перезвоню', '2026-10-01 12:00+03');
-- The own office's alert is due at 14:00 and skips the dealer level.
SELECT nps.escalate('2026-10-01 14:00+03');
SELECT level, assignee, due_at, escalations FROM nps.alert WHERE id = pg_temp.alert_of('v4');

-- The dealer salon's detractor climbs every level to the CEO, one per run.
CREATE TEMP TABLE climb (step integer, at timestamptz);
INSERT INTO climb VALUES (1, '2026-10-02 09:59+03'), (2, '2026-10-02 10:00+03'), (3, '2026-10-03 10:00+03'),
    (4, '2026-10-05 10:00+03'), (5, '2026-10-08 10:00+03'), (6, '2026-12-31 00:00+03');
CREATE TEMP TABLE climbed (step integer, moved integer, level smallint, assignee text, due_at timestamptz);
DO $$
DECLARE
    c record;
    moved integer;
BEGIN
    FOR c IN SELECT * FROM climb ORDER BY step LOOP
        moved := nps.escalate(c.at);
        INSERT INTO climbed
        SELECT c.step, moved, a.level, a.assignee, a.due_at
        FROM nps.alert a WHERE a.id = pg_temp.alert_of('v1');
    END LOOP;
END $$;
-- moved counts every alert that climbed in that run (steps 3 and 4 also move the own
-- office's alert up to the VP and the CEO).
SELECT c.step, c.at, d.moved, d.level, d.assignee, d.due_at FROM climb c JOIN climbed d USING (step) ORDER BY step;
SELECT e.event, e.at, e.actor, e.from_level, e.to_level, e.note
FROM nps.alert_event e WHERE e.alert_id = pg_temp.alert_of('v1') ORDER BY e.id;

-- Acknowledge, resolve with a root cause, reopen (the clock starts again at
-- its level), escalate, acknowledge, resolve again.
SELECT state, acknowledged_by FROM nps.ack_alert(pg_temp.alert_of('v1'), 'al_ceo', 'разберитесь', '2026-10-08 11:00+03');
SELECT state, resolved_by, root_cause, resolution
FROM nps.resolve_alert(pg_temp.alert_of('v1'), 'al_mgr_s1', 'извинились, вернули деньги', 'staff_behaviour', '2026-10-09 12:00+03');
SELECT state, resolved_by, root_cause, resolution
FROM nps.resolve_alert(pg_temp.alert_of('v3'), 'al_mgr_s2', 'подписки отключены, деньги возвращены', 'fraud', '2026-10-01 15:00+03');
SELECT state, level, reopened, due_at, resolution
FROM nps.reopen_alert(pg_temp.alert_of('v3'), 'al_region_mow', 'клиент снова жалуется', '2026-10-02 09:00+03');
SELECT nps.escalate('2026-10-02 10:00+03');
SELECT state, level, assignee, due_at FROM nps.alert WHERE id = pg_temp.alert_of('v3');
SELECT state FROM nps.ack_alert(pg_temp.alert_of('v3'), 'al_dealer_d1', NULL, '2026-10-02 10:10+03');
SELECT state, root_cause FROM nps.resolve_alert(pg_temp.alert_of('v3'), 'al_dealer_d1', 'повторно проверено', 'imposed_services', '2026-10-02 12:00+03');
SELECT e.event, e.at, e.actor, e.from_level, e.to_level, e.severity, e.note
FROM nps.alert_event e WHERE e.alert_id = pg_temp.alert_of('v3') ORDER BY e.id;
-- Resolving an open alert acknowledges it too.
SELECT state, acknowledged_at, resolved_at
FROM nps.resolve_alert(pg_temp.alert_of('v4'), 'al_region_kgd', 'услуги отключены', 'imposed_services', '2026-10-09 13:00+03');

-- Clear errors.
SELECT nps.ack_alert(424242, 'al_ceo', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT nps.ack_alert(pg_temp.alert_of('v1'), 'al_ceo', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT nps.resolve_alert(pg_temp.alert_of('v1'), 'al_ceo', 'ещё раз');
\echo :LAST_ERROR_SQLSTATE
SELECT nps.reopen_alert(pg_temp.alert_of('v3'), 'al_ceo', '');
\echo :LAST_ERROR_SQLSTATE
SELECT nps.ack_alert(pg_temp.alert_of('v1'), NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.answer('v5', 6, 0, 'нет', '2026-10-03 10:00+03');
SELECT nps.reopen_alert(pg_temp.alert_of('v5'), 'al_ceo', 'почему открыт');
\echo :LAST_ERROR_SQLSTATE
SELECT nps.resolve_alert(pg_temp.alert_of('v5'), 'al_mgr_s1', '   ');
\echo :LAST_ERROR_SQLSTATE
SELECT nps.resolve_alert(pg_temp.alert_of('v5'), 'al_mgr_s1', 'решено', 'weather');
\echo :LAST_ERROR_SQLSTATE

-- A ladder without a CEO row: an overdue alert at its top is marked stuck, once.
DELETE FROM nps.alert_route WHERE severity = 2 AND level > 2;
SELECT nps.escalate('2026-10-04 10:00+03'), nps.escalate('2026-10-05 10:00+03');
SELECT level, due_at FROM nps.alert WHERE id = pg_temp.alert_of('v5');
SELECT event, from_level, to_level, note FROM nps.alert_event WHERE alert_id = pg_temp.alert_of('v5') ORDER BY id;

-- Figures.
SELECT t.salon_code, t.period, t.severity, t.state, t.time_to_ack, t.time_to_resolve, t.escalations, t.in_time, t.decided
FROM nps.alert_timing t ORDER BY t.salon_code, t.id;
SELECT period, salon_code, dealer_code, alerts, critical, high, open, resolved, escalated,
       avg_time_to_ack, avg_time_to_resolve, in_time_share
FROM nps.alert_by_salon ORDER BY salon_code;
SELECT period, dealer_code, alerts, critical, open, resolved, escalated, avg_time_to_ack, in_time_share
FROM nps.alert_by_dealer ORDER BY dealer_code;
SELECT period, root_cause, title, alerts, share, rank FROM nps.alert_root_causes ORDER BY period, rank, root_cause;

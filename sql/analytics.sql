-- Analytics figures against hand-computed ones on a fixed data set: NPS per salon,
-- dealer and region per period (time-zone boundaries, empty periods, one-answer
-- dealers), the league table (interval, shrinkage, ties, threshold, change), movers,
-- per-question results, the funnel and its drop reasons, the incremental refresh
-- (equal to a full one) and retention (aggregates kept).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

-- Network: MOW is UTC+3, KAM UTC+12, KGD UTC+2.  Dealer DA has a salon in each of
-- MOW and KAM; O1 is an own office (no dealer).
INSERT INTO nps.region (code, name, time_zone) VALUES
    ('MOW', 'Москва', 'Europe/Moscow'), ('KAM', 'Камчатка', 'Asia/Kamchatka'), ('KGD', 'Калининград', 'Europe/Kaliningrad');
INSERT INTO nps.dealer (code, name, region_code) VALUES
    ('DA', 'Дилер A', 'MOW'), ('DB', 'Дилер B', 'MOW'), ('DC', 'Дилер C', 'KAM'), ('DD', 'Дилер D', 'MOW'), ('DE', 'Дилер E', 'MOW');
INSERT INTO nps.salon (code, name, dealer_code, region_code) VALUES
    ('SA1', 'A Москва', 'DA', 'MOW'), ('SA2', 'A Камчатка', 'DA', 'KAM'), ('SB1', 'B', 'DB', 'MOW'),
    ('SC1', 'C', 'DC', 'KAM'), ('SD1', 'D', 'DD', 'MOW'), ('SE1', 'E', 'DE', 'MOW'), ('O1', 'Офис', NULL, 'KGD');

-- The default survey (the survey branch may have created it already).
INSERT INTO nps.survey (code, name, channel, thanks) VALUES ('dealer-default', 'Дилеры', 'dealer', 'Спасибо!')
ON CONFLICT (code) DO NOTHING;
INSERT INTO nps.question (survey_id, question_no, kind, body, min_score, max_score)
SELECT id, q, k, 'вопрос ' || q, lo, hi FROM nps.survey,
    (VALUES (1, 'score', 0, 10), (2, 'text', NULL, NULL), (3, 'score', 1, 5),
            (4, 'yes_no', NULL, NULL), (5, 'yes_no', NULL, NULL), (6, 'yes_no', NULL, NULL)) x(q, k, lo, hi)
WHERE code = 'dealer-default'
ON CONFLICT DO NOTHING;

-- A visit with its session in a given state (a session the survey engine may have
-- created for the visit is reused).  started: the first question went out.
CREATE TEMP SEQUENCE fixture_no;
CREATE FUNCTION pg_temp.session_for(p_salon text, p_visit timestamptz, p_state text,
                                    p_reason text DEFAULT NULL, p_started boolean DEFAULT true)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_visit bigint;
    v_session bigint;
    v_survey integer := (SELECT id FROM nps.survey WHERE code = 'dealer-default');
BEGIN
    INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, external_ref)
    VALUES ('7916' || lpad(nextval('fixture_no')::text, 7, '0'), p_salon, p_visit,
            CASE WHEN p_salon LIKE 'O%' THEN 'office' ELSE 'dealer' END, 'fx-' || currval('fixture_no'))
    RETURNING id INTO v_visit;
    INSERT INTO nps.session (visit_id, survey_id, msisdn, due_at)
    SELECT id, v_survey, msisdn, occurred_at + interval '24 days' FROM nps.visit WHERE id = v_visit
    ON CONFLICT (visit_id) DO NOTHING;
    UPDATE nps.session
    SET survey_id = v_survey, state = p_state, state_reason = p_reason,
        short_code = CASE WHEN p_state = 'active' THEN '0650' END,
        question_no = CASE WHEN p_state = 'active' THEN 1 END,
        started_at = CASE WHEN p_started THEN p_visit + interval '24 days' END
    WHERE visit_id = v_visit
    RETURNING id INTO v_session;
    RETURN v_session;
END $$;

-- A completed questionnaire whose first answer (question 1) came at p_at.
CREATE FUNCTION pg_temp.answered(p_salon text, p_at timestamptz, p_score integer) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO nps.answer (session_id, question_no, score, answered_at)
    VALUES (pg_temp.session_for(p_salon, p_at - interval '24 days', 'completed'), 1, p_score, p_at)
    RETURNING session_id
$$;

-- October 2026 (local).  DA: SA1 10 10 9 8 3 (and a 9 on the 31st below), SA2 10 6.
SELECT count(pg_temp.answered('SA1', '2026-10-10 12:00+03', s)) FROM unnest(ARRAY[10, 10, 9, 8, 3]) s;
SELECT count(pg_temp.answered('SA2', '2026-10-10 12:00+12', s)) FROM unnest(ARRAY[10, 6]) s;
-- DB: 10 9 7 0 -> 25.0; DC the same (a tie), its 0 at 23:30 on 31 October in
-- Kamchatka, which is 11:30 UTC on the 31st.
SELECT count(pg_temp.answered('SB1', '2026-10-15 12:00+03', s)) FROM unnest(ARRAY[10, 9, 7, 0]) s;
SELECT count(pg_temp.answered('SC1', '2026-10-20 12:00+12', s)) FROM unnest(ARRAY[10, 9, 7]) s;
SELECT pg_temp.answered('SC1', '2026-10-31 23:30+12', 0) > 0 AS kam_last_evening;
-- 00:30 on 1 November in Kamchatka is still 31 October in UTC and in Moscow: November.
SELECT pg_temp.answered('SC1', '2026-11-01 00:30+12', 10) > 0 AS kam_first_morning;
-- Moscow: 23:30 on the 31st is October, 00:10 on the 1st (21:10 UTC the 31st) November.
SELECT pg_temp.answered('SA1', '2026-10-31 23:30+03', 9) > 0 AS mow_last_evening;
-- DD: one answer.  O1 (own office, Kaliningrad): 10 and 0.
SELECT pg_temp.answered('SD1', '2026-10-05 12:00+03', 10) > 0 AS one_answer;
SELECT count(pg_temp.answered('O1', '2026-10-05 12:00+02', s)) FROM unnest(ARRAY[10, 0]) s;
-- November: SA1 10 10 10 at 00:10 MSK on the 1st; SC1 9 5 (plus the 10 above); DB nothing.
SELECT count(pg_temp.answered('SA1', '2026-11-01 00:10+03', s)) FROM unnest(ARRAY[10, 10, 10]) s;
SELECT count(pg_temp.answered('SC1', '2026-11-12 12:00+12', s)) FROM unnest(ARRAY[9, 5]) s;
-- December: DA 0 0 10, DB 10 10 3 (after an empty November), DC 10 10 10.
SELECT count(pg_temp.answered('SA1', '2026-12-03 12:00+03', s)) FROM unnest(ARRAY[0, 0, 10]) s;
SELECT count(pg_temp.answered('SB1', '2026-12-03 12:00+03', s)) FROM unnest(ARRAY[10, 10, 3]) s;
SELECT count(pg_temp.answered('SC1', '2026-12-03 12:00+12', s)) FROM unnest(ARRAY[10, 10, 10]) s;

SELECT nps.refresh() ->> 'mode' AS first_refresh;

-- Months.  Hand-computed: DA Oct n 8 (SA1 10 10 9 8 3 9, SA2 10 6): P 5, Pa 1, D 2 -> 37.5.
SELECT period, code, responses, promoters, passives, detractors, nps, ci_low, ci_high
FROM nps.nps_by_dealer WHERE period_kind = 'month' ORDER BY period, code;
-- SA1 Oct: 10 10 9 8 3 9 -> 50.0; SC1 Oct 10 9 7 0 (the 31st 23:30 local) -> 25.0,
-- Nov 10 9 5 -> 33.3.
SELECT period, code, responses, promoters, passives, detractors, nps
FROM nps.nps_by_salon WHERE period_kind = 'month' ORDER BY code, period;
-- Regions: KAM Oct = SA2 + SC1 (10 6 10 9 7 0) -> P 3, D 2 -> 16.7; KGD is the own office.
SELECT period, code, responses, promoters, passives, detractors, nps
FROM nps.nps_by_region WHERE period_kind = 'month' ORDER BY code, period;
-- Days at the boundary: SC1 has 31 Oct (local) and 1 Nov; SA1 31 Oct and 1 Nov.
SELECT period, code, responses, nps FROM nps.nps_by_salon
WHERE period_kind = 'day' AND period BETWEEN '2026-10-31' AND '2026-11-01' ORDER BY code, period;
-- Saturday 31 Oct and Sunday 1 Nov share the ISO week of Monday 26 Oct.
SELECT period, code, responses, nps FROM nps.nps_by_salon
WHERE period_kind = 'week' AND code IN ('SA1', 'SC1') ORDER BY code, period;
-- An empty period has no row: DB in November.
SELECT count(*) AS db_november FROM nps.nps_by_dealer WHERE code = 'DB' AND period = '2026-11-01';

-- League table by month with the default threshold (30 answers): nobody is ranked.
SELECT count(*) FILTER (WHERE rank IS NOT NULL) AS ranked FROM nps.dealer_ranking;
-- A threshold of 3: DD (one answer) stays unranked.  October: DA 8 answers,
-- DB and DC tie on 10 9 7 0.  The interval: DA p .625 d .25 -> var = .875 - .140625
-- = .734375, 1.96 * sqrt(.734375 / 8) = 59.4 -> [-21.9, 96.9].  One answer: [100, 100].
UPDATE nps.analytics_setting SET value = '3' WHERE name = 'ranking_min_responses';
SELECT nps.refresh() ->> 'mode' AS second_refresh;
SELECT period, dealer_code, responses, nps, ci_low, ci_high, score, rank, ranked_count,
       prev_nps, nps_change, prev_rank, rank_change
FROM nps.dealer_ranking WHERE period_kind = 'month' ORDER BY period, rank NULLS LAST, dealer_code;
-- December movers (ranked in November and December): DC +66.7, DA -133.3; DB was
-- not ranked in November.
SELECT level, period, code, direction, position, nps, prev_nps, nps_change
FROM nps.movers WHERE period_kind = 'month' AND period = '2026-12-01' ORDER BY level, direction, position;

-- January 2027: enough answers for the empirical-Bayes prior to separate dealers.
-- DA, DC: 100 answers, 60 P, 30 Pa, 10 D (50.0); DB: 30 P, 50 Pa, 20 D (10.0);
-- DE: five 10s (100.0); DD: one 10.
SELECT count(pg_temp.answered(salon, '2027-01-15 12:00+03', s))
FROM (VALUES ('SA1'), ('SC1')) d(salon),
     LATERAL (SELECT CASE WHEN i <= 60 THEN 10 WHEN i <= 90 THEN 8 ELSE 2 END FROM generate_series(1, 100) i) x(s);
SELECT count(pg_temp.answered('SB1', '2027-01-15 12:00+03', CASE WHEN i <= 30 THEN 10 WHEN i <= 80 THEN 7 ELSE 0 END))
FROM generate_series(1, 100) i;
SELECT count(pg_temp.answered('SE1', '2027-01-15 12:00+03', 10)) FROM generate_series(1, 5);
SELECT pg_temp.answered('SD1', '2027-01-15 12:00+03', 10) > 0 AS one_answer;
SELECT nps.refresh() ->> 'mode' AS third_refresh;
-- Hand-computed: mu = 116/306 = .379085, s2 = 139/306 = .454248, var of the NPS
-- .1176, mean 1/n .246 -> tau2 = .005855; weights n=100 .5631, n=5 .0605, n=1 .0127.
-- DA, DC 44.7 (tied first), DE 41.7 (100 raw, but five answers), DB 22.2; DD 38.7 unranked.
-- Intervals: DA 1.96 * sqrt(.45/100) = 13.1; DB 1.96 * sqrt(.49/100) = 13.7.
SELECT dealer_code, responses, nps, ci_low, ci_high, score, rank, ranked_count, prev_nps, rank_change
FROM nps.dealer_ranking WHERE period_kind = 'month' AND period = '2027-01-01' ORDER BY rank NULLS LAST, dealer_code;

-- Per-question results: three sessions of SB1 on 2 Feb answer questions 2-6.
WITH s AS (SELECT pg_temp.answered('SB1', '2027-02-02 12:00+03', x) AS id FROM unnest(ARRAY[10, 6, 9]) WITH ORDINALITY u(x, o) ORDER BY o),
     n AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM s)
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT id, q, CASE q WHEN 2 THEN NULL WHEN 3 THEN (ARRAY[5, 2, 4])[k] ELSE (k % 2)::int END,
       CASE q WHEN 2 THEN 'комментарий ' || k END, '2027-02-02 12:05+03'
FROM n, generate_series(2, 6) q;
SELECT nps.refresh() ->> 'mode' AS fourth_refresh;
-- Q3 mean (5 + 2 + 4) / 3 = 3.67; yes/no: sessions 1 and 3 say yes -> 66.7 %.
SELECT question_no, kind, answers, mean_score, yes_percent FROM nps.question_results
WHERE level = 'dealer' AND code = 'DB' AND period_kind = 'day' AND period = '2027-02-02' ORDER BY question_no;
SELECT recommend, category, comment, specialist_score, tariff_explained, paid_without_consent, solved,
       subscriber ~ '^s[0-9a-f]{20}$' AS pseudonymous
FROM nps.responses WHERE answer_day = '2027-02-02' ORDER BY recommend DESC;

-- The funnel: ten visits to SB1 on 10 September 2026, each stopping at another stage.
CREATE TEMP TABLE funnel_fixture AS
SELECT pg_temp.session_for('SB1', '2026-09-10 12:00+03', st, reason, started) AS id, n
FROM (VALUES (1, 'cancelled', NULL, false), (2, 'cancelled', 'fatigue', false), (3, 'scheduled', NULL, false),
             (4, 'deferred', 'roaming', false), (5, 'expired', 'no reply', true), (6, 'active', NULL, true),
             (7, 'expired', 'no reply', true), (8, 'expired', 'no reply', true),
             (9, 'completed', NULL, true), (10, 'completed', NULL, true)) f(n, st, reason, started);
-- Visit 1 has no session at all (the survey engine would have made one).
DELETE FROM nps.session WHERE id = (SELECT id FROM funnel_fixture WHERE n = 1);
INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, state, error)
SELECT s.id, s.msisdn, '0650', 'вопрос 1', x.state, x.error
FROM funnel_fixture f JOIN nps.session s ON s.id = f.id
JOIN (VALUES (5, 'failed', 'absent subscriber'), (6, 'submitted', NULL), (7, 'delivered', NULL),
             (8, 'delivered', NULL), (9, 'delivered', NULL)) x(n, state, error) USING (n);
-- Visit 10 has no receipt but answered: a reply proves delivery.
INSERT INTO nps.answer (session_id, question_no, score, answered_at)
SELECT id, 1, 9, '2026-10-04 13:00+03' FROM funnel_fixture WHERE n IN (8, 9, 10);
SELECT nps.refresh(true) ->> 'mode' AS full_refresh;
SELECT level, code, visits, eligible, sent, delivered, started, completed, response_rate, completion_rate
FROM nps.funnel WHERE period_kind = 'day' AND period = '2026-09-10' ORDER BY level, code;
SELECT stage, reason, visits FROM nps.funnel_drop
WHERE level = 'salon' AND code = 'SB1' AND period_kind = 'month' AND period = '2026-09-01' ORDER BY stage, reason;

-- The incremental refresh gives exactly what a full one gives: change a score, add a
-- late answer to October, then compare with a full recompute.
UPDATE nps.answer SET score = 10 WHERE question_no = 1 AND score = 3
  AND answered_at = '2026-10-10 12:00+03';
SELECT pg_temp.answered('SB1', '2026-10-20 09:00+03', 10) > 0 AS late;
SELECT r ->> 'mode' AS mode, (r ->> 'days')::int < 40 AS few_days FROM nps.refresh() r;
SELECT nps FROM nps.nps_by_dealer WHERE code = 'DA' AND period_kind = 'month' AND period = '2026-10-01';
CREATE TEMP TABLE incremental AS
SELECT 'nps' AS t, to_jsonb(n) AS row FROM nps.nps_summary n
UNION ALL SELECT 'question', to_jsonb(q) FROM nps.question_summary q
UNION ALL SELECT 'ranking', to_jsonb(r) FROM nps.ranking r
UNION ALL SELECT 'funnel', to_jsonb(f) FROM nps.funnel_daily f;
SELECT nps.refresh(true) ->> 'mode' AS mode;
CREATE TEMP TABLE full_refresh AS
SELECT 'nps' AS t, to_jsonb(n) AS row FROM nps.nps_summary n
UNION ALL SELECT 'question', to_jsonb(q) FROM nps.question_summary q
UNION ALL SELECT 'ranking', to_jsonb(r) FROM nps.ranking r
UNION ALL SELECT 'funnel', to_jsonb(f) FROM nps.funnel_daily f;
SELECT t, count(*) FROM incremental GROUP BY t ORDER BY t;
SELECT count(*) AS differences FROM ((TABLE incremental EXCEPT TABLE full_refresh)
                                     UNION ALL (TABLE full_refresh EXCEPT TABLE incremental)) d;
-- Updating only a text (as retention does) logs nothing.
SELECT count(*) AS pending FROM nps.change_log;
UPDATE nps.answer SET body = 'исправлено' WHERE question_no = 2;
SELECT count(*) AS pending FROM nps.change_log;

-- Retention on 1 March 2027 with texts kept 20 days and raw rows 100 days: texts
-- of February go, visits before 21 November 2026 (and their sessions and answers,
-- up to the December ones) go; days up to 3 December + 2 freeze; the figures stay,
-- also through a later full refresh.
UPDATE nps.analytics_setting SET value = '20 days' WHERE name = 'text_retention';
UPDATE nps.analytics_setting SET value = '100 days' WHERE name = 'msisdn_retention';
CREATE TEMP TABLE before_retention AS SELECT * FROM nps.nps_results;
SELECT nps.apply_retention('2027-03-01 00:00+03');
SELECT count(*) FILTER (WHERE body IS NOT NULL) AS texts_left, min(answered_at) = '2027-01-15 12:00+03' AS only_january_on
FROM nps.answer;
SELECT frozen_before FROM nps.analytics_state;
SELECT nps.refresh(true) ->> 'mode' AS mode;
SELECT count(*) AS changed FROM ((TABLE before_retention EXCEPT SELECT * FROM nps.nps_results)
                                 UNION ALL (SELECT * FROM nps.nps_results EXCEPT TABLE before_retention)) d;

-- Settings, errors and documentation.
SELECT nps.analytics_setting('no_such_setting');
\echo :LAST_ERROR_SQLSTATE
SELECT v AS view_column_without_comment
FROM unnest(nps.analyst_views()) v JOIN pg_attribute a ON a.attrelid = v AND a.attnum > 0
WHERE col_description(v, a.attnum) IS NULL;
SELECT v AS view_without_comment FROM unnest(nps.analyst_views()) v WHERE obj_description(v, 'pg_class') IS NULL;

-- pg_cron jobs (unscheduled at once: this cluster must not refresh behind the tests).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
SELECT count(*) AS jobs FROM nps.schedule_analytics();
SELECT jobname, schedule, command FROM cron.job WHERE jobname LIKE 'nps-%' ORDER BY jobname;
SELECT cron.unschedule(jobname) FROM cron.job WHERE jobname IN ('nps-refresh', 'nps-retention');

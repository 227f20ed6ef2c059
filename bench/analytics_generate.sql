-- Set-based sample load for the analytics benchmark: :visits visits spread over
-- [now() - :from_days days, now() - :until_days days), each with a survey session
-- due 24 days later, its answers and the message of its first question.
-- psql -v visits=N -v from_days=D -v until_days=D -v seed=S -f analytics_generate.sql
-- Fates (from a deterministic hash of the visit): 92% complete all six questions,
-- 4% stop after 1-5 answers, 2% never reply (half of them undelivered), 1% opt
-- out, 1% are cancelled by the rules -> about 5.8 answers per session, i.e. the
-- reference scale's 15 million answers for 2.6 million sessions.
\set ON_ERROR_STOP 1
SELECT coalesce(max(id), 0) AS first_visit FROM nps.visit \gset

SELECT nps.generate_visits(:visits, now() - :from_days * interval '1 day',
                           now() - :until_days * interval '1 day', :seed) AS visits_added;

INSERT INTO nps.session (visit_id, survey_id, msisdn, state, state_reason, due_at, started_at, finished_at)
SELECT v.id, sv.id, v.msisdn,
       CASE WHEN f.fate < 0.92 THEN 'completed' WHEN f.fate < 0.98 THEN 'expired'
            WHEN f.fate < 0.99 THEN 'opted_out' ELSE 'cancelled' END,
       CASE WHEN f.fate >= 0.92 AND f.fate < 0.98 THEN 'no reply' WHEN f.fate >= 0.99 THEN 'fatigue' END,
       v.occurred_at + interval '24 days',
       CASE WHEN f.fate < 0.99 THEN v.occurred_at + interval '24 days' + f.fate * interval '2 hours' END,
       CASE WHEN f.fate < 0.99 THEN v.occurred_at + interval '24 days 3 hours' END
FROM nps.visit v
JOIN nps.survey sv ON sv.channel = v.channel AND sv.active
CROSS JOIN LATERAL (SELECT nps.sample_random(:seed, v.id, 'fate') AS fate) f
WHERE v.id > :first_visit
-- The day's visits go through the real triggers, which schedule their sessions;
-- the sessions then run as their fate says (started, answered, ended).
ON CONFLICT (visit_id) DO UPDATE
SET state = excluded.state, state_reason = excluded.state_reason, due_at = excluded.due_at,
    started_at = excluded.started_at, finished_at = excluded.finished_at;

-- Question 1 leans to the salon: score = 10 - floor(11 r^a), a in [3, 6] per salon,
-- which gives salon NPS between about 28 and 60.
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT s.id, q,
       CASE q WHEN 1 THEN 10 - floor(11 * nps.sample_random(:seed, s.id, 'q1')
                                     ^ (3 + 3 * nps.sample_random(:seed, hashtext(v.salon_code), 'bias')))::int
              WHEN 2 THEN NULL
              WHEN 3 THEN 1 + floor(5 * nps.sample_random(:seed, s.id, 'q3'))::int
              ELSE (nps.sample_random(:seed, s.id * 10 + q, 'yn') < 0.7)::int END,
       CASE q WHEN 2 THEN 'комментарий ' || s.id END,
       s.started_at + q * interval '3 minutes'
FROM nps.session s
JOIN nps.visit v ON v.id = s.visit_id
CROSS JOIN LATERAL (SELECT nps.sample_random(:seed, v.id, 'fate') AS fate) f
CROSS JOIN LATERAL generate_series(1, CASE WHEN f.fate < 0.92 THEN 6
                                           WHEN f.fate < 0.96 THEN 1 + floor((f.fate - 0.92) * 125)::int
                                           ELSE 0 END) q
WHERE s.visit_id > :first_visit;

INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no, state, error, queued_at, done_at)
SELECT s.id, s.msisdn, '0650', 'Оцените от 0 до 10', 'question', 1,
       CASE WHEN f.fate >= 0.96 AND f.fate < 0.97 THEN 'failed' ELSE 'delivered' END,
       CASE WHEN f.fate >= 0.96 AND f.fate < 0.97 THEN 'absent subscriber' END,
       s.started_at, s.started_at + interval '10 seconds'
FROM nps.session s
CROSS JOIN LATERAL (SELECT nps.sample_random(:seed, s.visit_id, 'fate') AS fate) f
WHERE s.visit_id > :first_visit AND s.started_at IS NOT NULL;

-- scripts/demo-report.sql: a readable report from the raw tables (psql -f).
-- The survey funnel (visits -> sessions -> refusals by reason -> started ->
-- completed, response rate) and the NPS league table of dealers.  The
-- analytics views (nps.nps_by_dealer, nps.dealer_ranking) are the reference
-- figures; this report needs nothing but the survey engine's tables.

\pset footer off
\echo
\echo '== Survey funnel'
WITH s AS (
    SELECT s.*, EXISTS (SELECT FROM nps.answer a WHERE a.session_id = s.id) AS answered
    FROM nps.session s
)
SELECT step, sessions, CASE WHEN base > 0 THEN round(100.0 * sessions / base, 1) END AS "% of previous"
FROM (
    SELECT 1 AS ord, 'visits' AS step, (SELECT count(*) FROM nps.visit) AS sessions, NULL::bigint AS base
    UNION ALL
    SELECT 2, 'sessions created', count(*), (SELECT count(*) FROM nps.visit) FROM s
    UNION ALL
    SELECT 3, 'started (first question sent)', count(*) FILTER (WHERE started_at IS NOT NULL), count(*) FROM s
    UNION ALL
    SELECT 4, 'answered at least one question', count(*) FILTER (WHERE answered),
           count(*) FILTER (WHERE started_at IS NOT NULL) FROM s
    UNION ALL
    SELECT 5, 'completed', count(*) FILTER (WHERE state = 'completed'),
           count(*) FILTER (WHERE answered) FROM s
) f ORDER BY ord;

\echo '== Where the sessions are now, and why'
SELECT state, coalesce(split_part(state_reason, ':', 1), '') AS reason, count(*) AS sessions,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS "%"
FROM nps.session
GROUP BY 1, 2
ORDER BY CASE state WHEN 'completed' THEN 1 WHEN 'active' THEN 2 WHEN 'scheduled' THEN 3
                    WHEN 'deferred' THEN 4 WHEN 'expired' THEN 5 WHEN 'opted_out' THEN 6 ELSE 7 END,
         count(*) DESC;

\echo '== Response'
SELECT count(*) FILTER (WHERE started_at IS NOT NULL) AS started,
       count(*) FILTER (WHERE state = 'completed') AS completed,
       round(100.0 * count(*) FILTER (WHERE state = 'completed')
             / nullif(count(*) FILTER (WHERE started_at IS NOT NULL), 0), 1) AS "response rate %",
       count(*) FILTER (WHERE state = 'opted_out') AS opted_out,
       (SELECT count(*) FROM nps.inbox) AS replies,
       (SELECT count(*) FROM nps.inbox WHERE status IN ('unmatched', 'late', 'unparsed')) AS "replies not taken"
FROM nps.session;

\echo '== NPS league table of dealers (question 1; promoters 9-10, detractors 0-6)'
WITH scores AS (
    SELECT sa.dealer_code, a.score
    FROM nps.answer a
    JOIN nps.session s ON s.id = a.session_id
    JOIN nps.visit v ON v.id = s.visit_id
    JOIN nps.salon sa ON sa.code = v.salon_code
    WHERE a.question_no = 1 AND a.score IS NOT NULL AND sa.dealer_code IS NOT NULL
), per_dealer AS (
    SELECT dealer_code, count(*) AS responses,
           count(*) FILTER (WHERE score >= 9) AS promoters,
           count(*) FILTER (WHERE score BETWEEN 7 AND 8) AS passives,
           count(*) FILTER (WHERE score <= 6) AS detractors
    FROM scores GROUP BY dealer_code
)
SELECT rank() OVER (ORDER BY round(100.0 * (promoters - detractors) / responses, 1) DESC) AS rank,
       p.dealer_code AS dealer, d.name, d.region_code AS region, responses, promoters, passives, detractors,
       round(100.0 * (promoters - detractors) / responses, 1) AS nps
FROM per_dealer p JOIN nps.dealer d ON d.code = p.dealer_code
ORDER BY nps DESC, responses DESC, dealer
LIMIT 20;
\pset footer on

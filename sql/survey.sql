-- Surveys and settings as data: the three default surveys keep the fixed
-- numbering and the phrases the SMSC simulator answers by, every text fits
-- two UCS-2 parts, settings are checked, and the pg_cron jobs register once.
SET client_min_messages = warning; DROP EXTENSION IF EXISTS nps CASCADE; CREATE EXTENSION nps CASCADE; RESET client_min_messages;

SELECT code, channel, active, delay, thanks FROM nps.survey ORDER BY id;

-- Fixed numbering in all three: 1 score 0-10, 2 text, 3 score 1-5, 4-6 yes/no.
SELECT q.question_no, q.kind, q.min_score, q.max_score, count(*) AS surveys
FROM nps.question q JOIN nps.survey s ON s.id = q.survey_id
WHERE s.code IN ('dealer-default', 'office-default', 'contact-centre-default')
GROUP BY 1, 2, 3, 4 ORDER BY 1;

-- The simulator's phrases: every text has exactly the phrase of its kind
-- (questions and their hints), the thank-you begins with "Спасибо", a free
-- text question has none.  Any row here is a defect.
WITH texts AS (
    SELECT s.code, q.question_no, q.kind, q.min_score, q.max_score, t.text
    FROM nps.survey s JOIN nps.question q ON q.survey_id = s.id
    CROSS JOIN LATERAL (VALUES (q.body), (q.hint)) t(text)
    WHERE t.text IS NOT NULL
)
SELECT code, question_no, text FROM texts
WHERE (text LIKE '%от 0 до 10%') <> (kind = 'score' AND min_score = 0 AND max_score = 10)
   OR (text LIKE '%от 1 до 5%') <> (kind = 'score' AND min_score = 1 AND max_score = 5)
   OR (text LIKE '%да или нет%') <> (kind = 'yes_no')
UNION ALL
SELECT code, NULL, thanks FROM nps.survey WHERE thanks NOT LIKE 'Спасибо%';

-- Two UCS-2 parts at most: 134 characters (2 x 67 with the concatenation
-- header); the longest default texts, then the CHECKs at work.
SELECT max(char_length(body)) AS longest_question, max(char_length(hint)) AS longest_hint,
       (SELECT max(char_length(thanks)) FROM nps.survey) AS longest_thanks
FROM nps.question;
UPDATE nps.question SET body = repeat('я', 135)
WHERE question_no = 2 AND survey_id = (SELECT id FROM nps.survey WHERE code = 'dealer-default');
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.question SET body = repeat('я', 134)
WHERE question_no = 2 AND survey_id = (SELECT id FROM nps.survey WHERE code = 'dealer-default');
\set VERBOSITY terse
UPDATE nps.survey SET thanks = 'Спасибо' || repeat('!', 128) WHERE code = 'office-default';
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE

-- One active survey per channel; a new version replaces the old one.
INSERT INTO nps.survey (code, name, channel, thanks) VALUES ('dealer-2027', 'Опрос 2027', 'dealer', 'Спасибо!');
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.survey SET active = false WHERE code = 'dealer-default';
INSERT INTO nps.survey (code, name, channel, thanks) VALUES ('dealer-2027', 'Опрос 2027', 'dealer', 'Спасибо!');
SELECT code FROM nps.survey WHERE active ORDER BY code;

-- Settings: documented, typed, checked.
SELECT key, kind, value FROM nps.setting ORDER BY key;
SELECT count(*) AS undocumented FROM nps.setting WHERE description = '';
UPDATE nps.setting SET value = 'soon' WHERE key = 'expire_after';
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.setting SET value = '-1 day' WHERE key = 'expire_after';
\echo :LAST_ERROR_SQLSTATE
UPDATE nps.setting SET value = '36 hours' WHERE key = 'expire_after';
SELECT nps.setting_interval('expire_after'), nps.setting_text('opt_out_confirmation') IS NOT NULL AS has_text;
SELECT nps.setting_interval('no_such_setting');
\echo :LAST_ERROR_SQLSTATE

-- Sending hours: the send time of a visit in its region.
SELECT to_char(nps.send_time('2026-03-01 23:30+12', '24 days', 'Asia/Kamchatka', '10:00', '21:00')
               AT TIME ZONE 'Asia/Kamchatka', 'YYYY-MM-DD HH24:MI') AS kamchatka,
       to_char(nps.send_time('2026-03-01 09:59+02', '0', 'Europe/Kaliningrad', '10:00', '21:00')
               AT TIME ZONE 'Europe/Kaliningrad', 'YYYY-MM-DD HH24:MI') AS kaliningrad;

-- Every table, column and function of the engine is documented.
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'nps'::regnamespace AND c.relname IN ('setting', 'job') AND a.attnum > 0
  AND col_description(c.oid, a.attnum) IS NULL;
SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'nps'::regnamespace
  AND p.proname IN ('setting_interval', 'setting_text', 'send_time', 'schedule_visits', 'run_due', 'receive',
                    'reply_msisdn', 'ask_next', 'opt_out_by_sms', 'dialogue', 'expire', 'schedule_jobs')
  AND obj_description(p.oid, 'pg_proc') IS NULL;

-- pg_cron jobs: registered in this database (cron.database_name here is
-- contrib_regression), once each however often schedule_jobs() runs.
SELECT current_setting('cron.database_name') = current_database() AS cron_here;
SELECT nps.schedule_jobs();
SELECT nps.schedule_jobs();
SELECT jobname, schedule, command, database = current_database() AS here, active
FROM cron.job WHERE jobname LIKE 'nps-%' ORDER BY jobname;
-- A job added as data is picked up; a changed schedule is updated in place.
INSERT INTO nps.job VALUES ('nps-nightly-check', '0 3 * * *', 'SELECT 1', 'Example');
UPDATE nps.job SET schedule = '*/2 * * * *' WHERE name = 'nps-run-due';
SELECT nps.schedule_jobs();
SELECT jobname, schedule FROM cron.job WHERE jobname LIKE 'nps-%' ORDER BY jobname;
SELECT cron.unschedule(jobname) FROM cron.job WHERE jobname LIKE 'nps-%';

-- The survey engine: settings, default surveys, scheduling and eligibility,
-- starting due sessions, the reply dialogue, expiry and the pg_cron jobs.
--
-- Everything a rule needs is data (nps.setting, nps.survey, nps.question,
-- nps.region, nps.opt_out, nps.roaming, nps.short_code); the functions below
-- only apply it.  Bulk paths are set-based: a visit load schedules its
-- sessions in one statement-level trigger, run_due() starts every due session
-- in one statement.  Refusals are recorded on the session itself: state
-- cancelled or deferred, and state_reason = '<reason>' or '<reason>: <detail>'
-- from a fixed vocabulary (see docs/surveys.md), so reports group by
-- split_part(state_reason, ':', 1).

------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------

CREATE TABLE nps.setting (
    key         text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('interval', 'text')),
    value       text NOT NULL,
    description text NOT NULL,
    CONSTRAINT setting_value_check CHECK (kind <> 'interval' OR value::interval >= '0')
);
COMMENT ON TABLE nps.setting IS 'Survey engine settings (fatigue period, duplicate window, roaming give-up, catch-up limit, expiry, texts); edit with UPDATE';
COMMENT ON COLUMN nps.setting.key IS 'Setting name';
COMMENT ON COLUMN nps.setting.kind IS 'interval or text: how value is read';
COMMENT ON COLUMN nps.setting.value IS 'Value as text (an interval such as ''90 days'', or a message text)';
COMMENT ON COLUMN nps.setting.description IS 'What the setting governs';

INSERT INTO nps.setting (key, kind, value, description) VALUES
    ('fatigue_period', 'interval', '90 days',
     'At most one survey per subscriber per this period: a session is cancelled if another one of the subscriber started within it, and a newer visit cancels an older not-yet-started session due within it (0 turns the rule off)'),
    ('duplicate_window', 'interval', '1 day',
     'A visit of the same subscriber to the same salon within this time after an earlier one is a duplicate and gets no survey (0 turns the rule off)'),
    ('roaming_give_up', 'interval', '14 days',
     'A session that waits for its subscriber to come back from abroad is cancelled once this long past its due time'),
    ('catch_up_limit', 'interval', '2 days',
     'After an outage, overdue sessions still start unless more than this late; those are cancelled'),
    ('expire_after', 'interval', '3 days',
     'An active session whose current question has had no reply for this long expires (its answers are kept)'),
    ('opt_out_confirmation', 'text',
     'Вы отписаны от опросов и больше не получите их. Если это ошибка, обратитесь в салон связи.',
     'SMS confirming a STOP reply');

CREATE FUNCTION nps.setting_value(p_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    SELECT value INTO v FROM nps.setting WHERE key = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'setting "%" is missing', p_key
            USING ERRCODE = 'undefined_object',
                  HINT = 'Restore it in nps.setting; docs/surveys.md lists the settings and their defaults.';
    END IF;
    RETURN v;
END $$;
COMMENT ON FUNCTION nps.setting_value(text) IS
    'Value of a setting from nps.setting as text (cast it: nps.setting_value(''fatigue_period'')::interval); raises undefined_object when it is missing';

------------------------------------------------------------------------------
-- Surveys: texts fit two UCS-2 SMS parts; the three default surveys
------------------------------------------------------------------------------

-- One UCS-2 part holds 70 characters, a concatenated one 67 (the UDH takes
-- the rest), so two parts carry 134: no survey text may need a third.
ALTER TABLE nps.question
    ADD CONSTRAINT question_body_two_parts CHECK (char_length(body) <= 134),
    ADD CONSTRAINT question_hint_two_parts CHECK (char_length(hint) <= 134);
ALTER TABLE nps.survey
    ADD CONSTRAINT survey_thanks_two_parts CHECK (char_length(thanks) <= 134);

INSERT INTO nps.survey (code, name, channel, thanks) VALUES
    ('dealer-default', 'Опрос после визита в салон дилера', 'dealer',
     'Спасибо за ответы! Ваше мнение поможет нам стать лучше.'),
    ('office-default', 'Опрос после визита в офис', 'office',
     'Спасибо за ответы! Ваше мнение поможет нам стать лучше.'),
    ('contact-centre-default', 'Опрос после обращения в контактный центр', 'contact_centre',
     'Спасибо за ответы! Ваше мнение поможет нам стать лучше.');

-- Fixed numbering in every channel: 1 recommend 0-10, 2 why, 3 specialist
-- 1-5, 4 tariff explained, 5 paid services without consent, 6 solved.  The
-- SMSC simulator answers by the phrases "от 0 до 10", "от 1 до 5" and
-- "да или нет", so score and yes/no texts and hints carry them.
INSERT INTO nps.question (survey_id, question_no, kind, body, min_score, max_score, hint)
SELECT s.id, q.no, q.kind, replace(replace(q.body, '{place}', p.place), '{who}', p.who), q.lo, q.hi, q.hint
FROM nps.survey s
JOIN (VALUES ('dealer-default', 'салон, в котором вас обслужили,', 'специалиста салона'),
             ('office-default', 'наш офис, в котором вас обслужили,', 'специалиста офиса'),
             ('contact-centre-default', 'наш контактный центр', 'оператора контактного центра'))
     AS p(code, place, who) ON p.code = s.code
CROSS JOIN (VALUES
    (1, 'score', 'Насколько вероятно, что вы порекомендуете {place} друзьям? Ответьте числом от 0 до 10. Ответ бесплатный.', 0, 10,
        'Пожалуйста, ответьте одним числом от 0 до 10, где 10 - точно порекомендую.'),
    (2, 'text', 'Почему вы поставили такую оценку? Напишите, пожалуйста, пару слов в ответном SMS.', NULL, NULL,
        'Пожалуйста, напишите ваш комментарий в ответном SMS.'),
    (3, 'score', 'Оцените работу {who} от 1 до 5, где 5 - отлично.', 1, 5,
        'Пожалуйста, ответьте одним числом от 1 до 5.'),
    (4, 'yes_no', 'Вам понятно объяснили тариф и его условия? Ответьте да или нет.', NULL, NULL,
        'Пожалуйста, ответьте одним словом: да или нет.'),
    (5, 'yes_no', 'Вам подключили платные услуги без вашего согласия? Ответьте да или нет.', NULL, NULL,
        'Пожалуйста, ответьте одним словом: да или нет.'),
    (6, 'yes_no', 'Ваш вопрос решён полностью? Ответьте да или нет.', NULL, NULL,
        'Пожалуйста, ответьте одним словом: да или нет.'))
    AS q(no, kind, body, lo, hi, hint);

------------------------------------------------------------------------------
-- Scheduling: a visit load creates its sessions in one statement
------------------------------------------------------------------------------

-- When a visit's survey may go: visit_at + delay counted in the region's
-- local time (so that "24 days later" never shifts by an hour with the
-- session's TimeZone or a daylight-saving change), then moved to the first
-- moment in [send_from, send_until): an evening time to the next morning, an
-- early one to the same morning.  A plain SQL expression, not STRICT, so
-- the planner inlines it into the bulk INSERT (NULL in, NULL out anyway).
CREATE FUNCTION nps.send_time(visit_at timestamptz, delay interval, tz text, send_from time, send_until time)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN ((visit_at AT TIME ZONE tz) + delay)::time < send_from
            THEN (((visit_at AT TIME ZONE tz) + delay)::date + send_from) AT TIME ZONE tz
        WHEN ((visit_at AT TIME ZONE tz) + delay)::time >= send_until
            THEN (((visit_at AT TIME ZONE tz) + delay)::date + 1 + send_from) AT TIME ZONE tz
        ELSE ((visit_at AT TIME ZONE tz) + delay) AT TIME ZONE tz END
$$;
COMMENT ON FUNCTION nps.send_time(timestamptz, interval, text, time, time) IS
    'When a survey for a visit at visit_at may be sent: visit_at + delay in local time of zone tz, moved into the sending hours [send_from, send_until)';

-- Statement-level: a load of a million visits is a handful of set-based
-- statements, not a million trigger calls.
CREATE FUNCTION nps.schedule_visits() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    dup_window interval := nps.setting_value('duplicate_window')::interval;
    fatigue interval := nps.setting_value('fatigue_period')::interval;
BEGIN
    -- Latest visit wins within the load itself: of a subscriber's eligible
    -- visits in this statement, those due within the fatigue period before
    -- the newest one's are inserted already cancelled (no UPDATE later).
    INSERT INTO nps.session (visit_id, survey_id, msisdn, due_at, state, state_reason)
    SELECT c.id, c.survey_id, c.msisdn, c.due_at,
           CASE WHEN c.reason IS NULL AND NOT c.superseded THEN 'scheduled' ELSE 'cancelled' END,
           coalesce(c.reason, CASE WHEN c.superseded THEN 'superseded: visit ' || c.newest END)
    FROM (SELECT e.*,
                 first_value(e.id) OVER w AS newest,
                 fatigue > '0' AND e.reason IS NULL AND e.id <> first_value(e.id) OVER w
                     AND e.due_at > first_value(e.due_at) OVER w - fatigue AS superseded
          FROM (SELECT n.id, sv.id AS survey_id, n.msisdn, n.occurred_at,
                       nps.send_time(n.occurred_at, sv.delay, r.time_zone, r.send_from, r.send_until) AS due_at,
                       CASE WHEN o.msisdn IS NOT NULL THEN 'opted out'
                            WHEN d.dup THEN 'duplicate visit' END AS reason
                FROM new_visits n
                JOIN nps.survey sv ON sv.channel = n.channel AND sv.active
                JOIN nps.salon sa ON sa.code = n.salon_code
                JOIN nps.region r ON r.code = sa.region_code
                LEFT JOIN nps.opt_out o ON o.msisdn = n.msisdn
                -- An earlier visit of the subscriber to the same salon within
                -- the window.  Only the subscriber's own visits are fetched (by
                -- msisdn, behind OFFSET 0) and then tested: with the salon or
                -- time conditions inside, a table without statistics yet (a
                -- first load, a TRUNCATE) lets the planner pick the
                -- (salon_code, occurred_at) index, and every probe then walks a
                -- whole day of a salon's visits or worse.  A subscriber has a
                -- handful of visits.
                LEFT JOIN LATERAL (
                    SELECT true AS dup
                    FROM (SELECT v.id, v.salon_code, v.occurred_at FROM nps.visit v
                          WHERE v.msisdn = n.msisdn OFFSET 0) v
                    WHERE v.salon_code = n.salon_code
                      AND v.occurred_at >= n.occurred_at - dup_window
                      AND (v.occurred_at, v.id) < (n.occurred_at, n.id)
                    LIMIT 1) d ON dup_window > '0') e
          WINDOW w AS (PARTITION BY e.msisdn, e.reason IS NULL ORDER BY e.occurred_at DESC, e.id DESC)) c;

    -- Latest visit wins across loads: of a subscriber's not-yet-started
    -- sessions, those due within the fatigue period before the newest
    -- visit's are cancelled.  Only subscribers with two or more pending
    -- sessions need a look.
    IF fatigue > '0' THEN
        UPDATE nps.session s
        SET state = 'cancelled', state_reason = 'superseded: visit ' || w.newest_visit, updated_at = now()
        FROM (SELECT p.id, p.visit_id, p.due_at,
                     first_value(p.visit_id) OVER w AS newest_visit,
                     first_value(p.due_at) OVER w AS newest_due
              FROM nps.session p
              JOIN nps.visit v ON v.id = p.visit_id
              WHERE p.state IN ('scheduled', 'deferred')
                AND p.msisdn IN (SELECT q.msisdn FROM nps.session q
                                 WHERE q.msisdn IN (SELECT msisdn FROM new_visits)
                                   AND q.state IN ('scheduled', 'deferred')
                                 GROUP BY q.msisdn HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY p.msisdn ORDER BY v.occurred_at DESC, v.id DESC)) w
        WHERE s.id = w.id AND w.visit_id <> w.newest_visit AND w.due_at > w.newest_due - fatigue;
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.schedule_visits() IS
    'Trigger: creates the survey session of every inserted visit (due = visit + survey delay, moved into the region''s sending hours), cancelling opted-out, duplicate and superseded ones';

CREATE TRIGGER visit_schedule AFTER INSERT ON nps.visit
    REFERENCING NEW TABLE AS new_visits
    FOR EACH STATEMENT EXECUTE FUNCTION nps.schedule_visits();

------------------------------------------------------------------------------
-- Starting due sessions
------------------------------------------------------------------------------

CREATE FUNCTION nps.run_due(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    p_at ALIAS FOR $1;
    fatigue interval := nps.setting_value('fatigue_period')::interval;
    give_up interval := nps.setting_value('roaming_give_up')::interval;
    catch_up interval := nps.setting_value('catch_up_limit')::interval;
    started integer;
BEGIN
    -- pg_cron and an operator may call this at once: one run at a time.
    PERFORM pg_advisory_xact_lock(hashtext('nps.run_due'));

    -- One verdict per due session, in the order of the rules; 'wait' leaves
    -- the session untouched (night in its region) and is not written.
    WITH due AS (
        SELECT s.id, s.msisdn, s.survey_id, s.state, s.state_reason, s.due_at, v.occurred_at,
               v.id AS visit_id, ro.country_code AS abroad_in,
               (p_at AT TIME ZONE r.time_zone)::time >= r.send_from
                   AND (p_at AT TIME ZONE r.time_zone)::time < r.send_until AS daytime,
               EXISTS (SELECT FROM nps.opt_out o WHERE o.msisdn = s.msisdn) AS opted_out,
               (SELECT min(o.id) FROM nps.session o
                WHERE o.msisdn = s.msisdn AND o.started_at > p_at - fatigue AND o.started_at <= p_at) AS recent
        FROM nps.session s
        JOIN nps.visit v ON v.id = s.visit_id
        JOIN nps.salon sa ON sa.code = v.salon_code
        JOIN nps.region r ON r.code = sa.region_code
        LEFT JOIN LATERAL (SELECT rm.country_code FROM nps.roaming rm
                           WHERE rm.msisdn = s.msisdn AND rm.started_at <= p_at
                             AND (rm.ended_at IS NULL OR rm.ended_at > p_at)
                           ORDER BY rm.started_at DESC LIMIT 1) ro ON true
        WHERE s.state IN ('scheduled', 'deferred') AND s.due_at <= p_at
        FOR UPDATE OF s
    ), ruled AS (
        SELECT d.*,
               CASE WHEN d.opted_out THEN 'cancelled:opted out'
                    WHEN d.state = 'scheduled' AND d.due_at < p_at - catch_up
                        THEN 'cancelled:overdue: due ' || to_char(d.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
                    WHEN d.abroad_in IS NOT NULL AND d.due_at < p_at - give_up
                        THEN 'cancelled:abroad too long: ' || d.abroad_in
                    WHEN d.abroad_in IS NOT NULL THEN 'deferred:abroad: ' || d.abroad_in
                    WHEN NOT d.daytime THEN 'wait'
                    WHEN d.recent IS NOT NULL AND fatigue > '0'
                        THEN 'cancelled:surveyed recently: session ' || d.recent
                    ELSE 'start' END AS verdict
        FROM due d
    ), contenders AS (
        -- Of several sessions of one subscriber starting now, the newest
        -- visit's goes (unless the fatigue rule is off); the pool then gives
        -- each starter, oldest visit first, a distinct free code, least
        -- recently used first.
        SELECT c.*, row_number() OVER (PARTITION BY c.msisdn ORDER BY c.occurred_at, c.visit_id) AS rn,
               first_value(c.visit_id) OVER (PARTITION BY c.msisdn ORDER BY c.occurred_at DESC, c.visit_id DESC) AS newest
        FROM ruled c WHERE c.verdict = 'start'
    ), free_code AS (
        SELECT m.msisdn, sc.code,
               row_number() OVER (PARTITION BY m.msisdn ORDER BY u.last_used NULLS FIRST, sc.code) AS rn
        FROM (SELECT DISTINCT msisdn FROM contenders) m
        CROSS JOIN nps.short_code sc
        LEFT JOIN LATERAL (SELECT bool_or(o.state = 'active') AS busy, max(o.started_at) AS last_used
                           FROM nps.session o
                           WHERE o.msisdn = m.msisdn AND o.short_code = sc.code) u ON true
        WHERE u.busy IS NOT TRUE
    ), first_question AS (
        SELECT DISTINCT ON (q.survey_id) q.survey_id, q.question_no, q.body
        FROM nps.question q
        WHERE q.survey_id IN (SELECT survey_id FROM contenders)
        ORDER BY q.survey_id, q.question_no
    ), decided AS (
        SELECT r.id, r.verdict, NULL::text AS code, NULL::smallint AS question_no, NULL::text AS body
        FROM ruled r WHERE r.verdict NOT IN ('start', 'wait')
        UNION ALL
        SELECT c.id,
               CASE WHEN fatigue > '0' AND c.visit_id <> c.newest THEN 'cancelled:superseded: visit ' || c.newest
                    WHEN fq.survey_id IS NULL THEN 'cancelled:survey has no questions'
                    WHEN f.code IS NULL THEN 'deferred:all short codes busy'
                    ELSE 'active:' END,
               f.code, fq.question_no, fq.body
        FROM contenders c
        LEFT JOIN first_question fq ON fq.survey_id = c.survey_id
        LEFT JOIN free_code f ON f.msisdn = c.msisdn
             AND f.rn = (CASE WHEN fatigue > '0' THEN 1 ELSE c.rn END)
             AND (fatigue = '0' OR c.visit_id = c.newest)
    ), updated AS (
        UPDATE nps.session s
        SET state = split_part(d.verdict, ':', 1),
            state_reason = nullif(substr(d.verdict, strpos(d.verdict, ':') + 1), ''),
            short_code = coalesce(d.code, s.short_code),
            question_no = coalesce(d.question_no, s.question_no),
            asked_at = CASE WHEN d.code IS NOT NULL THEN p_at ELSE s.asked_at END,
            started_at = CASE WHEN d.code IS NOT NULL THEN p_at ELSE s.started_at END,
            finished_at = CASE WHEN d.verdict LIKE 'cancelled:%' THEN p_at ELSE s.finished_at END,
            reasked = false,
            updated_at = now()
        FROM decided d
        WHERE s.id = d.id
          -- a session still deferred for the same reason is not rewritten every minute
          AND (s.state, coalesce(s.state_reason, '')) IS DISTINCT FROM
              (split_part(d.verdict, ':', 1), substr(d.verdict, strpos(d.verdict, ':') + 1))
        RETURNING s.id, s.msisdn, s.short_code, s.state, d.question_no, d.body
    )
    INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no)
    SELECT u.id, u.msisdn, u.short_code, u.body, 'question', u.question_no
    FROM updated u WHERE u.state = 'active';
    GET DIAGNOSTICS started = ROW_COUNT;
    RETURN started;
END $$;
COMMENT ON FUNCTION nps.run_due(timestamptz) IS
    'Starts every session due at the given time (queues its first question from a free short code); applies opt-out, catch-up limit, roaming, night, fatigue and pool rules; returns the number started';

------------------------------------------------------------------------------
-- Replies: nps.receive and the dialogue trigger on nps.inbox
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION nps.receive(msisdn text, short_code text, body text, received_at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO nps.inbox (msisdn, short_code, body, received_at)
    VALUES (msisdn, short_code, coalesce(body, ''), received_at)
    RETURNING id
$$;
COMMENT ON FUNCTION nps.receive(text, text, text, timestamptz) IS
    'Records a reply exactly as the worker does for a deliver_sm (an nps.inbox row, processed by its trigger); returns the inbox id';

-- The sender as the SMSC gave it, in the 7XXXXXXXXXX form when it is a
-- Russian number, unchanged otherwise (it then matches no session).
CREATE FUNCTION nps.reply_msisdn(raw text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN raw ~ '^7[0-9]{10}$' THEN raw
        WHEN regexp_replace(raw, '[^0-9]', '', 'g') ~ '^[78][0-9]{10}$'
            THEN '7' || substr(regexp_replace(raw, '[^0-9]', '', 'g'), 2)
        ELSE raw END
$$;
COMMENT ON FUNCTION nps.reply_msisdn(text) IS
    'Sender of a reply as 7XXXXXXXXXX when it is a Russian number (+7/8 prefixes, separators), unchanged otherwise; never raises';

-- STOP: the subscriber leaves for good; the session in progress ends as
-- opted_out, every other pending or active one is cancelled, and a
-- confirmation goes back from the short code the STOP came to.
CREATE FUNCTION nps.opt_out_by_sms(p_msisdn text, p_code text, p_inbox bigint,
                                   p_session bigint, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    newly boolean;
BEGIN
    IF p_msisdn !~ '^7[0-9]{10}$' THEN
        RETURN;   -- not a subscriber number: nothing to opt out, the reply stays recorded
    END IF;
    INSERT INTO nps.opt_out (msisdn, opted_at, source, inbox_id)
    VALUES (p_msisdn, p_at, 'sms', p_inbox)
    ON CONFLICT (msisdn) DO NOTHING;
    newly := FOUND;
    UPDATE nps.session
    SET state = CASE WHEN id = p_session THEN 'opted_out' ELSE 'cancelled' END,
        state_reason = CASE WHEN id = p_session THEN 'stop reply' ELSE 'opted out' END,
        finished_at = p_at, updated_at = now()
    WHERE msisdn = p_msisdn AND state IN ('scheduled', 'deferred', 'active');
    -- One confirmation per opt-out: a subscriber or an auto-responder that
    -- keeps answering STOP must not start an SMS ping-pong at our expense.
    IF newly THEN
        INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind)
        VALUES (p_session, p_msisdn, p_code, nps.setting_value('opt_out_confirmation'), 'opt_out_confirmation');
    END IF;
END $$;
COMMENT ON FUNCTION nps.opt_out_by_sms(text, text, bigint, bigint, timestamptz) IS
    'Opts a subscriber out after a STOP reply: nps.opt_out row, sessions ended, one confirmation SMS queued (none for a subscriber already opted out)';

-- One reply, one pass: match the session by sender and short code, parse
-- for its current question, store the answer and queue what comes next, then
-- record on the inbox row what became of the reply.  Four statements for an
-- ordinary answer (find the session, read the survey's next questions,
-- answer-and-advance, mark the reply): this runs for every SMS that comes in.
CREATE FUNCTION nps.dialogue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    m text := nps.reply_msisdn(NEW.msisdn);
    s record;
    nxt record;
    p nps.parsed_reply;
    given smallint;
    cond smallint;
    nq smallint;
    nbody text;
    sid bigint;
    st text;
    why text;
BEGIN
    SELECT se.id, se.survey_id, se.question_no, se.reasked,
           q.kind, q.min_score, q.max_score, coalesce(q.hint, q.body) AS hint
      INTO s
    FROM nps.session se
    JOIN nps.question q ON q.survey_id = se.survey_id AND q.question_no = se.question_no
    WHERE se.msisdn = m AND se.short_code = NEW.short_code AND se.state = 'active';

    IF NOT FOUND THEN
        IF nps.is_stop(NEW.body) THEN
            PERFORM nps.opt_out_by_sms(m, NEW.short_code, NEW.id, NULL, NEW.received_at);
            st := 'opt_out'; why := 'no active session';
        ELSE
            SELECT se.id, 'session ' || se.id || ' already ' || se.state INTO sid, why
            FROM nps.session se
            WHERE se.msisdn = m AND se.short_code = NEW.short_code
              AND se.state IN ('completed', 'expired', 'opted_out', 'cancelled')
            ORDER BY se.finished_at DESC NULLS LAST, se.id DESC LIMIT 1;
            IF FOUND THEN
                st := 'late';
            ELSE
                st := 'unmatched'; why := 'no session for this sender and short code';
            END IF;
        END IF;
    ELSE
        sid := s.id;
        p := nps.parse_reply(NEW.body, s.kind, coalesce(s.min_score, 0), coalesce(s.max_score, 10));
        IF p.status = 'stop' THEN
            -- "8, и больше не пишите": the score given with the STOP counts.
            IF p.score IS NOT NULL THEN
                INSERT INTO nps.answer (session_id, question_no, score, body, inbox_id, answered_at)
                VALUES (s.id, s.question_no, p.score, NEW.body, NEW.id, NEW.received_at);
            END IF;
            PERFORM nps.opt_out_by_sms(m, NEW.short_code, NEW.id, s.id, NEW.received_at);
            st := 'opt_out';
        ELSIF p.status = 'ok' OR s.reasked THEN
            -- An answer, or the second failure for this question: a failed
            -- reply is kept as the answer's text (score NULL) and the dialogue
            -- moves on rather than trapping the customer.
            given := CASE WHEN p.status = 'ok' THEN p.score END;
            -- The next question the branching allows.  The survey's own
            -- (tiny) question list is walked here; an earlier answer is read
            -- only for a conditional question, so the common path never
            -- touches nps.answer, whose plan a young table could spoil.
            nq := NULL;
            FOR nxt IN SELECT qq.question_no, qq.body, qq.ask_if_question, qq.ask_if_min, qq.ask_if_max
                     FROM nps.question qq
                     WHERE qq.survey_id = s.survey_id AND qq.question_no > s.question_no
                     ORDER BY qq.question_no LOOP
                IF nxt.ask_if_question IS NULL THEN
                    nq := nxt.question_no; nbody := nxt.body;
                    EXIT;
                END IF;
                cond := CASE WHEN nxt.ask_if_question = s.question_no THEN given
                             ELSE (SELECT a.score FROM nps.answer a
                                   WHERE a.session_id = s.id AND a.question_no = nxt.ask_if_question) END;
                IF cond >= coalesce(nxt.ask_if_min, cond) AND cond <= coalesce(nxt.ask_if_max, cond) THEN
                    nq := nxt.question_no; nbody := nxt.body;
                    EXIT;
                END IF;
            END LOOP;
            IF nq IS NULL THEN
                SELECT sv.thanks INTO nbody FROM nps.survey sv WHERE sv.id = s.survey_id;
            END IF;
            -- One statement stores the answer, moves the session on (or
            -- completes it) and queues the question or the thank-you.
            WITH answer AS (
                INSERT INTO nps.answer (session_id, question_no, score, body, inbox_id, answered_at)
                VALUES (s.id, s.question_no, given, NEW.body, NEW.id, NEW.received_at)
            ), moved AS (
                UPDATE nps.session
                SET question_no = coalesce(nq, question_no),
                    state = CASE WHEN nq IS NULL THEN 'completed' ELSE state END,
                    finished_at = CASE WHEN nq IS NULL THEN NEW.received_at END,
                    asked_at = NEW.received_at, reasked = false, updated_at = now()
                WHERE id = s.id
                RETURNING id
            )
            INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no)
            SELECT mv.id, m, NEW.short_code, nbody, CASE WHEN nq IS NULL THEN 'thanks' ELSE 'question' END, nq
            FROM moved mv;
            IF p.status = 'ok' THEN
                st := 'answered';
            ELSE
                st := 'unparsed'; why := p.status || coalesce(': ' || p.reason, '') || ' (after a re-ask)';
            END IF;
        ELSE
            WITH reasked AS (
                UPDATE nps.session SET reasked = true, asked_at = NEW.received_at, updated_at = now()
                WHERE id = s.id
                RETURNING id
            )
            INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind, question_no)
            SELECT r.id, m, NEW.short_code, s.hint, 'reask', s.question_no FROM reasked r;
            st := 'reasked'; why := p.status || coalesce(': ' || p.reason, '');
        END IF;
    END IF;

    UPDATE nps.inbox SET msisdn = m, session_id = sid, status = st, reason = why WHERE id = NEW.id;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.dialogue() IS
    'Trigger: takes a reply through the dialogue (match, parse, answer, next question / re-ask / thanks / opt-out) and records its fate on the inbox row';

CREATE TRIGGER inbox_dialogue AFTER INSERT ON nps.inbox
    FOR EACH ROW WHEN (NEW.status = 'received')
    EXECUTE FUNCTION nps.dialogue();

------------------------------------------------------------------------------
-- Expiry
------------------------------------------------------------------------------

CREATE FUNCTION nps.expire(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    p_at ALIAS FOR $1;
    n integer;
BEGIN
    UPDATE nps.session
    SET state = 'expired', state_reason = 'no answer: question ' || question_no,
        finished_at = p_at, updated_at = now()
    WHERE state = 'active' AND asked_at <= p_at - nps.setting_value('expire_after')::interval;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.expire(timestamptz) IS
    'Expires active sessions whose current question has had no reply for expire_after (answers so far are kept); returns how many';

------------------------------------------------------------------------------
-- Periodic jobs under pg_cron
------------------------------------------------------------------------------

CREATE TABLE nps.job (
    name        text PRIMARY KEY CHECK (name ~ '^nps-[a-z0-9-]+$'),
    schedule    text NOT NULL,
    command     text NOT NULL,
    description text NOT NULL
);
COMMENT ON TABLE nps.job IS 'Periodic jobs nps.schedule_jobs() registers with pg_cron (one cron job per row, by name)';
COMMENT ON COLUMN nps.job.name IS 'pg_cron job name (nps-...)';
COMMENT ON COLUMN nps.job.schedule IS 'Cron schedule, e.g. ''* * * * *''';
COMMENT ON COLUMN nps.job.command IS 'SQL run in the nps database';
COMMENT ON COLUMN nps.job.description IS 'What the job does';

INSERT INTO nps.job (name, schedule, command, description) VALUES
    ('nps-run-due', '* * * * *', 'SELECT nps.run_due()', 'Starts due survey sessions'),
    ('nps-expire', '*/5 * * * *', 'SELECT nps.expire()', 'Expires sessions left without an answer');

CREATE FUNCTION nps.schedule_jobs() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    cron_db text := current_setting('cron.database_name', true);
    link_schema name;
    conn text;
    j record;
    n integer := 0;
BEGIN
    IF cron_db IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not loaded'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Set shared_preload_libraries = ''pg_cron,nps'' and cron.database_name, then restart.';
    END IF;

    IF cron_db = current_database() THEN
        IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
            CREATE EXTENSION pg_cron;
        END IF;
        FOR j IN SELECT * FROM nps.job ORDER BY name LOOP
            -- pg_cron upserts by (job name, user): a second call changes nothing.
            PERFORM cron.schedule_in_database(j.name, j.schedule, j.command, current_database());
            n := n + 1;
        END LOOP;
        RETURN n;
    END IF;

    -- pg_cron lives in another database: register the jobs there through
    -- dblink, over the server's own socket, as the current (super)user.
    SELECT e.extnamespace::regnamespace::name INTO link_schema FROM pg_extension e WHERE e.extname = 'dblink';
    IF link_schema IS NULL THEN
        CREATE EXTENSION dblink SCHEMA public;
        link_schema := 'public';
    END IF;
    conn := format('dbname=%s port=%s user=%s', quote_literal(cron_db), current_setting('port'), quote_literal(current_user));
    IF split_part(current_setting('unix_socket_directories'), ',', 1) <> '' THEN
        conn := conn || format(' host=%s', quote_literal(btrim(split_part(current_setting('unix_socket_directories'), ',', 1))));
    END IF;
    EXECUTE format('SELECT %I.dblink_exec($1, $2)', link_schema)
        USING conn, 'CREATE EXTENSION IF NOT EXISTS pg_cron';
    FOR j IN SELECT * FROM nps.job ORDER BY name LOOP
        EXECUTE format('SELECT jobid FROM %I.dblink($1, $2) AS t(jobid bigint)', link_schema)
            USING conn, format('SELECT cron.schedule_in_database(%L, %L, %L, %L)',
                               j.name, j.schedule, j.command, current_database());
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.schedule_jobs() IS
    'Registers every nps.job with pg_cron, idempotently (by job name), also when pg_cron lives in another database (through dblink); returns the number of jobs';

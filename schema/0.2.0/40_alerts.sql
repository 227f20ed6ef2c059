-- Closed loop: alarming feedback becomes an alert in the same transaction as
-- the answer that causes it, reaches the responsible manager at once (NOTIFY
-- nps_alert at commit) and climbs the hierarchy until someone acknowledges it.
--
-- Everything that decides is data: nps.alert_rule (which answers alarm),
-- nps.alert_lexicon (which words alarm, and how much), nps.alert_severity
-- (score bands), nps.alert_route (time allowed per level and severity),
-- nps.alert_root_cause (what resolutions are filed under).  The code only
-- applies it.  Visibility: staff logins (members of nps_staff) see their own
-- scope through row level security on nps.alert and the nps.feedback view.

------------------------------------------------------------------------------
-- The group role of staff logins
------------------------------------------------------------------------------

-- Roles are cluster-wide and outlive the extension; the policies below name
-- this one, so it must exist before them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nps_staff') THEN
        CREATE ROLE nps_staff NOLOGIN;
    END IF;
END $$;

------------------------------------------------------------------------------
-- Rules, lexicon, severities, routing, root causes
------------------------------------------------------------------------------

CREATE TABLE nps.alert_severity (
    severity       smallint PRIMARY KEY CHECK (severity BETWEEN 1 AND 9),
    name           text NOT NULL UNIQUE,
    min_text_score integer NOT NULL UNIQUE CHECK (min_text_score >= 1)
);
INSERT INTO nps.alert_severity VALUES (1, 'low', 1), (2, 'medium', 3), (3, 'high', 5), (4, 'critical', 8);
COMMENT ON TABLE nps.alert_severity IS 'Alert severities; a comment''s lexicon score (sum of the weights it matches) maps to the highest severity whose min_text_score it reaches';
COMMENT ON COLUMN nps.alert_severity.severity IS 'Severity, 1 = lowest';
COMMENT ON COLUMN nps.alert_severity.name IS 'Name: low, medium, high, critical';
COMMENT ON COLUMN nps.alert_severity.min_text_score IS 'Lexicon score from which a comment has this severity';

CREATE TABLE nps.alert_rule (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survey_id   integer REFERENCES nps.survey ON DELETE CASCADE,
    question_no smallint NOT NULL,
    min_score   smallint,
    max_score   smallint,
    scan_text   boolean NOT NULL DEFAULT false,
    severity    smallint REFERENCES nps.alert_severity ON UPDATE CASCADE,
    reason      text NOT NULL CHECK (reason <> ''),
    active      boolean NOT NULL DEFAULT true,
    CONSTRAINT alert_rule_kind_check CHECK (CASE WHEN scan_text
        THEN min_score IS NULL AND max_score IS NULL AND severity IS NULL
        ELSE min_score IS NOT NULL AND max_score IS NOT NULL AND min_score <= max_score AND severity IS NOT NULL END)
);
CREATE UNIQUE INDEX alert_rule_unique ON nps.alert_rule (coalesce(survey_id, 0), question_no, scan_text, coalesce(min_score, -1));
-- Every survey uses the same numbering (1 recommend 0-10, 2 why, 3 specialist
-- 1-5, 4 tariff explained, 5 paid services without consent, 6 solved), so the
-- default rules hold for every survey.
INSERT INTO nps.alert_rule (survey_id, question_no, min_score, max_score, scan_text, severity, reason) VALUES
    (NULL, 1, 0, 6, false, 2, 'detractor'),
    (NULL, 2, NULL, NULL, true, NULL, 'alarming comment'),
    (NULL, 5, 1, 1, false, 3, 'paid services added without consent'),
    (NULL, 6, 0, 0, false, 2, 'question not solved');
COMMENT ON TABLE nps.alert_rule IS 'Which answers raise an alert: a score range (yes = 1, no = 0) with its severity, or a free-text question whose comment is scanned against nps.alert_lexicon';
COMMENT ON COLUMN nps.alert_rule.id IS 'Rule id (key)';
COMMENT ON COLUMN nps.alert_rule.survey_id IS 'Survey the rule applies to; NULL = every survey';
COMMENT ON COLUMN nps.alert_rule.question_no IS 'Question the rule looks at';
COMMENT ON COLUMN nps.alert_rule.min_score IS 'Score range rule: lowest alarming score';
COMMENT ON COLUMN nps.alert_rule.max_score IS 'Score range rule: highest alarming score';
COMMENT ON COLUMN nps.alert_rule.scan_text IS 'Text rule: the answer''s text is scanned against the lexicon (severity from the lexicon score)';
COMMENT ON COLUMN nps.alert_rule.severity IS 'Severity of a score range rule';
COMMENT ON COLUMN nps.alert_rule.reason IS 'Reason recorded on the alert';
COMMENT ON COLUMN nps.alert_rule.active IS 'False switches the rule off';

-- Free text, made ready for the Russian stemmer: lower case (spelled out, so
-- that a database in the C locale behaves like any other), ё as е, and every
-- negation glued to the word it negates.  "не обманули" becomes "необманули",
-- which no longer stems to "обманул"; a run of negators ("никто не хамил")
-- glues as one; a negation after the noun ("обмана не было", "хамства нет")
-- is moved in front of it.  Lexicon terms pass through the same function, so
-- a term may itself be negative ("не вернули").
CREATE FUNCTION nps.alert_normalize(body text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT regexp_replace(
             regexp_replace(
               translate(lower(body),
                         'АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё',
                         'абвгдеежзийклмнопрстуфхцчшщъыьэюяе'),
               '([а-яa-z0-9]+)\s+(не\s+было|не\s+заметил[а-я]*|не\s+замечено|нет)(?![а-яa-z0-9])',
               'не\1', 'g'),
             '(?<![а-яa-z0-9])((не|ни|нет|без|никто|ничего|никогда|никак|никакого|никакой|никаких|никакие|никакое|никакую|никому|ничем|нисколько)\s+)+',
             'не', 'g')
$$;
COMMENT ON FUNCTION nps.alert_normalize(text) IS
    'Text ready for Russian full-text search: lower case, ё as е, negations glued to the word they negate ("не обманули" -> "необманули")';

CREATE FUNCTION nps.alert_query(term text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT to_tsquery('russian'::regconfig, nps.alert_normalize(term))
$$;
COMMENT ON FUNCTION nps.alert_query(text) IS
    'Compiles a lexicon term (to_tsquery syntax, negations allowed) into the tsquery matched against comments';

CREATE TABLE nps.alert_lexicon (
    id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    term     text NOT NULL UNIQUE,
    query    tsquery NOT NULL GENERATED ALWAYS AS (nps.alert_query(term)) STORED,
    weight   smallint NOT NULL CHECK (weight BETWEEN 1 AND 10),
    category text NOT NULL CHECK (category <> ''),
    active   boolean NOT NULL DEFAULT true,
    CONSTRAINT alert_lexicon_query_check CHECK (numnode(query) > 0)
);
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES
    ('мошенник:* | мошенничество:* | мошенничают', 8, 'fraud'),
    ('развели:* | развод:* | кинули:* | обокрали:* | украли:*', 5, 'fraud'),
    ('обман:* | обманули:* | обманывают:* | надули:*', 5, 'deception'),
    ('врут | соврали:* | наврали:* | лгут | вранье:*', 4, 'deception'),
    ('ввели & заблуждение:*', 4, 'deception'),
    ('хам:* | нахамили:* | хамили:*', 5, 'rudeness'),
    ('грубо:* | нагрубили:* | грубили:* | грубая:* | грубый:*', 4, 'rudeness'),
    ('наорали:* | орали:* | кричали:* | накричали:*', 4, 'rudeness'),
    ('оскорбили:* | оскорбление:* | унизили:*', 5, 'rudeness'),
    ('навязали:* | навязывают:* | навязчиво:*', 4, 'services imposed'),
    ('(подключили:* | подключена:* | подключен) & (без согласия:* | без моего | без спроса | без ведома)', 4, 'services imposed'),
    ('подключили:* & платные:* & (подписки:* | услуги:*)', 3, 'services imposed'),
    ('лишние:* & услуги:*', 3, 'services imposed'),
    ('не вернули:* & (деньги:* | денег | средства:*)', 5, 'money not returned'),
    ('верните & (деньги:* | денег)', 5, 'money not returned'),
    ('(списали:* | списывают:* | списание:*) & (деньги:* | денег | средства:*)', 4, 'money not returned'),
    ('прокуратура:* | роспотребнадзор:*', 4, 'complaint'),
    ('суд & (подам:* | обращусь)', 4, 'complaint'),
    ('жалоба:* | пожалуюсь', 3, 'complaint'),
    ('(перейду | уйду) & (оператору | оператора | конкурентам:*)', 3, 'churn'),
    ('ужасно:* | отвратительно:* | кошмар:* | безобразие:*', 2, 'poor service'),
    ('некомпетентные:* | некомпетентность:*', 2, 'poor service'),
    ('очередь:* & (час:* | долго)', 1, 'waiting');
COMMENT ON TABLE nps.alert_lexicon IS 'Editable weighted lexicon of alarming comments; a comment''s score is the sum of the weights of the terms it matches';
COMMENT ON COLUMN nps.alert_lexicon.id IS 'Term id (key)';
COMMENT ON COLUMN nps.alert_lexicon.term IS 'Term in to_tsquery syntax with Russian word forms (stemmed), :* for a prefix, & | ! ( ); a leading "не" makes a negative term such as "не вернули"';
COMMENT ON COLUMN nps.alert_lexicon.query IS 'The compiled query (generated from term)';
COMMENT ON COLUMN nps.alert_lexicon.weight IS 'Weight added to a comment''s score when the term matches';
COMMENT ON COLUMN nps.alert_lexicon.category IS 'What the term reveals: fraud, deception, rudeness, services imposed, money not returned, ...';
COMMENT ON COLUMN nps.alert_lexicon.active IS 'False switches the term off';

CREATE FUNCTION nps.alert_scan(body text)
RETURNS TABLE (score integer, severity smallint, categories text[], terms text[])
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    -- MATERIALIZED: the comment is parsed once, not once per lexicon term.
    WITH t AS MATERIALIZED (SELECT to_tsvector('russian'::regconfig, nps.alert_normalize(body)) AS v)
    SELECT m.score,
           (SELECT max(s.severity) FROM nps.alert_severity s WHERE s.min_text_score <= m.score),
           m.categories, m.terms
    FROM (SELECT sum(l.weight)::integer AS score,
                 array_agg(DISTINCT l.category) AS categories,
                 array_agg(l.term ORDER BY l.id) AS terms
          FROM t JOIN nps.alert_lexicon l ON l.active AND t.v @@ l.query) m
$$;
COMMENT ON FUNCTION nps.alert_scan(text) IS
    'Scans a comment against nps.alert_lexicon: its score (sum of matched weights), severity (NULL = not alarming), categories and matched terms';

CREATE TABLE nps.alert_route (
    severity smallint NOT NULL REFERENCES nps.alert_severity ON UPDATE CASCADE ON DELETE CASCADE,
    level    smallint NOT NULL REFERENCES nps.staff_role (level) CHECK (level >= 2),
    allowed  interval CHECK (allowed > '0'),
    PRIMARY KEY (severity, level)
);
INSERT INTO nps.alert_route (severity, level, allowed)
SELECT s, l, CASE WHEN l = 6 THEN NULL ELSE (ARRAY[
        -- salon     dealer     region     VP CX
        ARRAY['48 hours', '48 hours', '72 hours', '120 hours'],   -- low
        ARRAY['24 hours', '24 hours', '48 hours', '72 hours'],    -- medium
        ARRAY['4 hours',  '8 hours',  '24 hours', '48 hours'],    -- high
        ARRAY['1 hour',   '2 hours',  '4 hours',  '8 hours']])    -- critical
        [s][l - 1]::interval END
FROM generate_series(1, 4) s, generate_series(2, 6) l;
COMMENT ON TABLE nps.alert_route IS 'Escalation ladder: the levels an alert of a severity passes (salon manager 2, dealer 3, region 4, VP CX 5, CEO 6) and the time allowed at each; a missing row skips the level';
COMMENT ON COLUMN nps.alert_route.severity IS 'Alert severity';
COMMENT ON COLUMN nps.alert_route.level IS 'Hierarchy level (nps.staff_role.level) that handles the alert';
COMMENT ON COLUMN nps.alert_route.allowed IS 'Time to acknowledge before the alert climbs to the next level; NULL = no deadline (end of the line)';

CREATE TABLE nps.alert_root_cause (
    code  text PRIMARY KEY CHECK (code ~ '^[a-z_]{1,40}$'),
    title text NOT NULL
);
INSERT INTO nps.alert_root_cause VALUES
    ('staff_behaviour', 'Поведение сотрудника'),
    ('imposed_services', 'Навязанные или подключённые без согласия услуги'),
    ('tariff_misinformation', 'Неверная информация о тарифе'),
    ('billing', 'Списания и возвраты'),
    ('network', 'Качество связи'),
    ('device', 'Оборудование, SIM-карта'),
    ('waiting', 'Ожидание, очередь'),
    ('process', 'Процесс или регламент'),
    ('fraud', 'Мошенничество'),
    ('no_fault', 'Претензия не подтвердилась'),
    ('other', 'Другое');
COMMENT ON TABLE nps.alert_root_cause IS 'Root causes an alert is filed under when resolved; editable';
COMMENT ON COLUMN nps.alert_root_cause.code IS 'Root cause code (key)';
COMMENT ON COLUMN nps.alert_root_cause.title IS 'Title shown to people';

------------------------------------------------------------------------------
-- Alerts and their history
------------------------------------------------------------------------------

CREATE TABLE nps.alert (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      bigint UNIQUE REFERENCES nps.session ON DELETE SET NULL,
    salon_code      text NOT NULL REFERENCES nps.salon ON UPDATE CASCADE,
    -- dealer_code, region_code and level are plain values: the first two
    -- record where the salon belonged when the alert was raised, and every
    -- foreign key check is paid by each alarming answer.
    dealer_code     text,
    region_code     text NOT NULL,
    specialist      text,
    severity        smallint NOT NULL REFERENCES nps.alert_severity ON UPDATE CASCADE,
    level           smallint NOT NULL CHECK (level BETWEEN 2 AND 6),
    assignee        text,
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
    reasons         text[] NOT NULL DEFAULT '{}',
    raised_at       timestamptz NOT NULL DEFAULT now(),
    due_at          timestamptz,
    escalations     integer NOT NULL DEFAULT 0,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    resolution      text,
    root_cause      text REFERENCES nps.alert_root_cause ON UPDATE CASCADE,
    reopened        integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'resolved' OR resolved_at IS NOT NULL)
);
CREATE INDEX alert_overdue ON nps.alert (due_at) WHERE state = 'open';
CREATE INDEX ON nps.alert (salon_code, raised_at);
CREATE INDEX ON nps.alert (specialist) WHERE specialist IS NOT NULL;
COMMENT ON TABLE nps.alert IS 'Alarming feedback to handle one by one: one alert per survey session, raised by the answers that alarm, climbing the hierarchy until acknowledged';
COMMENT ON COLUMN nps.alert.id IS 'Alert id (key)';
COMMENT ON COLUMN nps.alert.session_id IS 'Survey session the feedback came from (NULL once the raw data is deleted by retention)';
COMMENT ON COLUMN nps.alert.salon_code IS 'Salon the feedback is about';
COMMENT ON COLUMN nps.alert.dealer_code IS 'Dealer of the salon when the alert was raised (kept as it was); NULL for own offices';
COMMENT ON COLUMN nps.alert.region_code IS 'Region of the salon when the alert was raised (kept as it was)';
COMMENT ON COLUMN nps.alert.specialist IS 'Login of the specialist who served the customer, when known';
COMMENT ON COLUMN nps.alert.severity IS 'Severity (nps.alert_severity), only ever raised by later answers';
COMMENT ON COLUMN nps.alert.level IS 'Hierarchy level handling the alert now (nps.staff_role.level: 2 salon manager ... 6 CEO)';
COMMENT ON COLUMN nps.alert.assignee IS 'Login of the person at that level when the alert reached it (nps.hierarchy)';
COMMENT ON COLUMN nps.alert.state IS 'open (escalates when overdue), acknowledged (escalation stopped), resolved';
COMMENT ON COLUMN nps.alert.reasons IS 'Why it alarms, one entry per rule hit, in the order they arrived';
COMMENT ON COLUMN nps.alert.raised_at IS 'When the first alarming answer was received';
COMMENT ON COLUMN nps.alert.due_at IS 'When an open alert climbs to the next level; NULL = no deadline';
COMMENT ON COLUMN nps.alert.escalations IS 'How many times it climbed';
COMMENT ON COLUMN nps.alert.acknowledged_at IS 'First acknowledgement';
COMMENT ON COLUMN nps.alert.acknowledged_by IS 'Who acknowledged first';
COMMENT ON COLUMN nps.alert.resolved_at IS 'Latest resolution';
COMMENT ON COLUMN nps.alert.resolved_by IS 'Who resolved it';
COMMENT ON COLUMN nps.alert.resolution IS 'What was done';
COMMENT ON COLUMN nps.alert.root_cause IS 'Root cause filed at resolution (nps.alert_root_cause)';
COMMENT ON COLUMN nps.alert.reopened IS 'How many times it was reopened';
COMMENT ON COLUMN nps.alert.updated_at IS 'Last change';

CREATE TABLE nps.alert_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES nps.alert ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    event       text NOT NULL CHECK (event IN
                ('raised', 'updated', 'escalated', 'acknowledged', 'resolved', 'reopened', 'stuck')),
    actor       text NOT NULL,
    from_level  smallint,
    to_level    smallint,
    severity    smallint NOT NULL,
    note        text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON nps.alert_event (alert_id, id);
COMMENT ON TABLE nps.alert_event IS 'Full history of every alert: who did what when, and why it climbed';
COMMENT ON COLUMN nps.alert_event.id IS 'Event id (key), in order of recording';
COMMENT ON COLUMN nps.alert_event.alert_id IS 'Alert';
COMMENT ON COLUMN nps.alert_event.at IS 'When it happened (the answer''s time, the escalation run''s time, or the time the actor gave)';
COMMENT ON COLUMN nps.alert_event.event IS 'raised, updated (severity or reasons grew), escalated, acknowledged, resolved, reopened, stuck (overdue with no higher level)';
COMMENT ON COLUMN nps.alert_event.actor IS 'Login or system component that acted';
COMMENT ON COLUMN nps.alert_event.from_level IS 'Level before an escalation';
COMMENT ON COLUMN nps.alert_event.to_level IS 'Level after the event';
COMMENT ON COLUMN nps.alert_event.severity IS 'Severity after the event';
COMMENT ON COLUMN nps.alert_event.note IS 'Why: the reasons, the missed deadline, the actor''s note or resolution';
COMMENT ON COLUMN nps.alert_event.recorded_at IS 'Transaction time the event was written (at may be given by the caller)';

------------------------------------------------------------------------------
-- Routing
------------------------------------------------------------------------------

-- nps.hierarchy() of 0.1.0 matched every staff member against a CASE on the
-- role's scope, which no index serves (about a millisecond per salon); alerts
-- route one salon per alarming answer, so the same rule is restated as one
-- index lookup per scope, and hierarchy() reads it.
CREATE INDEX staff_role_active ON nps.staff (role) WHERE active;

CREATE VIEW nps.salon_hierarchy AS
SELECT sa.code AS salon_code, r.level, r.role, s.id AS staff_id, s.login, s.full_name
FROM nps.salon sa
JOIN nps.staff s ON s.salon_code = sa.code AND s.active
JOIN nps.staff_role r ON r.role = s.role AND r.scope = 'salon' AND r.level >= 2
UNION ALL
SELECT sa.code, r.level, r.role, s.id, s.login, s.full_name
FROM nps.salon sa
JOIN nps.staff s ON s.dealer_code = sa.dealer_code AND s.active
JOIN nps.staff_role r ON r.role = s.role AND r.scope = 'dealer' AND r.level >= 2
UNION ALL
SELECT sa.code, r.level, r.role, s.id, s.login, s.full_name
FROM nps.salon sa
JOIN nps.staff s ON s.region_code = sa.region_code AND s.active
JOIN nps.staff_role r ON r.role = s.role AND r.scope = 'region' AND r.level >= 2
UNION ALL
SELECT sa.code, r.level, r.role, s.id, s.login, s.full_name
FROM nps.salon sa
CROSS JOIN nps.staff_role r
JOIN nps.staff s ON s.role = r.role AND s.active
WHERE r.scope = 'company' AND r.level >= 2;
COMMENT ON VIEW nps.salon_hierarchy IS 'Managers responsible for each salon at each level (salon manager, dealer, region, VP CX, CEO); an own office has no dealer level';
COMMENT ON COLUMN nps.salon_hierarchy.salon_code IS 'Salon';
COMMENT ON COLUMN nps.salon_hierarchy.level IS 'Hierarchy level (nps.staff_role.level)';
COMMENT ON COLUMN nps.salon_hierarchy.role IS 'Role at that level';
COMMENT ON COLUMN nps.salon_hierarchy.staff_id IS 'Staff member';
COMMENT ON COLUMN nps.salon_hierarchy.login IS 'Login of the staff member';
COMMENT ON COLUMN nps.salon_hierarchy.full_name IS 'Full name';

CREATE OR REPLACE FUNCTION nps.hierarchy(p_salon_code text)
RETURNS TABLE (level smallint, role text, staff_id bigint, login text, full_name text)
LANGUAGE sql STABLE AS $$
    SELECT h.level, h.role, h.staff_id, h.login, h.full_name
    FROM nps.salon_hierarchy h
    WHERE h.salon_code = p_salon_code
    ORDER BY h.level, h.staff_id
$$;

-- The first level above p_after that the ladder of p_severity has, preferring
-- levels where somebody works for the salon (an own office has no dealer, a
-- vacancy is skipped); with nobody anywhere the lowest remaining level.  A
-- loop, because the first level nearly always has somebody: one probe.
CREATE FUNCTION nps.alert_next_level(p_salon text, p_severity smallint, p_after smallint)
RETURNS TABLE (level smallint, assignee text, allowed interval)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    r record;
    who text;
    empty_level smallint;
    empty_allowed interval;
BEGIN
    FOR r IN SELECT ar.level, ar.allowed FROM nps.alert_route ar
             WHERE ar.severity = p_severity AND ar.level > p_after ORDER BY ar.level
    LOOP
        SELECT h.login INTO who FROM nps.hierarchy(p_salon) h WHERE h.level = r.level LIMIT 1;
        IF FOUND THEN
            RETURN QUERY SELECT r.level, who, r.allowed;
            RETURN;
        END IF;
        IF empty_level IS NULL THEN
            empty_level := r.level;
            empty_allowed := r.allowed;
        END IF;
    END LOOP;
    IF empty_level IS NOT NULL THEN
        RETURN QUERY SELECT empty_level, NULL::text, empty_allowed;
    END IF;
END $$;
COMMENT ON FUNCTION nps.alert_next_level(text, smallint, smallint) IS
    'Next level of the escalation ladder above the given one for a salon and severity, with its assignee and time allowed; levels with nobody in them are skipped';

-- Where a new alert of each severity starts in each salon, kept ready: an
-- alarming answer then costs one index lookup instead of walking the
-- hierarchy.  Any change to the tables routing reads refreshes it, in the
-- same transaction.
CREATE MATERIALIZED VIEW nps.alert_first_route AS
SELECT sa.code AS salon_code, sv.severity, f.level, f.assignee, f.allowed
FROM nps.salon sa
CROSS JOIN nps.alert_severity sv
CROSS JOIN LATERAL nps.alert_next_level(sa.code, sv.severity, 1::smallint) f;
CREATE UNIQUE INDEX alert_first_route_key ON nps.alert_first_route (salon_code, severity);
COMMENT ON MATERIALIZED VIEW nps.alert_first_route IS 'First level, assignee and time allowed of a new alert per salon and severity (nps.alert_next_level above level 1); refreshed whenever salons, staff, roles, severities or the ladder change';
COMMENT ON COLUMN nps.alert_first_route.salon_code IS 'Salon';
COMMENT ON COLUMN nps.alert_first_route.severity IS 'Alert severity';
COMMENT ON COLUMN nps.alert_first_route.level IS 'Level a new alert starts at';
COMMENT ON COLUMN nps.alert_first_route.assignee IS 'Login of the person there';
COMMENT ON COLUMN nps.alert_first_route.allowed IS 'Time allowed at that level';

-- SECURITY DEFINER: whoever edits staff need not own the view.
CREATE FUNCTION nps.refresh_alert_routes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    REFRESH MATERIALIZED VIEW nps.alert_first_route;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.refresh_alert_routes() IS 'Trigger: refreshes nps.alert_first_route after a change to what routing reads';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['salon', 'staff', 'staff_role', 'alert_severity', 'alert_route'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nps.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION nps.refresh_alert_routes()', t || '_alert_routes', t);
    END LOOP;
END $$;

------------------------------------------------------------------------------
-- Announcements
------------------------------------------------------------------------------

CREATE FUNCTION nps.alert_announce(a nps.alert, p_event text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    payload jsonb := jsonb_build_object(
        'id', a.id, 'event', p_event, 'session_id', a.session_id, 'salon_code', a.salon_code,
        'dealer_code', a.dealer_code, 'severity', a.severity, 'level', a.level,
        'assignee', a.assignee, 'due_at', a.due_at, 'reasons', to_jsonb(a.reasons));
BEGIN
    -- Delivered to listeners when the transaction commits, never before.
    PERFORM pg_notify('nps_alert', payload::text);
    RETURN payload;
END $$;
COMMENT ON FUNCTION nps.alert_announce(nps.alert, text) IS
    'NOTIFY nps_alert with the alert as JSON (id, event, session_id, salon_code, dealer_code, severity, level, assignee, due_at, reasons); delivered at commit';

------------------------------------------------------------------------------
-- Detection: statement-level triggers on nps.answer
------------------------------------------------------------------------------

-- Set-based, so a batch of answers costs one pass, and SECURITY DEFINER, so
-- that an answer is never refused because its writer may not write alerts.
-- It takes the answers as an array rather than reading the trigger's
-- transition table: a query on a transition table is planned anew at every
-- statement, this one once per session (a generic plan: a custom plan for
-- each array would cost more than most statements' whole work).
CREATE TYPE nps.alert_hit AS (session_id bigint, severity smallint, at timestamptz, reasons text[]);
COMMENT ON TYPE nps.alert_hit IS 'What the answers of one session raise: the highest severity, the latest answer time, the reasons';

CREATE FUNCTION nps.raise_alerts(answers nps.answer[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    hits nps.alert_hit[];
    n integer;
BEGIN
    -- Most answers match no rule at all: the cheapest look first.
    IF NOT EXISTS (SELECT FROM unnest(answers) na
                   JOIN nps.alert_rule r ON r.question_no = na.question_no AND r.active
                        AND (r.scan_text AND na.body IS NOT NULL OR na.score BETWEEN r.min_score AND r.max_score)) THEN
        RETURN 0;
    END IF;
    -- Then what alarms, in a light statement: merely starting the writing
    -- statement below costs more than a typical statement's whole work.
    -- Comments are scanned here set-based, each parsed once (the same
    -- verdict as nps.alert_scan, which alert_detect checks on both paths).
    WITH texts AS MATERIALIZED (
        SELECT na.session_id, na.answered_at, na.question_no, r.reason,
               to_tsvector('russian'::regconfig, nps.alert_normalize(na.body)) AS v
        FROM unnest(answers) na
        JOIN nps.alert_rule r ON r.question_no = na.question_no AND r.active AND r.scan_text
        JOIN nps.session s ON s.id = na.session_id AND (r.survey_id IS NULL OR r.survey_id = s.survey_id)
        WHERE na.body IS NOT NULL
    ), hit AS (
        SELECT na.session_id, na.answered_at, r.severity,
               format('q%s = %s: %s', na.question_no, na.score, r.reason) AS reason
        FROM unnest(answers) na
        JOIN nps.alert_rule r ON r.question_no = na.question_no AND r.active AND NOT r.scan_text
             AND na.score BETWEEN r.min_score AND r.max_score
        JOIN nps.session s ON s.id = na.session_id AND (r.survey_id IS NULL OR r.survey_id = s.survey_id)
        UNION ALL
        SELECT m.session_id, m.answered_at,
               (SELECT max(sv.severity) FROM nps.alert_severity sv WHERE sv.min_text_score <= m.score),
               format('q%s: %s (%s)', m.question_no, m.reason, array_to_string(m.categories, ', '))
        FROM (SELECT t.session_id, t.answered_at, t.question_no, t.reason, sum(l.weight) AS score,
                     array_agg(DISTINCT l.category) AS categories
              FROM texts t JOIN nps.alert_lexicon l ON l.active AND t.v @@ l.query
              GROUP BY t.session_id, t.answered_at, t.question_no, t.reason) m
    )
    SELECT array_agg(ROW(h.session_id, h.severity, h.at, h.reasons)::nps.alert_hit) INTO hits
    FROM (SELECT session_id, max(severity) AS severity, max(answered_at) AS at,
                 array_agg(DISTINCT reason ORDER BY reason) AS reasons
          FROM hit GROUP BY session_id) h;
    IF hits IS NULL THEN
        RETURN 0;
    END IF;

    WITH per_session AS (SELECT * FROM unnest(hits)), up AS (
        INSERT INTO nps.alert AS a (session_id, salon_code, dealer_code, region_code, specialist,
                                    severity, level, assignee, reasons, raised_at, due_at, updated_at)
        SELECT p.session_id, v.salon_code, sa.dealer_code, sa.region_code, v.specialist,
               p.severity, coalesce(f.level, 2), f.assignee, p.reasons, p.at, p.at + f.allowed, p.at
        FROM per_session p
        JOIN nps.session s ON s.id = p.session_id
        JOIN nps.visit v ON v.id = s.visit_id
        JOIN nps.salon sa ON sa.code = v.salon_code
        LEFT JOIN nps.alert_first_route f ON f.salon_code = v.salon_code AND f.severity = p.severity
        ON CONFLICT (session_id) DO UPDATE
        SET severity = greatest(a.severity, excluded.severity),
            reasons = a.reasons || ARRAY(SELECT x FROM unnest(excluded.reasons) x WHERE x <> ALL (a.reasons)),
            -- a graver alert gets the shorter deadline of its level
            due_at = CASE WHEN a.state = 'open' AND excluded.severity > a.severity
                          THEN least(a.due_at, excluded.raised_at +
                                     (SELECT r.allowed FROM nps.alert_route r
                                      WHERE r.severity = excluded.severity AND r.level = a.level))
                          ELSE a.due_at END,
            updated_at = excluded.raised_at
        WHERE excluded.severity > a.severity OR NOT excluded.reasons <@ a.reasons
        RETURNING a, a.xmax = 0 AS created
    ), ev AS (
        INSERT INTO nps.alert_event (alert_id, at, event, actor, to_level, severity, note)
        SELECT (u.a).id, (u.a).updated_at, CASE WHEN u.created THEN 'raised' ELSE 'updated' END,
               'nps.answer', (u.a).level, (u.a).severity, array_to_string((u.a).reasons, '; ')
        FROM up u
    )
    SELECT count(nps.alert_announce(u.a, CASE WHEN u.created THEN 'raised' ELSE 'updated' END))
      INTO n FROM up u;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.raise_alerts(nps.answer[]) IS
    'Raises or updates (severity raised, reasons appended) the alert of every session whose given answers match nps.alert_rule, and announces it on nps_alert; returns the number of alerts raised or updated';

CREATE FUNCTION nps.answer_alerts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nps.raise_alerts(ARRAY(SELECT a::nps.answer FROM new_answers a));
    RETURN NULL;
END $$;
COMMENT ON FUNCTION nps.answer_alerts() IS
    'Trigger: raises or updates the alerts of the answers a statement inserted or changed, in the same transaction (nps.raise_alerts)';

-- Transition tables allow one event per trigger: the same function serves both.
CREATE TRIGGER answer_alerts_insert AFTER INSERT ON nps.answer
    REFERENCING NEW TABLE AS new_answers
    FOR EACH STATEMENT EXECUTE FUNCTION nps.answer_alerts();
CREATE TRIGGER answer_alerts_update AFTER UPDATE ON nps.answer
    REFERENCING NEW TABLE AS new_answers
    FOR EACH STATEMENT EXECUTE FUNCTION nps.answer_alerts();

------------------------------------------------------------------------------
-- Visibility: who sees what
------------------------------------------------------------------------------

-- A staff login is a member of nps_staff; superusers (members of everything)
-- and roles that bypass row level security are not.
CREATE FUNCTION nps.is_staff(p_login name) RETURNS boolean
LANGUAGE sql STABLE STRICT AS $$
    SELECT CASE WHEN EXISTS (SELECT FROM pg_roles r WHERE r.rolname = p_login AND NOT r.rolsuper AND NOT r.rolbypassrls)
                THEN pg_has_role(p_login, 'nps_staff', 'MEMBER') ELSE false END
$$;
COMMENT ON FUNCTION nps.is_staff(name) IS 'True for a staff login (a member of nps_staff that is not a superuser)';

-- SECURITY DEFINER so that staff need no access to nps.staff; the login is an
-- argument because current_user inside is the owner.
CREATE FUNCTION nps.scope_salons(p_login name) RETURNS SETOF text
LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT sa.code FROM nps.salon sa
    WHERE NOT nps.is_staff(p_login)
       OR EXISTS (SELECT FROM nps.staff st JOIN nps.staff_role r ON r.role = st.role
                  WHERE st.login = p_login AND st.active AND r.level >= 2 AND CASE r.scope
                      WHEN 'salon'  THEN st.salon_code = sa.code
                      WHEN 'dealer' THEN st.dealer_code = sa.dealer_code
                      WHEN 'region' THEN st.region_code = sa.region_code
                      ELSE true END)
$$;
COMMENT ON FUNCTION nps.scope_salons(name) IS
    'Salons whose feedback and alerts a login manages: its salon, dealer, region or all (VP CX, CEO); none for a specialist; all for a role that is not staff';

ALTER TABLE nps.alert ENABLE ROW LEVEL SECURITY;
CREATE POLICY alert_see ON nps.alert FOR SELECT
    USING (salon_code IN (SELECT nps.scope_salons(current_user)) OR specialist = current_user);
CREATE POLICY alert_handle ON nps.alert FOR UPDATE
    USING (salon_code IN (SELECT nps.scope_salons(current_user)));
CREATE POLICY alert_insert ON nps.alert FOR INSERT
    WITH CHECK (NOT nps.is_staff(current_user));
ALTER TABLE nps.alert_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY alert_event_see ON nps.alert_event FOR SELECT
    USING (alert_id IN (SELECT id FROM nps.alert));
CREATE POLICY alert_event_write ON nps.alert_event FOR INSERT
    WITH CHECK (alert_id IN (SELECT id FROM nps.alert WHERE salon_code IN (SELECT nps.scope_salons(current_user))));

-- Answers with where they came from, without the phone number, limited to
-- the reader's scope (a definer view: staff read no base table).
CREATE VIEW nps.feedback WITH (security_barrier) AS
SELECT a.session_id, v.id AS visit_id, v.salon_code, sa.dealer_code, sa.region_code, v.specialist,
       v.occurred_at AS visited_at, a.question_no, q.kind, a.score, a.body, a.answered_at
FROM nps.answer a
JOIN nps.session s ON s.id = a.session_id
JOIN nps.visit v ON v.id = s.visit_id
JOIN nps.salon sa ON sa.code = v.salon_code
LEFT JOIN nps.question q ON q.survey_id = s.survey_id AND q.question_no = a.question_no
WHERE v.salon_code IN (SELECT nps.scope_salons(current_user)) OR v.specialist = current_user;
COMMENT ON VIEW nps.feedback IS 'Answers with salon, dealer, region and specialist (no phone number); a staff login sees its scope only, a specialist the feedback on their own visits';
COMMENT ON COLUMN nps.feedback.session_id IS 'Survey session';
COMMENT ON COLUMN nps.feedback.visit_id IS 'Visit the feedback is about';
COMMENT ON COLUMN nps.feedback.salon_code IS 'Salon of the visit';
COMMENT ON COLUMN nps.feedback.dealer_code IS 'Dealer of the salon; NULL for own offices';
COMMENT ON COLUMN nps.feedback.region_code IS 'Region of the salon';
COMMENT ON COLUMN nps.feedback.specialist IS 'Specialist who served the customer, when known';
COMMENT ON COLUMN nps.feedback.visited_at IS 'When the customer was served';
COMMENT ON COLUMN nps.feedback.question_no IS 'Question answered';
COMMENT ON COLUMN nps.feedback.kind IS 'score, yes_no or text';
COMMENT ON COLUMN nps.feedback.score IS 'Score; 1 = yes, 0 = no; NULL for free text';
COMMENT ON COLUMN nps.feedback.body IS 'Reply text (the comment for free-text questions)';
COMMENT ON COLUMN nps.feedback.answered_at IS 'When the reply was received';

CREATE FUNCTION nps.create_staff_login(p_login text, p_password text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    st nps.staff;
    r pg_roles;
BEGIN
    SELECT * INTO st FROM nps.staff WHERE login = p_login;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'staff member "%" does not exist', p_login
            USING ERRCODE = 'no_data_found', HINT = 'Add the person to nps.staff first; the login is the role name.';
    END IF;
    IF NOT st.active THEN
        RAISE EXCEPTION 'staff member "%" is no longer active', p_login
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT * INTO r FROM pg_roles WHERE rolname = p_login;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I LOGIN', p_login);
    ELSIF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role "%" bypasses row level security and cannot be a staff login', p_login
            USING ERRCODE = 'invalid_role_specification',
                  HINT = 'Give the staff member a login of their own.';
    END IF;
    IF p_password IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_password);
    END IF;
    IF NOT pg_has_role(p_login, 'nps_staff', 'MEMBER') THEN
        EXECUTE format('GRANT nps_staff TO %I', p_login);
    END IF;
    RETURN p_login;
END $$;
COMMENT ON FUNCTION nps.create_staff_login(text, text) IS
    'Creates (or reuses) the login role of a staff member, named by nps.staff.login, and makes it a member of nps_staff; needs CREATEROLE';

------------------------------------------------------------------------------
-- Handling: acknowledge, resolve, reopen, escalate
------------------------------------------------------------------------------

-- The alert an action is about, locked, after the checks every action shares:
-- an actor, an alert the caller can see, and one the caller may handle (a
-- staff login acts under its own name, within its scope, as a manager).
CREATE FUNCTION nps.alert_for_action(p_id bigint, p_actor text, p_action text) RETURNS nps.alert
LANGUAGE plpgsql AS $$
DECLARE
    a nps.alert;
BEGIN
    IF p_id IS NULL OR coalesce(btrim(p_actor), '') = '' THEN
        RAISE EXCEPTION 'an alert id and an actor are required to % an alert', p_action
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF nps.is_staff(current_user) AND p_actor <> current_user THEN
        RAISE EXCEPTION 'staff act under their own login: actor "%" is not "%"', p_actor, current_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM FROM nps.alert WHERE id = p_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'alert % does not exist', p_id
            USING ERRCODE = 'no_data_found', HINT = 'nps.alert lists the alerts you can see.';
    END IF;
    IF NOT EXISTS (SELECT FROM nps.alert WHERE id = p_id AND salon_code IN (SELECT nps.scope_salons(current_user))) THEN
        RAISE EXCEPTION 'only a manager of the salon may % alert %', p_action, p_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Specialists see the feedback on their work; managers handle it.';
    END IF;
    SELECT * INTO a FROM nps.alert WHERE id = p_id FOR UPDATE;
    RETURN a;
END $$;
COMMENT ON FUNCTION nps.alert_for_action(bigint, text, text) IS
    'Locks an alert for an action after checking the actor, that the alert exists and is visible, and that the caller may handle it';

CREATE FUNCTION nps.ack_alert(id bigint, actor text, note text DEFAULT NULL, at timestamptz DEFAULT now())
RETURNS nps.alert
LANGUAGE plpgsql AS $$
DECLARE
    a nps.alert := nps.alert_for_action($1, $2, 'acknowledge');
BEGIN
    IF a.state <> 'open' THEN
        RAISE EXCEPTION 'alert % is already %', a.id, a.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE WHEN a.state = 'resolved' THEN 'Reopen it with nps.reopen_alert() first.'
                              ELSE 'It no longer escalates; resolve it with nps.resolve_alert().' END;
    END IF;
    UPDATE nps.alert AS t
    SET state = 'acknowledged', acknowledged_at = coalesce(t.acknowledged_at, $4),
        acknowledged_by = coalesce(t.acknowledged_by, $2), updated_at = $4
    WHERE t.id = a.id RETURNING * INTO a;
    INSERT INTO nps.alert_event (alert_id, at, event, actor, to_level, severity, note)
    VALUES (a.id, $4, 'acknowledged', $2, a.level, a.severity, $3);
    RETURN a;
END $$;
COMMENT ON FUNCTION nps.ack_alert(bigint, text, text, timestamptz) IS
    'Acknowledges an open alert (stops its escalation) on behalf of actor, with an optional note; returns the alert';

CREATE FUNCTION nps.resolve_alert(id bigint, actor text, resolution text,
                                  root_cause text DEFAULT 'other', at timestamptz DEFAULT now())
RETURNS nps.alert
LANGUAGE plpgsql AS $$
DECLARE
    a nps.alert := nps.alert_for_action($1, $2, 'resolve');
BEGIN
    IF a.state = 'resolved' THEN
        RAISE EXCEPTION 'alert % is already resolved', a.id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Reopen it with nps.reopen_alert() to handle it again.';
    END IF;
    IF coalesce(btrim($3), '') = '' THEN
        RAISE EXCEPTION 'a resolution is required to resolve alert %', a.id
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Say what was done for the customer.';
    END IF;
    IF NOT EXISTS (SELECT FROM nps.alert_root_cause c WHERE c.code = $4) THEN
        RAISE EXCEPTION 'unknown root cause "%"', $4
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use a code from nps.alert_root_cause: ' || (SELECT string_agg(c.code, ', ' ORDER BY c.code) FROM nps.alert_root_cause c);
    END IF;
    -- Resolving an open alert acknowledges it at the same time.
    UPDATE nps.alert AS t
    SET state = 'resolved', acknowledged_at = coalesce(t.acknowledged_at, $5),
        acknowledged_by = coalesce(t.acknowledged_by, $2), resolved_at = $5, resolved_by = $2,
        resolution = $3, root_cause = $4, updated_at = $5
    WHERE t.id = a.id RETURNING * INTO a;
    INSERT INTO nps.alert_event (alert_id, at, event, actor, to_level, severity, note)
    VALUES (a.id, $5, 'resolved', $2, a.level, a.severity, $4 || ': ' || $3);
    RETURN a;
END $$;
COMMENT ON FUNCTION nps.resolve_alert(bigint, text, text, text, timestamptz) IS
    'Resolves an open or acknowledged alert on behalf of actor with what was done and a root cause (nps.alert_root_cause code, default other); returns the alert';

CREATE FUNCTION nps.reopen_alert(id bigint, actor text, reason text, at timestamptz DEFAULT now())
RETURNS nps.alert
LANGUAGE plpgsql AS $$
DECLARE
    a nps.alert := nps.alert_for_action($1, $2, 'reopen');
BEGIN
    IF a.state <> 'resolved' THEN
        RAISE EXCEPTION 'alert % is % and cannot be reopened', a.id, a.state
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Only a resolved alert can be reopened.';
    END IF;
    IF coalesce(btrim($3), '') = '' THEN
        RAISE EXCEPTION 'a reason is required to reopen alert %', a.id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Open again at the level that had it, with that level's full time.
    UPDATE nps.alert AS t
    SET state = 'open', reopened = t.reopened + 1, resolved_at = NULL, resolved_by = NULL,
        resolution = NULL, root_cause = NULL, updated_at = $4,
        due_at = $4 + (SELECT r.allowed FROM nps.alert_route r WHERE r.severity = t.severity AND r.level = t.level)
    WHERE t.id = a.id RETURNING * INTO a;
    INSERT INTO nps.alert_event (alert_id, at, event, actor, to_level, severity, note)
    VALUES (a.id, $4, 'reopened', $2, a.level, a.severity, $3);
    PERFORM nps.alert_announce(a, 'reopened');
    RETURN a;
END $$;
COMMENT ON FUNCTION nps.reopen_alert(bigint, text, text, timestamptz) IS
    'Reopens a resolved alert on behalf of actor (it escalates again from its level, announced on nps_alert); returns the alert';

CREATE FUNCTION nps.escalate(at timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    p_at ALIAS FOR $1;
    a nps.alert;
    nxt record;
    n integer := 0;
BEGIN
    -- One level per run; SKIP LOCKED leaves alerts being handled right now
    -- to the next run instead of waiting for them.
    FOR a IN SELECT * FROM nps.alert t WHERE t.state = 'open' AND t.due_at <= p_at
             ORDER BY t.due_at, t.id FOR UPDATE SKIP LOCKED
    LOOP
        SELECT * INTO nxt FROM nps.alert_next_level(a.salon_code, a.severity, a.level);
        IF NOT FOUND THEN
            UPDATE nps.alert SET due_at = NULL, updated_at = p_at WHERE id = a.id;
            INSERT INTO nps.alert_event (alert_id, at, event, actor, from_level, to_level, severity, note)
            VALUES (a.id, p_at, 'stuck', 'nps.escalate', a.level, a.level, a.severity,
                    format('not acknowledged by %s, due %s; no higher level', coalesce(a.assignee, 'nobody'), a.due_at));
            CONTINUE;
        END IF;
        INSERT INTO nps.alert_event (alert_id, at, event, actor, from_level, to_level, severity, note)
        VALUES (a.id, p_at, 'escalated', 'nps.escalate', a.level, nxt.level, a.severity,
                format('not acknowledged by %s (%s) within the time allowed, due %s',
                       coalesce(a.assignee, 'nobody'), (SELECT role FROM nps.staff_role WHERE level = a.level), a.due_at));
        UPDATE nps.alert
        SET level = nxt.level, assignee = nxt.assignee, due_at = p_at + nxt.allowed,
            escalations = escalations + 1, updated_at = p_at
        WHERE id = a.id RETURNING * INTO a;
        PERFORM nps.alert_announce(a, 'escalated');
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.escalate(timestamptz) IS
    'Moves every open alert overdue at the given time up one level of its ladder (records why, announces it on nps_alert); returns how many climbed. pg_cron runs it every minute';

INSERT INTO nps.job (name, schedule, command, description) VALUES
    ('nps-escalate', '* * * * *', 'SELECT nps.escalate()', 'Escalates overdue alerts one level');

------------------------------------------------------------------------------
-- Figures
------------------------------------------------------------------------------

-- Per alert, the facts the figures are made of.  security_invoker: a staff
-- login's figures cover its scope only (row level security on nps.alert).
CREATE VIEW nps.alert_timing WITH (security_invoker = true) AS
SELECT al.id, al.salon_code, al.dealer_code, al.region_code, al.severity, al.state, al.root_cause,
       date_trunc('month', al.raised_at AT TIME ZONE r.time_zone)::date AS period,
       al.raised_at, al.acknowledged_at, al.resolved_at,
       al.acknowledged_at - al.raised_at AS time_to_ack,
       al.resolved_at - al.raised_at AS time_to_resolve,
       al.escalations,
       al.acknowledged_at IS NOT NULL AND al.escalations = 0 AS in_time,
       al.acknowledged_at IS NOT NULL OR al.escalations > 0 AS decided
FROM nps.alert al
JOIN nps.region r ON r.code = al.region_code;
COMMENT ON VIEW nps.alert_timing IS 'One row per alert: period (month, region time), time to acknowledge and to resolve, escalations, in_time (acknowledged before its first deadline), decided (acknowledged or escalated)';
COMMENT ON COLUMN nps.alert_timing.id IS 'Alert';
COMMENT ON COLUMN nps.alert_timing.salon_code IS 'Salon';
COMMENT ON COLUMN nps.alert_timing.dealer_code IS 'Dealer; NULL for own offices';
COMMENT ON COLUMN nps.alert_timing.region_code IS 'Region';
COMMENT ON COLUMN nps.alert_timing.severity IS 'Severity';
COMMENT ON COLUMN nps.alert_timing.state IS 'open, acknowledged or resolved';
COMMENT ON COLUMN nps.alert_timing.root_cause IS 'Root cause filed at resolution';
COMMENT ON COLUMN nps.alert_timing.period IS 'Month the alert was raised in, in the region''s time zone';
COMMENT ON COLUMN nps.alert_timing.raised_at IS 'When raised';
COMMENT ON COLUMN nps.alert_timing.acknowledged_at IS 'First acknowledgement';
COMMENT ON COLUMN nps.alert_timing.resolved_at IS 'Latest resolution';
COMMENT ON COLUMN nps.alert_timing.time_to_ack IS 'Time from raising to the first acknowledgement';
COMMENT ON COLUMN nps.alert_timing.time_to_resolve IS 'Time from raising to the latest resolution';
COMMENT ON COLUMN nps.alert_timing.escalations IS 'Times it climbed';
COMMENT ON COLUMN nps.alert_timing.in_time IS 'Acknowledged without ever being escalated';
COMMENT ON COLUMN nps.alert_timing.decided IS 'Acknowledged or escalated: the alerts in_time_share counts';

-- Both grains in one pass, so the measures are written once.
CREATE VIEW nps.alert_figures WITH (security_invoker = true) AS
SELECT CASE WHEN grouping(t.salon_code) = 0 THEN 'salon' ELSE 'dealer' END AS grain,
       t.period, t.salon_code, t.dealer_code, t.region_code,
       count(*) AS alerts,
       count(*) FILTER (WHERE t.severity = 4) AS critical,
       count(*) FILTER (WHERE t.severity = 3) AS high,
       count(*) FILTER (WHERE t.state = 'open') AS open,
       count(*) FILTER (WHERE t.state = 'resolved') AS resolved,
       count(*) FILTER (WHERE t.escalations > 0) AS escalated,
       avg(t.time_to_ack) AS avg_time_to_ack,
       avg(t.time_to_resolve) AS avg_time_to_resolve,
       round(count(*) FILTER (WHERE t.in_time)::numeric / nullif(count(*) FILTER (WHERE t.decided), 0), 3) AS in_time_share
FROM nps.alert_timing t
GROUP BY GROUPING SETS ((t.period, t.salon_code, t.dealer_code, t.region_code), (t.period, t.dealer_code, t.region_code));
COMMENT ON VIEW nps.alert_figures IS 'Alert measures per month and salon (grain salon) and per month and dealer (grain dealer); nps.alert_by_salon and nps.alert_by_dealer show one grain each';
COMMENT ON COLUMN nps.alert_figures.grain IS 'salon or dealer: what a row counts';

CREATE VIEW nps.alert_by_salon WITH (security_invoker = true) AS
SELECT period, salon_code, dealer_code, region_code, alerts, critical, high, open, resolved, escalated,
       avg_time_to_ack, avg_time_to_resolve, in_time_share
FROM nps.alert_figures WHERE grain = 'salon';
COMMENT ON VIEW nps.alert_by_salon IS 'Alerts per salon and month: counts, open, resolved, escalated, average time to acknowledge and to resolve, share acknowledged within the allowed time';

CREATE VIEW nps.alert_by_dealer WITH (security_invoker = true) AS
SELECT period, dealer_code, region_code, alerts, critical, high, open, resolved, escalated,
       avg_time_to_ack, avg_time_to_resolve, in_time_share
FROM nps.alert_figures WHERE grain = 'dealer' AND dealer_code IS NOT NULL;
COMMENT ON VIEW nps.alert_by_dealer IS 'Alerts per dealer and month (dealer salons only), with the same measures as nps.alert_by_salon';

-- The columns the three views share, documented once.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT a.attrelid::regclass AS view, a.attname, d.comment
             FROM (VALUES
                 ('period', 'Month the alerts were raised in, in the region''s time zone'),
                 ('salon_code', 'Salon'), ('dealer_code', 'Dealer; NULL for own offices'), ('region_code', 'Region'),
                 ('alerts', 'Alerts raised'), ('critical', 'Critical alerts'), ('high', 'High-severity alerts'),
                 ('open', 'Alerts still open (not acknowledged)'), ('resolved', 'Alerts resolved'),
                 ('escalated', 'Alerts that climbed at least once'),
                 ('avg_time_to_ack', 'Average time to the first acknowledgement'),
                 ('avg_time_to_resolve', 'Average time to resolution'),
                 ('in_time_share', 'Share of decided alerts (acknowledged or escalated) acknowledged within the allowed time, i.e. never escalated'))
                 AS d(attname, comment)
             JOIN pg_attribute a ON a.attname = d.attname
                  AND a.attrelid IN ('nps.alert_figures'::regclass, 'nps.alert_by_salon'::regclass, 'nps.alert_by_dealer'::regclass)
    LOOP
        EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', c.view, c.attname, c.comment);
    END LOOP;
END $$;

CREATE VIEW nps.alert_root_causes WITH (security_invoker = true) AS
SELECT t.period, t.root_cause, c.title, count(*) AS alerts,
       round(count(*)::numeric / sum(count(*)) OVER (PARTITION BY t.period), 3) AS share,
       rank() OVER (PARTITION BY t.period ORDER BY count(*) DESC) AS rank
FROM nps.alert_timing t
JOIN nps.alert_root_cause c ON c.code = t.root_cause
WHERE t.state = 'resolved'
GROUP BY t.period, t.root_cause, c.title;
COMMENT ON VIEW nps.alert_root_causes IS 'Root causes of resolved alerts per month, with their share and rank (rank 1 = most frequent)';
COMMENT ON COLUMN nps.alert_root_causes.period IS 'Month the alert was raised in, in the region''s time zone';
COMMENT ON COLUMN nps.alert_root_causes.root_cause IS 'Root cause code';
COMMENT ON COLUMN nps.alert_root_causes.title IS 'Root cause title';
COMMENT ON COLUMN nps.alert_root_causes.alerts IS 'Resolved alerts filed under it';
COMMENT ON COLUMN nps.alert_root_causes.share IS 'Share of the month''s resolved alerts';
COMMENT ON COLUMN nps.alert_root_causes.rank IS 'Rank in the month, 1 = most frequent';

------------------------------------------------------------------------------
-- Grants to staff logins
------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA nps TO nps_staff;
GRANT SELECT ON nps.alert, nps.alert_event, nps.feedback, nps.alert_timing, nps.alert_figures, nps.alert_by_salon,
    nps.alert_by_dealer, nps.alert_root_causes, nps.alert_severity, nps.alert_route,
    nps.alert_root_cause, nps.staff_role, nps.region, nps.dealer, nps.salon TO nps_staff;
GRANT UPDATE (state, acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution,
    root_cause, reopened, due_at, updated_at) ON nps.alert TO nps_staff;
GRANT INSERT ON nps.alert_event TO nps_staff;

-- Surveys, their questions, the short-code pool and survey sessions.

CREATE TABLE nps.survey (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('dealer', 'office', 'contact_centre')),
    active      boolean NOT NULL DEFAULT true,
    delay       interval NOT NULL DEFAULT '24 days' CHECK (delay >= '0'),
    thanks      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX survey_one_active_per_channel ON nps.survey (channel) WHERE active;
COMMENT ON TABLE nps.survey IS 'Questionnaires; one active survey per channel is sent';
COMMENT ON COLUMN nps.survey.id IS 'Survey id (key)';
COMMENT ON COLUMN nps.survey.code IS 'Survey code';
COMMENT ON COLUMN nps.survey.name IS 'Survey name';
COMMENT ON COLUMN nps.survey.channel IS 'Channel whose visits get this survey';
COMMENT ON COLUMN nps.survey.active IS 'Whether new sessions use this survey';
COMMENT ON COLUMN nps.survey.delay IS 'Time from the visit to the first question (24 days by default)';
COMMENT ON COLUMN nps.survey.thanks IS 'Text sent after the last answer';
COMMENT ON COLUMN nps.survey.created_at IS 'When the survey was created';

CREATE TABLE nps.question (
    survey_id      integer NOT NULL REFERENCES nps.survey ON DELETE CASCADE,
    question_no    smallint NOT NULL CHECK (question_no BETWEEN 1 AND 20),
    kind           text NOT NULL CHECK (kind IN ('score', 'yes_no', 'text')),
    body           text NOT NULL,
    min_score      smallint,
    max_score      smallint,
    hint           text,
    ask_if_question smallint,
    ask_if_min     smallint,
    ask_if_max     smallint,
    PRIMARY KEY (survey_id, question_no),
    CHECK ((kind = 'score') = (min_score IS NOT NULL AND max_score IS NOT NULL)),
    CHECK (min_score <= max_score),
    CHECK (ask_if_question IS NULL OR ask_if_question < question_no)
);
COMMENT ON TABLE nps.question IS 'Questions of a survey, asked in question_no order';
COMMENT ON COLUMN nps.question.survey_id IS 'Survey';
COMMENT ON COLUMN nps.question.question_no IS 'Position in the survey; question 1 is the 0-10 recommendation score';
COMMENT ON COLUMN nps.question.kind IS 'score (a number in min_score..max_score), yes_no, or text (free comment)';
COMMENT ON COLUMN nps.question.body IS 'Text of the SMS';
COMMENT ON COLUMN nps.question.min_score IS 'Lowest valid score (score questions)';
COMMENT ON COLUMN nps.question.max_score IS 'Highest valid score (score questions)';
COMMENT ON COLUMN nps.question.hint IS 'Text sent once when a reply cannot be understood';
COMMENT ON COLUMN nps.question.ask_if_question IS 'Branching: ask only if the answer to this earlier question';
COMMENT ON COLUMN nps.question.ask_if_min IS 'Branching: ... is at least this score (1 = yes for yes/no)';
COMMENT ON COLUMN nps.question.ask_if_max IS 'Branching: ... is at most this score (0 = no for yes/no)';

CREATE TABLE nps.short_code (
    code    text PRIMARY KEY CHECK (code ~ '^[0-9]{3,8}$')
);
INSERT INTO nps.short_code SELECT '065' || d FROM generate_series(0, 9) d;
COMMENT ON TABLE nps.short_code IS 'Pool of short numbers the questions are sent from (0650-0659); a subscriber''s active sessions use distinct codes so every reply maps to one session';
COMMENT ON COLUMN nps.short_code.code IS 'Short number';

CREATE TABLE nps.session (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    visit_id     bigint NOT NULL UNIQUE REFERENCES nps.visit ON DELETE CASCADE,
    survey_id    integer NOT NULL REFERENCES nps.survey,
    msisdn       text NOT NULL CHECK (msisdn ~ '^7[0-9]{10}$'),
    short_code   text REFERENCES nps.short_code,
    state        text NOT NULL DEFAULT 'scheduled' CHECK (state IN
                 ('scheduled', 'deferred', 'active', 'completed', 'expired', 'opted_out', 'cancelled')),
    state_reason text,
    due_at       timestamptz NOT NULL,
    question_no  smallint,
    asked_at     timestamptz,
    reasked      boolean NOT NULL DEFAULT false,
    started_at   timestamptz,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'active' OR (short_code IS NOT NULL AND question_no IS NOT NULL))
);
-- The pool invariant: one active session per (subscriber, short code).
CREATE UNIQUE INDEX session_active_code ON nps.session (msisdn, short_code) WHERE state = 'active';
CREATE INDEX session_due ON nps.session (due_at) WHERE state IN ('scheduled', 'deferred');
CREATE INDEX ON nps.session (msisdn, created_at);
CREATE INDEX session_active_asked ON nps.session (asked_at) WHERE state = 'active';
COMMENT ON TABLE nps.session IS 'One survey sent to one subscriber for one visit';
COMMENT ON COLUMN nps.session.id IS 'Session id (key)';
COMMENT ON COLUMN nps.session.visit_id IS 'Visit the survey is about';
COMMENT ON COLUMN nps.session.survey_id IS 'Survey asked';
COMMENT ON COLUMN nps.session.msisdn IS 'Subscriber (raw number: hidden from analysts)';
COMMENT ON COLUMN nps.session.short_code IS 'Short number the questions come from while active';
COMMENT ON COLUMN nps.session.state IS 'scheduled, deferred (waiting: roaming, night, pool), active (a question is out), completed, expired, opted_out, cancelled';
COMMENT ON COLUMN nps.session.state_reason IS 'Why the session is deferred, cancelled or expired';
COMMENT ON COLUMN nps.session.due_at IS 'When the first question may be sent';
COMMENT ON COLUMN nps.session.question_no IS 'Question currently out (active) or last asked';
COMMENT ON COLUMN nps.session.asked_at IS 'When the current question was queued';
COMMENT ON COLUMN nps.session.reasked IS 'Whether the current question has already been re-asked with a hint';
COMMENT ON COLUMN nps.session.started_at IS 'When the first question was queued';
COMMENT ON COLUMN nps.session.finished_at IS 'When the session left the active state';
COMMENT ON COLUMN nps.session.created_at IS 'When the session was scheduled';
COMMENT ON COLUMN nps.session.updated_at IS 'When the session last changed';

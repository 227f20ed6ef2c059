-- Messages in and out, answers, opt-outs and the roaming feed.
--
-- The outbox and inbox are the only hand-over points between SQL and the
-- worker.  A question exists once its outbox row commits; the worker claims
-- rows in short transactions and records each step (sending, submitted,
-- delivered/failed) in its own transaction, so it never holds a transaction
-- open across a network wait and never deletes a row before the send
-- succeeded.  A reply exists once its inbox row commits; the worker
-- acknowledges the deliver_sm only after that commit.

CREATE TABLE nps.outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   bigint REFERENCES nps.session ON DELETE SET NULL,
    msisdn       text NOT NULL CHECK (msisdn ~ '^7[0-9]{10}$'),
    source_addr  text NOT NULL,
    body         text NOT NULL CHECK (body <> ''),
    kind         text NOT NULL DEFAULT 'question'
                 CHECK (kind IN ('question', 'reask', 'thanks', 'opt_out_confirmation', 'notice')),
    question_no  smallint,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'sending', 'submitted', 'delivered', 'failed')),
    smsc_name    text,
    parts        smallint,
    attempts     integer NOT NULL DEFAULT 0,
    not_before   timestamptz,
    message_id   text,
    error_code   integer,
    error        text,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    submitted_at timestamptz,
    done_at      timestamptz
);
CREATE INDEX outbox_queued ON nps.outbox (id) WHERE state = 'queued';
CREATE INDEX outbox_in_flight ON nps.outbox (smsc_name) WHERE state IN ('sending', 'submitted');
CREATE INDEX ON nps.outbox (session_id);
COMMENT ON TABLE nps.outbox IS 'Messages to subscribers; a row is never deleted before its send succeeded';
COMMENT ON COLUMN nps.outbox.id IS 'Message id (key); a subscriber''s messages are sent in id order';
COMMENT ON COLUMN nps.outbox.session_id IS 'Survey session the message belongs to';
COMMENT ON COLUMN nps.outbox.msisdn IS 'Destination subscriber (raw number: hidden from analysts)';
COMMENT ON COLUMN nps.outbox.source_addr IS 'Short number the message is sent from';
COMMENT ON COLUMN nps.outbox.body IS 'Text of the message';
COMMENT ON COLUMN nps.outbox.kind IS 'question, reask (question again with a hint), thanks, opt_out_confirmation or notice';
COMMENT ON COLUMN nps.outbox.question_no IS 'Question asked, for questions and re-asks';
COMMENT ON COLUMN nps.outbox.state IS 'queued, sending (claimed by a worker), submitted (SMSC accepted it), delivered, failed';
COMMENT ON COLUMN nps.outbox.smsc_name IS 'Bind that sent the message';
COMMENT ON COLUMN nps.outbox.parts IS 'Number of SMS parts the text took';
COMMENT ON COLUMN nps.outbox.attempts IS 'Submit attempts (a throttled or interrupted submit is retried)';
COMMENT ON COLUMN nps.outbox.not_before IS 'Earliest retry time after a temporary error';
COMMENT ON COLUMN nps.outbox.message_id IS 'SMSC message id of the first part';
COMMENT ON COLUMN nps.outbox.error_code IS 'SMPP command_status or receipt error code of a failure';
COMMENT ON COLUMN nps.outbox.error IS 'Why the message failed';
COMMENT ON COLUMN nps.outbox.queued_at IS 'When the message was queued';
COMMENT ON COLUMN nps.outbox.sent_at IS 'When the first submit_sm went out';
COMMENT ON COLUMN nps.outbox.submitted_at IS 'When the SMSC accepted every part';
COMMENT ON COLUMN nps.outbox.done_at IS 'When the message was delivered or failed for good';

-- One row per SMS part: receipts name a part's message_id, and a multi-part
-- message is delivered once every part is.
CREATE TABLE nps.outbox_part (
    outbox_id    bigint NOT NULL REFERENCES nps.outbox ON DELETE CASCADE,
    part_no      smallint NOT NULL CHECK (part_no >= 1),
    smsc_name    text NOT NULL,
    message_id   text NOT NULL,
    state        text NOT NULL DEFAULT 'submitted' CHECK (state IN ('submitted', 'delivered', 'failed')),
    error_code   integer,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz,
    PRIMARY KEY (outbox_id, part_no)
);
CREATE INDEX outbox_part_message ON nps.outbox_part (smsc_name, message_id);
COMMENT ON TABLE nps.outbox_part IS 'SMS parts of outbox messages with the SMSC message id each got';
COMMENT ON COLUMN nps.outbox_part.outbox_id IS 'Message';
COMMENT ON COLUMN nps.outbox_part.part_no IS 'Part number, from 1';
COMMENT ON COLUMN nps.outbox_part.smsc_name IS 'Bind that submitted the part';
COMMENT ON COLUMN nps.outbox_part.message_id IS 'Message id returned in submit_sm_resp';
COMMENT ON COLUMN nps.outbox_part.state IS 'submitted, delivered or failed, from the delivery receipt';
COMMENT ON COLUMN nps.outbox_part.error_code IS 'Error code from the receipt';
COMMENT ON COLUMN nps.outbox_part.submitted_at IS 'When the SMSC accepted the part';
COMMENT ON COLUMN nps.outbox_part.done_at IS 'When the receipt arrived';

CREATE TABLE nps.inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msisdn       text NOT NULL,
    short_code   text NOT NULL,
    body         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    session_id   bigint REFERENCES nps.session ON DELETE SET NULL,
    smsc_name    text,
    status       text NOT NULL DEFAULT 'received' CHECK (status IN
                 ('received', 'answered', 'reasked', 'opt_out', 'unmatched', 'unparsed', 'late', 'duplicate')),
    reason       text,
    dedupe_key   text,
    stored_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON nps.inbox (session_id);
CREATE INDEX ON nps.inbox (msisdn, received_at);
CREATE UNIQUE INDEX inbox_dedupe ON nps.inbox (dedupe_key) WHERE dedupe_key IS NOT NULL;
COMMENT ON TABLE nps.inbox IS 'Every message received from subscribers, parsed or not: no reply is ever lost';
COMMENT ON COLUMN nps.inbox.id IS 'Reply id (key)';
COMMENT ON COLUMN nps.inbox.msisdn IS 'Sender as received (normalised when it is a valid msisdn; raw: hidden from analysts)';
COMMENT ON COLUMN nps.inbox.short_code IS 'Short number the reply was sent to';
COMMENT ON COLUMN nps.inbox.body IS 'Text of the reply, decoded to UTF-8';
COMMENT ON COLUMN nps.inbox.received_at IS 'When the SMSC delivered it';
COMMENT ON COLUMN nps.inbox.session_id IS 'Session the reply was matched to';
COMMENT ON COLUMN nps.inbox.smsc_name IS 'Bind that received it (NULL when recorded through nps.receive)';
COMMENT ON COLUMN nps.inbox.status IS 'received, answered, reasked, opt_out, unmatched, unparsed, late or duplicate';
COMMENT ON COLUMN nps.inbox.reason IS 'Why the reply was not taken as an answer';
COMMENT ON COLUMN nps.inbox.dedupe_key IS 'Identity of an SMSC delivery, so a redelivered deliver_sm is recognised';
COMMENT ON COLUMN nps.inbox.stored_at IS 'When the row was stored';

CREATE TABLE nps.answer (
    session_id   bigint NOT NULL REFERENCES nps.session ON DELETE CASCADE,
    question_no  smallint NOT NULL,
    score        smallint,
    body         text,
    inbox_id     bigint REFERENCES nps.inbox ON DELETE SET NULL,
    answered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, question_no)
);
COMMENT ON TABLE nps.answer IS 'Answers: one per question of a session';
COMMENT ON COLUMN nps.answer.session_id IS 'Session';
COMMENT ON COLUMN nps.answer.question_no IS 'Question answered; 1 is the 0-10 recommendation score';
COMMENT ON COLUMN nps.answer.score IS 'Score for score questions; 1 = yes, 0 = no for yes/no questions; NULL for free text';
COMMENT ON COLUMN nps.answer.body IS 'Reply text as received (free-text answers are the comment)';
COMMENT ON COLUMN nps.answer.inbox_id IS 'Reply the answer came from';
COMMENT ON COLUMN nps.answer.answered_at IS 'When the reply was received';

CREATE TABLE nps.opt_out (
    msisdn      text PRIMARY KEY CHECK (msisdn ~ '^7[0-9]{10}$'),
    opted_at    timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL DEFAULT 'sms' CHECK (source IN ('sms', 'operator', 'import')),
    inbox_id    bigint REFERENCES nps.inbox ON DELETE SET NULL
);
CREATE TRIGGER opt_out_normalize_msisdn BEFORE INSERT OR UPDATE OF msisdn ON nps.opt_out
    FOR EACH ROW EXECUTE FUNCTION nps.normalize_msisdn_trigger();
COMMENT ON TABLE nps.opt_out IS 'Subscribers who asked not to be surveyed (STOP by SMS, or on request)';
COMMENT ON COLUMN nps.opt_out.msisdn IS 'Subscriber (raw number: hidden from analysts)';
COMMENT ON COLUMN nps.opt_out.opted_at IS 'When the subscriber opted out';
COMMENT ON COLUMN nps.opt_out.source IS 'sms (a STOP reply), operator or import';
COMMENT ON COLUMN nps.opt_out.inbox_id IS 'The STOP reply';

CREATE TABLE nps.roaming (
    msisdn       text NOT NULL CHECK (msisdn ~ '^7[0-9]{10}$'),
    country_code text NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    PRIMARY KEY (msisdn, started_at),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX roaming_abroad ON nps.roaming (msisdn) WHERE ended_at IS NULL;
CREATE TRIGGER roaming_normalize_msisdn BEFORE INSERT OR UPDATE OF msisdn ON nps.roaming
    FOR EACH ROW EXECUTE FUNCTION nps.normalize_msisdn_trigger();
COMMENT ON TABLE nps.roaming IS 'Operator feed of subscribers abroad; a survey due while abroad waits until return';
COMMENT ON COLUMN nps.roaming.msisdn IS 'Subscriber (raw number: hidden from analysts)';
COMMENT ON COLUMN nps.roaming.country_code IS 'ISO 3166 country code of the visited network';
COMMENT ON COLUMN nps.roaming.started_at IS 'When the subscriber registered abroad';
COMMENT ON COLUMN nps.roaming.ended_at IS 'When the subscriber came back; NULL while abroad';

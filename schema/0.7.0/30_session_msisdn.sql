------------------------------------------------------------------------------
-- A session's subscriber: an index of started sessions only
------------------------------------------------------------------------------

-- Sessions are looked up by subscriber for three things: the sessions they
-- started (the fatigue rule and the short-code pool of nps.run_due(), a late
-- reply on a code), their active one (replies: session_active_code) and their
-- pending ones (nps.superseded_by(), a STOP).  An index on every session's
-- (msisdn, created_at) served all three at the price of one insertion at a
-- random place per scheduled visit: 4.6 s of CPU per million visits loaded
-- (bench/RESULTS-survey.md), for lookups that run a few thousand times a day.
-- Pending sessions are now found through the subscriber's visits
-- (visit (msisdn, occurred_at), then session (visit_id)), as the scheduling
-- trigger finds them, and only started sessions, the ones with a short
-- code, are indexed by subscriber: written when nps.run_due() starts one.
-- A query on (msisdn, short_code = x) implies the predicate as it stands.
DROP INDEX nps.session_msisdn_created_at_idx;
CREATE INDEX session_msisdn_started ON nps.session (msisdn, short_code) WHERE short_code IS NOT NULL;

-- STOP: as in 0.2.0; the sessions to end are the started ones and, through
-- the subscriber's visits, the pending ones.
CREATE OR REPLACE FUNCTION nps.opt_out_by_sms(p_msisdn text, p_code text, p_inbox bigint,
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
    UPDATE nps.session s
    SET state = CASE WHEN s.id = p_session THEN 'opted_out' ELSE 'cancelled' END,
        state_reason = CASE WHEN s.id = p_session THEN 'stop reply' ELSE 'opted out' END,
        finished_at = p_at, updated_at = now()
    FROM (SELECT o.id FROM nps.session o WHERE o.msisdn = p_msisdn AND o.short_code IS NOT NULL
          UNION
          SELECT o.id FROM nps.visit v JOIN nps.session o ON o.visit_id = v.id WHERE v.msisdn = p_msisdn) k
    WHERE s.id = k.id AND s.msisdn = p_msisdn AND s.state IN ('scheduled', 'deferred', 'active');
    -- One confirmation per opt-out: a subscriber or an auto-responder that
    -- keeps answering STOP must not start an SMS ping-pong at our expense.
    IF newly THEN
        INSERT INTO nps.outbox (session_id, msisdn, source_addr, body, kind)
        VALUES (p_session, p_msisdn, p_code, nps.setting_value('opt_out_confirmation'), 'opt_out_confirmation');
    END IF;
END $$;

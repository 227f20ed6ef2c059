------------------------------------------------------------------------------
-- Alerts: cheaper writes (issue 6: ingest with alerts on at most 20% slower
-- than with them off).  Measured in bench/RESULTS-alerts.md.
------------------------------------------------------------------------------

-- Every alert paid an index entry on its specialist for a reader that never
-- uses it: the row-level security policy alert_see ("salon in my scope OR
-- specialist = me") is one OR with a hashed subplan, which no index can
-- serve (EXPLAIN as a specialist, even with enable_seqscan off: a sequential
-- scan of nps.alert), and nothing else looks alerts up by specialist.
DROP INDEX nps.alert_specialist_idx;

-- The announcement as json, not jsonb: built in the order given (the order
-- docs/alerts.md shows) and printed as it was built, where jsonb sorted and
-- deduplicated the keys into a binary value only to print it again at once.
-- Listeners decode the same object.
DROP FUNCTION nps.alert_payload(nps.alert, text);
CREATE FUNCTION nps.alert_payload(a nps.alert, p_event text) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', a.id, 'event', p_event, 'session_id', a.session_id, 'salon_code', a.salon_code,
        'dealer_code', a.dealer_code, 'severity', a.severity, 'level', a.level,
        'assignee', a.assignee, 'due_at', a.due_at, 'reasons', a.reasons)
$$;
COMMENT ON FUNCTION nps.alert_payload(nps.alert, text) IS
    'The alert as the JSON announced on nps_alert (id, event, session_id, salon_code, dealer_code, severity, level, assignee, due_at, reasons)';

CREATE OR REPLACE FUNCTION nps.alert_announce(a nps.alert, p_event text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    payload json := nps.alert_payload(a, p_event);
BEGIN
    -- Delivered to listeners when the transaction commits, never before.
    PERFORM pg_notify('nps_alert', payload::text);
    RETURN payload::jsonb;
END $$;

-- The reply round (nps.take_replies) runs with sequential and bitmap scans
-- off, and a function's settings reach everything it calls: raising alerts
-- from its answers then planned the alert statement with them off (reply
-- ingest with alerts 1.5x slower in batches, 3.5x one reply at a time,
-- against 1.03x with the planner's defaults).  The alert statement chooses
-- its own plans.
ALTER FUNCTION nps.raise_alerts(nps.answer[]) SET enable_seqscan = on SET enable_bitmapscan = on;

-- How far each bind's SMSC has read our deliver_sm_resps, recorded
-- (src/redelivery.c; docs/reliability.md, "What remains ambiguous").
--
-- After a crash nps.smsc_redelivery_candidates() could only guess which of
-- the bind's last replies the SMSC might deliver again: those stored after
-- the claim of the last message it accepted.  A reply whose resp the SMSC
-- had read, followed by its next question claimed and written but never
-- read (the crash came first), was such a candidate; the question went out
-- again after the restart, and a genuine answer to it with the reply's text
-- ("да" to two yes/no questions) was stored as the reply's redelivery and
-- lost to the dialogue.
--
-- The worker knows which resps the SMSC has read (it answered a request we
-- wrote after them on the same connection).  It now records that knowledge
-- before it acts on it: every reply of the bind up to inbox id `inbox_id`
-- is out of doubt (its resp read, or its redelivery window over), and a
-- message to a subscriber is claimed only once that subscriber's replies on
-- the short code are out of doubt, in a transaction that records the mark
-- first.  So a message claimed before a crash proves its subscriber's
-- earlier replies were read, and the candidates after the crash are only
-- the replies above the mark.
CREATE TABLE nps.smsc_watermark (
    smsc_name   text PRIMARY KEY REFERENCES nps.smsc (name) ON UPDATE CASCADE ON DELETE CASCADE,
    inbox_id    bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE nps.smsc_watermark IS
    'Per bind, how far its SMSC is known to have read our deliver_sm_resps: no reply of the bind at or below inbox_id can be delivered again (written by the worker)';
COMMENT ON COLUMN nps.smsc_watermark.smsc_name IS 'Bind (nps.smsc.name)';
COMMENT ON COLUMN nps.smsc_watermark.inbox_id IS
    'Every reply of the bind with an inbox id up to this one had its deliver_sm_resp read by the SMSC, or its redelivery window is over';
COMMENT ON COLUMN nps.smsc_watermark.recorded_at IS 'When the worker last raised it';
REVOKE ALL ON nps.smsc_watermark FROM PUBLIC;

-- Only ever raised: a worker that restarts knows less than the row says.
CREATE FUNCTION nps.smsc_record_watermark(p_smsc text, p_inbox_id bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO nps.smsc_watermark AS w (smsc_name, inbox_id) VALUES (p_smsc, p_inbox_id)
    ON CONFLICT (smsc_name) DO UPDATE SET inbox_id = excluded.inbox_id, recorded_at = now()
    WHERE w.inbox_id < excluded.inbox_id
$$;
COMMENT ON FUNCTION nps.smsc_record_watermark(text, bigint) IS
    'Worker: records that every reply of bind p_smsc up to inbox id p_inbox_id is out of doubt (called in the claim''s transaction, before the claim); never lowers the mark';
REVOKE ALL ON FUNCTION nps.smsc_record_watermark(text, bigint) FROM PUBLIC;

-- The candidates after a restart: as in 0.3.0, and above the bind's mark.
CREATE OR REPLACE FUNCTION nps.smsc_redelivery_candidates(p_smsc text, p_at timestamptz DEFAULT now())
RETURNS bigint[] LANGUAGE sql STABLE AS $$
    -- received_at is when the worker read the deliver_sm, a moment before
    -- stored_at: it bounds the scan through the inbox_received_at index.
    WITH last AS (
        SELECT max(i.stored_at) AS stored_at FROM nps.inbox i
        WHERE i.smsc_name = p_smsc AND i.received_at > p_at - interval '10 minutes' AND i.stored_at <= p_at
    ), confirmed AS (
        -- The claim of a message the SMSC answered: its submit_sm went out
        -- after the deliver_sm_resp of every reply stored up to that claim.
        SELECT max(o.sent_at) AS sent_at FROM nps.outbox o
        WHERE o.smsc_name = p_smsc AND o.queued_at > p_at - interval '1 hour'
          AND o.submitted_at <= p_at
    ), mark AS (
        SELECT coalesce(max(w.inbox_id), 0) AS inbox_id FROM nps.smsc_watermark w WHERE w.smsc_name = p_smsc
    )
    SELECT coalesce(array_agg(i.id ORDER BY i.id), '{}')
    FROM nps.inbox i, last, confirmed, mark
    WHERE i.smsc_name = p_smsc AND i.received_at > p_at - interval '10 minutes'
      AND i.stored_at > last.stored_at - interval '1 minute' AND i.stored_at <= p_at
      AND (confirmed.sent_at IS NULL OR i.stored_at > confirmed.sent_at)
      AND i.id > mark.inbox_id
      AND NOT EXISTS (SELECT FROM nps.inbox_dedupe_key d WHERE d.dedupe_key = 'redelivery:' || i.id)
$$;
COMMENT ON FUNCTION nps.smsc_redelivery_candidates(text, timestamptz) IS
    'Worker start-up: the replies a stopped or crashed worker of the bind stored in its last minute whose deliver_sm_resp the SMSC may not have read (above the bind''s nps.smsc_watermark, and stored after the claim of the last message it answered); each may come once more';

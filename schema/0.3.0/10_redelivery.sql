-- Redelivered replies (defects A and B of docs/reliability.md).
--
-- SMPP gives a deliver_sm no identity: one whose deliver_sm_resp did not
-- reach the SMSC (connection lost, worker or server crashed right after our
-- commit) comes again, indistinguishable by its content from the subscriber
-- sending the same text twice.  In a survey the same text twice is common
-- ("5" to two questions, "да" to both yes/no questions), so "same text soon
-- after a rebind" (0.2.0) threw genuine answers away.  The rule now:
--
--   * Only a reply stored BEFORE the loss can come again, and only one whose
--     deliver_sm_resp the SMSC is not known to have read.  The worker knows
--     it by stream order: once the SMSC answers a request we wrote after the
--     deliver_sm_resp on the same connection, it has read the resp.  What is
--     unconfirmed when the connection goes is the candidate list the worker
--     passes here (p_candidates, with the time of the loss in p_lost_at).
--     After a crash nobody remembers: nps.smsc_redelivery_candidates() takes
--     the replies of the last minute stored after the claim of the last
--     message the SMSC accepted (a submit_sm written after their resps).
--   * Each stored reply absorbs at most one redelivery, the oldest candidate
--     with the same sender, short code and text first.  The redelivery is
--     stored too, with status 'duplicate' (the dialogue leaves it alone) and
--     dedupe_key 'redelivery:<id of the reply it repeats>', whose unique index
--     enforces "at most one"; it can itself be redelivered after a second loss.
--   * The dialogue: a candidate whose subscriber has since been sent a
--     message the SMSC accepted may have drawn the same text as a genuine
--     answer; that candidate absorbs nothing.  Accepted before the loss, the
--     message also says the SMSC read the candidate's resp, written before
--     it (on a transmitter_receiver bind the worker writes a message
--     claimed after a reply was stored only once the receiver connection
--     has confirmed the reply's resp: src/redelivery.c); first sent after
--     the loss, it is news to the subscriber.
--     A message sent before the loss and accepted only after it (sent
--     again) proves nothing: the SMSC may have read neither it nor the resp.
--     A reply identical to the previous answer that arrives before the next
--     question went out cannot be an answer to it.

-- "Already redelivered" is looked up in nps.inbox_dedupe_key, the unique
-- index of every dedupe_key across the monthly partitions of nps.inbox
-- (schema/0.3.0/50_partitions.sql): nps.inbox itself has no index on it.
DROP FUNCTION nps.receive_part_from_smsc(text, text, text, integer, integer, integer, integer, bytea, timestamptz, timestamptz);
DROP FUNCTION nps.receive_from_smsc(text, text, text, text, timestamptz, timestamptz);

CREATE FUNCTION nps.receive_from_smsc(p_smsc text, p_msisdn text, p_short_code text, p_body text,
                                      p_received_at timestamptz DEFAULT now(),
                                      p_candidates bigint[] DEFAULT NULL,
                                      p_lost_at timestamptz[] DEFAULT NULL,
                                      OUT inbox_id bigint, OUT redelivery_of bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_msisdn text;
    v_body text := coalesce(p_body, '');
BEGIN
    IF cardinality(p_candidates) > 0 THEN
        v_msisdn := nps.reply_msisdn(p_msisdn);
        SELECT c.id INTO redelivery_of
        FROM unnest(p_candidates, p_lost_at) AS k(id, lost_at)
        JOIN nps.inbox c ON c.id = k.id
        WHERE c.smsc_name = p_smsc AND c.short_code = p_short_code AND c.body = v_body
          AND c.msisdn IN (p_msisdn, v_msisdn)
          AND NOT EXISTS (SELECT FROM nps.inbox_dedupe_key d WHERE d.dedupe_key = 'redelivery:' || c.id)
          AND NOT EXISTS (
              SELECT FROM nps.outbox o
              WHERE o.msisdn = v_msisdn AND o.source_addr = p_short_code
                AND o.queued_at >= c.stored_at AND o.submitted_at IS NOT NULL
                AND (o.submitted_at <= k.lost_at OR o.sent_at > k.lost_at))
        ORDER BY c.id
        LIMIT 1;
        IF redelivery_of IS NOT NULL THEN
            INSERT INTO nps.inbox (msisdn, short_code, body, received_at, smsc_name, status, reason, dedupe_key)
            VALUES (v_msisdn, p_short_code, v_body, p_received_at, p_smsc, 'duplicate',
                    'redelivery of reply ' || redelivery_of, 'redelivery:' || redelivery_of)
            RETURNING id INTO inbox_id;
            RETURN;
        END IF;
    END IF;
    inbox_id := nps.receive(p_msisdn, p_short_code, p_body, p_received_at);
    UPDATE nps.inbox SET smsc_name = p_smsc WHERE id = inbox_id;
END $$;
COMMENT ON FUNCTION nps.receive_from_smsc(text, text, text, text, timestamptz, bigint[], timestamptz[]) IS
    'Worker: records a reply received on a bind through nps.receive, or, when it repeats one of p_candidates (replies stored before a loss, lost at p_lost_at) not yet repeated, as a duplicate of it (redelivery_of set)';

CREATE FUNCTION nps.receive_part_from_smsc(p_smsc text, p_msisdn text, p_short_code text,
                                           p_ref integer, p_total integer, p_seq integer,
                                           p_data_coding integer, p_payload bytea,
                                           p_received_at timestamptz DEFAULT now(),
                                           p_candidates bigint[] DEFAULT NULL,
                                           p_lost_at timestamptz[] DEFAULT NULL,
                                           OUT inbox_id bigint, OUT redelivery_of bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_have integer;
    v_payload bytea;
    v_coding integer;
    v_first timestamptz;
BEGIN
    INSERT INTO nps.inbox_part (smsc_name, msisdn, short_code, ref, total, seq, data_coding, payload, received_at)
    VALUES (p_smsc, p_msisdn, p_short_code, p_ref, p_total, p_seq, p_data_coding, p_payload, p_received_at)
    ON CONFLICT DO NOTHING;       -- a redelivered part is the same part
    PERFORM 1 FROM nps.inbox_part
    WHERE smsc_name = p_smsc AND msisdn = p_msisdn AND short_code = p_short_code
      AND ref = p_ref AND total = p_total FOR UPDATE;
    SELECT count(*), string_agg(payload, ''::bytea ORDER BY seq), min(data_coding), min(received_at)
    INTO v_have, v_payload, v_coding, v_first
    FROM nps.inbox_part
    WHERE smsc_name = p_smsc AND msisdn = p_msisdn AND short_code = p_short_code
      AND ref = p_ref AND total = p_total;
    IF v_have < p_total THEN
        inbox_id := 0;             -- stored, waiting for the other parts
        RETURN;
    END IF;
    DELETE FROM nps.inbox_part
    WHERE smsc_name = p_smsc AND msisdn = p_msisdn AND short_code = p_short_code
      AND ref = p_ref AND total = p_total;
    SELECT r.inbox_id, r.redelivery_of INTO inbox_id, redelivery_of
    FROM nps.receive_from_smsc(p_smsc, p_msisdn, p_short_code, nps.decode_sms(v_coding, v_payload),
                               v_first, p_candidates, p_lost_at) r;
END $$;
COMMENT ON FUNCTION nps.receive_part_from_smsc(text, text, text, integer, integer, integer, integer, bytea, timestamptz, bigint[], timestamptz[]) IS
    'Worker: stores one part of a concatenated reply; when the last part is in, records the whole reply as nps.receive_from_smsc does (inbox_id 0 while parts are missing)';

CREATE FUNCTION nps.smsc_redelivery_candidates(p_smsc text, p_at timestamptz DEFAULT now())
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
    )
    SELECT coalesce(array_agg(i.id ORDER BY i.id), '{}')
    FROM nps.inbox i, last, confirmed
    WHERE i.smsc_name = p_smsc AND i.received_at > p_at - interval '10 minutes'
      AND i.stored_at > last.stored_at - interval '1 minute' AND i.stored_at <= p_at
      AND (confirmed.sent_at IS NULL OR i.stored_at > confirmed.sent_at)
      AND NOT EXISTS (SELECT FROM nps.inbox_dedupe_key d WHERE d.dedupe_key = 'redelivery:' || i.id)
$$;
COMMENT ON FUNCTION nps.smsc_redelivery_candidates(text, timestamptz) IS
    'Worker start-up: the replies a stopped or crashed worker of the bind stored in its last minute whose deliver_sm_resp the SMSC may not have read (stored after the claim of the last message it answered); each may come once more';

COMMENT ON COLUMN nps.inbox.dedupe_key IS 'Identity of an SMSC delivery, so a redelivered deliver_sm is recognised: redelivery:<id> on a duplicate row names the reply it repeats (unique: one redelivery per reply)';
COMMENT ON COLUMN nps.smsc_status.duplicates IS 'Redelivered replies recognised: stored with status duplicate, not taken through the dialogue';

REVOKE ALL ON FUNCTION nps.receive_from_smsc(text, text, text, text, timestamptz, bigint[], timestamptz[]),
    nps.receive_part_from_smsc(text, text, text, integer, integer, integer, integer, bytea, timestamptz, bigint[], timestamptz[]),
    nps.smsc_redelivery_candidates(text, timestamptz)
    FROM PUBLIC;

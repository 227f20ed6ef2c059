-- The SMPP engine: what the background worker reads and writes.
--
-- The worker never holds a transaction across a network wait.  Each step of a
-- message is its own short transaction, done by the set-based functions below
-- (called with arrays, so that one transaction records a whole batch):
--   queued --smsc_claim--> sending --smsc_submitted--> submitted
--          --smsc_receipts--> delivered | failed
--   sending --smsc_failed--> failed (permanent submit error)
--   sending --smsc_requeue / smsc_recover--> queued (outcome unknown: resent)
-- Receipts that arrive before their submit_sm_resp is recorded wait in
-- nps.receipt_pending; parts of a concatenated reply wait in nps.inbox_part.

-- A subscriber's messages go out one at a time and in id order: the claim
-- skips a message while an earlier one of the same msisdn is still queued or
-- sending (a throttled message is retried before anything later).  Not a
-- partial index: the planner would AND it into every update by state.
CREATE INDEX outbox_msisdn ON nps.outbox (msisdn, id);
--
-- The functions below update rows named in arrays with "id = ANY (array)"
-- and take per-row values with array_position(): a join to unnest() gets
-- misestimated while the table churns and can end as a nested loop over
-- both arrays.  They also force custom plans, so the planner sees the arrays.

CREATE TABLE nps.receipt_pending (
    smsc_name    text NOT NULL,
    message_id   text NOT NULL,
    state        text NOT NULL CHECK (state IN ('delivered', 'failed')),
    error_code   integer,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (smsc_name, message_id)
);
COMMENT ON TABLE nps.receipt_pending IS 'Delivery receipts whose message id is not recorded yet (the receipt overtook its submit_sm_resp); matched when the part is recorded';
COMMENT ON COLUMN nps.receipt_pending.smsc_name IS 'Bind the receipt came on';
COMMENT ON COLUMN nps.receipt_pending.message_id IS 'Message id as the receipt gave it';
COMMENT ON COLUMN nps.receipt_pending.state IS 'delivered or failed';
COMMENT ON COLUMN nps.receipt_pending.error_code IS 'err: of the receipt';
COMMENT ON COLUMN nps.receipt_pending.received_at IS 'When the receipt arrived';

CREATE TABLE nps.inbox_part (
    smsc_name    text NOT NULL,
    msisdn       text NOT NULL,
    short_code   text NOT NULL,
    ref          integer NOT NULL,
    total        smallint NOT NULL CHECK (total BETWEEN 2 AND 255),
    seq          smallint NOT NULL CHECK (seq BETWEEN 1 AND 255),
    data_coding  smallint NOT NULL,
    payload      bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (smsc_name, msisdn, short_code, ref, total, seq)
);
COMMENT ON TABLE nps.inbox_part IS 'Parts of concatenated replies received so far; the reply goes to nps.inbox when its last part arrives';
COMMENT ON COLUMN nps.inbox_part.smsc_name IS 'Bind the part came on';
COMMENT ON COLUMN nps.inbox_part.msisdn IS 'Sender';
COMMENT ON COLUMN nps.inbox_part.short_code IS 'Short number it was sent to';
COMMENT ON COLUMN nps.inbox_part.ref IS 'Concatenation reference (UDH 8- or 16-bit, or sar_msg_ref_num)';
COMMENT ON COLUMN nps.inbox_part.total IS 'Number of parts of the reply';
COMMENT ON COLUMN nps.inbox_part.seq IS 'Number of this part, from 1';
COMMENT ON COLUMN nps.inbox_part.data_coding IS 'SMPP data_coding of the part';
COMMENT ON COLUMN nps.inbox_part.payload IS 'Encoded text of the part, UDH removed';
COMMENT ON COLUMN nps.inbox_part.received_at IS 'When the part arrived';

-- ---------------------------------------------------------------------------
-- Wake-ups at commit (no polling delay): the trigger functions register a
-- transaction callback that sets the latches held in shared memory.

CREATE FUNCTION nps.wake_workers_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_wake_workers_trigger' LANGUAGE C;
COMMENT ON FUNCTION nps.wake_workers_trigger() IS
    'Trigger: wakes the SMPP workers when the transaction commits (new or requeued outbox rows)';

CREATE FUNCTION nps.wake_launcher_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'nps_wake_launcher_trigger' LANGUAGE C;
COMMENT ON FUNCTION nps.wake_launcher_trigger() IS
    'Trigger: wakes the launcher when the transaction commits (nps.smsc changed)';

CREATE FUNCTION nps.wake_launcher() RETURNS void
    AS 'MODULE_PATHNAME', 'nps_wake_launcher' LANGUAGE C;
COMMENT ON FUNCTION nps.wake_launcher() IS
    'Wakes the launcher when the current transaction commits, so that it rereads nps.smsc';

CREATE TRIGGER outbox_wake AFTER INSERT ON nps.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION nps.wake_workers_trigger();
CREATE TRIGGER outbox_requeue_wake AFTER UPDATE OF state ON nps.outbox
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION nps.wake_workers_trigger();
CREATE TRIGGER smsc_wake AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nps.smsc
    FOR EACH STATEMENT EXECUTE FUNCTION nps.wake_launcher_trigger();

-- ---------------------------------------------------------------------------
-- Sending.

CREATE FUNCTION nps.smsc_claim(p_smsc text, p_limit integer)
RETURNS TABLE (id bigint, msisdn text, source_addr text, body text)
LANGUAGE sql AS $$
    -- = ANY (ARRAY(...)): the rows are found by primary key, never by a scan
    WITH c AS (
        UPDATE nps.outbox o
        SET state = 'sending', smsc_name = p_smsc, attempts = o.attempts + 1,
            sent_at = coalesce(o.sent_at, now()), not_before = NULL
        WHERE o.id = ANY (ARRAY(
              SELECT q.id FROM nps.outbox q
              WHERE q.state = 'queued' AND (q.not_before IS NULL OR q.not_before <= now())
                -- a scalar subquery, evaluated row by row through the index:
                -- NOT EXISTS could become an anti join over the whole table
                AND (SELECT e.id FROM nps.outbox e
                     WHERE e.msisdn = q.msisdn AND e.id < q.id AND e.state IN ('queued', 'sending')
                     LIMIT 1) IS NULL
              ORDER BY q.id LIMIT p_limit
              FOR UPDATE OF q SKIP LOCKED))
        RETURNING o.id, o.msisdn, o.source_addr, o.body)
    SELECT * FROM c ORDER BY id
$$;
COMMENT ON FUNCTION nps.smsc_claim(text, integer) IS
    'Worker: claims up to p_limit queued messages for a bind (queued -> sending), oldest first, one per subscriber at a time';

-- Receipts recorded before their part: applied once the part exists.
CREATE FUNCTION nps.smsc_apply_pending(p_smsc text, p_msgids text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM nps.receipt_pending WHERE smsc_name = p_smsc) THEN
        RETURN 0;
    END IF;
    FOR r IN DELETE FROM nps.receipt_pending
             WHERE smsc_name = p_smsc
               AND message_id = ANY (SELECT unnest(nps.message_id_spellings(x)) FROM unnest(p_msgids) x)
             RETURNING message_id, state, error_code, received_at
    LOOP
        n := n + nps.smsc_receipts(p_smsc, ARRAY[r.message_id], ARRAY[r.state],
                                   ARRAY[coalesce(r.error_code, 0)], r.received_at);
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.smsc_apply_pending(text, text[]) IS
    'Worker: applies receipts that overtook their submit_sm_resp, once those message ids are recorded';

CREATE FUNCTION nps.smsc_submitted(p_smsc text, p_ids bigint[], p_parts smallint[], p_first_msgids text[],
                                   p_part_ids bigint[], p_part_nos smallint[], p_part_msgids text[],
                                   p_check_pending boolean DEFAULT true)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    -- A message resent after a crash replaces the ids of its earlier parts.
    INSERT INTO nps.outbox_part (outbox_id, part_no, smsc_name, message_id)
    SELECT u.id, u.part_no, p_smsc, u.msgid FROM unnest(p_part_ids, p_part_nos, p_part_msgids) u(id, part_no, msgid)
    ON CONFLICT (outbox_id, part_no) DO UPDATE
        SET smsc_name = EXCLUDED.smsc_name, message_id = EXCLUDED.message_id, state = 'submitted',
            error_code = NULL, submitted_at = now(), done_at = NULL;
    UPDATE nps.outbox o
    SET state = 'submitted', parts = p_parts[array_position(p_ids, o.id)],
        message_id = p_first_msgids[array_position(p_ids, o.id)], submitted_at = now(),
        error_code = NULL, error = NULL
    WHERE o.id = ANY (p_ids) AND o.state = 'sending';
    GET DIAGNOSTICS n = ROW_COUNT;
    IF p_check_pending THEN
        PERFORM nps.smsc_apply_pending(p_smsc, p_part_msgids);
    END IF;
    RETURN n;
END $$;
ALTER FUNCTION nps.smsc_submitted(text, bigint[], smallint[], text[], bigint[], smallint[], text[], boolean)
    SET plan_cache_mode = force_custom_plan;
COMMENT ON FUNCTION nps.smsc_submitted(text, bigint[], smallint[], text[], bigint[], smallint[], text[], boolean) IS
    'Worker: records accepted messages (sending -> submitted) and the message id of each part';

CREATE FUNCTION nps.smsc_failed(p_smsc text, p_ids bigint[], p_codes integer[], p_errors text[])
RETURNS integer LANGUAGE sql AS $$
    WITH f AS (
        UPDATE nps.outbox o
        SET state = 'failed', error_code = p_codes[array_position(p_ids, o.id)],
            error = p_errors[array_position(p_ids, o.id)], done_at = now()
        WHERE o.id = ANY (p_ids) AND o.state = 'sending' AND o.smsc_name = p_smsc
        RETURNING 1)
    SELECT count(*)::integer FROM f
$$;
ALTER FUNCTION nps.smsc_failed(text, bigint[], integer[], text[]) SET plan_cache_mode = force_custom_plan;
COMMENT ON FUNCTION nps.smsc_failed(text, bigint[], integer[], text[]) IS
    'Worker: records messages the SMSC refused for good (sending -> failed, with the command_status)';

CREATE FUNCTION nps.smsc_requeue(p_smsc text, p_ids bigint[], p_delay interval DEFAULT '0')
RETURNS integer LANGUAGE sql AS $$
    WITH q AS (
        UPDATE nps.outbox o
        SET state = 'queued', not_before = CASE WHEN p_delay > '0' THEN now() + p_delay END
        WHERE o.id = ANY (p_ids) AND o.state = 'sending' AND o.smsc_name = p_smsc
        RETURNING 1)
    SELECT count(*)::integer FROM q
$$;
COMMENT ON FUNCTION nps.smsc_requeue(text, bigint[], interval) IS
    'Worker: puts messages whose outcome is unknown back in the queue (sending -> queued)';

CREATE FUNCTION nps.smsc_recover(p_smsc text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    UPDATE nps.outbox SET state = 'queued', not_before = NULL
    WHERE state = 'sending' AND smsc_name = p_smsc;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE LOG 'nps: bind "%": % message(s) left in sending were queued again; those whose submit_sm reached the SMSC before the interruption will be delivered twice', p_smsc, n;
    END IF;
    -- Receipts nobody claimed in two days never will (the message was resent).
    DELETE FROM nps.receipt_pending WHERE smsc_name = p_smsc AND received_at < now() - interval '2 days';
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.smsc_recover(text) IS
    'Worker start-up: queues again the messages a stopped or crashed worker left in sending (may send some twice: SMPP cannot tell)';

-- ---------------------------------------------------------------------------
-- Receipts.  SMSCs often give a message id in hex in submit_sm_resp and in
-- decimal in the receipt (or the other way round), so a receipt's id is
-- looked up under each of its spellings, the id as given first.

CREATE FUNCTION nps.message_id_spellings(message_id text) RETURNS text[]
    AS 'MODULE_PATHNAME', 'nps_message_id_spellings' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.message_id_spellings(text) IS
    'The spellings under which an SMSC message id may have been recorded: as given, hex for a decimal id (lower and upper case), decimal for a hex id';

CREATE FUNCTION nps.smsc_receipts(p_smsc text, p_ids text[], p_states text[], p_errors integer[],
                                  p_at timestamptz DEFAULT now())
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
    matched integer;
    spellings text[];
    delivered_ids bigint[];
    failed_ids bigint[];
    failed_codes integer[];
BEGIN
    -- Every spelling first, so that the parts are found through the index.
    SELECT array_agg(x) INTO spellings FROM unnest(p_ids) i, unnest(nps.message_id_spellings(i)) x;
    WITH r AS (SELECT * FROM unnest(p_ids) WITH ORDINALITY r(msgid, ord)),
    c AS (SELECT r.ord, s.msgid, s.rank
          FROM r, unnest(nps.message_id_spellings(r.msgid)) WITH ORDINALITY s(msgid, rank)),
    f AS (SELECT p.outbox_id, p.part_no, p.message_id FROM nps.outbox_part p
          WHERE p.smsc_name = p_smsc AND p.message_id = ANY (spellings)),
    m AS (SELECT DISTINCT ON (c.ord) c.ord, f.outbox_id, f.part_no
          FROM c JOIN f ON f.message_id = c.msgid
          ORDER BY c.ord, c.rank),
    u AS (UPDATE nps.outbox_part p
          SET state = p_states[m.ord], error_code = nullif(p_errors[m.ord], 0), done_at = p_at
          FROM m WHERE p.outbox_id = m.outbox_id AND p.part_no = m.part_no
          RETURNING p.outbox_id),
    -- Receipts with no part yet wait, under the id as given.
    w AS (INSERT INTO nps.receipt_pending (smsc_name, message_id, state, error_code, received_at)
          SELECT p_smsc, r.msgid, p_states[r.ord], nullif(p_errors[r.ord], 0), p_at
          FROM r WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.ord = r.ord)
          ON CONFLICT (smsc_name, message_id) DO UPDATE
              SET state = EXCLUDED.state, error_code = EXCLUDED.error_code, received_at = EXCLUDED.received_at)
    SELECT array_agg(DISTINCT u.outbox_id), count(*) INTO touched, matched FROM u;

    IF touched IS NOT NULL THEN
        -- A message is delivered when all its parts are, failed once one part fails.
        SELECT array_agg(outbox_id) FILTER (WHERE delivered AND NOT failed),
               array_agg(outbox_id) FILTER (WHERE failed), array_agg(error_code) FILTER (WHERE failed)
        INTO delivered_ids, failed_ids, failed_codes
        FROM (SELECT p.outbox_id, bool_or(p.state = 'failed') AS failed,
                     bool_and(p.state = 'delivered') AS delivered, max(p.error_code) AS error_code
              FROM nps.outbox_part p WHERE p.outbox_id = ANY (touched) GROUP BY p.outbox_id) s;
        UPDATE nps.outbox o SET state = 'delivered', done_at = p_at
        WHERE o.id = ANY (delivered_ids) AND o.state = 'submitted';
        UPDATE nps.outbox o
        SET state = 'failed', error_code = failed_codes[array_position(failed_ids, o.id)],
            error = 'delivery receipt: not delivered', done_at = p_at
        WHERE o.id = ANY (failed_ids) AND o.state = 'submitted';
    END IF;
    RETURN matched;
END $$;
ALTER FUNCTION nps.smsc_receipts(text, text[], text[], integer[], timestamptz) SET plan_cache_mode = force_custom_plan;
COMMENT ON FUNCTION nps.smsc_receipts(text, text[], text[], integer[], timestamptz) IS
    'Worker: applies delivery receipts (state delivered or failed) to parts and messages; receipts for ids not recorded yet wait in nps.receipt_pending. Returns the number matched';

-- ---------------------------------------------------------------------------
-- Receiving.  nps.receive is the contract entry point; the survey engine
-- (schema/0.2.0/30_survey.sql) replaces this minimal version with the one
-- that parses the reply.  The worker calls nps.receive_from_smsc, which adds
-- the bind's name and the redelivery check and then goes through nps.receive.

CREATE FUNCTION nps.receive(msisdn text, short_code text, body text, received_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO nps.inbox (msisdn, short_code, body, received_at)
    VALUES (msisdn, short_code, body, received_at)
    RETURNING id
$$;
COMMENT ON FUNCTION nps.receive(text, text, text, timestamptz) IS
    'Records a reply from a subscriber exactly as the worker does for a deliver_sm; returns the inbox id';

CREATE FUNCTION nps.receive_from_smsc(p_smsc text, p_msisdn text, p_short_code text, p_body text,
                                      p_received_at timestamptz DEFAULT now(), p_doubt_since timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    -- A deliver_sm stored just before a connection was lost may come again
    -- (its deliver_sm_resp may not have reached the SMSC).  While the worker
    -- says so (p_doubt_since), the same text from the same subscriber to the
    -- same short code stored since then is a redelivery: NULL, not stored.
    IF p_doubt_since IS NOT NULL AND EXISTS (
        SELECT 1 FROM nps.inbox i
        WHERE i.msisdn IN (p_msisdn, nps.try_normalize_msisdn(p_msisdn)) AND i.short_code = p_short_code
          AND i.body = p_body AND i.smsc_name = p_smsc AND i.stored_at >= p_doubt_since) THEN
        RETURN NULL;
    END IF;
    v_id := nps.receive(p_msisdn, p_short_code, p_body, p_received_at);
    UPDATE nps.inbox SET smsc_name = p_smsc WHERE id = v_id;
    RETURN v_id;
END $$;
COMMENT ON FUNCTION nps.receive_from_smsc(text, text, text, text, timestamptz, timestamptz) IS
    'Worker: records a reply received on a bind through nps.receive; NULL when it is a redelivery of a reply stored since p_doubt_since';

CREATE FUNCTION nps.try_normalize_msisdn(p text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN nps.normalize_msisdn(p);
EXCEPTION WHEN invalid_text_representation THEN
    RETURN p;
END $$;
COMMENT ON FUNCTION nps.try_normalize_msisdn(text) IS
    'The msisdn as 7XXXXXXXXXX when it is one, unchanged otherwise';

CREATE FUNCTION nps.decode_sms(data_coding integer, payload bytea) RETURNS text
    AS 'MODULE_PATHNAME', 'nps_decode_sms' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nps.decode_sms(integer, bytea) IS
    'Decodes an SMS text as carried by SMPP (data_coding 0/1 GSM 03.38, 3 Latin-1, 8 UCS-2) to text';

CREATE FUNCTION nps.receive_part_from_smsc(p_smsc text, p_msisdn text, p_short_code text,
                                           p_ref integer, p_total integer, p_seq integer,
                                           p_data_coding integer, p_payload bytea,
                                           p_received_at timestamptz DEFAULT now(),
                                           p_doubt_since timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
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
        RETURN 0;                  -- stored, waiting for the other parts
    END IF;
    DELETE FROM nps.inbox_part
    WHERE smsc_name = p_smsc AND msisdn = p_msisdn AND short_code = p_short_code
      AND ref = p_ref AND total = p_total;
    RETURN nps.receive_from_smsc(p_smsc, p_msisdn, p_short_code, nps.decode_sms(v_coding, v_payload),
                                 v_first, p_doubt_since);
END $$;
COMMENT ON FUNCTION nps.receive_part_from_smsc(text, text, text, integer, integer, integer, integer, bytea, timestamptz, timestamptz) IS
    'Worker: stores one part of a concatenated reply; when the last part is in, records the whole reply and returns its inbox id (0 while parts are missing, NULL for a redelivery)';

-- ---------------------------------------------------------------------------
-- Status, from the workers' shared memory.

CREATE FUNCTION nps.smsc_counters(
    OUT name text, OUT state text, OUT since timestamptz, OUT pid integer,
    OUT window_in_use integer, OUT submitted bigint, OUT acknowledged bigint,
    OUT throttled bigint, OUT delivered bigint, OUT failed bigint, OUT received bigint,
    OUT duplicates bigint, OUT requeued bigint, OUT reconnects bigint, OUT generic_nacks bigint,
    OUT last_error text, OUT last_error_at timestamptz)
RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'nps_smsc_counters' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION nps.smsc_counters() IS
    'Live state and counters of every bind known to the workers, from shared memory';

CREATE VIEW nps.smsc_status AS
SELECT s.name,
       CASE WHEN c.state IS NOT NULL THEN c.state
            WHEN NOT s.enabled THEN 'disabled'
            ELSE 'stopped' END AS state,
       c.since, c.pid, coalesce(c.window_in_use, 0) AS window_in_use, s.window_size,
       coalesce(c.submitted, 0) AS submitted, coalesce(c.acknowledged, 0) AS acknowledged,
       coalesce(c.throttled, 0) AS throttled, coalesce(c.delivered, 0) AS delivered,
       coalesce(c.failed, 0) AS failed, coalesce(c.received, 0) AS received,
       coalesce(c.duplicates, 0) AS duplicates, coalesce(c.requeued, 0) AS requeued,
       coalesce(c.reconnects, 0) AS reconnects, coalesce(c.generic_nacks, 0) AS generic_nacks,
       c.last_error, c.last_error_at
FROM nps.smsc s LEFT JOIN nps.smsc_counters() c ON c.name = s.name;
COMMENT ON VIEW nps.smsc_status IS 'One row per SMSC bind: state and counters since the server started (from shared memory)';
COMMENT ON COLUMN nps.smsc_status.name IS 'Bind name';
COMMENT ON COLUMN nps.smsc_status.state IS 'stopped, disabled, waiting (nps.enabled off or standby), connecting, binding, bound, throttled, unbinding, backoff (waiting to reconnect)';
COMMENT ON COLUMN nps.smsc_status.since IS 'When the bind entered its state';
COMMENT ON COLUMN nps.smsc_status.pid IS 'Process id of the worker';
COMMENT ON COLUMN nps.smsc_status.window_in_use IS 'submit_sm sent and not yet answered';
COMMENT ON COLUMN nps.smsc_status.window_size IS 'Largest window allowed';
COMMENT ON COLUMN nps.smsc_status.submitted IS 'submit_sm PDUs sent (message parts, retries included)';
COMMENT ON COLUMN nps.smsc_status.acknowledged IS 'submit_sm accepted by the SMSC (command_status 0)';
COMMENT ON COLUMN nps.smsc_status.throttled IS 'submit_sm answered ESME_RTHROTTLED or ESME_RMSGQFUL (retried after a pause)';
COMMENT ON COLUMN nps.smsc_status.delivered IS 'Delivery receipts saying delivered';
COMMENT ON COLUMN nps.smsc_status.failed IS 'Messages failed: refused by the SMSC or receipt saying not delivered';
COMMENT ON COLUMN nps.smsc_status.received IS 'Replies from subscribers stored in nps.inbox';
COMMENT ON COLUMN nps.smsc_status.duplicates IS 'Redelivered replies recognised and acknowledged without storing them again';
COMMENT ON COLUMN nps.smsc_status.requeued IS 'Messages queued again after a crash or a lost connection: each may reach the subscriber twice';
COMMENT ON COLUMN nps.smsc_status.reconnects IS 'Connections opened after the first';
COMMENT ON COLUMN nps.smsc_status.generic_nacks IS 'PDUs answered with generic_nack (unknown or garbled) plus generic_nacks received';
COMMENT ON COLUMN nps.smsc_status.last_error IS 'Last error on the bind';
COMMENT ON COLUMN nps.smsc_status.last_error_at IS 'When the last error happened';

-- The worker's functions are not for applications.
REVOKE ALL ON FUNCTION nps.smsc_claim(text, integer), nps.smsc_submitted(text, bigint[], smallint[], text[], bigint[], smallint[], text[], boolean),
    nps.smsc_failed(text, bigint[], integer[], text[]), nps.smsc_requeue(text, bigint[], interval), nps.smsc_recover(text),
    nps.smsc_receipts(text, text[], text[], integer[], timestamptz), nps.smsc_apply_pending(text, text[]),
    nps.receive_from_smsc(text, text, text, text, timestamptz, timestamptz),
    nps.receive_part_from_smsc(text, text, text, integer, integer, integer, integer, bytea, timestamptz, timestamptz)
    FROM PUBLIC;

-- The launcher of an existing server picks up a freshly created extension at once.
SELECT nps.wake_launcher();

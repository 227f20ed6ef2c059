-- The worker's store, redesigned for throughput (0.3.0).
--
-- In 0.2.0 every state change of an outbox row (queued -> sending ->
-- submitted -> delivered) was a non-HOT update: the state appeared in the
-- predicates of the partial indexes outbox_queued and outbox_in_flight, so
-- each change wrote a new entry into every index of the table, and every
-- message also inserted and updated a row of nps.outbox_part (with a
-- foreign-key check).  Now:
--
-- * No index mentions a column that the claim or the receipt changes
--   (state, smsc_name, attempts, sent_at, not_before, done_at), so those
--   updates are HOT; the table keeps room on each page for them
--   (fillfactor).  The one non-HOT update per message is "submitted", which
--   records the message id (indexed, for the receipts).
-- * The claim finds queued rows through outbox_unsent: rows with neither a
--   message id nor an error code, i.e. exactly those queued or sending.  A
--   row put back in the queue loses its old message id and error (trigger
--   outbox_requeue_reset), so whoever requeues (the worker, an operator)
--   brings it back into that index.
-- * A single-part message is matched by its receipt through
--   nps.outbox.message_id; nps.outbox_part holds the parts of multi-part
--   messages only.
-- * The worker's functions are PL/pgSQL (plans cached for the session)
--   with set-based statements: one UPDATE per batch, its rows found by
--   index probes (a join from unnest() of the arrays to the key, or
--   "key = ANY (array)").

DROP INDEX nps.outbox_queued;
DROP INDEX nps.outbox_in_flight;
DROP INDEX nps.outbox_msisdn;

-- 0.2.0 rows: the parts of single-part messages are the message itself.
DELETE FROM nps.outbox_part p USING nps.outbox o WHERE o.id = p.outbox_id AND o.parts = 1;
-- Waiting rows carry no old outcome (the invariant of outbox_unsent).
UPDATE nps.outbox SET message_id = NULL, error_code = NULL, error = NULL
WHERE state IN ('queued', 'sending') AND (message_id IS NOT NULL OR error_code IS NOT NULL OR error IS NOT NULL);

CREATE INDEX outbox_unsent ON nps.outbox (id) WHERE message_id IS NULL AND error_code IS NULL;
-- A subscriber's messages go out one at a time and in id order: the claim
-- skips a message while an earlier one of the same msisdn is still waiting.
CREATE INDEX outbox_unsent_msisdn ON nps.outbox (msisdn, id) WHERE message_id IS NULL AND error_code IS NULL;
CREATE INDEX outbox_message ON nps.outbox (message_id) WHERE message_id IS NOT NULL;
-- Room on each page for the HOT versions: a batch updates every row of a
-- page in one transaction, so the old and the new version of each row
-- (a few dozen bytes longer at each step) must fit together until the
-- next access prunes the old ones.  At 50 a third of the receipts' updates
-- found no room (bench/RESULTS-smpp.md).
ALTER TABLE nps.outbox SET (fillfactor = 40);

CREATE FUNCTION nps.outbox_requeue_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.message_id := NULL;
    NEW.error_code := NULL;
    NEW.error := NULL;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION nps.outbox_requeue_reset() IS
    'Trigger: a message put back in the queue forgets the message id and error of its earlier attempt, so that the claim finds it again';
CREATE TRIGGER outbox_requeue_reset BEFORE UPDATE OF state ON nps.outbox
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION nps.outbox_requeue_reset();

COMMENT ON COLUMN nps.outbox.message_id IS 'SMSC message id (of the first part; nps.outbox_part has every part of a multi-part message)';

-- ---------------------------------------------------------------------------
-- Sending.

-- jit = off: the planner cannot tell how many queued rows pass the
-- per-subscriber test, so it prices the claim of a few hundred rows of a
-- long queue above jit_inline_above_cost, and compiling took 0.7 s per
-- call (measured on 100,000 queued rows) for a query that runs in a few ms.
CREATE OR REPLACE FUNCTION nps.smsc_claim(p_smsc text, p_limit integer, p_after bigint DEFAULT 0)
RETURNS TABLE (id bigint, msisdn text, source_addr text, body text)
LANGUAGE plpgsql SET jit = off AS $$
#variable_conflict use_column
BEGIN
    -- = ANY (ARRAY(...)): the rows are found by primary key, never by a scan
    RETURN QUERY
    WITH c AS (
        UPDATE nps.outbox o
        SET state = 'sending', smsc_name = p_smsc, attempts = o.attempts + 1,
            sent_at = coalesce(o.sent_at, now()), not_before = NULL
        WHERE o.id = ANY (ARRAY(
              SELECT q.id FROM nps.outbox q
              WHERE q.message_id IS NULL AND q.error_code IS NULL AND q.state = 'queued'
                AND (q.not_before IS NULL OR q.not_before <= now()) AND q.id > p_after
                -- a scalar subquery, evaluated row by row through the index:
                -- NOT EXISTS could become an anti join over the whole table
                AND (SELECT e.id FROM nps.outbox e
                     WHERE e.msisdn = q.msisdn AND e.id < q.id AND e.message_id IS NULL
                       AND e.error_code IS NULL AND e.state IN ('queued', 'sending')
                     LIMIT 1) IS NULL
              ORDER BY q.id LIMIT p_limit
              FOR UPDATE OF q SKIP LOCKED))
        RETURNING o.id, o.msisdn, o.source_addr, o.body)
    SELECT c.id, c.msisdn, c.source_addr, c.body FROM c ORDER BY c.id;
END $$;

-- New arguments p_states / p_errors: a receipt that came in the same batch
-- as its submit_sm_resp is recorded with it (one row version, not two).
DROP FUNCTION nps.smsc_submitted(text, bigint[], smallint[], text[], bigint[], smallint[], text[], boolean);
CREATE FUNCTION nps.smsc_submitted(p_smsc text, p_ids bigint[], p_parts smallint[], p_first_msgids text[],
                                   p_part_ids bigint[], p_part_nos smallint[], p_part_msgids text[],
                                   p_check_pending boolean DEFAULT true,
                                   p_states text[] DEFAULT NULL, p_errors integer[] DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    -- The parts of multi-part messages (a single part is the message
    -- itself), only for rows this statement records: the foreign key is
    -- then checked for multi-part messages only.  A message resent after a
    -- crash replaces the ids of its earlier parts.
    WITH s AS (
        UPDATE nps.outbox o
        SET state = coalesce(m.final, 'submitted'), parts = m.parts, message_id = m.msgid,
            submitted_at = now(), done_at = CASE WHEN m.final IS NOT NULL THEN now() END,
            error_code = CASE WHEN m.final = 'failed' THEN nullif(m.err, 0) END,
            error = CASE WHEN m.final = 'failed' THEN 'delivery receipt: not delivered' END
        FROM (SELECT u.id, u.parts, u.msgid, u.err,
                     -- a multi-part message waits for the receipts of all its parts
                     CASE WHEN u.parts = 1 THEN u.final END AS final
              FROM unnest(p_ids, p_parts, p_first_msgids, p_states, p_errors) AS u(id, parts, msgid, final, err)) m
        WHERE o.id = m.id AND o.state = 'sending'
        RETURNING o.id, o.parts),
    p AS (
        INSERT INTO nps.outbox_part (outbox_id, part_no, smsc_name, message_id)
        SELECT u.id, u.part_no, p_smsc, u.msgid
        FROM unnest(p_part_ids, p_part_nos, p_part_msgids) AS u(id, part_no, msgid)
        JOIN s ON s.id = u.id AND s.parts > 1
        ON CONFLICT (outbox_id, part_no) DO UPDATE
            SET smsc_name = EXCLUDED.smsc_name, message_id = EXCLUDED.message_id, state = 'submitted',
                error_code = NULL, submitted_at = now(), done_at = NULL)
    SELECT count(*) INTO n FROM s;
    IF p_check_pending THEN
        PERFORM nps.smsc_apply_pending(p_smsc, p_first_msgids || p_part_msgids);
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.smsc_submitted(text, bigint[], smallint[], text[], bigint[], smallint[], text[], boolean, text[], integer[]) IS
    'Worker: records accepted messages (sending -> submitted) with the message id of the first part and the id of every part of multi-part messages; a single-part message whose receipt came with its submit_sm_resp (p_states delivered or failed, p_errors its err: code) goes straight to that state';
REVOKE ALL ON FUNCTION nps.smsc_submitted(text, bigint[], smallint[], text[], bigint[], smallint[], text[], boolean, text[], integer[])
    FROM PUBLIC;

CREATE OR REPLACE FUNCTION nps.smsc_recover(p_smsc text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    -- (a row in sending has neither message id nor error: outbox_unsent)
    UPDATE nps.outbox SET state = 'queued', not_before = NULL
    WHERE message_id IS NULL AND error_code IS NULL AND state = 'sending' AND smsc_name = p_smsc;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        RAISE LOG 'nps: bind "%": % message(s) left in sending were queued again; those whose submit_sm reached the SMSC before the interruption will be delivered twice', p_smsc, n;
    END IF;
    -- Receipts nobody claimed in two days never will (the message was resent).
    DELETE FROM nps.receipt_pending WHERE smsc_name = p_smsc AND received_at < now() - interval '2 days';
    RETURN n;
END $$;

-- ---------------------------------------------------------------------------
-- Receipts.  Three steps, the later ones only for what the earlier left:
-- 1. single-part messages by the id exactly as recorded (one UPDATE);
-- 2. parts of multi-part messages by the exact id (one UPDATE);
-- 3. each remaining id under its other spellings (hex <-> decimal, letter
--    case), then a duplicate receipt of a finished message; else the
--    receipt waits in nps.receipt_pending for its submit_sm_resp.

CREATE OR REPLACE FUNCTION nps.smsc_receipts(p_smsc text, p_ids text[], p_states text[], p_errors integer[],
                                             p_at timestamptz DEFAULT now())
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    matched text[];
    part_hits text[];
    touched bigint[];
    rest integer[];
    i integer;
    spellings text[];
    hit bigint;
    part_hit bigint[];
    delivered_ids bigint[];
    failed_ids bigint[];
    failed_codes integer[];
BEGIN
    -- Delivered and failed apart, each "message_id = ANY (ids)": probes of
    -- outbox_message whatever the statistics say, and no join whose inner
    -- side would be rescanned for every row.
    WITH u AS (
        UPDATE nps.outbox o SET state = 'delivered', done_at = p_at
        WHERE o.message_id = ANY (ARRAY(SELECT p_ids[k] FROM generate_subscripts(p_ids, 1) k
                                        WHERE p_states[k] = 'delivered'))
          AND o.smsc_name = p_smsc AND o.parts = 1 AND o.state = 'submitted'
        RETURNING o.message_id)
    SELECT array_agg(u.message_id) INTO matched FROM u;
    IF 'failed' = ANY (p_states) THEN
        WITH u AS (
            UPDATE nps.outbox o
            SET state = 'failed', done_at = p_at, error = 'delivery receipt: not delivered',
                error_code = nullif(p_errors[array_position(p_ids, o.message_id)], 0)
            WHERE o.message_id = ANY (ARRAY(SELECT p_ids[k] FROM generate_subscripts(p_ids, 1) k
                                            WHERE p_states[k] = 'failed'))
              AND o.smsc_name = p_smsc AND o.parts = 1 AND o.state = 'submitted'
            RETURNING o.message_id)
        SELECT matched || array_agg(u.message_id) INTO matched FROM u;
    END IF;
    SELECT array_agg(k) INTO rest FROM generate_subscripts(p_ids, 1) k
    WHERE NOT p_ids[k] = ANY (coalesce(matched, '{}'));
    IF rest IS NULL THEN
        RETURN coalesce(array_length(matched, 1), 0);
    END IF;

    WITH u AS (
        UPDATE nps.outbox_part p
        SET state = p_states[array_position(p_ids, p.message_id)], done_at = p_at,
            error_code = nullif(p_errors[array_position(p_ids, p.message_id)], 0)
        WHERE p.message_id = ANY (ARRAY(SELECT p_ids[k] FROM unnest(rest) k))
          AND p.smsc_name = p_smsc
        RETURNING p.outbox_id, p.message_id)
    SELECT array_agg(u.outbox_id), array_agg(u.message_id) INTO touched, part_hits FROM u;

    FOREACH i IN ARRAY rest LOOP
        CONTINUE WHEN p_ids[i] = ANY (coalesce(part_hits, '{}'));
        spellings := nps.message_id_spellings(p_ids[i]);
        -- another spelling of a single-part message; or any spelling of one
        -- already finished (a receipt sent twice): nothing more to record
        SELECT o.id INTO hit FROM nps.outbox o
        WHERE o.message_id = ANY (spellings) AND o.smsc_name = p_smsc AND o.parts = 1
        ORDER BY o.state = 'submitted' DESC, o.id DESC LIMIT 1;
        IF FOUND THEN
            UPDATE nps.outbox o
            SET state = p_states[i], done_at = p_at,
                error_code = CASE WHEN p_states[i] = 'failed' THEN nullif(p_errors[i], 0) END,
                error = CASE WHEN p_states[i] = 'failed' THEN 'delivery receipt: not delivered' END
            WHERE o.id = hit AND o.state = 'submitted';
            matched := matched || p_ids[i];
            CONTINUE;
        END IF;
        WITH u AS (
            UPDATE nps.outbox_part p
            SET state = p_states[i], error_code = nullif(p_errors[i], 0), done_at = p_at
            WHERE p.smsc_name = p_smsc AND p.message_id = ANY (spellings[2:])
            RETURNING p.outbox_id)
        SELECT array_agg(u.outbox_id) INTO part_hit FROM u;
        IF part_hit IS NOT NULL THEN
            touched := touched || part_hit;
            part_hits := part_hits || p_ids[i];
            CONTINUE;
        END IF;
        INSERT INTO nps.receipt_pending (smsc_name, message_id, state, error_code, received_at)
        VALUES (p_smsc, p_ids[i], p_states[i], nullif(p_errors[i], 0), p_at)
        ON CONFLICT (smsc_name, message_id) DO UPDATE
            SET state = EXCLUDED.state, error_code = EXCLUDED.error_code, received_at = EXCLUDED.received_at;
    END LOOP;

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
    RETURN coalesce(array_length(matched, 1), 0) + coalesce(array_length(part_hits, 1), 0);
END $$;
COMMENT ON FUNCTION nps.smsc_receipts(text, text[], text[], integer[], timestamptz) IS
    'Worker: applies delivery receipts (state delivered or failed) to messages and parts; receipts for ids not recorded yet wait in nps.receipt_pending. Returns the number matched';

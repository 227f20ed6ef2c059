-- A message to a subscriber waits while one of their replies may still come
-- again (src/redelivery.c).
--
-- nps.receive_from_smsc tells a redelivery from a genuine repeat by what the
-- subscriber was sent since the loss: a message first sent after it is news,
-- and may draw the same text as a genuine answer ("да" to questions 4 and 5).
-- That holds only if the redelivery cannot arrive after such a message: an
-- SMSC redelivers on its own schedule, and a reply whose next question was
-- queued but not yet claimed when the worker crashed met its redelivery
-- after the question had gone out afresh, and was taken as the answer to it
-- (t/023_redelivery_hold.pl).  So for the first seconds after the bind,
-- when an SMSC redelivers what it had in flight, the worker claims nothing
-- for the subscriber and short code of an unmatched candidate: p_hold names
-- the candidates (inbox ids); one that has absorbed its redelivery holds
-- nothing more.  Most candidates never come again (the SMSC had read the
-- resp), so the hold is short (src/redelivery.c).  The subscriber's later
-- messages wait behind the held one, as the claim always keeps a
-- subscriber's messages in order.  The candidates are the bind's own, as
-- in nps.receive_from_smsc: another bind's claim holds nothing.
DROP FUNCTION nps.smsc_claim(text, integer, bigint);
CREATE FUNCTION nps.smsc_claim(p_smsc text, p_limit integer, p_after bigint DEFAULT 0,
                               p_hold bigint[] DEFAULT NULL)
RETURNS TABLE (id bigint, msisdn text, source_addr text, body text)
LANGUAGE plpgsql SET jit = off SET enable_sort = off SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    -- no message below the oldest waiting one needs looking at: the months
    -- before its month are left out, for the queue and for the rule
    oldest bigint := (SELECT min(w.id) FROM nps.outbox w WHERE w.message_id IS NULL AND w.error_code IS NULL);
    -- "subscriber/short code" of the candidates not yet repeated
    held text[] := CASE WHEN cardinality(p_hold) > 0 THEN ARRAY(
        SELECT DISTINCT nps.reply_msisdn(i.msisdn) || '/' || i.short_code FROM nps.inbox i
        WHERE i.id = ANY (p_hold)
          AND NOT EXISTS (SELECT FROM nps.inbox_dedupe_key d WHERE d.dedupe_key = 'redelivery:' || i.id)) END;
BEGIN
    IF oldest IS NULL THEN
        RETURN;
    END IF;
    IF cardinality(held) = 0 THEN
        held := NULL;
    END IF;
    ids := ARRAY(
        SELECT q.id FROM nps.outbox q
        WHERE q.message_id IS NULL AND q.error_code IS NULL AND q.state = 'queued'
          AND (q.not_before IS NULL OR q.not_before <= now()) AND q.id > p_after AND q.id >= oldest
          AND (held IS NULL OR NOT q.msisdn || '/' || q.source_addr = ANY (held))
          -- a scalar subquery, evaluated row by row through the index:
          -- NOT EXISTS could become an anti join over the whole table
          AND (SELECT e.id FROM nps.outbox e
               WHERE e.msisdn = q.msisdn AND e.id < q.id AND e.id >= oldest AND e.message_id IS NULL
                 AND e.error_code IS NULL AND e.state IN ('queued', 'sending')
               LIMIT 1) IS NULL
        ORDER BY q.id LIMIT p_limit
        FOR UPDATE OF q SKIP LOCKED);
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH c AS (
        UPDATE nps.outbox o
        SET state = 'sending', smsc_name = p_smsc, attempts = o.attempts + 1,
            sent_at = coalesce(o.sent_at, now()), not_before = NULL
        WHERE o.id = ANY (ids) AND o.id BETWEEN ids[1] AND ids[cardinality(ids)]
        RETURNING o.id, o.msisdn, o.source_addr, o.body)
    SELECT c.id, c.msisdn, c.source_addr, c.body FROM c ORDER BY c.id;
END $$;
COMMENT ON FUNCTION nps.smsc_claim(text, integer, bigint, bigint[]) IS
    'Worker: claims up to p_limit queued messages (ids above p_after) for bind p_smsc, a subscriber''s one at a time in id order, none for the subscriber and short code of a reply in p_hold that may still be redelivered (inbox ids not yet repeated)';
REVOKE ALL ON FUNCTION nps.smsc_claim(text, integer, bigint, bigint[]) FROM PUBLIC;

/*
 * redelivery.c: which stored replies the SMSC may deliver again.
 *
 * A deliver_sm is acknowledged (deliver_sm_resp) only after its reply is
 * committed.  If the connection goes before the SMSC has read that resp,
 * the SMSC delivers the reply again after the next bind, and nothing in
 * the PDU tells it from the subscriber sending the same text twice.  So the
 * worker keeps, per connection, the replies stored on it whose resp the
 * SMSC is not known to have read.  It is known once the SMSC answers a
 * request (submit_sm, enquire_link, unbind) that we wrote after the resp on
 * the same connection: the SMSC reads a connection in order.  Our sequence
 * numbers grow with every request, so "written after" is "sequence number
 * above the last one issued when the reply was stored".  A connection that
 * carries no requests of ours (the receiver of a transmitter_receiver
 * bind, or a transceiver with nothing to send) gets an enquire_link as that
 * barrier (redelivery_barrier_due).
 *
 * On a transmitter_receiver bind the resps and our submit_sm travel on two
 * connections, and nothing orders what the SMSC reads on one against the
 * other: it may accept a submit_sm and drop the bind before it reads the
 * receiver's resps (we even write the transmitter first).  The rule of
 * nps.receive_from_smsc takes a message to the subscriber, accepted before
 * the loss, as proof that the reply's resp was read; so a message claimed
 * after replies were stored (the next question, claimed in the very
 * transaction that stored the answer) is not written until the receiver has
 * confirmed them (redelivery_may_send), and an enquire_link goes out on the
 * receiver at once to confirm them.  A transceiver needs no wait: the
 * submit_sm follows the resps on the same connection.
 *
 * When the connection is lost, what is still unconfirmed becomes the
 * candidate list: nps.receive_from_smsc stores a reply repeating one of
 * them as its duplicate, once per candidate: the database remembers which
 * are used up (schema/0.3.0/10_redelivery.sql), so the list stays whole.
 * At start-up the candidates come from nps.smsc_redelivery_candidates()
 * (inbox_store.c).  Candidates are offered for a minute after the next bind:
 * an SMSC redelivers what it had in flight as soon as it can.  For the first
 * seconds of it nothing is claimed for a candidate's subscriber and short
 * code until its redelivery has come (redelivery_held): a message first sent
 * after the loss is news to the subscriber, so a redelivery that arrived
 * after one would be taken for a genuine answer to it.  Most candidates are
 * never redelivered (the SMSC had read the resp), so the hold is short.
 *
 * What the worker knows must survive a crash (schema/0.8.0/
 * 10_smsc_watermark.sql): every claim first records the mark up to which
 * the bind's replies are out of doubt (resp read, or no longer a held
 * candidate), and claims nothing for the subscriber and short code of a
 * reply above it.  A message claimed before a crash thus proves that its
 * subscriber's earlier replies were read, and after the crash only the
 * replies above the mark are candidates.  A claim that waits for a reply's
 * resp asks for the barrier at once, and its answer claims again.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"

#define DOUBT_MS	60000		/* candidates offered after a bind */
#define HOLD_MS		5000		/* their subscribers' next messages held */
#define BARRIER_MS	200			/* unconfirmed this long: enquire_link */

/* A reply stored on a connection, its deliver_sm_resp not known read */
typedef struct Unconfirmed
{
	int64		inbox_id;
	uint32		generation;		/* of the connection */
	uint32		last_seq;		/* last request sequence issued before it */
	TimestampTz stored_at;
} Unconfirmed;

typedef struct Candidate
{
	int64		inbox_id;
	TimestampTz lost_at;		/* when its connection went */
} Candidate;

/* per connection (W->conns), in the order stored */
static Unconfirmed *unconfirmed[2];
static int	n_unconfirmed[2];
static int	cap_unconfirmed[2];

static Candidate *candidates;
static int	n_candidates;
static int	cap_candidates;
static TimestampTz doubt_until; /* 0: not bound since the candidates came */
static TimestampTz hold_until;	/* likewise */

/* the replies stored by this worker above the recorded mark, in order */
static int64 *stored;
static int	n_stored;
static int	cap_stored;
static int64 highest;			/* of the replies stored and the candidates */
static bool claim_waits;		/* the last claim held a reply's subscriber */
static bool claim_holding;		/* candidates held, as the claim's mark saw it */
static int64 mark_pending;		/* the open store transaction's mark */
static int64 mark_recorded;		/* committed */

/*
 * "a was issued after b": sequence numbers run 1 .. 0x7FFFFFFF and start
 * again at 1 (worker_next_seq), so they compare on that circle; far fewer
 * than 2^30 requests are ever outstanding.
 */
static bool
seq_after(uint32 a, uint32 b)
{
	uint32		d = (a % 0x7FFFFFFF + 0x7FFFFFFF - b % 0x7FFFFFFF) % 0x7FFFFFFF;

	return d != 0 && d < 0x40000000;
}

static void *
grow(void *array, int *cap, int need, Size elem)
{
	if (need <= *cap)
		return array;
	*cap = Max(need, Max(*cap * 2, 16));
	if (array == NULL)
		return MemoryContextAlloc(TopMemoryContext, elem * *cap);
	return repalloc(array, elem * *cap);
}

void
redelivery_add_candidate(int64 inbox_id, TimestampTz lost_at)
{
	candidates = grow(candidates, &cap_candidates, n_candidates + 1, sizeof(Candidate));
	candidates[n_candidates].inbox_id = inbox_id;
	candidates[n_candidates].lost_at = lost_at;
	n_candidates++;
	highest = Max(highest, inbox_id);
}

/*
 * A reply (or a duplicate) was stored from a deliver_sm read on c when it
 * had this generation.  Its resp goes out after the commit, before any
 * request issued from now on.
 */
void
redelivery_stored(SmppConn *c, uint32 generation, int64 inbox_id)
{
	int			i = c - W->conns;
	Unconfirmed *u;

	stored = grow(stored, &cap_stored, n_stored + 1, sizeof(int64));
	stored[n_stored++] = inbox_id;
	highest = Max(highest, inbox_id);
	if (c->generation != generation || (c->state != CS_BOUND && c->state != CS_UNBINDING))
	{
		/* the connection went before the resp could: it will come again */
		redelivery_add_candidate(inbox_id, GetCurrentTimestamp());
		return;
	}
	unconfirmed[i] = grow(unconfirmed[i], &cap_unconfirmed[i], n_unconfirmed[i] + 1, sizeof(Unconfirmed));
	u = &unconfirmed[i][n_unconfirmed[i]++];
	u->inbox_id = inbox_id;
	u->generation = generation;
	u->last_seq = W->next_seq;
	u->stored_at = GetCurrentTimestamp();
}

/* The SMSC answered our request seq on c: it read every resp written before. */
void
redelivery_response(SmppConn *c, uint32 seq)
{
	int			i = c - W->conns;
	int			kept = 0;

	for (int k = 0; k < n_unconfirmed[i]; k++)
	{
		Unconfirmed *u = &unconfirmed[i][k];

		if (u->generation == c->generation && seq_after(seq, u->last_seq))
			continue;
		unconfirmed[i][kept++] = *u;
	}
	/* a claim waited for these: it may take their subscribers' messages now */
	if (kept < n_unconfirmed[i] && claim_waits)
	{
		W->outbox_maybe = true;
		W->claim_after = 0;
	}
	n_unconfirmed[i] = kept;
}

/* Replies unconfirmed for a while on an idle connection: ask for a barrier. */
bool
redelivery_barrier_due(SmppConn *c, TimestampTz now)
{
	int			i = c - W->conns;

	return n_unconfirmed[i] > 0 &&
		(claim_waits || now >= TimestampTzPlusMilliseconds(unconfirmed[i][0].stored_at, BARRIER_MS));
}

/*
 * After the store transaction's resps are queued: a claim that waits for
 * them gets its barrier behind them now (or, while a request is out, once
 * its answer comes: redelivery_barrier_due).
 */
void
redelivery_barrier_now(void)
{
	for (int i = 0; claim_waits && i < W->nconns; i++)
		if (n_unconfirmed[i] > 0)
			session_barrier(&W->conns[i]);
}

/*
 * May a message claimed when claim_seq was the last request sequence go on
 * the wire?  Not on a transmitter_receiver bind while a reply stored before
 * the claim (its last_seq at most claim_seq) is unconfirmed on the
 * receiver: then the receiver is asked for the barrier now.
 */
bool
redelivery_may_send(uint32 claim_seq)
{
	if (W->nconns < 2 || n_unconfirmed[1] == 0 || seq_after(unconfirmed[1][0].last_seq, claim_seq))
		return true;
	session_barrier(&W->conns[1]);
	return false;
}

/* Every connection is closed: what was unconfirmed may come again. */
void
redelivery_connection_lost(void)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < lengthof(unconfirmed); i++)
	{
		for (int k = 0; k < n_unconfirmed[i]; k++)
			redelivery_add_candidate(unconfirmed[i][k].inbox_id, now);
		n_unconfirmed[i] = 0;
	}
	doubt_until = hold_until = 0;
}

void
redelivery_bound(TimestampTz now)
{
	doubt_until = TimestampTzPlusMilliseconds(now, DOUBT_MS);
	hold_until = TimestampTzPlusMilliseconds(now, HOLD_MS);
}

/* Whether a reply arriving now may be the redelivery of a stored one. */
bool
redelivery_in_doubt(void)
{
	if (n_candidates > 0 && doubt_until != 0 && GetCurrentTimestamp() >= doubt_until)
		n_candidates = 0;		/* the window after the bind is over */
	return n_candidates > 0;
}

/* Candidates whose subscribers' messages wait: the first seconds after a bind. */
static bool
holding(void)
{
	return redelivery_in_doubt() && (hold_until == 0 || GetCurrentTimestamp() < hold_until);
}

/*
 * The mark for nps.smsc_record_watermark in the open store transaction
 * (false when it is not above the one recorded): every reply of the bind up
 * to it is out of doubt, i.e. below the first reply whose resp is
 * unconfirmed and below every held candidate, or, with none of those, the
 * highest reply this worker knows of.
 */
bool
redelivery_watermark(int64 *mark)
{
	int64		doubt = PG_INT64_MAX;

	/* redelivery_held decides with the same answer: the hold may end between */
	claim_holding = holding();
	for (int i = 0; i < lengthof(unconfirmed); i++)
		if (n_unconfirmed[i] > 0)
			doubt = Min(doubt, unconfirmed[i][0].inbox_id);
	for (int k = 0; claim_holding && k < n_candidates; k++)
		doubt = Min(doubt, candidates[k].inbox_id);
	*mark = doubt != PG_INT64_MAX ? doubt - 1 : highest;
	mark_pending = Max(*mark, mark_recorded);
	return *mark > mark_recorded;
}

/*
 * The store transaction ended.  Committed, its mark is recorded and the
 * replies up to it are forgotten; rolled back, nothing of it holds.
 */
void
redelivery_txn_end(bool committed)
{
	int			kept = 0;

	if (committed)
		mark_recorded = mark_pending;
	mark_pending = mark_recorded;
	for (int k = 0; k < n_stored; k++)
		if (stored[k] > mark_recorded)
			stored[kept++] = stored[k];
	n_stored = kept;
}

/*
 * The replies whose subscribers' messages wait (nps.smsc_claim's p_hold):
 * those above the mark of this transaction (redelivery_watermark, called
 * first), and the candidates while held; false when none wait.
 */
bool
redelivery_held(Datum *ids)
{
	bool		held = claim_holding;
	Datum	   *d = palloc(sizeof(Datum) * (n_stored + n_candidates));
	int			n = 0;

	for (int k = 0; k < n_stored; k++)
		if (stored[k] > mark_pending)
			d[n++] = Int64GetDatum(stored[k]);
	claim_waits = n > 0;
	for (int k = 0; held && k < n_candidates; k++)
		d[n++] = Int64GetDatum(candidates[k].inbox_id);
	if (n == 0)
		return false;
	*ids = PointerGetDatum(construct_array(d, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	return true;
}

/*
 * The candidates as arrays for nps.receive_from_smsc (bigint[] ids and
 * timestamptz[] loss times); false when there are none to offer.
 */
bool
redelivery_candidates(Datum *ids, Datum *lost_at)
{
	Datum	   *d;

	if (!redelivery_in_doubt())
		return false;
	d = palloc(sizeof(Datum) * n_candidates);
	for (int k = 0; k < n_candidates; k++)
		d[k] = Int64GetDatum(candidates[k].inbox_id);
	*ids = PointerGetDatum(construct_array(d, n_candidates, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	for (int k = 0; k < n_candidates; k++)
		d[k] = TimestampTzGetDatum(candidates[k].lost_at);
	*lost_at = PointerGetDatum(construct_array(d, n_candidates, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
											   TYPALIGN_DOUBLE));
	return true;
}

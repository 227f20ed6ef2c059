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

		if (u->generation == c->generation && seq > u->last_seq)
			continue;
		unconfirmed[i][kept++] = *u;
	}
	n_unconfirmed[i] = kept;
}

/* Replies unconfirmed for a while on an idle connection: ask for a barrier. */
bool
redelivery_barrier_due(SmppConn *c, TimestampTz now)
{
	int			i = c - W->conns;

	return n_unconfirmed[i] > 0 &&
		now >= TimestampTzPlusMilliseconds(unconfirmed[i][0].stored_at, BARRIER_MS);
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
	if (W->nconns < 2 || n_unconfirmed[1] == 0 || unconfirmed[1][0].last_seq > claim_seq)
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

/*
 * The candidates whose subscribers' messages still wait (nps.smsc_claim's
 * p_hold), as for redelivery_candidates; false when none wait.
 */
bool
redelivery_held(Datum *ids)
{
	if (hold_until != 0 && GetCurrentTimestamp() >= hold_until)
		return false;
	return redelivery_candidates(ids, NULL);
}

/*
 * The candidates as arrays for nps.receive_from_smsc (bigint[] ids and
 * timestamptz[] loss times; lost_at may be NULL: nps.smsc_claim takes the
 * ids only); false when there are none to offer.
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
	if (lost_at == NULL)
		return true;
	for (int k = 0; k < n_candidates; k++)
		d[k] = TimestampTzGetDatum(candidates[k].lost_at);
	*lost_at = PointerGetDatum(construct_array(d, n_candidates, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
											   TYPALIGN_DOUBLE));
	return true;
}

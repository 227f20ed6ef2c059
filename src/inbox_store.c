/*
 * inbox_store.c: replies and delivery receipts, inside the worker's store
 * transaction (outbox_store.c), and nps.decode_sms() for SQL.
 *
 * The replies of a flush are stored with one call of nps.store_replies (one
 * INSERT of their inbox rows, taken through the dialogue set-based), in a
 * subtransaction.  If that fails, each is stored again in its own
 * subtransaction: one that still fails (a text that cannot be decoded, an
 * error in the survey engine) gets ESME_RX_T_APPN, so the SMSC delivers it
 * again later, and the others are kept.  Parts of concatenated replies, and
 * every reply while some may be redeliveries, go one at a time through
 * nps.receive_part_from_smsc / nps.receive_from_smsc, in order of arrival.
 * Receipts are applied in one set-based call, in a subtransaction of their
 * own.
 *
 * The counters of nps.smsc_status are updated only once the store
 * transaction has committed (inbox_store_committed): a subtransaction that
 * succeeded is still undone if its transaction fails, and the SMSC then
 * delivers those replies and receipts again.  (The redelivery bookkeeping
 * may note a reply that the failure then undoes: its id names no row, and
 * nps.receive_from_smsc matches no redelivery to it.)
 *
 * Redeliveries: SMPP gives a reply no identity, so a deliver_sm whose
 * deliver_sm_resp was lost (connection dropped right after our commit)
 * comes again indistinguishable from the subscriber sending the same text
 * twice.  redelivery.c keeps the replies stored before a loss whose resp
 * the SMSC may not have read; nps.receive_from_smsc stores a reply that
 * repeats one of them as its duplicate (status 'duplicate', counted, kept
 * out of the dialogue), at most once per stored reply.  Parts of
 * concatenated replies are keyed by their reference, so a redelivered part
 * is recognised at any time.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"
#include "text_codec.h"

PG_FUNCTION_INFO_V1(nps_decode_sms);
PG_FUNCTION_INFO_V1(nps_message_id_spellings);

static SPIPlanPtr plan_mo = NULL;
static SPIPlanPtr plan_batch = NULL;
static SPIPlanPtr plan_part = NULL;
static SPIPlanPtr plan_receipts = NULL;

/* What this flush stored, counted once its transaction commits */
static uint64 n_received;
static uint64 n_duplicates;
static uint64 n_delivered;
static uint64 n_failed;

/* A run of replies stored with one call of nps.store_replies */
typedef struct ReplyBatch
{
	StoredMo  **mo;
	int			n;
} ReplyBatch;

static char *
decode_text(int data_coding, const uint8 *in, size_t len)
{
	size_t		outsize = NPS_UTF8_MAX_FROM_GSM7(len) + 4;
	char	   *out = palloc(outsize);
	int			n = nps_decode_to_utf8(data_coding, in, len, out, outsize);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("cannot decode an SMS text with data_coding %d", data_coding),
				 errdetail("The text is %zu octets long.", len)));
	return out;
}

/* nps.decode_sms(data_coding, payload): the text of an SMS as SMPP carried it */
Datum
nps_decode_sms(PG_FUNCTION_ARGS)
{
	int32		dc = PG_GETARG_INT32(0);
	bytea	   *payload = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_TEXT_P(cstring_to_text(decode_text(dc, (const uint8 *) VARDATA_ANY(payload),
												 VARSIZE_ANY_EXHDR(payload))));
}

/* nps.message_id_spellings(id): see receipt_id_candidates() */
Datum
nps_message_id_spellings(PG_FUNCTION_ARGS)
{
	char	   *id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char		c[4][SMPP_MSGID_MAX + 1];
	Datum		d[4];
	int			n;

	if (strlen(id) > SMPP_MSGID_MAX)
		PG_RETURN_ARRAYTYPE_P(construct_array(&d[0], 0, TEXTOID, -1, false, TYPALIGN_INT));
	n = receipt_id_candidates(id, c, lengthof(c));
	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(c[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

void
inbox_store_prepare(void)
{
	Oid			mo[] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8ARRAYOID,
	TIMESTAMPTZARRAYOID};
	Oid			part[] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, INT4OID, INT4OID, INT4OID, BYTEAOID,
	TIMESTAMPTZOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID};
	Oid			receipts[] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
	Oid			batch[] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID};

	plan_mo = SPI_prepare("SELECT inbox_id, redelivery_of FROM nps.receive_from_smsc($1, $2, $3, $4, $5, $6, $7)",
						  7, mo);
	plan_batch = SPI_prepare("SELECT nps.store_replies($1, $2, $3, $4, $5)", 5, batch);
	plan_part = SPI_prepare("SELECT inbox_id, redelivery_of "
							"FROM nps.receive_part_from_smsc($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
							11, part);
	plan_receipts = SPI_prepare("SELECT nps.smsc_receipts($1, $2, $3, $4)", 4, receipts);
	if (plan_mo == NULL || plan_batch == NULL || plan_part == NULL || plan_receipts == NULL)
		elog(ERROR, "could not prepare the inbox statements: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan_mo);
	SPI_keepplan(plan_batch);
	SPI_keepplan(plan_part);
	SPI_keepplan(plan_receipts);
}

/*
 * At start the worker does not know whether its predecessor's last resps
 * reached the SMSC: the replies nps.smsc_redelivery_candidates() names may
 * come once more.
 */
void
inbox_store_doubt_at_start(void)
{
	Datum		arg = CStringGetTextDatum(W->cfg.name);
	Oid			argtype = TEXTOID;
	TimestampTz now = GetCurrentTimestamp();

	if (SPI_execute_with_args("SELECT unnest(nps.smsc_redelivery_candidates($1))",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the replies that may be redelivered");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		redelivery_add_candidate(DatumGetInt64(d), now);
	}
}

/*
 * Runs fn(arg) in a subtransaction; false if it failed, the error logged as
 * "<what> not stored, <then>: <error>".
 */
static bool
in_subxact(void (*fn) (void *), void *arg, const char *what, const char *then)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		worker_note_error("%s not stored, %s: %s", what, then, edata->message);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/*
 * A reply is stored (counted at commit); this row, too, may come again if
 * its resp does not get through.
 */
static void
note_stored(const StoredMo *m, int64 inbox_id, bool duplicate)
{
	PendingResp *resp = &W->resps[m->resp];

	if (duplicate)
		n_duplicates++;
	else
		n_received++;
	redelivery_stored(resp->conn, resp->conn_generation, inbox_id);
}

/* The connection a reply came on is gone: its resp will never be sent. */
static bool
connection_gone(const StoredMo *m)
{
	PendingResp *resp = &W->resps[m->resp];

	return resp->conn->generation != resp->conn_generation ||
		(resp->conn->state != CS_BOUND && resp->conn->state != CS_UNBINDING);
}

static void
store_one_mo(void *arg)
{
	StoredMo   *m = arg;
	Datum		values[11];
	char		nulls[11];
	Datum		cand_ids = (Datum) 0;
	Datum		cand_lost = (Datum) 0;
	bool		doubt = redelivery_candidates(&cand_ids, &cand_lost);
	bool		isnull;
	int			rc;
	int64		id;
	Datum		of;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(W->cfg.name);
	values[1] = CStringGetTextDatum(m->msisdn);
	values[2] = CStringGetTextDatum(m->short_code);
	if (m->total == 0)
	{
		values[3] = CStringGetTextDatum(decode_text(m->data_coding, (uint8 *) VARDATA(m->payload),
													VARSIZE(m->payload) - VARHDRSZ));
		values[4] = TimestampTzGetDatum(m->received_at);
		values[5] = cand_ids;
		values[6] = cand_lost;
		nulls[5] = nulls[6] = doubt ? ' ' : 'n';
		rc = SPI_execute_plan(plan_mo, values, nulls, false, 1);
	}
	else
	{
		values[3] = Int32GetDatum(m->ref);
		values[4] = Int32GetDatum(m->total);
		values[5] = Int32GetDatum(m->seq);
		values[6] = Int32GetDatum(m->data_coding);
		values[7] = PointerGetDatum(m->payload);
		values[8] = TimestampTzGetDatum(m->received_at);
		values[9] = cand_ids;
		values[10] = cand_lost;
		nulls[9] = nulls[10] = doubt ? ' ' : 'n';
		rc = SPI_execute_plan(plan_part, values, nulls, false, 1);
	}
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not store a reply: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (id == 0)
		return;					/* a part, waiting for the others */
	of = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (!isnull)
		ereport(LOG, (errmsg("nps: bind \"%s\": redelivered reply from %s to %s stored as inbox %lld, a duplicate of %lld",
							 W->cfg.name, m->msisdn, m->short_code, (long long) id,
							 (long long) DatumGetInt64(of))));
	note_stored(m, id, !isnull);
}

/* A run of single-part replies (no redelivery in doubt) in one call. */
static void
store_mo_batch(void *arg)
{
	ReplyBatch *b = arg;
	Datum	   *msisdns = palloc(sizeof(Datum) * b->n);
	Datum	   *codes = palloc(sizeof(Datum) * b->n);
	Datum	   *bodies = palloc(sizeof(Datum) * b->n);
	Datum	   *times = palloc(sizeof(Datum) * b->n);
	Datum		values[5];
	Datum	   *ids;
	bool	   *idnulls;
	int			nids;
	bool		isnull;
	int			rc;

	for (int i = 0; i < b->n; i++)
	{
		StoredMo   *m = b->mo[i];

		msisdns[i] = CStringGetTextDatum(m->msisdn);
		codes[i] = CStringGetTextDatum(m->short_code);
		bodies[i] = CStringGetTextDatum(decode_text(m->data_coding, (uint8 *) VARDATA(m->payload),
													VARSIZE(m->payload) - VARHDRSZ));
		times[i] = TimestampTzGetDatum(m->received_at);
	}
	values[0] = CStringGetTextDatum(W->cfg.name);
	values[1] = PointerGetDatum(construct_array(msisdns, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(codes, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(bodies, b->n, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(times, b->n, TIMESTAMPTZOID, sizeof(TimestampTz),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	rc = SPI_execute_plan(plan_batch, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not store a batch of replies: %s", SPI_result_code_string(rc));
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
					  INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ids, &idnulls, &nids);
	if (nids != b->n)
		elog(ERROR, "nps.store_replies returned %d ids for %d replies", nids, b->n);
	/* nothing fails after this: the fallback never notes a reply twice */
	for (int i = 0; i < b->n; i++)
		note_stored(b->mo[i], DatumGetInt64(ids[i]), false);
}

static void
store_single(StoredMo *m)
{
	if (!in_subxact(store_one_mo, m, "a reply", "the SMSC will deliver it again"))
		W->resps[m->resp].status = SMPP_ST_RX_T_APPN;
}

/*
 * The run in one call; if that fails (one bad reply spoils the statement),
 * each on its own, so that only the bad one is refused.
 */
static void
store_run(StoredMo **run, int n)
{
	ReplyBatch	b = {run, n};

	if (n == 1)
	{
		if (!in_subxact(store_mo_batch, &b, "a reply", "the SMSC will deliver it again"))
			W->resps[run[0]->resp].status = SMPP_ST_RX_T_APPN;
	}
	else if (n > 1 &&
			 !in_subxact(store_mo_batch, &b, "a batch of replies", "each is stored on its own instead"))
	{
		for (int i = 0; i < n; i++)
			store_single(run[i]);
	}
}

/* Receipts not already recorded with their message (outbox_store.c). */
static void
store_receipts(void *arg)
{
	int			n = 0;
	Datum	   *ids = palloc(sizeof(Datum) * list_length(W->receipts));
	Datum	   *states = palloc(sizeof(Datum) * list_length(W->receipts));
	Datum	   *errors = palloc(sizeof(Datum) * list_length(W->receipts));
	Datum		values[4];
	int			rc;
	ListCell   *lc;

	foreach(lc, W->receipts)
	{
		StoredReceipt *r = lfirst(lc);

		if (r->merged)
			continue;
		ids[n] = CStringGetTextDatum(r->message_id);
		states[n] = CStringGetTextDatum(r->delivered ? "delivered" : "failed");
		errors[n++] = Int32GetDatum(r->error_code);
	}
	if (n == 0)
		return;
	values[0] = CStringGetTextDatum(W->cfg.name);
	values[1] = PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(states, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(errors, n, INT4OID, 4, true, TYPALIGN_INT));
	rc = SPI_execute_plan(plan_receipts, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not apply receipts: %s", SPI_result_code_string(rc));
}

/*
 * Stores the turn's replies and receipts.  Runs of consecutive single-part
 * replies go in one call each; a part, or any reply while a redelivery may
 * come, alone: the inbox ids keep the order of arrival, which orders a
 * subscriber's answers.  A reply whose connection is gone goes alone too:
 * it becomes a redelivery candidate, so the replies after it (perhaps its
 * redelivery on a new connection) are checked against it.
 */
void
inbox_store_flush(void)
{
	ListCell   *lc;
	bool		doubt = redelivery_in_doubt();
	StoredMo  **run = palloc(sizeof(StoredMo *) * Max(1, list_length(W->mo)));
	int			nrun = 0;

	/* what an earlier, failed transaction counted is void */
	n_received = n_duplicates = n_delivered = n_failed = 0;

	foreach(lc, W->mo)
	{
		StoredMo   *m = lfirst(lc);

		if (m->total == 0 && !doubt && !connection_gone(m))
		{
			run[nrun++] = m;
			continue;
		}
		store_run(run, nrun);
		nrun = 0;
		store_single(m);
		doubt = redelivery_in_doubt();
	}
	store_run(run, nrun);
	if (W->receipts != NIL)
	{
		bool		ok = in_subxact(store_receipts, NULL, "a batch of delivery receipts",
									"the SMSC will deliver them again");

		foreach(lc, W->receipts)
		{
			StoredReceipt *r = lfirst(lc);

			if (!ok)
				W->resps[r->resp].status = SMPP_ST_RX_T_APPN;
			else if (r->delivered)
				n_delivered++;
			else
				n_failed++;
		}
	}
}

/* The store transaction committed: count what it stored. */
void
inbox_store_committed(void)
{
	nps_count(W->slot, NPS_C_RECEIVED, n_received);
	nps_count(W->slot, NPS_C_DUPLICATES, n_duplicates);
	nps_count(W->slot, NPS_C_DELIVERED, n_delivered);
	nps_count(W->slot, NPS_C_FAILED, n_failed);
	n_received = n_duplicates = n_delivered = n_failed = 0;
}

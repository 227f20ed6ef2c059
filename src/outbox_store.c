/*
 * outbox_store.c: the statements of the worker's transactions.  Each turn of
 * the worker loop runs at most one short transaction (store_txn.c) that
 * records what the wire said since the last turn (accepted, refused and
 * requeued messages, receipts and replies) and claims the next messages,
 * then commits; only after the commit are the deliver_sm_resp sent.  No
 * transaction is ever open while the worker waits on the network.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"

static SPIPlanPtr plan_claim = NULL;
static SPIPlanPtr plan_submitted = NULL;
static SPIPlanPtr plan_failed = NULL;
static SPIPlanPtr plan_requeue = NULL;
static SPIPlanPtr plan_watermark = NULL;

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(p);
	return p;
}

static int
interval_ms(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);
	int64		us = iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * 30 * USECS_PER_DAY;

	return (int) Min(Max(us / 1000, 1), INT_MAX);
}

/* Reads the bind's row of nps.smsc into W->cfg (once: a change restarts us). */
void
store_load_config(const char *name)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	BindConfig *c = &W->cfg;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("SELECT host, port, system_id, password, system_type, bind_mode, "
							  "window_size, max_parts_per_second, source_ton, source_npi, dest_ton, "
							  "dest_npi, long_message, enquire_link_interval, response_timeout, "
							  "reconnect_min, reconnect_max FROM nps.smsc WHERE name = $1 AND enabled",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read nps.smsc");
	if (SPI_processed != 1)
	{
		/* deleted or disabled between the launcher's look and ours */
		ereport(LOG, (errmsg("nps: bind \"%s\" is gone or disabled; worker exits", name)));
		proc_exit(0);
	}
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	strlcpy(c->name, name, sizeof(c->name));
	strlcpy(c->host, SPI_getvalue(t, d, 1), sizeof(c->host));
	c->port = DatumGetInt32(SPI_getbinval(t, d, 2, &isnull));
	strlcpy(c->system_id, SPI_getvalue(t, d, 3), sizeof(c->system_id));
	strlcpy(c->password, SPI_getvalue(t, d, 4), sizeof(c->password));
	strlcpy(c->system_type, SPI_getvalue(t, d, 5), sizeof(c->system_type));
	c->transceiver = strcmp(SPI_getvalue(t, d, 6), "transceiver") == 0;
	c->window_size = DatumGetInt32(SPI_getbinval(t, d, 7, &isnull));
	c->max_parts_per_second = DatumGetInt32(SPI_getbinval(t, d, 8, &isnull));
	c->source_ton = DatumGetInt16(SPI_getbinval(t, d, 9, &isnull));
	c->source_npi = DatumGetInt16(SPI_getbinval(t, d, 10, &isnull));
	c->dest_ton = DatumGetInt16(SPI_getbinval(t, d, 11, &isnull));
	c->dest_npi = DatumGetInt16(SPI_getbinval(t, d, 12, &isnull));
	{
		const char *lm = SPI_getvalue(t, d, 13);

		c->long_message = strcmp(lm, "sar") == 0 ? LM_SAR :
			strcmp(lm, "payload") == 0 ? LM_PAYLOAD : LM_UDH;
	}
	c->enquire_ms = interval_ms(SPI_getbinval(t, d, 14, &isnull));
	c->response_ms = interval_ms(SPI_getbinval(t, d, 15, &isnull));
	c->reconnect_min_ms = interval_ms(SPI_getbinval(t, d, 16, &isnull));
	c->reconnect_max_ms = interval_ms(SPI_getbinval(t, d, 17, &isnull));

	{
		Oid			claim[] = {TEXTOID, INT4OID, INT8OID, INT8ARRAYOID};
		Oid			submitted[] = {TEXTOID, INT8ARRAYOID, INT2ARRAYOID, TEXTARRAYOID,
			INT8ARRAYOID, INT2ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
		Oid			failed[] = {TEXTOID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
		Oid			requeue[] = {TEXTOID, INT8ARRAYOID};
		Oid			watermark[] = {TEXTOID, INT8OID};

		plan_claim = prepare("SELECT id, msisdn, source_addr, body FROM nps.smsc_claim($1, $2, $3, $4)", 4, claim);
		plan_submitted = prepare("SELECT nps.smsc_submitted($1, $2, $3, $4, $5, $6, $7, true, $8, $9)",
								 9, submitted);
		plan_failed = prepare("SELECT nps.smsc_failed($1, $2, $3, $4)", 4, failed);
		plan_requeue = prepare("SELECT nps.smsc_requeue($1, $2)", 2, requeue);
		plan_watermark = prepare("SELECT nps.smsc_record_watermark($1, $2)", 2, watermark);
	}
	inbox_store_prepare();
	inbox_store_doubt_at_start();

	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

static void
exec_plan(SPIPlanPtr plan, Datum *values)
{
	int			rc = SPI_execute_plan(plan, values, NULL, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
}

/*
 * Receipts that arrived in the same batch as their message's
 * submit_sm_resp (an SMSC that answers at once, like the simulator's sink)
 * are recorded with it: one row version (sending -> delivered) instead of
 * two in one transaction, where the second finds no room for a HOT update
 * beside the first.  Single-part messages, the id exactly as given; the
 * others take the usual way (smsc_receipts, after the submit is recorded).
 */
static void
merge_receipts(void)
{
	HASHCTL		ctl;
	HTAB	   *byid;
	ListCell   *lc;
	typedef struct
	{
		char		message_id[SMPP_MSGID_MAX + 1];
		OutMsg	   *msg;
	}			ById;

	if (W->receipts == NIL)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = SMPP_MSGID_MAX + 1;
	ctl.entrysize = sizeof(ById);
	ctl.hcxt = CurrentMemoryContext;
	byid = hash_create("nps receipts to merge", list_length(W->done_ok), &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	foreach(lc, W->done_ok)
	{
		OutMsg	   *m = lfirst(lc);
		bool		found;

		if (m->nparts == 1 && m->parts[0].message_id[0] != '\0')
			((ById *) hash_search(byid, m->parts[0].message_id, HASH_ENTER, &found))->msg = m;
	}
	foreach(lc, W->receipts)
	{
		StoredReceipt *r = lfirst(lc);
		ById	   *e = hash_search(byid, r->message_id, HASH_FIND, NULL);

		if (e != NULL && e->msg->receipt == NULL)
		{
			e->msg->receipt = r;
			r->merged = true;
		}
	}
	hash_destroy(byid);
}

static void
record_submitted(Datum name)
{
	int			nmsg = list_length(W->done_ok);
	int			nparts = 0;
	Datum	   *ids,
			   *parts,
			   *first,
			   *pids,
			   *pnos,
			   *pmsgids,
			   *finals,
			   *errs;
	bool	   *nofinal;
	Datum		values[9];
	int			k = 0;
	ListCell   *lc;

	merge_receipts();

	/* the parts of multi-part messages only: a single part is the message */
	foreach(lc, W->done_ok)
	{
		int			np = ((OutMsg *) lfirst(lc))->nparts;

		nparts += np > 1 ? np : 0;
	}
	ids = palloc(sizeof(Datum) * nmsg);
	parts = palloc(sizeof(Datum) * nmsg);
	first = palloc(sizeof(Datum) * nmsg);
	finals = palloc(sizeof(Datum) * nmsg);
	errs = palloc(sizeof(Datum) * nmsg);
	nofinal = palloc(sizeof(bool) * nmsg);
	pids = palloc(sizeof(Datum) * nparts);
	pnos = palloc(sizeof(Datum) * nparts);
	pmsgids = palloc(sizeof(Datum) * nparts);
	foreach(lc, W->done_ok)
	{
		OutMsg	   *m = lfirst(lc);
		int			i = foreach_current_index(lc);

		ids[i] = Int64GetDatum(m->id);
		parts[i] = Int16GetDatum(m->nparts);
		first[i] = CStringGetTextDatum(m->parts[0].message_id);
		nofinal[i] = m->receipt == NULL;
		finals[i] = nofinal[i] ? (Datum) 0 :
			CStringGetTextDatum(m->receipt->delivered ? "delivered" : "failed");
		errs[i] = Int32GetDatum(nofinal[i] ? 0 : m->receipt->error_code);
		for (int j = 0; j < m->nparts && m->nparts > 1; j++, k++)
		{
			pids[k] = Int64GetDatum(m->id);
			pnos[k] = Int16GetDatum(m->parts[j].part_no);
			pmsgids[k] = CStringGetTextDatum(m->parts[j].message_id);
		}
	}
	values[0] = name;
	values[1] = PointerGetDatum(construct_array(ids, nmsg, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(parts, nmsg, INT2OID, 2, true, TYPALIGN_SHORT));
	values[3] = PointerGetDatum(construct_array(first, nmsg, TEXTOID, -1, false, TYPALIGN_INT));
	values[4] = PointerGetDatum(construct_array(pids, nparts, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[5] = PointerGetDatum(construct_array(pnos, nparts, INT2OID, 2, true, TYPALIGN_SHORT));
	values[6] = PointerGetDatum(construct_array(pmsgids, nparts, TEXTOID, -1, false, TYPALIGN_INT));
	{
		int			dims[1] = {nmsg};
		int			lbs[1] = {1};

		values[7] = PointerGetDatum(construct_md_array(finals, nofinal, 1, dims, lbs, TEXTOID, -1, false,
													   TYPALIGN_INT));
	}
	values[8] = PointerGetDatum(construct_array(errs, nmsg, INT4OID, 4, true, TYPALIGN_INT));
	exec_plan(plan_submitted, values);
}

static void
record_failed(Datum name)
{
	int			n = list_length(W->done_failed);
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *codes = palloc(sizeof(Datum) * n);
	Datum	   *errors = palloc(sizeof(Datum) * n);
	Datum		values[4];
	ListCell   *lc;

	foreach(lc, W->done_failed)
	{
		OutMsg	   *m = lfirst(lc);
		int			i = foreach_current_index(lc);

		ids[i] = Int64GetDatum(m->id);
		codes[i] = Int32GetDatum((int32) m->error_code);
		errors[i] = CStringGetTextDatum(m->error_code == 0 ? "the text cannot be sent" :
										psprintf("refused by the SMSC: command_status 0x%08X", m->error_code));
	}
	values[0] = name;
	values[1] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(codes, n, INT4OID, 4, true, TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(errors, n, TEXTOID, -1, false, TYPALIGN_INT));
	exec_plan(plan_failed, values);
}

static void
record_requeue(Datum name)
{
	int			n = list_length(W->requeue);
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum		values[2];
	ListCell   *lc;

	foreach(lc, W->requeue)
		ids[foreach_current_index(lc)] = Int64GetDatum(*(int64 *) lfirst(lc));
	values[0] = name;
	values[1] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	exec_plan(plan_requeue, values);
}

/*
 * Claims from the queue.  A queue table's index keeps the entries of rows
 * already claimed until vacuum, so scanning from the start each time costs
 * more and more; the worker starts after the last id it claimed, and scans
 * from the start again (W->claim_after = 0) when that finds too little, when
 * it put rows back itself, and on the periodic poll.  The mark of the
 * replies out of doubt is recorded first; the subscribers of the replies
 * above it, and of candidates that may still be redelivered, wait
 * (schema/0.6.0/10_redelivery_hold.sql, schema/0.8.0/10_smsc_watermark.sql).
 */
static void
claim(Datum name, int limit)
{
	int64		after = W->claim_after;
	int64		mark;
	Datum		values[4] = {name, Int32GetDatum(limit), Int64GetDatum(after), (Datum) 0};
	char		nulls[4] = {' ', ' ', ' ', 'n'};
	int			rc;

	if (redelivery_watermark(&mark))
	{
		Datum		args[2] = {name, Int64GetDatum(mark)};

		exec_plan(plan_watermark, args);
	}
	if (redelivery_held(&values[3]))
		nulls[3] = ' ';
	rc = SPI_execute_plan(plan_claim, values, nulls, false, limit);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not claim outbox rows: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));

		sender_claimed(id, SPI_getvalue(t, d, 2), SPI_getvalue(t, d, 3), SPI_getvalue(t, d, 4));
		W->claim_after = Max(W->claim_after, id);
	}
	if (SPI_processed < (uint64) limit)
	{
		/* from the start next time; if that was it, the queue is empty */
		if (after == 0)
			W->outbox_maybe = false;
		W->claim_after = 0;
	}
}

/*
 * The body of the store transaction (store_txn.c opens, commits or rolls it
 * back): records what the wire said since the last turn, then claims.
 */
void
store_record_and_claim(int claim_limit)
{
	MemoryContext old;
	Datum		name;

	old = MemoryContextSwitchTo(W->batch_cxt);
	name = CStringGetTextDatum(W->cfg.name);
	MemoryContextSwitchTo(old);

	if (W->done_ok != NIL)
		record_submitted(name);
	if (W->done_failed != NIL)
		record_failed(name);
	if (W->requeue != NIL)
	{
		record_requeue(name);
		W->claim_after = 0;
	}
	inbox_store_flush();
	if (claim_limit > 0)
		claim(name, claim_limit);
}

/*
 * store_txn.c: the worker's store transaction, and what happens when it
 * fails.
 *
 * Each turn of the worker loop runs at most one short transaction
 * (store_record_and_claim in outbox_store.c records what the wire said
 * since the last turn and claims the next messages), commits, and only then
 * answers the SMSC.  When that transaction fails (the database read-only,
 * the disk full, a serialization failure...) the worker stays bound: the
 * error is caught and the transaction rolled back, the replies and receipts
 * of the turn are answered with ESME_RX_T_APPN (the SMSC delivers them
 * again), the submit results stay in memory (the SMSC will not say them
 * again), no submit_sm goes out meanwhile (so what is on the wire without a
 * recorded answer stays within the window), and the transaction is retried
 * with back-off.  One log line opens such an episode (one more if the error
 * changes), one closes it; nps.smsc_status.last_error shows it meanwhile.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"

#define RETRY_MIN_MS	100		/* first retry after a failure, doubling */
#define RETRY_MAX_MS	2000		/* a failed try costs one empty transaction */

/* The current episode of failures */
static int	failures;			/* in a row */
static TimestampTz failing_since;
static uint64 refused;			/* deliver_sm answered with an error */
static char logged[NPS_ERROR_LEN];	/* the error last written to the log */

/* Sends the deliver_sm_resp / data_sm_resp of the turn. */
static void
answer_smsc(void)
{
	for (int i = 0; i < W->nresps; i++)
	{
		PendingResp *r = &W->resps[i];
		uint8		pdu[SMPP_HEADER_LEN + 1];
		int			n = nps_pdu_mo_resp(pdu, sizeof(pdu), r->command_id, r->status, r->seq);

		/* not on a connection opened since: that one never saw the PDU */
		if (r->conn->generation == r->conn_generation &&
			(r->conn->state == CS_BOUND || r->conn->state == CS_UNBINDING))
			session_send(r->conn, pdu, n);
	}
	W->nresps = 0;
}

/* Replies and receipts that cannot be stored now: the SMSC will retry. */
static void
refuse_deliveries(void)
{
	ListCell   *lc;

	foreach(lc, W->mo)
		W->resps[((StoredMo *) lfirst(lc))->resp].status = SMPP_ST_RX_T_APPN;
	foreach(lc, W->receipts)
		W->resps[((StoredReceipt *) lfirst(lc))->resp].status = SMPP_ST_RX_T_APPN;
	refused += list_length(W->mo) + list_length(W->receipts);
	W->mo = W->receipts = NIL;
}

/*
 * The submit results move to a fresh batch context, so that the refused
 * deliveries left in the old one do not pile up while the failure lasts.
 */
static void
keep_submit_results(void)
{
	MemoryContext keep = AllocSetContextCreate(TopMemoryContext, "nps batch",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(keep);
	List	   *requeue = NIL;
	ListCell   *lc;

	W->done_ok = list_copy(W->done_ok);
	W->done_failed = list_copy(W->done_failed);
	foreach(lc, W->requeue)
	{
		int64	   *id = palloc(sizeof(int64));

		*id = *(int64 *) lfirst(lc);
		requeue = lappend(requeue, id);
	}
	W->requeue = requeue;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(W->batch_cxt);
	W->batch_cxt = keep;
}

static void
note_failure(ErrorData *edata)
{
	TimestampTz now = GetCurrentTimestamp();
	int			delay = RETRY_MIN_MS;

	if (failures++ == 0)
		failing_since = now;
	for (int i = 1; i < failures && delay < RETRY_MAX_MS; i++)
		delay *= 2;
	W->store_retry_at = TimestampTzPlusMilliseconds(now, Min(delay, RETRY_MAX_MS));
	nps_slot_set_error(W->slot, "results not recorded (retrying): %s", edata->message);
	if (strcmp(logged, edata->message) == 0)
		return;
	strlcpy(logged, edata->message, sizeof(logged));
	ereport(LOG,
			(errcode(edata->sqlerrcode),
			 errmsg("nps: bind \"%s\": could not record the results of the bind: %s",
					W->cfg.name, edata->message),
			 errdetail("Replies and receipts are refused with ESME_RX_T_APPN, so the SMSC delivers them again; "
					   "nothing is sent until the results are recorded; retrying with back-off up to %d ms.",
					   RETRY_MAX_MS)));
}

static void
note_success(void)
{
	if (failures == 0)
		return;
	ereport(LOG,
			(errmsg("nps: bind \"%s\": results recorded again after %d failed attempts in %ld ms; "
					"%llu replies and receipts were refused meanwhile",
					W->cfg.name, failures,
					(long) ((GetCurrentTimestamp() - failing_since) / 1000),
					(unsigned long long) refused)));
	failures = 0;
	refused = 0;
	logged[0] = '\0';
	W->store_retry_at = 0;
}

/*
 * In a PG_CATCH of a background worker's loop: the error caught, copied
 * into cxt (returned, to FreeErrorData), and its transaction rolled back;
 * the process goes on as if between two transactions.
 */
ErrorData *
nps_abort_after_error(MemoryContext cxt)
{
	ErrorData  *edata;

	/* the error data lives in ErrorContext: copy it out before the reset */
	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	/* releases locks, buffers, SPI, snapshots, the transaction's memory */
	AbortCurrentTransaction();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return edata;
}

/* One store transaction; false when it failed (rolled back, noted). */
static bool
run_transaction(int claim_limit)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "nps: recording and claiming");
		/* else each reply would fail alone, in its subtransaction, each logged */
		if (XactReadOnly)
			ereport(ERROR,
					(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					 errmsg("cannot record the results of the bind in a read-only transaction"),
					 errhint("default_transaction_read_only is on.")));
		store_record_and_claim(claim_limit);
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata = nps_abort_after_error(cxt);

		note_failure(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/*
 * Records the turn's results and claims up to claim_limit rows, then answers
 * the SMSC.  While a failed transaction waits for its retry, deliveries are
 * refused at once (the SMSC would not wait for their answer that long).
 */
void
store_flush(int claim_limit)
{
	bool		ok;
	ListCell   *lc;

	if (W->done_ok == NIL && W->done_failed == NIL && W->requeue == NIL &&
		W->mo == NIL && W->receipts == NIL && claim_limit <= 0 && W->store_retry_at == 0)
		return;

	ok = (W->store_retry_at == 0 || GetCurrentTimestamp() >= W->store_retry_at) &&
		run_transaction(claim_limit);
	if (!ok)
	{
		redelivery_txn_end(false);
		sender_unclaim();
		W->claim_after = 0;
		W->outbox_maybe = true;
		refuse_deliveries();
		answer_smsc();
		keep_submit_results();
		return;
	}
	note_success();
	inbox_store_committed();
	redelivery_txn_end(true);
	/* a bgworker reports its table statistics itself: without them
	 * autovacuum would never see the outbox churn (rate-limited inside) */
	pgstat_report_stat(false);

	/* committed: answer the SMSC, forget what is recorded */
	answer_smsc();
	list_free(W->claimed);
	W->claimed = NIL;
	foreach(lc, W->done_ok)
		sender_free_msg(lfirst(lc));
	foreach(lc, W->done_failed)
		sender_free_msg(lfirst(lc));
	W->done_ok = W->done_failed = W->requeue = W->mo = W->receipts = NIL;
	MemoryContextReset(W->batch_cxt);
}

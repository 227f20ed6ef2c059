/*
 * wakeup.c: wake the workers and the launcher when a transaction commits.
 *
 * An outbox insert must reach the wire without a polling delay, yet the
 * worker must not look before the row is visible.  The trigger functions
 * only note what to wake; a transaction callback sets the latches on
 * XACT_EVENT_COMMIT, which runs after the commit is visible to other
 * snapshots.  An aborted transaction wakes nobody.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "storage/latch.h"

#include "nps.h"

PG_FUNCTION_INFO_V1(nps_wake_workers_trigger);
PG_FUNCTION_INFO_V1(nps_wake_launcher_trigger);
PG_FUNCTION_INFO_V1(nps_wake_launcher);

#define WAKE_WORKERS	0x01
#define WAKE_LAUNCHER	0x02

static int	wake_at_commit = 0;
static bool callback_registered = false;

void
nps_wake_workers_now(void)
{
	if (nps_shared == NULL)
		return;
	/* Reading proc without the lock is fine: a stale pointer is a PGPROC
	 * whose latch we set needlessly, never freed memory. */
	for (int i = 0; i < NPS_MAX_BINDS; i++)
	{
		PGPROC	   *proc = nps_shared->binds[i].proc;

		if (nps_shared->binds[i].in_use && proc != NULL)
			SetLatch(&proc->procLatch);
	}
}

void
nps_wake_launcher_now(void)
{
	PGPROC	   *proc;

	if (nps_shared == NULL)
		return;
	proc = nps_shared->launcher;
	if (proc != NULL)
		SetLatch(&proc->procLatch);
}

static void
wake_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit & WAKE_WORKERS)
				nps_wake_workers_now();
			if (wake_at_commit & WAKE_LAUNCHER)
				nps_wake_launcher_now();
			wake_at_commit = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_at_commit = 0;
			break;
		default:
			break;
	}
}

static void
wake_at_commit_add(int what)
{
	if (nps_shared == NULL)
		return;					/* not preloaded: nobody to wake */
	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit |= what;
}

static Datum
trigger_result(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function called outside a trigger")));
	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
		return PointerGetDatum(TRIGGER_FIRED_BY_DELETE(td->tg_event) ? td->tg_trigtuple :
							   (td->tg_newtuple ? td->tg_newtuple : td->tg_trigtuple));
	return PointerGetDatum(NULL);
}

Datum
nps_wake_workers_trigger(PG_FUNCTION_ARGS)
{
	Datum		result = trigger_result(fcinfo);

	wake_at_commit_add(WAKE_WORKERS);
	return result;
}

Datum
nps_wake_launcher_trigger(PG_FUNCTION_ARGS)
{
	Datum		result = trigger_result(fcinfo);

	wake_at_commit_add(WAKE_LAUNCHER);
	return result;
}

Datum
nps_wake_launcher(PG_FUNCTION_ARGS)
{
	wake_at_commit_add(WAKE_LAUNCHER);
	PG_RETURN_VOID();
}

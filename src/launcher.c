/*
 * launcher.c: the launcher background worker.
 *
 * Started by the postmaster when nps is in shared_preload_libraries (after
 * recovery: a hot standby sends nothing, and a promoted standby starts the
 * launcher by itself).  Connects to nps.database, waits for the extension,
 * and keeps one dynamic SMPP worker running per enabled row of nps.smsc:
 * starts, stops or restarts workers when rows are inserted, changed,
 * disabled or deleted.  A trigger on nps.smsc sets our latch at commit, so
 * a change takes effect at once; a slow poll is only a safety net.
 *
 * Before a worker starts, messages its bind left in 'sending' (a crash, a
 * stop) are queued again: the launcher is the one place that knows no
 * worker of that bind runs.
 *
 * A pass that fails (the database read-only: the requeue cannot be written)
 * is rolled back and retried with back-off; the launcher does not exit, and
 * a bind whose rows could not be queued again is not started until they are.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "nps.h"

#define HASH_LEN		33
#define IDLE_POLL_MS	10000L	/* safety net: the trigger wakes us */
#define BUSY_POLL_MS	250L	/* while waiting for the extension or a stop */
#define RESTART_DELAY_MS 1000	/* after a worker died */
#define FAILED_POLL_MAX_MS 10000L	/* back-off after failed passes */

/* A bind as the launcher sees it in nps.smsc */
typedef struct WantedBind
{
	char		name[NPS_NAME_LEN];
	char		hash[HASH_LEN];	/* md5 of the row: a change restarts */
	bool		enabled;
} WantedBind;

/* A bind the launcher runs or ran */
typedef struct RunningBind
{
	bool		used;
	char		name[NPS_NAME_LEN];
	char		hash[HASH_LEN];
	int			slot;
	BackgroundWorkerHandle *handle; /* NULL when no worker */
	bool		stopping;
	bool		recover_pending;	/* its worker stopped, rows not requeued yet */
	TimestampTz start_after;
} RunningBind;

static RunningBind running[NPS_MAX_BINDS];

void
nps_register_launcher(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "nps");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "nps_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "nps launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "nps launcher");
	RegisterBackgroundWorker(&bgw);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	if (nps_shared->launcher == MyProc)
		nps_shared->launcher = NULL;
	LWLockRelease(nps_shared->lock);
}

/*
 * Reads nps.smsc into wanted[]; returns the count, or -1 while the
 * extension (at a version with the SMPP engine) is not there.
 */
static int
read_binds(WantedBind *wanted)
{
	int			n = -1;
	Oid			nsp;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	nsp = get_namespace_oid("nps", true);
	if (OidIsValid(get_extension_oid("nps", true)) && OidIsValid(nsp) &&
		OidIsValid(get_relname_relid("smsc_status", nsp)))
	{
		pgstat_report_activity(STATE_RUNNING, "reading nps.smsc");
		SPI_connect();
		if (SPI_execute("SELECT name, md5(s::text), enabled FROM nps.smsc s ORDER BY name",
						true, NPS_MAX_BINDS + 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read nps.smsc");
		if (SPI_processed > NPS_MAX_BINDS)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("nps.smsc has more than %d binds; only the first %d are served",
							NPS_MAX_BINDS, NPS_MAX_BINDS)));
		n = Min((int) SPI_processed, NPS_MAX_BINDS);
		for (int i = 0; i < n; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			TupleDesc	d = SPI_tuptable->tupdesc;
			bool		isnull;

			strlcpy(wanted[i].name, SPI_getvalue(t, d, 1), NPS_NAME_LEN);
			strlcpy(wanted[i].hash, SPI_getvalue(t, d, 2), HASH_LEN);
			wanted[i].enabled = DatumGetBool(SPI_getbinval(t, d, 3, &isnull));
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return n;
}

/* Queues again what the bind left in 'sending'; no worker of it runs. */
static void
recover_bind(RunningBind *r)
{
	Datum		arg = CStringGetTextDatum(r->name);
	Oid			argtype = TEXTOID;
	int64		n = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("SELECT nps.smsc_recover($1)", 1, &argtype, &arg,
							  NULL, false, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		n = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	r->recover_pending = false;
	if (n > 0)
		nps_count(&nps_shared->binds[r->slot], NPS_C_REQUEUED, (uint64) n);
}

static void
start_worker(RunningBind *r)
{
	BackgroundWorker bgw;

	recover_bind(r);
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;	/* we restart it ourselves */
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "nps");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "nps_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "nps smpp %s", r->name);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "nps smpp worker");
	bgw.bgw_main_arg = Int32GetDatum(r->slot);
	bgw.bgw_notify_pid = MyProcPid;
	strlcpy(bgw.bgw_extra, r->name, BGW_EXTRALEN);
	if (!RegisterDynamicBackgroundWorker(&bgw, &r->handle))
	{
		r->handle = NULL;
		r->start_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RESTART_DELAY_MS);
		nps_slot_set_error(&nps_shared->binds[r->slot],
						   "no background worker slot free (raise max_worker_processes)");
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the nps worker for bind \"%s\"", r->name),
				 errhint("Raise max_worker_processes.")));
		return;
	}
	r->stopping = false;
	ereport(LOG, (errmsg("nps launcher: started the worker of bind \"%s\"", r->name)));
}

static bool
worker_alive(RunningBind *r)
{
	pid_t		pid;

	return r->handle != NULL &&
		GetBackgroundWorkerPid(r->handle, &pid) != BGWH_STOPPED;
}

static RunningBind *
running_find(const char *name)
{
	for (int i = 0; i < NPS_MAX_BINDS; i++)
		if (running[i].used && strcmp(running[i].name, name) == 0)
			return &running[i];
	return NULL;
}

static const WantedBind *
wanted_find(const WantedBind *wanted, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(wanted[i].name, name) == 0)
			return &wanted[i];
	return NULL;
}

/*
 * One pass: make the running workers match nps.smsc.  Returns true while
 * something is in transition (a worker stopping), so we poll faster.
 */
static bool
reconcile(const WantedBind *wanted, int n, bool sending_allowed)
{
	bool		busy = false;
	TimestampTz now = GetCurrentTimestamp();

	/* Stop what is no longer wanted or changed; reap what has stopped. */
	for (int i = 0; i < NPS_MAX_BINDS; i++)
	{
		RunningBind *r = &running[i];
		const WantedBind *w;
		bool		keep;

		if (!r->used)
			continue;
		w = wanted_find(wanted, n, r->name);
		keep = sending_allowed && w != NULL && w->enabled && strcmp(w->hash, r->hash) == 0;
		if (worker_alive(r))
		{
			if (!keep && !r->stopping)
			{
				ereport(LOG, (errmsg("nps launcher: stopping the worker of bind \"%s\"", r->name)));
				TerminateBackgroundWorker(r->handle);
				r->stopping = true;
			}
			busy |= r->stopping;
			continue;
		}
		if (r->handle != NULL)
		{
			/* It stopped (asked to, or died): its 'sending' rows go back. */
			pfree(r->handle);
			r->handle = NULL;
			if (!r->stopping)
				r->start_after = TimestampTzPlusMilliseconds(now, RESTART_DELAY_MS);
			r->stopping = false;
			r->recover_pending = true;
		}
		/* retried on each pass until it could be written */
		if (r->recover_pending)
			recover_bind(r);
		if (w == NULL)
		{
			nps_slot_release(r->slot);
			r->used = false;
		}
		else
		{
			nps_slot_set_state(&nps_shared->binds[r->slot],
							   !w->enabled ? "disabled" : (sending_allowed ? "stopped" : "waiting"));
			strlcpy(r->hash, w->hash, HASH_LEN);
		}
	}

	/* Start what is wanted and not running. */
	for (int i = 0; i < n; i++)
	{
		const WantedBind *w = &wanted[i];
		RunningBind *r = running_find(w->name);

		if (r == NULL)
		{
			int			slot = nps_slot_acquire(w->name);

			for (int j = 0; j < NPS_MAX_BINDS && r == NULL && slot >= 0; j++)
				if (!running[j].used)
					r = &running[j];
			if (r == NULL)
				continue;
			memset(r, 0, sizeof(*r));
			r->used = true;
			r->slot = slot;
			strlcpy(r->name, w->name, NPS_NAME_LEN);
			strlcpy(r->hash, w->hash, HASH_LEN);
			nps_slot_set_state(&nps_shared->binds[slot], w->enabled ? "stopped" : "disabled");
		}
		if (!w->enabled || !sending_allowed || r->handle != NULL)
			continue;
		if (now < r->start_after)
		{
			busy = true;
			continue;
		}
		start_worker(r);
	}
	return busy;
}

/*
 * One pass (read nps.smsc, reconcile); returns the time to wait before the
 * next.  An error is caught and logged once per different message: the
 * pass is retried after a back-off.
 */
static long
launcher_pass(WantedBind *wanted)
{
	static int	failures = 0;
	static char logged[NPS_ERROR_LEN];
	MemoryContext cxt = CurrentMemoryContext;
	volatile long timeout = BUSY_POLL_MS;

	PG_TRY();
	{
		int			n = read_binds(wanted);

		if (n >= 0)
			timeout = reconcile(wanted, n, nps_enabled && !RecoveryInProgress())
				? BUSY_POLL_MS : IDLE_POLL_MS;
		if (failures > 0)
			ereport(LOG, (errmsg("nps launcher: working again after %d failed passes", failures)));
		failures = 0;
		logged[0] = '\0';
	}
	PG_CATCH();
	{
		ErrorData  *edata = nps_abort_after_error(cxt);

		if (strcmp(logged, edata->message) != 0)
		{
			strlcpy(logged, edata->message, sizeof(logged));
			ereport(LOG,
					(errcode(edata->sqlerrcode),
					 errmsg("nps launcher: %s", edata->message),
					 errdetail("Retrying with back-off up to %ld ms; binds whose messages left in sending could not be queued again wait.",
							   FAILED_POLL_MAX_MS)));
		}
		FreeErrorData(edata);
		timeout = Min(BUSY_POLL_MS << Min(failures, 8), FAILED_POLL_MAX_MS);
		failures++;
	}
	PG_END_TRY();
	return timeout;
}

void
nps_launcher_main(Datum main_arg)
{
	WantedBind *wanted = palloc(sizeof(WantedBind) * NPS_MAX_BINDS);

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	nps_shared->launcher = MyProc;
	LWLockRelease(nps_shared->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	BackgroundWorkerInitializeConnection(nps_database, NULL, 0);
	ereport(LOG, (errmsg("nps launcher started for database \"%s\"", nps_database)));

	while (!ShutdownRequestPending)
	{
		long		timeout;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		/* BUSY_POLL_MS also while waiting for CREATE EXTENSION */
		timeout = launcher_pass(wanted);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}

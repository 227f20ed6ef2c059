/*
 * launcher.c: the launcher background worker.
 *
 * Started by the postmaster when nps is in shared_preload_libraries; connects
 * to nps.database.  It idles until SIGTERM; the SMPP worker management lives
 * here once nps.smsc rows exist (see the SMPP engine).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"

#include "nps.h"

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

void
nps_launcher_main(Datum main_arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(nps_database, NULL, 0);
	ereport(LOG, (errmsg("nps launcher started for database \"%s\"", nps_database)));

	while (!ShutdownRequestPending)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	proc_exit(0);
}

/*
 * nps.c: module entry point: GUCs and the launcher background worker.
 *
 * Everything else is reached from SQL.  Loaded without shared_preload_libraries
 * the SQL side works; nps.worker_state() then says that the worker is off.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "nps.h"

PG_MODULE_MAGIC;

char	   *nps_database = NULL;
bool		nps_enabled = true;
bool		nps_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	nps_preloaded = process_shared_preload_libraries_in_progress;

	DefineCustomStringVariable("nps.database",
							   "Sets the database the nps worker serves.",
							   "The launcher connects to it and starts one SMPP worker per enabled row of nps.smsc.",
							   &nps_database,
							   "postgres",
							   /* PGC_POSTMASTER cannot be defined after start-up. */
							   nps_preloaded ? PGC_POSTMASTER : PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("nps.enabled",
							 "Sets whether the nps worker sends and receives messages.",
							 "Off: the launcher keeps its SMPP workers stopped; queued messages wait.",
							 &nps_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("nps");

	if (nps_preloaded)
	{
		nps_shmem_init();
		nps_register_launcher();
	}
}

PG_FUNCTION_INFO_V1(nps_worker_state);

/*
 * nps.worker_state(): one word for the state of the background machinery, so
 * that an operator who forgot shared_preload_libraries is told so from SQL.
 */
Datum
nps_worker_state(PG_FUNCTION_ARGS)
{
	const char *state;

	if (!nps_preloaded)
		state = "not loaded: add nps to shared_preload_libraries";
	else if (!nps_enabled)
		state = "disabled: nps.enabled is off";
	else
		state = "running";
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

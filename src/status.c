/*
 * status.c: nps.smsc_counters(), the set-returning function behind the
 * nps.smsc_status view.  Copies each bind slot of shared memory under the
 * lock and returns one row per bind the launcher knows.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "nps.h"

PG_FUNCTION_INFO_V1(nps_smsc_counters);

#define N_COLUMNS (5 + NPS_N_COUNTERS + 2)

Datum
nps_smsc_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (nps_shared == NULL)
		return (Datum) 0;

	for (int i = 0; i < NPS_MAX_BINDS; i++)
	{
		NpsBindSlot *b = &nps_shared->binds[i];
		NpsBindSlot copy;
		Datum		values[N_COLUMNS];
		bool		nulls[N_COLUMNS];
		int			col = 0;

		LWLockAcquire(nps_shared->lock, LW_SHARED);
		if (!b->in_use)
		{
			LWLockRelease(nps_shared->lock);
			continue;
		}
		memcpy(copy.name, b->name, sizeof(copy.name));
		memcpy(copy.state, b->state, sizeof(copy.state));
		memcpy(copy.last_error, b->last_error, sizeof(copy.last_error));
		copy.since = b->since;
		copy.pid = b->pid;
		copy.last_error_at = b->last_error_at;
		LWLockRelease(nps_shared->lock);

		memset(nulls, 0, sizeof(nulls));
		values[col++] = CStringGetTextDatum(copy.name);
		values[col++] = CStringGetTextDatum(copy.state);
		values[col] = TimestampTzGetDatum(copy.since);
		nulls[col++] = (copy.since == 0);
		values[col] = Int32GetDatum(copy.pid);
		nulls[col++] = (copy.pid == 0);
		values[col++] = Int32GetDatum((int32) pg_atomic_read_u32(&b->window_in_use));
		for (int c = 0; c < NPS_N_COUNTERS; c++)
			values[col++] = Int64GetDatum((int64) pg_atomic_read_u64(&b->counters[c]));
		values[col] = CStringGetTextDatum(copy.last_error);
		nulls[col++] = (copy.last_error[0] == '\0');
		values[col] = TimestampTzGetDatum(copy.last_error_at);
		nulls[col++] = (copy.last_error_at == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

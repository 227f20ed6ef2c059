/*
 * send_time.c: nps.send_time(visit_at, delay, tz, send_from, send_until),
 * when the survey of a visit may go: visit_at + delay in the local time of
 * zone tz, moved into the sending hours [send_from, send_until).
 *
 * In C because the scheduling trigger computes it for every visit of a load:
 * the 0.2.0 SQL expression converted the visit to local time three times
 * (each conversion parsing the zone name, trying it as an abbreviation, then
 * looking the zone up) and back once.  Here each zone is looked up once per
 * statement (fn_extra), and each visit is converted to local time once and
 * back once, with the same calls AT TIME ZONE makes.
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "schedule.h"

PG_FUNCTION_INFO_V1(nps_send_time);

/*
 * Zones met so far in this statement (fn_extra, or the scheduling trigger's
 * own), by name: a load interleaves the regions' zones row by row, so one
 * remembered zone would not do.
 */
#define ZONE_CACHE_SIZE 64

typedef struct ZoneEntry
{
	char	   *name;
	int			len;
	pg_tz	   *tz;				/* NULL: not an IANA name, use AT TIME ZONE */
} ZoneEntry;

struct ZoneCache
{
	int			n;
	ZoneEntry	entry[ZONE_CACHE_SIZE];
};

/*
 * The IANA zone named tz, or NULL for any other spelling (an abbreviation
 * such as MSK, a POSIX offset, an unknown name): those take AT TIME ZONE's
 * own path, which also gives its error for an unknown zone.  Only names with
 * a '/' are looked up here, as AT TIME ZONE would find none of them among
 * the abbreviations.
 */
static pg_tz *
zone_of(ZoneCache **cache, MemoryContext cxt, text *tz)
{
	ZoneCache  *c = *cache;
	int			len = VARSIZE_ANY_EXHDR(tz);
	char	   *name;
	pg_tz	   *found;

	if (c == NULL)
		*cache = c = MemoryContextAllocZero(cxt, sizeof(ZoneCache));
	for (int i = 0; i < c->n; i++)
		if (c->entry[i].len == len && memcmp(c->entry[i].name, VARDATA_ANY(tz), len) == 0)
			return c->entry[i].tz;

	name = MemoryContextStrdup(cxt, text_to_cstring(tz));
	found = strchr(name, '/') != NULL ? pg_tzset(name) : NULL;
	if (c->n < ZONE_CACHE_SIZE)
	{
		c->entry[c->n].name = name;
		c->entry[c->n].len = len;
		c->entry[c->n].tz = found;
		c->n++;
	}
	else
		pfree(name);
	return found;
}

/*
 * The send time; zones are remembered in *cache, allocated in cxt (a
 * context that lives as long as the cache).
 */
TimestampTz
send_time_at(ZoneCache **cache, MemoryContext cxt, TimestampTz visit_at,
			 Interval *delay, text *tzname, TimeADT send_from, TimeADT send_until)
{
	pg_tz	   *tz = zone_of(cache, cxt, tzname);
	Timestamp	local;
	TimeADT		clock;
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	TimestampTz result;

	/* visit_at AT TIME ZONE tz */
	if (tz == NULL || TIMESTAMP_NOT_FINITE(visit_at))
		local = DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, PointerGetDatum(tzname),
													  TimestampTzGetDatum(visit_at)));
	else if (timestamp2tm(visit_at, &offset, &tm, &fsec, NULL, tz) != 0 ||
			 tm2timestamp(&tm, fsec, NULL, &local) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	local = DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval, TimestampGetDatum(local),
												  IntervalPGetDatum(delay)));

	/* An infinite time has no time of day: the SQL CASE left it as it was. */
	if (!TIMESTAMP_NOT_FINITE(local))
	{
		clock = local % USECS_PER_DAY;
		if (clock < 0)
			clock += USECS_PER_DAY;
		/* before the window: that morning; at or after its end: the next */
		if (clock < send_from)
			local += send_from - clock;
		else if (clock >= send_until)
			local += USECS_PER_DAY - clock + send_from;
	}

	/* local AT TIME ZONE tz */
	if (tz == NULL || TIMESTAMP_NOT_FINITE(local))
		return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, PointerGetDatum(tzname),
													   TimestampGetDatum(local)));
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	offset = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, fsec, &offset, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

Datum
nps_send_time(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(send_time_at((ZoneCache **) &fcinfo->flinfo->fn_extra,
									   fcinfo->flinfo->fn_mcxt,
									   PG_GETARG_TIMESTAMPTZ(0), PG_GETARG_INTERVAL_P(1),
									   PG_GETARG_TEXT_PP(2), PG_GETARG_TIMEADT(3),
									   PG_GETARG_TIMEADT(4)));
}

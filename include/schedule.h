/*
 * schedule.h: the send time of a visit (src/send_time.c), shared by
 * nps.send_time() and the scheduling trigger (src/schedule.c).
 */
#ifndef NPS_SCHEDULE_H
#define NPS_SCHEDULE_H

#include "datatype/timestamp.h"
#include "utils/date.h"

/* Time zones looked up so far, by name. */
typedef struct ZoneCache ZoneCache;

extern TimestampTz send_time_at(ZoneCache **cache, MemoryContext cxt, TimestampTz visit_at,
								Interval *delay, text *tzname, TimeADT send_from,
								TimeADT send_until);

#endif

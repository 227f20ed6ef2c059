/*
 * nps.h: declarations shared by the C files of the nps extension.
 */
#ifndef NPS_H
#define NPS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/proc.h"

/* GUCs (src/nps.c) */
extern char *nps_database;
extern bool nps_enabled;

/* True when the library was loaded through shared_preload_libraries. */
extern bool nps_preloaded;

/* Background worker entry points; exported for the postmaster. */
extern PGDLLEXPORT void nps_launcher_main(Datum main_arg);
extern PGDLLEXPORT void nps_worker_main(Datum main_arg);

extern void nps_register_launcher(void);

/* True for an msisdn in its normal form, 7XXXXXXXXXX (src/validate.c). */
extern bool msisdn_is_normal(text *t);

/* After an ERROR caught in a background worker's loop (src/store_txn.c). */
extern ErrorData *nps_abort_after_error(MemoryContext cxt);

/* ---- shared memory (src/shmem.c) ---------------------------------------- */

#define NPS_MAX_BINDS		32
#define NPS_NAME_LEN		33		/* nps.smsc.name is at most 32 characters */
#define NPS_ERROR_LEN		256

/* Counters of one bind; atomics so that the worker never takes a lock. */
typedef enum NpsCounter
{
	NPS_C_SUBMITTED,
	NPS_C_ACKNOWLEDGED,
	NPS_C_THROTTLED,
	NPS_C_DELIVERED,
	NPS_C_FAILED,
	NPS_C_RECEIVED,
	NPS_C_DUPLICATES,
	NPS_C_REQUEUED,
	NPS_C_RECONNECTS,
	NPS_C_GENERIC_NACKS,
	NPS_N_COUNTERS
} NpsCounter;

/*
 * One slot per bind the launcher knows.  The launcher owns in_use and name
 * (under the lock); the worker owns the rest.  Counters survive a worker
 * restart: they belong to the bind, not to the process.
 */
typedef struct NpsBindSlot
{
	bool		in_use;
	char		name[NPS_NAME_LEN];
	PGPROC	   *proc;			/* worker, NULL when not running */
	pid_t		pid;
	char		state[16];
	TimestampTz since;
	char		last_error[NPS_ERROR_LEN];
	TimestampTz last_error_at;
	pg_atomic_uint32 window_in_use;
	pg_atomic_uint64 counters[NPS_N_COUNTERS];
} NpsBindSlot;

typedef struct NpsShared
{
	LWLock	   *lock;
	PGPROC	   *launcher;		/* NULL when no launcher runs */
	NpsBindSlot binds[NPS_MAX_BINDS];
} NpsShared;

extern NpsShared *nps_shared;

extern void nps_shmem_init(void);
extern int	nps_slot_find(const char *name);
extern int	nps_slot_acquire(const char *name);
extern void nps_slot_release(int slot);
extern void nps_slot_set_state(NpsBindSlot *b, const char *state);
extern void nps_slot_set_error(NpsBindSlot *b, const char *fmt,...) pg_attribute_printf(2, 3);

static inline void
nps_count(NpsBindSlot *b, NpsCounter c, uint64 n)
{
	pg_atomic_fetch_add_u64(&b->counters[c], n);
}

/* ---- wake-ups at commit (src/wakeup.c) ---------------------------------- */

extern void nps_wake_workers_now(void);
extern void nps_wake_launcher_now(void);

#endif							/* NPS_H */

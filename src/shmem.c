/*
 * shmem.c: the shared memory the launcher, the SMPP workers and SQL share:
 * one slot per bind with its state, last error and counters, and the
 * latches that commits set to wake the launcher and the workers.
 *
 * Requested through shmem_request_hook (required in PostgreSQL 15) and
 * attached in shmem_startup_hook; only when preloaded.  Backends that loaded
 * nps without preload see nps_shared == NULL and report no binds.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "nps.h"

NpsShared  *nps_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
nps_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(NpsShared)));
	RequestNamedLWLockTranche("nps", 1);
}

static void
nps_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	nps_shared = ShmemInitStruct("nps", sizeof(NpsShared), &found);
	if (!found)
	{
		memset(nps_shared, 0, sizeof(NpsShared));
		nps_shared->lock = &(GetNamedLWLockTranche("nps"))->lock;
		for (int i = 0; i < NPS_MAX_BINDS; i++)
		{
			pg_atomic_init_u32(&nps_shared->binds[i].window_in_use, 0);
			for (int c = 0; c < NPS_N_COUNTERS; c++)
				pg_atomic_init_u64(&nps_shared->binds[i].counters[c], 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
nps_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = nps_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = nps_shmem_startup;
}

/* Slot of a bind, or -1.  Caller holds the lock. */
int
nps_slot_find(const char *name)
{
	for (int i = 0; i < NPS_MAX_BINDS; i++)
		if (nps_shared->binds[i].in_use &&
			strcmp(nps_shared->binds[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * The slot of a bind, taking a free one (counters zeroed) for a new bind;
 * -1 when all NPS_MAX_BINDS are taken.
 */
int
nps_slot_acquire(const char *name)
{
	int			slot;

	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	slot = nps_slot_find(name);
	if (slot < 0)
	{
		for (int i = 0; i < NPS_MAX_BINDS && slot < 0; i++)
			if (!nps_shared->binds[i].in_use)
				slot = i;
		if (slot >= 0)
		{
			NpsBindSlot *b = &nps_shared->binds[slot];

			b->in_use = true;
			strlcpy(b->name, name, NPS_NAME_LEN);
			b->proc = NULL;
			b->pid = 0;
			strlcpy(b->state, "stopped", sizeof(b->state));
			b->since = GetCurrentTimestamp();
			b->last_error[0] = '\0';
			b->last_error_at = 0;
			pg_atomic_write_u32(&b->window_in_use, 0);
			for (int c = 0; c < NPS_N_COUNTERS; c++)
				pg_atomic_write_u64(&b->counters[c], 0);
		}
	}
	LWLockRelease(nps_shared->lock);
	return slot;
}

/* A deleted bind gives its slot back. */
void
nps_slot_release(int slot)
{
	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	nps_shared->binds[slot].in_use = false;
	nps_shared->binds[slot].proc = NULL;
	LWLockRelease(nps_shared->lock);
}

void
nps_slot_set_state(NpsBindSlot *b, const char *state)
{
	if (strcmp(b->state, state) == 0)
		return;
	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	strlcpy(b->state, state, sizeof(b->state));
	b->since = GetCurrentTimestamp();
	LWLockRelease(nps_shared->lock);
}

void
nps_slot_set_error(NpsBindSlot *b, const char *fmt,...)
{
	char		buf[NPS_ERROR_LEN];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	strlcpy(b->last_error, buf, sizeof(b->last_error));
	b->last_error_at = GetCurrentTimestamp();
	LWLockRelease(nps_shared->lock);
}

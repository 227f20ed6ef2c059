/*
 * worker.c: one SMPP worker per bind, started by the launcher.
 *
 * The loop waits on a WaitEventSet (the latch, postmaster death and the
 * bind's sockets: WaitLatchOrSocket kept across iterations rather than
 * rebuilt on every call), then reads and dispatches PDUs, runs the timers,
 * records results and claims messages in one short transaction, sends
 * within the window and the rate limit, and writes.  Outbox inserts set
 * our latch at commit (wakeup.c).  SIGTERM drains: no new claims, unsent
 * messages go back to the queue, the window empties (or response_timeout
 * passes), then unbind.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"

#define POLL_MS		1000		/* claim anyway (rows with not_before) */

Worker	   *W = NULL;

void
worker_note_error(const char *fmt,...)
{
	char		buf[NPS_ERROR_LEN];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nps_slot_set_error(W->slot, "%s", buf);
	ereport(LOG, (errmsg("nps: bind \"%s\": %s", W->cfg.name, buf)));
}

uint32
worker_next_seq(void)
{
	/* sequence numbers are 1 .. 0x7FFFFFFF */
	if (W->next_seq >= 0x7FFFFFFF)
		W->next_seq = 0;
	return ++W->next_seq;
}

/* A response to send once the store transaction commits; returns its index. */
int
worker_queue_resp(SmppConn *c, uint32 command_id, uint32 seq, uint32 status)
{
	PendingResp *r;

	if (W->nresps == W->resps_cap)
	{
		W->resps_cap *= 2;
		W->resps = repalloc(W->resps, sizeof(PendingResp) * W->resps_cap);
	}
	r = &W->resps[W->nresps];
	r->conn = c;
	r->conn_generation = c->generation;
	r->command_id = command_id;
	r->seq = seq;
	r->status = status;
	return W->nresps++;
}

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	if (W->slot->proc == MyProc)
	{
		W->slot->proc = NULL;
		W->slot->pid = 0;
	}
	LWLockRelease(nps_shared->lock);
	pg_atomic_write_u32(&W->slot->window_in_use, 0);
}

static void
rebuild_wait_set(void)
{
	if (W->wes)
		FreeWaitEventSet(W->wes);
	W->wes = CreateWaitEventSet(TopMemoryContext, 2 + W->nconns);
	AddWaitEventToSet(W->wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(W->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < W->nconns; i++)
	{
		SmppConn   *c = &W->conns[i];

		c->wes_pos = -1;
		if (c->fd >= 0)
			c->wes_pos = AddWaitEventToSet(W->wes, WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE,
										   c->fd, NULL, c);
		c->wes_events = WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE;
	}
	W->wes_dirty = false;
}

/* Ask for writability only while there is something to write. */
static void
update_wait_events(void)
{
	for (int i = 0; i < W->nconns; i++)
	{
		SmppConn   *c = &W->conns[i];
		int			ev = WL_SOCKET_READABLE;

		if (c->wes_pos < 0)
			continue;
		if (c->state == CS_CONNECTING || c->out_off < c->out_len)
			ev |= WL_SOCKET_WRITEABLE;
		if (ev != c->wes_events)
		{
			ModifyWaitEvent(W->wes, c->wes_pos, ev, NULL);
			c->wes_events = ev;
		}
	}
}

static long
wait_ms(TimestampTz now)
{
	long		ms = sender_wait_ms(now);
	TimestampTz next = W->next_poll;

	for (int i = 0; i < W->nconns; i++)
	{
		SmppConn   *c = &W->conns[i];

		if (c->req_deadline != 0 && c->req_deadline < next)
			next = c->req_deadline;
		if (c->state == CS_BOUND && c->req_deadline == 0)
			next = Min(next, TimestampTzPlusMilliseconds(c->last_rx, W->cfg.enquire_ms));
	}
	if (session_all_down() && !W->draining)
		next = Min(next, W->reconnect_at);
	if (W->store_retry_at != 0)
		next = Min(next, W->store_retry_at);
	if (W->draining)
		next = Min(next, W->drain_deadline);
	next = next <= now ? 0 : (next - now + 999) / 1000;
	return ms < 0 ? (long) next : Min(ms, (long) next);
}

static void
start_drain(TimestampTz now)
{
	W->draining = true;
	W->drain_deadline = TimestampTzPlusMilliseconds(now, W->cfg.response_ms);
	sender_release_unsent();
	ereport(LOG, (errmsg("nps: bind \"%s\": stopping, draining %d outstanding submit_sm",
						 W->cfg.name, W->inflight_len)));
}

static void
handle_events(WaitEvent *events, int n)
{
	for (int i = 0; i < n; i++)
	{
		WaitEvent  *e = &events[i];
		SmppConn   *c = e->user_data;

		if (e->events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			W->outbox_maybe = true;
		}
		if (c == NULL || c->fd < 0 || c->fd != e->fd)
			continue;
		if (c->state == CS_CONNECTING && (e->events & WL_SOCKET_WRITEABLE))
			session_on_connected(c);
		if (c->fd >= 0 && (e->events & WL_SOCKET_READABLE))
			session_read(c);
	}
}

void
nps_worker_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);
	WaitEvent	events[4];

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	W = MemoryContextAllocZero(TopMemoryContext, sizeof(Worker));
	W->slot = &nps_shared->binds[slot];
	strlcpy(W->cfg.name, MyBgworkerEntry->bgw_extra, sizeof(W->cfg.name));
	LWLockAcquire(nps_shared->lock, LW_EXCLUSIVE);
	if (!W->slot->in_use || strcmp(W->slot->name, W->cfg.name) != 0)
	{
		LWLockRelease(nps_shared->lock);
		proc_exit(0);			/* the launcher changed its mind */
	}
	W->slot->proc = MyProc;
	W->slot->pid = MyProcPid;
	LWLockRelease(nps_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);

	BackgroundWorkerInitializeConnection(nps_database, NULL, 0);
	pgstat_report_appname(psprintf("nps smpp %s", W->cfg.name));
	W->batch_cxt = AllocSetContextCreate(TopMemoryContext, "nps batch", ALLOCSET_DEFAULT_SIZES);
	W->resps_cap = 64;
	W->resps = MemoryContextAlloc(TopMemoryContext, sizeof(PendingResp) * W->resps_cap);

	store_load_config(W->cfg.name);
	sender_init();
	session_init();
	rebuild_wait_set();
	W->outbox_maybe = true;

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		int			n;

		if (W->wes_dirty)
			rebuild_wait_set();
		update_wait_events();
		n = WaitEventSetWait(W->wes, wait_ms(now), events, lengthof(events), PG_WAIT_EXTENSION);
		handle_events(events, n);

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();
		if (ShutdownRequestPending && !W->draining)
			start_drain(now);

		session_timers(now);
		sender_check_timeouts(now);
		if (now >= W->next_poll)
		{
			W->outbox_maybe = true;
			W->claim_after = 0;
			W->next_poll = TimestampTzPlusMilliseconds(now, POLL_MS);
		}
		store_flush(sender_claim_wanted());
		redelivery_barrier_now();
		sender_pump(now);
		for (int i = 0; i < W->nconns; i++)
			session_flush(&W->conns[i]);

		if (W->draining)
		{
			bool		unbinding = false;

			for (int i = 0; i < W->nconns; i++)
				unbinding |= W->conns[i].state == CS_UNBINDING;
			if (!unbinding && session_bound() && (sender_idle() || now >= W->drain_deadline))
				session_unbind();
			else if (!unbinding && !session_bound() && !session_all_down())
				session_close_all(NULL);
			if (session_all_down())
				break;
		}
	}
	/* whatever is still held goes back to the queue: a last try, back-off
	 * or not (if it fails, the launcher queues the rows again) */
	sender_connection_lost();
	W->store_retry_at = 0;
	store_flush(0);
	nps_slot_set_state(W->slot, "stopped");
	proc_exit(0);
}

/*
 * sender.c: from claimed outbox rows to submit_sm on the wire.
 *
 * A claimed message is encoded at once (GSM 03.38 when the text fits,
 * UCS-2 otherwise; long texts split per nps.smsc.long_message) into one
 * submit_sm per part, and its parts wait in sendq.  Parts go out while the
 * window (outstanding submit_sm keyed by sequence number) has room and the
 * rate limit (parts per second) allows.  ESME_RTHROTTLED / ESME_RMSGQFUL
 * put the part in retryq, which is sent first, in original order, after a
 * pause; the row stays 'sending' meanwhile, and the claim never takes a
 * later message of a subscriber while an earlier one is queued or sending,
 * so nothing is reordered.  Finished messages wait in W->done_ok /
 * W->done_failed for the next store transaction.
 *
 * Back-off: the refusals of one window come together (every part on the
 * wire when the SMSC started refusing), so one pause is one episode: a
 * refusal of a part sent before the current pause began joins it, only a
 * part sent after it and refused again doubles the next pause.  A part sent
 * after the last pause and accepted ends the storm: the next pause is short
 * again, and so is the current one if refusals of that same window began
 * it (the SMSC is at its limit, not refusing everything).  Claims go on
 * during a pause, so that the window after it is full: otherwise only the
 * few parts that were on the wire when a storm began would probe the SMSC,
 * one small window per pause, while the queue waited behind them.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"
#include "text_codec.h"

#define PAUSE_MIN_MS	100		/* first pause of a storm, doubling per pause */
#define PAUSE_MAX_MS	5000
#define PDU_BUF			1600
#define CLAIM_MIN		400

typedef struct WindowEntry
{
	uint32		seq;
	OutPart    *part;
} WindowEntry;

void
sender_init(void)
{
	HASHCTL		ctl;

	dlist_init(&W->sendq);
	dlist_init(&W->retryq);
	dlist_init(&W->inflight);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint32);
	ctl.entrysize = sizeof(WindowEntry);
	W->window = hash_create("nps window", W->cfg.window_size * 2, &ctl, HASH_ELEM | HASH_BLOBS);
	W->msg_cxt = AllocSetContextCreate(TopMemoryContext, "nps messages", ALLOCSET_DEFAULT_SIZES);
	W->tokens = Max(1.0, W->cfg.max_parts_per_second / 20.0);
	W->tokens_at = GetCurrentTimestamp();
}

static void
part_unlink(OutPart *p)
{
	bool		found;

	switch (p->where)
	{
		case PQ_SEND:
			W->sendq_len--;
			break;
		case PQ_RETRY:
			W->retryq_len--;
			break;
		case PQ_FLIGHT:
			W->inflight_len--;
			hash_search(W->window, &p->seq, HASH_REMOVE, &found);
			break;
		default:
			break;
	}
	if (p->where != PQ_NONE)
		dlist_delete(&p->node);
	p->where = PQ_NONE;
}

void
sender_free_msg(OutMsg *m)
{
	for (int i = 0; i < m->nparts; i++)
	{
		part_unlink(&m->parts[i]);
		pfree(m->parts[i].pdu);
	}
	pfree(m->parts);
	pfree(m);
}

/* A message whose outcome we cannot know goes back to the queue. */
static void
msg_requeue(OutMsg *m)
{
	MemoryContext old = MemoryContextSwitchTo(W->batch_cxt);
	int64	   *id = palloc(sizeof(int64));

	*id = m->id;
	W->requeue = lappend(W->requeue, id);
	MemoryContextSwitchTo(old);
	if (m->sent_any)
		nps_count(W->slot, NPS_C_REQUEUED, 1);
	else
		W->requeue_unsent++;
	sender_free_msg(m);
}

static void
msg_finish(OutMsg *m)
{
	MemoryContext old = MemoryContextSwitchTo(W->batch_cxt);

	if (m->failed)
	{
		W->done_failed = lappend(W->done_failed, m);
		nps_count(W->slot, NPS_C_FAILED, 1);
	}
	else
		W->done_ok = lappend(W->done_ok, m);
	MemoryContextSwitchTo(old);
}

/* A message we cannot even encode fails at once, without a status. */
static void
msg_fail_local(OutMsg *m, const char *why)
{
	worker_note_error("message %lld not sent: %s", (long long) m->id, why);
	for (int i = 0; i < m->nparts; i++)
		part_unlink(&m->parts[i]);
	m->failed = true;
	m->error_code = 0;
	msg_finish(m);
}

void
sender_claimed(int64 id, const char *msisdn, const char *source_addr, const char *body)
{
	MemoryContext old = MemoryContextSwitchTo(W->msg_cxt);
	size_t		blen = strlen(body);
	size_t		encsize = blen * 2 + 8;
	uint8	   *enc = palloc(encsize);
	nps_part	split[NPS_MAX_PARTS];
	int			dc = NPS_DC_GSM7;
	int			elen;
	int			nparts;
	int			udh_len = W->cfg.long_message == LM_SAR ? NPS_UDH16_LEN : NPS_UDH8_LEN;
	bool		payload = false;
	unsigned	ref = W->next_ref++;
	OutMsg	   *m = palloc0(sizeof(OutMsg));
	char		err[NPS_PDU_ERRLEN];

	m->id = id;
	m->claim_seq = W->next_seq;
	W->claimed = lappend(W->claimed, m);
	elen = nps_utf8_encode(body, blen, &dc, enc, encsize);
	nparts = elen < 0 ? elen : nps_split(dc, enc, elen, udh_len, split, NPS_MAX_PARTS);
	if (nparts > 1 && W->cfg.long_message == LM_PAYLOAD && elen <= 1024)
	{
		/* one submit_sm carries the whole text in message_payload */
		payload = true;
		nparts = 1;
		split[0].offset = 0;
		split[0].length = elen;
	}
	if (nparts < 1)
	{
		m->parts = palloc0(sizeof(OutPart));
		msg_fail_local(m, "the text cannot be encoded or has more than 255 parts");
		MemoryContextSwitchTo(old);
		return;
	}
	m->nparts = nparts;
	m->parts = palloc0(sizeof(OutPart) * nparts);
	for (int i = 0; i < nparts; i++)
	{
		OutPart    *p = &m->parts[i];
		uint8		text[NPS_SMS_OCTETS + 1024];
		uint8		pdu[PDU_BUF];
		nps_submit	s;
		int			off = 0;
		int			n;

		memset(&s, 0, sizeof(s));
		s.source_addr = source_addr;
		s.source_ton = W->cfg.source_ton;
		s.source_npi = W->cfg.source_npi;
		s.destination_addr = msisdn;
		s.dest_ton = W->cfg.dest_ton;
		s.dest_npi = W->cfg.dest_npi;
		s.data_coding = dc;
		s.registered_delivery = 1;
		s.use_payload = payload;
		if (nparts > 1 && W->cfg.long_message == LM_SAR)
		{
			s.sar_ref = ref & 0xFFFF;
			s.sar_total = nparts;
			s.sar_seq = i + 1;
		}
		else if (nparts > 1)
		{
			off = nps_udh_build(text, sizeof(text), 0, ref & 0xFF, nparts, i + 1);
			s.esm_class = SMPP_ESM_UDHI;
		}
		memcpy(text + off, enc + split[i].offset, split[i].length);
		s.message = text;
		s.message_len = off + split[i].length;
		n = nps_pdu_submit_sm(pdu, sizeof(pdu), 1, &s, err);
		if (n < 0)
		{
			m->nparts = i;
			msg_fail_local(m, err);
			MemoryContextSwitchTo(old);
			return;
		}
		p->msg = m;
		p->part_no = i + 1;
		p->pdu = palloc(n);
		memcpy(p->pdu, pdu, n);
		p->pdu_len = n;
		p->where = PQ_SEND;
		dlist_push_tail(&W->sendq, &p->node);
		W->sendq_len++;
	}
	pfree(enc);
	MemoryContextSwitchTo(old);
}

static void
refill_tokens(TimestampTz now)
{
	double		cap;

	if (W->cfg.max_parts_per_second <= 0)
		return;
	cap = Max(1.0, W->cfg.max_parts_per_second / 20.0);
	W->tokens += (double) (now - W->tokens_at) * W->cfg.max_parts_per_second / 1000000.0;
	W->tokens = Min(W->tokens, cap);
	W->tokens_at = now;
}

void
sender_pump(TimestampTz now)
{
	SmppConn   *tx = session_tx();
	bool		limited = W->cfg.max_parts_per_second > 0;

	if (!session_bound())
		return;
	if (W->paused_until != 0)
	{
		if (now < W->paused_until)
			return;
		W->paused_until = 0;
		W->pause_lifted = now;
		nps_slot_set_state(W->slot, W->draining ? "unbinding" : "bound");
	}
	/* results that cannot be recorded: what is unrecorded stays a window */
	if (W->store_retry_at != 0)
		return;
	refill_tokens(now);
	while (W->inflight_len < W->cfg.window_size && (!limited || W->tokens >= 1.0))
	{
		dlist_head *q = !dlist_is_empty(&W->retryq) ? &W->retryq : &W->sendq;
		OutPart    *p;
		WindowEntry *e;
		bool		found;

		if (dlist_is_empty(q))
			break;
		p = dlist_container(OutPart, node, dlist_head_node(q));
		/* in claim order: the later ones wait too (redelivery.c) */
		if (!redelivery_may_send(p->msg->claim_seq))
			break;
		part_unlink(p);
		p->seq = worker_next_seq();
		smpp_put_u32(p->pdu + 12, p->seq);
		if (p->ordinal == 0)
			p->ordinal = ++W->next_ordinal;
		p->sent_at = now;
		p->deadline = TimestampTzPlusMilliseconds(now, W->cfg.response_ms);
		p->msg->sent_any = true;
		session_send(tx, p->pdu, p->pdu_len);
		e = hash_search(W->window, &p->seq, HASH_ENTER, &found);
		e->part = p;
		p->where = PQ_FLIGHT;
		dlist_push_tail(&W->inflight, &p->node);
		W->inflight_len++;
		if (limited)
			W->tokens -= 1.0;
		nps_count(W->slot, NPS_C_SUBMITTED, 1);
	}
	pg_atomic_write_u32(&W->slot->window_in_use, (uint32) W->inflight_len);
}

/*
 * Throttled: back to retryq in send order, and pause the bind unless the
 * part was already on the wire when the current pause began.
 */
static void
part_throttled(OutPart *p)
{
	dlist_iter	it;
	TimestampTz now;
	int			pause = PAUSE_MIN_MS;

	nps_count(W->slot, NPS_C_THROTTLED, 1);
	p->where = PQ_RETRY;
	W->retryq_len++;
	dlist_foreach(it, &W->retryq)
	{
		OutPart    *q = dlist_container(OutPart, node, it.cur);

		if (q->ordinal > p->ordinal)
		{
			dlist_insert_before(it.cur, &p->node);
			goto inserted;
		}
	}
	dlist_push_tail(&W->retryq, &p->node);
inserted:
	if (p->sent_at < W->pause_from)
		return;					/* this pause answers its refusal already */
	for (int i = 0; i < W->throttle_streak && pause < PAUSE_MAX_MS; i++)
		pause *= 2;
	pause = Min(pause, PAUSE_MAX_MS);
	W->throttle_streak++;
	now = GetCurrentTimestamp();
	W->pause_from = now;
	W->paused_until = TimestampTzPlusMilliseconds(now, pause);
	nps_slot_set_state(W->slot, "throttled");
}

/* Final answer for a part: accepted (message_id) or refused (status). */
static void
part_answered(OutPart *p, uint32 status, const char *message_id)
{
	OutMsg	   *m = p->msg;

	m->answered++;
	if (status == SMPP_ST_OK)
	{
		p->accepted = true;
		strlcpy(p->message_id, message_id, sizeof(p->message_id));
		nps_count(W->slot, NPS_C_ACKNOWLEDGED, 1);
		if (p->sent_at >= W->pause_lifted)
		{
			W->throttle_streak = 0;
			if (W->paused_until != 0)
				W->paused_until = Min(W->paused_until,
									  TimestampTzPlusMilliseconds(W->pause_from, PAUSE_MIN_MS));
		}
	}
	else if (!m->failed)
	{
		m->failed = true;
		m->error_code = status;
		/* the other parts are pointless now: drop those not on the wire */
		for (int i = 0; i < m->nparts; i++)
			if (m->parts[i].where == PQ_SEND || m->parts[i].where == PQ_RETRY)
			{
				part_unlink(&m->parts[i]);
				m->answered++;
			}
	}
	if (m->answered == m->nparts)
		msg_finish(m);
}

static void
handle_status(OutPart *p, uint32 status, const char *message_id)
{
	part_unlink(p);
	if (status == SMPP_ST_RTHROTTLED || status == SMPP_ST_RMSGQFUL)
		part_throttled(p);
	else
		part_answered(p, status, message_id);
	pg_atomic_write_u32(&W->slot->window_in_use, (uint32) W->inflight_len);
}

static OutPart *
window_find(uint32 seq)
{
	WindowEntry *e = hash_search(W->window, &seq, HASH_FIND, NULL);

	return e ? e->part : NULL;
}

/* Whether seq is a submit_sm of ours still waiting for its answer. */
bool
sender_awaits(uint32 seq)
{
	return window_find(seq) != NULL;
}

void
sender_on_resp(const smpp_header *h, const uint8 *pdu)
{
	OutPart    *p = window_find(h->sequence_number);
	char		message_id[SMPP_MSGID_MAX + 1] = "";
	char		err[NPS_PDU_ERRLEN];

	if (p == NULL)
	{
		worker_note_error("submit_sm_resp for unknown sequence %u ignored", h->sequence_number);
		return;
	}
	if (h->command_status == SMPP_ST_OK &&
		nps_pdu_parse_submit_sm_resp(pdu, h->command_length, message_id, sizeof(message_id), err) < 0)
		worker_note_error("%s (sequence %u): accepted without a usable message_id", err, h->sequence_number);
	handle_status(p, h->command_status, message_id);
}

/* generic_nack for one of our submit_sm: a refusal like any other. */
bool
sender_on_nack(uint32 seq, uint32 status)
{
	OutPart    *p = window_find(seq);

	if (p == NULL)
		return false;
	worker_note_error("generic_nack 0x%08X for the submit_sm of message %lld",
					  status, (long long) p->msg->id);
	handle_status(p, status == SMPP_ST_OK ? SMPP_ST_RSYSERR : status, "");
	return true;
}

/* The oldest part on the wire is the first to time out: a dead session. */
void
sender_check_timeouts(TimestampTz now)
{
	OutPart    *p;

	if (dlist_is_empty(&W->inflight))
		return;
	p = dlist_container(OutPart, node, dlist_head_node(&W->inflight));
	if (now >= p->deadline)
		session_close_all(psprintf("no submit_sm_resp within response_timeout (message %lld)",
								   (long long) p->msg->id));
}

/* Every message still held goes back to the queue (outcome unknown). */
void
sender_connection_lost(void)
{
	dlist_head *lists[] = {&W->inflight, &W->retryq, &W->sendq};

	for (int i = 0; i < lengthof(lists); i++)
		while (!dlist_is_empty(lists[i]))
			msg_requeue(dlist_container(OutPart, node, dlist_head_node(lists[i]))->msg);
	W->paused_until = 0;
	pg_atomic_write_u32(&W->slot->window_in_use, 0);
}

/* Draining: messages with nothing on the wire go back unsent. */
void
sender_release_unsent(void)
{
	dlist_head *lists[] = {&W->retryq, &W->sendq};
	List	   *unsent = NIL;
	ListCell   *lc;

	/* collect first: requeueing frees every part of a message */
	for (int i = 0; i < lengthof(lists); i++)
	{
		dlist_iter	it;

		dlist_foreach(it, lists[i])
		{
			OutMsg	   *m = dlist_container(OutPart, node, it.cur)->msg;

			if (!m->sent_any && !m->releasing)
			{
				m->releasing = true;
				unsent = lappend(unsent, m);
			}
		}
	}
	foreach(lc, unsent)
		msg_requeue((OutMsg *) lfirst(lc));
	list_free(unsent);
}

/*
 * The transaction that claimed W->claimed rolled back: their rows are still
 * queued, so the messages are forgotten unsent (the next claim takes them).
 */
void
sender_unclaim(void)
{
	ListCell   *lc;

	foreach(lc, W->claimed)
	{
		OutMsg	   *m = lfirst(lc);

		/* one that could not even be encoded is already among the results */
		W->done_failed = list_delete_ptr(W->done_failed, m);
		sender_free_msg(m);
	}
	list_free(W->claimed);
	W->claimed = NIL;
}

/* How many rows to claim now (0: none). */
int
sender_claim_wanted(void)
{
	/* a window on the wire and as much again ready, in batches of at least
	 * CLAIM_MIN rows: the cost of a store transaction is per row, plus a
	 * fixed part that small batches would pay too often */
	int			target = Max(2 * W->cfg.window_size, CLAIM_MIN);
	int			held = W->sendq_len + W->retryq_len + W->inflight_len;
	int			want;

	/* not stopped while throttled: the window after the pause needs them */
	if (!W->outbox_maybe || W->draining || !session_bound())
		return 0;
	if (W->cfg.max_parts_per_second > 0)
		target = Min(target, Max(1, W->cfg.max_parts_per_second));
	want = target - held;
	/* claim in batches: a row at a time would cost a commit a row */
	if (want < Max(1, target / 4))
		return 0;
	return want;
}

/* Longest sleep before the sender has something to do. */
long
sender_wait_ms(TimestampTz now)
{
	TimestampTz next = 0;
	bool		work = (W->sendq_len > 0 || W->retryq_len > 0) && W->store_retry_at == 0;

	if (W->paused_until != 0 && work)
		next = W->paused_until;
	else if (work && W->cfg.max_parts_per_second > 0 && W->inflight_len < W->cfg.window_size &&
			 W->tokens < 1.0)
		next = TimestampTzPlusMilliseconds(now, (int) ((1.0 - W->tokens) * 1000.0 /
													   W->cfg.max_parts_per_second) + 1);
	if (!dlist_is_empty(&W->inflight))
	{
		OutPart    *p = dlist_container(OutPart, node, dlist_head_node(&W->inflight));

		if (next == 0 || p->deadline < next)
			next = p->deadline;
	}
	if (next == 0)
		return -1;
	return next <= now ? 0 : (long) ((next - now + 999) / 1000);
}

bool
sender_idle(void)
{
	return dlist_is_empty(&W->inflight) && dlist_is_empty(&W->retryq) && W->sendq_len == 0;
}

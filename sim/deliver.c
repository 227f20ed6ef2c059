/*-------------------------------------------------------------------------
 *
 * deliver.c
 *	  What the simulator owes the ESMEs: receipts and subscriber messages.
 *	  Each deliver_sm waits in the time heap until due, then in its
 *	  system_id's queue until a receiver has room in its window, then in
 *	  flight until answered.  A refusal, a timeout or a dropped connection
 *	  puts it back in the heap: a real SMSC redelivers too.
 *
 *	  Also here: reassembly of concatenated submits and what a complete
 *	  message triggers (duplicate count, the subscriber's reply).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define REASM_MAX		10000	/* incomplete concatenations kept */
#define REASM_TTL_MS	(10 * 60 * 1000)

/* a concatenated submit being reassembled */
typedef struct reasm
{
	struct reasm *next;
	int			sys;
	int			style;			/* 8, 16 (UDH ref bits) or 0 for SAR */
	unsigned	ref;
	int			total,
				have;
	int64_t		created;
	pdu_sm		meta;			/* first part's addresses and coding */
	size_t		len[256];
	uint8_t    *part[256];
} reasm;

sysq		systems[MAX_SYSTEMS];
int			n_systems;
dheap		timers;
dlist		inflight;
u64set		seen;

static dhash inflight_hash;
static reasm *reasms;
static int	n_reasm;
static unsigned next_mo_ref;

/*
 * Deliveries in flight on c go back to be sent again, after --requeue-ms: a
 * real SMSC retries on its own schedule, not necessarily at the next bind.
 */
void
requeue_inflight(conn *c)
{
	delivery   *d = inflight.head;

	while (d && c->inflight > 0)
	{
		delivery   *next = d->next;

		if (d->conn_id == c->id)
		{
			dhash_take(&inflight_hash, d->conn_id, d->seq);
			dl_remove(&inflight, d);
			c->inflight--;
			d->due_ms = now + opt.requeue_ms;
			dh_push(&timers, d);
		}
		d = next;
	}
}

int
system_index(const char *name)
{
	int			i;

	for (i = 0; i < n_systems; i++)
		if (strcmp(systems[i].name, name) == 0)
			return i;
	if (n_systems == MAX_SYSTEMS)
		return -1;
	snprintf(systems[n_systems].name, sizeof(systems[0].name), "%s", name);
	return n_systems++;
}

static void
schedule(delivery *d, int64_t due)
{
	d->due_ms = due;
	if (due <= now)
		dl_push(&systems[d->sys].q, d);
	else
		dh_push(&timers, d);
}

static void
send_delivery(conn *c, delivery *d)
{
	d->conn_id = c->id;
	d->seq = conn_seq(c);
	smpp_put_u32(d->pdu + 12, d->seq);
	nb_append(&c->out, d->pdu, d->len);
	d->due_ms = now + opt.deliver_timeout_ms;
	dl_push(&inflight, d);
	dhash_put(&inflight_hash, d);
	c->inflight++;
	if (d->attempts++ > 0)
		st.redeliveries++;
	else if (d->kind == DLV_RECEIPT)
		st.receipts_sent++;
	else
		st.mo_sent++;
}

/* Hands queued deliveries to bound receivers, up to each one's window */
void
pump(void)
{
	int			i;

	for (i = 0; i < n_systems; i++)
	{
		sysq	   *s = &systems[i];
		int			progress = 1;

		/* round robin: one each per pass so several binds share the load */
		while (s->q.n > 0 && progress)
		{
			conn	   *c;

			progress = 0;
			for (c = conns; c && s->q.n > 0; c = c->next)
			{
				if (c->dead || c->closing || c->control || c->sys != i ||
					!(c->bind & BIND_RX) || c->inflight >= opt.window ||
					nb_pending(&c->out) >= OUT_PAUSE)
					continue;
				send_delivery(c, dl_pop(&s->q));
				progress = 1;
			}
		}
	}
}

void
delivery_answered(conn *c, uint32_t seq, uint32_t status)
{
	delivery   *d = dhash_take(&inflight_hash, c->id, seq);

	if (d == NULL)
		return;					/* late answer to one we already resent */
	dl_remove(&inflight, d);
	c->inflight--;
	if (status == SMPP_ST_OK)
	{
		if (d->kind == DLV_MO)
			st.mo_acked++;
		else
			st.receipts_acked++;
		free(d);
		return;
	}
	st.deliver_errors++;
	say("deliver_sm seq %u refused with 0x%08X: again in %d ms", seq, status,
		opt.redeliver_ms);
	d->due_ms = now + opt.redeliver_ms;
	dh_push(&timers, d);
}

void
check_timeouts(void)
{
	while (inflight.head && inflight.head->due_ms <= now)
	{
		delivery   *d = inflight.head;
		conn	   *c;

		dhash_take(&inflight_hash, d->conn_id, d->seq);
		dl_remove(&inflight, d);
		for (c = conns; c; c = c->next)
			if (c->id == d->conn_id)
				c->inflight--;
		st.deliver_timeouts++;
		d->due_ms = now + opt.redeliver_ms;
		dh_push(&timers, d);
	}
}

void
run_timers(void)
{
	delivery   *d;

	while ((d = dh_top(&timers)) != NULL && d->due_ms <= now)
	{
		dh_pop(&timers);
		dl_push(&systems[d->sys].q, d);
	}
}

/* Packs a deliver_sm and schedules it; the sequence number is set per send */
static void
queue_deliver(int sys, int kind, pdu_sm *p, int64_t due)
{
	uint8_t		buf[2048];
	int			n;

	p->seq = 1;
	n = pdu_pack_sm(SMPP_CMD_DELIVER_SM, p, buf, sizeof(buf));
	if (n < 0)
	{
		fprintf(stderr, "nps-smsc-sim: cannot pack deliver_sm: %s\n", pdu_error());
		return;
	}
	schedule(delivery_new(sys, kind, buf, (size_t) n), due);
}

/*
 * The receipt text's "text:" field: the first 20 characters, keeping only
 * those that are the same octet in ASCII and GSM 03.38 so the receipt can
 * go out as data_coding 0 and still read as ASCII.
 */
static void
receipt_excerpt(const char *utf8, char *out)
{
	const uint8_t *p = (const uint8_t *) utf8;
	int			n = 0;

	while (*p && n < 20)
	{
		uint8_t		ch = *p;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			(ch >= ' ' && ch <= '?' && ch != '$'))
			out[n++] = (char) ch;
		else
			out[n++] = '?';
		/* skip the rest of a multi-octet character */
		for (p++; (*p & 0xC0) == 0x80; p++)
			;
	}
	out[n] = '\0';
}

void
make_receipt(int sys, const pdu_sm *sub, const char *msgid,
			 const char *part_text)
{
	static pdu_sm r;
	char		excerpt[32];
	char		txt[256];
	time_t		t = time(NULL);
	int			lost = sub_unreachable(&opt.sub, sub->dst);
	smpp_receipt_stat stat = lost ? SMPP_STAT_UNDELIV : SMPP_STAT_DELIVRD;
	int			n;

	receipt_excerpt(part_text, excerpt);
	n = smpp_receipt_format(txt, sizeof(txt), msgid, 1, lost ? 0 : 1, t, t,
							stat, lost ? 1 : 0, excerpt, strlen(excerpt));
	if (n < 0)
		return;
	pdu_sm_init(&r);
	r.src_ton = sub->dst_ton;
	r.src_npi = sub->dst_npi;
	snprintf(r.src, sizeof(r.src), "%s", sub->dst);
	r.dst_ton = sub->src_ton;
	r.dst_npi = sub->src_npi;
	snprintf(r.dst, sizeof(r.dst), "%s", sub->src);
	r.esm_class = SMPP_ESM_RECEIPT;
	r.data_coding = NPS_DC_GSM7;
	r.sm_len = (size_t) n;
	memcpy(r.sm, txt, (size_t) n);
	snprintf(r.receipted_id, sizeof(r.receipted_id), "%s", msgid);
	r.message_state = stat;	/* numbered as message_state numbers them */
	queue_deliver(sys, DLV_RECEIPT, &r, now + opt.receipt_delay_ms);
}

/*
 * A subscriber message (reply or injected), split like a handset would:
 * 8-bit or 16-bit UDH, or SAR TLVs.
 */
int
make_mo(int sys, const char *msisdn, const char *shortcode, uint8_t sc_ton,
		uint8_t sc_npi, const char *text, int style, int64_t due)
{
	static pdu_sm m;
	uint8_t		enc[8192];
	nps_part	parts[64];
	int			dc,
				n,
				k,
				i;
	int			udh_len = style == MO_UDH8 ? NPS_UDH8_LEN : NPS_UDH16_LEN;
	unsigned	ref = next_mo_ref++ & (style == MO_UDH8 ? 0xFF : 0xFFFF);

	n = nps_utf8_encode(text, strlen(text), &dc, enc, sizeof(enc));
	if (n < 0)
		return -1;
	k = nps_split(dc, enc, (size_t) n, udh_len, parts, 64);
	if (k < 0)
		return -1;
	for (i = 0; i < k; i++)
	{
		size_t		o = 0;

		pdu_sm_init(&m);
		m.src_ton = 1;			/* international msisdn */
		m.src_npi = 1;
		snprintf(m.src, sizeof(m.src), "%s", msisdn);
		m.dst_ton = sc_ton;
		m.dst_npi = sc_npi;
		snprintf(m.dst, sizeof(m.dst), "%s", shortcode);
		m.data_coding = (uint8_t) dc;
		if (k > 1 && style == MO_SAR)
		{
			m.has_sar = 1;
			m.sar_ref = (uint16_t) ref;
			m.sar_total = (uint8_t) k;
			m.sar_seq = (uint8_t) (i + 1);
		}
		else if (k > 1)
		{
			m.esm_class = SMPP_ESM_UDHI;
			o = (size_t) nps_udh_build(m.sm, sizeof(m.sm), style == MO_UDH16,
									   ref, k, i + 1);
		}
		memcpy(m.sm + o, enc + parts[i].offset, parts[i].length);
		m.sm_len = o + parts[i].length;
		queue_deliver(sys, DLV_MO, &m, due);
	}
	st.mo_messages++;
	return k;
}

/* UTF-8 of coded text, or an empty string when it is not text */
int
decode(int dc, const uint8_t *p, size_t len, char **out)
{
	static char *buf;
	static size_t cap;
	size_t		need = len * 3 + 1;
	int			n;

	if (need > cap)
	{
		cap = need < 4096 ? 4096 : need;
		free(buf);
		buf = malloc(cap);
		if (buf == NULL)
			abort();
	}
	n = nps_decode_to_utf8(dc, p, len, buf, cap);
	if (n < 0)
		buf[0] = '\0';
	*out = buf;
	return n;
}

/*
 * A whole message arrived: count it, and let its subscriber answer.  text
 * is its UTF-8 when the caller has decoded it already (NULL if it failed).
 */
void
message_complete(int sys, const pdu_sm *meta, const uint8_t *bytes, size_t len,
				 char *text)
{
	char		reply[1024];
	int			delay;
	sub_rng		rng;

	st.messages++;
	if (bytes && decode(meta->data_coding, bytes, len, &text) < 0)
		text = NULL;
	if (text == NULL)
	{
		st.undecodable++;
		return;
	}
	if (u64set_add(&seen, sub_hash(sub_hash(sub_hash(0, meta->src), meta->dst), text)))
		st.unique_messages++;
	else
		st.duplicates++;
	if (opt.sink || sub_unreachable(&opt.sub, meta->dst))
		return;
	if (sub_reply(&opt.sub, meta->dst, text, reply, sizeof(reply), &delay, &rng))
	{
		int			style = opt.mo_concat;

		if (style == MO_MIX)
			style = MO_UDH8 + (int) (sub_next(&rng) % 3);
		make_mo(sys, meta->dst, meta->src, meta->src_ton, meta->src_npi,
				reply, style, now + delay);
	}
}

static void
reasm_free(reasm *r)
{
	int			i;

	for (i = 0; i < 256; i++)
		free(r->part[i]);
	free(r);
}

/* Drops concatenations that will never complete (lost parts) */
void
reasm_expire(int force_oldest)
{
	reasm	  **p = &reasms,
			  **oldest = NULL;

	while (*p)
	{
		if (now - (*p)->created > REASM_TTL_MS)
		{
			reasm	   *r = *p;

			*p = r->next;
			reasm_free(r);
			n_reasm--;
			st.concat_dropped++;
			continue;
		}
		if (oldest == NULL || (*p)->created <= (*oldest)->created)
			oldest = p;
		p = &(*p)->next;
	}
	if (force_oldest && oldest)
	{
		reasm	   *r = *oldest;

		*oldest = r->next;
		reasm_free(r);
		n_reasm--;
		st.concat_dropped++;
	}
}

void
reasm_add(int sys, const pdu_sm *p, int style, unsigned ref, int total,
		  int seq, const uint8_t *data, size_t len)
{
	reasm	  **rp;
	reasm	   *r;
	uint8_t    *all;
	size_t		n = 0;
	int			i;

	for (rp = &reasms; *rp; rp = &(*rp)->next)
	{
		r = *rp;
		if (r->sys == sys && r->style == style && r->ref == ref &&
			r->total == total && strcmp(r->meta.src, p->src) == 0 &&
			strcmp(r->meta.dst, p->dst) == 0)
			break;
	}
	if (*rp == NULL)
	{
		if (n_reasm >= REASM_MAX)
			reasm_expire(1);
		r = calloc(1, sizeof(reasm));
		if (r == NULL)
			abort();
		r->sys = sys;
		r->style = style;
		r->ref = ref;
		r->total = total;
		r->created = now;
		r->meta = *p;
		r->next = reasms;
		reasms = r;
		n_reasm++;
		rp = &reasms;
	}
	r = *rp;
	if (r->part[seq] != NULL)
		return;					/* a part sent twice counts once */
	r->part[seq] = malloc(len ? len : 1);
	if (r->part[seq] == NULL)
		abort();
	memcpy(r->part[seq], data, len);
	r->len[seq] = len;
	if (++r->have < r->total)
		return;

	*rp = r->next;
	n_reasm--;
	for (i = 1; i <= r->total; i++)
		n += r->len[i];
	all = malloc(n ? n : 1);
	if (all == NULL)
		abort();
	for (n = 0, i = 1; i <= r->total; i++)
	{
		memcpy(all + n, r->part[i], r->len[i]);
		n += r->len[i];
	}
	message_complete(sys, &r->meta, all, n, NULL);
	free(all);
	reasm_free(r);
}

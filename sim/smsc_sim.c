/*-------------------------------------------------------------------------
 *
 * smsc_sim.c
 *	  nps-smsc-sim: an SMSC simulator for the nps demo, tests and benchmarks.
 *
 *	  Single-threaded epoll loop on 127.0.0.1.  ESMEs bind, submit survey
 *	  questions and get submit_sm_resp, delivery receipts and the simulated
 *	  subscribers' replies as deliver_sm.  A line-based control port lets
 *	  tests inject faults (throttling, queue full, rejects, dropped or hung
 *	  connections, garbage PDUs) and read counters.
 *
 *	  Deliveries owed to an ESME are kept until it acknowledges them: an
 *	  error status, a timeout or a dropped connection sends them again
 *	  later, as a real SMSC does.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "pdu.h"
#include "store.h"
#include "subscriber.h"
#include "text_codec.h"

#define MAX_SYSTEMS		64
#define MAX_EVENTS		256
#define OUT_PAUSE		(8 << 20)	/* stop reading a peer that does not read */
#define OUT_RESUME		(1 << 20)
#define REASM_MAX		10000	/* incomplete concatenations kept */
#define REASM_TTL_MS	(10 * 60 * 1000)
#define CONTROL_LINE_MAX 65536
/*
 * Octets read from one ESME per loop turn: about half a window of 100
 * submit_sm, so responses to the first half go out while the ESME is
 * still sending the second.  Reading whole windows makes the two sides
 * take turns instead (measured: ~60k/s against ~140k/s with 4 KiB).
 */
#define ESME_READ_MAX	4096
#define SIM_SYSTEM_ID	"npssim"

#define BIND_TX		1
#define BIND_RX		2

/* MO concatenation styles */
#define MO_MIX		0
#define MO_UDH8		1
#define MO_UDH16	2
#define MO_SAR		3

typedef struct options
{
	int			port;
	int			control_port;	/* -1: no control port */
	const char *system_id;		/* NULL: any */
	const char *password;		/* NULL: any */
	int			id_hex;
	int			receipt_delay_ms;
	int			receipt_delay_set;
	int			deliver_timeout_ms;
	int			redeliver_ms;
	int			enquire_ms;
	int			window;
	int			sink;
	int			mo_concat;
	const char *log_path;
	int			verbose;
	sub_config	sub;
} options;

typedef struct stats
{
	uint64_t	binds,
				submits,
				submit_parts,
				messages,
				unique_messages,
				duplicates,
				receipts_sent,
				receipts_acked,
				mo_messages,
				mo_sent,
				mo_acked,
				redeliveries,
				deliver_errors,
				deliver_timeouts,
				throttled,
				qfull,
				rejected,
				generic_nacks,
				undecodable,
				concat_dropped;
} stats;

typedef struct conn
{
	struct conn *next;
	int			fd;
	uint32_t	id;
	int			control;		/* control-port client, not an ESME */
	int			bind;			/* BIND_TX | BIND_RX bits */
	int			sys;			/* systems[] index once bound */
	netbuf		in,
				out;
	uint32_t	seq;			/* last sequence_number we used */
	int			inflight;		/* our deliver_sm awaiting a resp */
	int64_t		last_enquire;
	int			closing;		/* close once out is flushed */
	int			dead;			/* fd closed; freed at the end of the loop */
	uint32_t	events;			/* what epoll watches now */
} conn;

typedef struct sysq
{
	char		name[16];
	dlist		q;				/* deliveries waiting for a session */
} sysq;

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

static options opt = {
	.port = 2775,
	.control_port = -1,
	.id_hex = 1,
	.receipt_delay_ms = 200,
	.deliver_timeout_ms = 10000,
	.redeliver_ms = 2000,
	.enquire_ms = 30000,
	.window = 100,
	.mo_concat = MO_MIX,
	.sub = {
		.seed = 1,
		.reply_rate = 0.8,
		.stop_rate = 0.01,
		.garbage_rate = 0.02,
		.alarm_rate = 0.1,
		.scores = {2, 1, 1, 1, 2, 3, 10, 12, 18, 20, 30},
		.reply_min_ms = 1000,
		.reply_max_ms = 5000,
	},
};

static stats st;
static conn *conns;
static uint32_t next_conn_id = 1;
static int	n_esme;
static sysq systems[MAX_SYSTEMS];
static int	n_systems;
static dheap timers;			/* deliveries not due yet */
static dlist inflight;			/* sent, awaiting resp; oldest first */
static dhash inflight_hash;
static u64set seen;				/* hashes of (source, dest, text) */
static reasm *reasms;
static int	n_reasm;
static int	epfd;
static int	listen_fd,
			control_fd = -1;
static FILE *logf;
static uint64_t next_msgid;
static unsigned next_mo_ref;
static int64_t now;
static volatile sig_atomic_t stop_requested;
static int	hang;

/* fault injection: next N submit_sm get this status */
static int	inj_throttle,
			inj_qfull,
			inj_reject;
static uint32_t inj_reject_status;

/* epoll tags for the two listeners */
static int	tag_listen,
			tag_control;

static void
say(const char *fmt,...)
{
	va_list		ap;

	if (!opt.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "nps-smsc-sim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------
 * connections
 * --------------------------------------------------------------------- */

static void
watch(conn *c)
{
	uint32_t	ev = 0;
	struct epoll_event e;

	if (c->dead)
		return;
	/*
	 * A hung SMSC reads nothing.  A peer that does not read what we send is
	 * not read either until it catches up (hysteresis: pause at OUT_PAUSE,
	 * resume below OUT_RESUME).
	 */
	if (!(hang && !c->control) && !c->closing &&
		nb_pending(&c->out) < ((c->events & EPOLLIN) ? OUT_PAUSE : OUT_RESUME))
		ev |= EPOLLIN;
	if (nb_pending(&c->out) > 0)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static conn *
conn_new(int fd, int control)
{
	conn	   *c = calloc(1, sizeof(conn));
	struct epoll_event e;

	if (c == NULL)
		abort();
	c->fd = fd;
	c->id = next_conn_id++;
	c->control = control;
	c->sys = -1;
	c->last_enquire = now;
	c->events = EPOLLIN;
	c->next = conns;
	conns = c;
	e.events = EPOLLIN;
	e.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	if (!control)
		n_esme++;
	return c;
}

/* Deliveries in flight on c go back to be sent again */
static void
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
			d->due_ms = now;
			dh_push(&timers, d);
		}
		d = next;
	}
}

static void
conn_kill(conn *c)
{
	if (c->dead)
		return;
	say("connection %u closed", c->id);
	requeue_inflight(c);
	close(c->fd);				/* also leaves the epoll set */
	c->dead = 1;
	if (!c->control)
		n_esme--;
}

static void
conns_sweep(void)
{
	conn	  **p = &conns;

	while (*p)
	{
		conn	   *c = *p;

		if (c->dead)
		{
			*p = c->next;
			nb_free(&c->in);
			nb_free(&c->out);
			free(c);
		}
		else
			p = &c->next;
	}
}

static uint32_t
conn_seq(conn *c)
{
	c->seq = (c->seq % 0x7FFFFFFFu) + 1;	/* 1..2^31-1, never 0 */
	return c->seq;
}

static void
send_header(conn *c, uint32_t id, uint32_t status, uint32_t seq)
{
	smpp_write_header_pdu(nb_reserve(&c->out, SMPP_HEADER_LEN),
						  SMPP_HEADER_LEN, id, status, seq);
	c->out.len += SMPP_HEADER_LEN;
}

static void
send_nack(conn *c, uint32_t status, uint32_t seq)
{
	send_header(c, SMPP_CMD_GENERIC_NACK, status, seq);
	st.generic_nacks++;
}

static void
send_resp_str(conn *c, uint32_t id, uint32_t status, uint32_t seq,
			  const char *s)
{
	int			n = pdu_write_resp_str(nb_reserve(&c->out, 128), 128, id,
									   status, seq, s);

	if (n > 0)
		c->out.len += (size_t) n;
}

/* ---------------------------------------------------------------------
 * deliveries
 * --------------------------------------------------------------------- */

static int
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
static void
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

static void
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

static void
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

static void
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

static void
make_receipt(int sys, const pdu_sm *sub, const char *msgid,
			 const char *part_text)
{
	static pdu_sm r;
	char		excerpt[32];
	char		txt[256];
	time_t		t = time(NULL);
	int			n;

	receipt_excerpt(part_text, excerpt);
	n = smpp_receipt_format(txt, sizeof(txt), msgid, 1, 1, t, t,
							SMPP_STAT_DELIVRD, 0, excerpt, strlen(excerpt));
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
	r.message_state = SMPP_STAT_DELIVRD;
	queue_deliver(sys, DLV_RECEIPT, &r, now + opt.receipt_delay_ms);
}

/*
 * A subscriber message (reply or injected), split like a handset would:
 * 8-bit or 16-bit UDH, or SAR TLVs.
 */
static int
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

/* ---------------------------------------------------------------------
 * submits
 * --------------------------------------------------------------------- */

/* UTF-8 of coded text, or an empty string when it is not text */
static int
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
static void
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
	if (opt.sink)
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
static void
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

static void
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

static void
log_escaped(const char *s)
{
	for (; *s; s++)
	{
		if (*s == '\t')
			fputs("\\t", logf);
		else if (*s == '\n')
			fputs("\\n", logf);
		else if (*s == '\r')
			fputs("\\r", logf);
		else if (*s == '\\')
			fputs("\\\\", logf);
		else
			fputc(*s, logf);
	}
}

static void
log_submit(conn *c, const pdu_sm *p, const char *msgid, const nps_concat *cc,
		   const char *text)
{
	fprintf(logf, "%lld\t%s\t%u\t%s\t%s\t%s\t%u\t%u\t",
			(long long) wall_ms(), systems[c->sys].name, p->seq,
			msgid ? msgid : "-", p->src, p->dst, p->data_coding, p->esm_class);
	if (cc->total > 0)
		fprintf(logf, "%u\t%d\t%d\t", cc->ref, cc->seq, cc->total);
	else
		fputs("-\t1\t1\t", logf);
	log_escaped(text);
	fputc('\n', logf);
}

/* Status the fault injection wants for this submit, or 0 */
static uint32_t
injected_status(void)
{
	if (inj_throttle > 0)
	{
		inj_throttle--;
		st.throttled++;
		return SMPP_ST_RTHROTTLED;
	}
	if (inj_qfull > 0)
	{
		inj_qfull--;
		st.qfull++;
		return SMPP_ST_RMSGQFUL;
	}
	if (inj_reject > 0)
	{
		inj_reject--;
		st.rejected++;
		return inj_reject_status;
	}
	return SMPP_ST_OK;
}

static void
handle_submit(conn *c, const smpp_header *h, const uint8_t *pdu)
{
	static pdu_sm p;
	nps_concat	cc = {0, 0, 0, 0};
	int			style = 8;		/* reassembly key: 8/16-bit UDH, 0 SAR */
	const uint8_t *data;
	size_t		len;
	uint32_t	status;
	char		msgid[32];
	char	   *text;
	int			text_ok;

	st.submits++;
	if (!(c->bind & BIND_TX))
	{
		send_resp_str(c, h->command_id | SMPP_RESP_BIT, SMPP_ST_RINVBNDSTS,
					  h->sequence_number, "");
		return;
	}
	if (pdu_unpack_sm(SMPP_CMD_SUBMIT_SM, pdu, h->command_length, &p) < 0)
	{
		say("garbled submit_sm seq %u: %s", h->sequence_number, pdu_error());
		send_nack(c, SMPP_ST_RINVCMDLEN, h->sequence_number);
		return;
	}

	/* where the text is, and which part of what */
	data = p.sm;
	len = p.sm_len;
	if (p.payload_len > 0)
	{
		data = p.payload;
		len = p.payload_len;
	}
	else if (p.esm_class & SMPP_ESM_UDHI)
	{
		int			u = nps_udh_parse(p.sm, p.sm_len, &cc);

		if (u < 0)
		{
			send_resp_str(c, SMPP_CMD_SUBMIT_SM | SMPP_RESP_BIT,
						  SMPP_ST_RINVMSGLEN, p.seq, "");
			return;
		}
		data += u;
		len -= (size_t) u;
		style = cc.ref16 ? 16 : 8;
	}
	if (cc.total == 0 && p.has_sar && p.sar_total >= 1 &&
		p.sar_seq >= 1 && p.sar_seq <= p.sar_total)
	{
		cc.ref = p.sar_ref;
		cc.total = p.sar_total;
		cc.seq = p.sar_seq;
		style = 0;
	}

	status = p.dst[0] ? injected_status() : SMPP_ST_RINVDSTADR;
	msgid[0] = '\0';
	if (status == SMPP_ST_OK)
	{
		unsigned long long id = next_msgid++;

		snprintf(msgid, sizeof(msgid), opt.id_hex ? "%llx" : "%llu", id);
		st.submit_parts++;
	}
	send_resp_str(c, SMPP_CMD_SUBMIT_SM | SMPP_RESP_BIT, status, p.seq, msgid);

	text_ok = decode(p.data_coding, data, len, &text) >= 0;
	if (logf)
		log_submit(c, &p, status == SMPP_ST_OK ? msgid : NULL, &cc, text);
	if (status != SMPP_ST_OK)
		return;
	if ((p.registered_delivery & 0x03) == 1)
		make_receipt(c->sys, &p, msgid, text);
	if (cc.total > 1)
		reasm_add(c->sys, &p, style, cc.ref, cc.total, cc.seq, data, len);
	else
		message_complete(c->sys, &p, NULL, 0, text_ok ? text : NULL);
}

/* ---------------------------------------------------------------------
 * ESME PDUs
 * --------------------------------------------------------------------- */

static void
handle_bind(conn *c, const smpp_header *h, const uint8_t *pdu)
{
	pdu_bind	b;
	uint32_t	status = SMPP_ST_OK;
	uint32_t	resp = h->command_id | SMPP_RESP_BIT;

	if (c->bind)
		status = SMPP_ST_RALYBND;
	else if (pdu_parse_bind(pdu + SMPP_HEADER_LEN,
							h->command_length - SMPP_HEADER_LEN, &b) < 0)
		status = SMPP_ST_RBINDFAIL;
	else if (opt.system_id && strcmp(opt.system_id, b.system_id) != 0)
		status = SMPP_ST_RINVSYSID;
	else if (opt.password && strcmp(opt.password, b.password) != 0)
		status = SMPP_ST_RINVPASWD;
	else if ((c->sys = system_index(b.system_id)) < 0)
		status = SMPP_ST_RBINDFAIL;

	if (status == SMPP_ST_OK)
	{
		c->bind = h->command_id == SMPP_CMD_BIND_TRANSMITTER ? BIND_TX :
			h->command_id == SMPP_CMD_BIND_RECEIVER ? BIND_RX : BIND_TX | BIND_RX;
		st.binds++;
		say("connection %u: %s as '%s' (interface_version 0x%02X)", c->id,
			smpp_command_name(h->command_id), b.system_id, b.interface_version);
	}
	else
		say("connection %u: %s refused with 0x%02X", c->id,
			smpp_command_name(h->command_id), status);
	send_resp_str(c, resp, status, h->sequence_number, SIM_SYSTEM_ID);
}

static void
handle_pdu(conn *c, const smpp_header *h, const uint8_t *pdu)
{
	uint32_t	id = h->command_id;

	switch (id)
	{
		case SMPP_CMD_BIND_TRANSMITTER:
		case SMPP_CMD_BIND_RECEIVER:
		case SMPP_CMD_BIND_TRANSCEIVER:
			handle_bind(c, h, pdu);
			return;
		case SMPP_CMD_ENQUIRE_LINK:
			send_header(c, id | SMPP_RESP_BIT, SMPP_ST_OK, h->sequence_number);
			return;
		case SMPP_CMD_UNBIND:
			send_header(c, id | SMPP_RESP_BIT, SMPP_ST_OK, h->sequence_number);
			c->closing = 1;
			return;
		case SMPP_CMD_UNBIND | SMPP_RESP_BIT:
			c->closing = 1;
			return;
		case SMPP_CMD_SUBMIT_SM:
			handle_submit(c, h, pdu);
			return;
		case SMPP_CMD_DELIVER_SM | SMPP_RESP_BIT:
		case SMPP_CMD_GENERIC_NACK:
			/* a nack answering one of our deliver_sm refuses it */
			delivery_answered(c, h->sequence_number,
							  id == SMPP_CMD_GENERIC_NACK && h->command_status == 0 ?
							  SMPP_ST_RUNKNOWNERR : h->command_status);
			return;
		default:
			break;
	}
	if (id & SMPP_RESP_BIT)
		return;					/* enquire_link_resp and the like */
	/* a request we do not serve (data_sm, query_sm...) or do not know */
	send_nack(c, SMPP_ST_RINVCMDID, h->sequence_number);
}

static void
read_esme(conn *c)
{
	long		r = nb_read_fd(&c->in, c->fd, ESME_READ_MAX);
	smpp_header h;
	const uint8_t *pdu;
	int			rc = 0;

	if (r == -2)
		return;
	while (!c->closing && (rc = nb_next_pdu(&c->in, &h, &pdu)) == 1)
	{
		handle_pdu(c, &h, pdu);
		nb_consume(&c->in, h.command_length);
	}
	if (!c->closing && rc < 0)
	{
		/* a length we cannot trust: the stream cannot be resynchronised */
		say("connection %u: command_length %u, closing", c->id, h.command_length);
		send_nack(c, SMPP_ST_RINVCMDLEN, h.sequence_number);
		c->closing = 1;
	}
	if (r == 0 || r == -1)
		conn_kill(c);
}

/* ---------------------------------------------------------------------
 * control port
 * --------------------------------------------------------------------- */

static void
reply(conn *c, const char *fmt,...)
{
	char		line[2048];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int) sizeof(line) - 2)
		n = (int) sizeof(line) - 2;
	line[n++] = '\n';
	nb_append(&c->out, line, (size_t) n);
}

static void
reply_stats(conn *c)
{
	size_t		queued = 0;
	int			i;

	for (i = 0; i < n_systems; i++)
		queued += systems[i].q.n;
	reply(c, "ok binds=%llu submits=%llu submit_parts=%llu messages=%llu "
		  "unique_messages=%llu duplicates=%llu receipts_sent=%llu "
		  "receipts_acked=%llu mo_messages=%llu mo_sent=%llu mo_acked=%llu "
		  "redeliveries=%llu deliver_errors=%llu deliver_timeouts=%llu "
		  "throttled=%llu qfull=%llu rejected=%llu generic_nacks=%llu "
		  "undecodable=%llu concat_dropped=%llu connections=%d "
		  "queued=%zu inflight=%zu pending=%zu hang=%d",
		  (unsigned long long) st.binds, (unsigned long long) st.submits,
		  (unsigned long long) st.submit_parts, (unsigned long long) st.messages,
		  (unsigned long long) st.unique_messages,
		  (unsigned long long) st.duplicates,
		  (unsigned long long) st.receipts_sent,
		  (unsigned long long) st.receipts_acked,
		  (unsigned long long) st.mo_messages, (unsigned long long) st.mo_sent,
		  (unsigned long long) st.mo_acked,
		  (unsigned long long) st.redeliveries,
		  (unsigned long long) st.deliver_errors,
		  (unsigned long long) st.deliver_timeouts,
		  (unsigned long long) st.throttled, (unsigned long long) st.qfull,
		  (unsigned long long) st.rejected,
		  (unsigned long long) st.generic_nacks,
		  (unsigned long long) st.undecodable,
		  (unsigned long long) st.concat_dropped, n_esme,
		  queued, inflight.n, timers.n, hang);
}

static int
parse_count(const char *s, int *n)
{
	char	   *end;
	long		v;

	if (s == NULL)
		return -1;
	v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v > 1000000000)
		return -1;
	*n = (int) v;
	return 0;
}

/* Sends each ESME a deliver_sm whose body is cut short */
static int
send_garbage(void)
{
	static const uint8_t junk[4] = {0xFF, 0xFE, 0x00, 0x7F};
	conn	   *c;
	int			n = 0;

	for (c = conns; c; c = c->next)
	{
		if (c->dead || c->control)
			continue;
		send_header(c, SMPP_CMD_DELIVER_SM, SMPP_ST_OK, conn_seq(c));
		smpp_put_u32(c->out.data + c->out.len - SMPP_HEADER_LEN,
					 SMPP_HEADER_LEN + sizeof(junk));
		nb_append(&c->out, junk, sizeof(junk));
		n++;
	}
	return n;
}

/*
 * System an injected MO goes to: the configured one (queued until it
 * binds), else the newest bound receiver's; -1 if there is none.
 */
static int
mo_system(void)
{
	conn	   *c;

	if (opt.system_id)
		return system_index(opt.system_id);
	for (c = conns; c; c = c->next)	/* newest connection first */
		if (!c->dead && (c->bind & BIND_RX))
			return c->sys;
	return -1;
}

static void
control_command(conn *c, char *line)
{
	char	   *end = line + strlen(line);	/* before strtok cuts it */
	char	   *cmd = strtok(line, " \t");
	char	   *a1 = strtok(NULL, " \t");
	char	   *a2 = strtok(NULL, " \t");
	int			n;

	if (cmd == NULL)
		reply(c, "error empty command");
	else if (strcmp(cmd, "stats") == 0)
		reply_stats(c);
	else if (strcmp(cmd, "throttle") == 0 || strcmp(cmd, "qfull") == 0)
	{
		if (parse_count(a1, &n) < 0)
			reply(c, "error usage: %s N", cmd);
		else
		{
			*(cmd[0] == 't' ? &inj_throttle : &inj_qfull) = n;
			reply(c, "ok next %d submit_sm get %s", n,
				  cmd[0] == 't' ? "ESME_RTHROTTLED" : "ESME_RMSGQFUL");
		}
	}
	else if (strcmp(cmd, "reject") == 0)
	{
		char	   *end = NULL;
		unsigned long status = a2 ? strtoul(a2, &end, 0) : 0;

		if (parse_count(a1, &n) < 0 || a2 == NULL || *end || status == 0 ||
			status > 0xFFFFFFFFUL)
			reply(c, "error usage: reject N STATUS (e.g. reject 3 0x45)");
		else
		{
			inj_reject = n;
			inj_reject_status = (uint32_t) status;
			reply(c, "ok next %d submit_sm get 0x%08lX", n, status);
		}
	}
	else if (strcmp(cmd, "drop") == 0)
	{
		conn	   *e;

		n = 0;
		for (e = conns; e; e = e->next)
			if (!e->dead && !e->control)
			{
				conn_kill(e);
				n++;
			}
		reply(c, "ok dropped %d", n);
	}
	else if (strcmp(cmd, "hang") == 0 && a1 &&
			 (strcmp(a1, "on") == 0 || strcmp(a1, "off") == 0))
	{
		delivery   *d;

		hang = strcmp(a1, "on") == 0;
		/* time spent hung does not count against the ESME */
		for (d = inflight.head; d && !hang; d = d->next)
			d->due_ms = now + opt.deliver_timeout_ms;
		reply(c, "ok hang %s", a1);
	}
	else if (strcmp(cmd, "garbage") == 0)
		reply(c, "ok sent %d", send_garbage());
	else if (strcmp(cmd, "mo") == 0)
	{
		/* the text is the rest of the line, inner spaces included */
		char	   *text = a2 ? a2 + strlen(a2) + 1 : NULL;
		int			sys = mo_system();
		int			k;

		if (a1 == NULL || a2 == NULL || text >= end ||
			strlen(a1) >= PDU_ADDR_MAX || strlen(a2) >= PDU_ADDR_MAX)
		{
			reply(c, "error usage: mo MSISDN SHORTCODE TEXT");
			return;
		}
		if (sys < 0)
		{
			reply(c, "error no receiver bound (or start with --system-id)");
			return;
		}
		text += strspn(text, " \t");
		k = make_mo(sys, a1, a2, 0, 1, text,
					opt.mo_concat == MO_MIX ? MO_UDH8 : opt.mo_concat, now);
		if (k < 0)
			reply(c, "error text is not valid UTF-8 or too long");
		else
			reply(c, "ok queued %d part%s", k, k == 1 ? "" : "s");
	}
	else if (strcmp(cmd, "reset") == 0)
	{
		memset(&st, 0, sizeof(st));
		inj_throttle = inj_qfull = inj_reject = 0;
		hang = 0;
		u64set_clear(&seen);
		reply(c, "ok reset");
	}
	else if (strcmp(cmd, "help") == 0)
		reply(c, "ok commands: stats throttle qfull reject drop hang garbage mo reset");
	else
		reply(c, "error unknown command '%s'", cmd);
}

static void
read_control(conn *c)
{
	long		r = nb_read_fd(&c->in, c->fd, CONTROL_LINE_MAX);

	for (;;)
	{
		uint8_t    *start = c->in.data + c->in.off;
		uint8_t    *nl = memchr(start, '\n', nb_pending(&c->in));
		size_t		len;

		if (nl == NULL)
			break;
		len = (size_t) (nl - start);
		*nl = '\0';
		if (len > 0 && start[len - 1] == '\r')
			start[len - 1] = '\0';
		control_command(c, (char *) start);
		nb_consume(&c->in, len + 1);
	}
	if (nb_pending(&c->in) > CONTROL_LINE_MAX)
	{
		reply(c, "error line too long");
		c->closing = 1;
	}
	if (r == 0 || r == -1)
		conn_kill(c);
}

/* ---------------------------------------------------------------------
 * main loop
 * --------------------------------------------------------------------- */

static void
accept_all(int lfd, int control)
{
	for (;;)
	{
		int			fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			return;				/* EAGAIN, or a transient error: try later */
		net_tune(fd);
		say("connection %u accepted%s", next_conn_id, control ? " (control)" : "");
		conn_new(fd, control);
	}
}

static void
send_enquires(void)
{
	conn	   *c;

	for (c = conns; c; c = c->next)
		if (!c->dead && !c->closing && c->bind &&
			now - c->last_enquire >= opt.enquire_ms)
		{
			send_header(c, SMPP_CMD_ENQUIRE_LINK, SMPP_ST_OK, conn_seq(c));
			c->last_enquire = now;
		}
}

static void
flush_all(void)
{
	conn	   *c;

	for (c = conns; c; c = c->next)
	{
		if (c->dead)
			continue;
		if (nb_pending(&c->out) > 0 && nb_flush_fd(&c->out, c->fd) < 0)
		{
			conn_kill(c);
			continue;
		}
		if (c->closing && nb_pending(&c->out) == 0)
		{
			conn_kill(c);
			continue;
		}
		watch(c);
	}
}

static int
wait_ms(void)
{
	int64_t		due = now + 1000;
	delivery   *d = dh_top(&timers);

	if (d && d->due_ms < due)
		due = d->due_ms;
	if (!hang && inflight.head && inflight.head->due_ms < due)
		due = inflight.head->due_ms;
	return due <= now ? 0 : (int) (due - now);
}

static void
loop_once(int timeout)
{
	struct epoll_event ev[MAX_EVENTS];
	int			n = epoll_wait(epfd, ev, MAX_EVENTS, timeout);
	int			i;
	static int64_t last_housekeeping;

	now = now_ms();
	for (i = 0; i < n; i++)
	{
		void	   *p = ev[i].data.ptr;
		conn	   *c = p;

		if (p == &tag_listen)
			accept_all(listen_fd, 0);
		else if (p == &tag_control)
			accept_all(control_fd, 1);
		else if (c->dead)
			continue;
		else if (hang && !c->control)
		{
			/* hung: read nothing, but do not spin on a peer that is gone */
			if (ev[i].events & (EPOLLHUP | EPOLLERR))
				conn_kill(c);
		}
		else if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			(c->control ? read_control : read_esme) (c);
	}
	run_timers();
	if (!hang)
	{
		check_timeouts();
		pump();
		if (opt.enquire_ms > 0)
			send_enquires();
	}
	flush_all();
	conns_sweep();
	if (now - last_housekeeping >= 1000)
	{
		last_housekeeping = now;
		reasm_expire(0);
	}
	if (logf)
		fflush(logf);
}

/* Unbinds every ESME and gives them a moment to answer */
static void
shutdown_all(void)
{
	conn	   *c;
	int64_t		until = now_ms() + 1000;

	hang = 0;
	for (c = conns; c; c = c->next)
	{
		if (c->dead)
			continue;
		if (c->bind)
			send_header(c, SMPP_CMD_UNBIND, SMPP_ST_OK, conn_seq(c));
		else
			c->closing = 1;
	}
	while (n_esme > 0 && now_ms() < until)
	{
		int			open_esme = 0;

		for (c = conns; c; c = c->next)
			if (!c->dead && !c->control && !c->closing)
				open_esme++;
		if (open_esme == 0)
			break;
		flush_all();
		loop_once(50);
	}
	for (c = conns; c; c = c->next)
		if (!c->dead)
		{
			nb_flush_fd(&c->out, c->fd);
			conn_kill(c);
		}
	conns_sweep();
}

static void
on_signal(int sig)
{
	stop_requested = 1;
}

/* ---------------------------------------------------------------------
 * options
 * --------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: nps-smsc-sim [OPTION]...\n"
			"SMPP 3.4 SMSC simulator for nps (listens on 127.0.0.1 only).\n"
			"\n"
			"  --port N              SMPP port (default 2775; 0 picks a free one)\n"
			"  --control-port N      line-based control port (0 picks one; default off)\n"
			"  --system-id ID        accept only this system_id (default any)\n"
			"  --password PW         require this password (default any)\n"
			"  --id-format hex|dec   message_id format (default hex)\n"
			"  --receipt-delay-ms N  delay before a receipt (default 200; --sink: 0)\n"
			"  --deliver-timeout-ms N  deliver_sm_resp wait before redelivery (10000)\n"
			"  --redeliver-ms N      pause before sending a refused deliver_sm again (2000)\n"
			"  --enquire-ms N        enquire_link interval, 0 = never (30000)\n"
			"  --window N            deliver_sm in flight per session (100)\n"
			"  --sink                benchmark: no subscriber replies, receipts at once\n"
			"  --log FILE            one TSV line per submit_sm received\n"
			"  --verbose             connection events on stderr\n"
			"\n"
			"Simulated subscribers:\n"
			"  --seed N              answers are deterministic for a seed (1)\n"
			"  --reply-rate P        share of questions answered (0.8)\n"
			"  --reply-min-ms N      earliest reply (1000)\n"
			"  --reply-max-ms N      latest reply (5000)\n"
			"  --scores W0,...,W10   weights of scores 0..10 (2,1,1,1,2,3,10,12,18,20,30)\n"
			"  --alarm-rate P        share of comments that are alarming (0.1)\n"
			"  --stop-rate P         share of replies that are STOP/СТОП/ОТПИСКА (0.01)\n"
			"  --garbage-rate P      share of unparseable replies (0.02)\n"
			"  --mo-concat STYLE     long replies: mix|udh8|udh16|sar (mix)\n"
			"\n"
			"Control port commands (one line each, answered 'ok ...' or 'error ...'):\n"
			"  stats | throttle N | qfull N | reject N STATUS | drop | hang on|off |\n"
			"  garbage | mo MSISDN SHORTCODE TEXT... | reset | help\n");
}

static int
parse_int(const char *s, int min, int *out)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (end == s || *end || v < min || v > 2147483647L)
		return -1;
	*out = (int) v;
	return 0;
}

static int
parse_rate(const char *s, double *out)
{
	char	   *end;
	double		v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 1)
		return -1;
	*out = v;
	return 0;
}

static void
parse_options(int argc, char **argv)
{
	enum
	{
		O_PORT = 256, O_CONTROL, O_SYSID, O_PASSWORD, O_IDFMT, O_RDELAY,
		O_DTIMEOUT, O_REDELIVER, O_ENQUIRE, O_WINDOW, O_SINK, O_LOG,
		O_VERBOSE, O_SEED, O_RRATE, O_RMIN, O_RMAX, O_SCORES, O_ALARM,
		O_STOP, O_GARBAGE, O_MOCONCAT, O_HELP
	};
	static const struct option longopts[] = {
		{"port", required_argument, NULL, O_PORT},
		{"control-port", required_argument, NULL, O_CONTROL},
		{"system-id", required_argument, NULL, O_SYSID},
		{"password", required_argument, NULL, O_PASSWORD},
		{"id-format", required_argument, NULL, O_IDFMT},
		{"receipt-delay-ms", required_argument, NULL, O_RDELAY},
		{"deliver-timeout-ms", required_argument, NULL, O_DTIMEOUT},
		{"redeliver-ms", required_argument, NULL, O_REDELIVER},
		{"enquire-ms", required_argument, NULL, O_ENQUIRE},
		{"window", required_argument, NULL, O_WINDOW},
		{"sink", no_argument, NULL, O_SINK},
		{"log", required_argument, NULL, O_LOG},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"seed", required_argument, NULL, O_SEED},
		{"reply-rate", required_argument, NULL, O_RRATE},
		{"reply-min-ms", required_argument, NULL, O_RMIN},
		{"reply-max-ms", required_argument, NULL, O_RMAX},
		{"scores", required_argument, NULL, O_SCORES},
		{"alarm-rate", required_argument, NULL, O_ALARM},
		{"stop-rate", required_argument, NULL, O_STOP},
		{"garbage-rate", required_argument, NULL, O_GARBAGE},
		{"mo-concat", required_argument, NULL, O_MOCONCAT},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0}
	};
	int			o,
				bad = 0;

	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		const char *a = optarg;

		switch (o)
		{
			case O_PORT:
				bad |= parse_int(a, 0, &opt.port) < 0 || opt.port > 65535;
				break;
			case O_CONTROL:
				bad |= parse_int(a, 0, &opt.control_port) < 0 || opt.control_port > 65535;
				break;
			case O_SYSID:
				opt.system_id = a;
				bad |= strlen(a) > 15;
				break;
			case O_PASSWORD:
				opt.password = a;
				bad |= strlen(a) > 8;
				break;
			case O_IDFMT:
				opt.id_hex = strcmp(a, "hex") == 0;
				bad |= !opt.id_hex && strcmp(a, "dec") != 0;
				break;
			case O_RDELAY:
				bad |= parse_int(a, 0, &opt.receipt_delay_ms) < 0;
				opt.receipt_delay_set = 1;
				break;
			case O_DTIMEOUT:
				bad |= parse_int(a, 1, &opt.deliver_timeout_ms) < 0;
				break;
			case O_REDELIVER:
				bad |= parse_int(a, 0, &opt.redeliver_ms) < 0;
				break;
			case O_ENQUIRE:
				bad |= parse_int(a, 0, &opt.enquire_ms) < 0;
				break;
			case O_WINDOW:
				bad |= parse_int(a, 1, &opt.window) < 0;
				break;
			case O_SINK:
				opt.sink = 1;
				break;
			case O_LOG:
				opt.log_path = a;
				break;
			case O_VERBOSE:
				opt.verbose = 1;
				break;
			case O_SEED:
				opt.sub.seed = strtoull(a, NULL, 10);
				break;
			case O_RRATE:
				bad |= parse_rate(a, &opt.sub.reply_rate) < 0;
				break;
			case O_RMIN:
				bad |= parse_int(a, 0, &opt.sub.reply_min_ms) < 0;
				break;
			case O_RMAX:
				bad |= parse_int(a, 0, &opt.sub.reply_max_ms) < 0;
				break;
			case O_SCORES:
				bad |= sub_parse_scores(a, opt.sub.scores) < 0;
				break;
			case O_ALARM:
				bad |= parse_rate(a, &opt.sub.alarm_rate) < 0;
				break;
			case O_STOP:
				bad |= parse_rate(a, &opt.sub.stop_rate) < 0;
				break;
			case O_GARBAGE:
				bad |= parse_rate(a, &opt.sub.garbage_rate) < 0;
				break;
			case O_MOCONCAT:
				opt.mo_concat = strcmp(a, "udh8") == 0 ? MO_UDH8 :
					strcmp(a, "udh16") == 0 ? MO_UDH16 :
					strcmp(a, "sar") == 0 ? MO_SAR :
					strcmp(a, "mix") == 0 ? MO_MIX : -1;
				bad |= opt.mo_concat < 0;
				break;
			case O_HELP:
				usage(stdout);
				exit(0);
			default:
				bad = 1;
		}
		if (bad)
		{
			if (o != '?')
				fprintf(stderr, "nps-smsc-sim: bad value for --%s: %s\n",
						longopts[o - O_PORT].name, a ? a : "");
			fprintf(stderr, "Try 'nps-smsc-sim --help'.\n");
			exit(2);
		}
	}
	if (optind < argc || opt.sub.reply_max_ms < opt.sub.reply_min_ms)
	{
		fprintf(stderr, "nps-smsc-sim: %s\n", optind < argc ?
				"unexpected argument" : "--reply-max-ms is below --reply-min-ms");
		exit(2);
	}
	if (opt.sink && !opt.receipt_delay_set)
		opt.receipt_delay_ms = 0;
}

static int
listen_on(int *port, void *tag, const char *what)
{
	struct epoll_event e;
	int			fd = net_listen(port);

	if (fd < 0)
	{
		fprintf(stderr, "nps-smsc-sim: cannot listen on 127.0.0.1:%d for %s: %s\n",
				*port, what, strerror(errno));
		exit(1);
	}
	e.events = EPOLLIN;
	e.data.ptr = tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	return fd;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;

	parse_options(argc, argv);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opt.log_path && (logf = fopen(opt.log_path, "a")) == NULL)
	{
		fprintf(stderr, "nps-smsc-sim: cannot open %s: %s\n", opt.log_path,
				strerror(errno));
		return 1;
	}
	if (logf)
		setvbuf(logf, NULL, _IOFBF, 1 << 16);

	epfd = epoll_create1(0);
	now = now_ms();
	/* ids unique across restarts, so a test never sees one twice */
	next_msgid = (uint64_t) wall_ms();
	listen_fd = listen_on(&opt.port, &tag_listen, "SMPP");
	printf("listening on 127.0.0.1:%d\n", opt.port);
	if (opt.control_port >= 0)
	{
		control_fd = listen_on(&opt.control_port, &tag_control, "control");
		printf("control on 127.0.0.1:%d\n", opt.control_port);
	}
	fflush(stdout);

	while (!stop_requested)
		loop_once(wait_ms());

	say("stopping");
	shutdown_all();
	close(listen_fd);
	if (control_fd >= 0)
		close(control_fd);
	if (logf)
		fclose(logf);
	return 0;
}

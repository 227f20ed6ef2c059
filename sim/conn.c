/*-------------------------------------------------------------------------
 *
 * conn.c
 *	  ESME connections: buffers and epoll interest, binds, submit_sm
 *	  (fault injection, submit log, receipts, reassembly), responses to our
 *	  deliver_sm, enquire_link, unbind, generic_nack for what we do not
 *	  serve or cannot read.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "sim.h"

conn	   *conns;
int			n_esme;
FILE	   *submit_log;
uint64_t	next_msgid;
int			inj_throttle,
			inj_qfull,
			inj_reject;
uint32_t	inj_reject_status;

static uint32_t next_conn_id = 1;

void
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

conn *
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

void
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

void
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

uint32_t
conn_seq(conn *c)
{
	c->seq = (c->seq % 0x7FFFFFFFu) + 1;	/* 1..2^31-1, never 0 */
	return c->seq;
}

void
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

static void
log_escaped(const char *s)
{
	for (; *s; s++)
	{
		if (*s == '\t')
			fputs("\\t", submit_log);
		else if (*s == '\n')
			fputs("\\n", submit_log);
		else if (*s == '\r')
			fputs("\\r", submit_log);
		else if (*s == '\\')
			fputs("\\\\", submit_log);
		else
			fputc(*s, submit_log);
	}
}

static void
log_submit(conn *c, const pdu_sm *p, const char *msgid, const nps_concat *cc,
		   const char *text)
{
	fprintf(submit_log, "%lld\t%s\t%u\t%s\t%s\t%s\t%u\t%u\t",
			(long long) wall_ms(), systems[c->sys].name, p->seq,
			msgid ? msgid : "-", p->src, p->dst, p->data_coding, p->esm_class);
	if (cc->total > 0)
		fprintf(submit_log, "%u\t%d\t%d\t", cc->ref, cc->seq, cc->total);
	else
		fputs("-\t1\t1\t", submit_log);
	log_escaped(text);
	fputc('\n', submit_log);
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
	if (submit_log)
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

void
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

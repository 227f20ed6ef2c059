/*-------------------------------------------------------------------------
 *
 * control.c
 *	  The control port: one text command a line, one answer line each
 *	  ("ok ..." or "error ..."), for tests to inject faults and read
 *	  counters.  See sim/README.md for the commands.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

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
 * A generic_nack with a sequence number the ESME never used, on every ESME
 * connection (sent even while hung: a hung SMSC only reads nothing).
 */
static int
send_stray_nack(uint32_t seq)
{
	conn	   *c;
	int			n = 0;

	for (c = conns; c; c = c->next)
	{
		if (c->dead || c->control)
			continue;
		send_header(c, SMPP_CMD_GENERIC_NACK, SMPP_ST_RINVCMDID, seq);
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
	else if (strcmp(cmd, "nack") == 0)
	{
		char	   *end = NULL;
		unsigned long seq = a1 ? strtoul(a1, &end, 0) : 0;

		if (a1 == NULL || *end || seq > 0xFFFFFFFFUL)
			reply(c, "error usage: nack SEQ");
		else
			reply(c, "ok sent %d", send_stray_nack((uint32_t) seq));
	}
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
		if (*text == '\0')
		{
			reply(c, "error usage: mo MSISDN SHORTCODE TEXT");
			return;
		}
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
		reply(c, "ok commands: stats throttle qfull reject drop hang garbage nack mo reset");
	else
		reply(c, "error unknown command '%s'", cmd);
}

void
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

/*
 * smpp_session.c: the SMPP connections of one bind: non-blocking connect,
 * bind, bounded framing, enquire_link both ways, unbind, and reconnecting
 * with exponential back-off and jitter.  A transceiver bind has one
 * connection; transmitter_receiver has two, brought up and torn down
 * together.  PDUs are dispatched to sender.c and receiver.c.
 */
#include "postgres.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "redelivery.h"

#define IN_CAP		(2 * SMPP_MAX_PDU_LEN)

static void
conn_setup(SmppConn *c, const char *role, uint32 bind_command, bool sends, bool receives)
{
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->bind_command = bind_command;
	c->sends = sends;
	c->receives = receives;
	c->fd = -1;
	c->wes_pos = -1;
	c->in = MemoryContextAlloc(TopMemoryContext, IN_CAP);
	c->out_cap = 65536;
	c->out = MemoryContextAlloc(TopMemoryContext, c->out_cap);
}

void
session_init(void)
{
	if (W->cfg.transceiver)
	{
		conn_setup(&W->conns[0], "transceiver", SMPP_CMD_BIND_TRANSCEIVER, true, true);
		W->nconns = 1;
	}
	else
	{
		conn_setup(&W->conns[0], "transmitter", SMPP_CMD_BIND_TRANSMITTER, true, false);
		conn_setup(&W->conns[1], "receiver", SMPP_CMD_BIND_RECEIVER, false, true);
		W->nconns = 2;
	}
}

bool
session_bound(void)
{
	for (int i = 0; i < W->nconns; i++)
		if (W->conns[i].state != CS_BOUND)
			return false;
	return true;
}

bool
session_all_down(void)
{
	for (int i = 0; i < W->nconns; i++)
		if (W->conns[i].state != CS_DOWN)
			return false;
	return true;
}

SmppConn *
session_tx(void)
{
	return &W->conns[0];		/* the transceiver or the transmitter */
}

/* Next reconnect: min * 2^attempt capped at max, "equal jitter". */
static void
schedule_reconnect(void)
{
	double		delay = W->cfg.reconnect_min_ms;

	for (int i = 0; i < W->reconnect_attempt && delay < W->cfg.reconnect_max_ms; i++)
		delay *= 2;
	delay = Min(delay, (double) W->cfg.reconnect_max_ms);
	delay = delay / 2 + pg_prng_double(&pg_global_prng_state) * delay / 2;
	delay = Max(delay, (double) W->cfg.reconnect_min_ms);
	W->reconnect_attempt++;
	W->reconnect_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int) delay);
}

void
session_close_all(const char *why)
{
	bool		was_up = false;

	for (int i = 0; i < W->nconns; i++)
	{
		SmppConn   *c = &W->conns[i];

		if (c->fd >= 0)
		{
			close(c->fd);
			was_up = true;
		}
		c->fd = -1;
		c->state = CS_DOWN;
		c->in_len = c->out_len = c->out_off = 0;
		c->req_deadline = 0;
	}
	W->wes_dirty = true;
	if (was_up)
	{
		/*
		 * A reply stored before the loss whose deliver_sm_resp the SMSC had
		 * not read comes again after we bind (redelivery.c).
		 */
		redelivery_connection_lost();
		if (why != NULL)
			worker_note_error("%s", why);
	}
	sender_connection_lost();
	schedule_reconnect();
	nps_slot_set_state(W->slot, W->draining ? "stopped" : "backoff");
}

static bool
conn_open(SmppConn *c)
{
	struct addrinfo hints,
			   *res = NULL;
	char		port[16];
	int			one = 1;
	int			rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", W->cfg.port);
	rc = getaddrinfo(W->cfg.host, port, &hints, &res);
	if (rc != 0)
	{
		session_close_all(psprintf("could not resolve \"%s\": %s", W->cfg.host, gai_strerror(rc)));
		return false;
	}
	c->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (c->fd < 0 || fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0 ||
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
		setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
	{
		freeaddrinfo(res);
		session_close_all(psprintf("could not create a socket: %m"));
		return false;
	}
	rc = connect(c->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc < 0 && errno != EINPROGRESS)
	{
		session_close_all(psprintf("could not connect to %s:%d: %m", W->cfg.host, W->cfg.port));
		return false;
	}
	c->state = CS_CONNECTING;
	c->generation++;
	c->req_deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), W->cfg.response_ms);
	return true;
}

void
session_start_connect(void)
{
	if (W->ever_connected)
		nps_count(W->slot, NPS_C_RECONNECTS, 1);
	W->ever_connected = true;
	nps_slot_set_state(W->slot, "connecting");
	for (int i = 0; i < W->nconns; i++)
		if (!conn_open(&W->conns[i]))
			return;
	W->wes_dirty = true;
}

void
session_send(SmppConn *c, const uint8 *pdu, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap)
	{
		/* compact, then grow */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		while (c->out_len + len > c->out_cap)
			c->out_cap *= 2;
		c->out = repalloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, pdu, len);
	c->out_len += len;
}

void
session_send_header(SmppConn *c, uint32 id, uint32 status, uint32 seq)
{
	uint8		buf[SMPP_HEADER_LEN];

	smpp_write_header_pdu(buf, sizeof(buf), id, status, seq);
	session_send(c, buf, SMPP_HEADER_LEN);
}

typedef enum IoOutcome
{
	IO_AGAIN,					/* would block: wait for the socket */
	IO_RETRY,					/* interrupted: try again now */
	IO_DEAD						/* the connection failed: session closed */
} IoOutcome;

/* What a send() or recv() that returned -1 means. */
static IoOutcome
io_error(SmppConn *c)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return IO_AGAIN;
	if (errno == EINTR)
		return IO_RETRY;
	session_close_all(psprintf("connection lost (%s): %m", c->role));
	return IO_DEAD;
}

/* Writes what it can; false when the connection failed. */
bool
session_flush(SmppConn *c)
{
	while (c->fd >= 0 && c->out_off < c->out_len)
	{
		ssize_t		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0)
		{
			IoOutcome	o = io_error(c);

			if (o == IO_RETRY)
				continue;
			return o == IO_AGAIN;
		}
		c->out_off += n;
	}
	return true;
}

static void
send_request(SmppConn *c, uint32 id)
{
	c->req_seq = worker_next_seq();
	c->req_deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), W->cfg.response_ms);
	session_send_header(c, id, 0, c->req_seq);
}

void
session_on_connected(SmppConn *c)
{
	int			err = 0;
	socklen_t	len = sizeof(err);
	uint8		pdu[128];
	char		msg[NPS_PDU_ERRLEN];
	int			n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
	{
		errno = err;
		session_close_all(psprintf("could not connect to %s:%d: %m", W->cfg.host, W->cfg.port));
		return;
	}
	c->req_seq = worker_next_seq();
	n = nps_pdu_bind(pdu, sizeof(pdu), c->bind_command, c->req_seq, W->cfg.system_id,
					 W->cfg.password, W->cfg.system_type, msg);
	if (n < 0)
	{
		session_close_all(msg);
		return;
	}
	session_send(c, pdu, n);
	c->state = CS_BINDING;
	c->req_deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), W->cfg.response_ms);
	c->last_rx = GetCurrentTimestamp();
	nps_slot_set_state(W->slot, "binding");
}

static void
on_bind_resp(SmppConn *c, const smpp_header *h)
{
	if (c->state != CS_BINDING || h->sequence_number != c->req_seq)
		return;
	if (h->command_status != SMPP_ST_OK)
	{
		session_close_all(psprintf("%s refused: command_status 0x%08X", smpp_command_name(c->bind_command),
								   h->command_status));
		return;
	}
	c->state = CS_BOUND;
	c->req_deadline = 0;
	if (session_bound())
	{
		W->reconnect_attempt = 0;
		W->outbox_maybe = true;
		/* redeliveries of replies stored before a loss come soon after */
		redelivery_bound(GetCurrentTimestamp());
		nps_slot_set_state(W->slot, "bound");
		ereport(LOG, (errmsg("nps: bind \"%s\" bound to %s:%d", W->cfg.name, W->cfg.host, W->cfg.port)));
	}
}

static void
dispatch(SmppConn *c, const smpp_header *h, const uint8 *pdu)
{
	uint32		id = h->command_id;

	if (!smpp_command_known(id))
	{
		nps_count(W->slot, NPS_C_GENERIC_NACKS, 1);
		worker_note_error("unknown command_id 0x%08X answered with generic_nack", id);
		session_send_header(c, SMPP_CMD_GENERIC_NACK, SMPP_ST_RINVCMDID, h->sequence_number);
		return;
	}
	/*
	 * An answer to a request of ours: the SMSC read what we wrote before it.
	 * Only one that names a request we wait for (a generic_nack may carry
	 * the SMSC's own sequence number, or none).
	 */
	if ((id & SMPP_RESP_BIT) &&
		((h->sequence_number == c->req_seq && c->req_deadline != 0) || sender_awaits(h->sequence_number)))
		redelivery_response(c, h->sequence_number);
	switch (id)
	{
		case SMPP_CMD_SUBMIT_SM | SMPP_RESP_BIT:
			sender_on_resp(h, pdu);
			break;
		case SMPP_CMD_DELIVER_SM:
		case SMPP_CMD_DATA_SM:
			if (c->receives && c->state == CS_BOUND)
				receiver_on_mo(c, h, pdu);
			else
				session_send_header(c, id | SMPP_RESP_BIT, SMPP_ST_RINVBNDSTS, h->sequence_number);
			break;
		case SMPP_CMD_ENQUIRE_LINK:
			session_send_header(c, SMPP_CMD_ENQUIRE_LINK | SMPP_RESP_BIT, SMPP_ST_OK, h->sequence_number);
			break;
		case SMPP_CMD_ENQUIRE_LINK | SMPP_RESP_BIT:
			if (h->sequence_number == c->req_seq && c->state == CS_BOUND)
				c->req_deadline = 0;
			break;
		case SMPP_CMD_BIND_TRANSCEIVER | SMPP_RESP_BIT:
		case SMPP_CMD_BIND_TRANSMITTER | SMPP_RESP_BIT:
		case SMPP_CMD_BIND_RECEIVER | SMPP_RESP_BIT:
			on_bind_resp(c, h);
			break;
		case SMPP_CMD_UNBIND:
			session_send_header(c, SMPP_CMD_UNBIND | SMPP_RESP_BIT, SMPP_ST_OK, h->sequence_number);
			session_flush(c);
			session_close_all("the SMSC unbound");
			break;
		case SMPP_CMD_UNBIND | SMPP_RESP_BIT:
			if (c->state == CS_UNBINDING)
			{
				close(c->fd);
				c->fd = -1;
				c->state = CS_DOWN;
				W->wes_dirty = true;
			}
			break;
		case SMPP_CMD_GENERIC_NACK:
			nps_count(W->slot, NPS_C_GENERIC_NACKS, 1);
			if (!sender_on_nack(h->sequence_number, h->command_status))
				worker_note_error("generic_nack 0x%08X for sequence %u", h->command_status,
								  h->sequence_number);
			break;
		default:
			if (!(id & SMPP_RESP_BIT))
				session_send_header(c, SMPP_CMD_GENERIC_NACK, SMPP_ST_RINVCMDID, h->sequence_number);
			break;
	}
}

/*
 * Reads what the socket has and dispatches every whole PDU.  A
 * command_length outside [16, 64K] cannot be resynchronised: generic_nack
 * and close.  False when the connection is gone.
 */
bool
session_read(SmppConn *c)
{
	for (;;)
	{
		ssize_t		n;
		size_t		off = 0;

		if (c->fd < 0)
			return false;
		n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
		if (n == 0)
		{
			session_close_all(psprintf("the SMSC closed the connection (%s)", c->role));
			return false;
		}
		if (n < 0)
		{
			IoOutcome	o = io_error(c);

			if (o == IO_RETRY)
				continue;
			return o == IO_AGAIN;
		}
		c->in_len += n;
		c->last_rx = GetCurrentTimestamp();
		for (;;)
		{
			smpp_header h;
			int			rc = smpp_read_header(c->in + off, c->in_len - off, &h);

			if (rc < 0)
			{
				nps_count(W->slot, NPS_C_GENERIC_NACKS, 1);
				session_send_header(c, SMPP_CMD_GENERIC_NACK, SMPP_ST_RINVCMDLEN, h.sequence_number);
				session_flush(c);
				session_close_all(psprintf("bad command_length %u from the SMSC", h.command_length));
				return false;
			}
			if (rc == 0 || h.command_length > c->in_len - off)
				break;
			dispatch(c, &h, c->in + off);
			if (c->fd < 0)
				return false;
			off += h.command_length;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

/*
 * Response deadlines, enquire_link when idle (or when stored replies wait
 * for a sign that the SMSC read their deliver_sm_resp), reconnecting.
 */
void
session_timers(TimestampTz now)
{
	if (session_all_down())
	{
		if (!W->draining && now >= W->reconnect_at)
			session_start_connect();
		return;
	}
	for (int i = 0; i < W->nconns; i++)
	{
		SmppConn   *c = &W->conns[i];

		if (c->state == CS_DOWN)
			continue;
		if (c->req_deadline != 0 && now >= c->req_deadline)
		{
			const char *what = c->state == CS_CONNECTING ? "connect" :
				c->state == CS_BINDING ? smpp_command_name(c->bind_command) :
				c->state == CS_UNBINDING ? "unbind" : "enquire_link";

			session_close_all(psprintf("no answer to %s within response_timeout (%s)", what, c->role));
			return;
		}
		if (c->state == CS_BOUND && c->req_deadline == 0 &&
			(now >= TimestampTzPlusMilliseconds(c->last_rx, W->cfg.enquire_ms) ||
			 redelivery_barrier_due(c, now)))
			send_request(c, SMPP_CMD_ENQUIRE_LINK);
	}
}

/*
 * An enquire_link on c now, unless a request is outstanding there (its
 * answer comes first; the caller asks again then).
 */
void
session_barrier(SmppConn *c)
{
	if (c->state == CS_BOUND && c->req_deadline == 0)
		send_request(c, SMPP_CMD_ENQUIRE_LINK);
}

/* Orderly end: unbind every bound connection, close the others. */
void
session_unbind(void)
{
	for (int i = 0; i < W->nconns; i++)
	{
		SmppConn   *c = &W->conns[i];

		if (c->state == CS_BOUND)
		{
			send_request(c, SMPP_CMD_UNBIND);
			c->state = CS_UNBINDING;
		}
		else if (c->state != CS_UNBINDING && c->fd >= 0)
		{
			close(c->fd);
			c->fd = -1;
			c->state = CS_DOWN;
			W->wes_dirty = true;
		}
	}
	nps_slot_set_state(W->slot, "unbinding");
}

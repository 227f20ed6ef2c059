/*-------------------------------------------------------------------------
 *
 * smpp_frame.c
 *	  Hand-written SMPP framing and delivery-receipt text; see smpp_frame.h.
 *
 *-------------------------------------------------------------------------
 */
#include "smpp_frame.h"

#include <stdio.h>
#include <string.h>

int
smpp_read_header(const uint8_t *buf, size_t avail, smpp_header *h)
{
	if (avail < SMPP_HEADER_LEN)
		return 0;
	h->command_length = smpp_get_u32(buf);
	h->command_id = smpp_get_u32(buf + 4);
	h->command_status = smpp_get_u32(buf + 8);
	h->sequence_number = smpp_get_u32(buf + 12);
	if (h->command_length < SMPP_HEADER_LEN ||
		h->command_length > SMPP_MAX_PDU_LEN)
		return -1;
	return 1;
}

int
smpp_write_header_pdu(uint8_t *out, size_t outsize, uint32_t id,
					  uint32_t status, uint32_t seq)
{
	if (outsize < SMPP_HEADER_LEN)
		return -2;
	smpp_put_u32(out, SMPP_HEADER_LEN);
	smpp_put_u32(out + 4, id);
	smpp_put_u32(out + 8, status);
	smpp_put_u32(out + 12, seq);
	return SMPP_HEADER_LEN;
}

int
smpp_write_generic_nack(uint8_t *out, size_t outsize, uint32_t status,
						uint32_t seq)
{
	return smpp_write_header_pdu(out, outsize, SMPP_CMD_GENERIC_NACK,
								 status, seq);
}

static const struct
{
	uint32_t	id;
	const char *name;
}			smpp_commands[] = {
	{SMPP_CMD_BIND_RECEIVER, "bind_receiver"},
	{SMPP_CMD_BIND_TRANSMITTER, "bind_transmitter"},
	{SMPP_CMD_QUERY_SM, "query_sm"},
	{SMPP_CMD_SUBMIT_SM, "submit_sm"},
	{SMPP_CMD_DELIVER_SM, "deliver_sm"},
	{SMPP_CMD_UNBIND, "unbind"},
	{SMPP_CMD_REPLACE_SM, "replace_sm"},
	{SMPP_CMD_CANCEL_SM, "cancel_sm"},
	{SMPP_CMD_BIND_TRANSCEIVER, "bind_transceiver"},
	{SMPP_CMD_OUTBIND, "outbind"},
	{SMPP_CMD_ENQUIRE_LINK, "enquire_link"},
	{SMPP_CMD_SUBMIT_MULTI, "submit_multi"},
	{SMPP_CMD_ALERT_NOTIFICATION, "alert_notification"},
	{SMPP_CMD_DATA_SM, "data_sm"},
};

#define N_COMMANDS (sizeof(smpp_commands) / sizeof(smpp_commands[0]))

/* Index of the request in smpp_commands, or -1 */
static int
command_index(uint32_t id)
{
	uint32_t	req = id & ~SMPP_RESP_BIT;
	size_t		i;

	for (i = 0; i < N_COMMANDS; i++)
		if (smpp_commands[i].id == req)
		{
			/* these two have no response */
			if ((id & SMPP_RESP_BIT) &&
				(req == SMPP_CMD_OUTBIND || req == SMPP_CMD_ALERT_NOTIFICATION))
				return -1;
			return (int) i;
		}
	return -1;
}

int
smpp_command_known(uint32_t id)
{
	return id == SMPP_CMD_GENERIC_NACK || command_index(id) >= 0;
}

const char *
smpp_command_name(uint32_t id)
{
	/* each response name is a literal: callers may keep the pointer */
	static const char *const resp_names[] = {
		"bind_receiver_resp", "bind_transmitter_resp", "query_sm_resp",
		"submit_sm_resp", "deliver_sm_resp", "unbind_resp",
		"replace_sm_resp", "cancel_sm_resp", "bind_transceiver_resp",
		NULL, "enquire_link_resp", "submit_multi_resp", NULL,
		"data_sm_resp"
	};
	int			i;

	if (id == SMPP_CMD_GENERIC_NACK)
		return "generic_nack";
	i = command_index(id);
	if (i < 0)
		return "unknown";
	return (id & SMPP_RESP_BIT) ? resp_names[i] : smpp_commands[i].name;
}

/* ---- delivery receipts ------------------------------------------------ */

static const char *const stat_names[] = {
	NULL, "ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV",
	"ACCEPTD", "UNKNOWN", "REJECTD"
};

const char *
smpp_stat_name(smpp_receipt_stat stat)
{
	if (stat < SMPP_STAT_ENROUTE || stat > SMPP_STAT_REJECTD)
		return NULL;
	return stat_names[stat];
}

static int
ascii_ncaseeq(const char *a, const char *b, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		char		x = a[i],
					y = b[i];

		if (x >= 'a' && x <= 'z')
			x -= 'a' - 'A';
		if (y >= 'a' && y <= 'z')
			y -= 'a' - 'A';
		if (x != y)
			return 0;
	}
	return 1;
}

int
smpp_stat_from_name(const char *name, size_t len)
{
	int			i;

	if (len != 7)
		return -1;
	for (i = SMPP_STAT_ENROUTE; i <= SMPP_STAT_REJECTD; i++)
		if (ascii_ncaseeq(name, stat_names[i], 7))
			return i;
	return -1;
}

/* UTC YYMMDDhhmm without gmtime(): days-to-civil (H. Hinnant) */
static void
format_date(char *out, time_t t)
{
	long long	secs = (long long) t;
	long long	days = secs / 86400,
				rem = secs % 86400;
	long long	z,
				era,
				doe,
				yoe,
				y,
				doy,
				mp,
				d,
				m;

	if (rem < 0)
		rem += 86400, days--;
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	snprintf(out, 11, "%02d%02d%02d%02d%02d",
			 (int) (((y % 100) + 100) % 100), (int) m, (int) d,
			 (int) (rem / 3600), (int) (rem % 3600 / 60));
}

int
smpp_receipt_format(char *out, size_t outsize, const char *id, int sub,
					int dlvrd, time_t submitted, time_t done,
					smpp_receipt_stat stat, int err, const char *text,
					size_t text_len)
{
	char		sd[11],
				dd[11];
	const char *sname = smpp_stat_name(stat);
	size_t		tl = text ? text_len : 0;
	int			n;

	if (id == NULL || strlen(id) > SMPP_MSGID_MAX || sname == NULL ||
		sub < 0 || sub > 999 || dlvrd < 0 || dlvrd > 999 ||
		err < 0 || err > 999)
		return -1;
	/* appendix B keeps 20 characters; cut on a UTF-8 boundary */
	if (tl > 20)
	{
		tl = 20;
		while (tl > 0 && ((unsigned char) text[tl] & 0xC0) == 0x80)
			tl--;
	}
	format_date(sd, submitted);
	format_date(dd, done);
	n = snprintf(out, outsize,
				 "id:%s sub:%03d dlvrd:%03d submit date:%s done date:%s "
				 "stat:%s err:%03d text:%.*s",
				 id, sub, dlvrd, sd, dd, sname, err, (int) tl,
				 text ? text : "");
	if (n < 0)
		return -1;
	if ((size_t) n >= outsize)
		return -2;
	return n;
}

/* Copies at most dstsize-1 octets; returns 0, or -1 if it did not fit */
static int
copy_field(char *dst, size_t dstsize, const char *src, size_t n)
{
	if (n >= dstsize)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int
parse_num(const char *s, size_t n)
{
	int			v = 0;
	size_t		i;

	if (n == 0 || n > 3)
		return -1;
	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
smpp_receipt_parse(const char *txt, size_t len, smpp_receipt *r)
{
	enum
	{
		K_ID, K_SUB, K_DLVRD, K_DLVR, K_SDATE, K_DDATE, K_STAT, K_ERR, K_TEXT
	};
	static const char *const keys[] = {
		"id:", "sub:", "dlvrd:", "dlvr:", "submit date:", "done date:",
		"stat:", "err:", "text:"
	};
	size_t		i = 0;
	int			have_id = 0,
				have_stat = 0;

	memset(r, 0, sizeof(*r));
	r->sub = r->dlvrd = r->err = -1;

	while (i < len)
	{
		size_t		k,
					vlen = 0;
		const char *v = NULL;
		int			key = -1;

		if (txt[i] == ' ')
		{
			i++;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		{
			size_t		kl = strlen(keys[k]);

			if (len - i >= kl && ascii_ncaseeq(txt + i, keys[k], kl))
			{
				key = (int) k;
				i += kl;
				break;
			}
		}
		if (key == K_TEXT)
		{
			/* the text runs to the end and may contain spaces and colons */
			copy_field(r->text, sizeof(r->text), txt + i,
					   len - i < 20 ? len - i : 20);
			break;
		}
		v = txt + i;
		while (i < len && txt[i] != ' ')
			i++;
		vlen = (size_t) (txt + i - v);

		switch (key)
		{
			case K_ID:
				if (vlen == 0 || copy_field(r->id, sizeof(r->id), v, vlen) < 0)
					return -1;
				have_id = 1;
				break;
			case K_SUB:
				r->sub = parse_num(v, vlen);
				break;
			case K_DLVRD:
			case K_DLVR:
				r->dlvrd = parse_num(v, vlen);
				break;
			case K_SDATE:
				copy_field(r->submit_date, sizeof(r->submit_date), v, vlen);
				break;
			case K_DDATE:
				copy_field(r->done_date, sizeof(r->done_date), v, vlen);
				break;
			case K_STAT:
				{
					int			s = smpp_stat_from_name(v, vlen);

					if (s < 0)
						return -1;
					r->stat = (smpp_receipt_stat) s;
					have_stat = 1;
				}
				break;
			case K_ERR:
				r->err = parse_num(v, vlen);
				break;
			default:
				break;			/* unknown word: skipped */
		}
	}
	return (have_id && have_stat) ? 0 : -1;
}

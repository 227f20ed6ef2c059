/*-------------------------------------------------------------------------
 *
 * pdu.c
 *	  libsmpp34 glue for submit_sm / deliver_sm, and the small PDUs by hand.
 *
 *	  libsmpp34 keeps global state: single-threaded callers only.
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* libsmpp34 headers need stdint.h first */
#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#include "pdu.h"

/* unpack gets a private copy with a NUL after it (see TOOLCHAIN.md) */
static uint8_t scratch[SMPP_MAX_PDU_LEN + 1];
static char last_error[160];

const char *
pdu_error(void)
{
	return last_error;
}

/* Keeps the last "[...]" of libsmpp34's trace: it names the failing field */
static void
set_error(const char *what)
{
	const char *p = strrchr(smpp34_strerror, '[');

	snprintf(last_error, sizeof(last_error), "%s %s", what, p ? p : "");
	last_error[strcspn(last_error, "\n")] = '\0';
}

void
pdu_sm_init(pdu_sm *p)
{
	memset(p, 0, offsetof(pdu_sm, sm));
	p->sm_len = 0;
	p->has_sar = 0;
	p->payload_len = 0;
	p->receipted_id[0] = '\0';
	p->message_state = -1;
}

/* The mandatory fields are the same in submit_sm_t and deliver_sm_t */
#define COPY_SM_FIELDS(d, s) \
	do { \
		(d)->src_ton = (s)->source_addr_ton; \
		(d)->src_npi = (s)->source_addr_npi; \
		(d)->dst_ton = (s)->dest_addr_ton; \
		(d)->dst_npi = (s)->dest_addr_npi; \
		(d)->esm_class = (s)->esm_class; \
		(d)->registered_delivery = (s)->registered_delivery; \
		(d)->data_coding = (s)->data_coding; \
	} while (0)

static void
copy_str(char *dst, size_t dstsize, const uint8_t *src, size_t srcsize)
{
	size_t		n = strnlen((const char *) src, srcsize);

	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
read_tlvs(tlv_t *list, pdu_sm *out)
{
	tlv_t	   *t;

	smpp34_tlv_for_each(t, list)
	{
		switch (t->tag)
		{
			case TLVID_sar_msg_ref_num:
				out->sar_ref = t->value.val16;
				out->has_sar |= 1;
				break;
			case TLVID_sar_total_segments:
				out->sar_total = t->value.val08;
				out->has_sar |= 2;
				break;
			case TLVID_sar_segment_seqnum:
				out->sar_seq = t->value.val08;
				out->has_sar |= 4;
				break;
			case TLVID_message_payload:
				out->payload_len = t->length <= PDU_PAYLOAD_MAX ? t->length : 0;
				memcpy(out->payload, t->value.octet, out->payload_len);
				break;
			case TLVID_receipted_message_id:
				copy_str(out->receipted_id, sizeof(out->receipted_id),
						 t->value.octet, t->length);
				break;
			case TLVID_message_state:
				out->message_state = t->value.val08;
				break;
			default:
				break;
		}
	}
	/* SAR counts only when all three TLVs came */
	out->has_sar = (out->has_sar == 7);
}

int
pdu_unpack_sm(uint32_t command_id, const uint8_t *buf, size_t len,
			  pdu_sm *out)
{
	static submit_sm_t s;		/* both are large: keep them off the stack */
	static deliver_sm_t d;
	int			rc;

	if (len > SMPP_MAX_PDU_LEN || len < SMPP_HEADER_LEN)
	{
		snprintf(last_error, sizeof(last_error), "bad length %zu", len);
		return -1;
	}
	memcpy(scratch, buf, len);
	scratch[len] = 0;
	pdu_sm_init(out);
	out->seq = smpp_get_u32(buf + 12);

	if (command_id == SMPP_CMD_SUBMIT_SM)
	{
		memset(&s, 0, sizeof(s));
		rc = smpp34_unpack(SUBMIT_SM, &s, scratch, (int) len);
		if (rc == 0)
		{
			COPY_SM_FIELDS(out, &s);
			copy_str(out->src, sizeof(out->src), s.source_addr, sizeof(s.source_addr));
			copy_str(out->dst, sizeof(out->dst), s.destination_addr, sizeof(s.destination_addr));
			out->sm_len = s.sm_length;
			memcpy(out->sm, s.short_message, s.sm_length);
			read_tlvs(s.tlv, out);
		}
		destroy_tlv(s.tlv);
	}
	else
	{
		memset(&d, 0, sizeof(d));
		rc = smpp34_unpack(DELIVER_SM, &d, scratch, (int) len);
		if (rc == 0)
		{
			COPY_SM_FIELDS(out, &d);
			copy_str(out->src, sizeof(out->src), d.source_addr, sizeof(d.source_addr));
			copy_str(out->dst, sizeof(out->dst), d.destination_addr, sizeof(d.destination_addr));
			out->sm_len = d.sm_length;
			memcpy(out->sm, d.short_message, d.sm_length);
			read_tlvs(d.tlv, out);
		}
		destroy_tlv(d.tlv);
	}
	if (rc != 0)
	{
		set_error(smpp_command_name(command_id));
		return -1;
	}
	return 0;
}

static void
add_tlv(tlv_t **list, uint16_t tag, uint16_t length, uint32_t num,
		const void *octets)
{
	tlv_t		t;

	memset(&t, 0, sizeof(t));
	t.tag = tag;
	t.length = length;
	if (octets)
		memcpy(t.value.octet, octets, length);
	else if (length == 1)
		t.value.val08 = (uint8_t) num;
	else
		t.value.val16 = (uint16_t) num;
	build_tlv(list, &t);
}

static tlv_t *
make_tlvs(const pdu_sm *in)
{
	tlv_t	   *list = NULL;

	if (in->has_sar)
	{
		add_tlv(&list, TLVID_sar_msg_ref_num, 2, in->sar_ref, NULL);
		add_tlv(&list, TLVID_sar_total_segments, 1, in->sar_total, NULL);
		add_tlv(&list, TLVID_sar_segment_seqnum, 1, in->sar_seq, NULL);
	}
	if (in->payload_len > 0)
		add_tlv(&list, TLVID_message_payload, (uint16_t) in->payload_len, 0,
				in->payload);
	if (in->receipted_id[0])
		add_tlv(&list, TLVID_receipted_message_id,
				(uint16_t) (strlen(in->receipted_id) + 1), 0, in->receipted_id);
	if (in->message_state >= 0)
		add_tlv(&list, TLVID_message_state, 1, (uint32_t) in->message_state, NULL);
	return list;
}

#define FILL_SM_FIELDS(d, s, id) \
	do { \
		(d)->command_id = (id); \
		(d)->sequence_number = (s)->seq; \
		(d)->source_addr_ton = (s)->src_ton; \
		(d)->source_addr_npi = (s)->src_npi; \
		(d)->dest_addr_ton = (s)->dst_ton; \
		(d)->dest_addr_npi = (s)->dst_npi; \
		snprintf((char *) (d)->source_addr, sizeof((d)->source_addr), "%s", (s)->src); \
		snprintf((char *) (d)->destination_addr, sizeof((d)->destination_addr), "%s", (s)->dst); \
		(d)->esm_class = (s)->esm_class; \
		(d)->registered_delivery = (s)->registered_delivery; \
		(d)->data_coding = (s)->data_coding; \
		(d)->sm_length = (uint8_t) (s)->sm_len; \
		memcpy((d)->short_message, (s)->sm, (s)->sm_len); \
		(d)->tlv = make_tlvs(s); \
	} while (0)

int
pdu_pack_sm(uint32_t command_id, const pdu_sm *in, uint8_t *out,
			size_t outsize)
{
	static submit_sm_t s;
	static deliver_sm_t d;
	int			len = 0,
				rc;

	if (in->sm_len > PDU_SM_MAX - 1)
	{
		snprintf(last_error, sizeof(last_error), "short_message too long");
		return -1;
	}
	if (command_id == SMPP_CMD_SUBMIT_SM)
	{
		memset(&s, 0, sizeof(s));
		FILL_SM_FIELDS(&s, in, SUBMIT_SM);
		rc = smpp34_pack(SUBMIT_SM, out, (int) outsize, &len, &s);
		destroy_tlv(s.tlv);
	}
	else
	{
		memset(&d, 0, sizeof(d));
		FILL_SM_FIELDS(&d, in, DELIVER_SM);
		rc = smpp34_pack(DELIVER_SM, out, (int) outsize, &len, &d);
		destroy_tlv(d.tlv);
	}
	if (rc != 0)
	{
		set_error(smpp_command_name(command_id));
		return -1;
	}
	return len;
}

/* Reads a C-Octet string of at most max octets (NUL included) */
static int
read_cstr(const uint8_t *body, size_t len, size_t *pos, char *dst, size_t max)
{
	size_t		n = strnlen((const char *) body + *pos, len - *pos);

	if (*pos + n >= len || n + 1 > max)
		return -1;				/* no NUL in the body, or too long */
	memcpy(dst, body + *pos, n + 1);
	*pos += n + 1;
	return 0;
}

int
pdu_parse_bind(const uint8_t *body, size_t len, pdu_bind *b)
{
	size_t		pos = 0;

	memset(b, 0, sizeof(*b));
	if (read_cstr(body, len, &pos, b->system_id, sizeof(b->system_id)) < 0 ||
		read_cstr(body, len, &pos, b->password, sizeof(b->password)) < 0 ||
		read_cstr(body, len, &pos, b->system_type, sizeof(b->system_type)) < 0 ||
		pos >= len)
		return -1;
	/* interface_version: any value; ton, npi and address_range ignored */
	b->interface_version = body[pos];
	return 0;
}

/* Appends a C-Octet string at out[*pos]; -1 if it does not fit */
static int
put_cstr(uint8_t *out, size_t outsize, size_t *pos, const char *s)
{
	size_t		n = strlen(s) + 1;

	if (*pos + n > outsize)
		return -1;
	memcpy(out + *pos, s, n);
	*pos += n;
	return 0;
}

int
pdu_write_bind(uint8_t *out, size_t outsize, uint32_t command_id,
			   uint32_t seq, const char *system_id, const char *password)
{
	size_t		pos = SMPP_HEADER_LEN;

	if (smpp_write_header_pdu(out, outsize, command_id, 0, seq) < 0 ||
		strlen(system_id) > 15 || strlen(password) > 8 ||
		put_cstr(out, outsize, &pos, system_id) < 0 ||
		put_cstr(out, outsize, &pos, password) < 0 ||
		put_cstr(out, outsize, &pos, "") < 0 ||
		pos + 4 > outsize)
		return -1;
	out[pos++] = SMPP_VERSION;
	out[pos++] = 0;				/* addr_ton */
	out[pos++] = 0;				/* addr_npi */
	out[pos++] = 0;				/* address_range "" */
	smpp_put_u32(out, (uint32_t) pos);
	return (int) pos;
}

int
pdu_write_resp_str(uint8_t *out, size_t outsize, uint32_t command_id,
				   uint32_t status, uint32_t seq, const char *str)
{
	size_t		pos = SMPP_HEADER_LEN;

	if (smpp_write_header_pdu(out, outsize, command_id, status, seq) < 0)
		return -1;
	if (status != SMPP_ST_OK && command_id == (SMPP_CMD_SUBMIT_SM | SMPP_RESP_BIT))
		return SMPP_HEADER_LEN;
	if (put_cstr(out, outsize, &pos, str) < 0)
		return -1;
	smpp_put_u32(out, (uint32_t) pos);
	return (int) pos;
}

void
pdu_read_resp_str(const uint8_t *pdu, size_t len, char *str, size_t strsize)
{
	size_t		n = 0;

	if (len > SMPP_HEADER_LEN)
		n = strnlen((const char *) pdu + SMPP_HEADER_LEN, len - SMPP_HEADER_LEN);
	if (n >= strsize)
		n = strsize - 1;
	memcpy(str, pdu + SMPP_HEADER_LEN, n);
	str[n] = '\0';
}

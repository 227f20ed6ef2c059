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

#include "smpp_tlv.h"

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
	p->has_sar = 0;
	p->payload_len = 0;
	p->receipted_id[0] = '\0';
	p->message_state = -1;
}

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

/*
 * submit_sm_t and deliver_sm_t have the same mandatory fields under the
 * same names but are distinct types: one macro reads either.
 */
#define UNPACK_SM(t, type_id) \
	do { \
		memset(&(t), 0, sizeof(t)); \
		rc = smpp34_unpack((type_id), &(t), scratch, (int) len); \
		if (rc == 0) \
		{ \
			out->src_ton = (t).source_addr_ton; \
			out->src_npi = (t).source_addr_npi; \
			out->dst_ton = (t).dest_addr_ton; \
			out->dst_npi = (t).dest_addr_npi; \
			out->esm_class = (t).esm_class; \
			out->registered_delivery = (t).registered_delivery; \
			out->data_coding = (t).data_coding; \
			copy_str(out->src, sizeof(out->src), (t).source_addr, sizeof((t).source_addr)); \
			copy_str(out->dst, sizeof(out->dst), (t).destination_addr, sizeof((t).destination_addr)); \
			out->sm_len = (t).sm_length; \
			memcpy(out->sm, (t).short_message, (t).sm_length); \
			read_tlvs((t).tlv, out); \
		} \
		destroy_tlv((t).tlv); \
	} while (0)

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
		UNPACK_SM(s, SUBMIT_SM);
	else
		UNPACK_SM(d, DELIVER_SM);
	if (rc != 0)
	{
		set_error(smpp_command_name(command_id));
		return -1;
	}
	return 0;
}

static tlv_t *
make_tlvs(const pdu_sm *in)
{
	tlv_t	   *list = NULL;

	if (in->has_sar)
	{
		nps_tlv_add(&list, TLVID_sar_msg_ref_num, 2, in->sar_ref, NULL);
		nps_tlv_add(&list, TLVID_sar_total_segments, 1, in->sar_total, NULL);
		nps_tlv_add(&list, TLVID_sar_segment_seqnum, 1, in->sar_seq, NULL);
	}
	if (in->payload_len > 0)
		nps_tlv_add(&list, TLVID_message_payload, (uint16_t) in->payload_len, 0,
					in->payload);
	if (in->receipted_id[0])
		nps_tlv_add(&list, TLVID_receipted_message_id,
				(uint16_t) (strlen(in->receipted_id) + 1), 0, (const uint8_t *) in->receipted_id);
	if (in->message_state >= 0)
		nps_tlv_add(&list, TLVID_message_state, 1, (uint32_t) in->message_state, NULL);
	return list;
}

/* The same for packing: fill either struct from a pdu_sm and pack it */
#define PACK_SM(t, type_id) \
	do { \
		memset(&(t), 0, sizeof(t)); \
		(t).command_id = (type_id); \
		(t).sequence_number = in->seq; \
		(t).source_addr_ton = in->src_ton; \
		(t).source_addr_npi = in->src_npi; \
		(t).dest_addr_ton = in->dst_ton; \
		(t).dest_addr_npi = in->dst_npi; \
		snprintf((char *) (t).source_addr, sizeof((t).source_addr), "%s", in->src); \
		snprintf((char *) (t).destination_addr, sizeof((t).destination_addr), "%s", in->dst); \
		(t).esm_class = in->esm_class; \
		(t).registered_delivery = in->registered_delivery; \
		(t).data_coding = in->data_coding; \
		(t).sm_length = (uint8_t) in->sm_len; \
		memcpy((t).short_message, in->sm, in->sm_len); \
		(t).tlv = make_tlvs(in); \
		rc = smpp34_pack((type_id), out, (int) outsize, &len, &(t)); \
		destroy_tlv((t).tlv); \
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
		PACK_SM(s, SUBMIT_SM);
	else
		PACK_SM(d, DELIVER_SM);
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

/*
 * pdu.c: SMPP 3.4 PDUs through libsmpp34.  The only file that includes its
 * headers (they define U32/U08 and friends); no PostgreSQL headers here.
 *
 * libsmpp34 is strict (known statuses, interface_version 0x34...): the
 * session reads every header itself first (smpp_frame.h) and passes only
 * PDUs it means to decode.  unpack gets a copy of the PDU with a NUL after
 * it, as its C-Octet-String reads require.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#include "smpp_tlv.h"

#include "smpp_frame.h"
#include "smpp_pdu.h"

/* unpack reads one octet past the PDU; give it a terminated copy */
static uint8_t unpack_buf[SMPP_MAX_PDU_LEN + 1];

static void
set_err(char *err, const char *what)
{
	/* the last [...] of libsmpp34's trace names the failing field */
	const char *trace = strrchr(smpp34_strerror, '[');

	snprintf(err, NPS_PDU_ERRLEN, "%s%s%.100s", what, trace ? ": " : "", trace ? trace : "");
}

static void
copy_cstr(uint8_t *dst, size_t dstsize, const char *src)
{
	size_t		n = strlen(src);

	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int
nps_pdu_bind(uint8_t *out, size_t outsize, uint32_t command_id, uint32_t seq,
			 const char *system_id, const char *password,
			 const char *system_type, char *err)
{
	bind_transceiver_t b;		/* the three binds share one layout */
	int			len = 0;

	memset(&b, 0, sizeof(b));
	b.command_id = command_id;
	b.sequence_number = seq;
	copy_cstr(b.system_id, sizeof(b.system_id), system_id);
	copy_cstr(b.password, sizeof(b.password), password);
	copy_cstr(b.system_type, sizeof(b.system_type), system_type);
	b.interface_version = SMPP_VERSION;
	if (smpp34_pack(command_id, out, (int) outsize, &len, &b) != 0)
	{
		set_err(err, "could not encode bind");
		return -1;
	}
	return len;
}

int
nps_pdu_submit_sm(uint8_t *out, size_t outsize, uint32_t seq,
				  const nps_submit *s, char *err)
{
	submit_sm_t p;
	int			len = 0;
	int			rc = 0;

	memset(&p, 0, sizeof(p));
	p.command_id = SUBMIT_SM;
	p.sequence_number = seq;
	p.source_addr_ton = s->source_ton;
	p.source_addr_npi = s->source_npi;
	copy_cstr(p.source_addr, sizeof(p.source_addr), s->source_addr);
	p.dest_addr_ton = s->dest_ton;
	p.dest_addr_npi = s->dest_npi;
	copy_cstr(p.destination_addr, sizeof(p.destination_addr), s->destination_addr);
	p.esm_class = s->esm_class;
	p.registered_delivery = s->registered_delivery;
	p.data_coding = s->data_coding;
	if (s->use_payload)
	{
		if (s->message_len > MAX_TLV_SIZE)
		{
			snprintf(err, NPS_PDU_ERRLEN, "message of %zu octets exceeds message_payload (%d)",
					 s->message_len, MAX_TLV_SIZE);
			return -1;
		}
		rc |= nps_tlv_add(&p.tlv, TLVID_message_payload, (uint16_t) s->message_len, 0, s->message);
	}
	else
	{
		if (s->message_len > 253)
		{
			snprintf(err, NPS_PDU_ERRLEN, "short_message of %zu octets is too long", s->message_len);
			return -1;
		}
		p.sm_length = (uint8_t) s->message_len;
		memcpy(p.short_message, s->message, s->message_len);
	}
	if (s->sar_total > 0)
	{
		rc |= nps_tlv_add(&p.tlv, TLVID_sar_msg_ref_num, 2, s->sar_ref, NULL);
		rc |= nps_tlv_add(&p.tlv, TLVID_sar_total_segments, 1, (uint32_t) s->sar_total, NULL);
		rc |= nps_tlv_add(&p.tlv, TLVID_sar_segment_seqnum, 1, (uint32_t) s->sar_seq, NULL);
	}
	if (rc == 0)
		rc = smpp34_pack(SUBMIT_SM, out, (int) outsize, &len, &p);
	destroy_tlv(p.tlv);
	if (rc != 0)
	{
		set_err(err, "could not encode submit_sm");
		return -1;
	}
	return len;
}

int
nps_pdu_mo_resp(uint8_t *out, size_t outsize, uint32_t command_id,
				uint32_t status, uint32_t seq)
{
	/* header + message_id "" (unused by SMPP 3.4 for these responses) */
	if (outsize < SMPP_HEADER_LEN + 1)
		return -1;
	smpp_write_header_pdu(out, outsize, command_id, status, seq);
	out[SMPP_HEADER_LEN] = '\0';
	smpp_put_u32(out, SMPP_HEADER_LEN + 1);
	return SMPP_HEADER_LEN + 1;
}

int
nps_pdu_parse_submit_sm_resp(const uint8_t *pdu, size_t len, char *message_id,
							 size_t idsize, char *err)
{
	submit_sm_resp_t r;

	memcpy(unpack_buf, pdu, len);
	unpack_buf[len] = 0;
	memset(&r, 0, sizeof(r));
	if (smpp34_unpack(SUBMIT_SM_RESP, &r, unpack_buf, (int) len) != 0)
	{
		set_err(err, "garbled submit_sm_resp");
		return -1;
	}
	copy_cstr((uint8_t *) message_id, idsize, (const char *) r.message_id);
	if (message_id[0] == '\0')
	{
		snprintf(err, NPS_PDU_ERRLEN, "submit_sm_resp without a message_id");
		return -1;
	}
	return 0;
}

/* Reads the TLVs both deliver_sm and data_sm may carry. */
static void
read_mo_tlvs(tlv_t *list, nps_mo *mo)
{
	tlv_t	   *t;

	smpp34_tlv_for_each(t, list)
	{
		switch (t->tag)
		{
			case TLVID_message_payload:
				if (t->length <= sizeof(mo->message))
				{
					memcpy(mo->message, t->value.octet, t->length);
					mo->message_len = t->length;
				}
				break;
			case TLVID_sar_msg_ref_num:
				mo->sar_ref = t->value.val16;
				break;
			case TLVID_sar_total_segments:
				mo->sar_total = t->value.val08;
				break;
			case TLVID_sar_segment_seqnum:
				mo->sar_seq = t->value.val08;
				break;
			case TLVID_receipted_message_id:
				{
					size_t		n = t->length < sizeof(mo->receipted_message_id) ?
						t->length : sizeof(mo->receipted_message_id) - 1;

					memcpy(mo->receipted_message_id, t->value.octet, n);
					mo->receipted_message_id[n] = '\0';
				}
				break;
			case TLVID_message_state:
				mo->message_state = t->value.val08;
				break;
			default:
				break;
		}
	}
}

int
nps_pdu_parse_mo(const uint8_t *pdu, size_t len, nps_mo *mo, char *err)
{
	uint32_t	id = smpp_get_u32(pdu + 4);
	int			rc;

	memset(mo, 0, sizeof(*mo));
	mo->message_state = -1;
	memcpy(unpack_buf, pdu, len);
	unpack_buf[len] = 0;
	if (id == DELIVER_SM)
	{
		deliver_sm_t d;

		memset(&d, 0, sizeof(d));
		rc = smpp34_unpack(DELIVER_SM, &d, unpack_buf, (int) len);
		if (rc == 0)
		{
			copy_cstr((uint8_t *) mo->source_addr, sizeof(mo->source_addr), (char *) d.source_addr);
			copy_cstr((uint8_t *) mo->destination_addr, sizeof(mo->destination_addr), (char *) d.destination_addr);
			mo->esm_class = d.esm_class;
			mo->data_coding = d.data_coding;
			mo->message_len = d.sm_length;
			memcpy(mo->message, d.short_message, d.sm_length);
			read_mo_tlvs(d.tlv, mo);
		}
		destroy_tlv(d.tlv);
	}
	else
	{
		data_sm_t d;

		memset(&d, 0, sizeof(d));
		rc = smpp34_unpack(DATA_SM, &d, unpack_buf, (int) len);
		if (rc == 0)
		{
			copy_cstr((uint8_t *) mo->source_addr, sizeof(mo->source_addr), (char *) d.source_addr);
			copy_cstr((uint8_t *) mo->destination_addr, sizeof(mo->destination_addr), (char *) d.destination_addr);
			mo->esm_class = d.esm_class;
			mo->data_coding = d.data_coding;
			read_mo_tlvs(d.tlv, mo);
		}
		destroy_tlv(d.tlv);
	}
	if (rc != 0)
	{
		set_err(err, id == DELIVER_SM ? "garbled deliver_sm" : "garbled data_sm");
		return -1;
	}
	return 0;
}

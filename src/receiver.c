/*
 * receiver.c: deliver_sm and data_sm from the SMSC.  Delivery receipts
 * (esm_class bit 2, or a receipted_message_id) become W->receipts; replies
 * become W->mo, split from their concatenation header (UDH with 8- or
 * 16-bit reference, or SAR TLVs).  Nothing is acknowledged here: the
 * deliver_sm_resp is queued and sent only after the store transaction
 * commits (inbox_store.c sets its status).
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "nps_worker.h"
#include "text_codec.h"

#define ESM_TYPE_MASK		0x3C
#define ESM_TYPE_RECEIPT	0x04	/* SMSC delivery receipt */
#define ESM_TYPE_INTERMEDIATE 0x20	/* intermediate delivery notification */

/* message_state values that end a message */
#define STATE_ENROUTE		1
#define STATE_DELIVERED		2
#define STATE_ACCEPTED		6

/*
 * The spellings under which a receipt's id may have been stored: as given;
 * for a hex id, in the other letter case and in decimal; for an all-decimal
 * id, in hex (both cases).  SMSCs often give the id in hex in submit_sm_resp
 * and in decimal in the receipt text, or the other way round.  cands[0] is
 * the id as given.  Returns the count (at most 4).
 */
int
receipt_id_candidates(const char *id, char cands[][SMPP_MSGID_MAX + 1], int max)
{
	int			n = 0;
	size_t		len = strlen(id);
	bool		dec = len > 0 && len <= 19,
				hex = len > 0 && len <= 16,
				letters = false;

	Assert(max >= 4);
	strlcpy(cands[n++], id, SMPP_MSGID_MAX + 1);
	for (size_t i = 0; i < len; i++)
	{
		dec &= (id[i] >= '0' && id[i] <= '9');
		hex &= isxdigit((unsigned char) id[i]) != 0;
		letters |= isalpha((unsigned char) id[i]) != 0;
	}
	if (hex && letters)
	{
		/* the other case: any mixed case becomes all lower or all upper */
		bool		lower = islower((unsigned char) id[strcspn(id, "abcdefABCDEF")]);

		for (size_t i = 0; i <= len; i++)
			cands[n][i] = lower ? pg_toupper((unsigned char) id[i]) : pg_tolower((unsigned char) id[i]);
		if (strcmp(cands[n], id) != 0)
			n++;
	}
	if (dec)
	{
		uint64		v = strtou64(id, NULL, 10);

		snprintf(cands[n++], SMPP_MSGID_MAX + 1, "%llx", (unsigned long long) v);
		snprintf(cands[n++], SMPP_MSGID_MAX + 1, "%llX", (unsigned long long) v);
	}
	if (hex && n < max)
		snprintf(cands[n++], SMPP_MSGID_MAX + 1, "%llu",
				 (unsigned long long) strtou64(id, NULL, 16));
	return n;
}

/* Coding we decode the text with: 0/1 GSM, 8 UCS-2, anything 8-bit Latin-1. */
static int
mo_coding(uint8 dc)
{
	if (dc == 0 || dc == 1)
		return NPS_DC_GSM7;
	if (dc == 8)
		return NPS_DC_UCS2;
	if ((dc & 0xF0) == 0xF0)	/* message class: bit 2 says 8-bit data */
		return (dc & 0x04) ? NPS_DC_LATIN1 : NPS_DC_GSM7;
	return NPS_DC_LATIN1;
}

static void
on_receipt(SmppConn *c, const smpp_header *h, const nps_mo *mo)
{
	smpp_receipt r;
	const char *id = mo->receipted_message_id;
	int			state = mo->message_state;
	int			err = 0;
	StoredReceipt *sr;
	MemoryContext old;

	if (smpp_receipt_parse((const char *) mo->message, mo->message_len, &r) == 0)
	{
		if (id[0] == '\0')
			id = r.id;
		if (state < 0)
			state = r.stat;
		err = Max(r.err, 0);
	}
	if (id[0] == '\0' || state < 0)
	{
		/* nothing to match: acknowledge, or the SMSC would resend it forever */
		worker_note_error("delivery receipt without a message id or state ignored");
		worker_queue_resp(c, h->command_id | SMPP_RESP_BIT, h->sequence_number, SMPP_ST_OK);
		return;
	}
	if (state == STATE_ENROUTE || state == STATE_ACCEPTED)
	{
		/* intermediate: the final receipt follows */
		worker_queue_resp(c, h->command_id | SMPP_RESP_BIT, h->sequence_number, SMPP_ST_OK);
		return;
	}
	old = MemoryContextSwitchTo(W->batch_cxt);
	sr = palloc(sizeof(StoredReceipt));
	strlcpy(sr->message_id, id, sizeof(sr->message_id));
	sr->delivered = (state == STATE_DELIVERED);
	sr->error_code = err;
	sr->merged = false;
	sr->received_at = GetCurrentTimestamp();
	sr->resp = worker_queue_resp(c, h->command_id | SMPP_RESP_BIT, h->sequence_number, SMPP_ST_OK);
	W->receipts = lappend(W->receipts, sr);
	MemoryContextSwitchTo(old);
}

static void
on_reply(SmppConn *c, const smpp_header *h, const nps_mo *mo)
{
	const uint8 *text = mo->message;
	size_t		len = mo->message_len;
	nps_concat	cc;
	StoredMo   *m;
	MemoryContext old;

	memset(&cc, 0, sizeof(cc));
	if (mo->esm_class & SMPP_ESM_UDHI)
	{
		int			udh = nps_udh_parse(mo->message, mo->message_len, &cc);

		if (udh < 0)
		{
			nps_count(W->slot, NPS_C_GENERIC_NACKS, 1);
			worker_note_error("%s with a garbled UDH from %s answered with generic_nack",
							  smpp_command_name(h->command_id), mo->source_addr);
			session_send_header(c, SMPP_CMD_GENERIC_NACK, SMPP_ST_RUNKNOWNERR, h->sequence_number);
			return;
		}
		text += udh;
		len -= udh;
	}
	else if (mo->sar_total > 1 && mo->sar_seq >= 1 && mo->sar_seq <= mo->sar_total)
	{
		cc.ref = mo->sar_ref;
		cc.total = mo->sar_total;
		cc.seq = mo->sar_seq;
	}

	old = MemoryContextSwitchTo(W->batch_cxt);
	m = palloc0(sizeof(StoredMo));
	strlcpy(m->msisdn, mo->source_addr, sizeof(m->msisdn));
	strlcpy(m->short_code, mo->destination_addr, sizeof(m->short_code));
	m->data_coding = mo_coding(mo->data_coding);
	m->payload = palloc(VARHDRSZ + len);
	SET_VARSIZE(m->payload, VARHDRSZ + len);
	memcpy(VARDATA(m->payload), text, len);
	if (cc.total > 1)
	{
		/* a 16-bit and an 8-bit reference never collide */
		m->ref = (int) cc.ref + (cc.ref16 ? 0x10000 : 0);
		m->total = cc.total;
		m->seq = cc.seq;
	}
	m->received_at = GetCurrentTimestamp();
	m->resp = worker_queue_resp(c, h->command_id | SMPP_RESP_BIT, h->sequence_number, SMPP_ST_OK);
	W->mo = lappend(W->mo, m);
	MemoryContextSwitchTo(old);
}

void
receiver_on_mo(SmppConn *c, const smpp_header *h, const uint8 *pdu)
{
	nps_mo		mo;
	char		err[NPS_PDU_ERRLEN];
	int			type;

	if (nps_pdu_parse_mo(pdu, h->command_length, &mo, err) < 0)
	{
		nps_count(W->slot, NPS_C_GENERIC_NACKS, 1);
		worker_note_error("%s answered with generic_nack", err);
		session_send_header(c, SMPP_CMD_GENERIC_NACK, SMPP_ST_RUNKNOWNERR, h->sequence_number);
		return;
	}
	type = mo.esm_class & ESM_TYPE_MASK;
	if (type == ESM_TYPE_RECEIPT || type == ESM_TYPE_INTERMEDIATE ||
		mo.receipted_message_id[0] != '\0')
		on_receipt(c, h, &mo);
	else
		on_reply(c, h, &mo);
}

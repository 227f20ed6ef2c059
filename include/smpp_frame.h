/*-------------------------------------------------------------------------
 *
 * smpp_frame.h
 *	  SMPP 3.4 framing done by hand: header read/validate, big-endian
 *	  helpers, header-only PDUs (generic_nack, enquire_link, unbind...),
 *	  command names, and the delivery-receipt text (SMPP 3.4 appendix B).
 *
 *	  libsmpp34 refuses to unpack unknown command ids, vendor statuses and
 *	  interface versions other than 0x34; reading the header here first
 *	  lets the caller answer such PDUs instead of dropping the connection.
 *	  Pure C99, no libsmpp34 or PostgreSQL headers; names are prefixed so
 *	  they do not clash with libsmpp34's macros.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_SMPP_FRAME_H
#define NPS_SMPP_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SMPP_HEADER_LEN		16
#define SMPP_MAX_PDU_LEN	65536	/* above any legal PDU incl. message_payload */

/* command ids */
#define SMPP_CMD_GENERIC_NACK			0x80000000u
#define SMPP_CMD_BIND_RECEIVER			0x00000001u
#define SMPP_CMD_BIND_TRANSMITTER		0x00000002u
#define SMPP_CMD_QUERY_SM				0x00000003u
#define SMPP_CMD_SUBMIT_SM				0x00000004u
#define SMPP_CMD_DELIVER_SM				0x00000005u
#define SMPP_CMD_UNBIND					0x00000006u
#define SMPP_CMD_REPLACE_SM				0x00000007u
#define SMPP_CMD_CANCEL_SM				0x00000008u
#define SMPP_CMD_BIND_TRANSCEIVER		0x00000009u
#define SMPP_CMD_OUTBIND				0x0000000Bu
#define SMPP_CMD_ENQUIRE_LINK			0x00000015u
#define SMPP_CMD_SUBMIT_MULTI			0x00000021u
#define SMPP_CMD_ALERT_NOTIFICATION		0x00000102u
#define SMPP_CMD_DATA_SM				0x00000103u
#define SMPP_RESP_BIT					0x80000000u

/* command statuses used across the project */
#define SMPP_ST_OK				0x00000000u
#define SMPP_ST_RINVMSGLEN		0x00000001u
#define SMPP_ST_RINVCMDLEN		0x00000002u
#define SMPP_ST_RINVCMDID		0x00000003u
#define SMPP_ST_RINVBNDSTS		0x00000004u
#define SMPP_ST_RALYBND			0x00000005u
#define SMPP_ST_RSYSERR			0x00000008u
#define SMPP_ST_RINVDSTADR		0x0000000Bu
#define SMPP_ST_RBINDFAIL		0x0000000Du
#define SMPP_ST_RINVPASWD		0x0000000Eu
#define SMPP_ST_RINVSYSID		0x0000000Fu
#define SMPP_ST_RMSGQFUL		0x00000014u
#define SMPP_ST_RSUBMITFAIL		0x00000045u
#define SMPP_ST_RTHROTTLED		0x00000058u
#define SMPP_ST_RX_T_APPN		0x00000064u
#define SMPP_ST_RX_P_APPN		0x00000065u
#define SMPP_ST_RUNKNOWNERR		0x000000FFu

/* esm_class bits */
#define SMPP_ESM_RECEIPT		0x04
#define SMPP_ESM_UDHI			0x40

/* TLV tags */
#define SMPP_TLV_RECEIPTED_MESSAGE_ID	0x001E
#define SMPP_TLV_SAR_MSG_REF_NUM		0x020C
#define SMPP_TLV_SAR_TOTAL_SEGMENTS		0x020E
#define SMPP_TLV_SAR_SEGMENT_SEQNUM		0x020F
#define SMPP_TLV_MESSAGE_PAYLOAD		0x0424
#define SMPP_TLV_MESSAGE_STATE			0x0427

typedef struct smpp_header
{
	uint32_t	command_length;
	uint32_t	command_id;
	uint32_t	command_status;
	uint32_t	sequence_number;
} smpp_header;

static inline uint16_t
smpp_get_u16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
smpp_get_u32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | p[3];
}

static inline void
smpp_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static inline void
smpp_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

/*
 * Reads the header at buf.  Returns 1 when a valid header is there,
 * 0 when fewer than 16 octets are available yet, -1 when command_length is
 * outside [16, SMPP_MAX_PDU_LEN] (the stream cannot be resynchronised:
 * answer generic_nack ESME_RINVCMDLEN and close).
 */
extern int	smpp_read_header(const uint8_t *buf, size_t avail, smpp_header *h);

/* Writes a 16-octet header-only PDU; returns 16 or -2 if outsize < 16 */
extern int	smpp_write_header_pdu(uint8_t *out, size_t outsize, uint32_t id,
								  uint32_t status, uint32_t seq);

/* generic_nack for a PDU we cannot handle (seq 0 if unknown) */
extern int	smpp_write_generic_nack(uint8_t *out, size_t outsize,
									uint32_t status, uint32_t seq);

/* "submit_sm", "deliver_sm_resp", ... or "unknown" */
extern const char *smpp_command_name(uint32_t id);

/* true if the id is one of SMPP 3.4's requests or responses */
extern int	smpp_command_known(uint32_t id);

/* ---- delivery receipts ------------------------------------------------ */

/* stat values, numbered as the message_state TLV numbers them */
typedef enum smpp_receipt_stat
{
	SMPP_STAT_ENROUTE = 1,
	SMPP_STAT_DELIVRD = 2,
	SMPP_STAT_EXPIRED = 3,
	SMPP_STAT_DELETED = 4,
	SMPP_STAT_UNDELIV = 5,
	SMPP_STAT_ACCEPTD = 6,
	SMPP_STAT_UNKNOWN = 7,
	SMPP_STAT_REJECTD = 8
} smpp_receipt_stat;

#define SMPP_MSGID_MAX		65	/* message_id is a C-Octet String of 65 */

typedef struct smpp_receipt
{
	char		id[SMPP_MSGID_MAX + 1];	/* as sent: hex or decimal text */
	int			sub;			/* -1 when absent */
	int			dlvrd;			/* -1 when absent */
	char		submit_date[13];	/* YYMMDDhhmm[ss], "" when absent */
	char		done_date[13];
	smpp_receipt_stat stat;
	int			err;			/* -1 when absent */
	char		text[21];		/* first 20 characters of the message */
} smpp_receipt;

extern const char *smpp_stat_name(smpp_receipt_stat stat);

/* "DELIVRD" -> SMPP_STAT_DELIVRD (case-insensitive); -1 if not a stat */
extern int	smpp_stat_from_name(const char *name, size_t len);

/*
 * Builds "id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done
 * date:YYMMDDhhmm stat:DELIVRD err:000 text:<first 20 octets>" with dates
 * in UTC.  Returns the length (NUL excluded), -1 on bad arguments, -2 if
 * out is too small.
 */
extern int	smpp_receipt_format(char *out, size_t outsize, const char *id,
								int sub, int dlvrd, time_t submitted,
								time_t done, smpp_receipt_stat stat, int err,
								const char *text, size_t text_len);

/*
 * Parses a receipt text (fields in any order, keys case-insensitive,
 * "dlvrd" or "dlvr").  id and stat are required; returns 0 or -1.
 */
extern int	smpp_receipt_parse(const char *txt, size_t len, smpp_receipt *r);

#endif							/* NPS_SMPP_FRAME_H */

/*-------------------------------------------------------------------------
 *
 * pdu.h
 *	  The SMPP PDUs the simulator and smpp-blast exchange, as plain structs.
 *
 *	  pdu.c is the only file that includes libsmpp34's headers (their U32,
 *	  U08... macros must not meet other headers).  submit_sm and deliver_sm
 *	  go through libsmpp34; the small fixed PDUs (bind body, *_resp) are
 *	  read and written by hand so any interface_version and any vendor
 *	  status can be handled.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_SIM_PDU_H
#define NPS_SIM_PDU_H

#include <stddef.h>
#include <stdint.h>

#include "smpp_frame.h"

#define PDU_SM_MAX			254		/* libsmpp34's short_message buffer */
#define PDU_PAYLOAD_MAX		1024	/* libsmpp34's largest TLV value */
#define PDU_ADDR_MAX		21

/* submit_sm / deliver_sm fields we use (mandatory + the TLVs we know) */
typedef struct pdu_sm
{
	uint32_t	seq;
	uint8_t		src_ton,
				src_npi,
				dst_ton,
				dst_npi;
	char		src[PDU_ADDR_MAX];
	char		dst[PDU_ADDR_MAX];
	uint8_t		esm_class;
	uint8_t		registered_delivery;
	uint8_t		data_coding;
	size_t		sm_len;
	uint8_t		sm[PDU_SM_MAX];
	/* TLVs; has_* flags say which were present */
	int			has_sar;
	uint16_t	sar_ref;
	uint8_t		sar_total,
				sar_seq;
	size_t		payload_len;	/* message_payload; 0 when absent */
	uint8_t		payload[PDU_PAYLOAD_MAX];
	char		receipted_id[SMPP_MSGID_MAX + 1];	/* "" when absent */
	int			message_state;	/* -1 when absent */
} pdu_sm;

/* bind_* request body */
typedef struct pdu_bind
{
	char		system_id[16];
	char		password[9];
	char		system_type[13];
	uint8_t		interface_version;
} pdu_bind;

/* Initialises a pdu_sm with no TLVs */
extern void pdu_sm_init(pdu_sm *p);

/*
 * Unpacks a whole submit_sm or deliver_sm PDU (header included) with
 * libsmpp34.  Returns 0, or -1 with the failing field in pdu_error().
 */
extern int	pdu_unpack_sm(uint32_t command_id, const uint8_t *buf, size_t len,
						  pdu_sm *out);

/* Packs a submit_sm or deliver_sm; returns the PDU length or -1 */
extern int	pdu_pack_sm(uint32_t command_id, const pdu_sm *in,
						uint8_t *out, size_t outsize);

/* libsmpp34's complaint about the last failure, one short line */
extern const char *pdu_error(void);

/* Parses a bind_* body (after the header); 0 or -1 */
extern int	pdu_parse_bind(const uint8_t *body, size_t len, pdu_bind *b);

/* Writes a bind_* request: interface_version 0x34 */
extern int	pdu_write_bind(uint8_t *out, size_t outsize, uint32_t command_id,
						   uint32_t seq, const char *system_id,
						   const char *password);

/*
 * Writes a response carrying one C-Octet string: bind_*_resp (system_id),
 * submit_sm_resp (message_id), deliver_sm_resp (empty).  A non-zero status
 * writes the header alone, as SMPP 3.4 says for submit_sm_resp.
 */
extern int	pdu_write_resp_str(uint8_t *out, size_t outsize, uint32_t command_id,
							   uint32_t status, uint32_t seq, const char *str);

/* Reads the C-Octet string after a response header ("" if absent) */
extern void pdu_read_resp_str(const uint8_t *pdu, size_t len,
							  char *str, size_t strsize);

#endif							/* NPS_SIM_PDU_H */

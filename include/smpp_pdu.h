/*
 * smpp_pdu.h: the PDUs the worker builds and reads, behind a small
 * interface of our own.  src/pdu.c is the only file that includes
 * libsmpp34 (its headers define U32, U08... which clash with PostgreSQL),
 * so this header uses plain C types only.
 *
 * Builders return the PDU length, or -1 with the reason in err.  Parsers
 * return 0, or -1 with the reason in err (the caller answers generic_nack
 * or an error status: never a crash).
 */
#ifndef NPS_SMPP_PDU_H
#define NPS_SMPP_PDU_H

#include <stddef.h>
#include <stdint.h>

#define NPS_PDU_ERRLEN		160
#define NPS_ADDR_LEN		21	/* source/destination_addr, NUL included */
#define NPS_MO_MAX			1280	/* short_message (254) or message_payload (1024) */

typedef struct nps_submit
{
	const char *source_addr;
	uint8_t		source_ton;
	uint8_t		source_npi;
	const char *destination_addr;
	uint8_t		dest_ton;
	uint8_t		dest_npi;
	uint8_t		esm_class;
	uint8_t		data_coding;
	uint8_t		registered_delivery;
	const uint8_t *message;		/* UDH included when esm_class has UDHI */
	size_t		message_len;
	int			use_payload;	/* message in the message_payload TLV */
	int			sar_total;		/* > 0: add the SAR TLVs */
	int			sar_seq;
	unsigned	sar_ref;
} nps_submit;

/* A deliver_sm or data_sm, decoded */
typedef struct nps_mo
{
	char		source_addr[66];
	char		destination_addr[66];
	uint8_t		esm_class;
	uint8_t		data_coding;
	uint8_t		message[NPS_MO_MAX];
	size_t		message_len;
	int			sar_total;		/* 0 when absent */
	int			sar_seq;
	unsigned	sar_ref;
	char		receipted_message_id[66];	/* "" when absent */
	int			message_state;	/* -1 when absent */
} nps_mo;

extern int	nps_pdu_bind(uint8_t *out, size_t outsize, uint32_t command_id,
						 uint32_t seq, const char *system_id,
						 const char *password, const char *system_type,
						 char *err);
extern int	nps_pdu_submit_sm(uint8_t *out, size_t outsize, uint32_t seq,
							  const nps_submit *s, char *err);

/* deliver_sm_resp / data_sm_resp: header and an empty message_id */
extern int	nps_pdu_mo_resp(uint8_t *out, size_t outsize, uint32_t command_id,
							uint32_t status, uint32_t seq);

/* submit_sm_resp with status 0: its message_id (caller reads the header) */
extern int	nps_pdu_parse_submit_sm_resp(const uint8_t *pdu, size_t len,
										 char *message_id, size_t idsize,
										 char *err);

/* deliver_sm or data_sm (by the command_id in the header) */
extern int	nps_pdu_parse_mo(const uint8_t *pdu, size_t len, nps_mo *mo,
							 char *err);

#endif							/* NPS_SMPP_PDU_H */

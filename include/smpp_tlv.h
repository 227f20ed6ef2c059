/*
 * smpp_tlv.h: one optional parameter onto a libsmpp34 TLV list.
 *
 * Shared by the extension (src/pdu.c) and the simulator (sim/pdu.c); include
 * it only beside the libsmpp34 headers (they define tlv_t and clash with
 * postgres.h).
 */
#ifndef NPS_SMPP_TLV_H
#define NPS_SMPP_TLV_H

#include <stdint.h>

/*
 * Appends a TLV: octets (length bytes) when given, else the integer value as
 * a 1- or 2-octet number per length.  Returns build_tlv's result (0 = ok).
 */
extern int	nps_tlv_add(tlv_t **list, uint16_t tag, uint16_t length,
						uint32_t value, const uint8_t *octets);

#endif							/* NPS_SMPP_TLV_H */

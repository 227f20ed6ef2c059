/*
 * smpp_tlv.c: see smpp_tlv.h.  libsmpp34 only, no PostgreSQL headers.
 */
#include <stdint.h>
#include <string.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#include "smpp_tlv.h"

int
nps_tlv_add(tlv_t **list, uint16_t tag, uint16_t length, uint32_t value,
			const uint8_t *octets)
{
	tlv_t		t;

	/* build_tlv copies the struct, so a stack value is enough */
	memset(&t, 0, sizeof(t));
	t.tag = tag;
	t.length = length;
	if (octets)
		memcpy(t.value.octet, octets, length);
	else if (length == 1)
		t.value.val08 = (uint8_t) value;
	else
		t.value.val16 = (uint16_t) value;
	return build_tlv(list, &t);
}

/*-------------------------------------------------------------------------
 *
 * text_codec.h
 *	  SMS text encodings as SMPP carries them: GSM 03.38 default alphabet
 *	  (data_coding 0, one septet per octet), UCS-2 big-endian (data_coding 8)
 *	  and Latin-1 (data_coding 3), to and from UTF-8; splitting into
 *	  concatenated parts; concatenation UDH build/parse.
 *
 *	  Pure C99 with no PostgreSQL or libsmpp34 headers, so the extension's
 *	  worker and the SMSC simulator link the same code.
 *
 *	  Every function takes the output size from the caller and never writes
 *	  past it.  Results: >= 0 on success (a length or a count),
 *	  NPS_CODEC_EINVAL on invalid input, NPS_CODEC_ENOSPC when the output
 *	  buffer is too small.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_TEXT_CODEC_H
#define NPS_TEXT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define NPS_CODEC_EINVAL	(-1)	/* bad UTF-8, truncated UCS-2, not representable */
#define NPS_CODEC_ENOSPC	(-2)	/* caller's output buffer too small */

/* SMPP data_coding values we handle */
#define NPS_DC_GSM7			0x00	/* SMSC default alphabet = GSM 03.38 here */
#define NPS_DC_LATIN1		0x03
#define NPS_DC_UCS2			0x08

#define NPS_GSM7_ESC		0x1B	/* escape to the GSM extension table */

/* Payload limits of one SMS (septets for GSM7, octets otherwise) */
#define NPS_SMS_SEPTETS		160
#define NPS_SMS_OCTETS		140
#define NPS_UDH8_LEN		6		/* 05 00 03 ref total seq */
#define NPS_UDH16_LEN		7		/* 06 08 04 refhi reflo total seq */
#define NPS_MAX_PARTS		255		/* total is one octet in the UDH */

/* A UTF-8 text can grow at most 3x when decoded from 1-octet encodings */
#define NPS_UTF8_MAX_FROM_GSM7(n)	((n) * 3 + 1)
#define NPS_UTF8_MAX_FROM_UCS2(n)	((n) / 2 * 3 + 1)

/* --- UTF-8 -> wire ---------------------------------------------------- */

/* 1 if every character has a GSM 03.38 form (basic or extension), 0 if
 * not, NPS_CODEC_EINVAL on bad UTF-8 */
extern int	nps_utf8_fits_gsm7(const char *utf8, size_t len);

/* UTF-8 -> unpacked GSM septets; returns septet count */
extern int	nps_utf8_to_gsm7(const char *utf8, size_t len,
							 uint8_t *out, size_t outsize);

/* UTF-8 -> UCS-2BE, non-BMP characters as surrogate pairs; returns octets */
extern int	nps_utf8_to_ucs2(const char *utf8, size_t len,
							 uint8_t *out, size_t outsize);

/* Picks GSM7 when every character fits, else UCS-2; stores the chosen
 * data_coding in *data_coding and returns the encoded length */
extern int	nps_utf8_encode(const char *utf8, size_t len, int *data_coding,
							uint8_t *out, size_t outsize);

/* --- wire -> UTF-8 (output is NUL-terminated; return excludes the NUL) - */

extern int	nps_gsm7_to_utf8(const uint8_t *in, size_t len,
							 char *out, size_t outsize);
extern int	nps_ucs2_to_utf8(const uint8_t *in, size_t len,
							 char *out, size_t outsize);
extern int	nps_latin1_to_utf8(const uint8_t *in, size_t len,
							   char *out, size_t outsize);

/* Dispatch on data_coding (0/1 GSM7, 3 Latin-1, 8 UCS-2); other codings
 * are NPS_CODEC_EINVAL */
extern int	nps_decode_to_utf8(int data_coding, const uint8_t *in, size_t len,
							   char *out, size_t outsize);

/* --- splitting into concatenated parts -------------------------------- */

typedef struct nps_part
{
	size_t		offset;			/* into the encoded text */
	size_t		length;			/* septets (GSM7) or octets */
} nps_part;

/*
 * udh_len is the UDH each part will carry: NPS_UDH8_LEN (153 septets / 134
 * octets per part) or NPS_UDH16_LEN (152 / 132).  Senders using SAR TLVs
 * should pass NPS_UDH16_LEN: the SMSC adds a UDH before the handset.
 * A text that fits one SMS (160 / 140) is always one part.
 */

/* Number of parts for an encoded text, without allocating */
extern int	nps_count_parts(int data_coding, const uint8_t *enc, size_t len,
							int udh_len);

/* Same, straight from UTF-8 (what the rate limit counts); data_coding is
 * chosen as nps_utf8_encode would, and stored if the pointer is not NULL */
extern int	nps_utf8_count_parts(const char *utf8, size_t len, int udh_len,
								 int *data_coding);

/* Fill parts[0..max_parts); returns the part count */
extern int	nps_split(int data_coding, const uint8_t *enc, size_t len,
					  int udh_len, nps_part *parts, int max_parts);

/* --- concatenation UDH ------------------------------------------------ */

typedef struct nps_concat
{
	unsigned	ref;			/* 0..255 or 0..65535 */
	int			total;			/* 0 when the UDH has no concatenation IE */
	int			seq;			/* 1..total */
	int			ref16;			/* 1 if IEI 0x08 */
} nps_concat;

/* Writes a UDH (UDHL included) for one part; returns 6 or 7 */
extern int	nps_udh_build(uint8_t *out, size_t outsize, int ref16,
						  unsigned ref, int total, int seq);

/*
 * Parses the UDH at the start of a short_message sent with UDHI (esm_class
 * 0x40); returns the UDH length in octets (UDHL + 1) so the text starts
 * there.  Other IEs are skipped; c->total is 0 when no valid concatenation
 * IE was present.  NPS_CODEC_EINVAL when the UDH overruns the message.
 */
extern int	nps_udh_parse(const uint8_t *sm, size_t len, nps_concat *c);

#endif							/* NPS_TEXT_CODEC_H */

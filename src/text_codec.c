/*-------------------------------------------------------------------------
 *
 * text_codec.c
 *	  UTF-8 <-> GSM 03.38 / UCS-2BE / Latin-1, SMS splitting and
 *	  concatenation UDH.  See text_codec.h for the contract.
 *
 *	  SMPP carries data_coding 0 unpacked (one septet per octet); the SMSC
 *	  packs septets for the air interface, so nothing here packs bits.
 *
 *-------------------------------------------------------------------------
 */
#include "text_codec.h"

#include <string.h>

#define NO_GSM		0xFFFF		/* basic-table slot with no character */

/* GSM 03.38 basic table: septet -> Unicode.  0x1B is the escape. */
static const uint16_t gsm7_basic[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
	0x03A3, 0x0398, 0x039E, NO_GSM, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0
};

/* GSM 03.38 extension table (after ESC): septet, Unicode */
static const struct
{
	uint8_t		septet;
	uint16_t	cp;
}			gsm7_ext[] = {
	{0x0A, 0x000C}, {0x14, 0x005E}, {0x28, 0x007B}, {0x29, 0x007D},
	{0x2F, 0x005C}, {0x3C, 0x005B}, {0x3D, 0x007E}, {0x3E, 0x005D},
	{0x40, 0x007C}, {0x65, 0x20AC}
};

#define N_GSM7_EXT	(sizeof(gsm7_ext) / sizeof(gsm7_ext[0]))

/*
 * Unicode -> GSM: returns 1 with b[0] set (basic), 2 with b[0..1] set
 * (ESC + extension), 0 when the character has no GSM form.
 */
static int
gsm7_from_cp(uint32_t cp, uint8_t *b)
{
	size_t		i;

	/* ASCII letters, digits and most punctuation are themselves */
	if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ||
		(cp >= ' ' && cp <= '?' && cp != '$'))
	{
		b[0] = (uint8_t) cp;
		return 1;
	}
	for (i = 0; i < N_GSM7_EXT; i++)
		if (gsm7_ext[i].cp == cp)
		{
			b[0] = NPS_GSM7_ESC;
			b[1] = gsm7_ext[i].septet;
			return 2;
		}
	for (i = 0; i < 128; i++)
		if (gsm7_basic[i] == cp && i != NPS_GSM7_ESC)
		{
			b[0] = (uint8_t) i;
			return 1;
		}
	return 0;
}

/*
 * Strict UTF-8 decoder: rejects overlong forms, surrogates, code points
 * above U+10FFFF, truncated sequences and U+0000 (PostgreSQL text cannot
 * hold it and no SMS needs it).  Returns the code point and advances *pos,
 * or -1.
 */
static int32_t
utf8_next(const uint8_t *s, size_t len, size_t *pos)
{
	size_t		i = *pos;
	uint32_t	c = s[i];
	uint32_t	min;
	int			n,
				k;

	if (c == 0)
		return -1;
	if (c < 0x80)
	{
		*pos = i + 1;
		return (int32_t) c;
	}
	if ((c & 0xE0) == 0xC0)
		n = 1, c &= 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		n = 2, c &= 0x0F, min = 0x800;
	else if ((c & 0xF8) == 0xF0)
		n = 3, c &= 0x07, min = 0x10000;
	else
		return -1;
	if (len - i <= (size_t) n)
		return -1;
	for (k = 1; k <= n; k++)
	{
		if ((s[i + k] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[i + k] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*pos = i + n + 1;
	return (int32_t) c;
}

/* Appends cp as UTF-8; keeps room for the final NUL */
static int
utf8_put(uint32_t cp, char *out, size_t outsize, size_t *pos)
{
	uint8_t		b[4];
	int			n;

	if (cp < 0x80)
		b[0] = (uint8_t) cp, n = 1;
	else if (cp < 0x800)
	{
		b[0] = (uint8_t) (0xC0 | (cp >> 6));
		b[1] = (uint8_t) (0x80 | (cp & 0x3F));
		n = 2;
	}
	else if (cp < 0x10000)
	{
		b[0] = (uint8_t) (0xE0 | (cp >> 12));
		b[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		b[2] = (uint8_t) (0x80 | (cp & 0x3F));
		n = 3;
	}
	else
	{
		b[0] = (uint8_t) (0xF0 | (cp >> 18));
		b[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
		b[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
		b[3] = (uint8_t) (0x80 | (cp & 0x3F));
		n = 4;
	}
	if (*pos + n + 1 > outsize)
		return NPS_CODEC_ENOSPC;
	memcpy(out + *pos, b, n);
	*pos += n;
	return 0;
}

static int
utf8_finish(char *out, size_t outsize, size_t pos)
{
	if (pos + 1 > outsize)
		return NPS_CODEC_ENOSPC;
	out[pos] = '\0';
	return (int) pos;
}

/* ---------------------------------------------------------------------- */

/* Unicode -> UCS-2BE at b: 2 octets, or 4 (surrogate pair) beyond the BMP */
static int
ucs2_from_cp(uint32_t cp, uint8_t *b)
{
	uint32_t	hi,
				lo;

	if (cp < 0x10000)
	{
		b[0] = (uint8_t) (cp >> 8);
		b[1] = (uint8_t) cp;
		return 2;
	}
	hi = 0xD800 | ((cp - 0x10000) >> 10);
	lo = 0xDC00 | ((cp - 0x10000) & 0x3FF);
	b[0] = (uint8_t) (hi >> 8);
	b[1] = (uint8_t) hi;
	b[2] = (uint8_t) (lo >> 8);
	b[3] = (uint8_t) lo;
	return 4;
}

#define NOT_REPRESENTABLE	(-3)	/* internal: valid UTF-8, no form */

typedef int (*cp_writer) (uint32_t cp, uint8_t *b);

/*
 * Encodes UTF-8 one character at a time with put(); with out NULL it only
 * measures.  Returns the encoded length, NPS_CODEC_EINVAL for bad UTF-8,
 * NOT_REPRESENTABLE, or NPS_CODEC_ENOSPC.
 */
static int
from_utf8(const char *utf8, size_t len, uint8_t *out, size_t outsize,
		  cp_writer put)
{
	const uint8_t *s = (const uint8_t *) utf8;
	size_t		pos = 0,
				o = 0;

	while (pos < len)
	{
		uint8_t		b[4];
		int32_t		cp = utf8_next(s, len, &pos);
		int			n;

		if (cp < 0)
			return NPS_CODEC_EINVAL;
		if ((n = put((uint32_t) cp, b)) == 0)
			return NOT_REPRESENTABLE;
		if (out)
		{
			if (o + n > outsize)
				return NPS_CODEC_ENOSPC;
			memcpy(out + o, b, n);
		}
		o += n;
	}
	return (int) o;
}

int
nps_utf8_fits_gsm7(const char *utf8, size_t len)
{
	int			n = from_utf8(utf8, len, NULL, 0, gsm7_from_cp);

	return n == NOT_REPRESENTABLE ? 0 : n < 0 ? n : 1;
}

int
nps_utf8_to_gsm7(const char *utf8, size_t len, uint8_t *out, size_t outsize)
{
	int			n = from_utf8(utf8, len, out, outsize, gsm7_from_cp);

	return n == NOT_REPRESENTABLE ? NPS_CODEC_EINVAL : n;
}

int
nps_utf8_to_ucs2(const char *utf8, size_t len, uint8_t *out, size_t outsize)
{
	return from_utf8(utf8, len, out, outsize, ucs2_from_cp);
}

int
nps_utf8_encode(const char *utf8, size_t len, int *data_coding,
				uint8_t *out, size_t outsize)
{
	int			fits = nps_utf8_fits_gsm7(utf8, len);

	if (fits < 0)
		return fits;
	*data_coding = fits ? NPS_DC_GSM7 : NPS_DC_UCS2;
	return fits ? nps_utf8_to_gsm7(utf8, len, out, outsize)
		: nps_utf8_to_ucs2(utf8, len, out, outsize);
}

/* ---------------------------------------------------------------------- */

/*
 * Decoders read one character at a time: the code point, CP_NONE for
 * octets that carry no character, or CP_INVALID.  to_utf8() does the rest.
 */
#define CP_NONE		(-2)
#define CP_INVALID	(-1)

typedef int32_t (*cp_reader) (const uint8_t *in, size_t len, size_t *i);

static int32_t
gsm7_next(const uint8_t *in, size_t len, size_t *i)
{
	uint8_t		c = in[(*i)++];
	int32_t		cp;
	size_t		k;

	if (c > 0x7F)
		return CP_INVALID;
	if (c != NPS_GSM7_ESC)
		return gsm7_basic[c];
	if (*i == len)
		return CP_NONE;			/* a trailing ESC carries nothing */
	c = in[(*i)++];
	if (c > 0x7F)
		return CP_INVALID;
	/* 23.038: an unknown extension shows the basic-table character */
	cp = gsm7_basic[c];
	for (k = 0; k < N_GSM7_EXT; k++)
		if (gsm7_ext[k].septet == c)
			cp = gsm7_ext[k].cp;
	return cp == NO_GSM ? ' ' : cp;	/* ESC ESC is reserved: a space */
}

static int32_t
ucs2_next(const uint8_t *in, size_t len, size_t *i)
{
	uint32_t	cp,
				lo;

	if (*i + 2 > len)
		return CP_INVALID;		/* truncated code unit */
	cp = ((uint32_t) in[*i] << 8) | in[*i + 1];
	*i += 2;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return CP_INVALID;		/* low surrogate without high */
	if (cp < 0xD800 || cp > 0xDBFF)
		return cp == 0 ? CP_NONE : (int32_t) cp;	/* NUL: handset padding */
	if (*i + 2 > len)
		return CP_INVALID;		/* pair cut off */
	lo = ((uint32_t) in[*i] << 8) | in[*i + 1];
	if (lo < 0xDC00 || lo > 0xDFFF)
		return CP_INVALID;
	*i += 2;
	return (int32_t) (0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
}

static int32_t
latin1_next(const uint8_t *in, size_t len, size_t *i)
{
	uint8_t		c = in[(*i)++];

	(void) len;					/* one octet, one character */
	return c == 0 ? CP_NONE : c;
}

static int
to_utf8(const uint8_t *in, size_t len, char *out, size_t outsize,
		cp_reader next)
{
	size_t		i = 0,
				pos = 0;

	while (i < len)
	{
		int32_t		cp = next(in, len, &i);
		int			rc;

		if (cp == CP_INVALID)
			return NPS_CODEC_EINVAL;
		if (cp != CP_NONE && (rc = utf8_put((uint32_t) cp, out, outsize, &pos)) < 0)
			return rc;
	}
	return utf8_finish(out, outsize, pos);
}

int
nps_gsm7_to_utf8(const uint8_t *in, size_t len, char *out, size_t outsize)
{
	return to_utf8(in, len, out, outsize, gsm7_next);
}

int
nps_ucs2_to_utf8(const uint8_t *in, size_t len, char *out, size_t outsize)
{
	return to_utf8(in, len, out, outsize, ucs2_next);
}

int
nps_latin1_to_utf8(const uint8_t *in, size_t len, char *out, size_t outsize)
{
	return to_utf8(in, len, out, outsize, latin1_next);
}

int
nps_decode_to_utf8(int data_coding, const uint8_t *in, size_t len,
				   char *out, size_t outsize)
{
	switch (data_coding)
	{
		case NPS_DC_GSM7:
		case 0x01:				/* IA5/ASCII: a subset of GSM in practice */
			return nps_gsm7_to_utf8(in, len, out, outsize);
		case NPS_DC_LATIN1:
			return nps_latin1_to_utf8(in, len, out, outsize);
		case NPS_DC_UCS2:
			return nps_ucs2_to_utf8(in, len, out, outsize);
		default:
			return NPS_CODEC_EINVAL;
	}
}

/* ----------------------------------------------------------------------
 * Splitting.  A text is a sequence of atoms that must stay in one part:
 * a GSM character (1 septet, or 2 for ESC + extension) or a UCS-2
 * character (2 octets, or 4 for a surrogate pair).  Parts are filled
 * greedily.  The same packer counts parts straight from UTF-8, so the rate
 * limit never needs an encode buffer.
 * ----------------------------------------------------------------------
 */
typedef struct atom_iter
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
	int			data_coding;
	int			from_utf8;		/* p is UTF-8, cost atoms as data_coding */
} atom_iter;

/* Units of the next atom, 0 at the end, NPS_CODEC_EINVAL on bad input */
static int
atom_next(atom_iter *it)
{
	const uint8_t *p = it->p;
	size_t		i = it->pos;

	if (i >= it->len)
		return 0;
	if (it->from_utf8)
	{
		uint8_t		b[4];
		int32_t		cp = utf8_next(p, it->len, &it->pos);

		if (cp < 0)
			return NPS_CODEC_EINVAL;
		/* the cost of one character; GSM fit was checked by the caller */
		return it->data_coding == NPS_DC_UCS2 ? ucs2_from_cp((uint32_t) cp, b)
			: gsm7_from_cp((uint32_t) cp, b);
	}
	if (it->data_coding == NPS_DC_UCS2)
	{
		if (i + 2 > it->len)
			return NPS_CODEC_EINVAL;
		if (p[i] >= 0xD8 && p[i] <= 0xDB && i + 4 <= it->len)
			return (it->pos = i + 4), 4;
		return (it->pos = i + 2), 2;
	}
	if (it->data_coding == NPS_DC_GSM7 && p[i] == NPS_GSM7_ESC &&
		i + 1 < it->len)
		return (it->pos = i + 2), 2;
	return (it->pos = i + 1), 1;
}

/* Stores part n when the caller wants parts; -1 if the array is full */
static int
record_part(nps_part *parts, int max_parts, int n, size_t off, size_t len)
{
	if (parts == NULL)
		return 0;
	if (n >= max_parts)
		return -1;
	parts[n].offset = off;
	parts[n].length = len;
	return 0;
}

static int
pack_parts(atom_iter *it, size_t total, int udh_len,
		   nps_part *parts, int max_parts)
{
	int			gsm = (it->data_coding == NPS_DC_GSM7);
	size_t		single = gsm ? NPS_SMS_SEPTETS : NPS_SMS_OCTETS;
	size_t		cap,
				off = 0,
				cur = 0;
	int			n = 0,
				a;

	if (udh_len <= 0 || udh_len >= NPS_SMS_OCTETS)
		return NPS_CODEC_EINVAL;
	if (total <= single)
		return record_part(parts, max_parts, 0, 0, total) < 0 ? NPS_CODEC_ENOSPC : 1;
	/* septets fit in the octets left after the UDH (fill bits included) */
	cap = gsm ? (size_t) (NPS_SMS_OCTETS - udh_len) * 8 / 7
		: (size_t) (NPS_SMS_OCTETS - udh_len);
	if (it->data_coding == NPS_DC_UCS2)
		cap &= ~(size_t) 1;		/* whole code units only: 133 -> 132 */

	while ((a = atom_next(it)) > 0)
	{
		if (cur + (size_t) a > cap)
		{
			if (record_part(parts, max_parts, n++, off, cur) < 0)
				return NPS_CODEC_ENOSPC;
			off += cur;
			cur = 0;
		}
		cur += a;
	}
	if (a < 0)
		return a;
	if (record_part(parts, max_parts, n++, off, cur) < 0)
		return NPS_CODEC_ENOSPC;
	if (n > NPS_MAX_PARTS)
		return NPS_CODEC_EINVAL;	/* cannot be concatenated */
	return n;
}

int
nps_split(int data_coding, const uint8_t *enc, size_t len, int udh_len,
		  nps_part *parts, int max_parts)
{
	atom_iter	it = {enc, len, 0, data_coding, 0};

	if (data_coding == NPS_DC_UCS2 && len % 2 != 0)
		return NPS_CODEC_EINVAL;
	return pack_parts(&it, len, udh_len, parts, max_parts);
}

int
nps_count_parts(int data_coding, const uint8_t *enc, size_t len, int udh_len)
{
	return nps_split(data_coding, enc, len, udh_len, NULL, 0);
}

int
nps_utf8_count_parts(const char *utf8, size_t len, int udh_len,
					 int *data_coding)
{
	int			fits = nps_utf8_fits_gsm7(utf8, len);
	atom_iter	it = {(const uint8_t *) utf8, len, 0, NPS_DC_GSM7, 1};
	int			total;

	if (fits < 0)
		return fits;
	it.data_coding = fits ? NPS_DC_GSM7 : NPS_DC_UCS2;
	if (data_coding)
		*data_coding = it.data_coding;
	/* the encoded length decides single vs. multi-part */
	total = from_utf8(utf8, len, NULL, 0, fits ? gsm7_from_cp : ucs2_from_cp);
	return pack_parts(&it, (size_t) total, udh_len, NULL, 0);
}

/* ---------------------------------------------------------------------- */

int
nps_udh_build(uint8_t *out, size_t outsize, int ref16, unsigned ref,
			  int total, int seq)
{
	size_t		n = ref16 ? NPS_UDH16_LEN : NPS_UDH8_LEN;

	if (total < 1 || total > NPS_MAX_PARTS || seq < 1 || seq > total ||
		ref > (ref16 ? 0xFFFFu : 0xFFu))
		return NPS_CODEC_EINVAL;
	if (outsize < n)
		return NPS_CODEC_ENOSPC;
	out[0] = (uint8_t) (n - 1);		/* UDHL excludes itself */
	if (ref16)
	{
		out[1] = 0x08;
		out[2] = 4;
		out[3] = (uint8_t) (ref >> 8);
		out[4] = (uint8_t) ref;
	}
	else
	{
		out[1] = 0x00;
		out[2] = 3;
		out[3] = (uint8_t) ref;
	}
	out[n - 2] = (uint8_t) total;
	out[n - 1] = (uint8_t) seq;
	return (int) n;
}

int
nps_udh_parse(const uint8_t *sm, size_t len, nps_concat *c)
{
	size_t		end,
				i;

	memset(c, 0, sizeof(*c));
	if (len < 1 || (size_t) sm[0] + 1 > len)
		return NPS_CODEC_EINVAL;
	end = (size_t) sm[0] + 1;
	for (i = 1; i < end;)
	{
		uint8_t		iei,
					iel;
		const uint8_t *v;

		if (i + 2 > end)
			return NPS_CODEC_EINVAL;
		iei = sm[i];
		iel = sm[i + 1];
		v = sm + i + 2;
		if (i + 2 + iel > end)
			return NPS_CODEC_EINVAL;
		/* 23.040: a bad concatenation IE is ignored; the last good one wins */
		if (iei == 0x00 && iel == 3 && v[1] >= 1 && v[2] >= 1 && v[2] <= v[1])
		{
			c->ref = v[0];
			c->total = v[1];
			c->seq = v[2];
			c->ref16 = 0;
		}
		else if (iei == 0x08 && iel == 4 && v[2] >= 1 && v[3] >= 1 &&
				 v[3] <= v[2])
		{
			c->ref = ((unsigned) v[0] << 8) | v[1];
			c->total = v[2];
			c->seq = v[3];
			c->ref16 = 1;
		}
		i += 2 + (size_t) iel;
	}
	return (int) end;
}

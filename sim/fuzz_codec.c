/*-------------------------------------------------------------------------
 *
 * fuzz_codec.c
 *	  Randomised robustness test of the shared codec (text_codec.c,
 *	  smpp_frame.c): the code that reads bytes from the network in both the
 *	  worker and the simulator.  Built with AddressSanitizer and UBSan
 *	  (make -C sim fuzz), every input lives in a heap block of exactly its
 *	  size, so any read past it aborts the run.  Besides "no crash" it
 *	  checks invariants: encode/decode round trips, parts that tile the text
 *	  within the SMS limits, header bounds.  Deterministic for a seed; prints
 *	  TAP.
 *
 *	  fuzz_codec [iterations] [seed]
 *
 *-------------------------------------------------------------------------
 */
#include "smpp_frame.h"
#include "text_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	/* xorshift64*: small, fast, reproducible everywhere */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t) ((rng_state * 2685821657736338717ULL) >> 32);
}

/* Appends one UTF-8 character from a mix of the ranges replies contain. */
static size_t
put_char(char *p)
{
	static const uint32_t ranges[][2] = {
		{0x20, 0x7E}, {0x410, 0x44F}, {0x401, 0x401}, {0x451, 0x451},
		{0x20AC, 0x20AC}, {0x1F300, 0x1F6FF}, {0x00, 0x1F}, {0xA0, 0xFF},
		{0x800, 0xFFFF}
	};
	const uint32_t *r = ranges[rnd() % (sizeof(ranges) / sizeof(ranges[0]))];
	uint32_t	c = r[0] + rnd() % (r[1] - r[0] + 1);

	if (c >= 0xD800 && c <= 0xDFFF)
		c = 0x44F;				/* not a character in UTF-8 */
	if (c == 0)
		c = ' ';
	if (c < 0x80)
	{
		p[0] = (char) c;
		return 1;
	}
	if (c < 0x800)
	{
		p[0] = (char) (0xC0 | (c >> 6));
		p[1] = (char) (0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000)
	{
		p[0] = (char) (0xE0 | (c >> 12));
		p[1] = (char) (0x80 | ((c >> 6) & 0x3F));
		p[2] = (char) (0x80 | (c & 0x3F));
		return 3;
	}
	p[0] = (char) (0xF0 | (c >> 18));
	p[1] = (char) (0x80 | ((c >> 12) & 0x3F));
	p[2] = (char) (0x80 | ((c >> 6) & 0x3F));
	p[3] = (char) (0x80 | (c & 0x3F));
	return 4;
}

/* Exactly-sized heap copy, so ASan sees any overread. */
static uint8_t *
exact(const void *src, size_t len)
{
	uint8_t    *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	memcpy(p, src, len);
	return p;
}

static int	n_tests = 0;
static int	n_failed = 0;

static void
ok(long failures, const char *name, long tries)
{
	n_tests++;
	if (failures)
		n_failed++;
	printf("%sok %d - %s (%ld inputs, %ld failures)\n",
		   failures ? "not " : "", n_tests, name, tries, failures);
}

/* Random bytes through every decoder and parser: only bounds matter here. */
static long
fuzz_decoders(long iters)
{
	uint8_t		raw[700];
	char		out[NPS_UTF8_MAX_FROM_GSM7(700)];
	long		bad = 0;

	for (long i = 0; i < iters; i++)
	{
		size_t		len = rnd() % sizeof(raw);
		uint8_t    *in;
		nps_concat	c;
		smpp_header h;
		smpp_receipt r;
		int			n;

		for (size_t k = 0; k < len; k++)
			raw[k] = (uint8_t) rnd();
		if (len > 0 && rnd() % 4 == 0)
			raw[0] = (uint8_t) (rnd() % 8);	/* plausible UDHL */
		in = exact(raw, len);

		n = nps_decode_to_utf8(rnd() % 10, in, len, out, 1 + rnd() % sizeof(out));
		if (n >= 0 && (size_t) n != strlen(out))
			bad++;
		(void) nps_udh_parse(in, len, &c);
		if (c.total != 0 && (c.seq < 1 || c.seq > c.total))
			bad++;
		n = smpp_read_header(in, len, &h);
		if (n == 1 && (h.command_length < 16 || h.command_length > SMPP_MAX_PDU_LEN))
			bad++;
		if (smpp_receipt_parse((const char *) in, len, &r) == 0 && strlen(r.id) > SMPP_MSGID_MAX)
			bad++;
		free(in);
	}
	return bad;
}

/* Receipt texts with random mutations: parse never overruns, ids bounded. */
static long
fuzz_receipts(long iters)
{
	char		txt[300];
	long		bad = 0;

	for (long i = 0; i < iters; i++)
	{
		int			len = smpp_receipt_format(txt, sizeof(txt), "1f2e3d4c", 1, 1,
											  1700000000, 1700000060,
											  SMPP_STAT_DELIVRD, 0, "Оцените салон", 25);
		uint8_t    *in;
		smpp_receipt r;

		if (len < 0)
			return 1;
		for (int m = rnd() % 6; m > 0; m--)
			txt[rnd() % len] = (char) rnd();
		len = rnd() % (len + 1);
		in = exact(txt, len);
		if (smpp_receipt_parse((const char *) in, len, &r) == 0 &&
			(strlen(r.id) > SMPP_MSGID_MAX || r.stat < SMPP_STAT_ENROUTE || r.stat > SMPP_STAT_REJECTD))
			bad++;
		free(in);
	}
	return bad;
}

/* Valid UTF-8 texts: encode, decode back, split into parts that tile it. */
static long
fuzz_roundtrip(long iters)
{
	char		text[1200];
	uint8_t		enc[2400];
	char		back[4000];
	nps_part	parts[NPS_MAX_PARTS];
	long		bad = 0;

	for (long i = 0; i < iters; i++)
	{
		size_t		len = 0;
		int			nchars = rnd() % 300;
		int			dc = -1;
		int			n, np, udh;
		char	   *in;
		size_t		next = 0;
		size_t		cap;

		for (int k = 0; k < nchars; k++)
			len += put_char(text + len);
		in = (char *) exact(text, len);
		n = nps_utf8_encode(in, len, &dc, enc, sizeof(enc));
		if (n < 0 || nps_decode_to_utf8(dc, enc, n, back, sizeof(back)) < 0 ||
			strlen(back) != len || memcmp(back, text, len) != 0)
		{
			bad++;
			free(in);
			continue;
		}
		udh = rnd() % 2 ? NPS_UDH8_LEN : NPS_UDH16_LEN;
		np = nps_split(dc, enc, n, udh, parts, NPS_MAX_PARTS);
		if (np != nps_utf8_count_parts(in, len, udh, NULL))
			bad++;
		cap = np == 1 ? (dc == NPS_DC_GSM7 ? NPS_SMS_SEPTETS : NPS_SMS_OCTETS)
			: (dc == NPS_DC_GSM7 ? NPS_SMS_SEPTETS : NPS_SMS_OCTETS) - udh;
		for (int p = 0; p < np; p++)
		{
			const uint8_t *end = enc + parts[p].offset + parts[p].length;

			if (parts[p].offset != next || parts[p].length > cap ||
				(dc == NPS_DC_GSM7 && parts[p].length > 0 && end[-1] == NPS_GSM7_ESC) ||
				(dc == NPS_DC_UCS2 && parts[p].length >= 2 && end[-2] >= 0xD8 && end[-2] <= 0xDB))
				bad++;
			next += parts[p].length;
		}
		if (next != (size_t) n)
			bad++;
		free(in);
	}
	return bad;
}

/* UTF-8 cut inside a character is refused; cut on a boundary is accepted. */
static long
fuzz_truncated(long iters)
{
	char		text[64];
	uint8_t		enc[256];
	long		bad = 0;

	for (long i = 0; i < iters; i++)
	{
		size_t		l1 = put_char(text);
		size_t		l2 = put_char(text + l1);
		size_t		len = l1 + l2 - (1 + rnd() % 2);
		int			boundary = (len == l1 || len == l1 + l2 || len == 0);
		char	   *in = (char *) exact(text, len);
		int			dc;

		if ((nps_utf8_encode(in, len, &dc, enc, sizeof(enc)) >= 0) != boundary)
			bad++;
		free(in);
	}
	return bad;
}

int
main(int argc, char **argv)
{
	long		iters = argc > 1 ? atol(argv[1]) : 100000;

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 20261128;
	if (rng_state == 0)
		rng_state = 1;

	ok(fuzz_decoders(iters), "random bytes: decoders, UDH, header and receipt parsers stay in bounds", iters);
	ok(fuzz_receipts(iters), "mutated receipts parse within bounds", iters);
	ok(fuzz_roundtrip(iters / 4), "random texts: encode/decode round trip, parts tile the text within limits", iters / 4);
	ok(fuzz_truncated(iters), "truncated UTF-8 is refused", iters);
	printf("1..%d\n", n_tests);
	return n_failed ? 1 : 0;
}

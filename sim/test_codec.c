/*-------------------------------------------------------------------------
 *
 * test_codec.c
 *	  TAP unit tests for text_codec.c and smpp_frame.c.  Exits non-zero
 *	  when any test fails.
 *
 *-------------------------------------------------------------------------
 */
#include "smpp_frame.h"
#include "text_codec.h"

#include <stdio.h>
#include <string.h>

static int	n_tests = 0;
static int	n_failed = 0;

static void
ok(int cond, const char *name)
{
	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n_tests, name);
}

/* UTF-8 -> chosen coding -> UTF-8 gives back the input */
static int
roundtrip(const char *s, int expect_dc, int expect_len)
{
	uint8_t		enc[1024];
	char		back[2048];
	int			dc = -1;
	int			n = nps_utf8_encode(s, strlen(s), &dc, enc, sizeof(enc));

	if (n != expect_len || dc != expect_dc)
	{
		printf("# encode %s: len %d dc %d\n", s, n, dc);
		return 0;
	}
	if (nps_decode_to_utf8(dc, enc, n, back, sizeof(back)) < 0)
		return 0;
	return strcmp(back, s) == 0;
}

/* n copies of a UTF-8 string */
static size_t
repeat(char *buf, size_t bufsize, const char *s, int n)
{
	size_t		l = strlen(s),
				o = 0;
	int			i;

	for (i = 0; i < n && o + l < bufsize; i++, o += l)
		memcpy(buf + o, s, l);
	buf[o] = '\0';
	return o;
}

/* split parts of a UTF-8 text, checking count against nps_utf8_count_parts */
static int
split_utf8(const char *s, int udh_len, nps_part *parts, int max)
{
	static uint8_t enc[4096];
	int			dc,
				n = nps_utf8_encode(s, strlen(s), &dc, enc, sizeof(enc));
	int			k,
				k2;

	if (n < 0)
		return n;
	k = nps_split(dc, enc, n, udh_len, parts, max);
	k2 = nps_utf8_count_parts(s, strlen(s), udh_len, NULL);
	if (k != k2 || k != nps_count_parts(dc, enc, n, udh_len))
	{
		printf("# split %d, utf8 count %d\n", k, k2);
		return -100;
	}
	return k;
}

static void
test_text(void)
{
	uint8_t		enc[64];
	char		out[64];
	static const uint8_t bad_ucs2_odd[] = {0x04, 0x1F, 0x04};
	static const uint8_t lone_high[] = {0x00, 0x41, 0xD8, 0x3D};
	static const uint8_t lone_low[] = {0xDC, 0x4D, 0x00, 0x41};
	static const uint8_t latin1[] = {0xE9, 't', 0xE9};
	static const uint8_t gsm_esc_end[] = {'a', 0x1B};
	static const uint8_t gsm_high[] = {'a', 0x80};

	ok(roundtrip("Hello @ $ _ !?", NPS_DC_GSM7, 14), "ASCII with @ $ _ is GSM7");
	ok(nps_utf8_to_gsm7("@$_", 3, enc, sizeof(enc)) == 3 &&
	   enc[0] == 0x00 && enc[1] == 0x02 && enc[2] == 0x11,
	   "@ $ _ map to GSM septets 00 02 11");
	ok(roundtrip("\xe2\x82\xac[]{}^~\\|", NPS_DC_GSM7, 18),
	   "GSM extension chars take ESC pairs and round-trip");
	ok(nps_utf8_to_gsm7("\xe2\x82\xac", 3, enc, sizeof(enc)) == 2 &&
	   enc[0] == 0x1B && enc[1] == 0x65, "euro is ESC 0x65");
	ok(roundtrip("\xc3\xa9t\xc3\xa9 \xce\x94\xce\xa9 \xc3\x9f", NPS_DC_GSM7, 8),
	   "accented Latin and Greek capitals fit GSM7");
	ok(roundtrip("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80!",
				 NPS_DC_UCS2, 24), "Cyrillic goes UCS-2 and round-trips");
	ok(nps_utf8_to_ucs2("\xd0\x96", 2, enc, sizeof(enc)) == 2 &&
	   enc[0] == 0x04 && enc[1] == 0x16, "Ж is UCS-2 0416");
	ok(roundtrip("ok \xf0\x9f\x91\x8d", NPS_DC_UCS2, 10),
	   "emoji becomes a surrogate pair and round-trips");
	ok(nps_utf8_to_ucs2("\xf0\x9f\x91\x8d", 4, enc, sizeof(enc)) == 4 &&
	   enc[0] == 0xD8 && enc[1] == 0x3D && enc[2] == 0xDC && enc[3] == 0x4D,
	   "emoji is D83D DC4D");
	ok(nps_utf8_fits_gsm7("a`b", 3) == 0, "backtick does not fit GSM7");
	ok(nps_utf8_to_gsm7("\xd0\x96", 2, enc, sizeof(enc)) == NPS_CODEC_EINVAL,
	   "Cyrillic to GSM7 is not representable");
	ok(nps_utf8_to_gsm7("\xef\xbf\xbf", 3, enc, sizeof(enc)) == NPS_CODEC_EINVAL,
	   "U+FFFF does not map to the ESC slot");

	ok(nps_utf8_fits_gsm7("\xc3\x28", 2) == NPS_CODEC_EINVAL, "bad continuation rejected");
	ok(nps_utf8_fits_gsm7("\xc0\xaf", 2) == NPS_CODEC_EINVAL, "overlong rejected");
	ok(nps_utf8_fits_gsm7("\xed\xa0\x80", 3) == NPS_CODEC_EINVAL, "UTF-8 surrogate rejected");
	ok(nps_utf8_fits_gsm7("\xe2\x82", 2) == NPS_CODEC_EINVAL, "truncated UTF-8 rejected");
	ok(nps_utf8_fits_gsm7("\xf4\x90\x80\x80", 4) == NPS_CODEC_EINVAL, "above U+10FFFF rejected");
	ok(nps_utf8_to_ucs2("a\0b", 3, enc, sizeof(enc)) == NPS_CODEC_EINVAL, "NUL rejected");
	ok(nps_utf8_count_parts("\xff", 1, NPS_UDH8_LEN, NULL) == NPS_CODEC_EINVAL,
	   "count_parts rejects bad UTF-8");

	ok(nps_ucs2_to_utf8(bad_ucs2_odd, 3, out, sizeof(out)) == NPS_CODEC_EINVAL,
	   "odd-length UCS-2 rejected");
	ok(nps_ucs2_to_utf8(lone_high, 4, out, sizeof(out)) == NPS_CODEC_EINVAL,
	   "high surrogate at the end rejected");
	ok(nps_ucs2_to_utf8(lone_low, 4, out, sizeof(out)) == NPS_CODEC_EINVAL,
	   "lone low surrogate rejected");
	ok(nps_latin1_to_utf8(latin1, 3, out, sizeof(out)) == 5 &&
	   strcmp(out, "\xc3\xa9t\xc3\xa9") == 0, "Latin-1 decodes to UTF-8");
	ok(nps_gsm7_to_utf8(gsm_esc_end, 2, out, sizeof(out)) == 1 &&
	   strcmp(out, "a") == 0, "trailing ESC is dropped");
	ok(nps_gsm7_to_utf8(gsm_high, 2, out, sizeof(out)) == NPS_CODEC_EINVAL,
	   "octet above 0x7F is not a septet");
	ok(nps_decode_to_utf8(0x04, latin1, 3, out, sizeof(out)) == NPS_CODEC_EINVAL,
	   "binary data_coding is not text");

	ok(nps_utf8_to_ucs2("abc", 3, enc, 5) == NPS_CODEC_ENOSPC, "encode output bound");
	ok(nps_latin1_to_utf8(latin1, 3, out, 5) == NPS_CODEC_ENOSPC,
	   "decode output bound keeps room for NUL");
}

static void
test_split(void)
{
	char		s[2048];
	nps_part	p[8];
	size_t		l;

	repeat(s, sizeof(s), "a", 160);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 1 && p[0].length == 160, "160 septets: 1 part");
	repeat(s, sizeof(s), "a", 161);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 2 && p[0].length == 153 &&
	   p[1].offset == 153 && p[1].length == 8, "161 septets: 153 + 8");
	repeat(s, sizeof(s), "a", 306);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 2, "306 septets: 2 parts (8-bit ref)");
	repeat(s, sizeof(s), "a", 307);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 3, "307 septets: 3 parts (8-bit ref)");
	repeat(s, sizeof(s), "a", 304);
	ok(split_utf8(s, NPS_UDH16_LEN, p, 8) == 2 && p[0].length == 152,
	   "304 septets: 2 parts of 152 (16-bit ref)");
	repeat(s, sizeof(s), "a", 305);
	ok(split_utf8(s, NPS_UDH16_LEN, p, 8) == 3, "305 septets: 3 parts (16-bit ref)");

	/* ESC pair straddling 153: the pair moves to part 2 */
	l = repeat(s, sizeof(s), "a", 152);
	strcpy(s + l, "\xe2\x82\xac" "bbbbbbbbbb");
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 2 && p[0].length == 152 &&
	   p[1].length == 12, "ESC pair is never split");
	l = repeat(s, sizeof(s), "a", 79);
	repeat(s + l, sizeof(s) - l, "{", 40);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 1, "79 + 40 ESC pairs = 159 septets: 1 part");

	repeat(s, sizeof(s), "\xd0\xaf", 70);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 1 && p[0].length == 140, "70 UCS-2 chars: 1 part");
	repeat(s, sizeof(s), "\xd0\xaf", 71);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 2 && p[0].length == 134 &&
	   p[1].length == 8, "71 UCS-2 chars: 134 + 8 octets");
	repeat(s, sizeof(s), "\xd0\xaf", 71);
	ok(split_utf8(s, NPS_UDH16_LEN, p, 8) == 2 && p[0].length == 132 &&
	   p[1].length == 10, "71 UCS-2 chars, 16-bit ref: 132 + 10 octets");
	repeat(s, sizeof(s), "\xd0\xaf", 134);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 2, "134 UCS-2 chars: 2 parts");
	repeat(s, sizeof(s), "\xd0\xaf", 135);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 3, "135 UCS-2 chars: 3 parts");

	/* surrogate pair straddling 134 octets */
	l = repeat(s, sizeof(s), "\xd0\xaf", 66);
	l += repeat(s + l, sizeof(s) - l, "\xf0\x9f\x98\x80", 3);
	ok(split_utf8(s, NPS_UDH8_LEN, p, 8) == 2 && p[0].length == 132 &&
	   p[1].offset == 132 && p[1].length == 12, "surrogate pair is never split");

	repeat(s, sizeof(s), "a", 2000);
	ok(nps_split(NPS_DC_GSM7, (const uint8_t *) s, 2000, NPS_UDH8_LEN, p, 8) ==
	   NPS_CODEC_ENOSPC, "parts array bound");
	ok(nps_utf8_count_parts(s, 2000, NPS_UDH8_LEN, NULL) == 14, "count without array");
	{
		uint8_t		odd[3] = {0, 'a', 0};

		ok(nps_count_parts(NPS_DC_UCS2, odd, 3, NPS_UDH8_LEN) == NPS_CODEC_EINVAL,
		   "odd UCS-2 cannot be split");
	}
}

static void
test_udh(void)
{
	uint8_t		u[16];
	nps_concat	c;
	static const uint8_t other_first[] = {
		0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x2A, 0x03, 0x02, 'x'
	};
	static const uint8_t overrun[] = {0x05, 0x00, 0x03, 0x01, 0x02};
	static const uint8_t ie_overrun[] = {0x03, 0x00, 0x03, 0x01, 0x02};
	static const uint8_t bad_seq[] = {0x05, 0x00, 0x03, 0x01, 0x02, 0x03};

	ok(nps_udh_build(u, sizeof(u), 0, 0xAB, 3, 2) == 6 &&
	   memcmp(u, "\x05\x00\x03\xab\x03\x02", 6) == 0, "build 8-bit UDH");
	ok(nps_udh_parse(u, 6, &c) == 6 && c.ref == 0xAB && c.total == 3 &&
	   c.seq == 2 && !c.ref16, "parse 8-bit UDH");
	ok(nps_udh_build(u, sizeof(u), 1, 0x1234, 4, 4) == 7 &&
	   memcmp(u, "\x06\x08\x04\x12\x34\x04\x04", 7) == 0, "build 16-bit UDH");
	ok(nps_udh_parse(u, 7, &c) == 7 && c.ref == 0x1234 && c.total == 4 &&
	   c.seq == 4 && c.ref16, "parse 16-bit UDH");
	ok(nps_udh_build(u, sizeof(u), 0, 300, 2, 1) == NPS_CODEC_EINVAL, "8-bit ref > 255 refused");
	ok(nps_udh_build(u, sizeof(u), 0, 1, 2, 3) == NPS_CODEC_EINVAL, "seq > total refused");
	ok(nps_udh_build(u, 5, 0, 1, 2, 1) == NPS_CODEC_ENOSPC, "UDH output bound");
	ok(nps_udh_parse(other_first, sizeof(other_first), &c) == 12 &&
	   c.ref == 0x2A && c.total == 3 && c.seq == 2, "port IE skipped before concat IE");
	ok(nps_udh_parse(overrun, sizeof(overrun), &c) == NPS_CODEC_EINVAL, "UDHL past the end");
	ok(nps_udh_parse(ie_overrun, sizeof(ie_overrun), &c) == NPS_CODEC_EINVAL, "IE past UDHL");
	ok(nps_udh_parse(bad_seq, sizeof(bad_seq), &c) == 6 && c.total == 0,
	   "concat IE with seq > total is ignored");
	ok(nps_udh_parse(u, 0, &c) == NPS_CODEC_EINVAL, "empty message has no UDH");
}

static void
test_frame(void)
{
	uint8_t		b[32];
	smpp_header h;
	smpp_receipt r;
	char		t[256];
	int			n;

	memcpy(b, "\x00\x00\x00\x10\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x07", 16);
	ok(smpp_read_header(b, 16, &h) == 1 && h.command_id == SMPP_CMD_ENQUIRE_LINK &&
	   h.sequence_number == 7, "read enquire_link header");
	ok(smpp_read_header(b, 15, &h) == 0, "short buffer asks for more");
	smpp_put_u32(b, 15);
	ok(smpp_read_header(b, 16, &h) == -1, "command_length 15 rejected");
	smpp_put_u32(b, SMPP_MAX_PDU_LEN + 1);
	ok(smpp_read_header(b, 16, &h) == -1, "command_length above max rejected");
	smpp_put_u32(b, SMPP_MAX_PDU_LEN);
	ok(smpp_read_header(b, 16, &h) == 1, "command_length at max accepted");
	ok(smpp_write_generic_nack(b, sizeof(b), SMPP_ST_RINVCMDID, 9) == 16 &&
	   memcmp(b, "\x00\x00\x00\x10\x80\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x09", 16) == 0,
	   "generic_nack bytes");
	ok(smpp_write_header_pdu(b, 15, SMPP_CMD_UNBIND, 0, 1) == -2, "header output bound");
	ok(strcmp(smpp_command_name(0x80000004u), "submit_sm_resp") == 0 &&
	   strcmp(smpp_command_name(SMPP_CMD_BIND_TRANSCEIVER), "bind_transceiver") == 0 &&
	   strcmp(smpp_command_name(0x12345678u), "unknown") == 0 &&
	   !smpp_command_known(0x8000000Bu) && smpp_command_known(SMPP_CMD_GENERIC_NACK),
	   "command names");

	n = smpp_receipt_format(t, sizeof(t), "4a3f2b", 1, 1, 1709214330,
							1709214330 + 90, SMPP_STAT_DELIVRD, 0,
							"Оцените нас от 0 до 10", strlen("Оцените нас от 0 до 10"));
	ok(n > 0 && strcmp(t, "id:4a3f2b sub:001 dlvrd:001 submit date:2402291345 "
					   "done date:2402291347 stat:DELIVRD err:000 text:Оцените на") == 0,
	   "receipt format, text cut at 20 octets on a UTF-8 boundary");
	ok(smpp_receipt_parse(t, n, &r) == 0 && strcmp(r.id, "4a3f2b") == 0 &&
	   r.stat == SMPP_STAT_DELIVRD && r.sub == 1 && r.dlvrd == 1 && r.err == 0 &&
	   strcmp(r.submit_date, "2402291345") == 0, "receipt parse, hex id");
	strcpy(t, "id:1234567890 sub:001 dlvrd:000 submit date:2402291345 "
		   "done date:2402301345 stat:EXPIRED err:027 Text:hello world: x");
	ok(smpp_receipt_parse(t, strlen(t), &r) == 0 && strcmp(r.id, "1234567890") == 0 &&
	   r.stat == SMPP_STAT_EXPIRED && r.err == 27 && strcmp(r.text, "hello world: x") == 0,
	   "receipt parse, decimal id, Text: with spaces");
	strcpy(t, "id:77 dlvr:001 stat:undeliv err:1");
	ok(smpp_receipt_parse(t, strlen(t), &r) == 0 && r.stat == SMPP_STAT_UNDELIV &&
	   r.dlvrd == 1 && r.sub == -1, "receipt parse, dlvr spelling and lowercase stat");
	strcpy(t, "id:77 sub:001 stat:BOGUS12 err:000");
	ok(smpp_receipt_parse(t, strlen(t), &r) == -1, "unknown stat rejected");
	strcpy(t, "id:77 sub:001 err:000");
	ok(smpp_receipt_parse(t, strlen(t), &r) == -1, "missing stat rejected");
	memset(t, 'x', 100);
	memcpy(t, "id:", 3);
	strcpy(t + 100, " stat:DELIVRD");
	ok(smpp_receipt_parse(t, strlen(t), &r) == -1, "id longer than 65 rejected");
	{
		static const char *const st[] = {"DELIVRD", "EXPIRED", "DELETED", "UNDELIV",
		"ACCEPTD", "UNKNOWN", "REJECTD", "ENROUTE"};
		int			i,
					all = 1;

		for (i = 0; i < 8; i++)
		{
			int			s = smpp_stat_from_name(st[i], 7);

			all &= s > 0 && strcmp(smpp_stat_name(s), st[i]) == 0;
		}
		ok(all, "all eight stat names map both ways");
	}
	ok(smpp_receipt_format(t, 20, "1", 1, 1, 0, 0, SMPP_STAT_DELIVRD, 0, "", 0) == -2,
	   "receipt output bound");
}

int
main(void)
{
	test_text();
	test_split();
	test_udh();
	test_frame();
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# %d of %d failed\n", n_failed, n_tests);
	return n_failed ? 1 : 0;
}

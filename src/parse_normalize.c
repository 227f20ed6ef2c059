/*
 * parse_normalize.c: an SMS reply as typed -> the canonical text the parser
 * (and analysts, through nps.normalize_reply) work on.
 *
 * Customers type on every kind of phone: Latin letters that look like
 * Cyrillic ones inside Russian words ("HET", "дa"), a Cyrillic "О" for a zero
 * ("1О"), emoji, keycap digits, dashes of every width.  This step removes
 * that variety once, so that the rest of the parser compares plain words.
 * The rules are listed with examples in docs/parsing.md; keep both in step.
 *
 * The text is decoded by hand rather than with pg_mb2wchar so that a broken
 * sequence becomes a separator instead of an error: a reply never fails.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "parse.h"

typedef enum CharClass
{
	CH_LETTER,
	CH_DIGIT,
	CH_SIGN,					/* '/', '-' or '+' */
	CH_POINT,					/* '.' or ',': a decimal point between digits */
	CH_SEP						/* anything else: space, punctuation, emoji */
} CharClass;

typedef enum Script
{
	SCRIPT_LATIN,
	SCRIPT_CYRILLIC,
	SCRIPT_OTHER
} Script;

typedef struct Char
{
	pg_wchar	cp;				/* lowercased; ё already е */
	pg_wchar	twin;			/* look-alike in the other script, or 0 */
	uint8		cls;			/* CharClass */
	uint8		script;			/* Script, for letters */
} Char;

typedef struct Builder
{
	Char	   *ch;
	int			n;
	bool		blank;
	char	   *out;
	int			len;
} Builder;

/*
 * Look-alikes, by the letter's original case: an upper-case Latin "H" looks
 * like "Н" but a lower-case "h" looks like nothing Cyrillic.
 */
static pg_wchar
latin_twin(unsigned char c)
{
	switch (c)
	{
		case 'A': case 'a': return 0x430;	/* а */
		case 'B': return 0x432;				/* в */
		case 'C': case 'c': return 0x441;	/* с */
		case 'E': case 'e': return 0x435;	/* е */
		case 'H': return 0x43D;				/* н */
		case 'K': case 'k': return 0x43A;	/* к */
		case 'M': return 0x43C;				/* м */
		case 'O': case 'o': return 0x43E;	/* о */
		case 'P': case 'p': return 0x440;	/* р */
		case 'T': return 0x442;				/* т */
		case 'X': case 'x': return 0x445;	/* х */
		case 'Y': case 'y': return 0x443;	/* у */
	}
	return 0;
}

static pg_wchar
cyrillic_twin(pg_wchar cp)
{
	switch (cp)
	{
		case 0x410: case 0x430: return 'a';
		case 0x412: return 'b';
		case 0x421: case 0x441: return 'c';
		case 0x415: case 0x435: return 'e';
		case 0x41D: return 'h';
		case 0x41A: case 0x43A: return 'k';
		case 0x41C: return 'm';
		case 0x41E: case 0x43E: return 'o';
		case 0x420: case 0x440: return 'p';
		case 0x422: return 't';
		case 0x425: case 0x445: return 'x';
		case 0x423: case 0x443: return 'y';
	}
	return 0;
}

/*
 * Decodes one UTF-8 sequence; a malformed one (bad continuation, overlong
 * form, surrogate, beyond U+10FFFF, cut at the end) yields U+FFFD and
 * consumes one byte.
 */
static int
decode_utf8(const unsigned char *s, int len, pg_wchar *cp)
{
	unsigned char b = s[0];
	int			n;
	pg_wchar	c;
	unsigned char lo = 0x80,
				hi = 0xBF;

	if (b < 0x80)
	{
		*cp = b;
		return 1;
	}
	if (b >= 0xC2 && b <= 0xDF)
		n = 2, c = b & 0x1F;
	else if (b >= 0xE0 && b <= 0xEF)
	{
		n = 3, c = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;			/* no surrogates */
	}
	else if (b >= 0xF0 && b <= 0xF4)
	{
		n = 4, c = b & 0x07;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	}
	else
		goto bad;
	if (n > len)
		goto bad;
	for (int i = 1; i < n; i++)
	{
		unsigned char cb = s[i];

		if (cb < (i == 1 ? lo : 0x80) || cb > (i == 1 ? hi : 0xBF))
			goto bad;
		c = (c << 6) | (cb & 0x3F);
	}
	*cp = c;
	return n;
bad:
	*cp = 0xFFFD;
	return 1;
}

static bool
is_space_or_control(pg_wchar cp)
{
	return cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0x1680 ||
		(cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
		cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/*
 * Invisible characters and marks that live inside words and numbers: they
 * vanish without splitting ("1️⃣0️⃣" is "10", "don't" is "dont", a stress mark
 * in "да́" is dropped).
 */
static bool
is_invisible(pg_wchar cp)
{
	return cp == '\'' || cp == 0x2019 || cp == 0x02BC || cp == 0x00AD ||
		(cp >= 0x0300 && cp <= 0x036F) ||	/* combining marks */
		(cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) ||
		cp == 0x20E3 || cp == 0xFEFF ||
		(cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF) ||
		(cp >= 0x1F3FB && cp <= 0x1F3FF);	/* skin tones */
}

/* Letters of scripts other than Latin and Cyrillic: kept as they are. */
static bool
is_other_letter(pg_wchar cp)
{
	return (cp >= 0x00C0 && cp <= 0x024F && cp != 0xD7 && cp != 0xF7) ||
		(cp >= 0x0370 && cp <= 0x03FF) || (cp >= 0x0530 && cp <= 0x058F) ||
		(cp >= 0x05D0 && cp <= 0x05EA) || (cp >= 0x0620 && cp <= 0x064A) ||
		(cp >= 0x0900 && cp <= 0x097F) || (cp >= 0x10A0 && cp <= 0x10FF) ||
		(cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
		(cp >= 0xAC00 && cp <= 0xD7A3);
}

static void
push(Builder *b, pg_wchar cp, CharClass cls, Script script, pg_wchar twin)
{
	Char	   *c = &b->ch[b->n++];

	c->cp = cp;
	c->cls = cls;
	c->script = script;
	c->twin = twin;
}

static void
push_digits(Builder *b, const char *digits)
{
	push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
	for (; *digits; digits++)
		push(b, *digits, CH_DIGIT, SCRIPT_OTHER, 0);
	push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
}

/* Classifies one code point, appending 0 to 4 Chars. */
static void
classify(Builder *b, pg_wchar cp)
{
	if (!is_space_or_control(cp) && !is_invisible(cp))
		b->blank = false;

	if (cp >= '0' && cp <= '9')
		push(b, cp, CH_DIGIT, SCRIPT_OTHER, 0);
	else if (cp >= 0xFF10 && cp <= 0xFF19)	/* fullwidth digits */
		push(b, '0' + cp - 0xFF10, CH_DIGIT, SCRIPT_OTHER, 0);
	else if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
		push(b, cp | 0x20, CH_LETTER, SCRIPT_LATIN, latin_twin(cp));
	else if (cp >= 0x400 && cp <= 0x45F)
	{
		pg_wchar	lower = cp < 0x410 ? cp + 0x50 : cp < 0x430 ? cp + 0x20 : cp;

		/* ё -> е, which then is the look-alike of e, as it is in the output */
		if (lower == 0x451)
			cp = lower = 0x435;
		push(b, lower, CH_LETTER, SCRIPT_CYRILLIC, cyrillic_twin(cp));
	}
	else if (cp >= 0x460 && cp <= 0x52F)
		push(b, cp, CH_LETTER, SCRIPT_CYRILLIC, 0);
	else if (cp == 0x0306 && b->n > 0 && b->ch[b->n - 1].cp == 0x438)
		b->ch[b->n - 1].cp = 0x439; /* и + combining breve = й */
	else if (is_invisible(cp))
		return;
	else if (is_other_letter(cp))
		push(b, cp, CH_LETTER, SCRIPT_OTHER, 0);
	else if (cp == '/' || cp == 0x2044 || cp == 0x2215 || cp == 0xFF0F)
		push(b, '/', CH_SIGN, SCRIPT_OTHER, 0);
	else if (cp == '-' || (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 ||
			 cp == 0xFE63 || cp == 0xFF0D)
		push(b, '-', CH_SIGN, SCRIPT_OTHER, 0);
	else if (cp == '+' || cp == 0xFF0B)
		push(b, '+', CH_SIGN, SCRIPT_OTHER, 0);
	else if (cp == '.' || cp == ',')
		push(b, cp, CH_POINT, SCRIPT_OTHER, 0);
	else if (cp == 0x1F44D)		/* thumbs up: a yes */
	{
		push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
		push(b, '+', CH_SIGN, SCRIPT_OTHER, 0);
		push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
	}
	else if (cp == 0x1F44E)		/* thumbs down: a no */
	{
		push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
		push(b, '-', CH_SIGN, SCRIPT_OTHER, 0);
		push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
	}
	else if (cp == 0x1F51F)		/* keycap ten */
		push_digits(b, "10");
	else if (cp == 0x24EA)		/* circled zero */
		push_digits(b, "0");
	else if (cp >= 0x2460 && cp <= 0x2469)	/* circled one .. ten */
		push_digits(b, cp == 0x2469 ? "10" : (char[]) {'1' + (cp - 0x2460), 0});
	else
		push(b, ' ', CH_SEP, SCRIPT_OTHER, 0);
}

static void
emit_space(Builder *b)
{
	if (b->len > 0 && b->out[b->len - 1] != ' ')
		b->out[b->len++] = ' ';
}

typedef enum Render
{
	RENDER_AS_IS,
	RENDER_CYRILLIC,			/* Latin look-alikes -> Cyrillic */
	RENDER_LATIN				/* Cyrillic look-alikes -> Latin */
} Render;

/* Writes cp as UTF-8 at p; returns the byte after it. */
static unsigned char *
encode_utf8(pg_wchar cp, unsigned char *p)
{
	unicode_to_utf8(cp, p);
	return p + pg_utf_mblen(p);
}

/* Writes a letter run at the end of the output; returns its length. */
static int
render(Builder *b, const Char *c, int n, Render how)
{
	unsigned char *p = (unsigned char *) b->out + b->len;
	unsigned char *start = p;

	for (int i = 0; i < n; i++)
	{
		pg_wchar	cp = c[i].cp;

		if (c[i].twin != 0 &&
			((how == RENDER_CYRILLIC && c[i].script == SCRIPT_LATIN) ||
			 (how == RENDER_LATIN && c[i].script == SCRIPT_CYRILLIC)))
			cp = c[i].twin;
		p = encode_utf8(cp, p);
	}
	return p - start;
}

static bool
renders_known(Builder *b, const Char *c, int n, Render how)
{
	return nps_known_word(b->out + b->len, render(b, c, n, how));
}

/*
 * A run of letters goes to one script.  Mixed runs follow the letters that
 * only one script has ("CTOП" has П: Cyrillic; "yеs" has s: Latin).  A run
 * written wholly in one script changes script only to become a word the
 * parser knows ("HET" -> "нет"), so that "y", "ok" or "ace" stay Latin.
 */
static void
emit_letters(Builder *b, const Char *c, int n)
{
	int			latin = 0,
				latin_only = 0,
				cyrillic = 0,
				cyrillic_only = 0;
	Render		how;

	for (int i = 0; i < n; i++)
	{
		if (c[i].script == SCRIPT_LATIN)
			latin++, latin_only += c[i].twin == 0;
		else if (c[i].script == SCRIPT_CYRILLIC)
			cyrillic++, cyrillic_only += c[i].twin == 0;
	}

	if (latin == 0)
		how = RENDER_AS_IS;
	else if (cyrillic == 0)
		how = latin_only == 0 && !renders_known(b, c, n, RENDER_AS_IS) &&
			renders_known(b, c, n, RENDER_CYRILLIC) ? RENDER_CYRILLIC : RENDER_AS_IS;
	else if (latin_only > 0 && cyrillic_only == 0)
		how = RENDER_LATIN;
	else if (cyrillic_only > 0)
		how = RENDER_CYRILLIC;
	else
		how = !renders_known(b, c, n, RENDER_CYRILLIC) &&
			renders_known(b, c, n, RENDER_LATIN) ? RENDER_LATIN : RENDER_CYRILLIC;
	b->len += render(b, c, n, how);
}

/* Letters typed for digits: O (Latin or Cyrillic) for 0, l and I for 1. */
static char
digit_look_alike(pg_wchar cp)
{
	if (cp == 'o' || cp == 0x43E)
		return '0';
	if (cp == 'l' || cp == 'i')
		return '1';
	return 0;
}

/*
 * A run of letters and digits without a break.  Digits with only digit
 * look-alikes among them are a number ("1О" and "l0" are 10); otherwise letters and digits are
 * split into words and numbers ("8баллов" is "8 баллов").
 */
static void
emit_alnum(Builder *b, const Char *c, int n)
{
	int			digits = 0,
				others = 0;

	for (int i = 0; i < n; i++)
	{
		if (c[i].cls == CH_DIGIT)
			digits++;
		else if (digit_look_alike(c[i].cp) == 0)
			others++;
	}
	if (digits > 0 && others == 0)
	{
		for (int i = 0; i < n; i++)
			b->out[b->len++] = c[i].cls == CH_DIGIT ? (char) c[i].cp : digit_look_alike(c[i].cp);
		return;
	}
	for (int i = 0; i < n;)
	{
		int			j = i + 1;

		while (j < n && c[j].cls == c[i].cls)
			j++;
		if (i > 0)
			emit_space(b);
		if (c[i].cls == CH_DIGIT)
			for (int k = i; k < j; k++)
				b->out[b->len++] = (char) c[k].cp;
		else
			emit_letters(b, c + i, j - i);
		i = j;
	}
}

/*
 * Fills pt->norm (palloc'd in the current context) and pt->blank from the
 * first PARSE_MAX_CHARS characters of s.
 */
void
nps_normalize(const char *s, int len, ParsedText *pt)
{
	const unsigned char *u = (const unsigned char *) s;
	int			chars = 0;
	Builder		b;

	/* At most 4 Chars per character (a circled ten: space, 1, 0, space). */
	len = Min(len, PARSE_MAX_BYTES);
	b.ch = palloc(sizeof(Char) * (4 * Min(len, PARSE_MAX_CHARS) + 1));
	b.n = 0;
	b.blank = true;
	for (int i = 0; i < len && chars < PARSE_MAX_CHARS; chars++)
	{
		pg_wchar	cp;

		i += decode_utf8(u + i, len - i, &cp);
		classify(&b, cp);
	}

	/* Each Char becomes at most 4 bytes. */
	b.out = palloc(4 * b.n + 1);
	b.len = 0;
	for (int i = 0; i < b.n;)
	{
		const Char *c = &b.ch[i];

		if (c->cls == CH_LETTER || c->cls == CH_DIGIT)
		{
			int			j = i + 1;

			while (j < b.n && (b.ch[j].cls == CH_LETTER || b.ch[j].cls == CH_DIGIT))
				j++;
			emit_alnum(&b, c, j - i);
			i = j;
			continue;
		}
		if (c->cls == CH_SIGN)
		{
			/* "!!!", "---" and "++" are one sign */
			if (b.len == 0 || b.out[b.len - 1] != (char) c->cp)
				b.out[b.len++] = (char) c->cp;
		}
		else if (c->cls == CH_POINT && i > 0 && i + 1 < b.n &&
				 b.ch[i - 1].cls == CH_DIGIT && b.ch[i + 1].cls == CH_DIGIT)
			b.out[b.len++] = '.';
		else
			emit_space(&b);
		i++;
	}
	while (b.len > 0 && b.out[b.len - 1] == ' ')
		b.len--;
	b.out[b.len] = '\0';
	pfree(b.ch);

	pt->norm = b.out;
	pt->norm_len = b.len;
	pt->blank = b.blank;
}

/*
 * parse_tokens.c: canonical text (see parse_normalize.c) -> tokens.
 *
 * The canonical text holds only letters, digits, single spaces, the signs
 * '/', '-', '+' and a '.' between digits, so tokenizing is a plain scan.
 * Words joined by a dash without spaces ("стоп-кран", "да-да") are one token:
 * the compound is a different word from its parts; number words are not
 * joined ("девять-десять" is a range).
 */
#include "postgres.h"

#include "parse.h"

static bool
is_word_byte(char c)
{
	return c != ' ' && c != '/' && c != '-' && c != '+' && c != '.' &&
		!(c >= '0' && c <= '9');
}

static void
scan_number(Token *t, const char *s, int len, int *pos)
{
	int			i = *pos;
	int64		v = 0;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		v = Min(v * 10 + (s[i] - '0'), (int64) PARSE_NUMBER_CAP);
	if (i + 1 < len && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')
	{
		t->fraction = true;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	t->kind = TOK_NUMBER;
	t->value = v;
	*pos = i;
}

/*
 * A word, or words joined by dashes.  A number word ends the word at its
 * dash, so that "девять-десять" is a range like "9-10".
 */
static void
scan_word(Token *t, const char *s, int len, int *pos)
{
	int			i = *pos;

	for (;;)
	{
		int			part = i;
		int64		value;

		while (i < len && is_word_byte(s[i]))
			i++;
		if (i + 1 < len && s[i] == '-' && is_word_byte(s[i + 1]) &&
			nps_word_class(s + part, i - part, &value) != W_NUMBER)
			i++;
		else
			break;
	}
	t->kind = TOK_WORD;
	*pos = i;
}

/*
 * A compound of one word repeated ("да-да", "стоп-стоп") means that word;
 * returns the length of its first part, or len.
 */
static int
repeated_part(const char *w, int len)
{
	const char *dash = memchr(w, '-', len);
	int			part;

	if (dash == NULL)
		return len;
	part = dash - w;
	for (int i = part; i < len; i += part + 1)
		if (w[i] != '-' || len - i - 1 < part || memcmp(w + i + 1, w, part) != 0)
			return len;
	return part;
}

/*
 * Fills pt->tokens from pt->norm; word tokens get their folded form and their
 * meaning.  The folded forms live in one buffer as long as the text.
 */
void
nps_tokenize(ParsedText *pt)
{
	const char *s = pt->norm;
	int			len = pt->norm_len;
	char	   *folded = palloc(len + 1);
	int			nfolded = 0;
	bool		spaced = false;

	pt->tokens = palloc(sizeof(Token) * (len + 1));
	pt->ntokens = 0;
	for (int i = 0; i < len;)
	{
		Token	   *t;
		int			start = i;

		if (s[i] == ' ' || s[i] == '.')
		{
			spaced = true;
			i++;
			continue;
		}
		t = &pt->tokens[pt->ntokens++];
		memset(t, 0, sizeof(Token));
		t->spaced = spaced;
		spaced = false;
		if (s[i] >= '0' && s[i] <= '9')
			scan_number(t, s, len, &i);
		else if (s[i] == '/' || s[i] == '-' || s[i] == '+')
		{
			t->kind = s[i] == '/' ? TOK_SLASH : s[i] == '-' ? TOK_DASH : TOK_PLUS;
			i++;
		}
		else
			scan_word(t, s, len, &i);
		t->text = s + start;
		t->len = i - start;
		if (t->kind == TOK_WORD)
		{
			int			part = repeated_part(t->text, t->len);

			t->word_len = part;
			t->folded = folded + nfolded;
			t->folded_len = nps_fold_repeats(t->text, part, folded + nfolded);
			nfolded += t->folded_len;
			t->wclass = nps_word_class(t->text, part, &t->value);
		}
	}
}

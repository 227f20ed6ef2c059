/*
 * parse_words.c: the words the reply parser knows, and how it matches them.
 *
 * Words are compared in canonical form (lowercase, ё written е, see
 * parse_normalize.c).  A word matches a vocabulary entry exactly, or after
 * folding repeated letters ("дааа" -> "да", "неет" -> "нет"), or, for the
 * longer number words only, with one typo ("девить", "восем").  Every entry
 * is listed in docs/parsing.md: keep both in step.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "parse.h"

/* No vocabulary word is longer; longer tokens are not looked up. */
#define MAX_WORD_BYTES 40

typedef struct Entry
{
	const char *word;
	int			len;
	WordClass	cls;
	int			value;
} Entry;

#define E(w, c, v) {w, sizeof(w) - 1, c, v}
#define N(w, v) E(w, W_NUMBER, v)

static const Entry vocabulary[] = {
	/* numbers 0..10: cardinals in every case, school-mark nouns, English */
	N("ноль", 0), N("нуль", 0), N("ноля", 0), N("нуля", 0), N("нолю", 0),
	N("нулю", 0), N("нолем", 0), N("нулем", 0), N("ноле", 0), N("нуле", 0),
	N("zero", 0),
	/* of "один" only the form a score reply uses: "одного", "одну" are pronouns */
	N("один", 1), N("единица", 1), N("единицу", 1), N("единичка", 1),
	N("единичку", 1), N("кол", 1), N("one", 1),
	N("два", 2), N("две", 2), N("двух", 2), N("двум", 2), N("двумя", 2),
	N("двойка", 2), N("двойку", 2), N("двойки", 2), N("двоечка", 2),
	N("двоечку", 2), N("two", 2),
	N("три", 3), N("трех", 3), N("трем", 3), N("тремя", 3), N("тройка", 3),
	N("тройку", 3), N("тройки", 3), N("троечка", 3), N("троечку", 3),
	N("трояк", 3), N("three", 3),
	N("четыре", 4), N("четырех", 4), N("четырем", 4), N("четырьмя", 4),
	N("четверка", 4), N("четверку", 4), N("четверки", 4),
	N("четверочка", 4), N("четверочку", 4), N("four", 4),
	N("пять", 5), N("пяти", 5), N("пятью", 5), N("пятерка", 5),
	N("пятерку", 5), N("пятерки", 5), N("пятерочка", 5), N("пятерочку", 5),
	N("пят", 5), N("five", 5),
	N("шесть", 6), N("шести", 6), N("шестью", 6), N("шестерка", 6),
	N("шестерку", 6), N("шестерки", 6), N("six", 6),
	/* not "семью": it is mostly "family" ("подключил всю семью") */
	N("семь", 7), N("семи", 7), N("семерка", 7),
	N("семерку", 7), N("семерки", 7), N("семерочка", 7), N("семерочку", 7),
	N("сем", 7), N("seven", 7),
	N("восемь", 8), N("восьми", 8), N("восемью", 8), N("восьмью", 8),
	N("восьмерка", 8), N("восьмерку", 8), N("восьмерки", 8),
	N("восьмерочка", 8), N("восьмерочку", 8), N("eight", 8),
	N("девять", 9), N("девяти", 9), N("девятью", 9), N("девятка", 9),
	N("девятку", 9), N("девятки", 9), N("девяточка", 9), N("девяточку", 9),
	N("девят", 9), N("nine", 9),
	N("десять", 10), N("десяти", 10), N("десятью", 10), N("десятка", 10),
	N("десятку", 10), N("десяточка", 10),
	N("десяточку", 10), N("десят", 10), N("ten", 10),

	/*
	 * Not numbers, although one typo away from one: "десятки людей" (dozens),
	 * "таких единицы" (very few).
	 */
	E("десятки", W_NONE, 0), E("единицы", W_NONE, 0),

	/* yes */
	E("да", W_YES, 0), E("ага", W_YES, 0), E("угу", W_YES, 0),
	E("yes", W_YES, 0), E("y", W_YES, 0), E("yeah", W_YES, 0),
	E("yep", W_YES, 0), E("yup", W_YES, 0), E("da", W_YES, 0),
	E("lf", W_YES, 0),			/* "да" typed on a Latin keyboard layout */
	E("конечно", W_YES_WEAK, 0), E("конешно", W_YES_WEAK, 0),
	E("канешно", W_YES_WEAK, 0), E("ок", W_YES_WEAK, 0),
	E("окей", W_YES_WEAK, 0), E("ok", W_YES_WEAK, 0),
	E("okay", W_YES_WEAK, 0), E("sure", W_YES_WEAK, 0),
	E("верно", W_YES_WEAK, 0), E("точно", W_YES_WEAK, 0),
	E("разумеется", W_YES_WEAK, 0), E("безусловно", W_YES_WEAK, 0),
	E("естественно", W_YES_WEAK, 0),

	/* no */
	E("нет", W_NO, 0), E("неа", W_NO, 0), E("нету", W_NO, 0),
	E("no", W_NO, 0), E("n", W_NO, 0), E("nope", W_NO, 0), E("nah", W_NO, 0),
	E("net", W_NO, 0),
	E("ytn", W_NO, 0),			/* "нет" typed on a Latin keyboard layout */
	E("никак", W_NO_WEAK, 0), E("никогда", W_NO_WEAK, 0),
	E("отнюдь", W_NO_WEAK, 0),
	E("не", W_NOT, 0), E("not", W_NOT, 0),

	/* units: a number before one is a quantity, not a score ("ждал 2 часа") */
	E("час", W_UNIT, 0), E("часа", W_UNIT, 0), E("часов", W_UNIT, 0),
	E("минут", W_UNIT, 0), E("минуты", W_UNIT, 0), E("минуту", W_UNIT, 0),
	E("мин", W_UNIT, 0), E("секунд", W_UNIT, 0), E("сек", W_UNIT, 0),
	E("день", W_UNIT, 0), E("дня", W_UNIT, 0), E("дней", W_UNIT, 0),
	E("недели", W_UNIT, 0), E("неделю", W_UNIT, 0), E("недель", W_UNIT, 0),
	E("месяц", W_UNIT, 0), E("месяца", W_UNIT, 0), E("месяцев", W_UNIT, 0),
	E("год", W_UNIT, 0), E("года", W_UNIT, 0), E("лет", W_UNIT, 0),
	E("раз", W_UNIT, 0), E("раза", W_UNIT, 0), E("человек", W_UNIT, 0),
	E("руб", W_UNIT, 0), E("рублей", W_UNIT, 0), E("рубля", W_UNIT, 0),
	E("гб", W_UNIT, 0), E("мб", W_UNIT, 0), E("sms", W_UNIT, 0),
	E("смс", W_UNIT, 0), E("minutes", W_UNIT, 0), E("hours", W_UNIT, 0),

	/* structure */
	E("из", W_SCALE, 0), E("of", W_SCALE, 0),
	E("но", W_BUT, 0), E("однако", W_BUT, 0), E("хотя", W_BUT, 0),
	E("только", W_BUT, 0), E("but", W_BUT, 0), E("however", W_BUT, 0),

	/* opt-out */
	E("стоп", W_STOP, 0), E("stop", W_STOP, 0), E("отписка", W_STOP, 0),
	E("unsub", W_STOP, 0),
	E("cnjg", W_STOP, 0),		/* "стоп" typed on a Latin keyboard layout */
	E("отписаться", W_OPT_OUT, 0), E("отписать", W_OPT_OUT, 0),
	E("отпишите", W_OPT_OUT, 0), E("отпишись", W_OPT_OUT, 0),
	E("отписываюсь", W_OPT_OUT, 0), E("unsubscribe", W_OPT_OUT, 0),
};

/*
 * Number words that may carry one typo: long enough that one edit does not
 * reach another common word.  A typo must keep the first letter.
 */
static const char *const typo_bases[] = {
	"четыре", "шесть", "восемь", "девять", "десять", "единица", "двойка",
	"тройка", "четверка", "пятерка", "шестерка", "семерка", "восьмерка",
	"девятка", "десятка",
};

/* Multi-word phrases; at most 3 words each, NULL-terminated. */
typedef const char *const Phrase[4];

/* Opt-out requests wherever they stand in a reply. */
static Phrase stop_phrases[] = {
	{"не", "пишите"}, {"не", "пиши"}, {"не", "присылайте"},
	{"не", "беспокойте"}, {"не", "надо", "писать"}, {"не", "нужно", "писать"},
	{"хватит", "писать"}, {"хватит", "присылать"}, {"хватит", "слать"},
	{"хватит", "спамить"}, {"прекратите", "писать"},
	{"прекратите", "присылать"}, {"прекратите", "рассылку"},
	{"не", "хочу", "участвовать"}, {"не", "хочу", "получать"},
	{"удалите", "мой", "номер"},
};

/* "I don't know": neither a yes nor a no. */
static Phrase unsure_phrases[] = {
	{"не", "знаю"}, {"незнаю"}, {"не", "помню"}, {"не", "уверен"},
	{"не", "уверена"}, {"не", "понял"}, {"не", "поняла"}, {"хз"},
	{"затрудняюсь"}, {"сложно", "сказать"}, {"трудно", "сказать"},
	{"не", "могу", "сказать"}, {"dont", "know"}, {"idk"}, {"not", "sure"},
};

/* Orders entries by length, then bytes: the order find_entry searches in. */
static int
entry_cmp(const void *a, const void *b)
{
	const Entry *x = *(const Entry *const *) a;
	const Entry *y = *(const Entry *const *) b;

	if (x->len != y->len)
		return x->len - y->len;
	return memcmp(x->word, y->word, x->len);
}

/* Binary search in the vocabulary, sorted once per backend. */
static const Entry *
find_entry(const char *w, int len)
{
	static const Entry *sorted[lengthof(vocabulary)];
	static bool ready = false;
	Entry		key = {w, len, W_NONE, 0};
	const Entry *keyp = &key;
	const Entry **found;

	if (!ready)
	{
		for (int i = 0; i < lengthof(vocabulary); i++)
			sorted[i] = &vocabulary[i];
		qsort(sorted, lengthof(vocabulary), sizeof(Entry *), entry_cmp);
		ready = true;
	}
	found = bsearch(&keyp, sorted, lengthof(vocabulary), sizeof(Entry *), entry_cmp);
	return found ? *found : NULL;
}

/* Writes w with runs of one repeated character folded to one; returns the length. */
int
nps_fold_repeats(const char *w, int len, char *out)
{
	int			n = 0;
	int			prev = 0,
				prev_len = 0;

	for (int i = 0; i < len;)
	{
		int			clen = Min(pg_utf_mblen((const unsigned char *) w + i), len - i);

		if (clen != prev_len || memcmp(w + prev, w + i, clen) != 0)
		{
			memcpy(out + n, w + i, clen);
			n += clen;
		}
		prev = i;
		prev_len = clen;
		i += clen;
	}
	return n;
}

/* True when a and b differ by at most one insertion, deletion, substitution or swap. */
static bool
within_one_edit(const pg_wchar *a, int na, const pg_wchar *b, int nb)
{
	int			i = 0;

	if (na > nb)
		return within_one_edit(b, nb, a, na);
	if (nb - na > 1)
		return false;
	while (i < na && a[i] == b[i])
		i++;
	if (i == na)
		return true;
	if (na < nb)
		return memcmp(a + i, b + i + 1, sizeof(pg_wchar) * (na - i)) == 0;
	if (memcmp(a + i + 1, b + i + 1, sizeof(pg_wchar) * (na - i - 1)) == 0)
		return true;
	return i + 1 < na && a[i] == b[i + 1] && a[i + 1] == b[i] &&
		memcmp(a + i + 2, b + i + 2, sizeof(pg_wchar) * (na - i - 2)) == 0;
}

/* The number a word means despite one typo, or -1. */
static int
typo_number(const char *w, int len)
{
	static pg_wchar bases[lengthof(typo_bases)][MAX_WORD_BYTES];
	static int	base_len[lengthof(typo_bases)];
	static bool decoded = false;
	pg_wchar	word[MAX_WORD_BYTES + 1];
	int			n = pg_encoding_mb2wchar_with_len(PG_UTF8, w, word, len);
	int			found = -1;

	if (!decoded)
	{
		for (int i = 0; i < lengthof(typo_bases); i++)
			base_len[i] = pg_encoding_mb2wchar_with_len(PG_UTF8, typo_bases[i], bases[i],
														strlen(typo_bases[i]));
		decoded = true;
	}
	if (n < 4)
		return -1;
	for (int i = 0; i < lengthof(typo_bases); i++)
	{
		int			value;

		if (bases[i][0] != word[0] || !within_one_edit(word, n, bases[i], base_len[i]))
			continue;
		value = find_entry(typo_bases[i], strlen(typo_bases[i]))->value;
		if (found >= 0 && found != value)
			return -1;			/* as close to two numbers: no guess */
		found = value;
	}
	return found;
}

/* The meaning of a word in canonical form; *value gets a number word's number. */
WordClass
nps_word_class(const char *w, int len, int64 *value)
{
	const Entry *e;
	char		folded[MAX_WORD_BYTES];
	int			flen;
	int			typo;

	if (len > MAX_WORD_BYTES)
		return W_NONE;
	e = find_entry(w, len);
	if (e == NULL)
	{
		flen = nps_fold_repeats(w, len, folded);
		if (flen != len)
			e = find_entry(folded, flen);
	}
	if (e != NULL)
	{
		*value = e->value;
		return e->cls;
	}
	typo = typo_number(w, len);
	if (typo < 0)
		return W_NONE;
	*value = typo;
	return W_NUMBER;
}

bool
nps_known_word(const char *w, int len)
{
	int64		value;

	return nps_word_class(w, len, &value) != W_NONE;
}

/* True when a word token is word, exactly or with repeated letters folded. */
bool
nps_token_is(const Token *t, const char *word)
{
	int			len = strlen(word);

	return t->kind == TOK_WORD &&
		((t->word_len == len && memcmp(t->text, word, len) == 0) ||
		 (t->folded_len == len && memcmp(t->folded, word, len) == 0));
}

/* Number of tokens from at on that make one of the phrases, or 0. */
static int
match_phrase(const ParsedText *pt, int at, Phrase *phrases, int nphrases)
{
	for (int p = 0; p < nphrases; p++)
	{
		int			k = 0;

		while (phrases[p][k] != NULL && at + k < pt->ntokens &&
			   nps_token_is(&pt->tokens[at + k], phrases[p][k]))
			k++;
		if (phrases[p][k] == NULL)
			return k;
	}
	return 0;
}

int
nps_match_stop_phrase(const ParsedText *pt, int at)
{
	return match_phrase(pt, at, stop_phrases, lengthof(stop_phrases));
}

int
nps_match_unsure_phrase(const ParsedText *pt, int at)
{
	return match_phrase(pt, at, unsure_phrases, lengthof(unsure_phrases));
}

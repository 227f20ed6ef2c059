/*
 * parse_reply.c: what an SMS reply says, as SQL functions.
 *
 *   nps.parse_reply(body, kind, min_score, max_score) -> nps.parsed_reply
 *   nps.parse_score(body, min_score, max_score)       -> smallint
 *   nps.parse_yes_no(body)                            -> boolean
 *   nps.is_stop(body)                                 -> boolean
 *   nps.normalize_reply(body)                         -> text
 *
 * They run for every reply (thousands a second), hence C.  A reply never
 * raises an error, whatever it holds: the verdict says what was wrong
 * (status and reason); only invalid arguments do.  The rules are written
 * for analysts in docs/parsing.md.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "parse.h"

PG_FUNCTION_INFO_V1(nps_parse_reply);
PG_FUNCTION_INFO_V1(nps_parse_score);
PG_FUNCTION_INFO_V1(nps_parse_yes_no);
PG_FUNCTION_INFO_V1(nps_is_stop);
PG_FUNCTION_INFO_V1(nps_normalize_reply);

typedef enum Status
{
	ST_OK,
	ST_STOP,
	ST_EMPTY,
	ST_UNPARSED,
	ST_AMBIGUOUS,
	ST_OUT_OF_RANGE
} Status;

static const char *const status_names[] = {
	"ok", "stop", "empty", "unparsed", "ambiguous", "out_of_range"
};

typedef enum Kind
{
	KIND_SCORE,
	KIND_YES_NO,
	KIND_TEXT
} Kind;

typedef struct Verdict
{
	Status		status;
	bool		has_score;
	int			score;
	char		reason[128];
} Verdict;

static void
set_verdict(Verdict *v, Status status, const char *fmt,...) pg_attribute_printf(3, 4);

static void
set_verdict(Verdict *v, Status status, const char *fmt,...)
{
	va_list		args;

	v->status = status;
	v->has_score = false;
	va_start(args, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, args);
	va_end(args);
}

static void
set_ok(Verdict *v, bool has_score, int score)
{
	v->status = ST_OK;
	v->has_score = has_score;
	v->score = score;
	v->reason[0] = '\0';
}

static bool
is_number(const Token *t)
{
	return t->kind == TOK_NUMBER || (t->kind == TOK_WORD && t->wclass == W_NUMBER);
}

static bool
is_word(const Token *t, WordClass cls)
{
	return t->kind == TOK_WORD && t->wclass == cls;
}

/* A number as the reason shows it; a huge one by its first digits. */
static void
format_number(char *buf, size_t size, const Token *t, int64 value)
{
	if (t->kind == TOK_NUMBER && t->value >= PARSE_NUMBER_CAP)
		snprintf(buf, size, "%s%.*s%s", value < 0 ? "-" : "", Min(t->len, 12), t->text,
				 t->len > 12 ? "..." : "");
	else if (t->kind == TOK_NUMBER && t->fraction)
		snprintf(buf, size, "%.*s", Min(t->len, 20), t->text);
	else
		snprintf(buf, size, INT64_FORMAT, value);
}

/* The numbers of a reply, as a score question reads them. */
typedef struct Numbers
{
	const Token *scale;			/* first number after "/", "из", "of" */
	const Token *fraction;		/* first "8.5" */
	const Token *range_from;	/* first "9-10" */
	const Token *range_to;
	const Token *tok[16];		/* the different values, in order */
	int64		value[16];
	int			n;
	bool		more;			/* more different values than value[] holds */
} Numbers;

/*
 * Collects the numbers of a reply; number words count only when words is
 * set.  A scale ("/10", "из 10", "из десяти") and a quantity ("2 часа") are
 * not numbers of the answer.
 */
static void
collect_numbers(const ParsedText *pt, bool words, Numbers *nums)
{
	const Token *tok = pt->tokens;

	memset(nums, 0, sizeof(Numbers));
	for (int i = 0; i < pt->ntokens; i++)
	{
		const Token *t = &tok[i];
		int64		value = t->value;
		int			last = i;
		bool		known = false;

		if (!is_number(t))
			continue;
		if (i > 0 && (tok[i - 1].kind == TOK_SLASH || is_word(&tok[i - 1], W_SCALE)))
		{
			if (nums->scale == NULL)
				nums->scale = t;
			continue;
		}
		if (t->kind == TOK_WORD && !words)
			continue;
		/* "-1" is negative; "9-10" and "оценка - 8" are not */
		if (i > 0 && tok[i - 1].kind == TOK_DASH && !t->spaced &&
			(i < 2 || tok[i - 1].spaced || !is_number(&tok[i - 2])))
			value = -value;
		/* "9-10", "9 - 10", but not "9 -10" (a 9 and a -10) */
		if (i + 2 < pt->ntokens && tok[i + 1].kind == TOK_DASH && is_number(&tok[i + 2]) &&
			!(tok[i + 1].spaced && !tok[i + 2].spaced))
			last = i + 2;
		if (last + 1 < pt->ntokens && is_word(&tok[last + 1], W_UNIT))
		{
			i = last;
			continue;
		}
		if (t->fraction || tok[last].fraction)
		{
			if (nums->fraction == NULL)
				nums->fraction = t->fraction ? t : &tok[last];
			i = last;
			continue;
		}
		if (last != i && tok[last].value != value)
		{
			if (nums->range_from == NULL)
				nums->range_from = t, nums->range_to = &tok[last];
			i = last;
			continue;
		}
		i = last;
		for (int k = 0; k < nums->n; k++)
			known |= nums->value[k] == value;
		if (!known && nums->n < lengthof(nums->value))
		{
			nums->tok[nums->n] = t;
			nums->value[nums->n++] = value;
		}
		else if (!known)
			nums->more = true;
	}
}

/*
 * Score questions.  One value (repeated or not) is the score; more than one
 * different value, a range ("9-10") or a fraction ("8.5") is ambiguous.
 * Digits win over number words: in "10, консультант был один на весь салон"
 * the words are a comment; a reply without digits is read for number words.
 */
static void
decide_score(const ParsedText *pt, int min_score, int max_score, Verdict *v)
{
	Numbers		nums;
	char		a[32],
				b[32],
				c[32];

	collect_numbers(pt, false, &nums);
	if (nums.n == 0 && nums.fraction == NULL && nums.range_from == NULL)
		collect_numbers(pt, true, &nums);

	if (nums.fraction != NULL)
	{
		format_number(a, sizeof(a), nums.fraction, nums.fraction->value);
		set_verdict(v, ST_AMBIGUOUS, "fractional number %s", a);
	}
	else if (nums.range_from != NULL)
	{
		format_number(a, sizeof(a), nums.range_from, nums.range_from->value);
		format_number(b, sizeof(b), nums.range_to, nums.range_to->value);
		set_verdict(v, ST_AMBIGUOUS, "a range %s-%s, not one number", a, b);
	}
	else if (nums.n == 0)
		set_verdict(v, ST_UNPARSED, "no number found");
	else if (nums.n > 1)
	{
		format_number(a, sizeof(a), nums.tok[0], nums.value[0]);
		format_number(b, sizeof(b), nums.tok[1], nums.value[1]);
		if (nums.n == 2)
			set_verdict(v, ST_AMBIGUOUS, "two different numbers: %s and %s", a, b);
		else
		{
			format_number(c, sizeof(c), nums.tok[2], nums.value[2]);
			set_verdict(v, ST_AMBIGUOUS, "%d%s different numbers: %s, %s, %s%s",
						nums.n, nums.more ? " or more" : "", a, b, c,
						nums.n > 3 ? ", ..." : "");
		}
	}
	else if (nums.scale != NULL && nums.scale->value != max_score)
	{
		format_number(a, sizeof(a), nums.tok[0], nums.value[0]);
		format_number(b, sizeof(b), nums.scale, nums.scale->value);
		set_verdict(v, ST_AMBIGUOUS, "score %s is given out of %s, the scale is %d..%d",
					a, b, min_score, max_score);
	}
	else if (nums.value[0] < min_score || nums.value[0] > max_score)
	{
		format_number(a, sizeof(a), nums.tok[0], nums.value[0]);
		set_verdict(v, ST_OUT_OF_RANGE, "score %s is outside %d..%d", a, min_score, max_score);
	}
	else
		set_ok(v, true, (int) nums.value[0]);
}

typedef struct Polarity
{
	int			yes,
				yes_weak,
				no,
				no_weak;
} Polarity;

static void
count_answer(Polarity *p, WordClass cls)
{
	p->yes += cls == W_YES;
	p->yes_weak += cls == W_YES_WEAK;
	p->no += cls == W_NO;
	p->no_weak += cls == W_NO_WEAK || cls == W_NOT;
}

static bool
is_answer(WordClass cls)
{
	return cls == W_YES || cls == W_YES_WEAK || cls == W_NO || cls == W_NO_WEAK;
}

/*
 * Yes/no questions.  Only the part before "но"/"but" answers ("да, но ..."
 * is a yes).  If that part starts with answer words ("да", "конечно нет",
 * "не объяснили"), they decide and the rest is a comment ("да, претензий
 * нет" is a yes); otherwise every answer word in it counts.  Plain words
 * ("да", "нет") outweigh weak ones ("конечно", "ок"), so "конечно нет" is a
 * no; a plain yes with a plain no ("да нет") is ambiguous.
 */
static void
decide_yes_no(const ParsedText *pt, Verdict *v)
{
	const Token *tok = pt->tokens;
	int			end = pt->ntokens;
	int			first = -1;
	int			plus = 0,
				minus = 0;
	bool		unsure = false;
	bool	   *in_unsure = palloc0(sizeof(bool) * (pt->ntokens + 1));
	Polarity	p = {0};
	bool		says_yes,
				says_no;

	for (int i = 0; i < pt->ntokens; i++)
	{
		plus += tok[i].kind == TOK_PLUS;
		minus += tok[i].kind == TOK_DASH;
		if (first < 0 && (tok[i].kind == TOK_WORD || tok[i].kind == TOK_NUMBER))
			first = i;
		/* "но ..." at the very start ("однако да") cuts nothing */
		if (end == pt->ntokens && first >= 0 && first < i && is_word(&tok[i], W_BUT))
			end = i;
	}
	/* a reply of signs only: "+" (or a thumbs-up) is a yes, "-" a no */
	if (first < 0)
	{
		if (plus > 0 && minus > 0)
			set_verdict(v, ST_AMBIGUOUS, "both yes and no");
		else if (plus + minus > 0)
			set_ok(v, true, plus > 0 ? 1 : 0);
		else
			set_verdict(v, ST_UNPARSED, "neither yes nor no");
		pfree(in_unsure);
		return;
	}

	for (int i = 0; i < end; i++)
	{
		int			n = nps_match_unsure_phrase(pt, i);

		unsure |= n > 0;
		for (int k = 0; k < n; k++)
			in_unsure[i + k] = true;
	}

	if (first < end && !in_unsure[first] &&
		(is_answer(tok[first].wclass) || is_word(&tok[first], W_NOT)))
	{
		/* the leading answer words, signs between them ("да/нет") included */
		for (int i = first; i < end && !in_unsure[i]; i++)
		{
			if (tok[i].kind == TOK_NUMBER ||
				(i > first && tok[i].kind == TOK_WORD && !is_answer(tok[i].wclass)))
				break;
			count_answer(&p, tok[i].wclass);
		}
	}
	else
		for (int i = 0; i < end; i++)
			if (!in_unsure[i] && is_answer(tok[i].wclass))
				count_answer(&p, tok[i].wclass);
	pfree(in_unsure);

	says_yes = p.yes > 0 || (p.no == 0 && p.yes_weak > 0);
	says_no = p.no > 0 || (p.yes == 0 && p.no_weak > 0);
	if (unsure && (says_yes || says_no))
		set_verdict(v, ST_AMBIGUOUS, "does not know, yet says %s",
					says_yes && says_no ? "yes and no" : says_yes ? "yes" : "no");
	else if (unsure)
		set_verdict(v, ST_UNPARSED, "does not know");
	else if (says_yes && says_no)
		set_verdict(v, ST_AMBIGUOUS, "both yes and no");
	else if (says_yes || says_no)
		set_ok(v, true, says_yes ? 1 : 0);
	else
		set_verdict(v, ST_UNPARSED, "neither yes nor no");
}

/*
 * An opt-out: the first or the last word is a stop word ("СТОП", "stop",
 * "отписка": "Стоп!", "10. СТОП"), or an unmistakable request stands
 * anywhere ("отписаться", "не пишите").  A comment that only mentions "стоп"
 * in the middle of a sentence is not one.  The words of a request are
 * marked W_OPT_OUT so that they do not count as an answer (the "не" of
 * "не пишите" is no "no").
 */
static bool
says_stop(ParsedText *pt)
{
	bool		stop = false;
	int			first = -1,
				last = -1;

	for (int i = 0; i < pt->ntokens; i++)
		if (pt->tokens[i].kind == TOK_WORD)
			last = i, first = first < 0 ? i : first;
	for (int i = 0; i < pt->ntokens; i++)
	{
		Token	   *t = &pt->tokens[i];
		int			n = nps_match_stop_phrase(pt, i);

		stop |= is_word(t, W_OPT_OUT) || n > 0 ||
			((i == first || i == last) && is_word(t, W_STOP));
		for (int k = 0; k < n; k++)
			pt->tokens[i + k].wclass = W_OPT_OUT;
	}
	return stop;
}

/*
 * Reads the reply (argument 0) into its canonical form, and its tokens when
 * asked; only its first PARSE_MAX_BYTES are detoasted.
 */
static void
read_reply(FunctionCallInfo fcinfo, ParsedText *pt, bool tokens)
{
	text	   *body;

	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("nps reply parsing requires a UTF8 database"),
				 errdetail("The database encoding is %s.", GetDatabaseEncodingName()),
				 errhint("Create the nps database with ENCODING 'UTF8'.")));
	body = DatumGetTextPSlice(PG_GETARG_DATUM(0), 0, PARSE_MAX_BYTES);
	nps_normalize(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), pt);
	if (tokens)
		nps_tokenize(pt);
}

static void
check_range(int min_score, int max_score)
{
	if (min_score < PG_INT16_MIN || max_score > PG_INT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("score range %d..%d does not fit in smallint", min_score, max_score),
				 errhint("Scores lie between %d and %d.", PG_INT16_MIN, PG_INT16_MAX)));
	if (min_score > max_score)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid score range %d..%d", min_score, max_score),
				 errdetail("min_score is greater than max_score."),
				 errhint("Pass the lowest score first, as in 0 and 10.")));
}

static Kind
parse_kind(text *kind_text)
{
	char	   *kind = text_to_cstring(kind_text);

	if (strcmp(kind, "score") == 0)
		return KIND_SCORE;
	if (strcmp(kind, "yes_no") == 0)
		return KIND_YES_NO;
	if (strcmp(kind, "text") == 0)
		return KIND_TEXT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown question kind \"%s\"", kind),
			 errhint("The kind is one of score, yes_no or text.")));
	pg_unreachable();
}

/*
 * The verdict on a reply.  An opt-out wins over everything, but keeps the
 * answer given with it ("10, но больше не пишите": stop with score 10), so
 * that the dialogue can store it before it stops.
 */
static void
decide(FunctionCallInfo fcinfo, Kind kind, int min_score, int max_score, Verdict *v)
{
	ParsedText	pt;
	bool		stop;

	read_reply(fcinfo, &pt, true);
	stop = says_stop(&pt);
	if (pt.norm_len == 0)
		set_verdict(v, ST_EMPTY, pt.blank ? "blank reply" : "no letters or digits");
	else if (kind == KIND_SCORE)
		decide_score(&pt, min_score, max_score, v);
	else if (kind == KIND_YES_NO)
		decide_yes_no(&pt, v);
	else
		set_ok(v, false, 0);
	if (stop)
	{
		bool		keep = v->status == ST_OK && v->has_score;

		set_verdict(v, ST_STOP, "opt-out request");
		v->has_score = keep;
	}
}

static TupleDesc
verdict_tupdesc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc = fcinfo->flinfo->fn_extra;

	if (desc == NULL)
	{
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("nps.parse_reply must return a composite type")));
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = desc;
	}
	return desc;
}

/*
 * Not STRICT: nps.question keeps min_score and max_score NULL for yes_no and
 * text questions, so the reply trigger can pass a question's columns as they
 * are.  A NULL reply or kind still gives NULL.
 */
Datum
nps_parse_reply(PG_FUNCTION_ARGS)
{
	Kind		kind;
	int			min_score = 0;
	int			max_score = 0;
	Verdict		v;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	kind = parse_kind(PG_GETARG_TEXT_PP(1));
	if (kind == KIND_SCORE && (PG_ARGISNULL(2) || PG_ARGISNULL(3)))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a score question needs min_score and max_score"),
				 errhint("Pass the scale of the question, as in nps.parse_reply(body, 'score', 0, 10).")));
	if (kind == KIND_SCORE)
	{
		min_score = PG_GETARG_INT32(2);
		max_score = PG_GETARG_INT32(3);
		check_range(min_score, max_score);
	}
	decide(fcinfo, kind, min_score, max_score, &v);
	values[0] = CStringGetTextDatum(status_names[v.status]);
	values[1] = Int16GetDatum((int16) v.score);
	nulls[1] = !v.has_score;
	values[2] = CStringGetTextDatum(v.reason);
	nulls[2] = v.status == ST_OK;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(verdict_tupdesc(fcinfo), values, nulls)));
}

Datum
nps_parse_score(PG_FUNCTION_ARGS)
{
	int			min_score = PG_GETARG_INT32(1);
	int			max_score = PG_GETARG_INT32(2);
	Verdict		v;

	check_range(min_score, max_score);
	decide(fcinfo, KIND_SCORE, min_score, max_score, &v);
	if (!v.has_score)
		PG_RETURN_NULL();
	PG_RETURN_INT16((int16) v.score);
}

Datum
nps_parse_yes_no(PG_FUNCTION_ARGS)
{
	Verdict		v;

	decide(fcinfo, KIND_YES_NO, 0, 1, &v);
	if (!v.has_score)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(v.score == 1);
}

Datum
nps_is_stop(PG_FUNCTION_ARGS)
{
	ParsedText	pt;

	read_reply(fcinfo, &pt, true);
	PG_RETURN_BOOL(says_stop(&pt));
}

Datum
nps_normalize_reply(PG_FUNCTION_ARGS)
{
	ParsedText	pt;

	read_reply(fcinfo, &pt, false);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(pt.norm, pt.norm_len));
}

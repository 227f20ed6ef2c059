/*
 * alert_filter.c: the alert triggers on nps.answer, and the comment
 * normalisation they share with the lexicon.
 *
 * Most answers cannot raise an alert (a promoter's score, "no" to paid
 * services, a calm comment), yet every statement that inserts answers fires
 * the alert triggers.  Deciding that in SQL costs more than storing the
 * answers: a plan for the transition table, a SECURITY DEFINER call, a
 * pre-check query.  So the trigger is in C: it reads the transition table
 * once, tests each answer against the active rules of nps.alert_rule and,
 * for free text, the comment's to_tsvector('russian') against all active
 * lexicon terms at once (nps.alert_lexicon_any), both kept in a per-backend
 * cache.  Only the answers that pass go to nps.raise_alerts(), which decides
 * exactly (survey-specific rules, scoring, severities) as before; a statement
 * with none does no SQL at all.
 *
 * The cache is dropped on a relcache invalidation of nps.alert_rule (its
 * statement trigger nps.alert_rule_changed sends one) or of
 * nps.alert_lexicon_any (refreshed, hence invalidated, by every change to
 * nps.alert_lexicon), in this backend at once and in the others at commit.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "tsearch/ts_type.h"
#include "tsearch/ts_utils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(nps_alert_normalize);
PG_FUNCTION_INFO_V1(nps_answer_alerts);
PG_FUNCTION_INFO_V1(nps_alert_rule_changed);

/* One active rule of nps.alert_rule, as far as the pre-filter needs it. */
typedef struct AlertRule
{
	int16		question_no;
	bool		scan_text;
	int16		min_score;
	int16		max_score;
} AlertRule;

typedef struct AlertCache
{
	bool		valid;
	MemoryContext cxt;
	Oid			rule_relid;
	Oid			lexicon_any_relid;
	int			nrules;
	AlertRule  *rules;
	TSQuery		any_term;		/* NULL: no active term */
	bool		prefilter;		/* alert_prefilter_pass may say "no" */
	Oid			russian;		/* text search configuration */
	Oid			answer_array_type;
	SPIPlanPtr	raise_plan;		/* SELECT nps.raise_alerts($1) */
} AlertCache;

static AlertCache cache;
static bool callback_registered = false;

/*
 * Lower case, ё as е, every negation glued to the word it negates.  "не
 * обманули" becomes "необманули", which no longer stems to "обманул"; a run
 * of negators ("никто не хамил") glues as one; a negation after the noun
 * ("обмана не было", "хамства нет") is moved in front of it.  Lower case is
 * spelled out for Cyrillic so that a database in the C locale behaves like
 * any other.  The negator run takes the space before it (hence the leading
 * space) rather than testing for a word start with a lookbehind or a
 * capture: those make PostgreSQL's regex engine some twenty times slower.
 */
static const char *const normalize_upper = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё";
static const char *const normalize_lower = "абвгдеежзийклмнопрстуфхцчшщъыьэюяе";
static const char *const postposed_negation =
	"([а-яa-z0-9]+)\\s+(не\\s+было|не\\s+заметил[а-я]*|не\\s+замечено|нет)(?![а-яa-z0-9])";
static const char *const negator_run =
	"\\s(?:(?:не|ни|нет|без|ник(?:то|ого|ому|ем|ак|огда|акого|акой|аких|акие|акое|акую)|нич(?:его|ем)|нисколько)\\s+)+";

/*
 * The constants above are UTF-8 (this file's encoding); a database in another
 * encoding gets them converted once, as the SQL of 0.2.0 had its literals
 * converted when the script was loaded.
 */
typedef struct NormalizeText
{
	text	   *upper;
	text	   *lower;
	text	   *postposed;
	text	   *postposed_to;	/* не\1 */
	text	   *run;
	text	   *run_to;			/* " не" */
	text	   *g;
} NormalizeText;

static NormalizeText *normalize_text = NULL;

static text *
server_text(const char *utf8)
{
	return cstring_to_text(pg_any_to_server(utf8, strlen(utf8), PG_UTF8));
}

static NormalizeText *
normalize_constants(void)
{
	if (normalize_text == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		NormalizeText *n = palloc(sizeof(NormalizeText));

		n->upper = server_text(normalize_upper);
		n->lower = server_text(normalize_lower);
		n->postposed = server_text(postposed_negation);
		n->postposed_to = server_text("не\\1");
		n->run = server_text(negator_run);
		n->run_to = server_text(" не");
		n->g = server_text("g");
		MemoryContextSwitchTo(old);
		normalize_text = n;
	}
	return normalize_text;
}

/*
 * translate(lower(body), normalize_upper, normalize_lower) with the leading
 * space, in one pass for UTF-8 (translate() on multibyte text costs more than
 * the rest of the normalisation together).  Upper-case А-Я, Ё and ё share
 * their byte length with their replacements, so the text is changed in place.
 */
static text *
alert_lower(text *body, Oid collation)
{
	text	   *lowered = DatumGetTextPP(DirectFunctionCall1Coll(lower, collation, PointerGetDatum(body)));
	int			len = VARSIZE_ANY_EXHDR(lowered);
	text	   *out = (text *) palloc(VARHDRSZ + len + 1);
	unsigned char *p;

	SET_VARSIZE(out, VARHDRSZ + len + 1);
	VARDATA(out)[0] = ' ';
	memcpy(VARDATA(out) + 1, VARDATA_ANY(lowered), len);
	if (GetDatabaseEncoding() != PG_UTF8)
		return DatumGetTextPP(DirectFunctionCall3(translate, PointerGetDatum(out),
												  PointerGetDatum(normalize_constants()->upper),
												  PointerGetDatum(normalize_constants()->lower)));
	p = (unsigned char *) VARDATA(out) + 1;
	for (int i = 0; i + 1 < len; i++)
	{
		if (p[i] == 0xD0 && p[i + 1] == 0x81)	/* Ё */
			p[i + 1] = 0xB5;
		else if (p[i] == 0xD0 && p[i + 1] >= 0x90 && p[i + 1] <= 0x9F)	/* А-П */
			p[i + 1] += 0x20;
		else if (p[i] == 0xD0 && p[i + 1] >= 0xA0 && p[i + 1] <= 0xAF)	/* Р-Я */
			p[i] = 0xD1, p[i + 1] -= 0x20;
		else if (p[i] == 0xD1 && p[i + 1] == 0x91)	/* ё */
			p[i] = 0xD0, p[i + 1] = 0xB5;
		else
			continue;
		i++;
	}
	return out;
}

/*
 * Is c (UTF-8, at p) one of the characters the patterns count as part of a
 * word, [а-яa-z0-9]?  The text is lower case already.
 */
static inline int
word_char_len(const unsigned char *p, const unsigned char *end)
{
	if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
		return 1;
	if (p + 1 < end && ((p[0] == 0xD0 && p[1] >= 0xB0 && p[1] <= 0xBF) ||	/* а-п */
						(p[0] == 0xD1 && p[1] >= 0x80 && p[1] <= 0x8F)))	/* р-я */
		return 2;
	return 0;
}

/*
 * Which of the two patterns can change the text?  Each matches only where
 * the text holds a negator as a word of its own: the run pattern a negator
 * with whitespace after it; the postposed one "нет", or "не" followed by
 * "было" or "замет…"/"замеч…".  A word here is a maximal run of [а-яa-z0-9]
 * (whitespace is never in it), so every negator the patterns can see is a
 * word found below, and a word followed by anything is followed by a
 * character outside [а-яa-z0-9], a superset of whitespace.  The postposed
 * rewriting glues "не" to the word before it and so never makes a negator
 * word the run pattern could see that was not there before.  Most comments
 * hold none, and the regular expressions are most of what the normalisation
 * costs.  In another encoding than UTF-8 both patterns always run.
 */
static const char *const negator_words[] = {
	"не", "ни", "нет", "без", "никто", "никого", "никому", "никем", "никак", "никогда",
	"никакого", "никакой", "никаких", "никакие", "никакое", "никакую", "ничего", "ничем", "нисколько"
};

static void
negation_patterns_needed(text *t, bool *run, bool *postposed)
{
	const unsigned char *text = (const unsigned char *) VARDATA_ANY(t);
	const unsigned char *end = text + VARSIZE_ANY_EXHDR(t);
	const unsigned char *p = text;
	bool		ne = false;

	*run = *postposed = GetDatabaseEncoding() != PG_UTF8;
	if (*run)
		return;
	while (p < end)
	{
		const unsigned char *start = p;
		int			n;

		while (p < end && (n = word_char_len(p, end)) > 0)
			p += n;
		if (p == start)
		{
			p++;
			continue;
		}
		if (p - start < 4)		/* a negator has two letters at least */
			continue;
		for (int i = 0; i < lengthof(negator_words); i++)
			if (strlen(negator_words[i]) == (size_t) (p - start) &&
				memcmp(start, negator_words[i], p - start) == 0)
			{
				if (p < end)
					*run = true;
				if (strcmp(negator_words[i], "не") == 0)
					ne = true;
				else if (strcmp(negator_words[i], "нет") == 0)
					*postposed = true;
				break;
			}
	}
	if (ne && !*postposed)
		*postposed = memmem(text, end - text, "было", strlen("было")) != NULL ||
			memmem(text, end - text, "заме", strlen("заме")) != NULL;
}

static text *
alert_normalize(text *body, Oid collation)
{
	NormalizeText *n = normalize_constants();
	Datum		s = PointerGetDatum(alert_lower(body, collation));
	bool		run, postposed;

	negation_patterns_needed(DatumGetTextPP(s), &run, &postposed);
	if (postposed)
		s = DirectFunctionCall4Coll(textregexreplace, collation, s, PointerGetDatum(n->postposed),
									PointerGetDatum(n->postposed_to), PointerGetDatum(n->g));
	if (run)
		s = DirectFunctionCall4Coll(textregexreplace, collation, s, PointerGetDatum(n->run),
									PointerGetDatum(n->run_to), PointerGetDatum(n->g));
	return DatumGetTextPP(DirectFunctionCall1(btrim1, s));
}

/* nps.alert_normalize(text): the SQL face of alert_normalize(). */
Datum
nps_alert_normalize(PG_FUNCTION_ARGS)
{
	Oid			collation = PG_GET_COLLATION();

	PG_RETURN_TEXT_P(alert_normalize(PG_GETARG_TEXT_PP(0),
									 OidIsValid(collation) ? collation : DEFAULT_COLLATION_OID));
}

static void
alert_cache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cache.rule_relid || relid == cache.lexicon_any_relid)
		cache.valid = false;
}

/*
 * The all-terms query evaluated on the normalised text alone, before the
 * stemmer: an operand that cannot be the start of a word of the text is
 * certainly false, any other is "maybe", and AND, OR, NOT and phrases combine
 * these (as TS_execute_ternary would); a certain "no" means the comment cannot
 * match.
 * Why: the Russian Snowball stemmer only removes endings, so a lexeme of
 * to_tsvector('russian') is a prefix of a token of its input, and an operand
 * matches a lexeme only when equal to it or (":*") a prefix of it, hence only
 * where it occurs in the text at the start of a token.  The parser never
 * starts a token right after a letter а-я (a run of letters is one word,
 * "abcобман" included; digits, punctuation and "-" do end one: "1.5обман"
 * has the word "обман"), so an occurrence after а-я does not count:
 * "необманули" holds no "обман" the query can see.  A query is judged whole,
 * so a calm comment holding one side of an AND term ("долго" of "очередь &
 * долго") skips the stemmer too.  An operand with an ASCII letter turns the
 * pre-filter off: the English stemmer, which the configuration uses for
 * Latin words, rewrites endings ("happy" -> "happi").
 */
static void
alert_prefilter_prepare(TSQuery query)
{
	QueryItem  *item = GETQUERY(query);
	char	   *operands = GETOPERAND(query);

	cache.prefilter = true;
	for (int i = 0; i < query->size; i++)
	{
		char	   *op = operands + item[i].qoperand.distance;

		if (item[i].type != QI_VAL)
			continue;
		for (int k = 0; k < item[i].qoperand.length; k++)
			if ((op[k] >= 'a' && op[k] <= 'z') || (op[k] >= 'A' && op[k] <= 'Z'))
				cache.prefilter = false;
	}
}

/* The index 0-31 of the letter а-я at p (UTF-8), or -1. */
static inline int
cyrillic_letter(const unsigned char *p, const unsigned char *end)
{
	if (p + 1 < end && p[0] == 0xD0 && p[1] >= 0xB0 && p[1] <= 0xBF)
		return p[1] - 0xB0;
	if (p + 1 < end && p[0] == 0xD1 && p[1] >= 0x80 && p[1] <= 0x8F)
		return 16 + p[1] - 0x80;
	return -1;
}

#define PREFILTER_MAX_WORDS 64

typedef struct PrefilterText
{
	const unsigned char *text;
	size_t		len;
	const char *operands;		/* of cache.any_term */
	bool		utf8;
	uint32		word_initials;	/* bit i: a word starts with letter i of а-я */
	int			nwords;			/* words starting with а-я; -1: too many to list */
	int			word_start[PREFILTER_MAX_WORDS];	/* their offsets */
} PrefilterText;

/* "No" when the operand occurs nowhere at the start of a word, else "maybe". */
static TSTernaryValue
operand_in_text(PrefilterText *t, QueryOperand *val)
{
	const unsigned char *op = (const unsigned char *) t->operands + val->distance;
	const unsigned char *end = t->text + t->len;
	const unsigned char *hit = t->text;
	int			initial;

	if (!t->utf8)
		return memmem(t->text, t->len, op, val->length) != NULL ? TS_MAYBE : TS_NO;
	initial = cyrillic_letter(op, op + val->length);
	if (initial >= 0 && (t->word_initials & (1u << initial)) == 0)
		return TS_NO;
	if (initial >= 0 && t->nwords >= 0)
	{
		for (int i = 0; i < t->nwords; i++)
			if (t->word_start[i] + val->length <= t->len &&
				memcmp(t->text + t->word_start[i], op, val->length) == 0)
				return TS_MAYBE;
		return TS_NO;
	}
	while ((hit = memmem(hit, end - hit, op, val->length)) != NULL)
	{
		if (hit - t->text < 2 || cyrillic_letter(hit - 2, hit) < 0)
			return TS_MAYBE;
		hit++;
	}
	return TS_NO;
}

/*
 * The query on those answers, in the three-valued logic of
 * TS_execute_ternary: NOT turns a certain "no" into a certain "yes"; a
 * phrase needs both sides as AND does, and positions, which are not known
 * here, so it is never more than "maybe".
 */
static TSTernaryValue
prefilter_eval(QueryItem *item, PrefilterText *t)
{
	TSTernaryValue l, r;

	check_stack_depth();
	if (item->type == QI_VAL)
		return operand_in_text(t, &item->qoperand);
	switch (item->qoperator.oper)
	{
		case OP_NOT:
			l = prefilter_eval(item + 1, t);
			return l == TS_NO ? TS_YES : l == TS_YES ? TS_NO : TS_MAYBE;
		case OP_AND:
		case OP_PHRASE:
			if ((l = prefilter_eval(item + item->qoperator.left, t)) == TS_NO ||
				(r = prefilter_eval(item + 1, t)) == TS_NO)
				return TS_NO;
			return l == TS_YES && r == TS_YES && item->qoperator.oper == OP_AND ? TS_YES : TS_MAYBE;
		case OP_OR:
			if ((l = prefilter_eval(item + item->qoperator.left, t)) == TS_YES ||
				(r = prefilter_eval(item + 1, t)) == TS_YES)
				return TS_YES;
			return l == TS_NO && r == TS_NO ? TS_NO : TS_MAYBE;
	}
	elog(ERROR, "unrecognized tsquery operator: %d", item->qoperator.oper);
	return TS_MAYBE;
}

/* False: the comment cannot match the all-terms query. */
static bool
alert_prefilter_pass(text *normalized)
{
	PrefilterText t;

	if (!cache.prefilter)
		return true;
	if (cache.any_term->size == 0)
		return false;
	t.text = (const unsigned char *) VARDATA_ANY(normalized);
	t.len = VARSIZE_ANY_EXHDR(normalized);
	t.operands = GETOPERAND(cache.any_term);
	t.utf8 = GetDatabaseEncoding() == PG_UTF8;
	t.word_initials = 0;
	t.nwords = 0;
	if (t.utf8)
	{
		bool		in_word = false;

		for (const unsigned char *p = t.text; p < t.text + t.len;)
		{
			int			letter = cyrillic_letter(p, t.text + t.len);

			if (letter >= 0 && !in_word)
			{
				t.word_initials |= 1u << letter;
				if (t.nwords >= 0 && t.nwords < PREFILTER_MAX_WORDS)
					t.word_start[t.nwords++] = p - t.text;
				else
					t.nwords = -1;
			}
			in_word = letter >= 0;
			p += letter >= 0 ? 2 : 1;
		}
	}
	return prefilter_eval(GETQUERY(cache.any_term), &t) != TS_NO;
}

/*
 * Loads the rules and the all-terms query as the owner of the trigger
 * function: the writer of answers need not be able to read them (as
 * nps.raise_alerts is SECURITY DEFINER, so that an answer is never refused
 * because of alerts).
 */
static void
alert_cache_load(Oid trigger_fn, Oid answer_type)
{
	Oid			save_userid;
	int			save_sec_context;
	HeapTuple	proc;
	Oid			owner;
	MemoryContext old;
	Oid			argtype;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(alert_cache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (cache.cxt == NULL)
		cache.cxt = AllocSetContextCreate(CacheMemoryContext, "nps alert cache", ALLOCSET_SMALL_SIZES);
	if (cache.raise_plan != NULL)
		SPI_freeplan(cache.raise_plan);
	cache.raise_plan = NULL;
	cache.any_term = NULL;
	MemoryContextReset(cache.cxt);

	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(trigger_fn));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", trigger_fn);
	owner = ((Form_pg_proc) GETSTRUCT(proc))->proowner;
	ReleaseSysCache(proc);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);

	cache.rule_relid = RangeVarGetRelid(makeRangeVar("nps", "alert_rule", -1), NoLock, false);
	cache.lexicon_any_relid = RangeVarGetRelid(makeRangeVar("nps", "alert_lexicon_any", -1), NoLock, false);
	cache.russian = get_ts_config_oid(stringToQualifiedNameList("pg_catalog.russian"), false);
	cache.answer_array_type = get_array_type(answer_type);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT question_no, scan_text, coalesce(min_score, 0), coalesce(max_score, -1) "
					"FROM nps.alert_rule WHERE active", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot read nps.alert_rule");
	cache.nrules = (int) SPI_processed;
	cache.rules = MemoryContextAllocZero(cache.cxt, sizeof(AlertRule) * Max(cache.nrules, 1));
	for (int i = 0; i < cache.nrules; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		cache.rules[i].question_no = DatumGetInt16(SPI_getbinval(t, d, 1, &isnull));
		cache.rules[i].scan_text = DatumGetBool(SPI_getbinval(t, d, 2, &isnull));
		cache.rules[i].min_score = DatumGetInt16(SPI_getbinval(t, d, 3, &isnull));
		cache.rules[i].max_score = DatumGetInt16(SPI_getbinval(t, d, 4, &isnull));
	}
	if (SPI_execute("SELECT query FROM nps.alert_lexicon_any", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "cannot read nps.alert_lexicon_any");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		q = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			old = MemoryContextSwitchTo(cache.cxt);
			cache.any_term = DatumGetTSQueryCopy(q);
			alert_prefilter_prepare(cache.any_term);
			MemoryContextSwitchTo(old);
		}
	}
	argtype = cache.answer_array_type;
	cache.raise_plan = SPI_prepare("SELECT nps.raise_alerts($1)", 1, &argtype);
	if (cache.raise_plan == NULL || SPI_keepplan(cache.raise_plan) != 0)
		elog(ERROR, "cannot prepare the call of nps.raise_alerts: %s", SPI_result_code_string(SPI_result));
	SPI_finish();

	SetUserIdAndSecContext(save_userid, save_sec_context);
	cache.valid = true;
}

/* Can this answer raise an alert?  False is certain; true is a maybe. */
static bool
answer_may_alert(int16 question_no, bool score_null, int16 score, text *body)
{
	bool		scan = false;
	text	   *normalized;

	for (int i = 0; i < cache.nrules; i++)
	{
		AlertRule  *r = &cache.rules[i];

		if (r->question_no != question_no)
			continue;
		if (r->scan_text)
			scan = true;
		else if (!score_null && score >= r->min_score && score <= r->max_score)
			return true;
	}
	if (!scan || body == NULL || cache.any_term == NULL)
		return false;
	normalized = alert_normalize(body, DEFAULT_COLLATION_OID);
	if (!alert_prefilter_pass(normalized))
		return false;
	return DatumGetBool(DirectFunctionCall2(ts_match_vq,
											DirectFunctionCall2(to_tsvector_byid,
																ObjectIdGetDatum(cache.russian),
																PointerGetDatum(normalized)),
											PointerGetDatum(cache.any_term)));
}

static int
attnum_of(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return i + 1;
	}
	elog(ERROR, "nps.answer has no column \"%s\"", name);
	return 0;
}

/*
 * Statement trigger on nps.answer (INSERT and UPDATE, transition table
 * new_answers): hands the answers that may alarm to nps.raise_alerts().
 */
Datum
nps_answer_alerts(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Tuplestorestate *ts;
	TupleDesc	desc;
	TupleTableSlot *slot;
	int			att_question, att_score, att_body;
	int			readptr;
	MemoryContext rowcxt, old;
	Datum	   *hits = NULL;
	int			nhits = 0, maxhits = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event)
		|| trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nps.answer_alerts() must be a statement trigger with a NEW TABLE")));
	if (!cache.valid)
		alert_cache_load(fcinfo->flinfo->fn_oid, RelationGetDescr(trigdata->tg_relation)->tdtypeid);

	ts = trigdata->tg_newtable;
	desc = RelationGetDescr(trigdata->tg_relation);
	att_question = attnum_of(desc, "question_no");
	att_score = attnum_of(desc, "score");
	att_body = attnum_of(desc, "body");
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	/* A read pointer of our own: other triggers read the same tuplestore. */
	readptr = tuplestore_alloc_read_pointer(ts, 0);
	tuplestore_select_read_pointer(ts, readptr);
	tuplestore_rescan(ts);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "nps alert rows", ALLOCSET_DEFAULT_SIZES);

	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool		qnull, snull, bnull;
		Datum		q = slot_getattr(slot, att_question, &qnull);
		Datum		s = slot_getattr(slot, att_score, &snull);
		Datum		b = slot_getattr(slot, att_body, &bnull);
		bool		maybe;

		old = MemoryContextSwitchTo(rowcxt);
		maybe = !qnull && answer_may_alert(DatumGetInt16(q), snull, snull ? 0 : DatumGetInt16(s),
										   bnull ? NULL : DatumGetTextPP(b));
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
		if (!maybe)
			continue;
		if (nhits == maxhits)
		{
			maxhits = Max(16, maxhits * 2);
			hits = hits ? repalloc(hits, sizeof(Datum) * maxhits) : palloc(sizeof(Datum) * maxhits);
		}
		hits[nhits++] = ExecFetchSlotHeapTupleDatum(slot);
	}
	tuplestore_select_read_pointer(ts, 0);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(rowcxt);

	if (nhits > 0)
	{
		Datum		arg;
		char		argnull = ' ';

		arg = PointerGetDatum(construct_array(hits, nhits, desc->tdtypeid, -1, false, TYPALIGN_DOUBLE));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_plan(cache.raise_plan, &arg, &argnull, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "nps.raise_alerts failed");
		SPI_finish();
	}
	return PointerGetDatum(NULL);
}

/*
 * Statement trigger on nps.alert_rule: every backend drops its cached rules
 * (at once here, at commit elsewhere).
 */
Datum
nps_alert_rule_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nps.alert_rule_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

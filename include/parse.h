/*
 * parse.h: the SMS reply parser shared by src/parse_*.c.
 *
 * A reply goes through three steps:
 *   parse_normalize.c  UTF-8 text -> canonical text (lowercase, look-alikes
 *                      folded, emoji and punctuation dropped, see docs/parsing.md)
 *   parse_tokens.c     canonical text -> tokens (numbers, words, signs)
 *   parse_words.c      what a word means (number, yes, no, stop, ...)
 * and parse_reply.c decides what the reply says and serves the SQL functions.
 */
#ifndef NPS_PARSE_H
#define NPS_PARSE_H

#include "postgres.h"

/*
 * Work is bounded: only the first PARSE_MAX_CHARS characters of a reply are
 * read (a ten-part SMS holds about 670 Cyrillic characters), so a 100 MB
 * value costs no more than a long SMS.
 */
#define PARSE_MAX_CHARS 2000
#define PARSE_MAX_BYTES (PARSE_MAX_CHARS * 4)

/* Numbers are capped here; anything larger is out of every scale anyway. */
#define PARSE_NUMBER_CAP 1000000000

typedef enum WordClass
{
	W_NONE = 0,
	W_NUMBER,					/* a number word: "девять", "десятка", "nine" */
	W_YES,						/* a plain yes: "да", "ага", "yes" */
	W_YES_WEAK,					/* counts only without a plain word: "конечно", "ок" */
	W_NO,						/* a plain no: "нет", "неа", "no" */
	W_NO_WEAK,					/* counts only without a plain word: "никак" */
	W_NOT,						/* the particle "не"/"not": a no only as the first word */
	W_SCALE,					/* "из", "of": the next number is the scale */
	W_UNIT,						/* "часа", "минут": the number before is a quantity */
	W_BUT,						/* "но", "but": ends the part of a reply that answers */
	W_STOP,						/* an opt-out only as the first word: "стоп", "stop" */
	W_OPT_OUT					/* an opt-out anywhere: "отписаться", "unsubscribe" */
} WordClass;

typedef enum TokenKind
{
	TOK_WORD,
	TOK_NUMBER,
	TOK_SLASH,
	TOK_DASH,
	TOK_PLUS
} TokenKind;

typedef struct Token
{
	TokenKind	kind;
	const char *text;			/* into ParsedText.norm, not terminated */
	int			len;
	int			word_len;		/* TOK_WORD: length of the word looked up (the
								 * first part of "да-да") */
	const char *folded;			/* TOK_WORD: text with repeated letters folded */
	int			folded_len;
	bool		spaced;			/* whitespace precedes the token */
	int64		value;			/* TOK_NUMBER: capped at PARSE_NUMBER_CAP;
								 * TOK_WORD of class W_NUMBER: its number */
	bool		fraction;		/* TOK_NUMBER written with a decimal point */
	WordClass	wclass;			/* TOK_WORD: its meaning */
} Token;

typedef struct ParsedText
{
	char	   *norm;			/* canonical text, NUL-terminated */
	int			norm_len;
	bool		blank;			/* only whitespace and control characters */
	Token	   *tokens;
	int			ntokens;
} ParsedText;

/* parse_normalize.c */
extern void nps_normalize(const char *s, int len, ParsedText *pt);

/* parse_tokens.c */
extern void nps_tokenize(ParsedText *pt);

/* parse_words.c */
extern WordClass nps_word_class(const char *w, int len, int64 *value);
extern bool nps_known_word(const char *w, int len);
extern int	nps_fold_repeats(const char *w, int len, char *out);
extern bool nps_token_is(const Token *t, const char *word);
extern int	nps_match_stop_phrase(const ParsedText *pt, int at);
extern int	nps_match_unsure_phrase(const ParsedText *pt, int at);

#endif							/* NPS_PARSE_H */

/*
 * validate.c: input checks used by the data model: msisdn normalisation and
 * IANA time-zone names.  In C because every visit and roaming row passes
 * through them (a million-visit load must not pay for regex in PL/pgSQL).
 */
#include "postgres.h"

#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"

#include "nps.h"

PG_FUNCTION_INFO_V1(nps_normalize_msisdn);
PG_FUNCTION_INFO_V1(nps_is_msisdn);
PG_FUNCTION_INFO_V1(nps_check_time_zone);

#define MSISDN_LEN 11

/* True for exactly "7" followed by ten digits: the normal form. */
bool
msisdn_is_normal(text *t)
{
	const char *s = VARDATA_ANY(t);

	if (VARSIZE_ANY_EXHDR(t) != MSISDN_LEN || s[0] != '7')
		return false;
	for (int i = 1; i < MSISDN_LEN; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * nps.is_msisdn(text): the CHECK of every msisdn column, in C because each
 * visit, session and message row pays for it (the regular expression it
 * replaces was 3 % of a visit load's CPU).
 */
Datum
nps_is_msisdn(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(msisdn_is_normal(PG_GETARG_TEXT_PP(0)));
}

/*
 * Accepts "79161234567", "+7 916 123-45-67", "8 (916) 123 45 67": digits with
 * spaces, dashes, dots and parentheses between them.  Returns 7XXXXXXXXXX.
 */
Datum
nps_normalize_msisdn(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(in);
	int			len = VARSIZE_ANY_EXHDR(in);
	char		digits[MSISDN_LEN + 1];
	int			n = 0;
	bool		plus = false;
	bool		ok = true;

	for (int i = 0; i < len && ok; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
		{
			if (n < MSISDN_LEN)
				digits[n] = c;
			n++;
		}
		else if (c == '+' && n == 0 && !plus)
			plus = true;
		else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.')
			ok = false;
	}

	/* +7XXXXXXXXXX or 7XXXXXXXXXX as is; 8XXXXXXXXXX is the domestic form. */
	if (ok && n == MSISDN_LEN && digits[0] == '8' && !plus)
		digits[0] = '7';
	if (!ok || n != MSISDN_LEN || digits[0] != '7')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid msisdn \"%s\"", text_to_cstring(in)),
				 errdetail("An msisdn is 11 digits starting with 7; \"+7\" and \"8\" prefixes, spaces, dashes and parentheses are accepted."),
				 errhint("Write it as 79161234567, +7 916 123-45-67 or 8 916 123 45 67.")));
	digits[MSISDN_LEN] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(digits));
}

/*
 * True for a time-zone name PostgreSQL knows in the IANA Area/Location form
 * (or UTC); raises a clear error otherwise, so a CHECK constraint built on it
 * names the bad value instead of only the constraint.
 */
Datum
nps_check_time_zone(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if ((strchr(name, '/') == NULL && strcmp(name, "UTC") != 0) ||
		pg_tzset(name) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown time zone \"%s\"", name),
				 errdetail("A region's time zone must be an IANA name known to PostgreSQL (see pg_timezone_names)."),
				 errhint("Russian regions use names such as Europe/Kaliningrad, Europe/Moscow, Asia/Novosibirsk or Asia/Kamchatka.")));
	PG_RETURN_BOOL(true);
}

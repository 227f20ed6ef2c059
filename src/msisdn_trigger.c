/*
 * msisdn_trigger.c: the BEFORE INSERT OR UPDATE row trigger that normalises
 * the msisdn column of nps.visit, nps.opt_out and nps.roaming.
 *
 * In C because it runs once per row of every visit load: the PL/pgSQL
 * version (NEW.msisdn := nps.normalize_msisdn(NEW.msisdn)) cost about a
 * microsecond a row in executor set-up and tuple conversion, a second per
 * million visits.  A number already in the 7XXXXXXXXXX form, which is what
 * the sales systems send, leaves the row untouched (no tuple is copied).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"

#include "nps.h"

PG_FUNCTION_INFO_V1(nps_normalize_msisdn_trigger);

/* validate.c: the one definition of a valid msisdn and its normal form */
extern Datum nps_normalize_msisdn(PG_FUNCTION_ARGS);

Datum
nps_normalize_msisdn_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	int			attnum;
	Datum		value;
	bool		isnull;
	Datum		normal;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nps.normalize_msisdn_trigger() must be a BEFORE INSERT OR UPDATE row trigger")));

	tupdesc = RelationGetDescr(td->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	attnum = SPI_fnumber(tupdesc, "msisdn");
	if (attnum <= 0 || TupleDescAttr(tupdesc, attnum - 1)->atttypid != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("table \"%s\" has no text column \"msisdn\"",
						RelationGetRelationName(td->tg_relation)),
				 errhint("nps.normalize_msisdn_trigger() normalises a column named msisdn of type text.")));

	/* NULL stays NULL: the NOT NULL constraint gives the error. */
	value = heap_getattr(tuple, attnum, tupdesc, &isnull);
	if (isnull || msisdn_is_normal(DatumGetTextPP(value)))
		return PointerGetDatum(tuple);

	/* raises invalid_text_representation with the offending value */
	normal = DirectFunctionCall1(nps_normalize_msisdn, value);
	isnull = false;
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 1, &attnum, &normal, &isnull));
}

/*
 * schedule.c: nps.schedule_visits(), the AFTER INSERT statement trigger of
 * nps.visit that creates the survey session of every visit of a load.
 *
 * The rules are those of 0.2.0-0.4.0 (docs/surveys.md): a visit of a channel
 * with an active survey gets a session due at nps.send_time(); it is
 * cancelled when the subscriber opted out, when it duplicates an earlier
 * visit to the same salon within duplicate_window, or when a newer visit of
 * the same load is due within fatigue_period after it ("latest visit wins").
 * Across loads that rule is nps.superseded_by(), applied by nps.run_due()
 * when the older session comes due (0.7.0): cancelling it here was an
 * UPDATE of a random older session per repeat visit, a fifth of the cost.
 *
 * In C, and writing the sessions itself, because a load of a million visits
 * must be scheduled in seconds.  The PL/pgSQL statement of 0.4.0 cost about
 * 37 us a visit: a quarter in the joins and window sorts around its probes,
 * a third in the session INSERT's executor work, and ten microseconds in the
 * two foreign-key checks PostgreSQL runs per row (one SPI query each).  Here
 * the load is read from the transition table, sorted once by subscriber,
 * each subscriber's visits and opt-out come from one index probe each, and
 * the sessions are inserted with the executor's own
 * routines (defaults, CHECK constraints, heap, every index and its unique
 * check) but without the foreign-key triggers, whose checks hold by
 * construction:
 *   - session.visit_id: the visit is a row of this statement, found again by
 *     the subscriber probe (a visit deleted since is refused as the check
 *     would refuse it); no other transaction can see it, let alone delete it;
 *   - session.survey_id: the active surveys are read FOR KEY SHARE, the very
 *     lock the check takes, once per statement instead of once per row;
 *   - session.short_code: NULL for a session that has not started.
 * ON DELETE actions from nps.visit and nps.survey are triggers of those
 * tables and work as before.  Anything this cannot vouch for takes the
 * ordinary INSERT: another trigger on nps.session (it must see the rows) or
 * stored generated columns; row level security on the tables read directly
 * is refused.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schedule.h"

PG_FUNCTION_INFO_V1(nps_schedule_visits);

typedef struct Survey
{
	char	   *channel;
	int32		id;
	Interval   *delay;
} Survey;

/* A visit of the load that has an active survey: it gets a session. */
typedef struct LoadVisit
{
	int64		id;
	char	   *msisdn;
	char	   *salon;
	TimestampTz occurred_at;
	Survey	   *survey;			/* the active survey of its channel */
	TimestampTz due_at;
	const char *reason;			/* refusal, NULL if none */
	int64		lost_to;		/* superseded by this visit of the load, 0 if not */
} LoadVisit;

/* A visit of a subscriber already in nps.visit (this load's included). */
typedef struct KnownVisit
{
	int64		id;
	char	   *salon;
	TimestampTz occurred_at;
} KnownVisit;

typedef struct Salon
{
	char	   *code;
	text	   *time_zone;
	TimeADT		send_from;
	TimeADT		send_until;
} Salon;

/*
 * A keyed index probe, reused for every key of the statement: equality on
 * the index's first column, and optionally a lower bound on its second.
 */
typedef struct Probe
{
	MemoryContext cxt;			/* the scan allocates as it goes: not per subscriber */
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key[2];
	int			nkeys;
} Probe;

/* Where the sessions go: the executor's routines, or an ordinary INSERT. */
typedef struct SessionWriter
{
	Relation	rel;
	bool		direct;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	ExprState **defaults;		/* per attribute, NULL when supplied or none */
	AttrNumber	col[6];			/* visit_id, survey_id, msisdn, due_at, state, state_reason */
	/* the ordinary INSERT's arguments */
	int			n;
	int			size;
	Datum	   *args[6];
	bool	   *nulls[6];
} SessionWriter;

static const char *const session_columns[6] =
{"visit_id", "survey_id", "msisdn", "due_at", "state", "state_reason"};

static const Oid session_types[6] =
{INT8OID, INT4OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};

static Oid
nps_relation(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("nps", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"nps.%s\" does not exist", name)));
	return relid;
}

/* The privilege the SQL statement would have needed, and no row security. */
static void
require_access(Relation rel, AclMode mode)
{
	AclResult	acl = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), mode);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, get_relkind_objtype(rel->rd_rel->relkind), RelationGetRelationName(rel));
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row level security on \"nps.%s\" is not supported by the scheduling trigger",
						RelationGetRelationName(rel)),
				 errhint("Grant the loading role BYPASSRLS, or disable row level security on the table.")));
}

/* require_access for a table read through SPI only */
static void
require_readable(const char *name)
{
	Relation	rel = table_open(nps_relation(name), AccessShareLock);

	require_access(rel, ACL_SELECT);
	table_close(rel, NoLock);
}

static AttrNumber
column_of(Relation rel, const char *name)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of \"nps.%s\" does not exist", name, RelationGetRelationName(rel))));
	return attnum;
}

/*
 * A valid, whole-table B-tree index of rel whose first column is attnum
 * (found by its shape, not its name), ready to probe by equality on it and,
 * when its second column is bound_attnum, from a lower bound on that one.
 */
static void
probe_open(Probe *p, Relation rel, AttrNumber attnum, RegProcedure eqproc,
		   AttrNumber bound_attnum, RegProcedure geproc)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	p->index = NULL;
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		if (index->rd_rel->relam == BTREE_AM_OID && index->rd_index->indisvalid &&
			index->rd_index->indkey.values[0] == attnum &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, NULL))
		{
			p->index = index;
			break;
		}
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	if (p->index == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("\"nps.%s\" has no index on column \"%s\"", RelationGetRelationName(rel),
						NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname)),
				 errhint("The scheduling trigger probes it for every visit; reinstall the extension's indexes.")));
	ScanKeyEntryInitialize(&p->key[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   p->index->rd_indcollation[0], eqproc, (Datum) 0);
	p->nkeys = 1;
	/* the bound only narrows the scan: without a matching column, no bound */
	if (bound_attnum != InvalidAttrNumber && p->index->rd_index->indnkeyatts >= 2 &&
		p->index->rd_index->indkey.values[1] == bound_attnum)
	{
		ScanKeyEntryInitialize(&p->key[1], 0, 2, BTGreaterEqualStrategyNumber, InvalidOid,
							   p->index->rd_indcollation[1], geproc, (Datum) 0);
		p->nkeys = 2;
	}
	p->cxt = CurrentMemoryContext;
	p->scan = index_beginscan(rel, p->index, GetActiveSnapshot(), p->nkeys, 0);
	p->slot = table_slot_create(rel, NULL);
}

static void
probe_start(Probe *p, Datum key, Datum bound)
{
	MemoryContext old = MemoryContextSwitchTo(p->cxt);

	p->key[0].sk_argument = key;
	p->key[1].sk_argument = bound;
	index_rescan(p->scan, p->key, p->nkeys, NULL, 0);
	MemoryContextSwitchTo(old);
}

static bool
probe_next(Probe *p)
{
	MemoryContext old = MemoryContextSwitchTo(p->cxt);
	bool		found = index_getnext_slot(p->scan, ForwardScanDirection, p->slot);

	MemoryContextSwitchTo(old);
	return found;
}

static void
probe_close(Probe *p)
{
	index_endscan(p->scan);
	ExecDropSingleTupleTableSlot(p->slot);
	index_close(p->index, AccessShareLock);
}

static bool
interval_positive(Interval *iv)
{
	Interval	zero = {0};

	return DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(iv), IntervalPGetDatum(&zero)));
}

static TimestampTz
minus(TimestampTz t, Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(t), IntervalPGetDatum(iv)));
}

/* Newest first: occurred_at, then id, descending. */
static bool
newer(TimestampTz at_a, int64 id_a, TimestampTz at_b, int64 id_b)
{
	return at_a > at_b || (at_a == at_b && id_a > id_b);
}

/* By subscriber, newest visit first. */
static int
load_order(const void *a, const void *b)
{
	const LoadVisit *x = a;
	const LoadVisit *y = b;
	int			c = strcmp(x->msisdn, y->msisdn);

	if (c != 0)
		return c;
	if (x->occurred_at != y->occurred_at || x->id != y->id)
		return newer(x->occurred_at, x->id, y->occurred_at, y->id) ? -1 : 1;
	return 0;
}

static int
salon_order(const void *a, const void *b)
{
	return strcmp(((const Salon *) a)->code, ((const Salon *) b)->code);
}

static char *
text_value(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Column col of row i of the last SPI result (NOT NULL columns only). */
static Datum
result(uint64 i, int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col, &isnull);
}

/* The active surveys, locked as the foreign key's check would lock them. */
static Survey *
active_surveys(int *n)
{
	Relation	rel = table_open(nps_relation("survey"), AccessShareLock);
	Oid			save_user;
	int			save_sec;
	Survey	   *s;

	require_access(rel, ACL_SELECT);
	/* FOR KEY SHARE needs UPDATE: run as the owner, as the check does */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (SPI_execute("SELECT channel, id, delay FROM nps.survey WHERE active FOR KEY SHARE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading nps.survey failed");
	SetUserIdAndSecContext(save_user, save_sec);
	table_close(rel, NoLock);

	*n = SPI_processed;
	s = palloc(sizeof(Survey) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		s[i].channel = TextDatumGetCString(result(i, 1));
		s[i].id = DatumGetInt32(result(i, 2));
		s[i].delay = DatumGetIntervalP(datumCopy(result(i, 3), false, sizeof(Interval)));
	}
	return s;
}

/* The sending hours of the load's salons, sorted by code. */
static Salon *
load_salons(LoadVisit *v, int nv, int *n)
{
	Datum	   *codes = palloc(sizeof(Datum) * nv);
	char	  **seen = palloc(sizeof(char *) * nv);
	int			ncodes = 0;
	Oid			argtype = TEXTARRAYOID;
	Datum		arg;
	Salon	   *s;

	for (int i = 0; i < nv; i++)
		seen[i] = v[i].salon;
	qsort(seen, nv, sizeof(char *), pg_qsort_strcmp);
	for (int i = 0; i < nv; i++)
		if (i == 0 || strcmp(seen[i], seen[i - 1]) != 0)
			codes[ncodes++] = CStringGetTextDatum(seen[i]);
	arg = PointerGetDatum(construct_array(codes, ncodes, TEXTOID, -1, false, TYPALIGN_INT));
	/* a salon hidden by a policy would fail the load: refuse it clearly */
	require_readable("salon");
	require_readable("region");
	if (SPI_execute_with_args("SELECT sa.code, r.time_zone, r.send_from, r.send_until"
							  " FROM nps.salon sa JOIN nps.region r ON r.code = sa.region_code"
							  " WHERE sa.code = ANY ($1)",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading nps.salon failed");

	*n = SPI_processed;
	s = palloc(sizeof(Salon) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		s[i].code = TextDatumGetCString(result(i, 1));
		s[i].time_zone = DatumGetTextPCopy(result(i, 2));
		s[i].send_from = DatumGetTimeADT(result(i, 3));
		s[i].send_until = DatumGetTimeADT(result(i, 4));
	}
	qsort(s, *n, sizeof(Salon), salon_order);
	return s;
}

/*
 * The statement's visits that have an active survey (the others get no
 * session, as before), sorted by subscriber, newest first.
 */
static LoadVisit *
read_load(TriggerData *td, Survey *surveys, int nsurveys, int *n)
{
	Tuplestorestate *ts = td->tg_newtable;
	Relation	rel = td->tg_relation;
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
	AttrNumber	a_id = column_of(rel, "id"),
				a_msisdn = column_of(rel, "msisdn"),
				a_salon = column_of(rel, "salon_code"),
				a_at = column_of(rel, "occurred_at"),
				a_channel = column_of(rel, "channel");
	Size		size = 1024;
	/* huge: a load of more than 15 million visits outgrows 1 GB */
	LoadVisit  *v = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(LoadVisit) * size);
	int			ptr;

	*n = 0;
	/* a read pointer of our own: the change-log trigger reads the same rows */
	ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		char	   *channel = text_value(slot, a_channel);
		bool		isnull;
		int			s;

		for (s = 0; s < nsurveys; s++)
			if (strcmp(surveys[s].channel, channel) == 0)
				break;
		pfree(channel);
		if (s == nsurveys)
			continue;
		if (*n == size)
			v = repalloc_huge(v, sizeof(LoadVisit) * (size *= 2));
		v[*n].id = DatumGetInt64(slot_getattr(slot, a_id, &isnull));
		v[*n].msisdn = text_value(slot, a_msisdn);
		v[*n].salon = text_value(slot, a_salon);
		v[*n].occurred_at = DatumGetTimestampTz(slot_getattr(slot, a_at, &isnull));
		v[*n].survey = &surveys[s];
		v[*n].reason = NULL;
		v[*n].lost_to = 0;
		(*n)++;
	}
	tuplestore_select_read_pointer(ts, 0);
	ExecDropSingleTupleTableSlot(slot);
	qsort(v, *n, sizeof(LoadVisit), load_order);
	return v;
}

/* ---- writing the sessions --------------------------------------------- */

/*
 * True when nothing but foreign-key checks would see the inserted rows: no
 * other enabled trigger and no stored generated column.
 */
static bool
direct_insert_allowed(Relation rel)
{
	TriggerDesc *td = rel->trigdesc;

	if (RelationGetDescr(rel)->constr && RelationGetDescr(rel)->constr->has_generated_stored)
		return false;
	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (t->tgenabled != TRIGGER_DISABLED && TRIGGER_FOR_INSERT(t->tgtype) &&
			RI_FKey_trigger_type(t->tgfoid) == RI_TRIGGER_NONE)
			return false;
	}
	return true;
}

static void
writer_open(SessionWriter *w, int expected)
{
	TupleDesc	desc;

	w->rel = table_open(nps_relation("session"), RowExclusiveLock);
	/* written only: INSERT, as the statement of the sessions would need */
	require_access(w->rel, ACL_INSERT);
	for (int c = 0; c < 6; c++)
		w->col[c] = column_of(w->rel, session_columns[c]);
	w->direct = direct_insert_allowed(w->rel);
	w->n = 0;
	if (!w->direct)
	{
		w->size = Max(expected, 1);
		for (int c = 0; c < 6; c++)
		{
			w->args[c] = palloc(sizeof(Datum) * w->size);
			w->nulls[c] = palloc(sizeof(bool) * w->size);
		}
		return;
	}

	desc = RelationGetDescr(w->rel);
	w->estate = CreateExecutorState();
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 0, NULL, 0);
	ExecOpenIndices(w->rri, false);
	w->slot = table_slot_create(w->rel, &w->estate->es_tupleTable);
	/* the defaults of the other columns, planned as an INSERT plans them */
	w->defaults = palloc0(sizeof(ExprState *) * desc->natts);
	for (int a = 1; a <= desc->natts; a++)
	{
		Node	   *def;
		bool		supplied = false;

		for (int c = 0; c < 6; c++)
			supplied |= (w->col[c] == a);
		if (supplied || TupleDescAttr(desc, a - 1)->attisdropped)
			continue;
		def = build_column_default(w->rel, a);
		if (def != NULL)
			w->defaults[a - 1] = ExecPrepareExpr(expression_planner((Expr *) def), w->estate);
	}
}

static void
writer_add(SessionWriter *w, LoadVisit *v)
{
	Datum		value[6];
	bool		null[6] = {false, false, false, false, false, false};
	bool		scheduled = v->reason == NULL && v->lost_to == 0;
	MemoryContext old = CurrentMemoryContext;

	/* a row written at once needs its values only until then */
	if (w->direct)
		MemoryContextSwitchTo(GetPerTupleMemoryContext(w->estate));
	value[0] = Int64GetDatum(v->id);
	value[1] = Int32GetDatum(v->survey->id);
	value[2] = CStringGetTextDatum(v->msisdn);
	value[3] = TimestampTzGetDatum(v->due_at);
	value[4] = CStringGetTextDatum(scheduled ? "scheduled" : "cancelled");
	if (v->reason != NULL)
		value[5] = CStringGetTextDatum(v->reason);
	else if (v->lost_to != 0)
		value[5] = CStringGetTextDatum(psprintf("superseded: visit " INT64_FORMAT, v->lost_to));
	else
		null[5] = true;

	if (!w->direct)
	{
		if (w->n == w->size)
		{
			w->size *= 2;
			for (int c = 0; c < 6; c++)
			{
				w->args[c] = repalloc(w->args[c], sizeof(Datum) * w->size);
				w->nulls[c] = repalloc(w->nulls[c], sizeof(bool) * w->size);
			}
		}
		for (int c = 0; c < 6; c++)
		{
			w->args[c][w->n] = value[c];
			w->nulls[c][w->n] = null[c];
		}
		w->n++;
		return;
	}
	else
	{
		TupleTableSlot *slot = w->slot;
		ExprContext *econtext = GetPerTupleExprContext(w->estate);
		int			natts = RelationGetDescr(w->rel)->natts;
		List	   *recheck;

		ExecClearTuple(slot);
		for (int a = 0; a < natts; a++)
		{
			slot->tts_isnull[a] = true;
			if (w->defaults[a] != NULL)
				slot->tts_values[a] = ExecEvalExpr(w->defaults[a], econtext, &slot->tts_isnull[a]);
		}
		for (int c = 0; c < 6; c++)
		{
			slot->tts_values[w->col[c] - 1] = value[c];
			slot->tts_isnull[w->col[c] - 1] = null[c];
		}
		ExecStoreVirtualTuple(slot);
		if (w->rel->rd_att->constr)
			ExecConstraints(w->rri, slot, w->estate);
		table_tuple_insert(w->rel, slot, w->estate->es_output_cid, 0, NULL);
		recheck = ExecInsertIndexTuples(w->rri, slot, w->estate, false, false, NULL, NIL);
		list_free(recheck);
		MemoryContextSwitchTo(old);
		ResetPerTupleExprContext(w->estate);
		w->n++;
	}
}

static void
writer_close(SessionWriter *w)
{
	if (w->direct)
	{
		ExecCloseIndices(w->rri);
		ExecResetTupleTable(w->estate->es_tupleTable, false);
		FreeExecutorState(w->estate);
	}
	else if (w->n > 0)
	{
		Datum		arg[6];
		char		argnull[6] = {' ', ' ', ' ', ' ', ' ', ' '};
		Oid			argtype[6];

		for (int c = 0; c < 6; c++)
		{
			int16		typlen;
			bool		typbyval;
			char		typalign;
			int			dims[1] = {w->n};
			int			lbs[1] = {1};

			get_typlenbyvalalign(session_types[c], &typlen, &typbyval, &typalign);
			arg[c] = PointerGetDatum(construct_md_array(w->args[c], w->nulls[c], 1, dims, lbs,
														session_types[c], typlen, typbyval, typalign));
			argtype[c] = get_array_type(session_types[c]);
		}
		if (SPI_execute_with_args("INSERT INTO nps.session (visit_id, survey_id, msisdn, due_at, state, state_reason)"
								  " SELECT * FROM unnest($1, $2, $3, $4, $5, $6)",
								  6, argtype, arg, argnull, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "inserting into nps.session failed");
	}
	table_close(w->rel, NoLock);
}

/* ---- the rules --------------------------------------------------------- */

typedef struct Rules
{
	Interval   *dup_window;		/* NULL: no duplicate rule */
	Interval   *fatigue;		/* NULL: no "latest visit wins" */
} Rules;

static Rules
read_rules(void)
{
	Rules		r = {NULL, NULL};
	bool		isnull;
	Interval   *iv;

	if (SPI_execute("SELECT nps.setting_value('duplicate_window')::interval,"
					" nps.setting_value('fatigue_period')::interval", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading the scheduling settings failed");
	iv = DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!isnull && interval_positive(iv))
		r.dup_window = DatumGetIntervalP(datumCopy(IntervalPGetDatum(iv), false, sizeof(Interval)));
	iv = DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (!isnull && interval_positive(iv))
		r.fatigue = DatumGetIntervalP(datumCopy(IntervalPGetDatum(iv), false, sizeof(Interval)));
	return r;
}

/* The probes of one statement. */
typedef struct Probes
{
	Probe		opt_out;		/* opt_out by msisdn */
	Probe		visits;			/* visit by msisdn */
	AttrNumber	v_id,
				v_salon,
				v_at;
} Probes;

/* One subscriber's visits of this load (v[0..n), newest first): refusals. */
static void
decide_subscriber(LoadVisit *v, int n, Rules *rules, Probes *pr)
{
	Datum		msisdn = CStringGetTextDatum(v[0].msisdn);
	bool		opted_out;
	KnownVisit *known = NULL;
	int			nknown = 0,
				size = 0;
	LoadVisit  *newest = NULL;
	/* older visits matter to no rule now: the scan starts at the oldest one a duplicate test needs */
	TimestampTz from = rules->dup_window ? minus(v[n - 1].occurred_at, rules->dup_window) : v[n - 1].occurred_at;

	probe_start(&pr->opt_out, msisdn, (Datum) 0);
	opted_out = probe_next(&pr->opt_out);

	/* the subscriber's visits from then on, this load's included */
	probe_start(&pr->visits, msisdn, TimestampTzGetDatum(from));
	while (probe_next(&pr->visits))
	{
		bool		isnull;

		if (nknown == size)
		{
			size = Max(8, size * 2);
			known = known ? repalloc(known, sizeof(KnownVisit) * size) : palloc(sizeof(KnownVisit) * size);
		}
		known[nknown].id = DatumGetInt64(slot_getattr(pr->visits.slot, pr->v_id, &isnull));
		known[nknown].salon = text_value(pr->visits.slot, pr->v_salon);
		known[nknown].occurred_at = DatumGetTimestampTz(slot_getattr(pr->visits.slot, pr->v_at, &isnull));
		nknown++;
	}

	for (int i = 0; i < n; i++)
	{
		bool		found = false;

		for (int k = 0; k < nknown; k++)
		{
			found |= known[k].id == v[i].id;
			if (rules->dup_window && v[i].reason == NULL && strcmp(known[k].salon, v[i].salon) == 0 &&
				newer(v[i].occurred_at, v[i].id, known[k].occurred_at, known[k].id) &&
				known[k].occurred_at >= minus(v[i].occurred_at, rules->dup_window))
				v[i].reason = "duplicate visit";
		}
		/* what the foreign key's check would say of a visit gone meanwhile */
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("insert or update on table \"session\" violates foreign key constraint \"session_visit_id_fkey\""),
					 errdetail("Key (visit_id)=(" INT64_FORMAT ") is not present in table \"visit\".", v[i].id)));
		if (opted_out)
			v[i].reason = "opted out";
	}
	if (rules->fatigue == NULL)
		return;

	/* latest visit wins within the load */
	for (int i = 0; i < n; i++)
	{
		if (v[i].reason != NULL)
			continue;
		if (newest == NULL)
			newest = &v[i];
		else if (v[i].due_at > minus(newest->due_at, rules->fatigue))
			v[i].lost_to = newest->id;
	}
}

Datum
nps_schedule_visits(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Survey	   *surveys;
	int			nsurveys;
	LoadVisit  *v;
	int			nv;
	Salon	   *salons;
	int			nsalons;
	Rules		rules;
	Probes		pr;
	Relation	opt_out;
	SessionWriter w = {0};
	ZoneCache  *zones = NULL;
	MemoryContext subscriber;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		td->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nps.schedule_visits() must be an AFTER INSERT statement trigger with a NEW TABLE")));

	SPI_connect();
	rules = read_rules();
	surveys = active_surveys(&nsurveys);
	v = read_load(td, surveys, nsurveys, &nv);
	if (nv == 0)
	{
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	salons = load_salons(v, nv, &nsalons);
	for (int i = 0; i < nv; i++)
	{
		Salon		key = {.code = v[i].salon};
		Salon	   *s = bsearch(&key, salons, nsalons, sizeof(Salon), salon_order);

		/* the visit's foreign key vouches for its salon, and region's */
		if (s == NULL)
			elog(ERROR, "salon \"%s\" of visit " INT64_FORMAT " not found", v[i].salon, v[i].id);
		v[i].due_at = send_time_at(&zones, CurrentMemoryContext, v[i].occurred_at, v[i].survey->delay,
								   s->time_zone, s->send_from, s->send_until);
	}

	/* the probes see this statement's visits */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();

	require_access(td->tg_relation, ACL_SELECT);
	opt_out = table_open(nps_relation("opt_out"), AccessShareLock);
	require_access(opt_out, ACL_SELECT);
	writer_open(&w, nv);
	probe_open(&pr.opt_out, opt_out, column_of(opt_out, "msisdn"), F_TEXTEQ, InvalidAttrNumber, InvalidOid);
	probe_open(&pr.visits, td->tg_relation, column_of(td->tg_relation, "msisdn"), F_TEXTEQ,
			   column_of(td->tg_relation, "occurred_at"), F_TIMESTAMPTZ_GE);
	pr.v_id = column_of(td->tg_relation, "id");
	pr.v_salon = column_of(td->tg_relation, "salon_code");
	pr.v_at = column_of(td->tg_relation, "occurred_at");

	/* what is learnt of one subscriber is forgotten with the next */
	subscriber = AllocSetContextCreate(CurrentMemoryContext, "nps schedule subscriber",
									   ALLOCSET_DEFAULT_SIZES);
	for (int i = 0, j; i < nv; i = j)
	{
		MemoryContext outer = MemoryContextSwitchTo(subscriber);

		for (j = i + 1; j < nv && strcmp(v[j].msisdn, v[i].msisdn) == 0; j++)
			;
		decide_subscriber(&v[i], j - i, &rules, &pr);
		MemoryContextSwitchTo(outer);
		for (int k = i; k < j; k++)
			writer_add(&w, &v[k]);
		MemoryContextReset(subscriber);
		CHECK_FOR_INTERRUPTS();
	}
	probe_close(&pr.opt_out);
	probe_close(&pr.visits);
	table_close(opt_out, NoLock);
	writer_close(&w);
	PopActiveSnapshot();
	SPI_finish();
	return PointerGetDatum(NULL);
}

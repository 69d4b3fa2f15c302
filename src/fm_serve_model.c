/*
 * fm_serve_model.c - a model's serving state per call site: its fm_model
 * row, loaded once, and a bounded memo of its fm_feature rows.
 *
 * Serving a query over a table calls fm_predict once per row, and the rows
 * share most of their feature values (20,000 ratings of u1.test name 2,600
 * users and movies): each (feature, value) is looked up once per statement
 * through a saved plan on fm_feature's primary key, then served from the
 * memo.  The lookups go through SPI with the caller's privileges, so
 * GRANTs and row-level security on fm_feature apply as to any query.
 *
 * The memo holds at most FM_SERVE_MEMO_BYTES; past that it is emptied at
 * the start of the next description, so a statement over a million distinct
 * users uses bounded memory.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "fm_catalog.h"
#include "fm_serve_model.h"
#include "fm_vector.h"

#define FM_SERVE_MEMO_BYTES		(32 * 1024 * 1024)

/* The saved plans (backend-wide; the plan cache replans them when needed). */
static SPIPlanPtr model_plan;
static SPIPlanPtr feature_plan;
static char *plans_schema;
static uint64 loads;		/* the schema the plans were prepared for */

static SPIPlanPtr
save_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "fmrec: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "fmrec: SPI_keepplan failed");
	return plan;
}

/* Prepares the plans (SPI connected) unless they exist for this schema. */
static void
ensure_plans(void)
{
	const char *schema = fmrec_schema_quoted();
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};

	if (plans_schema != NULL && strcmp(plans_schema, schema) == 0)
		return;
	if (model_plan != NULL)
		SPI_freeplan(model_plan);
	if (feature_plan != NULL)
		SPI_freeplan(feature_plan);
	model_plan = feature_plan = NULL;
	if (plans_schema != NULL)
		pfree(plans_schema);
	plans_schema = NULL;
	model_plan = save_plan(psprintf("SELECT m.k, m.w0, m.target_min, m.target_max, m.features, m.feature_kinds"
									"  FROM %s.fm_model m WHERE m.model OPERATOR(pg_catalog.=) $1",
									schema), 1, types);
	feature_plan = save_plan(psprintf("SELECT f.bias, f.embedding FROM %s.fm_feature f"
									  " WHERE f.model OPERATOR(pg_catalog.=) $1"
									  "   AND f.feature OPERATOR(pg_catalog.=) $2"
									  "   AND f.value OPERATOR(pg_catalog.=) $3",
									  schema), 3, types);
	plans_schema = MemoryContextStrdup(TopMemoryContext, schema);
}

static FmFeatureKind
parse_kind(const char *kind, const char *model)
{
	FmFeatureKind result;

	if (fm_kind_from_name(kind, &result))
		return result;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("model \"%s\" has a feature of unknown kind \"%s\"", model, kind),
			 errhint("A feature kind is one of " FM_KIND_LIST ".")));
	pg_unreachable();
}

static void
memo_reset(FmServeModel *m)
{
	MemoryContextReset(m->values_mcxt);
	m->nbuckets = 1024;
	m->buckets = MemoryContextAllocZero(m->values_mcxt, sizeof(FmServeValue *) * m->nbuckets);
	m->nvalues = 0;
}

static bool
same_snapshot(const FmServeModel *m, Snapshot snap)
{
	return snap != NULL && m->snap_xmin == snap->xmin && m->snap_xmax == snap->xmax &&
		m->snap_curcid == snap->curcid && m->snap_completions == snap->snapXactCompletionCount;
}

/* Reads the fm_model row into m (its context freshly reset). */
static void
load_model(FmServeModel *m, text *name)
{
	Datum		arg = PointerGetDatum(name);
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum	   *names;
	bool	   *name_nulls;
	int			n;
	Datum		kinds_datum;
	MemoryContext old;
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "fmrec: SPI_connect failed");
	ensure_plans();
	if (SPI_execute_plan(model_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "fmrec: reading fm_model failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", text_to_cstring(name)),
				 errhint("Train it with fm_train_from_table; SELECT model FROM fm_model lists the models.")));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	old = MemoryContextSwitchTo(m->mcxt);
	m->name = text_to_cstring(name);
	m->k = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
	m->w0 = DatumGetFloat8(SPI_getbinval(tuple, desc, 2, &isnull));
	m->target_min = DatumGetFloat8(SPI_getbinval(tuple, desc, 3, &isnull));
	m->target_max = DatumGetFloat8(SPI_getbinval(tuple, desc, 4, &isnull));
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tuple, desc, 5, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &n);
	m->nfeatures = n;
	m->features = palloc(sizeof(char *) * Max(n, 1));
	m->kinds = palloc(sizeof(FmFeatureKind) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		m->features[i] = name_nulls[i] ? pstrdup("") : TextDatumGetCString(names[i]);
		m->kinds[i] = FM_KIND_CATEGORICAL;
	}
	kinds_datum = SPI_getbinval(tuple, desc, 6, &isnull);
	if (!isnull)
	{
		Datum	   *kinds;
		bool	   *kind_nulls;
		int			nk;

		deconstruct_array(DatumGetArrayTypeP(kinds_datum), TEXTOID, -1, false, TYPALIGN_INT,
						  &kinds, &kind_nulls, &nk);
		for (int i = 0; i < n && i < nk; i++)
			if (!kind_nulls[i])
				m->kinds[i] = parse_kind(TextDatumGetCString(kinds[i]), m->name);
	}
	m->load_id = ++loads;
	m->values_mcxt = AllocSetContextCreate(m->mcxt, "fmrec serving memo", ALLOCSET_DEFAULT_SIZES);
	memo_reset(m);
	if (snap != NULL)
	{
		m->snap_xmin = snap->xmin;
		m->snap_xmax = snap->xmax;
		m->snap_curcid = snap->curcid;
		m->snap_completions = snap->snapXactCompletionCount;
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
}

FmServeModel *
fm_serve_model_get(FmServeModel **slot, MemoryContext fn_mcxt, text *name)
{
	FmServeModel *m = *slot;
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;

	if (m != NULL && same_snapshot(m, snap) &&
		strlen(m->name) == VARSIZE_ANY_EXHDR(name) &&
		memcmp(m->name, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0)
		return m;
	if (m == NULL)
	{
		MemoryContext mcxt = AllocSetContextCreate(fn_mcxt, "fmrec serving model",
												   ALLOCSET_SMALL_SIZES);

		m = MemoryContextAllocZero(mcxt, sizeof(FmServeModel));
		m->mcxt = mcxt;
	}
	else
	{
		MemoryContext mcxt = m->mcxt;

		MemoryContextReset(mcxt);
		m = MemoryContextAllocZero(mcxt, sizeof(FmServeModel));
		m->mcxt = mcxt;
	}
	*slot = NULL;				/* (a failed load leaves no half-made model) */
	load_model(m, name);
	*slot = m;
	return m;
}

void
fm_serve_begin_description(FmServeModel *m)
{
	/* (what the memo's context holds: entries, embeddings, hash buckets) */
	if (MemoryContextMemAllocated(m->values_mcxt, false) > FM_SERVE_MEMO_BYTES)
		memo_reset(m);
	m->stamp++;
}

int
fm_serve_feature_index(const FmServeModel *m, const char *name, int len)
{
	for (int i = 0; i < m->nfeatures; i++)
		if (strncmp(m->features[i], name, len) == 0 && m->features[i][len] == '\0')
			return i;
	return -1;
}

void
fm_serve_unknown_feature(const FmServeModel *m, const char *name, int len)
{
	StringInfoData list;

	initStringInfo(&list);
	for (int i = 0; i < m->nfeatures; i++)
		appendStringInfo(&list, "%s%s", i > 0 ? ", " : "", m->features[i]);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("\"%s\" is not a feature of model \"%s\"", pnstrdup(name, len), m->name),
			 errdetail("The features of model \"%s\" are: %s.", m->name, list.data)));
	pg_unreachable();
}

static void
memo_grow(FmServeModel *m)
{
	int			n = m->nbuckets * 2;
	FmServeValue **buckets = MemoryContextAllocZero(m->values_mcxt, sizeof(FmServeValue *) * n);

	for (int b = 0; b < m->nbuckets; b++)
	{
		FmServeValue *v = m->buckets[b];

		while (v != NULL)
		{
			FmServeValue *next = v->next;

			v->next = buckets[v->hash & (n - 1)];
			buckets[v->hash & (n - 1)] = v;
			v = next;
		}
	}
	pfree(m->buckets);
	m->buckets = buckets;
	m->nbuckets = n;
}

/* Looks (feature, value) up in fm_feature (SPI connected) into v. */
static void
fetch_feature(FmServeModel *m, FmServeValue *v)
{
	Datum		args[3];
	bool		isnull;

	args[0] = CStringGetTextDatum(m->name);
	args[1] = CStringGetTextDatum(m->features[v->feature]);
	args[2] = PointerGetDatum(cstring_to_text_with_len(v->value, v->len));
	if (SPI_execute_plan(feature_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "fmrec: reading fm_feature failed");
	v->known = SPI_processed == 1;
	if (v->known)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		FmVector   *e;

		v->bias = DatumGetFloat4(SPI_getbinval(tuple, desc, 1, &isnull));
		e = DatumGetFmVector(SPI_getbinval(tuple, desc, 2, &isnull));
		if (e->dim != m->k)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("embedding of feature %s = \"%s\" of model \"%s\" has %d dimensions, not %d",
							m->features[v->feature], pnstrdup(v->value, v->len), m->name, e->dim, m->k)));
		v->embedding = MemoryContextAlloc(m->values_mcxt, sizeof(float) * m->k);
		memcpy(v->embedding, e->x, sizeof(float) * m->k);
	}
	SPI_freetuptable(SPI_tuptable);
}

FmServeValue *
fm_serve_lookup(FmServeModel *m, int feature, const char *value, int len, bool *spi)
{
	uint32		hash = hash_bytes((const unsigned char *) value, len) ^ (uint32) (feature * 0x9e3779b9u);
	FmServeValue *v;

	for (v = m->buckets[hash & (m->nbuckets - 1)]; v != NULL; v = v->next)
		if (v->hash == hash && v->feature == feature && v->len == len &&
			memcmp(v->value, value, len) == 0)
			return v;

	v = MemoryContextAllocZero(m->values_mcxt, offsetof(FmServeValue, value) + len + 1);
	v->hash = hash;
	v->feature = feature;
	v->len = len;
	memcpy(v->value, value, len);
	if (!*spi)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "fmrec: SPI_connect failed");
		*spi = true;
		ensure_plans();
	}
	fetch_feature(m, v);
	/* (inserted only once complete: an error above leaves the memo as it was) */
	v->next = m->buckets[hash & (m->nbuckets - 1)];
	m->buckets[hash & (m->nbuckets - 1)] = v;
	m->nvalues++;
	if (m->nvalues > 2 * m->nbuckets)
		memo_grow(m);
	return v;
}

void
fm_serve_lookup_done(bool *spi)
{
	if (*spi)
		SPI_finish();
	*spi = false;
}

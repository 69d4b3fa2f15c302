/*
 * fm_fold_in.c - fm_fold_in(): the query vector of a user from the items
 * they rated after the training, solved in closed form (src/core/foldin.h)
 * against the item vectors of the item table registered with the model
 * (fm_item_tables), without retraining.
 *
 * The glue reads, through SPI with the caller's privileges:
 *   - the model's method, w0, version and penalties (fm_model);
 *   - the context's scalar and query vector (fm_item of the jsonb context);
 *   - the rated items' bias and embedding, by the item table's key column
 *     (so an index on it is used);
 *   - for iALS / BPR, the Gramian of ALL item vectors weighted by iALS's
 *     unobserved weights: it costs a pass over the catalogue, so it is
 *     computed once per backend and kept per (model, model version, item
 *     table and its files, role, and the table's fm_topk_track version when
 *     it is tracked): a retraining gives the model a new version, a change
 *     of a tracked table's rows a new table version.  Changes of an
 *     untracked table's rows under the same model version are not seen by
 *     a backend that cached it.  Tables with row-level security are not
 *     cached.
 * Like fm_query, the result is kept per call site and recomputed only when
 * the arguments change: ORDER BY fm_score(fm_fold_in(...), embedding, bias)
 * folds in once per statement, not once per candidate row.
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/foldin.h"
#include "fm_catalog.h"
#include "fm_compat.h"
#include "fm_topk.h"
#include "fm_vector.h"

#define N_ARGS 6
#define MAX_LISTED 5			/* unknown items named in an error */

typedef struct ModelInfo
{
	char	   *method;
	int32		k;
	double		w0;
	int64		version;
	bool		implicit;
	double		reg_w;			/* NaN when the model has none */
	double		reg_v;
	double		unobserved_weight;
	double		confidence;
	double		reg_exponent;
	double		popularity_exponent;
	double		positive_threshold; /* NaN: every rating is a positive */
	Oid			source;			/* training relation, InvalidOid if gone or not readable */
	char	   *target;			/* its target column */
	char	   *item_key;		/* its item key column (implicit models) */
} ModelInfo;

typedef struct ItemTable
{
	Oid			relid;
	char	   *key;
	char	   *bias;
	char	   *embedding;
	char	   *version;		/* NULL: the table records no model version */
} ItemTable;

/*
 * What a cached Gramian was computed from: the model's training, the item
 * table's files, the role, and the table's fm_topk_track version when it is
 * tracked (then every change of its rows gives a new one; -2 untracked).
 */
typedef struct GramStamp
{
	int64		model_version;
	Oid			relid;
	RelFileLocator node;
	Oid			userid;
	int64		table_version;
} GramStamp;

/* The iALS Gramian of one stamp, kept per backend. */
typedef struct GramEntry
{
	char	   *model;
	GramStamp	stamp;
	int32		k;
	double		alpha_sum;		/* sum of the unobserved weights */
	double	   *gram;			/* (k+2)^2 */
	struct GramEntry *next;
} GramEntry;

static GramEntry *gram_cache = NULL;

/* The core's allocator: zeroed, 64-byte aligned, from the current memory context. */
static void *
palloc_aligned64(size_t bytes, void *arg)
{
	char	   *p = palloc0(bytes + 64);

	return p + (64 - ((uintptr_t) p & 63));
}

#define GRAM_CACHE_SIZE 4

static double
getfloat8(HeapTuple tuple, TupleDesc desc, int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, column, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

static char *
gettext_or_null(HeapTuple tuple, TupleDesc desc, int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, column, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static void
read_model(const char *model, ModelInfo *m)
{
	const char *s = fmrec_schema_quoted();
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(model)};
	HeapTuple	t;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *sql = psprintf(
							   "SELECT m.method, m.k, m.w0, m.version, m.target,"
							   " (m.params OPERATOR(pg_catalog.->>) 'reg_w')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'reg_v')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'regularization')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'unobserved_weight')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'confidence')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'reg_exponent')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'popularity_exponent')::pg_catalog.float8,"
							   " (m.params OPERATOR(pg_catalog.->>) 'positive_threshold')::pg_catalog.float8,"
							   " CASE WHEN pg_catalog.has_table_privilege(pg_catalog.to_regclass(m.source), 'SELECT')"
							   " THEN pg_catalog.to_regclass(m.source)::pg_catalog.oid END,"
							   " (m.params OPERATOR(pg_catalog.->) 'item_features') OPERATOR(pg_catalog.->>) 0"
							   " FROM %s.fm_model m WHERE m.model OPERATOR(pg_catalog.=) $1", s);

	if (SPI_execute_with_args(sql, 1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "fmrec: reading fm_model failed");
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model),
				 errhint("Train it with fm_train_from_table; SELECT model FROM fm_model lists the models.")));
	t = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	m->method = gettext_or_null(t, desc, 1);
	m->k = DatumGetInt32(SPI_getbinval(t, desc, 2, &isnull));
	m->w0 = getfloat8(t, desc, 3);
	m->version = DatumGetInt64(SPI_getbinval(t, desc, 4, &isnull));
	m->target = gettext_or_null(t, desc, 5);
	m->reg_w = getfloat8(t, desc, 6);
	m->reg_v = getfloat8(t, desc, 7);
	m->implicit = strcmp(m->method, "ials") == 0 || strcmp(m->method, "bpr") == 0;
	if (m->implicit)
		m->reg_w = m->reg_v = getfloat8(t, desc, 8);	/* one "regularization" */
	m->unobserved_weight = getfloat8(t, desc, 9);
	m->confidence = getfloat8(t, desc, 10);
	m->reg_exponent = getfloat8(t, desc, 11);
	m->popularity_exponent = getfloat8(t, desc, 12);
	m->positive_threshold = getfloat8(t, desc, 13);
	d = SPI_getbinval(t, desc, 14, &isnull);
	m->source = isnull ? InvalidOid : DatumGetObjectId(d);
	m->item_key = gettext_or_null(t, desc, 15);
}

/*
 * The item table registered with the model (fm_item_tables, filled by
 * fm_materialize_items); `wanted` picks one when there are several.
 */
static void
read_item_table(const char *model, Oid wanted, ItemTable *it)
{
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		args[2] = {CStringGetTextDatum(model), ObjectIdGetDatum(wanted)};
	char		nulls[2] = {' ', OidIsValid(wanted) ? ' ' : 'n'};
	HeapTuple	t;
	TupleDesc	desc;
	bool		isnull;
	char	   *sql = psprintf(
							   "SELECT r.item_table::pg_catalog.oid, r.key_column::pg_catalog.text,"
							   " r.bias_column::pg_catalog.text, r.embedding_column::pg_catalog.text,"
							   " r.version_column::pg_catalog.text"
							   " FROM %s.fm_item_tables r WHERE r.model OPERATOR(pg_catalog.=) $1"
							   " AND ($2 IS NULL OR r.item_table::pg_catalog.oid OPERATOR(pg_catalog.=) $2)",
							   fmrec_schema_quoted());

	if (SPI_execute_with_args(sql, 2, types, args, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fmrec: reading fm_item_tables failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg(OidIsValid(wanted) ? "table %s is not an item table of model \"%s\"" :
						"model \"%s\" has no item table%s", OidIsValid(wanted) ?
						get_rel_name(wanted) : model, OidIsValid(wanted) ? model : ""),
				 errhint("fm_fold_in reads item vectors from a table registered with fm_materialize_items('%s', table).",
						 model)));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has %d item tables", model, (int) SPI_processed),
				 errhint("Name one with the item_table argument (SELECT * FROM fm_item_tables lists them).")));
	t = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	it->relid = DatumGetObjectId(SPI_getbinval(t, desc, 1, &isnull));
	it->key = gettext_or_null(t, desc, 2);
	it->bias = gettext_or_null(t, desc, 3);
	it->embedding = gettext_or_null(t, desc, 4);
	it->version = gettext_or_null(t, desc, 5);
}

/* The SQL expression of "this row's vectors come from another training" (false without a version column). */
static char *
stale_sql(const ItemTable *it, const ModelInfo *m)
{
	if (it->version == NULL)
		return pstrdup("false");
	return psprintf("(t.%s IS DISTINCT FROM " INT64_FORMAT "::pg_catalog.int8)",
					quote_identifier(it->version), m->version);
}

static void
check_item_vector(const ModelInfo *m, const ItemTable *it, bool isnull, const FmVector *v,
				  bool stale, const char *what)
{
	if (stale)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the vectors of %s of %s are not from the current training of the model",
						what, get_rel_name(it->relid)),
				 errhint("Run fm_materialize_items again.")));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s of %s has no %s", what, get_rel_name(it->relid), it->embedding),
				 errhint("Run fm_materialize_items to fill the item vectors.")));
	if (v->dim != m->k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the %s of %s of %s has dimension %d, the model has k = %d", it->embedding, what,
						get_rel_name(it->relid), v->dim, m->k),
				 errhint("Run fm_materialize_items again.")));
}

/*
 * G = sum_j alpha_j ea_j ea_j^T over every row of the item table with a
 * vector, alpha_j iALS's unobserved weight alpha0 N (n_j + 1)^beta /
 * sum (n_j + 1)^beta.  n_j, the item's positives in training, is counted
 * from the model's training relation (rows at or above positive_threshold);
 * it only matters when beta (popularity_exponent) is not 0, and it is
 * exact as long as that relation is unchanged (training also holds out
 * validation_fraction of them: a near-uniform 10% less, whose effect on
 * (n + 1)^beta is small).  Without the relation (dropped, or no SELECT
 * privilege on it) the weights are uniform.
 */
static GramEntry *
compute_gram(const char *model, const ModelInfo *m, const ItemTable *it)
{
	int32		k = m->k;
	int32		dim = k + 2;
	double	   *gram;
	double		total = 0.0;
	int64		n = 0;
	bool		counts = m->popularity_exponent != 0.0 && OidIsValid(m->source) && m->item_key;
	StringInfoData sql;
	Portal		portal;
	GramEntry  *entry;
	MemoryContext top = TopMemoryContext;

	/* built in the current context, copied to the cache once complete */
	gram = palloc0(sizeof(double) * dim * dim);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT t.%s, t.%s::pg_catalog.float8, %s, ",
					 quote_identifier(it->embedding), quote_identifier(it->bias), stale_sql(it, m));
	if (counts)
	{
		appendStringInfo(&sql, "COALESCE(c.n, 0)::pg_catalog.float8 FROM %s t LEFT JOIN"
						 " (SELECT s.%s::pg_catalog.text AS key, pg_catalog.count(*) AS n FROM %s s",
						 fmrec_relation_sql(it->relid), quote_identifier(m->item_key),
						 fmrec_relation_sql(m->source));
		if (!isnan(m->positive_threshold))
			appendStringInfo(&sql, " WHERE s.%s OPERATOR(pg_catalog.>=) %.17g::pg_catalog.float8",
							 quote_identifier(m->target), m->positive_threshold);
		appendStringInfo(&sql, " GROUP BY 1) c ON c.key OPERATOR(pg_catalog.=) t.%s::pg_catalog.text",
						 quote_identifier(it->key));
	}
	else
	{
		if (m->popularity_exponent != 0.0)
			ereport(NOTICE,
					(errmsg("the training relation of model \"%s\" is gone or not readable: fold-in weighs every unobserved item alike",
							model),
					 errhint("iALS weighs an unobserved item by its popularity in training, counted from that relation.")));
		appendStringInfo(&sql, "0::pg_catalog.float8 FROM %s t", fmrec_relation_sql(it->relid));
	}
	appendStringInfo(&sql, " WHERE t.%s IS NOT NULL", quote_identifier(it->embedding));

	portal = SPI_cursor_open_with_args(NULL, sql.data, 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	t = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		v = SPI_getbinval(t, desc, 1, &isnull);
			FmShortVectorBuf buf;
			const FmVector *e = fm_vector_inplace(v, &buf);
			double		b = getfloat8(t, desc, 2);
			bool		stale = DatumGetBool(SPI_getbinval(t, desc, 3, &isnull));
			double		w = pow(getfloat8(t, desc, 4) + 1.0, m->popularity_exponent);

			check_item_vector(m, it, false, e, stale, "a row");
			if (isnan(b))
				b = 0.0;
			fm_fold_in_gram_add(gram, k, b, e->x, w);
			total += w;
			n++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	if (n > 0)
		for (int32 s = 0; s < dim * dim; s++)
			gram[s] *= m->unobserved_weight * (double) n / total;

	entry = MemoryContextAllocZero(top, sizeof(GramEntry));
	entry->model = MemoryContextStrdup(top, model);
	entry->k = k;
	entry->alpha_sum = m->unobserved_weight * (double) n;
	entry->gram = MemoryContextAlloc(top, sizeof(double) * dim * dim);
	memcpy(entry->gram, gram, sizeof(double) * dim * dim);
	return entry;
}

static void
free_gram(GramEntry *e)
{
	pfree(e->gram);
	pfree(e->model);
	pfree(e);
}

/*
 * The Gramian for this call: from the cache when its stamp matches, else
 * computed (and cached, unless row-level security applies to the table:
 * what it shows may change with any setting a policy reads).  *transient
 * tells the caller to free_gram() it after use.
 */
static GramEntry *
cached_gram(const char *model, const ModelInfo *m, const ItemTable *it, Oid schema, bool *transient)
{
	GramEntry **link = &gram_cache;
	GramEntry  *e;
	int			count = 0;
	GramStamp	st;
	Relation	rel;
	bool		rls;

	memset(&st, 0, sizeof(st));
	rel = table_open(it->relid, AccessShareLock);
	st.model_version = m->version;
	st.relid = it->relid;
	st.node = FM_RELATION_LOCATOR(rel);
	st.userid = GetUserId();
	rls = rel->rd_rel->relrowsecurity;
	st.table_version = -2;
	if (!rls && fm_topk_is_tracked(rel, schema))
		st.table_version = fm_topk_tracked_version(it->relid, schema);
	table_close(rel, NoLock);

	*transient = rls;
	if (!rls)
		for (e = gram_cache; e != NULL; e = e->next)
			if (memcmp(&e->stamp, &st, sizeof(st)) == 0 && e->k == m->k && strcmp(e->model, model) == 0)
				return e;
	e = compute_gram(model, m, it);
	e->stamp = st;
	if (rls)
		return e;
	e->next = gram_cache;
	gram_cache = e;
	/* keep the newest few */
	for (link = &gram_cache; *link != NULL; link = &(*link)->next)
		if (++count == GRAM_CACHE_SIZE && (*link)->next != NULL)
		{
			GramEntry  *old = (*link)->next;

			(*link)->next = NULL;
			while (old != NULL)
			{
				GramEntry  *next = old->next;

				free_gram(old);
				old = next;
			}
			break;
		}
	return e;
}

/*
 * The context's scalar (without w0) and query vector: the context is the
 * user's side of the FM, read exactly as fm_item reads an item (its kinds,
 * unknown names 42703, unknown values nothing).
 */
static FmVector *
read_context(Datum model, Datum context, bool context_null, double *scalar)
{
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		args[2] = {model, context};
	char		nulls[2] = {' ', context_null ? 'n' : ' '};
	bool		isnull;
	Datum		v;
	char	   *sql = psprintf("SELECT c.bias::pg_catalog.float8, c.embedding "
							   "FROM %s.fm_item($1, coalesce($2, '{}'::pg_catalog.jsonb)) c",
							   fmrec_schema_quoted());

	if (SPI_execute_with_args(sql, 2, types, args, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "fmrec: fm_item of the fold-in context failed");
	*scalar = getfloat8(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		elog(ERROR, "fmrec: fm_item of the fold-in context returned no vector");
	if (isnan(*scalar))
		*scalar = 0.0;
	return DatumGetFmVector(v);
}

/* The items' text forms (an error on NULL elements). */
static char **
item_texts(ArrayType *items, int *n)
{
	Oid			elem = ARR_ELEMTYPE(items);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *values;
	bool	   *nulls;
	Oid			out;
	bool		varlena;
	char	  **texts;

	get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
	deconstruct_array(items, elem, typlen, typbyval, typalign, &values, &nulls, n);
	getTypeOutputInfo(elem, &out, &varlena);
	texts = palloc(sizeof(char *) * (*n + 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("items must not contain NULL (element %d)", i + 1)));
		texts[i] = OidOutputFunctionCall(out, values[i]);
	}
	return texts;
}

static double *
read_ratings(ArrayType *ratings, int n_items)
{
	Datum	   *values;
	bool	   *nulls;
	int			n;
	double	   *r;

	deconstruct_array(ratings, FLOAT4OID, 4, true, TYPALIGN_INT, &values, &nulls, &n);
	if (n != n_items)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("items and ratings differ in length: %d and %d", n_items, n)));
	r = palloc(sizeof(double) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("ratings must not contain NULL (element %d)", i + 1)));
		r[i] = DatumGetFloat4(values[i]);
		if (!isfinite(r[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("rating %d is %g: ratings must be finite", i + 1, r[i])));
	}
	return r;
}

/*
 * Bias and embedding of each rated item, looked up by the key column (its
 * own type: the text forms are cast to it, so an index on the key serves).
 */
static void
read_rated_items(const ModelInfo *m, const ItemTable *it, char **texts, int n,
				 const float **e, double *b)
{
	Oid			keytype = get_atttype(it->relid, get_attnum(it->relid, it->key));
	Datum	   *elems = palloc(sizeof(Datum) * (n + 1));
	ArrayType  *keys;
	Oid			types[1] = {TEXTARRAYOID};
	Datum		args[1];
	bool	   *found = palloc0(sizeof(bool) * (n + 1));
	StringInfoData unknown;
	int			n_unknown = 0;
	char	   *sql;

	if (!OidIsValid(keytype))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", it->key, get_rel_name(it->relid))));
	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(texts[i]);
	keys = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	args[0] = PointerGetDatum(keys);
	sql = psprintf("SELECT u.i::pg_catalog.int4, t.%s, t.%s::pg_catalog.float8, %s"
				   " FROM pg_catalog.unnest($1::%s[]) WITH ORDINALITY AS u(k, i)"
				   " JOIN %s t ON t.%s OPERATOR(pg_catalog.=) u.k",
				   quote_identifier(it->embedding), quote_identifier(it->bias), stale_sql(it, m),
				   format_type_be_qualified(keytype), fmrec_relation_sql(it->relid),
				   quote_identifier(it->key));
	if (SPI_execute_with_args(sql, 1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "fmrec: reading the rated items failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			i = DatumGetInt32(SPI_getbinval(t, desc, 1, &isnull)) - 1;
		Datum		v = SPI_getbinval(t, desc, 2, &isnull);
		FmVector   *vec = isnull ? NULL : DatumGetFmVector(v);
		bool		stale = DatumGetBool(SPI_getbinval(t, desc, 4, &isnull));

		if (found[i])
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("item %s occurs more than once in %s", texts[i], get_rel_name(it->relid))));
		found[i] = true;
		check_item_vector(m, it, vec == NULL, vec, stale, psprintf("item %s", texts[i]));
		e[i] = vec->x;
		b[i] = getfloat8(t, desc, 3);
		if (isnan(b[i]))
			b[i] = 0.0;
	}
	initStringInfo(&unknown);
	for (int i = 0; i < n; i++)
		if (!found[i])
		{
			if (n_unknown < MAX_LISTED)
				appendStringInfo(&unknown, "%s%s", n_unknown ? ", " : "", texts[i]);
			n_unknown++;
		}
	if (n_unknown > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d of %d items are not in %s: %s%s", n_unknown, n, get_rel_name(it->relid),
						unknown.data, n_unknown > MAX_LISTED ? ", ..." : ""),
				 errhint("Fold-in needs the items' vectors: add the items to %s and run fm_materialize_items.",
						 get_rel_name(it->relid))));
}

static FmVector *
fold_in(Datum *args, bool *nulls, MemoryContext result_context, Oid schema)
{
	char	   *model = TextDatumGetCString(args[0]);
	ModelInfo	m;
	ItemTable	it;
	FmVector   *q0;
	FmVector   *result;
	double		scalar;
	char	  **texts;
	int			n;
	double	   *ratings = NULL;
	const float **e;
	double	   *b,
			   *target,
			   *weight;
	int			used = 0;
	double		reg_w,
				reg_v;
	FmFoldIn	f;
	double		u;
	FmFoldInStatus st;
	FmAllocator alloc = {palloc_aligned64, NULL};

	texts = item_texts(DatumGetArrayTypeP(args[2]), &n);
	if (!nulls[3])
		ratings = read_ratings(DatumGetArrayTypeP(args[3]), n);
	if (!nulls[4] && !(DatumGetFloat8(args[4]) >= 0.0 && isfinite(DatumGetFloat8(args[4]))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("regularization must be a non-negative finite number, not %g",
						DatumGetFloat8(args[4]))));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	read_model(model, &m);
	q0 = read_context(args[0], args[1], nulls[1], &scalar);
	if (q0->dim != m.k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the context vector has dimension %d, the model has k = %d", q0->dim, m.k)));
	result = (FmVector *) MemoryContextAlloc(result_context, FM_VECTOR_SIZE(m.k));
	SET_VARSIZE(result, FM_VECTOR_SIZE(m.k));
	result->dim = m.k;
	if (n == 0)
	{
		/* no rating: the context vector alone (cold start) */
		memcpy(result->x, q0->x, sizeof(float4) * m.k);
		SPI_finish();
		return result;
	}
	read_item_table(model, nulls[5] ? InvalidOid : DatumGetObjectId(args[5]), &it);
	e = palloc(sizeof(float *) * n);
	b = palloc(sizeof(double) * n);
	target = palloc(sizeof(double) * n);
	weight = palloc(sizeof(double) * n);
	read_rated_items(&m, &it, texts, n, e, b);

	memset(&f, 0, sizeof(f));
	reg_w = nulls[4] ? m.reg_w : DatumGetFloat8(args[4]);
	reg_v = nulls[4] ? m.reg_v : DatumGetFloat8(args[4]);
	if (m.implicit)
	{
		/*
		 * iALS: a positive (a rating at or above positive_threshold, or any
		 * item when ratings is NULL, as target 1) weighs 1 + confidence *
		 * target, with target 1; the rest are not positives, as in training.
		 */
		bool		transient;
		GramEntry  *g = cached_gram(model, &m, &it, schema, &transient);
		double		conf = isnan(m.confidence) ? 0.0 : m.confidence;
		double		frequency;

		for (int i = 0; i < n; i++)
		{
			double		r = ratings ? ratings[i] : 1.0;

			if (ratings && !isnan(m.positive_threshold) && r < m.positive_threshold)
				continue;
			e[used] = e[i];
			b[used] = b[i];
			target[used] = 1.0;
			weight[used] = 1.0 + conf * r;
			if (!(weight[used] > 0.0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rating %g gives the non-positive confidence %g", r, weight[used])));
			used++;
		}
		/* lambda_f = reg (W + U)^reg_exponent, W the user's confidences, U sum alpha */
		frequency = g->alpha_sum;
		for (int i = 0; i < used; i++)
			frequency += weight[i];
		frequency = pow(frequency, isnan(m.reg_exponent) ? 0.0 : m.reg_exponent);
		f.lambda_w = reg_w * frequency;
		f.lambda_v = reg_v * frequency;
		f.gram = g->gram;
		if (transient)
		{
			/* not cached: a copy in this call's memory, the entry freed now */
			Size		bytes = sizeof(double) * (m.k + 2) * (m.k + 2);
			double	   *copy = palloc(bytes);

			memcpy(copy, g->gram, bytes);
			f.gram = copy;
			free_gram(g);
		}
	}
	else
	{
		bool		per_rating = strcmp(m.method, "sgd") == 0 || strcmp(m.method, "adam") == 0;

		if (!ratings)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("model \"%s\" (method %s) predicts ratings: fold-in needs the ratings", model, m.method)));
		for (int i = 0; i < n; i++)
		{
			target[i] = ratings[i];
			weight[i] = 1.0;
		}
		used = n;
		/* MCMC learns its priors and stores no penalty: ALS's default */
		if (isnan(reg_w) || reg_w == 0.0)
			reg_w = nulls[4] ? 7.0 : reg_w;
		if (isnan(reg_v) || reg_v == 0.0)
			reg_v = nulls[4] ? 7.0 : reg_v;
		/* SGD and Adam penalise at every update: n times per pass over the user's ratings */
		f.lambda_w = per_rating ? reg_w * n : reg_w;
		f.lambda_v = per_rating ? reg_v * n : reg_v;
	}
	if (!(f.lambda_v > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fold-in needs a positive regularization")));
	f.k = m.k;
	f.s0 = m.w0 + scalar;
	f.q0 = q0->x;
	f.n = used;
	f.e = e;
	f.b = b;
	f.target = target;
	f.weight = weight;
	st = fm_fold_in_solve(&f, &alloc, &u, result->x);
	if (st != FM_FOLD_IN_OK)
		ereport(ERROR,
				(errcode(st == FM_FOLD_IN_NOT_FINITE ? ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE :
						 ERRCODE_DATA_EXCEPTION),
				 errmsg(st == FM_FOLD_IN_NOT_FINITE ? "fold-in of model \"%s\" gives a value that is not finite" :
						"fold-in of model \"%s\": the system is singular", model),
				 errhint("Check the item vectors (fm_materialize_items) or raise regularization.")));
	SPI_finish();
	return result;
}

/* The last result of a call site and its arguments (see fm_serve.c). */
typedef struct FoldInCache
{
	bool		valid;
	bool		nulls[N_ARGS];
	Datum		args[N_ARGS];
	FmVector   *result;
} FoldInCache;

PG_FUNCTION_INFO_V1(fm_fold_in);
Datum
fm_fold_in(PG_FUNCTION_ARGS)
{
	MemoryContext cache_context = fcinfo->flinfo->fn_mcxt;
	FoldInCache *cache = (FoldInCache *) fcinfo->flinfo->fn_extra;
	static const bool byval[N_ARGS] = {false, false, false, false, FLOAT8PASSBYVAL, true};
	static const int16 len[N_ARGS] = {-1, -1, -1, -1, 8, 4};
	Datum		args[N_ARGS];
	bool		nulls[N_ARGS];
	bool		same;
	FmVector   *result;
	MemoryContext old;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	for (int i = 0; i < N_ARGS; i++)
	{
		nulls[i] = PG_ARGISNULL(i);
		args[i] = nulls[i] ? (Datum) 0 :
			byval[i] ? PG_GETARG_DATUM(i) : PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(i)));
	}
	same = cache != NULL && cache->valid;
	for (int i = 0; same && i < N_ARGS; i++)
		same = nulls[i] == cache->nulls[i] &&
			(nulls[i] || datumIsEqual(args[i], cache->args[i], byval[i], len[i]));
	if (same)
		PG_RETURN_POINTER(cache->result);

	result = fold_in(args, nulls, cache_context, get_func_namespace(fcinfo->flinfo->fn_oid));
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(cache_context, sizeof(FoldInCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	old = MemoryContextSwitchTo(cache_context);
	if (cache->result != NULL)
		pfree(cache->result);
	for (int i = 0; i < N_ARGS; i++)
	{
		if (cache->valid && !cache->nulls[i] && !byval[i])
			pfree(DatumGetPointer(cache->args[i]));
		cache->nulls[i] = nulls[i];
		cache->args[i] = nulls[i] ? (Datum) 0 : datumCopy(args[i], byval[i], len[i]);
	}
	cache->valid = true;
	cache->result = result;
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(result);
}

/*
 * fm_serve.c - the serving functions: fm_predict, fm_query, fm_item for a
 * jsonb context, rows, parallel text arrays, and fm_predict_batch.
 *
 * Each call site (an fm_predict(...) in a query) keeps in fn_extra the
 * model (fm_serve_model.c: its fm_model row and a memo of its fm_feature
 * rows, valid for the statement's snapshot) and its buffers, so a query
 * over 20,000 rows reads fm_model once and each feature value once.
 * Turning the arguments into (w, v, x) terms is fm_serve_context.c; the
 * FM equation is src/core/serve.c.
 *
 * fm_query also keeps its last result: inside
 *     ORDER BY fm_score(fm_query('m', '{"gender": "F"}'), embedding, bias)
 * it is called once per candidate row with the same arguments and returns
 * the same vector without recomputing it (a STABLE function may).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "core/serve.h"
#include "fm_serve_context.h"
#include "fm_serve_model.h"
#include "fm_vector.h"

typedef struct FmServeSite
{
	FmServeModel *model;
	FmServeDescription desc;
	float	   *total;			/* k floats */
	double	   *acc;			/* k doubles of scratch */
	int			total_k;
	FmRowMap  **rows;			/* per argument of the row form */
	int			nrows;
	/* fm_query's last call: its arguments (copies) and result */
	int			nlast;
	Datum		last[3];
	bool		last_null[3];
	uint64		last_load;
	FmVector   *last_result;
} FmServeSite;

static FmServeSite *
site_of(FunctionCallInfo fcinfo)
{
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmServeSite));
	return (FmServeSite *) fcinfo->flinfo->fn_extra;
}

static FmServeModel *
site_model(FunctionCallInfo fcinfo, FmServeSite *site)
{
	FmServeModel *m = fm_serve_model_get(&site->model, fcinfo->flinfo->fn_mcxt,
										 PG_GETARG_TEXT_PP(0));

	if (site->total_k != m->k)
	{
		if (site->total != NULL)
		{
			pfree(site->total);
			pfree(site->acc);
		}
		site->total = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(float) * Max(m->k, 1));
		site->acc = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(double) * Max(m->k, 1));
		site->total_k = m->k;
	}
	return m;
}

static void
begin(FunctionCallInfo fcinfo, FmServeSite *site, FmServeModel *m)
{
	fm_desc_begin(&site->desc, m, fcinfo->flinfo->fn_mcxt);
}

/* The sums of the description just built. */
static FmServeSums
sums_of(FmServeSite *site)
{
	FmServeSums sums;

	sums.total = site->total;
	sums.acc = site->acc;
	fm_serve_sums(site->desc.terms, site->desc.nterms, site->desc.m->k, &sums);
	return sums;
}

static double
prediction(FmServeSite *site)
{
	FmServeModel *m = site->desc.m;
	FmServeSums sums = sums_of(site);

	return fm_serve_predict(m->w0, &sums, m->k, m->target_min, m->target_max);
}

static FmVector *
total_vector(FmServeSite *site, const FmServeSums *sums)
{
	int			k = site->desc.m->k;
	FmVector   *v = fm_vector_new(k);

	memcpy(v->x, sums->total, sizeof(float4) * k);
	fm_vector_check_finite_result(v);
	return v;
}

static Datum
item_result(FunctionCallInfo fcinfo, FmServeSite *site)
{
	FmServeSums sums = sums_of(site);
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fmrec: fm_item must return a composite");
	desc = BlessTupleDesc(desc);
	values[0] = Float4GetDatum((float4) (sums.linear + fm_serve_pairwise(&sums, site->desc.m->k)));
	values[1] = PointerGetDatum(total_vector(site, &sums));
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* Builds the description of the arguments after the model, by form. */
static void
describe_jsonb(FunctionCallInfo fcinfo, FmServeSite *site, FmServeModel *m)
{
	begin(fcinfo, site, m);
	fm_desc_add_jsonb(&site->desc, PG_GETARG_JSONB_P(1));
	fm_desc_end(&site->desc);
}

/* (NULL arrays: nothing known, as in 0.2.0) */
static void
describe_arrays(FunctionCallInfo fcinfo, FmServeSite *site, FmServeModel *m)
{
	begin(fcinfo, site, m);
	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
		fm_desc_add_arrays(&site->desc, PG_GETARG_ARRAYTYPE_P(1), PG_GETARG_ARRAYTYPE_P(2));
	fm_desc_end(&site->desc);
}

/* Rows (composite values) from argument 1 on; NULL rows are absent. */
static void
describe_rows(FunctionCallInfo fcinfo, FmServeSite *site, FmServeModel *m)
{
	int			nargs = PG_NARGS();

	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the row form of fm_predict takes its rows as separate arguments, not VARIADIC")));
	if (site->nrows < nargs)
	{
		site->rows = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmRowMap *) * nargs);
		site->nrows = nargs;
	}
	begin(fcinfo, site, m);
	for (int i = 1; i < nargs; i++)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, i);

		if (PG_ARGISNULL(i))
			continue;
		if (!type_is_rowtype(type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("argument %d of fm_predict's row form is of type %s, not a row", i + 1,
							format_type_be(type)),
					 errhint("Pass rows of tables, e.g. fm_predict('model', u, m) FROM users u, movies m; "
							 "for a list of values use the jsonb form.")));
		fm_desc_add_row(&site->desc, PG_GETARG_DATUM(i), &site->rows[i], fcinfo->flinfo->fn_mcxt);
	}
	fm_desc_end(&site->desc);
}

/* ---- fm_predict ---- */

PG_FUNCTION_INFO_V1(fm_predict_jsonb);
Datum
fm_predict_jsonb(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);

	describe_jsonb(fcinfo, site, site_model(fcinfo, site));
	PG_RETURN_FLOAT8(prediction(site));
}

PG_FUNCTION_INFO_V1(fm_predict_arrays);
Datum
fm_predict_arrays(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	describe_arrays(fcinfo, site, site_model(fcinfo, site));
	PG_RETURN_FLOAT8(prediction(site));
}

PG_FUNCTION_INFO_V1(fm_predict_rows);
Datum
fm_predict_rows(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	describe_rows(fcinfo, site, site_model(fcinfo, site));
	PG_RETURN_FLOAT8(prediction(site));
}

/* One prediction per context of a jsonb[]; NULL elements give NULL. */
PG_FUNCTION_INFO_V1(fm_predict_batch);
Datum
fm_predict_batch(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);
	FmServeModel *m = site_model(fcinfo, site);
	ArrayType  *contexts = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum	   *out;
	int			dims[1];
	int			lbs[1] = {1};

	deconstruct_array(contexts, JSONBOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	out = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		begin(fcinfo, site, m);
		fm_desc_add_jsonb(&site->desc, DatumGetJsonbP(elems[i]));
		fm_desc_end(&site->desc);
		out[i] = Float8GetDatum(prediction(site));
	}
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));
	dims[0] = n;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, nulls, 1, dims, lbs, FLOAT8OID, 8,
											 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ---- fm_query: the context's embedding, cached per call site ---- */

static bool
same_as_last(FunctionCallInfo fcinfo, FmServeSite *site)
{
	if (site->last_result == NULL || site->nlast != PG_NARGS() ||
		site->last_load != site->model->load_id)
		return false;
	for (int i = 0; i < site->nlast; i++)
	{
		if (PG_ARGISNULL(i) != site->last_null[i])
			return false;
		if (!PG_ARGISNULL(i) &&
			!datumIsEqual(site->last[i], PointerGetDatum(PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(i))), false, -1))
			return false;
	}
	return true;
}

/* Keeps result and arguments, freeing the previous ones (bounded per call site). */
static void
remember(FunctionCallInfo fcinfo, FmServeSite *site, FmVector *result)
{
	MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

	for (int i = 0; i < site->nlast; i++)
		if (!site->last_null[i])
			pfree(DatumGetPointer(site->last[i]));
	if (site->last_result != NULL)
		pfree(site->last_result);
	site->nlast = PG_NARGS();
	for (int i = 0; i < site->nlast; i++)
	{
		site->last_null[i] = PG_ARGISNULL(i);
		if (!site->last_null[i])
			site->last[i] = datumCopy(PointerGetDatum(PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(i))), false, -1);
	}
	site->last_result = (FmVector *) datumCopy(PointerGetDatum(result), false, -1);
	site->last_load = site->model->load_id;
	MemoryContextSwitchTo(old);
}

static Datum
query_result(FunctionCallInfo fcinfo, FmServeSite *site)
{
	FmServeSums sums = sums_of(site);
	FmVector   *result = total_vector(site, &sums);

	remember(fcinfo, site, result);
	PG_RETURN_POINTER(result);
}

PG_FUNCTION_INFO_V1(fm_query_jsonb);
Datum
fm_query_jsonb(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);
	FmServeModel *m = site_model(fcinfo, site);

	if (same_as_last(fcinfo, site))
		PG_RETURN_POINTER(site->last_result);
	describe_jsonb(fcinfo, site, m);
	return query_result(fcinfo, site);
}

/* the array form (C symbol of 0.2.0) */
PG_FUNCTION_INFO_V1(fm_query);
Datum
fm_query(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);
	FmServeModel *m = site_model(fcinfo, site);

	if (same_as_last(fcinfo, site))
		PG_RETURN_POINTER(site->last_result);
	describe_arrays(fcinfo, site, m);
	return query_result(fcinfo, site);
}

/* ---- fm_item: an item's bias (linear + own pairwise terms) and embedding ---- */

PG_FUNCTION_INFO_V1(fm_item_jsonb);
Datum
fm_item_jsonb(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);

	describe_jsonb(fcinfo, site, site_model(fcinfo, site));
	return item_result(fcinfo, site);
}

PG_FUNCTION_INFO_V1(fm_item_arrays);
Datum
fm_item_arrays(PG_FUNCTION_ARGS)
{
	FmServeSite *site = site_of(fcinfo);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	describe_arrays(fcinfo, site, site_model(fcinfo, site));
	return item_result(fcinfo, site);
}

/*
 * fm_serve.c - fm_query(): the query vector of a context, computed once
 * per statement.
 *
 * The natural serving query calls fm_query() inside ORDER BY:
 *     ORDER BY fm_score(fm_query('m', ARRAY['gender'], ARRAY['F']), embedding, bias)
 * As a STABLE function it is evaluated for every row, and each evaluation
 * looks features up in fm_feature.  A STABLE function returns the same
 * result for the same arguments within a statement, so we keep the last
 * result in the call site's fn_extra and only recompute when the arguments
 * change: the query costs one lookup, not one per candidate item.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"

#include "fm_catalog.h"
#include "fm_vector.h"

typedef struct QueryCache
{
	Datum		args[3];		/* model text, feature text[], value text[] (detoasted copies) */
	FmVector   *result;
} QueryCache;

static bool
same_arguments(const QueryCache *cache, Datum *args)
{
	for (int i = 0; i < 3; i++)
		if (!datumIsEqual(cache->args[i], args[i], false, -1))
			return false;
	return true;
}

/* Runs the SQL-level computation (_fm_query_compute) through SPI. */
static FmVector *
compute_query(Datum *args, MemoryContext result_context)
{
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	FmVector   *result;
	bool		isnull;
	Datum		value;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(psprintf("SELECT %s._fm_query_compute($1, $2, $3)", fmrec_schema_quoted()),
							   3, types, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "fmrec: _fm_query_compute failed: %s", SPI_result_code_string(rc));
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "fmrec: _fm_query_compute returned NULL");
	result = (FmVector *) MemoryContextAlloc(result_context, VARSIZE(DatumGetPointer(value)));
	memcpy(result, DatumGetPointer(value), VARSIZE(DatumGetPointer(value)));
	SPI_finish();
	return result;
}

/*
 * Makes the cache hold a new result and its arguments, freeing the previous
 * ones: the cache lives as long as the query, and a query whose context
 * changes on every row (fm_query(..., ARRAY[user_id::text]) over a table)
 * would otherwise keep one result per row until it ends (700 bytes a row at
 * k = 4).  The previous result may be freed: a caller keeps a function's
 * result only until it calls the function again.  The caller computes
 * the new result first, so an error leaves the cache as it was.
 */
static void
replace_cached_query(QueryCache *cache, Datum *args, FmVector *result,
					 MemoryContext cache_context)
{
	MemoryContext old = MemoryContextSwitchTo(cache_context);

	if (cache->result != NULL)
		pfree(cache->result);
	cache->result = result;
	for (int i = 0; i < 3; i++)
	{
		if (cache->args[i] != (Datum) 0)
			pfree(DatumGetPointer(cache->args[i]));
		cache->args[i] = datumCopy(args[i], false, -1);
	}
	MemoryContextSwitchTo(old);
}

PG_FUNCTION_INFO_V1(fm_query);
Datum
fm_query(PG_FUNCTION_ARGS)
{
	MemoryContext cache_context = fcinfo->flinfo->fn_mcxt;
	QueryCache *cache = (QueryCache *) fcinfo->flinfo->fn_extra;
	Datum		args[3];
	FmVector   *result;

	args[0] = PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)));
	args[1] = PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(1)));
	args[2] = PointerGetDatum(PG_DETOAST_DATUM(PG_GETARG_DATUM(2)));
	if (cache != NULL && same_arguments(cache, args))
		PG_RETURN_POINTER(cache->result);

	result = compute_query(args, cache_context);
	if (cache == NULL)
	{
		cache = (QueryCache *) MemoryContextAllocZero(cache_context, sizeof(QueryCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	replace_cached_query(cache, args, result, cache_context);
	PG_RETURN_POINTER(result);
}

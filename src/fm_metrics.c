/*
 * fm_metrics.c - ranking quality of one recommendation list, for SQL.
 *
 * fm_ranking_metrics(ranked bigint[], relevant bigint[], k) returns
 * precision@k, recall@k and NDCG@k (binary relevance) computed by the core;
 * an analyst averages them over users with avg().
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"

#include "core/metrics.h"

static int64 *
array_to_ids(ArrayType *array, int32 *n, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int64	   *ids;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(array, INT8OID, sizeof(int64), true, TYPALIGN_DOUBLE, &elems, &nulls, &count);
	ids = palloc(sizeof(int64) * Max(count, 1));
	for (int i = 0; i < count; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		ids[i] = DatumGetInt64(elems[i]);
	}
	*n = count;
	return ids;
}

static int
compare_ids(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* The core counts each relevant id once per hit: give it a set. */
static int32
sort_unique(int64 *ids, int32 n)
{
	int32		kept = 0;

	qsort(ids, n, sizeof(int64), compare_ids);
	for (int32 i = 0; i < n; i++)
		if (kept == 0 || ids[kept - 1] != ids[i])
			ids[kept++] = ids[i];
	return kept;
}

PG_FUNCTION_INFO_V1(fm_ranking_metrics);
Datum
fm_ranking_metrics(PG_FUNCTION_ARGS)
{
	int32		n_ranked,
				n_relevant;
	int64	   *ranked = array_to_ids(PG_GETARG_ARRAYTYPE_P(0), &n_ranked, "ranked");
	int64	   *relevant = array_to_ids(PG_GETARG_ARRAYTYPE_P(1), &n_relevant, "relevant");
	int32		k = PG_GETARG_INT32(2);
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	n_relevant = sort_unique(relevant, n_relevant);
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fm_ranking_metrics must return a composite type");
	values[0] = Float8GetDatum(fm_precision_at_k(ranked, n_ranked, relevant, n_relevant, k));
	/* recall and NDCG are undefined without a relevant item */
	nulls[1] = nulls[2] = (n_relevant == 0);
	if (n_relevant > 0)
	{
		values[1] = Float8GetDatum(fm_recall_at_k(ranked, n_ranked, relevant, n_relevant, k));
		values[2] = Float8GetDatum(fm_ndcg_at_k(ranked, n_ranked, relevant, n_relevant, k));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

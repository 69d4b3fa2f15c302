/*
 * fm_vector_agg.c - the aggregates fm_sum(fm_vector) and fm_avg(fm_vector).
 *
 * fm_sum over the metadata embeddings of a new user is the cold-start query
 * vector.  The state is a double-precision running sum kept in the aggregate
 * memory context and updated in place (no palloc per row), with combine,
 * serialise and deserialise functions so the planner can run the aggregate
 * in parallel workers.
 */
#include "postgres.h"

#include <float.h>

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "core/vec.h"
#include "fm_vector.h"

typedef struct FmSumState
{
	int64		count;			/* non-NULL inputs */
	int32		dim;
	double		sum[FLEXIBLE_ARRAY_MEMBER];
} FmSumState;

static FmSumState *
state_new(MemoryContext context, int32 dim)
{
	FmSumState *state = MemoryContextAllocZero(context,
											   offsetof(FmSumState, sum) + sizeof(double) * (Size) dim);

	state->dim = dim;
	return state;
}

static MemoryContext
aggregate_context(FunctionCallInfo fcinfo, const char *caller)
{
	MemoryContext context;

	if (!AggCheckCallContext(fcinfo, &context))
		elog(ERROR, "%s called in non-aggregate context", caller);
	return context;
}

static void
check_state_dims(int32 expected, int32 found)
{
	if (expected != found)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector dimensions differ: %d and %d", expected, found)));
}

PG_FUNCTION_INFO_V1(fm_sum_transfn);
Datum
fm_sum_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_context(fcinfo, "fm_sum_transfn");
	FmSumState *state = PG_ARGISNULL(0) ? NULL : (FmSumState *) PG_GETARG_POINTER(0);
	FmVector   *v;

	if (PG_ARGISNULL(1))		/* NULL inputs are skipped */
		PG_RETURN_POINTER(state);
	v = PG_GETARG_FM_VECTOR(1);
	if (state == NULL)
		state = state_new(context, v->dim);
	check_state_dims(state->dim, v->dim);
	fm_vec_accum_double(state->sum, v->x, v->dim);
	state->count++;
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(fm_sum_combinefn);
Datum
fm_sum_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_context(fcinfo, "fm_sum_combinefn");
	FmSumState *a = PG_ARGISNULL(0) ? NULL : (FmSumState *) PG_GETARG_POINTER(0);
	FmSumState *b = PG_ARGISNULL(1) ? NULL : (FmSumState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
	{
		/* copy b into the aggregate context: it may live in a shorter one */
		a = state_new(context, b->dim);
		memcpy(a->sum, b->sum, sizeof(double) * (Size) b->dim);
		a->count = b->count;
		PG_RETURN_POINTER(a);
	}
	check_state_dims(a->dim, b->dim);
	for (int32 i = 0; i < a->dim; i++)
		a->sum[i] += b->sum[i];
	a->count += b->count;
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(fm_sum_serialfn);
Datum
fm_sum_serialfn(PG_FUNCTION_ARGS)
{
	FmSumState *state = (FmSumState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->count);
	pq_sendint32(&buf, state->dim);
	for (int32 i = 0; i < state->dim; i++)
		pq_sendfloat8(&buf, state->sum[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(fm_sum_deserialfn);
Datum
fm_sum_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext context = aggregate_context(fcinfo, "fm_sum_deserialfn");
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;
	int64		count;
	int32		dim;
	FmSumState *state;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes));
	count = pq_getmsgint64(&buf);
	dim = pq_getmsgint(&buf, 4);
	fm_vector_check_dim(dim);
	state = state_new(context, dim);
	state->count = count;
	for (int32 i = 0; i < dim; i++)
		state->sum[i] = pq_getmsgfloat8(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* Builds the result vector from the state, dividing by `divisor`. */
static FmVector *
state_to_vector(const FmSumState *state, double divisor)
{
	FmVector   *v = fm_vector_new(state->dim);

	for (int32 i = 0; i < state->dim; i++)
	{
		double		value = state->sum[i] / divisor;

		if (value > FLT_MAX || value < -FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range: overflow"),
					 errdetail("Element %d of the sum is beyond the range of type real.", i + 1)));
		v->x[i] = (float4) value;
		if (v->x[i] == 0.0f)
			v->x[i] = 0.0f;
	}
	return v;
}

PG_FUNCTION_INFO_V1(fm_sum_finalfn);
Datum
fm_sum_finalfn(PG_FUNCTION_ARGS)
{
	FmSumState *state = PG_ARGISNULL(0) ? NULL : (FmSumState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_FM_VECTOR(state_to_vector(state, 1.0));
}

PG_FUNCTION_INFO_V1(fm_avg_finalfn);
Datum
fm_avg_finalfn(PG_FUNCTION_ARGS)
{
	FmSumState *state = PG_ARGISNULL(0) ? NULL : (FmSumState *) PG_GETARG_POINTER(0);

	if (state == NULL || state->count == 0)
		PG_RETURN_NULL();
	PG_RETURN_FM_VECTOR(state_to_vector(state, (double) state->count));
}

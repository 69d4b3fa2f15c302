/*
 * fm_vector_ops.c - what computes on fm_vector: scoring, similarity, norms,
 * element-wise arithmetic and equality.  All IMMUTABLE STRICT PARALLEL SAFE.
 *
 * fm_score is evaluated once per candidate row of a serving query, so it
 * allocates nothing: the arguments are used in place (no detoast copy unless
 * a value really is toasted) and the result is a pass-by-value double.
 */
#include "postgres.h"

#include <math.h>

#include "access/heaptoast.h"
#include "common/hashfn.h"
#include "fmgr.h"

#include "core/vec.h"
#include "fm_vector.h"

/*
 * fm_score is the per-row function of "ORDER BY fm_score(q, embedding, bias)
 * DESC LIMIT k", so it reads its vector arguments in place.  A vector of up
 * to 29 dimensions is stored with a 1-byte varlena header, which
 * PG_DETOAST_DATUM would copy into a fresh palloc'ed block for every row;
 * FM_GETARG_VECTOR_INPLACE copies it into a stack buffer instead (aligned
 * for the kernel, no allocation, ~100 bytes).  Longer vectors have a 4-byte
 * header and are used where they lie unless they really are toasted.
 *
 * Used in place, the vector is usually read straight from a shared buffer
 * by a sequential scan, which is then bound by the latency of those reads:
 * the hardware prefetchers do not follow the scan from one tuple to the
 * next, because a heap page is filled from its end, so the next tuple of
 * the page lies just *below* the current one in memory.  Prefetching that
 * memory while this row is scored hides most of it (1M x 120 in shared
 * buffers, medians of 9: sum(fm_score(...)) 256 -> 128-181 ms, ORDER BY
 * ... LIMIT 10 307 -> 169-244 ms, over three alternating runs on a noisy
 * VM).  The call for a row prefetches the row after next, the previous call
 * having prefetched the next one.  Rows of the same width are assumed; when
 * the guess is wrong (not a heap scan, the page ends, a wider row) a
 * prefetch only wastes a cache line: prefetch instructions never fault.
 * Vectors that were copied (short or toasted ones) are not in a page, and
 * inline vectors are at most ~2 kB, so this is a few dozen prefetches.
 */
static inline void
prefetch_tuple_after_next(const FmVector *v)
{
	uintptr_t	here = (uintptr_t) v;
	Size		row = VARSIZE(v) + 64;	/* the vector, a tuple header and a few columns */

	for (Size off = row + 64; off <= 2 * row && off < here; off += 64)
		__builtin_prefetch((const void *) (here - off));
}

PG_FUNCTION_INFO_V1(fm_score);
Datum
fm_score(PG_FUNCTION_ARGS)
{
	FmShortVectorBuf qbuf;
	FmShortVectorBuf ebuf;
	const FmVector *query = FM_GETARG_VECTOR_INPLACE(0, &qbuf);
	const FmVector *embedding = FM_GETARG_VECTOR_INPLACE(1, &ebuf);
	float4		bias = PG_GETARG_FLOAT4(2);

	fm_vector_check_same_dim(query, embedding);
	if ((const void *) embedding == DatumGetPointer(PG_GETARG_DATUM(1)) &&
		VARSIZE(embedding) <= TOAST_TUPLE_THRESHOLD)
		prefetch_tuple_after_next(embedding);
	PG_RETURN_FLOAT8((double) bias + (double) fm_vec_dot(query->x, embedding->x, query->dim));
}

PG_FUNCTION_INFO_V1(fm_dot);
Datum
fm_dot(PG_FUNCTION_ARGS)
{
	FmVector   *a = PG_GETARG_FM_VECTOR(0);
	FmVector   *b = PG_GETARG_FM_VECTOR(1);

	fm_vector_check_same_dim(a, b);
	PG_RETURN_FLOAT8((double) fm_vec_dot(a->x, b->x, a->dim));
}

/*
 * Cosine similarity in [-1, 1].  The cosine of a zero vector is undefined:
 * we return NULL, so "ORDER BY fm_cosine(...) DESC" puts such rows last
 * instead of failing the whole query.
 */
PG_FUNCTION_INFO_V1(fm_cosine);
Datum
fm_cosine(PG_FUNCTION_ARGS)
{
	FmVector   *a = PG_GETARG_FM_VECTOR(0);
	FmVector   *b = PG_GETARG_FM_VECTOR(1);
	double		norms;
	double		cosine;

	fm_vector_check_same_dim(a, b);
	norms = fm_vec_norm(a->x, a->dim) * fm_vec_norm(b->x, b->dim);
	if (norms == 0.0)
		PG_RETURN_NULL();
	cosine = (double) fm_vec_dot(a->x, b->x, a->dim) / norms;
	/* rounding can step just outside [-1, 1] */
	PG_RETURN_FLOAT8(Max(-1.0, Min(1.0, cosine)));
}

PG_FUNCTION_INFO_V1(fm_norm);
Datum
fm_norm(PG_FUNCTION_ARGS)
{
	FmVector   *v = PG_GETARG_FM_VECTOR(0);

	PG_RETURN_FLOAT8(fm_vec_norm(v->x, v->dim));
}

PG_FUNCTION_INFO_V1(fm_dims);
Datum
fm_dims(PG_FUNCTION_ARGS)
{
	FmVector   *v = PG_GETARG_FM_VECTOR(0);

	PG_RETURN_INT32(v->dim);
}

PG_FUNCTION_INFO_V1(fm_vector_add);
Datum
fm_vector_add(PG_FUNCTION_ARGS)
{
	FmVector   *a = PG_GETARG_FM_VECTOR(0);
	FmVector   *b = PG_GETARG_FM_VECTOR(1);
	FmVector   *result;

	fm_vector_check_same_dim(a, b);
	result = fm_vector_new(a->dim);
	fm_vec_add(result->x, a->x, b->x, a->dim);
	fm_vector_check_finite_result(result);
	PG_RETURN_FM_VECTOR(result);
}

PG_FUNCTION_INFO_V1(fm_vector_sub);
Datum
fm_vector_sub(PG_FUNCTION_ARGS)
{
	FmVector   *a = PG_GETARG_FM_VECTOR(0);
	FmVector   *b = PG_GETARG_FM_VECTOR(1);
	FmVector   *result;

	fm_vector_check_same_dim(a, b);
	result = fm_vector_new(a->dim);
	fm_vec_sub(result->x, a->x, b->x, a->dim);
	fm_vector_check_finite_result(result);
	PG_RETURN_FM_VECTOR(result);
}

static FmVector *
scale_vector(const FmVector *v, float4 s)
{
	FmVector   *result;

	if (isnan(s) || isinf(s))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot multiply an fm_vector by %s", isnan(s) ? "NaN" : "infinity")));
	result = fm_vector_new(v->dim);
	fm_vec_scale(result->x, v->x, s, v->dim);
	fm_vector_check_finite_result(result);
	/* x * 0 and x * -0 give -0 for negative x; keep +0 canonical */
	for (int32 i = 0; i < result->dim; i++)
		if (result->x[i] == 0.0f)
			result->x[i] = 0.0f;
	return result;
}

PG_FUNCTION_INFO_V1(fm_vector_mul_scalar);
Datum
fm_vector_mul_scalar(PG_FUNCTION_ARGS)
{
	PG_RETURN_FM_VECTOR(scale_vector(PG_GETARG_FM_VECTOR(0), PG_GETARG_FLOAT4(1)));
}

PG_FUNCTION_INFO_V1(fm_scalar_mul_vector);
Datum
fm_scalar_mul_vector(PG_FUNCTION_ARGS)
{
	PG_RETURN_FM_VECTOR(scale_vector(PG_GETARG_FM_VECTOR(1), PG_GETARG_FLOAT4(0)));
}

/*
 * Ordering, for btree and hash operator classes (DISTINCT, GROUP BY, UNION,
 * unique indexes): element by element, then the shorter vector first.  A
 * total order, so vectors of different dimensions compare (unequal) rather
 * than fail, as a sort must not fail on a mixed column.  Elements are never
 * NaN (rejected on input); -0 equals +0.
 */
static int
vector_cmp(const FmVector *a, const FmVector *b)
{
	int32		n = Min(a->dim, b->dim);

	for (int32 i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

#define VECTOR_COMPARISON(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = vector_cmp(PG_GETARG_FM_VECTOR(0), PG_GETARG_FM_VECTOR(1)); \
	PG_RETURN_BOOL(test); \
}

VECTOR_COMPARISON(fm_vector_eq, c == 0)
VECTOR_COMPARISON(fm_vector_ne, c != 0)
VECTOR_COMPARISON(fm_vector_lt, c < 0)
VECTOR_COMPARISON(fm_vector_le, c <= 0)
VECTOR_COMPARISON(fm_vector_gt, c > 0)
VECTOR_COMPARISON(fm_vector_ge, c >= 0)

PG_FUNCTION_INFO_V1(fm_vector_cmp);
Datum
fm_vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vector_cmp(PG_GETARG_FM_VECTOR(0), PG_GETARG_FM_VECTOR(1)));
}

/* Hash of the dimension and the elements, -0 hashed as +0 (they are equal). */
static uint64
vector_hash(const FmVector *v, uint64 seed)
{
	uint64		h = hash_bytes_uint32_extended((uint32) v->dim, seed);

	for (int32 i = 0; i < v->dim; i++)
	{
		float4		x = v->x[i] == 0.0f ? 0.0f : v->x[i];
		uint32		bits;

		memcpy(&bits, &x, sizeof(bits));
		h = hash_combine64(h, hash_bytes_uint32_extended(bits, seed));
	}
	return h;
}

PG_FUNCTION_INFO_V1(fm_vector_hash);
Datum
fm_vector_hash(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) vector_hash(PG_GETARG_FM_VECTOR(0), 0));
}

PG_FUNCTION_INFO_V1(fm_vector_hash_extended);
Datum
fm_vector_hash_extended(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) vector_hash(PG_GETARG_FM_VECTOR(0), (uint64) PG_GETARG_INT64(1)));
}

/*
 * vec.c - float4 vector kernels.
 *
 * Reductions use FM_VEC_LANES independent float accumulators, combined in a
 * fixed order at the end.  That shape lets the compiler vectorise without
 * -ffast-math, and because the order of additions is written in the source
 * (and the build disables FMA contraction), every instruction-set clone
 * returns the same bits: a primary and a standby on different CPUs rank
 * items identically.
 */
#include "vec.h"

#include <math.h>

#include "dispatch.h"

#define FM_VEC_LANES 16

static double
reduce_lanes(const float *acc)
{
	double		sum = 0.0;

	for (int j = 0; j < FM_VEC_LANES; j++)
		sum += acc[j];
	return sum;
}

FM_DISPATCH
float
fm_vec_dot(const float *a, const float *b, size_t n)
{
	float		acc[FM_VEC_LANES] = {0};
	size_t		i = 0;
	double		sum;

	for (; i + FM_VEC_LANES <= n; i += FM_VEC_LANES)
		for (int j = 0; j < FM_VEC_LANES; j++)
			acc[j] += a[i + j] * b[i + j];
	sum = reduce_lanes(acc);
	for (; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return (float) sum;
}

FM_DISPATCH
double
fm_vec_norm(const float *a, size_t n)
{
	float		acc[FM_VEC_LANES] = {0};
	size_t		i = 0;
	double		sum;

	for (; i + FM_VEC_LANES <= n; i += FM_VEC_LANES)
		for (int j = 0; j < FM_VEC_LANES; j++)
			acc[j] += a[i + j] * a[i + j];
	sum = reduce_lanes(acc);
	for (; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sqrt(sum);
}

FM_DISPATCH
void
fm_vec_axpy(float *restrict y, float alpha, const float *restrict x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += alpha * x[i];
}

FM_DISPATCH
void
fm_vec_add(float *restrict out, const float *restrict a, const float *restrict b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

FM_DISPATCH
void
fm_vec_sub(float *restrict out, const float *restrict a, const float *restrict b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] - b[i];
}

FM_DISPATCH
void
fm_vec_scale(float *restrict out, const float *restrict a, float s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] * s;
}

FM_DISPATCH
void
fm_vec_accum_double(double *restrict acc, const float *restrict a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc[i] += a[i];
}

int
fm_vec_all_finite(const float *a, size_t n)
{
	int			ok = 1;

	/* no early exit: a branch-free loop vectorises, and vectors are short */
	for (size_t i = 0; i < n; i++)
		ok &= isfinite(a[i]) ? 1 : 0;
	return ok;
}

int
fm_vec_equal(const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

const char *
fm_vec_isa(void)
{
#if FM_HAVE_DISPATCH
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		__builtin_cpu_supports("avx512cd"))
		return "x86-64-v4 (AVX-512)";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "x86-64-v3 (AVX2)";
	return "x86-64 (SSE2)";
#else
	return "portable";
#endif
}

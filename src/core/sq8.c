/*
 * sq8.c - 8-bit scalar quantisation with a rigorous error bound (sq8.h).
 */
#include "sq8.h"

#include <float.h>
#include <math.h>

/*
 * Hand-written x86-64 kernels, chosen at run time by CPUID (GCC and clang
 * both support the target attribute and __builtin_cpu_supports).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(FM_NO_TARGET_CLONES)
#define FM_SQ8_X86 1
#include <immintrin.h>
#else
#define FM_SQ8_X86 0
#endif

/*
 * Row by row, so that the loops over dimensions vectorise and the vectors
 * are read once, in order.  max is kept in step until the end.
 */
void
fm_sq8_fit(const float *y, size_t n, int32_t dim, float *lo, float *step)
{
	float	   *max = step;

	for (int32_t d = 0; d < dim; d++)
		lo[d] = max[d] = n > 0 ? y[d] : 0.0f;
	for (size_t i = 1; i < n; i++)
	{
		const float *row = y + i * (size_t) dim;

		for (int32_t d = 0; d < dim; d++)
		{
			lo[d] = row[d] < lo[d] ? row[d] : lo[d];
			max[d] = row[d] > max[d] ? row[d] : max[d];
		}
	}
	for (int32_t d = 0; d < dim; d++)
	{
		double		range = (double) max[d] - (double) lo[d];

		step[d] = (float) (range / 255.0);
		/* rounded up, so that every value is within 255 steps of lo */
		while ((double) step[d] * 255.0 < range)
			step[d] = nextafterf(step[d], INFINITY);
	}
}

/*
 * Nearest code: (y - lo) / step rounded half up, in double (the relative
 * error of multiplying by the rounded inverse, ~1e-16, is covered by the
 * bound's margin), clamped to 0..255 against that rounding.  Block by block:
 * the 16 rows of a block are read from the cache while their codes are
 * written dimension-major.
 */
void
fm_sq8_encode(const float *y, size_t n, int32_t dim,
			  const float *lo, const float *step, uint8_t *codes)
{
	for (size_t first = 0; first < n; first += FM_SQ8_BLOCK)
	{
		uint8_t    *block = codes + first * (size_t) dim;
		size_t		rows = n - first < FM_SQ8_BLOCK ? n - first : FM_SQ8_BLOCK;

		for (int32_t d = 0; d < dim; d++)
		{
			double		inverse = step[d] > 0.0f ? 1.0 / (double) step[d] : 0.0;
			uint8_t    *lane = block + (size_t) d * FM_SQ8_BLOCK;

			for (size_t r = 0; r < FM_SQ8_BLOCK; r++)
			{
				double		c = r < rows ?
					((double) y[(first + r) * (size_t) dim + d] - (double) lo[d]) * inverse + 0.5 : 0.0;

				lane[r] = (uint8_t) (c <= 0.0 ? 0 : c >= 255.0 ? 255 : (int) c);
			}
		}
	}
}

/*
 * The bound, with u = FLT_EPSILON / 2 and m = sum_d |q[d]| (|lo[d]| + 255
 * step[d]), which bounds both sum_d |q[d] y[d]| and sum_d |w[d] c[d]| + |base|:
 *  - quantisation: |y[d] - lo[d] - step[d] c[d]| <= step[d] / 2 (fit rounds
 *    step up; the double arithmetic of encode adds ~1e-16 relative, covered
 *    by the 1e-6 factor);
 *  - fm_vec_dot: float lanes of at most dim products, reduced in double:
 *    <= (dim + 2) u m;
 *  - this file: w[d] rounded (<= 255 u |q[d]| step[d] per code), the lanes of
 *    at most dim products plus their sum and base (<= (dim + 8) u 2m), base
 *    rounded to float (<= u m): <= (2 dim + 18) u m in all;
 *  - underflow: at most FLT_MIN per operation.
 * In all less than 2 (dim + 8) FLT_EPSILON m + the quantisation term.
 */
double
fm_sq8_prepare(const float *q, int32_t dim, const float *lo, const float *step,
			   float *w, float *base)
{
	double		b = 0.0;
	double		quantisation = 0.0;
	double		m = 0.0;
	int			finite = 1;

	for (int32_t d = 0; d < dim; d++)
	{
		w[d] = q[d] * step[d];
		finite &= isfinite(w[d]) ? 1 : 0;
		b += (double) q[d] * (double) lo[d];
		quantisation += fabs((double) q[d]) * (double) step[d];
		m += fabs((double) q[d]) * (fabs((double) lo[d]) + 255.0 * (double) step[d]);
	}
	*base = (float) b;
	/* with m below half the float range no partial sum can overflow */
	if (!finite || !isfinite(*base) || !isfinite(m) || m > FLT_MAX / 2)
		return INFINITY;
	return 0.5 * quantisation * (1.0 + 1e-6) + 2.0 * (dim + 8) * FLT_EPSILON * m +
		(dim + 8) * (double) FLT_MIN;
}

/*
 * One block at a time: 16 vectors, one float lane each, and independent
 * accumulators over interleaved dimensions so that the additions of
 * consecutive dimensions do not wait on each other.  Portable C, vectorised
 * by the compiler; the x86-64 kernels below do the same work with explicit
 * widening of the codes, which GCC 12 does not find (it goes through 16-bit
 * lanes and permutes: measured 3x slower).  The kernels add in different
 * orders (AVX2 keeps two accumulators, the others four), so their scores
 * may differ in the last bits: each is within the bound, and callers rescore
 * exactly, so no answer depends on the CPU.
 */
static void
scores_portable(const float *restrict w, int32_t dim, const uint8_t *restrict codes, size_t n,
				float base, float *restrict out)
{
	size_t		blocks = fm_sq8_padded(n) / FM_SQ8_BLOCK;

	for (size_t b = 0; b < blocks; b++)
	{
		const uint8_t *c = codes + b * FM_SQ8_BLOCK * (size_t) dim;
		float		a0[FM_SQ8_BLOCK] = {0};
		float		a1[FM_SQ8_BLOCK] = {0};
		float		a2[FM_SQ8_BLOCK] = {0};
		float		a3[FM_SQ8_BLOCK] = {0};
		int32_t		d = 0;

		for (; d + 4 <= dim; d += 4)
		{
			const uint8_t *c0 = c + (size_t) d * FM_SQ8_BLOCK;

			for (int j = 0; j < FM_SQ8_BLOCK; j++)
				a0[j] += w[d] * (float) c0[j];
			for (int j = 0; j < FM_SQ8_BLOCK; j++)
				a1[j] += w[d + 1] * (float) c0[FM_SQ8_BLOCK + j];
			for (int j = 0; j < FM_SQ8_BLOCK; j++)
				a2[j] += w[d + 2] * (float) c0[2 * FM_SQ8_BLOCK + j];
			for (int j = 0; j < FM_SQ8_BLOCK; j++)
				a3[j] += w[d + 3] * (float) c0[3 * FM_SQ8_BLOCK + j];
		}
		for (; d < dim; d++)
			for (int j = 0; j < FM_SQ8_BLOCK; j++)
				a0[j] += w[d] * (float) c[(size_t) d * FM_SQ8_BLOCK + j];
		for (int j = 0; j < FM_SQ8_BLOCK; j++)
			out[b * FM_SQ8_BLOCK + j] = base + ((a0[j] + a1[j]) + (a2[j] + a3[j]));
	}
}

#if FM_SQ8_X86

__attribute__((target("avx512f")))
static void
scores_avx512(const float *restrict w, int32_t dim, const uint8_t *restrict codes, size_t n,
			  float base, float *restrict out)
{
	size_t		blocks = fm_sq8_padded(n) / FM_SQ8_BLOCK;

	for (size_t b = 0; b < blocks; b++)
	{
		const uint8_t *c = codes + b * FM_SQ8_BLOCK * (size_t) dim;
		__m512		a0 = _mm512_setzero_ps();
		__m512		a1 = _mm512_setzero_ps();
		__m512		a2 = _mm512_setzero_ps();
		__m512		a3 = _mm512_setzero_ps();
		int32_t		d = 0;

#define CODES16(p) _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *) (p))))
		for (; d + 4 <= dim; d += 4)
		{
			const uint8_t *c0 = c + (size_t) d * FM_SQ8_BLOCK;

			a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_set1_ps(w[d]), CODES16(c0)));
			a1 = _mm512_add_ps(a1, _mm512_mul_ps(_mm512_set1_ps(w[d + 1]), CODES16(c0 + 16)));
			a2 = _mm512_add_ps(a2, _mm512_mul_ps(_mm512_set1_ps(w[d + 2]), CODES16(c0 + 32)));
			a3 = _mm512_add_ps(a3, _mm512_mul_ps(_mm512_set1_ps(w[d + 3]), CODES16(c0 + 48)));
		}
		for (; d < dim; d++)
			a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_set1_ps(w[d]), CODES16(c + (size_t) d * 16)));
#undef CODES16
		_mm512_storeu_ps(out + b * FM_SQ8_BLOCK,
						 _mm512_add_ps(_mm512_set1_ps(base),
									   _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))));
	}
}

__attribute__((target("avx2")))
static void
scores_avx2(const float *restrict w, int32_t dim, const uint8_t *restrict codes, size_t n,
			float base, float *restrict out)
{
	size_t		blocks = fm_sq8_padded(n) / FM_SQ8_BLOCK;

	for (size_t b = 0; b < blocks; b++)
	{
		const uint8_t *c = codes + b * FM_SQ8_BLOCK * (size_t) dim;
		__m256		lo0 = _mm256_setzero_ps(), hi0 = _mm256_setzero_ps();
		__m256		lo1 = _mm256_setzero_ps(), hi1 = _mm256_setzero_ps();

#define CODES8(p) _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (p))))
		for (int32_t d = 0; d < dim; d++)
		{
			const uint8_t *cd = c + (size_t) d * FM_SQ8_BLOCK;
			__m256		wd = _mm256_set1_ps(w[d]);

			/* two accumulator sets over even and odd dimensions */
			if (d % 2 == 0)
			{
				lo0 = _mm256_add_ps(lo0, _mm256_mul_ps(wd, CODES8(cd)));
				hi0 = _mm256_add_ps(hi0, _mm256_mul_ps(wd, CODES8(cd + 8)));
			}
			else
			{
				lo1 = _mm256_add_ps(lo1, _mm256_mul_ps(wd, CODES8(cd)));
				hi1 = _mm256_add_ps(hi1, _mm256_mul_ps(wd, CODES8(cd + 8)));
			}
		}
#undef CODES8
		_mm256_storeu_ps(out + b * FM_SQ8_BLOCK,
						 _mm256_add_ps(_mm256_set1_ps(base), _mm256_add_ps(lo0, lo1)));
		_mm256_storeu_ps(out + b * FM_SQ8_BLOCK + 8,
						 _mm256_add_ps(_mm256_set1_ps(base), _mm256_add_ps(hi0, hi1)));
	}
}
#endif

typedef void (*ScoresFunction) (const float *, int32_t, const uint8_t *, size_t, float, float *);

static ScoresFunction
kernel_function(FmSq8Kernel kernel)
{
	switch (kernel)
	{
		case FM_SQ8_PORTABLE:
			return scores_portable;
#if FM_SQ8_X86
		case FM_SQ8_AVX2:
			__builtin_cpu_init();
			return __builtin_cpu_supports("avx2") ? scores_avx2 : NULL;
		case FM_SQ8_AVX512:
			__builtin_cpu_init();
			return __builtin_cpu_supports("avx512f") ? scores_avx512 : NULL;
#endif
		default:
			return NULL;
	}
}

bool
fm_sq8_scores_with(FmSq8Kernel kernel, const float *w, int32_t dim, const uint8_t *codes,
				   size_t n, float base, float *out)
{
	ScoresFunction scores = kernel_function(kernel);

	if (scores == NULL)
		return false;
	scores(w, dim, codes, n, base, out);
	return true;
}

void
fm_sq8_scores(const float *w, int32_t dim, const uint8_t *codes, size_t n,
			  float base, float *out)
{
	static ScoresFunction best;

	if (best == NULL)
	{
		best = kernel_function(FM_SQ8_AVX512);
		if (best == NULL)
			best = kernel_function(FM_SQ8_AVX2);
		if (best == NULL)
			best = scores_portable;
	}
	best(w, dim, codes, n, base, out);
}

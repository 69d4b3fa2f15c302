/*
 * scale_flops.c - one core's arithmetic throughput, the compute side of the
 * hardware limit scale_bench.sh compares training with.
 *
 *   scale_flops [seconds]
 *
 * Prints the best of several runs of independent multiply-add chains, in
 * 10^9 floating-point operations per second (a multiply-add counts 2):
 *
 *     gflops float <value>
 *     gflops double <value>
 *
 * 12 independent accumulators of 8 floats (4 doubles) per chain step, so
 * the loop is bound by the FMA units, not by their latency.  The kernels
 * are built for AVX2+FMA when the CPU has them (the instruction set
 * fmrec's vec.c selects at load time on such CPUs), else SSE2 with separate
 * multiply and add.  This is the roof, not what the trainers reach: they
 * are built with -ffp-contract=off (a multiply and an add, not one FMA) and
 * most of their loops are shorter than a cache line of work.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* SSE2 has no FMA: a multiply, then an add */
static inline __m128
madd_ps(__m128 x, __m128 a, __m128 b)
{
	return _mm_add_ps(_mm_mul_ps(x, a), b);
}

static inline __m128d
madd_pd(__m128d x, __m128d a, __m128d b)
{
	return _mm_add_pd(_mm_mul_pd(x, a), b);
}

/*
 * RUN(name, vector type, element type, set1, multiply-add, storeu) defines
 * double name(long iters): CHAINS accumulators stepped iters times by
 * acc = acc * a + b; returns the sum of their first elements (a result the
 * compiler must compute).  One kernel for each element type and
 * instruction set, the same loop.
 */
#define RUN(name, VEC, ELEM, SET1, MADD, STOREU) \
static double \
name(long iters) \
{ \
	VEC			acc[CHAINS]; \
	VEC			a = SET1((ELEM) 0.999999), \
				b = SET1((ELEM) 1e-7); \
	ELEM		out[sizeof(VEC) / sizeof(ELEM)]; \
	double		s = 0; \
\
	for (int c = 0; c < CHAINS; c++) \
		acc[c] = SET1((ELEM) c); \
	for (long i = 0; i < iters; i++) \
		/* unrolled, the accumulators live in registers (gcc -O2 keeps a loop's array in memory) */ \
		_Pragma("GCC unroll 12") \
		for (int c = 0; c < CHAINS; c++) \
			acc[c] = MADD(acc[c], a, b); \
	for (int c = 0; c < CHAINS; c++) \
	{ \
		STOREU(out, acc[c]); \
		s += out[0]; \
	} \
	return s; \
}

__attribute__((target("avx2,fma")))
RUN(run_float_avx2, __m256, float, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps)
__attribute__((target("avx2,fma")))
RUN(run_double_avx2, __m256d, double, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_storeu_pd)
RUN(run_float_sse, __m128, float, _mm_set1_ps, madd_ps, _mm_storeu_ps)
RUN(run_double_sse, __m128d, double, _mm_set1_pd, madd_pd, _mm_storeu_pd)

/* best GFLOP/s of repeated runs of about 0.1 s each, for `seconds` in all */
static double
best(double (*run) (long), int lanes, double seconds)
{
	long		iters = 1000000;
	double		top = 0,
				start = now(),
				sink = 0;

	while (now() - start < seconds)
	{
		double		t0 = now(),
					t;

		sink += run(iters);
		t = now() - t0;
		if (t < 0.05)
			iters *= 2;
		else if (2.0 * CHAINS * lanes * iters / t / 1e9 > top)
			top = 2.0 * CHAINS * lanes * iters / t / 1e9;
	}
	if (sink == 12345.0)
		printf("#\n");			/* keeps the sums alive */
	return top;
}

int
main(int argc, char **argv)
{
	double		seconds = argc > 1 ? atof(argv[1]) : 1.0;
	int			avx2;

	__builtin_cpu_init();
	avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	printf("gflops float %.1f\n", avx2 ? best(run_float_avx2, 8, seconds) : best(run_float_sse, 4, seconds));
	printf("gflops double %.1f\n", avx2 ? best(run_double_avx2, 4, seconds) : best(run_double_sse, 2, seconds));
	printf("isa %s\n", avx2 ? "avx2+fma" : "sse2");
	return 0;
}

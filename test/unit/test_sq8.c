/*
 * test_sq8.c - 8-bit scalar quantisation: the error bound holds on every
 * vector, at every scale, and is tight enough to be useful.
 */
#include "rng.h"
#include "sq8.h"
#include "unit.h"
#include "vec.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

typedef struct Set
{
	size_t		n;
	int32_t		dim;
	float	   *y;
	float	   *lo;
	float	   *step;
	uint8_t    *codes;
} Set;

/* n vectors: N(0, scale^2) per component, every third dimension constant. */
static Set
make_set(FmRng *rng, size_t n, int32_t dim, double scale)
{
	Set			s = {n, dim, NULL, NULL, NULL, NULL};

	s.y = malloc(sizeof(float) * n * dim + 1);
	s.lo = malloc(sizeof(float) * dim);
	s.step = malloc(sizeof(float) * dim);
	s.codes = malloc(fm_sq8_codes_size(n, dim) + 1);
	for (size_t i = 0; i < n; i++)
		for (int32_t d = 0; d < dim; d++)
			s.y[i * dim + d] = d % 3 == 2 ? (float) scale : (float) (scale * fm_rng_normal(rng));
	fm_sq8_fit(s.y, n, dim, s.lo, s.step);
	fm_sq8_encode(s.y, n, dim, s.lo, s.step, s.codes);
	return s;
}

static void
free_set(Set *s)
{
	free(s->y);
	free(s->lo);
	free(s->step);
	free(s->codes);
}

static int	kernels_run[3];

/*
 * Largest |approx - exact| / bound over the set for one query, with every
 * kernel the CPU has; -1 if the bound is infinite.
 */
static double
worst_ratio(const Set *s, const float *q, double *bound_out)
{
	float	   *w = malloc(sizeof(float) * s->dim);
	float	   *out = malloc(sizeof(float) * fm_sq8_padded(s->n));
	float		base;
	double		bound = fm_sq8_prepare(q, s->dim, s->lo, s->step, w, &base);
	double		worst = 0.0;

	*bound_out = bound;
	if (isfinite(bound))
	{
		for (int k = FM_SQ8_PORTABLE; k <= FM_SQ8_AVX512; k++)
		{
			if (!fm_sq8_scores_with((FmSq8Kernel) k, w, s->dim, s->codes, s->n, base, out))
				continue;
			kernels_run[k]++;
			for (size_t i = 0; i < s->n; i++)
			{
				double		err = fabs((double) out[i] - (double) fm_vec_dot(q, s->y + i * s->dim, s->dim));

				if (bound > 0 ? err / bound > worst : err > 0)
					worst = bound > 0 ? err / bound : INFINITY;
			}
		}
	}
	else
		worst = -1;
	free(w);
	free(out);
	return worst;
}

static void
test_bound_holds_at_every_scale(void)
{
	const int32_t dims[] = {1, 3, 4, 16, 17, 65, 121, 300};
	const size_t ns[] = {1, 15, 16, 17, 200};
	const double scales[] = {1e-30, 1e-3, 0.1, 1.0, 1e6, 1e30};
	FmRng		rng;
	int			sets = 0;
	int			within = 0;

	fm_rng_seed(&rng, 7);
	for (size_t a = 0; a < sizeof(dims) / sizeof(dims[0]); a++)
		for (size_t b = 0; b < sizeof(ns) / sizeof(ns[0]); b++)
			for (size_t c = 0; c < sizeof(scales) / sizeof(scales[0]); c++)
			{
				Set			s = make_set(&rng, ns[b], dims[a], scales[c]);
				float	   *q = malloc(sizeof(float) * dims[a]);

				for (int t = 0; t < 5; t++)
				{
					double		bound;
					double		worst;

					for (int32_t d = 0; d < dims[a]; d++)
						q[d] = (float) fm_rng_normal(&rng);
					worst = worst_ratio(&s, q, &bound);
					sets++;
					within += worst >= 0.0 && worst <= 1.0;
				}
				free(q);
				free_set(&s);
			}
	CHECK(sets == 8 * 5 * 6 * 5);
	CHECK(within == sets);
	CHECK(kernels_run[FM_SQ8_PORTABLE] > 0);
	printf("kernels run: portable %d, avx2 %d, avx512 %d\n",
		   kernels_run[FM_SQ8_PORTABLE], kernels_run[FM_SQ8_AVX2], kernels_run[FM_SQ8_AVX512]);
}

/*
 * The bound is the worst-case quantisation error, not a uselessly wide
 * interval: at the scale of FM embeddings (1000 vectors, so steps of about
 * 6.5 sigma / 255) it is a fraction of the spread of the scores, so that
 * only items near the k-th best need rescoring.
 */
static void
test_bound_is_tight(void)
{
	FmRng		rng;
	Set			s;
	float		q[121];
	double		bound;
	double		worst;
	double		spread;

	fm_rng_seed(&rng, 8);
	s = make_set(&rng, 1000, 121, 0.1);
	for (int d = 0; d < 121; d++)
		q[d] = (float) (0.1 * fm_rng_normal(&rng));
	worst = worst_ratio(&s, q, &bound);
	spread = 0.1 * 0.1 * sqrt(121.0 * 2 / 3);	/* std of q.y over the non-constant dims */
	CHECK(worst >= 0.0 && worst <= 1.0);
	CHECK(bound < 0.2 * spread);
	CHECK(bound > 0.0);
	free_set(&s);
}

static void
test_codes_reconstruct_within_half_a_step(void)
{
	FmRng		rng;
	Set			s;
	int			ok = 1;
	int			extremes = 0;

	fm_rng_seed(&rng, 9);
	s = make_set(&rng, 37, 19, 2.0);
	for (size_t i = 0; i < s.n; i++)
		for (int32_t d = 0; d < s.dim; d++)
		{
			uint8_t		c = s.codes[i / FM_SQ8_BLOCK * FM_SQ8_BLOCK * s.dim + d * FM_SQ8_BLOCK + i % FM_SQ8_BLOCK];
			double		r = (double) s.lo[d] + (double) s.step[d] * c;

			ok &= fabs(r - s.y[i * s.dim + d]) <= 0.5 * s.step[d] * (1 + 1e-6);
			extremes += c == 0 || c == 255;
		}
	CHECK(ok);
	/* the minimum and the maximum of each varying dimension use the end codes */
	CHECK(extremes >= 2 * (19 - 19 / 3));
	/* padding lanes of the last block are zero */
	CHECK(s.codes[37 / FM_SQ8_BLOCK * FM_SQ8_BLOCK * s.dim + (FM_SQ8_BLOCK - 1)] == 0);
	free_set(&s);
}

static void
test_constant_dimension_is_exact(void)
{
	float		y[3 * 2] = {1.5f, -2.0f, 1.5f, 4.0f, 1.5f, 0.25f};
	float		lo[2];
	float		step[2];
	uint8_t		codes[16 * 2];

	fm_sq8_fit(y, 3, 2, lo, step);
	CHECK(lo[0] == 1.5f && step[0] == 0.0f);
	CHECK(lo[1] == -2.0f && step[1] * 255.0 >= 6.0);
	fm_sq8_encode(y, 3, 2, lo, step, codes);
	CHECK(codes[0] == 0 && codes[1] == 0 && codes[2] == 0);
	CHECK(codes[16] == 0 && codes[17] == 255);
}

/* Products beyond float: the caller is told to score the floats. */
static void
test_overflow_gives_infinite_bound(void)
{
	float		y[2 * 2] = {-3e38f, 1.0f, 3e38f, 2.0f};
	float		q[2] = {1e10f, 1.0f};
	float		lo[2];
	float		step[2];
	float		w[2];
	float		base;

	fm_sq8_fit(y, 2, 2, lo, step);
	CHECK(isfinite(step[0]));
	CHECK(isinf(fm_sq8_prepare(q, 2, lo, step, w, &base)));
	q[0] = 0.0f;
	CHECK(isfinite(fm_sq8_prepare(q, 2, lo, step, w, &base)));
}

/* The dispatched kernel gives the scores of one of the kernels. */
static void
test_dispatch_matches_a_kernel(void)
{
	FmRng		rng;
	Set			s;
	float		q[33];
	float		w[33];
	float		base;
	float		best[48];
	float		one[48];
	int			same = 0;

	fm_rng_seed(&rng, 10);
	s = make_set(&rng, 40, 33, 1.0);
	for (int d = 0; d < 33; d++)
		q[d] = (float) fm_rng_normal(&rng);
	fm_sq8_prepare(q, 33, s.lo, s.step, w, &base);
	fm_sq8_scores(w, 33, s.codes, 40, base, best);
	for (int k = FM_SQ8_PORTABLE; k <= FM_SQ8_AVX512; k++)
		if (fm_sq8_scores_with((FmSq8Kernel) k, w, 33, s.codes, 40, base, one))
			same += memcmp(best, one, sizeof(float) * 40) == 0;
	CHECK(same >= 1);
	free_set(&s);
}

int
main(void)
{
	RUN_TEST(test_bound_holds_at_every_scale);
	RUN_TEST(test_bound_is_tight);
	RUN_TEST(test_codes_reconstruct_within_half_a_step);
	RUN_TEST(test_constant_dimension_is_exact);
	RUN_TEST(test_overflow_gives_infinite_bound);
	RUN_TEST(test_dispatch_matches_a_kernel);
	return unit_report();
}

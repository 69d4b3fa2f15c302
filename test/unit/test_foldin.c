/*
 * test_foldin.c - the closed-form fold-in (foldin.c) is the minimiser of its
 * objective: the gradient, by central differences of the objective computed
 * directly (the catalogue sum over the items, not through the Gramian), is
 * zero at the solution, for a rating model and for iALS.
 */
#include "foldin.h"
#include "rng.h"
#include "unit.h"

#include <string.h>

#define K 5
#define N_ALL 40
#define N_RATED 7

static float emb[N_ALL][K];
static const float *emb_ptr[N_ALL];
static double bias_all[N_ALL];
static double alpha_all[N_ALL];
static float q0[K];

static void
make_catalogue(uint64_t seed)
{
	FmRng		rng;

	fm_rng_seed(&rng, seed);
	for (int j = 0; j < N_ALL; j++)
	{
		for (int d = 0; d < K; d++)
			emb[j][d] = (float) (fm_rng_uniform(&rng) - 0.5);
		emb_ptr[j] = emb[j];
		bias_all[j] = fm_rng_uniform(&rng) - 0.5;
	}
	for (int d = 0; d < K; d++)
		q0[d] = (float) (0.3 * (fm_rng_uniform(&rng) - 0.5));
}

/* Max |dL/dtheta| by central differences, relative to the objective's scale. */
static double
gradient_norm(const FmFoldIn *f, const double *theta, const double *alpha)
{
	double		t[K + 1];
	double		worst = 0.0;
	double		h = 1e-5;

	for (int s = 0; s <= K; s++)
	{
		double		plus,
					minus,
					g;

		memcpy(t, theta, sizeof(t));
		t[s] += h;
		plus = fm_fold_in_objective(f, t, alpha ? N_ALL : 0, bias_all, emb_ptr, alpha);
		t[s] -= 2 * h;
		minus = fm_fold_in_objective(f, t, alpha ? N_ALL : 0, bias_all, emb_ptr, alpha);
		g = fabs(plus - minus) / (2 * h);
		if (g > worst)
			worst = g;
	}
	return worst;
}

static void
run_case(bool implicit, int n_rated)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	const float *e[N_RATED];
	double		b[N_RATED],
				target[N_RATED],
				weight[N_RATED];
	double		gram[(K + 2) * (K + 2)];
	double		theta[K + 1];
	double		theta_far[K + 1];
	float		query[K];
	double		u;
	FmFoldIn	f;
	FmFoldInStatus st;

	make_catalogue(implicit ? 11 : 12);
	for (int i = 0; i < n_rated; i++)
	{
		int			j = 3 * i + 1;

		e[i] = emb[j];
		b[i] = bias_all[j];
		target[i] = implicit ? 1.0 : 1.0 + (i % 5);
		weight[i] = implicit ? 1.0 + 0.6 * (1 + i % 5) : 1.0;
	}
	if (implicit)
	{
		/* unobserved weights spread by popularity as in ials.c */
		for (int j = 0; j < N_ALL; j++)
			alpha_all[j] = 0.2 * pow(1.0 + j % 7, 0.3);
		memset(gram, 0, sizeof(gram));
		for (int j = 0; j < N_ALL; j++)
			fm_fold_in_gram_add(gram, K, bias_all[j], emb[j], alpha_all[j]);
	}
	memset(&f, 0, sizeof(f));
	f.k = K;
	f.s0 = 0.7;
	f.q0 = q0;
	f.n = n_rated;
	f.e = e;
	f.b = b;
	f.target = target;
	f.weight = weight;
	f.lambda_w = 0.05;
	f.lambda_v = 0.1;
	f.gram = implicit ? gram : NULL;
	st = fm_fold_in_solve(&f, &a, &u, query);
	CHECK(st == FM_FOLD_IN_OK);
	theta[0] = u;
	for (int d = 0; d < K; d++)
		theta[1 + d] = (double) query[d] - (double) q0[d];
	/* float rounding of the query vector bounds how flat the optimum looks */
	CHECK_NEAR(gradient_norm(&f, theta, implicit ? alpha_all : NULL), 0.0, 1e-4);
	/* and it is a minimum: any step away costs */
	memcpy(theta_far, theta, sizeof(theta));
	theta_far[2] += 0.05;
	CHECK(fm_fold_in_objective(&f, theta_far, implicit ? N_ALL : 0, bias_all, emb_ptr, alpha_all) >
		  fm_fold_in_objective(&f, theta, implicit ? N_ALL : 0, bias_all, emb_ptr, alpha_all));
	fm_arena_free(&arena);
}

static void
test_rating_model_gradient_zero(void)
{
	run_case(false, N_RATED);
}

static void
test_ials_gradient_zero(void)
{
	run_case(true, N_RATED);
}

static void
test_ials_without_ratings_gradient_zero(void)
{
	run_case(true, 0);
}

/* No rating, no catalogue: the context vector itself. */
static void
test_empty_is_context(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmFoldIn	f;
	float		query[K];
	double		u = 1.0;

	make_catalogue(3);
	memset(&f, 0, sizeof(f));
	f.k = K;
	f.q0 = q0;
	f.lambda_v = 0.1;
	CHECK(fm_fold_in_solve(&f, &a, &u, query) == FM_FOLD_IN_OK);
	CHECK(memcmp(query, q0, sizeof(query)) == 0);
	CHECK(u == 0.0);
	fm_arena_free(&arena);
}

/* A NaN target is reported, not returned. */
static void
test_nan_reported(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmFoldIn	f;
	float		query[K];
	double		u;
	double		b = 0.0,
				t = NAN,
				w = 1.0;
	const float *e[1];

	make_catalogue(4);
	e[0] = emb[0];
	memset(&f, 0, sizeof(f));
	f.k = K;
	f.q0 = q0;
	f.n = 1;
	f.e = e;
	f.b = &b;
	f.target = &t;
	f.weight = &w;
	f.lambda_v = 0.1;
	CHECK(fm_fold_in_solve(&f, &a, &u, query) == FM_FOLD_IN_NOT_FINITE);
	fm_arena_free(&arena);
}

static void
test_cholesky(void)
{
	double		A[9] = {4, 2, 0.4, 2, 5, 1, 0.4, 1, 3};
	double		x[3] = {1, 2, 3};
	double		singular[4] = {1, 2, 2, 4};
	double		r[2] = {1, 1};
	double		Ax[3];
	double		A0[9] = {4, 2, 0.4, 2, 5, 1, 0.4, 1, 3};

	CHECK(fm_cholesky_solve(A, x, 3));
	for (int i = 0; i < 3; i++)
		Ax[i] = A0[i * 3] * x[0] + A0[i * 3 + 1] * x[1] + A0[i * 3 + 2] * x[2];
	CHECK_NEAR(Ax[0], 1, 1e-12);
	CHECK_NEAR(Ax[1], 2, 1e-12);
	CHECK_NEAR(Ax[2], 3, 1e-12);
	CHECK(!fm_cholesky_solve(singular, r, 2));
}

int
main(void)
{
	RUN_TEST(test_cholesky);
	RUN_TEST(test_rating_model_gradient_zero);
	RUN_TEST(test_ials_gradient_zero);
	RUN_TEST(test_ials_without_ratings_gradient_zero);
	RUN_TEST(test_empty_is_context);
	RUN_TEST(test_nan_reported);
	return unit_report();
}

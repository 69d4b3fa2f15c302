/*
 * test_model.c - prediction against the O(k n^2) definition of the model.
 */
#include "model.h"
#include "rng.h"
#include "unit.h"

#include <stdbool.h>
#include <string.h>

/* y = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j, straight from the definition */
static double
brute_force_predict(const FmModel *m, const int32_t *ids, const float *xs, int32_t nnz)
{
	double		y = m->w0;

	for (int32_t p = 0; p < nnz; p++)
		y += (double) m->w[ids[p]] * xs[p];
	for (int32_t p = 0; p < nnz; p++)
		for (int32_t q = p + 1; q < nnz; q++)
		{
			double		dot = 0.0;

			for (int32_t f = 0; f < m->k; f++)
				dot += (double) fm_model_v(m, ids[p])[f] * fm_model_v(m, ids[q])[f];
			y += dot * xs[p] * xs[q];
		}
	return y;
}

static void
random_model(FmModel *m, int32_t n, int32_t k, uint64_t seed, const FmAllocator *a)
{
	FmRng		rng;

	fm_model_alloc(m, n, k, a);
	fm_model_init_random(m, 0.7, 0.3, seed);
	fm_rng_seed(&rng, seed + 1);
	for (int32_t i = 0; i < n; i++)
		m->w[i] = (float) (0.5 * fm_rng_normal(&rng));
}

/* nnz distinct random ids with random weights */
static void
random_row(FmRng *rng, int32_t n_features, int32_t nnz, int32_t *ids, float *xs)
{
	for (int32_t p = 0; p < nnz; p++)
	{
		bool		fresh;

		do
		{
			ids[p] = (int32_t) fm_rng_below(rng, (uint64_t) n_features);
			fresh = true;
			for (int32_t q = 0; q < p; q++)
				fresh &= ids[q] != ids[p];
		} while (!fresh);
		xs[p] = (float) (fm_rng_uniform(rng) * 4.0 - 2.0);
	}
}

static void
test_alloc_and_init(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmModel		m,
				m2;
	double		sum2 = 0.0;
	int32_t		nk = 500 * 16;
	bool		w_zero = true;

	fm_model_alloc(&m, 500, 16, &a);
	CHECK(m.n_features == 500 && m.k == 16);
	CHECK(((uintptr_t) m.V % 64) == 0);
	CHECK(m.V[nk - 1] == 0.0f && m.w[499] == 0.0f);

	fm_model_init_random(&m, 3.5, 0.1, 9);
	CHECK(m.w0 == 3.5);
	for (int32_t i = 0; i < 500; i++)
		w_zero &= m.w[i] == 0.0f;
	CHECK(w_zero);
	for (int32_t j = 0; j < nk; j++)
		sum2 += (double) m.V[j] * m.V[j];
	CHECK_NEAR(sqrt(sum2 / nk), 0.1, 0.005);

	fm_model_alloc(&m2, 500, 16, &a);
	fm_model_init_random(&m2, 3.5, 0.1, 9);
	CHECK(memcmp(m.V, m2.V, (size_t) nk * sizeof(float)) == 0);
	fm_model_init_random(&m2, 3.5, 0.1, 10);
	CHECK(memcmp(m.V, m2.V, (size_t) nk * sizeof(float)) != 0);

	fm_model_init_random(&m2, 0.0, 0.0, 10);
	CHECK(m2.V[0] == 0.0f && m2.V[nk - 1] == 0.0f);
	fm_arena_free(&arena);
}

/*
 * k = 300 takes the chunked path of predict_raw without a buffer (chunks of
 * 256); 17 and 33 leave remainders after the vector blocks.
 */
static void
test_predict_matches_definition(void)
{
	const int32_t ks[] = {1, 3, 8, 17, 33, 64, 300};

	for (int t = 0; t < 7; t++)
	{
		FmArena		arena = {0};
		FmAllocator a = fm_arena_allocator(&arena);
		FmModel		m;
		FmRng		rng;
		int32_t		k = ks[t];
		float	   *sum = fm_alloc(&a, (size_t) k * sizeof(float));
		double		worst = 0.0;
		double		worst_null = 0.0;
		double		worst_sum = 0.0;

		random_model(&m, 200, k, 100 + t, &a);
		fm_rng_seed(&rng, 200 + t);
		for (int row = 0; row < 200; row++)
		{
			int32_t		ids[40];
			float		xs[40];
			int32_t		nnz = (int32_t) fm_rng_below(&rng, 40);
			double		expect,
						got,
						got_null;

			random_row(&rng, 200, nnz, ids, xs);
			expect = brute_force_predict(&m, ids, xs, nnz);
			got = fm_model_predict_raw(&m, ids, xs, nnz, sum);
			got_null = fm_model_predict_raw(&m, ids, xs, nnz, NULL);
			worst = fmax(worst, fabs(got - expect) / (1.0 + fabs(expect)));
			worst_null = fmax(worst_null, fabs(got_null - got));

			/* sum[f] = sum_i v_if x_i */
			for (int32_t f = 0; f < k; f++)
			{
				double		s = 0.0;

				for (int32_t p = 0; p < nnz; p++)
					s += (double) fm_model_v(&m, ids[p])[f] * xs[p];
				worst_sum = fmax(worst_sum, fabs(s - sum[f]));
			}
		}
		CHECK_NEAR(worst, 0.0, 1e-4);
		CHECK_NEAR(worst_sum, 0.0, 1e-4);
		/* same bits with or without a buffer while k fits one chunk */
		if (k <= 256)
			CHECK(worst_null == 0.0);
		else
			CHECK_NEAR(worst_null, 0.0, 1e-3);
		fm_arena_free(&arena);
	}
}

static void
test_empty_row_predicts_w0(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmModel		m;
	float		sum[4];

	random_model(&m, 10, 4, 1, &a);
	CHECK(fm_model_predict_raw(&m, NULL, NULL, 0, sum) == m.w0);
	CHECK(sum[0] == 0.0f && sum[3] == 0.0f);
	fm_arena_free(&arena);
}

static void
test_predict_clips(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmModel		m;
	int32_t		id = 0;
	float		x = 1.0f;

	fm_model_alloc(&m, 1, 2, &a);
	m.target_min = 1.0;
	m.target_max = 5.0;
	m.w0 = 3.0;
	m.w[0] = 10.0f;
	CHECK(fm_model_predict_raw(&m, &id, &x, 1, NULL) == 13.0);
	CHECK(fm_model_predict(&m, &id, &x, 1, NULL) == 5.0);
	m.w[0] = -10.0f;
	CHECK(fm_model_predict(&m, &id, &x, 1, NULL) == 1.0);
	m.w[0] = 0.5f;
	CHECK(fm_model_predict(&m, &id, &x, 1, NULL) == 3.5);
	fm_arena_free(&arena);
}

static void
test_rmse(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmModel		m;
	FmDataset	ds;

	/* model predicts w_i for one-hot rows; clipped to [0, 10] */
	fm_model_alloc(&m, 3, 2, &a);
	m.target_min = 0.0;
	m.target_max = 10.0;
	m.w[0] = 1.0f;
	m.w[1] = 2.0f;
	m.w[2] = 20.0f;
	fm_dataset_alloc(&ds, 3, 3, 3, 1, &a);
	for (int r = 0; r < 3; r++)
	{
		ds.ids[r] = r;
		ds.weights[r] = 1.0f;
		ds.row_start[r + 1] = r + 1;
	}
	ds.targets[0] = 1.0f;		/* error 0 */
	ds.targets[1] = 5.0f;		/* error -3 */
	ds.targets[2] = 6.0f;		/* prediction clipped to 10: error 4 */
	CHECK_NEAR(fm_model_rmse(&m, &ds, &a), sqrt(25.0 / 3.0), 1e-12);
	ds.n_rows = 0;
	CHECK(isnan(fm_model_rmse(&m, &ds, &a)));
	fm_arena_free(&arena);
}

int
main(void)
{
	RUN_TEST(test_alloc_and_init);
	RUN_TEST(test_predict_matches_definition);
	RUN_TEST(test_empty_row_predicts_w0);
	RUN_TEST(test_predict_clips);
	RUN_TEST(test_rmse);
	return unit_report();
}

/*
 * test_kmeans.c - deterministic k-means of the IVF index.
 */
#include "kmeans.h"
#include "rng.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n points around `centres` well separated centres of dimension dim */
static float *
blobs(FmAllocator *a, int64_t n, int32_t dim, int32_t centres, uint64_t seed, int32_t *truth)
{
	FmRng		rng;
	float	   *x = fm_alloc(a, sizeof(float) * n * dim);

	fm_rng_seed(&rng, seed);
	for (int64_t i = 0; i < n; i++)
	{
		int32_t		c = (int32_t) (i % centres);

		truth[i] = c;
		for (int32_t t = 0; t < dim; t++)
			x[i * dim + t] = (float) ((t % centres == c ? 10.0 : 0.0) + 0.1 * fm_rng_normal(&rng));
	}
	return x;
}

/* Well separated blobs are found exactly: same partition as the truth. */
static void
test_recovers_blobs(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	enum
	{
	N = 600, DIM = 5, K = 3};
	int32_t		truth[N];
	float	   *x = blobs(&a, N, DIM, K, 7, truth);
	float		centroids[K * DIM];
	float		norms2[K];
	int32_t		label_of_truth[K] = {-1, -1, -1};
	int			consistent = 1;
	FmKmeansResult r = fm_kmeans(x, N, DIM, K, 50, 42, centroids, &a);

	CHECK(r.iterations >= 1 && r.iterations < 50);
	fm_kmeans_norms2(centroids, K, DIM, norms2);
	for (int64_t i = 0; i < N; i++)
	{
		int32_t		c = fm_kmeans_nearest(x + i * DIM, centroids, norms2, K, DIM, NULL);

		if (label_of_truth[truth[i]] < 0)
			label_of_truth[truth[i]] = c;
		consistent &= label_of_truth[truth[i]] == c;
	}
	CHECK(consistent);
	CHECK(label_of_truth[0] != label_of_truth[1] && label_of_truth[1] != label_of_truth[2] &&
		  label_of_truth[0] != label_of_truth[2]);
	/* each centroid is near its blob's centre: 10 on its axis, 0 elsewhere */
	for (int32_t c = 0; c < K; c++)
	{
		const float *ctr = centroids + label_of_truth[c] * DIM;

		for (int32_t t = 0; t < DIM; t++)
			CHECK_NEAR(ctr[t], t % K == c ? 10.0 : 0.0, 0.05);
	}
	CHECK(r.inertia > 0 && r.inertia < N * DIM * 0.02);
	fm_arena_free(&arena);
}

/* Same input and seed: the same centroids bit for bit; another seed may differ. */
static void
test_deterministic(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	enum
	{
	N = 2000, DIM = 17, K = 40};
	FmRng		rng;
	float	   *x = fm_alloc(&a, sizeof(float) * N * DIM);
	float	   *c1 = fm_alloc(&a, sizeof(float) * K * DIM);
	float	   *c2 = fm_alloc(&a, sizeof(float) * K * DIM);
	FmKmeansResult r1;
	FmKmeansResult r2;

	fm_rng_seed(&rng, 3);
	for (int i = 0; i < N * DIM; i++)
		x[i] = (float) fm_rng_normal(&rng);
	r1 = fm_kmeans(x, N, DIM, K, 8, 99, c1, &a);
	r2 = fm_kmeans(x, N, DIM, K, 8, 99, c2, &a);
	CHECK(memcmp(c1, c2, sizeof(float) * K * DIM) == 0);
	CHECK(r1.iterations == r2.iterations && r1.inertia == r2.inertia);
	fm_arena_free(&arena);
}

/* Lloyd never increases the inertia: more iterations, no worse clustering. */
static void
test_inertia_decreases(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	enum
	{
	N = 3000, DIM = 8, K = 25};
	FmRng		rng;
	float	   *x = fm_alloc(&a, sizeof(float) * N * DIM);
	float	   *c = fm_alloc(&a, sizeof(float) * K * DIM);
	double		previous = INFINITY;

	fm_rng_seed(&rng, 11);
	for (int i = 0; i < N * DIM; i++)
		x[i] = (float) fm_rng_normal(&rng);
	for (int it = 1; it <= 6; it++)
	{
		FmKmeansResult r = fm_kmeans(x, N, DIM, K, it, 5, c, &a);

		CHECK(r.inertia <= previous * (1 + 1e-9));
		previous = r.inertia;
	}
	fm_arena_free(&arena);
}

/* n <= k: the points themselves; duplicates: no empty cluster is left. */
static void
test_degenerate_inputs(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	float		x[3 * 2] = {1, 2, 3, 4, 5, 6};
	float		c[5 * 2];
	float		same[100 * 2];
	float		c2[4 * 2];
	FmKmeansResult r;

	fm_kmeans(x, 3, 2, 5, 10, 1, c, &a);
	CHECK(memcmp(c, x, sizeof(x)) == 0);
	CHECK(c[6] == 5 && c[7] == 6 && c[8] == 5 && c[9] == 6);

	/* 100 points, only 2 distinct: k-means++ must not loop or crash */
	for (int i = 0; i < 100; i++)
	{
		same[2 * i] = (float) (i % 2);
		same[2 * i + 1] = 0;
	}
	r = fm_kmeans(same, 100, 2, 4, 10, 1, c2, &a);
	CHECK(r.iterations >= 1);
	CHECK(isfinite(r.inertia) && r.inertia < 1e-9);
	for (int i = 0; i < 8; i++)
		CHECK(isfinite(c2[i]));
	fm_arena_free(&arena);
}

/* An emptied cluster is refilled with the farthest point. */
static void
test_empty_cluster_refill(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	enum
	{
	N = 200, DIM = 2, K = 8};
	FmRng		rng;
	float		x[N * DIM];
	float		c[K * DIM];
	float		norms2[K];
	int			used[K] = {0};
	int			nused = 0;
	FmKmeansResult r;

	/* one tight blob and a few outliers */
	fm_rng_seed(&rng, 5);
	for (int i = 0; i < N; i++)
	{
		x[2 * i] = (float) (i < 190 ? 0.01 * fm_rng_normal(&rng) : 100.0 + i);
		x[2 * i + 1] = (float) (i < 190 ? 0.01 * fm_rng_normal(&rng) : -(double) i);
	}
	r = fm_kmeans(x, N, DIM, K, 20, 2, c, &a);
	fm_kmeans_norms2(c, K, DIM, norms2);
	for (int i = 0; i < N; i++)
		used[fm_kmeans_nearest(x + 2 * i, c, norms2, K, DIM, NULL)] = 1;
	for (int j = 0; j < K; j++)
		nused += used[j];
	CHECK(nused == K);
	CHECK(r.empty_refills >= 0);
	fm_arena_free(&arena);
}

/* fm_kmeans_nearest: ties go to the lowest index; dist2 is ||c||^2 - 2 x.c */
static void
test_nearest(void)
{
	float		c[3 * 2] = {1, 0, 0, 1, 1, 0};
	float		n2[3];
	float		x[2] = {2, 0};
	float		y[2] = {0.5f, 0.5f};
	double		d;

	fm_kmeans_norms2(c, 3, 2, n2);
	CHECK(fm_kmeans_nearest(x, c, n2, 3, 2, &d) == 0);
	CHECK_NEAR(d, 1.0 - 4.0, 1e-12);
	CHECK(fm_kmeans_nearest(y, c, n2, 3, 2, NULL) == 0);
}

int
main(void)
{
	RUN_TEST(test_recovers_blobs);
	RUN_TEST(test_deterministic);
	RUN_TEST(test_inertia_decreases);
	RUN_TEST(test_degenerate_inputs);
	RUN_TEST(test_empty_cluster_refill);
	RUN_TEST(test_nearest);
	return unit_report();
}

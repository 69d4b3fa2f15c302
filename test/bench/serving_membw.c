/*
 * serving_membw.c - the memory bandwidth a scan of item vectors is bound by.
 *
 *   serving_membw [MB] [threads]
 *
 * Sums a buffer of float4 much larger than the caches (default 1 GB) the way
 * a scoring kernel reads item vectors: sequentially, once per pass.  Prints
 * the best of several passes in GB/s (10^9 bytes/s) as
 *
 *     read_gbps <threads> <value>
 *
 * The sum uses 16 independent lanes so that the adds keep up with memory;
 * -O3 -march=native vectorises it.  With threads > 1 every thread reads its
 * own slice: the bandwidth two concurrent serving backends share.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Slice
{
	const float *x;
	size_t		n;
	float		sum;
} Slice;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
sum_slice(void *arg)
{
	Slice	   *s = arg;
	float		acc[16] = {0};
	size_t		i;

	for (i = 0; i + 16 <= s->n; i += 16)
		for (int j = 0; j < 16; j++)
			acc[j] += s->x[i + j];
	s->sum = 0;
	for (int j = 0; j < 16; j++)
		s->sum += acc[j];
	return NULL;
}

int
main(int argc, char **argv)
{
	size_t		mb = argc > 1 ? (size_t) atol(argv[1]) : 1024;
	int			threads = argc > 2 ? atoi(argv[2]) : 1;
	size_t		n = mb * 1024 * 1024 / sizeof(float);
	float	   *x = aligned_alloc(64, n * sizeof(float));
	Slice		slices[64];
	pthread_t	tid[64];
	double		best = 0;
	float		check = 0;

	if (x == NULL || threads < 1 || threads > 64)
		return 1;
	for (size_t i = 0; i < n; i++)
		x[i] = (float) (i & 7);	/* touch every page before timing */
	for (int pass = 0; pass < 15; pass++)
	{
		double		t0 = now();
		double		gbps;

		for (int t = 0; t < threads; t++)
		{
			slices[t].x = x + n / threads * t;
			slices[t].n = n / threads;
			pthread_create(&tid[t], NULL, sum_slice, &slices[t]);
		}
		for (int t = 0; t < threads; t++)
		{
			pthread_join(tid[t], NULL);
			check += slices[t].sum;
		}
		gbps = (double) (n / threads * threads * sizeof(float)) / (now() - t0) / 1e9;
		if (gbps > best)
			best = gbps;
	}
	printf("read_gbps %d %.2f\n", threads, best);
	free(x);
	return check == 0.12345f ? 2 : 0;	/* keep the sums alive */
}

/*
 * serving_ivf_sim.c - recall of IVF for maximum inner product search,
 * outside the server: which MIPS reduction, how many lists and probes.
 *
 *   serving_ivf_sim N DIM LISTS [clusters]
 *
 * Items and queries are drawn like serving_gen.c (seeds 1 and 2): y = [x, b]
 * with x ~ N(0, 0.1^2)^DIM, b ~ N(0, 0.1^2); queries p = [q, 1].  Two ways
 * to build the lists, both with core/kmeans.c on a sample of 50 x LISTS:
 *
 *   augment  k-means on y' = [y, sqrt(M^2 - ||y||^2)] (M = max ||y||), query
 *            p' = [p, 0]: ||p' - y'||^2 = ||p||^2 + M^2 - 2 p.y, so the
 *            nearest neighbours of p' are the best items; lists are probed
 *            by ||p' - c||^2.
 *   ip       k-means on y, lists probed by p.c (largest first).
 *
 * Prints recall@10 (against brute force) for a range of probes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kmeans.h"
#include "rng.h"
#include "topk.h"
#include "vec.h"

#define NQ 200
#define TOPK 10

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Probe
{
	double		score;
	int32_t		list;
} Probe;

static int
by_score_desc(const void *a, const void *b)
{
	double		x = ((const Probe *) a)->score;
	double		y = ((const Probe *) b)->score;

	return (x < y) - (x > y);
}

int
main(int argc, char **argv)
{
	int64_t		n = atol(argv[1]);
	int32_t		d = atoi(argv[2]);
	int32_t		lists = atoi(argv[3]);
	int			nclusters = argc > 4 ? atoi(argv[4]) : 0;
	int32_t		D = d + 1;
	FmAllocator a = fm_malloc_allocator();
	float	   *y = fm_alloc(&a, sizeof(float) * n * D);
	float	   *p = fm_alloc(&a, sizeof(float) * NQ * D);
	float	   *centres = NULL;
	int64_t		truth[NQ][TOPK];
	FmRng		rng;
	double		t0;
	const int	probes[] = {1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300};

	fm_rng_seed(&rng, 1);
	if (nclusters > 0)
	{
		centres = fm_alloc(&a, sizeof(float) * nclusters * d);
		for (int64_t i = 0; i < (int64_t) nclusters * d; i++)
			centres[i] = (float) (0.1 * fm_rng_normal(&rng));
	}
	for (int64_t i = 0; i < n; i++)
	{
		float		bias = (float) (0.1 * fm_rng_normal(&rng));
		const float *c = nclusters > 0 ? centres + (size_t) d * fm_rng_below(&rng, nclusters) : NULL;

		for (int j = 0; j < d; j++)
			y[i * D + j] = c ? c[j] + (float) (0.05 * fm_rng_normal(&rng)) : (float) (0.1 * fm_rng_normal(&rng));
		y[i * D + d] = bias;
	}
	fm_rng_seed(&rng, 2);
	for (int u = 0; u < NQ; u++)
	{
		(void) fm_rng_normal(&rng);		/* the bias column of serving_gen */
		for (int j = 0; j < d; j++)
			p[u * D + j] = (float) (0.1 * fm_rng_normal(&rng));
		p[u * D + d] = 1.0f;
	}
	t0 = now();
	for (int u = 0; u < NQ; u++)
	{
		FmTopK		t;
		FmScored	s[TOPK];

		fm_topk_init(&t, TOPK, s);
		for (int64_t i = 0; i < n; i++)
			fm_topk_push(&t, i, fm_vec_dot(p + u * D, y + i * D, D));
		fm_topk_sort(&t);
		for (int r = 0; r < TOPK; r++)
			truth[u][r] = s[r].id;
	}
	printf("brute force: %.1f ms/query\n", (now() - t0) * 1e3 / NQ);

	for (int mode = 0; mode < 2; mode++)
	{
		int32_t		E = mode == 0 ? D + 1 : D;
		int64_t		ns = n < 50L * lists ? n : 50L * lists;
		float	   *sample = fm_alloc(&a, sizeof(float) * ns * E);
		float	   *cent = fm_alloc(&a, sizeof(float) * lists * E);
		float	   *norms2 = fm_alloc(&a, sizeof(float) * lists);
		int32_t    *list_of = fm_alloc(&a, sizeof(int32_t) * n);
		int64_t    *sizes = fm_alloc(&a, sizeof(int64_t) * lists);
		float	   *buf = fm_alloc(&a, sizeof(float) * E);
		double		M2 = 0;
		FmKmeansResult kr;
		Probe	   *pr = fm_alloc(&a, sizeof(Probe) * lists);

		for (int64_t i = 0; i < n; i++)
			M2 = fmax(M2, fm_vec_dot(y + i * D, y + i * D, D));
		/* every (n / ns)-th item: a deterministic, spread sample */
		for (int64_t s = 0; s < ns; s++)
		{
			int64_t		i = s * (n / ns);

			memcpy(sample + s * E, y + i * D, sizeof(float) * D);
			if (mode == 0)
				sample[s * E + D] = (float) sqrt(fmax(0, M2 - fm_vec_dot(y + i * D, y + i * D, D)));
		}
		t0 = now();
		kr = fm_kmeans(sample, ns, E, lists, 10, 42, cent, &a);
		printf("%s: kmeans %.1f s (%d iterations, %d refills)", mode == 0 ? "augment" : "ip",
			   now() - t0, kr.iterations, kr.empty_refills);
		fm_kmeans_norms2(cent, lists, E, norms2);
		t0 = now();
		memset(sizes, 0, sizeof(int64_t) * lists);
		for (int64_t i = 0; i < n; i++)
		{
			memcpy(buf, y + i * D, sizeof(float) * D);
			if (mode == 0)
				buf[D] = (float) sqrt(fmax(0, M2 - fm_vec_dot(buf, buf, D)));
			list_of[i] = fm_kmeans_nearest(buf, cent, norms2, lists, E, NULL);
			sizes[list_of[i]]++;
		}
		{
			int64_t		maxs = 0;

			for (int j = 0; j < lists; j++)
				maxs = sizes[j] > maxs ? sizes[j] : maxs;
			printf(", assign %.1f s, largest list %ld (mean %ld)\n", now() - t0, (long) maxs, (long) (n / lists));
		}
		for (size_t pi = 0; pi < sizeof(probes) / sizeof(probes[0]); pi++)
		{
			int			np = probes[pi];
			int64_t		hits = 0;
			int64_t		scanned = 0;

			if (np > lists)
				break;
			for (int u = 0; u < NQ; u++)
			{
				char	   *chosen = calloc(lists, 1);

				for (int j = 0; j < lists; j++)
				{
					double		dot = fm_vec_dot(p + u * D, cent + (size_t) j * E, D);

					pr[j].list = j;
					pr[j].score = mode == 0 ? 2 * dot - norms2[j] : dot;
				}
				qsort(pr, lists, sizeof(Probe), by_score_desc);
				for (int j = 0; j < np; j++)
				{
					chosen[pr[j].list] = 1;
					scanned += sizes[pr[j].list];
				}
				for (int r = 0; r < TOPK; r++)
					hits += chosen[list_of[truth[u][r]]];
				free(chosen);
			}
			printf("  probes %4d: recall@10 %.3f, items scanned %.1f%%\n", np,
				   (double) hits / (NQ * TOPK), 100.0 * scanned / ((double) n * NQ));
		}
	}
	return 0;
}

/*
 * kmeans.c - deterministic k-means for the IVF index.
 *
 * Seeding is k-means++ (Arthur & Vassilvitskii 2007): each next centre is a
 * point drawn with probability proportional to its squared distance to the
 * nearest centre so far, which avoids the clumped starts of uniform seeding
 * and needs far fewer Lloyd iterations.  A cluster that loses all its
 * points is re-seeded with the point farthest from its centroid, so that no
 * list of the index is wasted.
 */
#include "kmeans.h"

#include <math.h>
#include <string.h>

#include "rng.h"
#include "vec.h"

void
fm_kmeans_norms2(const float *centroids, int32_t k, int32_t dim, float *norms2)
{
	for (int32_t j = 0; j < k; j++)
	{
		const float *c = centroids + (size_t) j * dim;

		norms2[j] = fm_vec_dot(c, c, dim);
	}
}

int32_t
fm_kmeans_nearest(const float *x, const float *centroids, const float *norms2,
				  int32_t k, int32_t dim, double *dist2)
{
	int32_t		best = 0;
	double		best_d = INFINITY;

	for (int32_t j = 0; j < k; j++)
	{
		double		d = (double) norms2[j] - 2.0 * (double) fm_vec_dot(x, centroids + (size_t) j * dim, dim);

		if (d < best_d)
		{
			best_d = d;
			best = j;
		}
	}
	if (dist2 != NULL)
		*dist2 = best_d;
	return best;
}

/* ||a - b||^2, exactly enough for seeding and re-seeding. */
static double
distance2(const float *a, const float *b, int32_t dim)
{
	double		sum = 0.0;

	for (int32_t i = 0; i < dim; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	return sum;
}

/*
 * ||a - b||^2 from the norms and the dot product: one vectorised pass instead
 * of a scalar one.  Float cancellation can make it slightly negative.
 */
static inline double
distance2_fast(const float *a, double a2, const float *b, double b2, int32_t dim)
{
	double		d = a2 + b2 - 2.0 * (double) fm_vec_dot(a, b, dim);

	return d > 0.0 ? d : 0.0;
}

/*
 * k-means++ seeding; d2 receives each point's squared distance to its
 * nearest seed, x2 holds the squared norms of the points.
 */
static void
seed_plus_plus(const float *x, const double *x2, int64_t n, int32_t dim, int32_t k,
			   FmRng *rng, float *centroids, double *d2)
{
	int64_t		first = (int64_t) fm_rng_below(rng, (uint64_t) n);

	memcpy(centroids, x + (size_t) first * dim, sizeof(float) * dim);
	for (int64_t i = 0; i < n; i++)
		d2[i] = distance2_fast(x + (size_t) i * dim, x2[i], centroids, x2[first], dim);
	for (int32_t j = 1; j < k; j++)
	{
		double		total = 0.0;
		double		target;
		int64_t		pick = -1;
		float	   *c = centroids + (size_t) j * dim;

		for (int64_t i = 0; i < n; i++)
			total += d2[i];
		if (total <= 0.0)
		{
			/* fewer distinct points than clusters: duplicate a point */
			memcpy(c, x + (size_t) fm_rng_below(rng, (uint64_t) n) * dim, sizeof(float) * dim);
			continue;
		}
		target = fm_rng_uniform(rng) * total;
		for (int64_t i = 0; i < n && pick < 0; i++)
		{
			target -= d2[i];
			if (target < 0.0 && d2[i] > 0.0)
				pick = i;
		}
		if (pick < 0)
		{
			/* rounding left target >= 0 at the end: the last eligible point */
			for (int64_t i = n - 1; i >= 0 && pick < 0; i--)
				if (d2[i] > 0.0)
					pick = i;
		}
		memcpy(c, x + (size_t) pick * dim, sizeof(float) * dim);
		for (int64_t i = 0; i < n; i++)
		{
			double		d = distance2_fast(x + (size_t) i * dim, x2[i], c, x2[pick], dim);

			if (d < d2[i])
				d2[i] = d;
		}
	}
}

/* Assigns every point; returns how many changed cluster. */
static int64_t
assign(const float *x, int64_t n, int32_t dim, int32_t k, const float *centroids,
	   float *norms2, int32_t *cluster, double *inertia)
{
	int64_t		changed = 0;

	fm_kmeans_norms2(centroids, k, dim, norms2);
	*inertia = 0.0;
	for (int64_t i = 0; i < n; i++)
	{
		const float *p = x + (size_t) i * dim;
		double		d;
		int32_t		c = fm_kmeans_nearest(p, centroids, norms2, k, dim, &d);

		if (c != cluster[i])
		{
			cluster[i] = c;
			changed++;
		}
		*inertia += fmax(0.0, d + (double) fm_vec_dot(p, p, dim));
	}
	return changed;
}

/*
 * New centroids: the means of their points.  An empty cluster takes the
 * point farthest from its own centroid (lowest index among equals), which
 * then leaves its cluster.  Returns the number of empty clusters refilled.
 */
static int32_t
update(const float *x, int64_t n, int32_t dim, int32_t k, float *centroids,
	   int32_t *cluster, double *sums, int64_t *counts)
{
	int32_t		refills = 0;

	memset(sums, 0, sizeof(double) * (size_t) k * dim);
	memset(counts, 0, sizeof(int64_t) * k);
	for (int64_t i = 0; i < n; i++)
	{
		double	   *s = sums + (size_t) cluster[i] * dim;
		const float *p = x + (size_t) i * dim;

		for (int32_t t = 0; t < dim; t++)
			s[t] += p[t];
		counts[cluster[i]]++;
	}
	for (int32_t j = 0; j < k; j++)
	{
		int64_t		far = -1;
		double		far_d = -1.0;

		if (counts[j] > 0)
			continue;
		for (int64_t i = 0; i < n; i++)
		{
			double		d;

			if (counts[cluster[i]] <= 1)
				continue;		/* would empty another cluster */
			d = distance2(x + (size_t) i * dim, centroids + (size_t) cluster[i] * dim, dim);
			if (d > far_d)
			{
				far_d = d;
				far = i;
			}
		}
		if (far < 0)
			continue;			/* n < k: nothing to spare */
		for (int32_t t = 0; t < dim; t++)
			sums[(size_t) cluster[far] * dim + t] -= x[(size_t) far * dim + t];
		counts[cluster[far]]--;
		cluster[far] = j;
		for (int32_t t = 0; t < dim; t++)
			sums[(size_t) j * dim + t] = x[(size_t) far * dim + t];
		counts[j] = 1;
		refills++;
	}
	for (int32_t j = 0; j < k; j++)
		if (counts[j] > 0)
			for (int32_t t = 0; t < dim; t++)
				centroids[(size_t) j * dim + t] = (float) (sums[(size_t) j * dim + t] / (double) counts[j]);
	return refills;
}

FmKmeansResult
fm_kmeans(const float *x, int64_t n, int32_t dim, int32_t k, int32_t max_iterations,
		  uint64_t seed, float *centroids, const FmAllocator *a)
{
	FmKmeansResult result = {0, 0, 0.0};
	FmRng		rng;
	int32_t    *cluster;
	float	   *norms2;
	double	   *work;
	double	   *x2;
	int64_t    *counts;

	if (n <= k)
	{
		for (int32_t j = 0; j < k; j++)
			memcpy(centroids + (size_t) j * dim, x + (size_t) (j < n ? j : n - 1) * dim,
				   sizeof(float) * dim);
		return result;
	}
	cluster = fm_alloc(a, sizeof(int32_t) * (size_t) n);
	norms2 = fm_alloc(a, sizeof(float) * (size_t) k);
	work = fm_alloc(a, sizeof(double) * ((size_t) n > (size_t) k * dim ? (size_t) n : (size_t) k * dim));
	counts = fm_alloc(a, sizeof(int64_t) * (size_t) k);
	x2 = fm_alloc(a, sizeof(double) * (size_t) n);

	for (int64_t i = 0; i < n; i++)
		x2[i] = fm_vec_dot(x + (size_t) i * dim, x + (size_t) i * dim, dim);
	fm_rng_seed(&rng, seed);
	seed_plus_plus(x, x2, n, dim, k, &rng, centroids, work);
	for (int64_t i = 0; i < n; i++)
		cluster[i] = -1;
	for (int32_t it = 0; it < max_iterations; it++)
	{
		int64_t		changed = assign(x, n, dim, k, centroids, norms2, cluster, &result.inertia);

		result.iterations = it + 1;
		if (changed == 0)
			break;
		result.empty_refills += update(x, n, dim, k, centroids, cluster, work, counts);
	}
	return result;
}

/*
 * kmeans.h - deterministic k-means (Lloyd's algorithm, k-means++ seeding):
 * the list centres of the IVF index.
 *
 * Same input, same seed, same centroids, bit for bit, on every CPU: the
 * points are visited in order, sums are taken in a fixed order in double,
 * and the distances use fm_vec_dot, whose instruction-set clones agree.
 */
#ifndef FM_KMEANS_H
#define FM_KMEANS_H

#include "fm_core.h"

typedef struct FmKmeansResult
{
	int32_t		iterations;		/* Lloyd iterations run */
	int32_t		empty_refills;	/* clusters that emptied and were re-seeded */
	double		inertia;		/* sum of squared distances to the centroids */
} FmKmeansResult;

/*
 * Clusters n points of dim floats (row-major in x) into k centroids, written
 * row-major to centroids (k x dim).  Stops after max_iterations or when no
 * point changes cluster.  With n <= k every point becomes a centroid and the
 * remaining centroids repeat the last point.  Work memory (n + k*dim + ...)
 * comes from the allocator.  n, k, dim >= 1.
 */
extern FmKmeansResult fm_kmeans(const float *x, int64_t n, int32_t dim, int32_t k,
								int32_t max_iterations, uint64_t seed,
								float *centroids, const FmAllocator *a);

/* norms2[j] = ||centroid j||^2, for fm_kmeans_nearest. */
extern void fm_kmeans_norms2(const float *centroids, int32_t k, int32_t dim, float *norms2);

/*
 * The centroid nearest to x in Euclidean distance (the lowest index among
 * equals), using ||x - c||^2 = ||x||^2 + ||c||^2 - 2 x.c; *dist2 (if not NULL)
 * receives ||c||^2 - 2 x.c, the distance up to the constant ||x||^2.
 */
extern int32_t fm_kmeans_nearest(const float *x, const float *centroids, const float *norms2,
								 int32_t k, int32_t dim, double *dist2);

#endif							/* FM_KMEANS_H */

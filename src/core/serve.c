/*
 * serve.c - the FM equation of one description, see serve.h.
 */
#include <math.h>

#include "serve.h"
#include "vec.h"

void
fm_serve_sums(const FmServeTerm *terms, size_t n, int k, FmServeSums *sums)
{
	sums->linear = 0.0;
	sums->squares = 0.0;
	for (int d = 0; d < k; d++)
		sums->acc[d] = 0.0;
	for (size_t i = 0; i < n; i++)
	{
		const FmServeTerm *t = &terms[i];
		float		xf = (float) t->x;

		sums->linear += (double) t->w * t->x;
		for (int d = 0; d < k; d++)
			sums->acc[d] += (double) (t->v[d] * xf);
		sums->squares += (double) fm_vec_dot(t->v, t->v, k) * t->x * t->x;
	}
	for (int d = 0; d < k; d++)
		sums->total[d] = (float) sums->acc[d];
}

double
fm_serve_pairwise(const FmServeSums *sums, int k)
{
	return 0.5 * ((double) fm_vec_dot(sums->total, sums->total, k) - sums->squares);
}

/* (NaN clips to hi, as greatest(lo, least(hi, NaN)) does in SQL) */
double
fm_serve_predict(double w0, const FmServeSums *sums, int k, double lo, double hi)
{
	double		p = w0 + sums->linear + fm_serve_pairwise(sums, k);

	if (lo <= hi)
	{
		if (isnan(p) || p > hi)
			p = hi;
		if (p < lo)
			p = lo;
	}
	return p;
}

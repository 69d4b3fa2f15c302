/*
 * serve.c - the FM equation of one description, see serve.h.
 */
#include "serve.h"

void
fm_serve_sums(const FmServeTerm *terms, size_t n, int k, FmServeSums *sums)
{
	sums->linear = 0.0;
	sums->squares = 0.0;
	for (int d = 0; d < k; d++)
		sums->total[d] = 0.0;
	for (size_t i = 0; i < n; i++)
	{
		const FmServeTerm *t = &terms[i];
		double		norm2 = 0.0;

		sums->linear += (double) t->w * t->x;
		for (int d = 0; d < k; d++)
		{
			double		vd = t->v[d];

			sums->total[d] += vd * t->x;
			norm2 += vd * vd;
		}
		sums->squares += norm2 * t->x * t->x;
	}
}

double
fm_serve_pairwise(const FmServeSums *sums, int k)
{
	double		total2 = 0.0;

	for (int d = 0; d < k; d++)
		total2 += sums->total[d] * sums->total[d];
	return 0.5 * (total2 - sums->squares);
}

double
fm_serve_predict(double w0, const FmServeSums *sums, int k, double lo, double hi)
{
	double		p = w0 + sums->linear + fm_serve_pairwise(sums, k);

	if (lo <= hi)
	{
		if (p < lo)
			p = lo;
		if (p > hi)
			p = hi;
	}
	return p;
}

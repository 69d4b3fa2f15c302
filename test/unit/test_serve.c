/*
 * test_serve.c - the serving equation agrees with the FM written out
 * term by term (w0 + sum w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j), clips to
 * the target range (NaN to the top, as SQL's greatest/least), and is w0 /
 * a zero vector for an empty description.
 */
#include "rng.h"
#include "serve.h"
#include "unit.h"

#include <stdlib.h>

/* The FM with its explicit double sum over pairs. */
static double
naive_fm(double w0, const FmServeTerm *t, size_t n, int k)
{
	double		p = w0;

	for (size_t i = 0; i < n; i++)
	{
		p += t[i].w * t[i].x;
		for (size_t j = i + 1; j < n; j++)
		{
			double		dot = 0.0;

			for (int d = 0; d < k; d++)
				dot += (double) t[i].v[d] * t[j].v[d];
			p += dot * t[i].x * t[j].x;
		}
	}
	return p;
}

int
main(void)
{
	FmRng		rng;
	int			k = 7;
	size_t		n = 9;
	float	   *v = malloc(sizeof(float) * k * n);
	FmServeTerm terms[9];
	float		total[7];
	double		acc[7];
	FmServeSums sums = {0, 0, total, acc};

	fm_rng_seed(&rng, 42);
	for (int trial = 0; trial < 50; trial++)
	{
		for (size_t i = 0; i < n; i++)
		{
			for (int d = 0; d < k; d++)
				v[i * k + d] = (float) fm_rng_normal(&rng);
			terms[i].v = &v[i * k];
			terms[i].w = (float) fm_rng_normal(&rng);
			/* one-hot, 1/len and real values */
			terms[i].x = i % 3 == 0 ? 1.0 : i % 3 == 1 ? 0.25 : 3.0 * fm_rng_normal(&rng);
		}
		fm_serve_sums(terms, n, k, &sums);
		/* (float products and dots: agreement to float precision) */
		CHECK_NEAR(fm_serve_predict(0.5, &sums, k, 1.0, -1.0), naive_fm(0.5, terms, n, k), 1e-3);
		{
			double		lin = 0.0;

			for (size_t i = 0; i < n; i++)
				lin += terms[i].w * terms[i].x;
			CHECK_NEAR(sums.linear, lin, 1e-12);
		}
	}

	/* clipping to [1, 5] */
	fm_serve_sums(terms, 1, k, &sums);
	terms[0].w = 100.0f;
	fm_serve_sums(terms, 1, k, &sums);
	CHECK(fm_serve_predict(3.0, &sums, k, 1.0, 5.0) == 5.0);
	terms[0].w = -100.0f;
	fm_serve_sums(terms, 1, k, &sums);
	CHECK(fm_serve_predict(3.0, &sums, k, 1.0, 5.0) == 1.0);

	CHECK(fm_serve_predict(NAN, &sums, k, 1.0, 5.0) == 5.0);

	/* a single feature has no pairwise part; nothing known = w0 and zeros */
	terms[0].w = 0.0f;
	fm_serve_sums(terms, 1, k, &sums);
	CHECK_NEAR(fm_serve_pairwise(&sums, k), 0.0, 1e-9);
	fm_serve_sums(terms, 0, k, &sums);
	CHECK(fm_serve_predict(3.25, &sums, k, 1.0, 5.0) == 3.25);
	CHECK(sums.linear == 0.0 && sums.squares == 0.0);
	for (int d = 0; d < k; d++)
		CHECK(total[d] == 0.0);

	free(v);
	return unit_report();
}

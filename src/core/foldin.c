/*
 * foldin.c - fold-in of a new user's ratings in closed form (foldin.h).
 */
#include "foldin.h"

#include <math.h>
#include <string.h>

bool
fm_cholesky_solve(double *A, double *rhs, int32_t n)
{
	/* A = L L^T, L stored in the lower triangle of A */
	for (int32_t j = 0; j < n; j++)
	{
		double		d = A[(size_t) j * n + j];

		for (int32_t t = 0; t < j; t++)
			d -= A[(size_t) j * n + t] * A[(size_t) j * n + t];
		if (!(d > 0.0) || !isfinite(d))
			return false;
		d = sqrt(d);
		A[(size_t) j * n + j] = d;
		for (int32_t r = j + 1; r < n; r++)
		{
			double		v = A[(size_t) r * n + j];

			for (int32_t t = 0; t < j; t++)
				v -= A[(size_t) r * n + t] * A[(size_t) j * n + t];
			A[(size_t) r * n + j] = v / d;
		}
	}
	/* L y = rhs, then L^T x = y */
	for (int32_t r = 0; r < n; r++)
	{
		double		v = rhs[r];

		for (int32_t t = 0; t < r; t++)
			v -= A[(size_t) r * n + t] * rhs[t];
		rhs[r] = v / A[(size_t) r * n + r];
	}
	for (int32_t r = n - 1; r >= 0; r--)
	{
		double		v = rhs[r];

		for (int32_t t = r + 1; t < n; t++)
			v -= A[(size_t) t * n + r] * rhs[t];
		rhs[r] = v / A[(size_t) r * n + r];
	}
	return true;
}

void
fm_fold_in_gram_add(double *gram, int32_t k, double b, const float *e, double alpha)
{
	int32_t		dim = k + 2;

	/* ea = (1, b, e); only the products are formed, no ea array */
	for (int32_t r = 0; r < dim; r++)
	{
		double		er = r == 0 ? 1.0 : r == 1 ? b : (double) e[r - 2];
		double		ar = alpha * er;
		double	   *row = gram + (size_t) r * dim;

		row[0] += ar;
		row[1] += ar * b;
		for (int32_t c = 0; c < k; c++)
			row[2 + c] += ar * (double) e[c];
	}
}

/* base_i = S + b_i + <q0, e_i> and the prediction at theta. */
static double
prediction(const FmFoldIn *f, const double *theta, double b, const float *e)
{
	double		y = f->s0 + b + theta[0];

	for (int32_t d = 0; d < f->k; d++)
		y += ((double) f->q0[d] + theta[1 + d]) * (double) e[d] + theta[1 + d] * (double) f->q0[d];
	return y;
}

double
fm_fold_in_objective(const FmFoldIn *f, const double *theta, int32_t n_all,
					 const double *b_all, const float *const *e_all, const double *alpha_all)
{
	double		loss = f->lambda_w * theta[0] * theta[0];

	for (int32_t d = 0; d < f->k; d++)
		loss += f->lambda_v * theta[1 + d] * theta[1 + d];
	for (int32_t i = 0; i < f->n; i++)
	{
		double		err = f->target[i] - prediction(f, theta, f->b[i], f->e[i]);

		loss += f->weight[i] * err * err;
	}
	for (int32_t j = 0; j < n_all; j++)
	{
		double		y = prediction(f, theta, b_all[j], e_all[j]);

		loss += alpha_all[j] * y * y;
	}
	return loss;
}

FmFoldInStatus
fm_fold_in_solve(const FmFoldIn *f, const FmAllocator *a, double *u, float *query)
{
	int32_t		k = f->k;
	int32_t		m = k + 1;
	int32_t		g = k + 2;
	double	   *A = fm_alloc(a, (size_t) m * m * sizeof(double));
	double	   *rhs = fm_alloc(a, (size_t) m * sizeof(double));
	double	   *phi = fm_alloc(a, (size_t) m * sizeof(double));

	/* the rated items: A += w phi phi^T, rhs += w (t - base) phi */
	for (int32_t i = 0; i < f->n; i++)
	{
		const float *e = f->e[i];
		double		base = f->s0 + f->b[i];
		double		w = f->weight[i];
		double		r;

		phi[0] = 1.0;
		for (int32_t d = 0; d < k; d++)
		{
			phi[1 + d] = (double) f->q0[d] + (double) e[d];
			base += (double) f->q0[d] * (double) e[d];
		}
		r = w * (f->target[i] - base);
		for (int32_t s = 0; s < m; s++)
		{
			double		ws = w * phi[s];
			double	   *row = A + (size_t) s * m;

			for (int32_t c = 0; c <= s; c++)
				row[c] += ws * phi[c];
			rhs[s] += r * phi[s];
		}
	}

	/*
	 * Every item, through G: phi_j = M ea_j with M's row 0 = unit 0 and row
	 * 1 + d = q0_d unit 0 + unit (2 + d); base_j = <a0, ea_j>, a0 = (S, 1, q0).
	 * A += M G M^T, rhs -= M G a0.
	 */
	if (f->gram != NULL)
	{
		const double *G = f->gram;
		double	   *H = fm_alloc(a, (size_t) g * m * sizeof(double));	/* G M^T */
		double	   *ga = fm_alloc(a, (size_t) g * sizeof(double));	/* G a0 */

		for (int32_t r = 0; r < g; r++)
		{
			const double *Gr = G + (size_t) r * g;

			H[(size_t) r * m] = Gr[0];
			for (int32_t d = 0; d < k; d++)
				H[(size_t) r * m + 1 + d] = (double) f->q0[d] * Gr[0] + Gr[2 + d];
			ga[r] = f->s0 * Gr[0] + Gr[1];
			for (int32_t d = 0; d < k; d++)
				ga[r] += (double) f->q0[d] * Gr[2 + d];
		}
		for (int32_t s = 0; s < m; s++)
		{
			double	   *row = A + (size_t) s * m;

			for (int32_t c = 0; c <= s; c++)
			{
				double		v = H[c];	/* (M H)[0][c] = H[0][c] */

				if (s > 0)
					v = (double) f->q0[s - 1] * H[c] + H[(size_t) (s + 1) * m + c];
				row[c] += v;
			}
		}
		rhs[0] -= ga[0];
		for (int32_t d = 0; d < k; d++)
			rhs[1 + d] -= (double) f->q0[d] * ga[0] + ga[2 + d];
	}

	A[0] += f->lambda_w;
	for (int32_t d = 0; d < k; d++)
		A[(size_t) (1 + d) * m + 1 + d] += f->lambda_v;
	/* no rating, no catalogue and no penalty on u: u is free, pin it to 0 */
	if (A[0] == 0.0)
		A[0] = 1.0;
	for (int32_t s = 0; s < m; s++)
	{
		if (!isfinite(rhs[s]))
			return FM_FOLD_IN_NOT_FINITE;
		for (int32_t c = 0; c <= s; c++)
		{
			if (!isfinite(A[(size_t) s * m + c]))
				return FM_FOLD_IN_NOT_FINITE;
			A[(size_t) c * m + s] = A[(size_t) s * m + c];
		}
	}
	if (!fm_cholesky_solve(A, rhs, m))
		return FM_FOLD_IN_SINGULAR;
	*u = rhs[0];
	for (int32_t d = 0; d < k; d++)
	{
		query[d] = (float) ((double) f->q0[d] + rhs[1 + d]);
		if (!isfinite(query[d]))
			return FM_FOLD_IN_NOT_FINITE;
	}
	return FM_FOLD_IN_OK;
}

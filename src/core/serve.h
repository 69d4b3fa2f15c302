/*
 * serve.h - the FM equation of one description (a context, an item, or a
 * user-item pair) from its known features, for serving.
 *
 * A description is a list of terms (w_i, v_i, x_i): a feature's bias,
 * embedding and value.  Each feature appears at most once (the caller adds
 * up the x of repeated features first: the pairwise identity below is only
 * exact for distinct features).  With
 *     linear  = sum_i w_i x_i
 *     total   = sum_i v_i x_i               (the query / item embedding)
 *     squares = sum_i |v_i|^2 x_i^2
 * the pairwise part of the FM is 1/2 (|total|^2 - squares), and
 *     prediction = w0 + linear + 1/2 (|total|^2 - squares).
 * The arithmetic is that of fmrec 0.2.0's SQL serving functions, so that
 * their C replacements give the same bits: each v_i x_i is a float product
 * (x rounded to float), total is accumulated in double and rounded to
 * float (fm_sum), |.|^2 are fm_vec_dot's float results, linear and squares
 * are double sums.
 */
#ifndef FM_CORE_SERVE_H
#define FM_CORE_SERVE_H

#include <stddef.h>

typedef struct FmServeTerm
{
	float		w;				/* bias w_i */
	const float *v;				/* embedding v_i, k floats */
	double		x;				/* value x_i */
} FmServeTerm;

typedef struct FmServeSums
{
	double		linear;
	double		squares;
	float	   *total;			/* k floats, owned by the caller */
	double	   *acc;			/* k doubles of scratch, owned by the caller */
} FmServeSums;

/* Fills sums (total and acc must point to k elements) from n terms. */
extern void fm_serve_sums(const FmServeTerm *terms, size_t n, int k, FmServeSums *sums);

/* 1/2 (|total|^2 - squares): the pairwise interactions among the terms. */
extern double fm_serve_pairwise(const FmServeSums *sums, int k);

/* w0 + linear + pairwise, clipped to [lo, hi] (no clipping when lo > hi). */
extern double fm_serve_predict(double w0, const FmServeSums *sums, int k, double lo, double hi);

#endif							/* FM_CORE_SERVE_H */

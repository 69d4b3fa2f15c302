/*
 * foldin.h - fold-in: the query vector of a user who rated items after the
 * training, solved in closed form against the fixed item vectors.
 *
 * The new user is one more context feature (think of its user id) with
 * x = 1, a bias u and a vector p, all other parameters fixed.  With the
 * user's metadata (the context) giving the scalar S = w0 + linear + pairwise
 * terms of the context and its query vector q0, and an item i giving its
 * materialised bias b_i and embedding e_i (fm_item), the FM predicts
 *
 *   y_i = S + u + <p, q0> + b_i + <q0 + p, e_i>
 *       = base_i + <theta, phi_i>,   base_i = S + b_i + <q0, e_i>,
 *                                    theta = (u, p),  phi_i = (1, q0 + e_i)
 *
 * (the <p, q0> term is the pairwise interaction of the new feature with the
 * context's own features), and the query vector to rank with is q0 + p:
 * ORDER BY fm_score(q0 + p, e_i, b_i) ranks as y_i, u being a constant.
 *
 * The objective, linear least squares in theta:
 *
 *   L(theta) = sum_rated w_i (t_i - y_i)^2  +  sum_all alpha_j y_j^2
 *              + lambda_w u^2 + lambda_v |p|^2
 *
 * - rating models (sgd, adam, als, mcmc): w_i = 1, t_i the rating, no
 *   second sum;
 * - iALS (ials.h): w_i the confidence 1 + confidence * target of a positive,
 *   t_i = 1, and the second sum over EVERY item j of the catalogue with its
 *   unobserved weight alpha_j (also over the rated ones, as in training).
 *   It needs only the (k+2)-square Gramian G = sum_j alpha_j ea_j ea_j^T of
 *   the augmented item vectors ea_j = (1, b_j, e_j): phi_j = M ea_j and
 *   base_j = <(S, 1, q0), ea_j> for a fixed matrix M, so
 *   sum_j alpha_j phi_j phi_j^T = M G M^T and the right-hand side alike.
 *
 * The normal equations (k+1 square, positive definite when the penalties
 * are positive) are solved by Cholesky: O(n k^2 + k^3) per user, plus
 * O(N k^2) once per catalogue for G.
 */
#ifndef FM_FOLDIN_H
#define FM_FOLDIN_H

#include "fm_core.h"

typedef struct FmFoldIn
{
	int32_t		k;
	double		s0;				/* S: w0 + the context's linear and pairwise terms */
	const float *q0;			/* k: the context's query vector */
	int32_t		n;				/* rated items */
	const float *const *e;		/* n pointers to k floats: embeddings */
	const double *b;			/* n: item biases */
	const double *target;		/* n: t_i */
	const double *weight;		/* n: w_i > 0 */
	double		lambda_w;		/* penalty of u (>= 0) */
	double		lambda_v;		/* penalty of each p_d (> 0) */
	const double *gram;			/* (k+2)^2 row-major G, or NULL (no second sum) */
} FmFoldIn;

typedef enum FmFoldInStatus
{
	FM_FOLD_IN_OK,
	FM_FOLD_IN_NOT_FINITE,		/* a NaN or infinite input or result */
	FM_FOLD_IN_SINGULAR			/* the system is not positive definite */
} FmFoldInStatus;

/*
 * Solve for theta = (u, p): writes u to *u and the query vector q0 + p to
 * query (k floats).  Scratch memory from `a`.
 */
extern FmFoldInStatus fm_fold_in_solve(const FmFoldIn *f, const FmAllocator *a,
									   double *u, float *query);

/* G += alpha ea ea^T with ea = (1, b, e); gram is (k+2)^2, row-major. */
extern void fm_fold_in_gram_add(double *gram, int32_t k, double b, const float *e, double alpha);

/*
 * L(theta) computed directly, the second sum over the n_all items given
 * (b_all, e_all, alpha_all) instead of G: what the tests check the solver
 * against.  theta = (u, p), k + 1 values.
 */
extern double fm_fold_in_objective(const FmFoldIn *f, const double *theta, int32_t n_all,
								   const double *b_all, const float *const *e_all,
								   const double *alpha_all);

/* Solve A x = rhs in place (A n x n symmetric positive definite, row-major, overwritten). */
extern bool fm_cholesky_solve(double *A, double *rhs, int32_t n);

#endif							/* FM_FOLDIN_H */

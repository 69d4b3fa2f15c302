/*
 * als.h - the column-wise sweep that ALS (als.c) and MCMC (mcmc.c) share.
 *
 * Both optimisers visit one parameter theta at a time and use that a
 * factorization machine is linear in each single parameter (Rendle,
 * "Factorization Machines with libFM", ACM TIST 2012):
 *
 *     y(x) = g_theta(x) + theta * h_theta(x)
 *
 *     h_w0(x)  = 1
 *     h_wl(x)  = x_l
 *     h_vlf(x) = x_l * (q_f(x) - v_{l,f} x_l) = x_l sum_{i != l} v_{i,f} x_i
 *
 * The ALS step and the Gibbs draw of a parameter need only
 *
 *     sum_r h_theta(x_r)^2      and      sum_r h_theta(x_r) e_r
 *
 * over the rows where h_theta is non-zero, i.e. the rows of feature l's
 * column (FmColumns, the transpose of the CSR rows, built once), with the
 * residuals e_r = y_r - y(x_r) cached per row and updated after each change.
 * A parameter costs O(non-zeros of its column), never O(rows); computing h
 * costs, once per feature and per 32 factors, O(non-zeros of the rows of
 * its column) (see column_h() in als.c).
 *
 * Order.  A sweep visits the features one by one and, for each, w_l and
 * then v_{l,1} .. v_{l,k} (any fixed order is a valid coordinate descent
 * and a valid Gibbs scan).  Feature-major order is what makes the sweep
 * fast: h_vlf does not involve v_l, so for one feature the h values of all
 * its rows are computed once per block of factors into a buffer laid out
 * factor-major, and each factor's sums and residual update are contiguous
 * vectorised passes over it.  See column_h() in als.c for why q_f is
 * recomputed from V there instead of being cached per row.
 *
 * Memory: e is one float per row; the column buffers hold k + 2 floats per
 * row of the longest column (h, e and x), at most 16 MB for h unless one
 * block of 8 factors needs more; plus a copy of V.
 *
 * Rows must not repeat a feature (the model is then quadratic, not linear,
 * in that feature's v).  e is float and updated incrementally;
 * fm_sweep_begin_iteration recomputes it from the model every few
 * iterations so that rounding cannot accumulate.
 *
 * Internal to the core.
 */
#ifndef FM_ALS_H
#define FM_ALS_H

#include "train.h"

/* The training rows by feature: column l is rows[start[l] .. start[l+1]). */
typedef struct FmColumns
{
	int32_t		n_features;
	int64_t		max_length;		/* rows of the longest column */
	int64_t    *start;			/* n_features + 1 */
	int32_t    *rows;			/* n_nonzeros, ascending within a column */
	float	   *x;				/* n_nonzeros */
} FmColumns;

/* Sufficient statistics of one parameter: sum h^2 and sum h*e over its rows. */
typedef struct FmParamStats
{
	double		sum_hh;
	double		sum_he;
} FmParamStats;

/*
 * How an optimiser chooses a parameter's new value from its current value
 * and statistics: ALS solves, MCMC draws.  `factor` is -1 for w_l.
 */
typedef double (*FmParamUpdate) (void *arg, int32_t feature, int32_t factor,
								 double theta, FmParamStats st);

/* Caches and buffers of a sweep. */
typedef struct FmSweep
{
	const FmDataset *data;
	FmColumns	cols;
	int32_t		k;
	int32_t		k_padded;		/* k rounded up to whole blocks of 8 */
	float	   *v_padded;		/* a copy of V with rows of k_padded floats */
	float	   *e;				/* n_rows: y_r - y(x_r), unclipped */
	double	   *predictions;	/* a chunk of rows' predictions */
	float	   *col_e;			/* e of the current column (padded) */
	float	   *col_x;			/* x of the current column (padded) */
	float	   *col_h;			/* h of some factors, factor-major */
	int64_t		col_h_floats;	/* its size */
	int32_t		iterations;		/* begun so far */
	const FmTrainHooks *hooks;
	int64_t		work;			/* non-zeros visited since the last tick */
} FmSweep;

extern void fm_columns_build(FmColumns *cols, const FmDataset *ds, const FmAllocator *a);

/* Allocate the caches and fill them from `model` (after its initialisation). */
extern void fm_sweep_init(FmSweep *s, const FmDataset *train, const FmModel *model,
						  const FmTrainHooks *hooks, const FmAllocator *a);

/*
 * Raw prediction of every row of ds (same features as the training rows),
 * handed to use(arg, row, prediction) in row order.  Reads the sweep's copy
 * of V, which must match the model.
 */
typedef void (*FmRowPrediction) (void *arg, int64_t row, double prediction);
extern void fm_sweep_predict(FmSweep *s, const FmModel *model, const FmDataset *ds,
							 FmRowPrediction use, void *arg);

/* RMSE of the clipped predictions of ds (NaN when empty or NULL). */
extern double fm_sweep_rmse(FmSweep *s, const FmModel *model, const FmDataset *ds);

/* Recompute e from the model, so rounding does not accumulate. */
extern void fm_sweep_refresh(FmSweep *s, const FmModel *model);

/*
 * Continue with a model the sweep did not produce, and rows of the same
 * structure (same ids and weights, other targets): reload V, recompute e.
 */
extern void fm_sweep_reset(FmSweep *s, const FmDataset *data, const FmModel *model);

/* Start an iteration: recompute e every few iterations. */
extern void fm_sweep_begin_iteration(FmSweep *s, const FmModel *model);

/* sum_r e_r^2 over the training rows. */
extern double fm_sweep_sse(const FmSweep *s);

/* RMSE of the clipped predictions y_r - e_r of the training rows. */
extern double fm_sweep_train_rmse(const FmSweep *s, const FmModel *model);

/* w0 (h = 1 on every row): statistics, and e_r -= delta after w0 += delta. */
extern FmParamStats fm_sweep_w0_stats(const FmSweep *s);
extern void fm_sweep_w0_apply(FmSweep *s, double delta);

/*
 * Visit every feature: w_l, then v_{l,0} .. v_{l,k-1}, each set to
 * update(arg, l, f, old value, statistics), keeping e up to date.
 */
extern void fm_sweep_features(FmSweep *s, FmModel *model, FmParamUpdate update, void *arg);

/*
 * Largest difference between the cached e and a recomputation, or between
 * the copy of V and the model.  For tests.
 */
extern double fm_sweep_cache_error(const FmSweep *s, const FmModel *model);

/* One ALS iteration: w0, then every feature's w_l and v_l. */
extern void fm_als_iteration(FmSweep *s, FmModel *model, const FmTrainParams *params);

/* Count work and call hooks->tick every few thousand rows' worth. */
extern void fm_sweep_work(FmSweep *s, int64_t nonzeros);

#endif							/* FM_ALS_H */

/*
 * model.h - a degree-2 factorization machine.
 *
 *   y(x) = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j
 *
 * evaluated in O(k * m) per row with the identity
 *   sum_{i<j} <v_i,v_j> x_i x_j
 *     = 1/2 sum_f [ (sum_i v_{i,f} x_i)^2 - sum_i v_{i,f}^2 x_i^2 ].
 *
 * V is one row-major block (n_features x k), 64-byte aligned.
 */
#ifndef FM_MODEL_H
#define FM_MODEL_H

#include "fm_core.h"
#include "dataset.h"

typedef struct FmModel
{
	int32_t		n_features;
	int32_t		k;
	double		w0;
	float	   *w;				/* n_features */
	float	   *V;				/* n_features * k */
	double		target_min;		/* predictions are clipped to this range */
	double		target_max;
} FmModel;

extern void fm_model_alloc(FmModel *m, int32_t n_features, int32_t k, const FmAllocator *a);

/* w0 = mean target, w = 0, V ~ N(0, init_stdev^2). */
extern void fm_model_init_random(FmModel *m, double w0, double init_stdev, uint64_t seed);

static inline float *
fm_model_v(const FmModel *m, int32_t feature)
{
	return m->V + (size_t) feature * (size_t) m->k;
}

/*
 * Before a stochastic step on rows[i] of an order: asks for the model rows
 * (w and the k floats of V) of the non-zeros of rows[i + 2], whose ids
 * fm_ds_prefetch_ahead fetched two rows earlier.  On data larger than the
 * cache the item's V row is a miss per rating (the user's is shared by its
 * bucket in the grouped order, the metadata rows stay cached): started two
 * steps ahead, its latency overlaps the current step's arithmetic.  Lines
 * already in cache cost a prefetch instruction each.  Changes no result.
 */
static inline void
fm_model_prefetch_ahead(const FmModel *m, const FmDataset *ds, const uint32_t *rows,
						int64_t i, int64_t n)
{
	if (i + 2 < n)
	{
		int64_t		r = rows[i + 2];
		size_t		line_floats = 64 / sizeof(float);

		for (int64_t p = fm_ds_begin(ds, r); p < fm_ds_end(ds, r); p++)
		{
			const float *v = fm_model_v(m, fm_ds_id(ds, p));

			for (size_t f = 0; f < (size_t) m->k; f += line_floats)
				FM_PREFETCH(v + f);
		}
	}
}

/*
 * Raw (unclipped) prediction for one sparse row.  `sum` (k floats) receives
 * sum_i v_{i,f} x_i, which SGD reuses for the gradient; it may be NULL.
 */
extern double fm_model_predict_raw(const FmModel *m, const int32_t *ids, const float *weights,
								   int32_t nnz, float *sum);

/* fm_model_predict_raw of row r of a dataset (dataset.h), read in place. */
extern double fm_model_predict_row(const FmModel *m, const FmDataset *ds, int64_t r, float *sum);

/* Prediction clipped to [target_min, target_max]. */
extern double fm_model_predict(const FmModel *m, const int32_t *ids, const float *weights,
							   int32_t nnz, float *scratch);

/* RMSE of the clipped predictions over a dataset (NaN when it is empty). */
extern double fm_model_rmse(const FmModel *m, const FmDataset *ds, const FmAllocator *a);

#endif							/* FM_MODEL_H */

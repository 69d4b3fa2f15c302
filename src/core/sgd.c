/*
 * sgd.c - plain stochastic gradient descent on the squared loss, as libFM.
 *
 * Each epoch visits the training rows in a new random order (the generator
 * is seeded once from params->seed, so a seed fixes every epoch's order and
 * the whole run is reproducible bit for bit).  For a row with prediction y
 * and error e = y - t, each parameter theta of the row moves by
 *
 *   theta -= lr * (e * dy/dtheta + reg * theta)
 *
 * with dy/dw0 = 1, dy/dw_i = x_i, dy/dv_if = x_i (sum_f - v_if x_i), where
 * sum_f = sum_j v_jf x_j is computed once by the prediction.  All v_i of a
 * row are updated from that same sum (the gradient at the row's start).
 *
 * The error uses the raw, unclipped prediction: it is the true gradient of
 * the squared loss.  libFM clips the prediction to the target range first,
 * which zeroes the gradient of a row whose prediction overshoots a target at
 * the edge of the range (a 5-star rating predicted 5.3); on MovieLens both
 * give the same test RMSE (0.9190), so the plain gradient wins on clarity.
 *
 * The learning rate decays linearly to 0 over the epochs
 * (fm_epoch_learning_rate).
 */
#include "train.h"
#include "train_util.h"

#include <math.h>

/* Factor updates work in blocks of this many floats (see update_factors). */
#define FM_SGD_BLOCK 16

typedef struct SgdRates
{
	float		lr;
	float		reg_w0;
	float		reg_w;
	float		reg_v;
} SgdRates;

/*
 * v_f -= lr * (e * (x sum_f - v_f x^2) + reg v_f)
 *      = v_f - lr * (a sum_f + b v_f),  a = e x,  b = reg - e x^2.
 *
 * The inner loop has a fixed trip count so that GCC vectorises it at -O2
 * (whose cost model refuses loops that need a scalar epilogue).
 */
static void
update_factors(float *restrict v, const float *restrict sum, int32_t k,
			   float err, float x, const SgdRates *rates)
{
	float		a = rates->lr * err * x;
	float		b = rates->lr * (rates->reg_v - err * x * x);
	int32_t		f = 0;

	for (; f + FM_SGD_BLOCK <= k; f += FM_SGD_BLOCK)
		for (int j = 0; j < FM_SGD_BLOCK; j++)
			v[f + j] -= a * sum[f + j] + b * v[f + j];
	for (; f < k; f++)
		v[f] -= a * sum[f] + b * v[f];
}

/* One SGD step on one row; returns the squared error of the clipped prediction. */
static double
sgd_step(FmModel *m, const FmDataset *ds, int64_t row, float *sum, const SgdRates *rates)
{
	int64_t		begin = ds->row_start[row];
	int32_t		nnz = (int32_t) (ds->row_start[row + 1] - begin);
	const int32_t *ids = ds->ids + begin;
	const float *xs = ds->weights + begin;
	double		target = ds->targets[row];
	double		y = fm_model_predict_raw(m, ids, xs, nnz, sum);
	double		clipped_err = fm_clip(y, m->target_min, m->target_max) - target;
	float		err = (float) (y - target);

	m->w0 -= rates->lr * (err + rates->reg_w0 * m->w0);
	for (int32_t p = 0; p < nnz; p++)
	{
		int32_t		i = ids[p];
		float		x = xs[p];

		m->w[i] -= rates->lr * (err * x + rates->reg_w * m->w[i]);
		update_factors(fm_model_v(m, i), sum, m->k, err, x, rates);
	}
	return clipped_err * clipped_err;
}

void
fm_train_sgd(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
			 FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
			 FmTrainResult *result)
{
	FmRng		rng;
	int64_t    *order = fm_row_order_alloc(train->n_rows, a);
	float	   *sum = fm_alloc(a, (size_t) model->k * sizeof(float));
	SgdRates	rates;

	fm_model_init_random(model, fm_dataset_target_mean(train), params->init_stdev,
						 fm_seed_for(params->seed, FM_SEED_INIT));
	fm_rng_seed(&rng, fm_seed_for(params->seed, FM_SEED_SHUFFLE));
	rates.reg_w0 = (float) params->reg_w0;
	rates.reg_w = (float) params->reg_w;
	rates.reg_v = (float) params->reg_v;

	result->epochs_run = 0;
	result->train_rmse = NAN;
	result->valid_rmse = NAN;
	for (int32_t epoch = 0; epoch < params->epochs; epoch++)
	{
		double		started = fm_wall_seconds();
		double		sse = 0.0;
		double		train_rmse;
		double		valid_rmse;

		rates.lr = (float) fm_epoch_learning_rate(params, epoch);
		fm_row_order_shuffle(&rng, order, train->n_rows);
		for (int64_t r = 0; r < train->n_rows; r++)
		{
			sse += sgd_step(model, train, order[r], sum, &rates);
			if ((r + 1) % FM_TICK_ROWS == 0)
				fm_hooks_tick(hooks);
		}

		/*
		 * Train RMSE of the epoch is progressive: each row's error is taken
		 * just before its own update.  It costs nothing, whereas an exact
		 * figure would need another pass (a third of an epoch) every epoch;
		 * the exact figure is computed once, for the result, at the end.
		 */
		train_rmse = train->n_rows > 0 ? sqrt(sse / (double) train->n_rows) : NAN;
		valid_rmse = fm_evaluate_rmse(model, valid, hooks);
		result->epochs_run = epoch + 1;
		result->valid_rmse = valid_rmse;
		if (!fm_report_epoch(hooks, epoch + 1, train_rmse, valid_rmse,
							 fm_wall_seconds() - started))
			break;
	}
	result->train_rmse = fm_evaluate_rmse(model, train, hooks);
	/* the stored model is the one valid_rmse measured */
	result->valid_rmse_mean_model = result->valid_rmse;
}

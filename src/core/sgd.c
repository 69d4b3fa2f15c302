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
 * (fm_epoch_learning_rate).  The epoch loop (order, hooks, reports) is
 * fm_train_stochastic() in train.c, shared with Adam; this file supplies the
 * per-row step.
 */
#include "train.h"
#include "train_util.h"

#include <string.h>

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
	size_t		f = 0;

	/*
	 * size_t indices: PostgreSQL builds with -fwrapv, under which an int
	 * index f + j may wrap and GCC 12 at -O2 then does not vectorise the
	 * block (scalar code, ~3x slower updates than the core alone).
	 */
	for (; f + FM_SGD_BLOCK <= (size_t) k; f += FM_SGD_BLOCK)
		for (size_t j = 0; j < FM_SGD_BLOCK; j++)
			v[f + j] -= a * sum[f + j] + b * v[f + j];
	for (; f < (size_t) k; f++)
		v[f] -= a * sum[f] + b * v[f];
}

/* One SGD step on a decoded row; returns the squared error of the clipped prediction. */
static inline double
sgd_step_decoded(FmModel *m, const int32_t *ids, const float *xs, int32_t nnz, double target,
				 float *sum, const SgdRates *rates)
{
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

/* One SGD step on one row; returns the squared error of the clipped prediction. */
static double
sgd_step(FmModel *m, const FmDataset *ds, int64_t row, float *sum, const SgdRates *rates,
		 int32_t *ids, float *xs)
{
	int32_t		nnz = fm_ds_row(ds, row, ids, xs);

	return sgd_step_decoded(m, ids, xs, nnz, fm_ds_target(ds, row), sum, rates);
}

/* What sgd_rows() works on. */
typedef struct SgdState
{
	FmModel    *model;
	const FmDataset *train;
	float	   *sum;			/* k floats: sum_i v_i x_i of the current row */
	int32_t    *ids;			/* the current row, decoded (fm_ds_row) */
	float	   *xs;
	SgdRates	rates;
} SgdState;

/* FmRowsUpdate of SGD: one step per row. */
static double
sgd_rows(void *arg, const uint32_t *rows, int64_t n_rows, double lr, double sse)
{
	const SgdState *st = arg;
	FmModel    *model = st->model;
	const FmDataset *train = st->train;
	float	   *sum = st->sum;
	SgdRates	rates = st->rates;

	/* locals: the model's float stores cannot alias them */
	rates.lr = (float) lr;
	for (int64_t r = 0; r < n_rows; r++)
	{
		fm_ds_prefetch_ahead(train, rows, r, n_rows);
		fm_model_prefetch_ahead(model, train, rows, r, n_rows);
		sse += sgd_step(model, train, rows[r], sum, &rates, st->ids, st->xs);
	}
	return sse;
}

static void
sgd_rates_init(SgdRates *rates, const FmTrainParams *params)
{
	rates->lr = 0.0f;			/* sgd_rows() uses the driver's rate */
	rates->reg_w0 = (float) params->reg_w0;
	rates->reg_w = (float) params->reg_w;
	rates->reg_v = (float) params->reg_v;
}

static inline bool
hot_bit(const uint64_t *bits, int32_t id)
{
	return (bits[(uint32_t) id >> 6] >> ((uint32_t) id & 63)) & 1;
}

/* Model row of participant p's copy of slot h (snapshot: its snapshot). */
static inline int32_t
hot_row(const FmHotSet *set, int32_t p, int32_t h, bool snapshot)
{
	return set->n_features + ((snapshot ? set->participants : 0) + p) * fm_sgd_hot_stride(set->n) + h;
}

int32_t
fm_sgd_hot_features(const FmDataset *train, int32_t max_hot, int64_t *counts,
					int32_t *slot_feature)
{
	int32_t		n = 0;

	memset(counts, 0, (size_t) train->n_features * sizeof(int64_t));
	for (int64_t r = 0; r < train->n_rows; r++)
		for (int64_t p = fm_ds_begin(train, r); p < fm_ds_end(train, r); p++)
			counts[fm_ds_id(train, p)]++;
	/* max_hot is small: insertion into a list kept sorted by count */
	for (int32_t f = 0; f < train->n_features; f++)
	{
		int32_t		at;

		if (counts[f] * FM_SGD_HOT_SHARE < train->n_rows || counts[f] == 0)
			continue;
		if (n == max_hot && counts[f] <= counts[slot_feature[n - 1]])
			continue;
		at = n < max_hot ? n++ : n - 1;
		while (at > 0 && counts[slot_feature[at - 1]] < counts[f])
		{
			slot_feature[at] = slot_feature[at - 1];
			at--;
		}
		slot_feature[at] = f;
	}
	return n;
}

void
fm_sgd_hot_index(const FmHotSet *set, uint64_t *is_hot, int32_t *slot)
{
	for (int32_t h = 0; h < set->n; h++)
	{
		int32_t		f = set->feature[h];

		is_hot[(uint32_t) f >> 6] |= UINT64_C(1) << ((uint32_t) f & 63);
		slot[f] = h;
	}
}

void
fm_sgd_hot_sync(FmModel *model, FmHotCopy *copy, volatile double *shared_w0, int32_t active,
				bool merge)
{
	const FmHotSet *set = copy->set;
	int32_t		p = copy->participant;
	size_t		k = (size_t) model->k;
	float		share = 1.0f / (float) (active > 0 ? active : 1);

	for (int32_t h = 0; h < set->n; h++)
	{
		int32_t		f = set->feature[h];
		int32_t		mine = hot_row(set, p, h, false);
		int32_t		snap = hot_row(set, p, h, true);
		float	   *shared_v = fm_model_v(model, f);
		float	   *mine_v = fm_model_v(model, mine);
		float	   *snap_v = fm_model_v(model, snap);

		if (merge)
		{
			model->w[f] += share * (model->w[mine] - model->w[snap]);
			for (size_t i = 0; i < k; i++)
				shared_v[i] += share * (mine_v[i] - snap_v[i]);
		}
		model->w[mine] = model->w[snap] = model->w[f];
		memcpy(mine_v, shared_v, k * sizeof(float));
		memcpy(snap_v, mine_v, k * sizeof(float));
	}
	if (merge)
		*shared_w0 += (model->w0 - copy->w0_snapshot) / (active > 0 ? active : 1);
	model->w0 = copy->w0_snapshot = *shared_w0;
}

double
fm_sgd_rows(FmModel *model, const FmDataset *train, const FmTrainParams *params,
			const uint32_t *rows, int64_t n_rows, double lr, const FmRowScratch *scratch,
			const FmHotCopy *hot)
{
	float	   *sum = scratch->sum;
	int32_t    *ids = scratch->ids;
	float	   *xs = scratch->xs;
	SgdRates	rates;
	double		sse = 0.0;
	const FmHotSet *set;

	sgd_rates_init(&rates, params);
	rates.lr = (float) lr;
	if (hot == NULL)
	{
		for (int64_t r = 0; r < n_rows; r++)
		{
			fm_ds_prefetch_ahead(train, rows, r, n_rows);
			fm_model_prefetch_ahead(model, train, rows, r, n_rows);
			sse += sgd_step(model, train, rows[r], sum, &rates, ids, xs);
		}
		return sse;
	}

	/* the hot ids renamed to this participant's copies (see FmHotSet) */
	set = hot->set;
	for (int64_t r = 0; r < n_rows; r++)
	{
		int32_t		nnz;

		fm_ds_prefetch_ahead(train, rows, r, n_rows);
		fm_model_prefetch_ahead(model, train, rows, r, n_rows);
		nnz = fm_ds_row(train, rows[r], ids, xs);
		for (int32_t p = 0; p < nnz; p++)
			if (hot_bit(set->is_hot, ids[p]))
				ids[p] = hot_row(set, hot->participant, set->slot[ids[p]], false);
		sse += sgd_step_decoded(model, ids, xs, nnz, fm_ds_target(train, rows[r]), sum, &rates);
	}
	return sse;
}

void
fm_train_sgd(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
			 FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
			 FmTrainResult *result)
{
	SgdState	st;

	st.model = model;
	st.train = train;
	st.sum = fm_alloc(a, (size_t) model->k * sizeof(float));
	st.ids = fm_alloc(a, (size_t) fm_dataset_max_row_nonzeros(train) * sizeof(int32_t));
	st.xs = fm_alloc(a, (size_t) fm_dataset_max_row_nonzeros(train) * sizeof(float));
	sgd_rates_init(&st.rates, params);
	fm_train_stochastic(train, valid, params, model, hooks, a, sgd_rows, &st,
						hooks != NULL ? hooks->parallel : NULL, NULL, result);
}

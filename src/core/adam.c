/*
 * adam.c - Adam (Kingma & Ba) on the squared loss with L2 regularisation,
 * updated lazily: a row only touches the moments of w0 and of the features
 * it contains, so an epoch costs O(k * nnz) like SGD, not O(k * n_features)
 * per row.
 *
 * Gradients are those of sgd.c (raw prediction, reg * theta added to the
 * gradient, i.e. coupled L2 as in the paper rather than AdamW's decay), and
 * so are the learning rate schedule (linear decay to 0 over the epochs) and
 * the epoch loop (fm_train_stochastic() in train.c): this file supplies the
 * per-row step.
 * beta1 = 0.9, beta2 = 0.999, eps = 1e-8 are fixed: the paper's values.
 *
 * Bias correction with sparse updates: every feature keeps its own step
 * count t_i, the number of rows that contained it so far, and its moments
 * are corrected with 1 - beta^t_i.  Each feature thus behaves exactly as if
 * Adam ran on the stream of its own gradients.  The alternative, the global
 * step count (PyTorch SparseAdam), leaves a rare feature's moments nearly
 * uncorrected: its first steps are then about 3x the learning rate
 * ((1 - beta1) / sqrt(1 - beta2)), so rare users and items get noisy.
 */
#include "train.h"
#include "train_util.h"

#include <math.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define FM_ADAM_SSE2 1
#endif

#define FM_ADAM_BETA1 0.9
#define FM_ADAM_BETA2 0.999
#define FM_ADAM_EPS 1e-8

/*
 * Step size and epsilon of one parameter after t updates, from the
 * rearranged update of the paper (section 2):
 *   theta -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(s) + eps * sqrt(1 - b2^t))
 */
typedef struct AdamStep
{
	float		step;
	float		eps;
} AdamStep;

typedef struct AdamState
{
	/* first and second moments, shaped like the parameters */
	double		m_w0,
				s_w0;
	float	   *m_w,
			   *s_w;
	float	   *m_V,
			   *s_V;
	int64_t		steps_w0;
	int32_t    *steps;			/* per feature */
	AdamStep   *step_table;		/* see adam_step_table() */
} AdamState;

/*
 * Bias corrections for t = 1 .. FM_ADAM_TABLE, computed once: two pow()
 * per feature per row cost as much as the factor updates at small k.  Past
 * the table, b2^t < 1e-7 and the corrections are 1 to float precision.
 */
#define FM_ADAM_TABLE 16384

static AdamStep
adam_step_for(double lr, int64_t t)
{
	double		c1 = 1.0 - pow(FM_ADAM_BETA1, (double) t);
	double		c2 = sqrt(1.0 - pow(FM_ADAM_BETA2, (double) t));
	AdamStep	s;

	s.step = (float) (lr * c2 / c1);
	s.eps = (float) (FM_ADAM_EPS * c2);
	return s;
}

static AdamStep *
adam_step_table(const FmAllocator *a)
{
	AdamStep   *table = fm_alloc(a, (FM_ADAM_TABLE + 1) * sizeof(AdamStep));

	for (int32_t t = 1; t <= FM_ADAM_TABLE; t++)
		table[t] = adam_step_for(1.0, t);
	table[0] = adam_step_for(1.0, INT32_MAX);	/* the limit, used past the table */
	return table;
}

static inline AdamStep
adam_step_lookup(const AdamStep *table, int32_t t)
{
	return t <= FM_ADAM_TABLE ? table[t] : table[0];
}

/* Moment update and step for one gradient component. */
#define ADAM_UPDATE(theta, m, s, g, st) \
	do { \
		(m) = (float) FM_ADAM_BETA1 * (m) + (float) (1.0 - FM_ADAM_BETA1) * (g); \
		(s) = (float) FM_ADAM_BETA2 * (s) + (float) (1.0 - FM_ADAM_BETA2) * (g) * (g); \
		(theta) -= (st).step * (m) / (sqrtf(s) + (st).eps); \
	} while (0)

/*
 * g_f = e (x sum_f - v_f x^2) + reg v_f = a sum_f + b v_f.
 *
 * On x86-64 four factors at a time with SSE2 (part of the base ISA, so no
 * dispatch is needed).  GCC does not vectorise the plain loop at -O2 unless
 * -fno-math-errno is given, because sqrtf() may have to set errno; written
 * out, the loop runs about twice as fast.  The SSE code performs the scalar
 * code's operations in the same order, and all of them (+, *, /, sqrt) are
 * exactly rounded IEEE operations, so both give the same bits: results do
 * not depend on the build flags or the CPU.
 */
static inline void
adam_update_scalar(float *v, float *m, float *s, float sum_f, float a, float b,
				   AdamStep st)
{
	float		g = a * sum_f + b * *v;

	ADAM_UPDATE(*v, *m, *s, g, st);
}

#ifdef FM_ADAM_SSE2
static void
update_factors(float *restrict v, float *restrict m, float *restrict s,
			   const float *restrict sum, int32_t k, float a, float b, AdamStep st)
{
	const __m128 beta1 = _mm_set1_ps((float) FM_ADAM_BETA1);
	const __m128 one_minus_beta1 = _mm_set1_ps((float) (1.0 - FM_ADAM_BETA1));
	const __m128 beta2 = _mm_set1_ps((float) FM_ADAM_BETA2);
	const __m128 one_minus_beta2 = _mm_set1_ps((float) (1.0 - FM_ADAM_BETA2));
	const __m128 va = _mm_set1_ps(a);
	const __m128 vb = _mm_set1_ps(b);
	const __m128 step = _mm_set1_ps(st.step);
	const __m128 eps = _mm_set1_ps(st.eps);
	int32_t		f = 0;

	for (; f + 4 <= k; f += 4)
	{
		__m128		theta = _mm_loadu_ps(v + f);
		__m128		mf = _mm_loadu_ps(m + f);
		__m128		sf = _mm_loadu_ps(s + f);
		__m128		g = _mm_add_ps(_mm_mul_ps(va, _mm_loadu_ps(sum + f)),
								   _mm_mul_ps(vb, theta));

		mf = _mm_add_ps(_mm_mul_ps(beta1, mf), _mm_mul_ps(one_minus_beta1, g));
		sf = _mm_add_ps(_mm_mul_ps(beta2, sf),
						_mm_mul_ps(_mm_mul_ps(one_minus_beta2, g), g));
		theta = _mm_sub_ps(theta, _mm_div_ps(_mm_mul_ps(step, mf),
											 _mm_add_ps(_mm_sqrt_ps(sf), eps)));
		_mm_storeu_ps(m + f, mf);
		_mm_storeu_ps(s + f, sf);
		_mm_storeu_ps(v + f, theta);
	}
	for (; f < k; f++)
		adam_update_scalar(v + f, m + f, s + f, sum[f], a, b, st);
}
#else
static void
update_factors(float *restrict v, float *restrict m, float *restrict s,
			   const float *restrict sum, int32_t k, float a, float b, AdamStep st)
{
	for (int32_t f = 0; f < k; f++)
		adam_update_scalar(v + f, m + f, s + f, sum[f], a, b, st);
}
#endif

static void
adam_state_alloc(AdamState *st, const FmModel *model, const FmAllocator *a)
{
	size_t		n = (size_t) model->n_features;
	size_t		nk = n * (size_t) model->k;

	st->m_w0 = st->s_w0 = 0.0;
	st->steps_w0 = 0;
	st->m_w = fm_alloc(a, n * sizeof(float));
	st->s_w = fm_alloc(a, n * sizeof(float));
	st->m_V = fm_alloc(a, nk * sizeof(float));
	st->s_V = fm_alloc(a, nk * sizeof(float));
	st->steps = fm_alloc(a, n * sizeof(int32_t));
	st->step_table = adam_step_table(a);
}

/* One Adam step on one row; returns the squared error of the clipped prediction. */
static double
adam_row(FmModel *m, AdamState *st, const FmDataset *ds, int64_t row, float *sum,
		 const FmTrainParams *params, double lr, int32_t *ids, float *xs)
{
	int32_t		nnz = fm_ds_row(ds, row, ids, xs);
	double		target = fm_ds_target(ds, row);
	double		y = fm_model_predict_raw(m, ids, xs, nnz, sum);
	double		clipped_err = fm_clip(y, m->target_min, m->target_max) - target;
	float		err = (float) (y - target);
	float		reg_w = (float) params->reg_w;
	float		reg_v = (float) params->reg_v;

	/* w0 in double, like the model keeps it */
	{
		double		g = err + params->reg_w0 * m->w0;
		AdamStep	step;

		st->steps_w0++;
		step = adam_step_lookup(st->step_table,
								st->steps_w0 > FM_ADAM_TABLE ? INT32_MAX : (int32_t) st->steps_w0);
		st->m_w0 = FM_ADAM_BETA1 * st->m_w0 + (1.0 - FM_ADAM_BETA1) * g;
		st->s_w0 = FM_ADAM_BETA2 * st->s_w0 + (1.0 - FM_ADAM_BETA2) * g * g;
		m->w0 -= lr * step.step * st->m_w0 / (sqrt(st->s_w0) + step.eps);
	}

	for (int32_t p = 0; p < nnz; p++)
	{
		int32_t		i = ids[p];
		float		x = xs[p];
		size_t		off = (size_t) i * (size_t) m->k;
		AdamStep	step;
		float		g;

		/* saturate rather than overflow on a feature seen 2^31 times */
		if (st->steps[i] < INT32_MAX)
			st->steps[i]++;
		step = adam_step_lookup(st->step_table, st->steps[i]);
		step.step *= (float) lr;

		g = err * x + reg_w * m->w[i];
		ADAM_UPDATE(m->w[i], st->m_w[i], st->s_w[i], g, step);
		update_factors(m->V + off, st->m_V + off, st->s_V + off, sum, m->k,
					   err * x, reg_v - err * x * x, step);
	}
	return clipped_err * clipped_err;
}

/* What adam_rows() works on. */
typedef struct AdamRun
{
	FmModel    *model;
	const FmDataset *train;
	const FmTrainParams *params;
	float	   *sum;			/* k floats: sum_i v_i x_i of the current row */
	int32_t    *ids;			/* the current row, decoded (fm_ds_row) */
	float	   *xs;
	AdamState	state;
} AdamRun;

/* FmRowsUpdate of Adam: one step per row. */
static double
adam_rows(void *arg, const uint32_t *rows, int64_t n_rows, double lr, double sse)
{
	AdamRun    *run = arg;
	FmModel    *model = run->model;
	const FmDataset *train = run->train;
	const FmTrainParams *params = run->params;
	float	   *sum = run->sum;
	AdamState	state = run->state;	/* a local, kept in registers; copied back */

	for (int64_t r = 0; r < n_rows; r++)
	{
		fm_ds_prefetch_ahead(train, rows, r, n_rows);
		fm_model_prefetch_ahead(model, train, rows, r, n_rows);
		sse += adam_row(model, &state, train, rows[r], sum, params, lr, run->ids, run->xs);
	}
	run->state = state;
	return sse;
}

/* Parallel epochs (FmParallel.epoch): the state lives in shared memory. */
struct FmAdamShared
{
	AdamState	state;			/* its arrays in shared memory, at the leader's addresses */
};

size_t
fm_adam_shared_bytes(int32_t n_features, int32_t k)
{
	size_t		n = (size_t) n_features;

	return sizeof(FmAdamShared) + 3 * n * sizeof(float) + 2 * n * (size_t) k * sizeof(float) +
		(FM_ADAM_TABLE + 1) * sizeof(AdamStep) + 8 * 64;
}

#define FM_RELOCATE(p, delta) ((p) = (void *) ((char *) (p) + (delta)))

double
fm_adam_rows(FmModel *model, const FmDataset *train, const FmTrainParams *params,
			 FmAdamShared *shared, ptrdiff_t delta, const uint32_t *rows, int64_t n_rows,
			 double lr, const FmRowScratch *scratch, volatile double *shared_w0)
{
	float	   *sum = scratch->sum;
	volatile AdamState *sh = &((FmAdamShared *) ((char *) shared + delta))->state;
	AdamState	st = *(AdamState *) sh;
	double		sse = 0.0;

	FM_RELOCATE(st.m_w, delta);
	FM_RELOCATE(st.s_w, delta);
	FM_RELOCATE(st.m_V, delta);
	FM_RELOCATE(st.s_V, delta);
	FM_RELOCATE(st.steps, delta);
	FM_RELOCATE(st.step_table, delta);

	/*
	 * w0 and its moments, which every row moves, are read before and written
	 * after each row, as the arrays are (Hogwild; see fm_sgd_rows).
	 */
	for (int64_t r = 0; r < n_rows; r++)
	{
		double		before = *shared_w0;

		fm_ds_prefetch_ahead(train, rows, r, n_rows);
		fm_model_prefetch_ahead(model, train, rows, r, n_rows);
		model->w0 = before;
		st.m_w0 = sh->m_w0;
		st.s_w0 = sh->s_w0;
		st.steps_w0 = sh->steps_w0;
		sse += adam_row(model, &st, train, rows[r], sum, params, lr, scratch->ids, scratch->xs);
		sh->m_w0 = st.m_w0;
		sh->s_w0 = st.s_w0;
		sh->steps_w0 = st.steps_w0;
		*shared_w0 += model->w0 - before;
	}
	return sse;
}

void
fm_train_adam(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
			  FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
			  FmTrainResult *result)
{
	AdamRun		run;
	const FmParallel *parallel = hooks != NULL ? hooks->parallel : NULL;
	FmAdamShared *shared = NULL;

	run.model = model;
	run.train = train;
	run.params = params;
	run.sum = fm_alloc(a, (size_t) model->k * sizeof(float));
	run.ids = fm_alloc(a, (size_t) fm_dataset_max_row_nonzeros(train) * sizeof(int32_t));
	run.xs = fm_alloc(a, (size_t) fm_dataset_max_row_nonzeros(train) * sizeof(float));
	if (parallel != NULL)
	{
		shared = fm_alloc(&parallel->shared, sizeof(FmAdamShared));
		adam_state_alloc(&shared->state, model, &parallel->shared);
		run.state = shared->state;
	}
	else
		adam_state_alloc(&run.state, model, a);
	fm_train_stochastic(train, valid, params, model, hooks, a, adam_rows, &run,
						parallel, shared, result);
}

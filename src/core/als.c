/*
 * als.c - alternating least squares (coordinate descent) for factorization
 * machines, and the column-wise sweep it shares with MCMC (als.h).
 *
 * ALS follows Rendle, "Factorization Machines with libFM", ACM TIST 2012
 * (alternating least-squares / coordinate descent): each parameter in turn
 * is set to the minimiser of the regularised squared error with every other
 * parameter held fixed,
 *
 *     theta* = argmin_t sum_r (y_r - g_theta(x_r) - t h_theta(x_r))^2 + lambda t^2
 *            = (theta sum_r h_r^2 + sum_r h_r e_r) / (sum_r h_r^2 + lambda)
 *
 * using y_r - g_theta(x_r) = e_r + theta h_r.  There is no learning rate and
 * no step can raise the objective, so ALS converges without tuning a step
 * size; it needs a random V to start from (with V = 0 every h_vlf is 0).
 */
#include "als.h"
#include "train_util.h"

#include <math.h>
#include <string.h>

/*
 * The hot loops are compiled for several instruction sets, the best picked
 * at load time, as in vec.c.  Their reductions use a fixed number of float
 * lanes combined in a fixed order, and the build disables FMA contraction,
 * so every clone returns the same bits.
 */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	defined(__linux__) && !defined(FM_NO_TARGET_CLONES)
#define FM_SWEEP_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FM_SWEEP_DISPATCH
#endif

/*
 * Factors handled together, and the lanes of every vector below.  A block
 * of factors is one vector value (GCC/Clang vector extension), which lives
 * in a register rather than in a stack array that every update would store
 * and reload.  8 lanes is one ymm register: with 16, GCC cannot map the
 * shuffles onto AVX2 and spills every lane (five times slower), and on
 * AVX-512 CPUs that split zmm work in two (AMD Zen 4) 16 lanes gain little.
 */
#define FM_SWEEP_BLOCK 8

typedef float FmBlockVec __attribute__((vector_size(FM_SWEEP_BLOCK * sizeof(float))));
typedef int32_t FmBlockIdx __attribute__((vector_size(FM_SWEEP_BLOCK * sizeof(int32_t))));

/*
 * Two-input lane shuffle with a constant, parenthesised list of lanes, b's
 * lanes numbered from 8.
 */
#define FM_EXPAND(...) __VA_ARGS__
#if defined(__clang__)
#define FM_SHUFFLE_(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define FM_SHUFFLE_(a, b, ...) __builtin_shuffle(a, b, (FmBlockIdx) {__VA_ARGS__})
#endif
#define FM_SHUFFLE2(a, b, lanes) FM_SHUFFLE_(a, b, FM_EXPAND lanes)

/* Blocks of a row summed in one pass over its CSR entries (64 factors). */
#define FM_SWEEP_GROUP 8

/* Factors per call of the h kernel: bounds its stack tiles (8 KB). */
#define FM_SWEEP_MAX_FACTORS 256

/*
 * Float partial sums are flushed into double every this many rows: float
 * lanes vectorise twice as wide, and short runs keep their rounding error
 * negligible even for a feature present in millions of rows.
 */
#define FM_SWEEP_FLUSH 4096

/* Bound of the h buffer (16 MB), unless one block of the longest column needs more. */
#define FM_SWEEP_H_FLOATS ((int64_t) 4 << 20)

/*
 * Iterations between two recomputations of e from the model.  Rounding in
 * the float updates of e moves it by about 1e-6 per iteration (k + 1
 * updates per non-zero, each within half an ulp); a recomputation costs
 * about a fifth of an iteration.
 */
#define FM_SWEEP_REFRESH_EVERY 8

/* Rows predicted per call of the batch predictor. */
#define FM_SWEEP_CHUNK 1024

/* Rows ahead whose CSR entries are prefetched while walking a column. */
#define FM_SWEEP_PREFETCH 8

static int64_t
padded(int64_t n)
{
	return (n + FM_SWEEP_BLOCK - 1) / FM_SWEEP_BLOCK * FM_SWEEP_BLOCK;
}

static inline void
load_vec(FmBlockVec *v, const float *p)
{
	memcpy(v, p, sizeof(*v));
}

/* Sum of the lanes by a fixed tree of shuffles: the same bits on every clone. */
static inline float
lane_total(const FmBlockVec *v)
{
	FmBlockVec	t = *v;

	t += FM_SHUFFLE2(t, t, (4, 5, 6, 7, 0, 1, 2, 3));
	t += FM_SHUFFLE2(t, t, (2, 3, 0, 1, 6, 7, 4, 5));
	t += FM_SHUFFLE2(t, t, (1, 0, 3, 2, 5, 4, 7, 6));
	return t[0];
}

/* Columns: the transpose of the CSR rows, by counting sort */

void
fm_columns_build(FmColumns *cols, const FmDataset *ds, const FmAllocator *a)
{
	int32_t		n = ds->n_features;
	int64_t    *fill;

	cols->n_features = n;
	cols->max_length = 0;
	cols->start = fm_alloc(a, ((size_t) n + 1) * sizeof(int64_t));
	cols->rows = fm_alloc(a, (size_t) ds->n_nonzeros * sizeof(int32_t));
	cols->x = fm_alloc(a, (size_t) ds->n_nonzeros * sizeof(float));

	/* start[l + 1] counts the non-zeros of column l, then becomes a prefix sum */
	for (int64_t r = 0; r < ds->n_rows; r++)
		for (int64_t p = fm_ds_begin(ds, r); p < fm_ds_end(ds, r); p++)
			cols->start[fm_ds_id(ds, p) + 1]++;
	for (int32_t l = 0; l < n; l++)
	{
		if (cols->start[l + 1] > cols->max_length)
			cols->max_length = cols->start[l + 1];
		cols->start[l + 1] += cols->start[l];
	}

	/* rows are visited in order, so each column's rows come out ascending */
	fill = fm_alloc(a, ((size_t) n + 1) * sizeof(int64_t));
	memcpy(fill, cols->start, ((size_t) n + 1) * sizeof(int64_t));
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		for (int64_t p = fm_ds_begin(ds, r); p < fm_ds_end(ds, r); p++)
		{
			int64_t		dst = fill[fm_ds_id(ds, p)]++;

			cols->rows[dst] = (int32_t) r;
			cols->x[dst] = fm_ds_x(ds, p);
		}
	}
}

/* The sweep's state */

void
fm_sweep_work(FmSweep *s, int64_t nonzeros)
{
	/*
	 * A visited non-zero costs about 2k flops here, an SGD row about 4 m k:
	 * this ticks about as often as SGD does.
	 */
	s->work += nonzeros;
	if (s->work >= 8 * FM_TICK_ROWS)
	{
		s->work = 0;
		fm_hooks_tick(s->hooks);
	}
}

void
fm_sweep_init(FmSweep *s, const FmDataset *train, const FmModel *model,
			  const FmTrainHooks *hooks, const FmAllocator *a)
{
	int64_t		longest;

	memset(s, 0, sizeof(*s));
	s->data = train;
	s->hooks = hooks;
	s->k = model->k;
	s->k_padded = (int32_t) padded(model->k > 0 ? model->k : 1);
	fm_columns_build(&s->cols, train, a);
	longest = padded(s->cols.max_length > 0 ? s->cols.max_length : 1);

	/* V with rows padded to whole blocks, so that every load is a full vector */
	s->v_padded = fm_alloc(a, (size_t) model->n_features * s->k_padded * sizeof(float));
	for (int32_t i = 0; i < model->n_features; i++)
		memcpy(s->v_padded + (size_t) i * s->k_padded, fm_model_v(model, i),
			   (size_t) model->k * sizeof(float));

	s->e = fm_alloc(a, (size_t) train->n_rows * sizeof(float));
	s->predictions = fm_alloc(a, FM_SWEEP_CHUNK * sizeof(double));
	s->col_e = fm_alloc(a, (size_t) longest * sizeof(float));
	s->col_x = fm_alloc(a, (size_t) longest * sizeof(float));

	/* h of all factors of the longest column if that fits, else of fewer */
	s->col_h_floats = longest * s->k_padded;
	if (s->col_h_floats > FM_SWEEP_H_FLOATS)
		s->col_h_floats = FM_SWEEP_H_FLOATS > longest * FM_SWEEP_BLOCK ?
			FM_SWEEP_H_FLOATS : longest * FM_SWEEP_BLOCK;
	s->col_h = fm_alloc(a, (size_t) s->col_h_floats * sizeof(float));

	fm_sweep_refresh(s, model);
}

/*
 * Raw predictions of rows [r0, r1) of ds, from the model's w0 and w and the
 * sweep's copy of V:
 *
 *     w0 + sum_i w_i x_i + 1/2 sum_f [(sum_i v_if x_i)^2 - sum_i (v_if x_i)^2]
 *
 * a block of factors at a time, in registers: cheaper than model.c's
 * general kernels, which this loop would call twice per non-zero.
 */
FM_SWEEP_DISPATCH
static void
predict_rows(const FmSweep *s, const FmModel *model, const FmDataset *ds,
			 int64_t r0, int64_t r1, double *restrict out)
{
	for (int64_t r = r0; r < r1; r++)
	{
		int64_t		begin = fm_ds_begin(ds, r);
		int64_t		end = fm_ds_end(ds, r);
		double		linear = model->w0;
		double		pairwise = 0.0;

		for (int64_t p = begin; p < end; p++)
			linear += (double) model->w[fm_ds_id(ds, p)] * fm_ds_x(ds, p);
		for (int32_t f0 = 0; f0 < s->k_padded; f0 += FM_SWEEP_BLOCK)
		{
			FmBlockVec	sum = {0};
			FmBlockVec	squares = {0};
			FmBlockVec	d;

			for (int64_t p = begin; p < end; p++)
			{
				FmBlockVec	xv;

				load_vec(&xv, s->v_padded + (size_t) fm_ds_id(ds, p) * s->k_padded + f0);
				xv *= fm_ds_x(ds, p);
				sum += xv;
				squares += xv * xv;
			}
			d = sum * sum - squares;
			pairwise += lane_total(&d);
		}
		out[r - r0] = linear + 0.5 * pairwise;
	}
}

/* Non-zeros of rows [r0, r1) of ds: the work of predicting them. */
static int64_t
rows_nonzeros(const FmDataset *ds, int64_t r0, int64_t r1)
{
	int64_t		n = 0;

	for (int64_t r = r0; r < r1; r++)
		n += fm_ds_end(ds, r) - fm_ds_begin(ds, r);
	return n;
}

void
fm_sweep_predict(FmSweep *s, const FmModel *model, const FmDataset *ds,
				 FmRowPrediction use, void *arg)
{
	for (int64_t r0 = 0; r0 < ds->n_rows; r0 += FM_SWEEP_CHUNK)
	{
		int64_t		r1 = r0 + FM_SWEEP_CHUNK < ds->n_rows ? r0 + FM_SWEEP_CHUNK : ds->n_rows;

		predict_rows(s, model, ds, r0, r1, s->predictions);
		for (int64_t r = r0; r < r1; r++)
			use(arg, r, s->predictions[r - r0]);
		fm_sweep_work(s, rows_nonzeros(ds, r0, r1));
	}
}

static void
set_residual(void *arg, int64_t row, double prediction)
{
	FmSweep    *s = arg;

	s->e[row] = (float) ((double) fm_ds_target(s->data, row) - prediction);
}

void
fm_sweep_refresh(FmSweep *s, const FmModel *model)
{
	fm_sweep_predict(s, model, s->data, set_residual, s);
}

void
fm_sweep_reset(FmSweep *s, const FmDataset *data, const FmModel *model)
{
	s->data = data;
	for (int32_t i = 0; i < model->n_features; i++)
		memcpy(s->v_padded + (size_t) i * s->k_padded, fm_model_v(model, i),
			   (size_t) model->k * sizeof(float));
	fm_sweep_refresh(s, model);
}

void
fm_sweep_begin_iteration(FmSweep *s, const FmModel *model)
{
	if (s->iterations > 0 && s->iterations % FM_SWEEP_REFRESH_EVERY == 0)
		fm_sweep_refresh(s, model);
	s->iterations++;
}

double
fm_sweep_sse(const FmSweep *s)
{
	double		sse = 0.0;

	for (int64_t r = 0; r < s->data->n_rows; r++)
		sse += (double) s->e[r] * (double) s->e[r];
	return sse;
}

double
fm_sweep_train_rmse(const FmSweep *s, const FmModel *model)
{
	const FmDataset *ds = s->data;
	double		sse = 0.0;

	if (ds->n_rows == 0)
		return NAN;
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		y = fm_ds_target(ds, r);
		double		err = fm_clip(y - s->e[r], model->target_min, model->target_max) - y;

		sse += err * err;
	}
	return sqrt(sse / (double) ds->n_rows);
}

double
fm_sweep_cache_error(const FmSweep *s, const FmModel *model)
{
	const FmDataset *ds = s->data;
	double		worst = 0.0;

	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		e = (double) fm_ds_target(ds, r) - fm_model_predict_row(model, ds, r, NULL);

		worst = fmax(worst, fabs(e - s->e[r]));
	}
	for (int32_t i = 0; i < model->n_features; i++)
		for (int32_t f = 0; f < model->k; f++)
			worst = fmax(worst, fabs((double) fm_model_v(model, i)[f] -
									 s->v_padded[(size_t) i * s->k_padded + f]));
	return worst;
}

/* w0: h = 1 on every row */

FmParamStats
fm_sweep_w0_stats(const FmSweep *s)
{
	FmParamStats st = {0.0, 0.0};

	for (int64_t r = 0; r < s->data->n_rows; r++)
		st.sum_he += s->e[r];
	st.sum_hh = (double) s->data->n_rows;
	return st;
}

void
fm_sweep_w0_apply(FmSweep *s, double delta)
{
	for (int64_t r = 0; r < s->data->n_rows; r++)
		s->e[r] = (float) (s->e[r] - delta);
	fm_sweep_work(s, s->data->n_rows);
}

/*
 * Kernels over one column.  Its arrays are padded to whole blocks with
 * zeros (h = 0 and e = 0 add nothing), so every loop runs on full vectors.
 */

/*
 * One pass per parameter of feature l: e_j -= delta_prev h_prev_j for the
 * change just made to the parameter before, then sum_j h_j^2 and
 * sum_j h_j e_j for this one with those new residuals.  Fusing the two
 * halves the passes over e.
 */
FM_SWEEP_DISPATCH
static FmParamStats
column_step(float *restrict e, const float *restrict h_prev, float delta_prev,
			const float *restrict h, int64_t m_padded)
{
	FmParamStats st = {0.0, 0.0};

	for (int64_t j0 = 0; j0 < m_padded; j0 += FM_SWEEP_FLUSH)
	{
		int64_t		stop = j0 + FM_SWEEP_FLUSH < m_padded ? j0 + FM_SWEEP_FLUSH : m_padded;
		FmBlockVec	hh = {0};
		FmBlockVec	he = {0};

		for (int64_t j = j0; j < stop; j += FM_SWEEP_BLOCK)
		{
			FmBlockVec	ev;
			FmBlockVec	pv;
			FmBlockVec	hv;

			load_vec(&ev, e + j);
			load_vec(&pv, h_prev + j);
			load_vec(&hv, h + j);
			ev -= delta_prev * pv;
			hh += hv * hv;
			he += hv * ev;
			memcpy(e + j, &ev, sizeof(ev));
		}
		st.sum_hh += lane_total(&hh);
		st.sum_he += lane_total(&he);
	}
	return st;
}

/* e_j -= delta h_j */
FM_SWEEP_DISPATCH
static void
column_apply(float *restrict e, const float *restrict h, float delta, int64_t m_padded)
{
	for (int64_t j = 0; j < m_padded; j += FM_SWEEP_BLOCK)
	{
		FmBlockVec	ev;
		FmBlockVec	hv;

		load_vec(&ev, e + j);
		load_vec(&hv, h + j);
		ev -= delta * hv;
		memcpy(e + j, &ev, sizeof(ev));
	}
}

/*
 * acc[g] = sum x_i v_{i, f0 + 8 g ..} - x_l v_{l, ..} over one row, i.e.
 * over its features other than l, for nb blocks.  nb is a constant at each
 * call site and the blocks are named variables, not an array (which GCC at
 * -O2 keeps in memory), so they stay in registers; each feature's id and
 * weight are loaded once for all blocks.  Up to 4 blocks, two sets of sums
 * (odd and even entries) halve the chains of dependent additions; 5 to 8
 * blocks are enough independent additions in one set, and 8 sums fit AVX2's
 * 16 registers.  Subtracting l's own term afterwards spares a test per
 * entry.
 */
#define FM_ADD_BLOCK(A, g) \
	do { \
		if (nb > (g)) \
		{ \
			load_vec(&vv_, vi_ + (g) * FM_SWEEP_BLOCK); \
			A += x_ * vv_; \
		} \
	} while (0)

#define FM_ADD_ENTRY(p_, A0, A1, A2, A3, A4, A5, A6, A7) \
	do { \
		const float *vi_ = s->v_padded + (size_t) fm_ds_id(ds, p_) * s->k_padded + f0; \
		float		x_ = fm_ds_x(ds, p_); \
		FmBlockVec	vv_; \
		FM_ADD_BLOCK(A0, 0); FM_ADD_BLOCK(A1, 1); FM_ADD_BLOCK(A2, 2); \
		FM_ADD_BLOCK(A3, 3); FM_ADD_BLOCK(A4, 4); FM_ADD_BLOCK(A5, 5); \
		FM_ADD_BLOCK(A6, 6); FM_ADD_BLOCK(A7, 7); \
	} while (0)

#define FM_OWN_TERM(g, SUM) \
	do { \
		if (nb > (g)) \
		{ \
			load_vec(&vv, vl + (g) * FM_SWEEP_BLOCK); \
			acc[g] = (SUM) - xl * vv; \
		} \
	} while (0)

static inline __attribute__((always_inline)) void
row_sums(FmBlockVec *acc, int nb, const FmSweep *s, int64_t begin, int64_t end,
		 int32_t l, float xl, int32_t f0)
{
	const FmDataset *ds = s->data;
	const float *vl = s->v_padded + (size_t) l * s->k_padded + f0;
	FmBlockVec	a0 = {0},
				a1 = {0},
				a2 = {0},
				a3 = {0},
				a4 = {0},
				a5 = {0},
				a6 = {0},
				a7 = {0};
	FmBlockVec	vv;
	int64_t		p = begin;

	if (nb <= 4)
	{
		/* a4 .. a7 hold the second set of sums of blocks 0 .. 3 */
		for (; p + 1 < end; p += 2)
		{
			FM_ADD_ENTRY(p, a0, a1, a2, a3, a4, a5, a6, a7);
			FM_ADD_ENTRY(p + 1, a4, a5, a6, a7, a0, a1, a2, a3);
		}
		if (p < end)
			FM_ADD_ENTRY(p, a0, a1, a2, a3, a4, a5, a6, a7);
		FM_OWN_TERM(0, a0 + a4);
		FM_OWN_TERM(1, a1 + a5);
		FM_OWN_TERM(2, a2 + a6);
		FM_OWN_TERM(3, a3 + a7);
	}
	else
	{
		for (; p < end; p++)
			FM_ADD_ENTRY(p, a0, a1, a2, a3, a4, a5, a6, a7);
		FM_OWN_TERM(0, a0);
		FM_OWN_TERM(1, a1);
		FM_OWN_TERM(2, a2);
		FM_OWN_TERM(3, a3);
		FM_OWN_TERM(4, a4);
		FM_OWN_TERM(5, a5);
		FM_OWN_TERM(6, a6);
		FM_OWN_TERM(7, a7);
	}
}

/*
 * Transpose of an 8 x 8 tile, in place: three butterfly stages, stage w
 * swapping bit w of the row index with bit w of the lane index, each made
 * of two-input shuffles that AVX maps onto one or two instructions.  The
 * pairs are spelt out so that every index is a constant.
 */
#define FM_LO_4 (0, 1, 2, 3, 8, 9, 10, 11)
#define FM_HI_4 (4, 5, 6, 7, 12, 13, 14, 15)
#define FM_LO_2 (0, 1, 8, 9, 4, 5, 12, 13)
#define FM_HI_2 (2, 3, 10, 11, 6, 7, 14, 15)
#define FM_LO_1 (0, 8, 2, 10, 4, 12, 6, 14)
#define FM_HI_1 (1, 9, 3, 11, 5, 13, 7, 15)

#define FM_PAIR(t, i, j, LO, HI) \
	do { \
		FmBlockVec	a_ = (t)[i]; \
		FmBlockVec	b_ = (t)[j]; \
		(t)[i] = FM_SHUFFLE2(a_, b_, LO); \
		(t)[j] = FM_SHUFFLE2(a_, b_, HI); \
	} while (0)

#define FM_STAGE(t, w, LO, HI, i0, i1, i2, i3) \
	do { \
		FM_PAIR(t, i0, i0 + (w), LO, HI); FM_PAIR(t, i1, i1 + (w), LO, HI); \
		FM_PAIR(t, i2, i2 + (w), LO, HI); FM_PAIR(t, i3, i3 + (w), LO, HI); \
	} while (0)

static inline __attribute__((always_inline)) void
transpose_tile(FmBlockVec *t)
{
	FM_STAGE(t, 4, FM_LO_4, FM_HI_4, 0, 1, 2, 3);
	FM_STAGE(t, 2, FM_LO_2, FM_HI_2, 0, 1, 4, 5);
	FM_STAGE(t, 1, FM_LO_1, FM_HI_1, 0, 2, 4, 6);
}

/* The CSR entries of rows a few places ahead will be needed soon. */
static inline void
prefetch_row(const FmDataset *ds, const int32_t *rows, int64_t j, int64_t m)
{
	if (j + FM_SWEEP_PREFETCH < m)
		__builtin_prefetch(ds->row_start + fm_ds_physical(ds, rows[j + FM_SWEEP_PREFETCH]));
	if (j + FM_SWEEP_PREFETCH / 2 < m)
	{
		int64_t		ahead = fm_ds_begin(ds, rows[j + FM_SWEEP_PREFETCH / 2]);

		__builtin_prefetch(ds->ids + ahead);
		if (ds->weights != NULL)
			__builtin_prefetch(ds->weights + ahead);
	}
}

/*
 * h_{j,f} = x_l sum_{i != l} x_i v_{i,f} = x_l (q_f(x_j) - v_{l,f} x_l) for
 * the factors [f0, f0 + nf) of every row j of column l, stored factor-major
 * (h[t * m_padded + j]) so that each factor's pass is contiguous.
 *
 * q is not cached per row: that would cost k floats per rating, and with
 * rows visited column by column each visit would be a random memory access,
 * while the rows of V read here stay in cache.  The price is a sum over the
 * row's other features, O(m_r) vector operations per non-zero instead of
 * O(1).  Rows go 8 at a time, all their factors while their CSR entries are
 * at hand, into tiles (one per block of factors) transposed into place.
 */
FM_SWEEP_DISPATCH
static void
column_h(const FmSweep *s, float *restrict h, int64_t m_padded, int32_t l,
		 const int32_t *restrict rows, const float *restrict xs, int64_t m,
		 int32_t f0, int32_t nf)
{
	const FmDataset *ds = s->data;
	int32_t		blocks = (nf + FM_SWEEP_BLOCK - 1) / FM_SWEEP_BLOCK;

	for (int64_t j0 = 0; j0 < m_padded; j0 += FM_SWEEP_BLOCK)
	{
		FmBlockVec	tile[FM_SWEEP_MAX_FACTORS / FM_SWEEP_BLOCK][FM_SWEEP_BLOCK];

		for (int jj = 0; jj < FM_SWEEP_BLOCK; jj++)
		{
			int64_t		j = j0 + jj;
			int64_t		begin;
			int64_t		end;

			if (j >= m)
			{
				/* padding rows: h = 0 */
				for (int32_t b = 0; b < blocks; b++)
					memset(&tile[b][jj], 0, sizeof(FmBlockVec));
				continue;
			}
			prefetch_row(ds, rows, j, m);
			begin = fm_ds_begin(ds, rows[j]);
			end = fm_ds_end(ds, rows[j]);

			for (int32_t b0 = 0; b0 < blocks; b0 += FM_SWEEP_GROUP)
			{
				FmBlockVec	acc[FM_SWEEP_GROUP];
				int			nb = blocks - b0 < FM_SWEEP_GROUP ? blocks - b0 : FM_SWEEP_GROUP;
				int32_t		fb = f0 + b0 * FM_SWEEP_BLOCK;

				/* one specialised copy per block count */
				switch (nb)
				{
#define FM_ROW_SUMS_CASE(n) \
					case n: \
						row_sums(acc, n, s, begin, end, l, xs[j], fb); \
						break;
						FM_ROW_SUMS_CASE(8)
						FM_ROW_SUMS_CASE(7)
						FM_ROW_SUMS_CASE(6)
						FM_ROW_SUMS_CASE(5)
						FM_ROW_SUMS_CASE(4)
						FM_ROW_SUMS_CASE(3)
						FM_ROW_SUMS_CASE(2)
						FM_ROW_SUMS_CASE(1)
#undef FM_ROW_SUMS_CASE
				}
				for (int g = 0; g < nb; g++)
					tile[b0 + g][jj] = xs[j] * acc[g];
			}
		}

		for (int32_t b = 0; b < blocks; b++)
		{
			int32_t		lanes = nf - b * FM_SWEEP_BLOCK;

			transpose_tile(tile[b]);
			for (int32_t t = 0; t < lanes && t < FM_SWEEP_BLOCK; t++)
				memcpy(h + (int64_t) (b * FM_SWEEP_BLOCK + t) * m_padded + j0,
					   &tile[b][t], sizeof(FmBlockVec));
		}
	}
}

/*
 * Factors [f0, f0 + nf) of feature l.  h does not involve v_l, so it is
 * computed once for them; each factor then takes its statistics and its new
 * value, and its change moves the column's residuals during the next
 * factor's pass.  (pending_h, pending_delta) is a change not yet applied to
 * e on entry (w_l's); every change is applied on return.
 */
static void
sweep_factors(FmSweep *s, FmModel *model, int32_t l, int64_t m, int32_t f0, int32_t nf,
			  const float *pending_h, float pending_delta,
			  FmParamUpdate update, void *arg)
{
	int64_t		begin = s->cols.start[l];
	int64_t		m_padded = padded(m);
	float	   *v = fm_model_v(model, l) + f0;
	float	   *vp = s->v_padded + (size_t) l * s->k_padded + f0;

	column_h(s, s->col_h, m_padded, l, s->cols.rows + begin, s->cols.x + begin, m, f0, nf);
	for (int32_t t = 0; t < nf; t++)
	{
		const float *h = s->col_h + t * m_padded;
		float		old = v[t];
		float		new = (float) update(arg, l, f0 + t, old,
										 column_step(s->col_e, pending_h, pending_delta,
													 h, m_padded));

		/* the change as the float model sees it, so that e matches the model */
		pending_h = h;
		pending_delta = (float) ((double) new - (double) old);
		v[t] = new;
		vp[t] = new;
	}
	column_apply(s->col_e, pending_h, pending_delta, m_padded);
	fm_sweep_work(s, m * nf / 8 + 1);
}

/* w_l, then every v_{l,f}, on the column's residuals gathered meanwhile */
static void
sweep_feature(FmSweep *s, FmModel *model, int32_t l, FmParamUpdate update, void *arg)
{
	int64_t		begin = s->cols.start[l];
	int64_t		m = s->cols.start[l + 1] - begin;
	int64_t		m_padded = padded(m);
	const int32_t *rows = s->cols.rows + begin;
	FmParamStats st;
	int64_t		width;
	float		old = model->w[l];
	float		new;
	float		delta;

	for (int64_t j = 0; j < m; j++)
	{
		s->col_e[j] = s->e[rows[j]];
		s->col_x[j] = s->cols.x[begin + j];
	}
	for (int64_t j = m; j < m_padded; j++)
	{
		s->col_e[j] = 0.0f;
		s->col_x[j] = 0.0f;
	}

	/* w_l: h = x; its change reaches e during the first factor's pass */
	st = column_step(s->col_e, s->col_x, 0.0f, s->col_x, m_padded);
	new = (float) update(arg, l, -1, old, st);
	delta = (float) ((double) new - (double) old);
	model->w[l] = new;

	/* as many factors at a time as the h buffer holds, whole blocks */
	width = s->col_h_floats / (m_padded > 0 ? m_padded : 1);
	width = width < s->k ? width / FM_SWEEP_BLOCK * FM_SWEEP_BLOCK : s->k;
	width = width < FM_SWEEP_MAX_FACTORS ? width : FM_SWEEP_MAX_FACTORS;
	for (int32_t f0 = 0; f0 < s->k; f0 += (int32_t) width)
	{
		sweep_factors(s, model, l, m, f0, (int32_t) (s->k - f0 < width ? s->k - f0 : width),
					  s->col_x, delta, update, arg);
		delta = 0.0f;			/* applied */
	}
	if (s->k == 0)
		column_apply(s->col_e, s->col_x, delta, m_padded);

	for (int64_t j = 0; j < m; j++)
		s->e[rows[j]] = s->col_e[j];
}

void
fm_sweep_features(FmSweep *s, FmModel *model, FmParamUpdate update, void *arg)
{
	for (int32_t l = 0; l < model->n_features; l++)
		sweep_feature(s, model, l, update, arg);
}

/* ALS proper */

/*
 * The minimiser of the penalised squared error in one parameter.  A
 * parameter no row constrains (sum h^2 = 0) and no penalty pulls stays.
 */
static double
als_solve(double theta, FmParamStats st, double lambda)
{
	double		denom = st.sum_hh + lambda;

	if (denom <= 0.0)
		return theta;
	return (theta * st.sum_hh + st.sum_he) / denom;
}

static double
als_update(void *arg, int32_t feature, int32_t factor, double theta, FmParamStats st)
{
	const FmTrainParams *params = arg;

	(void) feature;
	return als_solve(theta, st, factor < 0 ? params->reg_w : params->reg_v);
}

void
fm_als_iteration(FmSweep *s, FmModel *model, const FmTrainParams *params)
{
	double		w0;

	fm_sweep_begin_iteration(s, model);
	w0 = als_solve(model->w0, fm_sweep_w0_stats(s), params->reg_w0);
	fm_sweep_w0_apply(s, w0 - model->w0);
	model->w0 = w0;
	fm_sweep_features(s, model, als_update, (void *) params);
}

/* RMSE of clipped predictions over ds, with the sweep's fast predictor */
typedef struct ClippedSse
{
	const FmDataset *ds;
	const FmModel *model;
	double		sse;
} ClippedSse;

static void
add_squared_error(void *arg, int64_t row, double prediction)
{
	ClippedSse *c = arg;
	double		err = fm_clip(prediction, c->model->target_min, c->model->target_max) -
		fm_ds_target(c->ds, row);

	c->sse += err * err;
}

double
fm_sweep_rmse(FmSweep *s, const FmModel *model, const FmDataset *ds)
{
	ClippedSse	c = {ds, model, 0.0};

	if (ds == NULL || ds->n_rows == 0)
		return NAN;
	fm_sweep_predict(s, model, ds, add_squared_error, &c);
	return sqrt(c.sse / (double) ds->n_rows);
}

/*
 * Parallel sweeps (FmParallel.als_features).
 *
 * Two features that share no row can be updated in either order, or at the
 * same time, with the same result to the bit: feature l's step reads e and
 * x of its own rows, its own w_l and v_l, and the v of the other features of
 * its rows, and writes only w_l, v_l and e of its rows.  So the sweep order
 * is cut into runs of consecutive features no two of which share a row (a
 * categorical column with one value per row is one run: all users, all
 * items), and the features of a long run are shared among the participants
 * while the others wait; short runs (a multi-valued column such as genres
 * makes many) are swept by the leader alone.  Parallel ALS is therefore
 * bit-identical to serial ALS, whatever the number of participants and
 * whatever the scheduling.
 */

/* A run shorter than this is swept by the leader alone (FmParallel.als_min_run 0). */
#define FM_ALS_PARALLEL_MIN_RUN 64

/* What the participants share; allocated from FmParallel.shared. */
struct FmAlsShared
{
	FmSweep		sweep;			/* its arrays in shared memory */
	FmDataset	data;			/* likewise */
	FmModel		model;			/* likewise w and V */
	double		reg_w;
	double		reg_v;
};

/* A participant's view: the shared state at its own addresses, private scratch. */
struct FmAlsParticipant
{
	FmSweep		sweep;
	FmDataset	data;
	FmModel		model;
	FmTrainParams params;
};

size_t
fm_als_shared_bytes(const FmDataset *train, int32_t k, const FmAllocator *scratch)
{
	int32_t    *count = fm_alloc(scratch, ((size_t) train->n_features + 1) * sizeof(int32_t));
	int64_t		longest = 1;
	int64_t		k_padded = padded(k > 0 ? k : 1);
	int64_t		h_floats;
	size_t		total = 0;

	/* the view's rows (with a row index, the arrays also hold other rows) */
	for (int64_t r = 0; r < train->n_rows; r++)
		for (int64_t p = fm_ds_begin(train, r); p < fm_ds_end(train, r); p++)
			if (++count[fm_ds_id(train, p)] > longest)
				longest = count[fm_ds_id(train, p)];
	longest = padded(longest);
	h_floats = longest * k_padded;
	if (h_floats > FM_SWEEP_H_FLOATS)
		h_floats = FM_SWEEP_H_FLOATS > longest * FM_SWEEP_BLOCK ?
			FM_SWEEP_H_FLOATS : longest * FM_SWEEP_BLOCK;

	/* every block as fm_sweep_init and fm_columns_build allocate it, plus alignment */
	total += sizeof(struct FmAlsShared);
	total += 2 * ((size_t) train->n_features + 1) * sizeof(int64_t);	/* start, fill */
	total += (size_t) train->n_nonzeros * (sizeof(int32_t) + sizeof(float));
	total += (size_t) train->n_features * k_padded * sizeof(float);
	total += (size_t) train->n_rows * sizeof(float);
	total += FM_SWEEP_CHUNK * sizeof(double);
	total += 2 * (size_t) longest * sizeof(float);
	total += (size_t) h_floats * sizeof(float);
	return total + 16 * 64;
}

#define FM_RELOCATE(p, delta) ((p) = (void *) ((char *) (p) + (delta)))

FmAlsParticipant *
fm_als_participant(const FmAlsShared *shared, ptrdiff_t delta, const FmTrainHooks *hooks,
				   const FmAllocator *a)
{
	FmAlsParticipant *p = fm_alloc(a, sizeof(FmAlsParticipant));
	FmSweep    *s = &p->sweep;
	int64_t		longest;

	shared = (const FmAlsShared *) ((const char *) shared + delta);
	p->data = shared->data;
	if (p->data.row_index != NULL)
		FM_RELOCATE(p->data.row_index, delta);
	FM_RELOCATE(p->data.row_start, delta);
	FM_RELOCATE(p->data.ids, delta);
	if (p->data.weights != NULL)	/* NULL: x from the palette, copied with the struct */
		FM_RELOCATE(p->data.weights, delta);
	FM_RELOCATE(p->data.targets, delta);
	p->data.feature_group = NULL;	/* ALS does not read it */
	p->model = shared->model;
	FM_RELOCATE(p->model.w, delta);
	FM_RELOCATE(p->model.V, delta);
	memset(&p->params, 0, sizeof(p->params));
	p->params.reg_w = shared->reg_w;
	p->params.reg_v = shared->reg_v;

	*s = shared->sweep;
	s->data = &p->data;
	s->hooks = hooks;
	s->work = 0;
	FM_RELOCATE(s->cols.start, delta);
	FM_RELOCATE(s->cols.rows, delta);
	FM_RELOCATE(s->cols.x, delta);
	FM_RELOCATE(s->v_padded, delta);
	FM_RELOCATE(s->e, delta);
	/* scratch of one feature's step: the participant's own */
	longest = padded(s->cols.max_length > 0 ? s->cols.max_length : 1);
	s->predictions = fm_alloc(a, FM_SWEEP_CHUNK * sizeof(double));
	s->col_e = fm_alloc(a, (size_t) longest * sizeof(float));
	s->col_x = fm_alloc(a, (size_t) longest * sizeof(float));
	s->col_h = fm_alloc(a, (size_t) s->col_h_floats * sizeof(float));
	return p;
}

void
fm_als_participant_run(FmAlsParticipant *p, int32_t first, int32_t last)
{
	for (int32_t l = first; l < last; l++)
		sweep_feature(&p->sweep, &p->model, l, als_update, &p->params);
}

/*
 * The runs of conflict-free features: run j is features
 * runs[j] .. runs[j + 1]); returns their number.  Greedy in sweep order:
 * a feature that shares a row with the current run starts a new one.
 */
static int32_t
plan_runs(const FmSweep *s, int32_t *runs, const FmAllocator *a)
{
	int32_t    *stamp = fm_alloc(a, ((size_t) s->data->n_rows + 1) * sizeof(int32_t));
	int32_t		n_runs = 0;

	for (int64_t r = 0; r < s->data->n_rows; r++)
		stamp[r] = -1;
	runs[0] = 0;
	for (int32_t l = 0; l < s->cols.n_features; l++)
	{
		bool		conflict = false;

		for (int64_t j = s->cols.start[l]; j < s->cols.start[l + 1] && !conflict; j++)
			conflict = stamp[s->cols.rows[j]] == n_runs;
		if (conflict)
			runs[++n_runs] = l;
		for (int64_t j = s->cols.start[l]; j < s->cols.start[l + 1]; j++)
			stamp[s->cols.rows[j]] = n_runs;
	}
	runs[++n_runs] = s->cols.n_features;
	return n_runs;
}

void
fm_train_als(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
			 FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
			 FmTrainResult *result)
{
	FmSweep		s;
	double		train_rmse = NAN;
	double		valid_rmse = NAN;
	int32_t		it;
	const FmParallel *parallel = hooks != NULL ? hooks->parallel : NULL;
	FmAlsShared *shared = NULL;
	int32_t    *runs = NULL;
	int32_t		n_runs = 0;
	int32_t		min_run = parallel != NULL && parallel->als_min_run > 0 ?
		parallel->als_min_run : FM_ALS_PARALLEL_MIN_RUN;

	fm_model_init_random(model, fm_dataset_target_mean(train), params->init_stdev,
						 fm_seed_for(params->seed, FM_SEED_INIT));
	fm_sweep_init(&s, train, model, hooks, parallel != NULL ? &parallel->shared : a);
	if (parallel != NULL)
	{
		shared = fm_alloc(&parallel->shared, sizeof(FmAlsShared));
		shared->data = *train;
		shared->model = *model;
		shared->reg_w = params->reg_w;
		shared->reg_v = params->reg_v;
		runs = fm_alloc(a, ((size_t) model->n_features + 2) * sizeof(int32_t));
		n_runs = plan_runs(&s, runs, a);
	}

	for (it = 0; it < params->epochs; it++)
	{
		double		start = fm_wall_seconds();
		bool		go_on;

		if (parallel == NULL)
			fm_als_iteration(&s, model, params);
		else
		{
			double		w0;

			/* fm_als_iteration, the features run by run */
			fm_sweep_begin_iteration(&s, model);
			w0 = als_solve(model->w0, fm_sweep_w0_stats(&s), params->reg_w0);
			fm_sweep_w0_apply(&s, w0 - model->w0);
			model->w0 = w0;
			shared->sweep = s;
			for (int32_t j = 0; j < n_runs; j++)
			{
				if (runs[j + 1] - runs[j] >= min_run)
					parallel->als_features(parallel->arg, shared, runs[j], runs[j + 1]);
				else
					for (int32_t l = runs[j]; l < runs[j + 1]; l++)
						sweep_feature(&s, model, l, als_update, (void *) params);
			}
		}
		train_rmse = fm_sweep_train_rmse(&s, model);
		valid_rmse = fm_sweep_rmse(&s, model, valid);
		go_on = fm_report_epoch(hooks, it + 1, train_rmse, valid_rmse,
								fm_wall_seconds() - start);
		if (!go_on)
		{
			it++;
			break;
		}
	}

	result->epochs_run = it;
	result->train_rmse = train_rmse;
	result->valid_rmse = valid_rmse;
	result->valid_rmse_mean_model = valid_rmse;
}

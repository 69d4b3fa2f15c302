/*
 * model.c - allocation, initialisation and prediction of a factorization
 * machine.
 */
#include "model.h"
#include "rng.h"
#include "vec.h"

#include <math.h>

void
fm_model_alloc(FmModel *m, int32_t n_features, int32_t k, const FmAllocator *a)
{
	m->n_features = n_features;
	m->k = k;
	m->w0 = 0.0;
	m->w = fm_alloc(a, (size_t) n_features * sizeof(float));
	m->V = fm_alloc(a, (size_t) n_features * (size_t) k * sizeof(float));
	m->target_min = -INFINITY;
	m->target_max = INFINITY;
}

void
fm_model_init_random(FmModel *m, double w0, double init_stdev, uint64_t seed)
{
	FmRng		rng;
	size_t		n = (size_t) m->n_features * (size_t) m->k;

	fm_rng_seed(&rng, seed);
	m->w0 = w0;
	for (int32_t i = 0; i < m->n_features; i++)
		m->w[i] = 0.0f;
	for (size_t j = 0; j < n; j++)
		m->V[j] = (float) (init_stdev * fm_rng_normal(&rng));
}

/*
 * A sparse row: ids[p] with x = weights[p], or (coded) ids carrying a
 * palette code (dataset.h); the same arithmetic either way.  The kernels
 * below are inlined into each caller with `coded` a constant, so the plain
 * form runs the loops it always ran.
 */
typedef struct SparseRow
{
	const int32_t *ids;
	const float *weights;
	const float *palette;
	bool		coded;
} SparseRow;

#if defined(__GNUC__)
#define FM_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FM_ALWAYS_INLINE inline
#endif

static FM_ALWAYS_INLINE int32_t
row_id(const SparseRow *row, int32_t p)
{
	return row->coded ? (int32_t) ((uint32_t) row->ids[p] & FM_ID_MASK) : row->ids[p];
}

static FM_ALWAYS_INLINE float
row_x(const SparseRow *row, int32_t p)
{
	return row->coded ? row->palette[(uint32_t) row->ids[p] >> FM_ID_BITS] : row->weights[p];
}

/* w0 + sum_i w_i x_i, in double */
static FM_ALWAYS_INLINE double
linear_part(const FmModel *m, const SparseRow *row, int32_t nnz)
{
	double		y = m->w0;

	for (int32_t p = 0; p < nnz; p++)
		y += (double) m->w[row_id(row, p)] * (double) row_x(row, p);
	return y;
}

/*
 * Pairwise part for factors [f0, f0 + width), with sum[] (width floats)
 * receiving sum_i v_{i,f} x_i.
 *
 *   1/2 sum_f [ (sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2 ]
 *     = 1/2 [ |sum|^2 - sum_i x_i^2 |v_i|^2 ]
 */
static FM_ALWAYS_INLINE double
pairwise_part(const FmModel *m, const SparseRow *row, int32_t nnz,
			  int32_t f0, int32_t width, float *sum)
{
	double		squares = 0.0;

	for (int32_t f = 0; f < width; f++)
		sum[f] = 0.0f;
	for (int32_t p = 0; p < nnz; p++)
	{
		const float *v = fm_model_v(m, row_id(row, p)) + f0;
		float		x = row_x(row, p);

		fm_vec_axpy(sum, x, v, (size_t) width);
		squares += (double) x * (double) x * (double) fm_vec_dot(v, v, (size_t) width);
	}
	return 0.5 * ((double) fm_vec_dot(sum, sum, (size_t) width) - squares);
}

/* Without a caller's buffer, work through the factors in chunks of this size on the stack. */
#define FM_PREDICT_CHUNK 256

static FM_ALWAYS_INLINE double
predict_sparse(const FmModel *m, const SparseRow *row, int32_t nnz, float *sum)
{
	double		y = linear_part(m, row, nnz);

	if (sum != NULL)
		y += pairwise_part(m, row, nnz, 0, m->k, sum);
	else
	{
		float		chunk[FM_PREDICT_CHUNK];

		for (int32_t f0 = 0; f0 < m->k; f0 += FM_PREDICT_CHUNK)
		{
			int32_t		width = m->k - f0 < FM_PREDICT_CHUNK ? m->k - f0 : FM_PREDICT_CHUNK;

			y += pairwise_part(m, row, nnz, f0, width, chunk);
		}
	}
	return y;
}

double
fm_model_predict_raw(const FmModel *m, const int32_t *ids, const float *weights,
					 int32_t nnz, float *sum)
{
	SparseRow	row = {ids, weights, NULL, false};

	return predict_sparse(m, &row, nnz, sum);
}

double
fm_model_predict_row(const FmModel *m, const FmDataset *ds, int64_t r, float *sum)
{
	int64_t		begin = fm_ds_begin(ds, r);
	int32_t		nnz = (int32_t) (fm_ds_end(ds, r) - begin);

	if (ds->weights != NULL)
	{
		SparseRow	row = {ds->ids + begin, ds->weights + begin, NULL, false};

		return predict_sparse(m, &row, nnz, sum);
	}
	else
	{
		SparseRow	row = {ds->ids + begin, NULL, ds->palette, true};

		return predict_sparse(m, &row, nnz, sum);
	}
}

static double
clip(double y, double lo, double hi)
{
	if (y < lo)
		return lo;
	if (y > hi)
		return hi;
	return y;
}

double
fm_model_predict(const FmModel *m, const int32_t *ids, const float *weights,
				 int32_t nnz, float *scratch)
{
	return clip(fm_model_predict_raw(m, ids, weights, nnz, scratch),
				m->target_min, m->target_max);
}

double
fm_model_rmse(const FmModel *m, const FmDataset *ds, const FmAllocator *a)
{
	double		sse = 0.0;

	/*
	 * No scratch from the allocator: this runs after every epoch, and arena
	 * memory is only returned when training ends.  Prediction without a
	 * buffer works on the stack and gives the same bits for k <= 256.
	 */
	(void) a;
	if (ds->n_rows == 0)
		return NAN;
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		err;

		fm_ds_prefetch_ahead(ds, NULL, r, ds->n_rows);
		err = clip(fm_model_predict_row(m, ds, r, NULL), m->target_min, m->target_max)
			- fm_ds_target(ds, r);

		sse += err * err;
	}
	return sqrt(sse / (double) ds->n_rows);
}

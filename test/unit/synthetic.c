/*
 * synthetic.c - the data and fixture of synthetic.h.
 */
#include "synthetic.h"
#include "rng.h"

#include <math.h>
#include <string.h>

static void
generate(FmDataset *ds, int64_t n_rows, const FmModel *truth, FmRng *rng,
		 const SynShape *shape, const FmAllocator *a)
{
	bool		constant = shape->constant_feature;
	int32_t		nnz = constant ? 5 : 4;
	int32_t		n_groups = constant ? 5 : 4;

	fm_dataset_alloc(ds, n_rows, n_rows * nnz, truth->n_features, n_groups, a);
	for (int32_t f = 0; f < truth->n_features; f++)
		ds->feature_group[f] = f < SYN_N_USERS ? 0 : f < SYN_N_USERS + SYN_N_ITEMS ? 1 :
			f < SYN_NUMERIC_FEATURE ? 2 : f == SYN_NUMERIC_FEATURE ? 3 : n_groups - 1;
	for (int64_t r = 0; r < n_rows; r++)
	{
		int32_t    *ids = ds->ids + nnz * r;
		float	   *xs = ds->weights + nnz * r;
		int			item_at = constant && r % 2 != 0 ? 4 : 1;

		ids[0] = (int32_t) fm_rng_below(rng, SYN_N_USERS);
		ids[item_at] = SYN_N_USERS + (int32_t) fm_rng_below(rng, SYN_N_ITEMS);
		ids[2] = SYN_N_USERS + SYN_N_ITEMS + (int32_t) fm_rng_below(rng, SYN_N_CONTEXTS);
		ids[3] = SYN_NUMERIC_FEATURE;
		xs[0] = xs[1] = xs[2] = 1.0f;
		if (constant)
		{
			ids[5 - item_at] = SYN_NUMERIC_FEATURE + 1;
			xs[4] = 1.0f;
		}
		xs[3] = (float) fm_rng_uniform(rng);
		ds->row_start[r + 1] = nnz * (r + 1);
		ds->targets[r] = (float) (fm_model_predict_raw(truth, ids, xs, nnz, NULL) +
								  SYN_NOISE * fm_rng_normal(rng));
	}
}

void
fixture_setup(Fixture *fx, const SynShape *shape)
{
	FmModel		truth;
	FmRng		rng;
	double		sum = 0.0,
				sum2 = 0.0;
	int32_t		n_features;

	memset(fx, 0, sizeof(*fx));
	fx->a = fm_arena_allocator(&fx->arena);
	fx->row_nnz = shape->constant_feature ? 5 : 4;
	fx->first_unseen = SYN_NUMERIC_FEATURE + 1 + (shape->constant_feature ? 1 : 0);
	n_features = fx->first_unseen + shape->n_unseen;

	fm_model_alloc(&truth, n_features, SYN_TRUE_K, &fx->a);
	fm_model_init_random(&truth, 3.0, 0.6, 2024);
	fm_rng_seed(&rng, 77);
	for (int32_t i = 0; i < n_features; i++)
		truth.w[i] = (float) (0.5 * fm_rng_normal(&rng));
	generate(&fx->train, SYN_TRAIN_ROWS, &truth, &rng, shape, &fx->a);
	generate(&fx->valid, SYN_VALID_ROWS, &truth, &rng, shape, &fx->a);
	for (int64_t r = 0; r < SYN_TRAIN_ROWS; r++)
	{
		sum += fx->train.targets[r];
		sum2 += (double) fx->train.targets[r] * fx->train.targets[r];
	}
	fx->target_stdev = sqrt(sum2 / SYN_TRAIN_ROWS -
							(sum / SYN_TRAIN_ROWS) * (sum / SYN_TRAIN_ROWS));
}

void
fixture_teardown(Fixture *fx)
{
	fm_arena_free(&fx->arena);
}

void
alloc_model(const FmDataset *train, FmModel *m, int32_t k, const FmAllocator *a)
{
	fm_model_alloc(m, train->n_features, k, a);
	fm_dataset_target_range(train, &m->target_min, &m->target_max);
}

bool
same_model(const FmModel *a, const FmModel *b)
{
	return a->w0 == b->w0 && a->k == b->k && a->n_features == b->n_features &&
		memcmp(a->w, b->w, (size_t) a->n_features * sizeof(float)) == 0 &&
		memcmp(a->V, b->V, (size_t) a->n_features * (size_t) a->k * sizeof(float)) == 0;
}

bool
all_finite(const FmModel *m)
{
	if (!isfinite(m->w0))
		return false;
	for (int32_t i = 0; i < m->n_features; i++)
		if (!isfinite(m->w[i]))
			return false;
	for (size_t j = 0; j < (size_t) m->n_features * m->k; j++)
		if (!isfinite(m->V[j]))
			return false;
	return true;
}

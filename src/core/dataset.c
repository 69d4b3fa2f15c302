/*
 * dataset.c - allocation, splitting and summaries of CSR training rows.
 */
#include "dataset.h"
#include "rng.h"

/*
 * Each array may be padded up to the 64-byte alignment of the allocator, so
 * count that padding: the bound is used to refuse too large a training set
 * before allocating it.
 */
#define FM_ARRAY_SLACK 128

size_t
fm_dataset_bytes(int64_t n_rows, int64_t n_nonzeros, int32_t n_features)
{
	size_t		bytes = 0;

	bytes += (size_t) (n_rows + 1) * sizeof(int64_t);	/* row_start */
	bytes += (size_t) n_nonzeros * sizeof(int32_t);		/* ids */
	bytes += (size_t) n_nonzeros * sizeof(float);		/* weights */
	bytes += (size_t) n_rows * sizeof(float);			/* targets */
	bytes += (size_t) n_features * sizeof(int32_t);		/* feature_group */
	return bytes + 5 * FM_ARRAY_SLACK;
}

void
fm_dataset_alloc(FmDataset *ds, int64_t n_rows, int64_t n_nonzeros,
				 int32_t n_features, int32_t n_groups, const FmAllocator *a)
{
	ds->n_rows = n_rows;
	ds->n_nonzeros = n_nonzeros;
	ds->n_features = n_features;
	ds->n_groups = n_groups;
	ds->row_start = fm_alloc(a, (size_t) (n_rows + 1) * sizeof(int64_t));
	ds->ids = fm_alloc(a, (size_t) n_nonzeros * sizeof(int32_t));
	ds->weights = fm_alloc(a, (size_t) n_nonzeros * sizeof(float));
	ds->targets = fm_alloc(a, (size_t) n_rows * sizeof(float));

	/*
	 * Always allocated (zeroed: every feature in group 0) so that callers can
	 * fill it without checking; NULL remains legal for hand-built datasets.
	 */
	ds->feature_group = fm_alloc(a, (size_t) n_features * sizeof(int32_t));
}

/*
 * The split draws one uniform number per row from a generator seeded with
 * `seed`; both passes below replay the same stream, so no per-row flag
 * array is needed.
 */
static bool
row_goes_to_validation(FmRng *rng, double fraction)
{
	return fm_rng_uniform(rng) < fraction;
}

static void
copy_row(const FmDataset *src, int64_t row, FmDataset *dst, int64_t *dst_row, int64_t *dst_nz)
{
	int64_t		begin = src->row_start[row];
	int64_t		end = src->row_start[row + 1];

	for (int64_t p = begin; p < end; p++)
	{
		dst->ids[*dst_nz] = src->ids[p];
		dst->weights[*dst_nz] = src->weights[p];
		(*dst_nz)++;
	}
	dst->targets[*dst_row] = src->targets[row];
	(*dst_row)++;
	dst->row_start[*dst_row] = *dst_nz;
}

void
fm_dataset_split(const FmDataset *all, double fraction, uint64_t seed,
				 FmDataset *train, FmDataset *valid, const FmAllocator *a)
{
	FmRng		rng;
	int64_t		valid_rows = 0;
	int64_t		valid_nz = 0;
	int64_t		t_row = 0,
				t_nz = 0,
				v_row = 0,
				v_nz = 0;

	/* pass 1: sizes of both parts */
	fm_rng_seed(&rng, seed);
	for (int64_t r = 0; r < all->n_rows; r++)
	{
		if (row_goes_to_validation(&rng, fraction))
		{
			valid_rows++;
			valid_nz += all->row_start[r + 1] - all->row_start[r];
		}
	}

	fm_dataset_alloc(train, all->n_rows - valid_rows, all->n_nonzeros - valid_nz,
					 0, all->n_groups, a);
	fm_dataset_alloc(valid, valid_rows, valid_nz, 0, all->n_groups, a);
	train->n_features = valid->n_features = all->n_features;
	train->feature_group = valid->feature_group = all->feature_group;

	/* pass 2: the same stream decides again, now copying */
	fm_rng_seed(&rng, seed);
	train->row_start[0] = 0;
	valid->row_start[0] = 0;
	for (int64_t r = 0; r < all->n_rows; r++)
	{
		if (row_goes_to_validation(&rng, fraction))
			copy_row(all, r, valid, &v_row, &v_nz);
		else
			copy_row(all, r, train, &t_row, &t_nz);
	}
}

void
fm_dataset_target_range(const FmDataset *ds, double *min, double *max)
{
	double		lo = 0.0,
				hi = 0.0;

	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		t = ds->targets[r];

		if (r == 0 || t < lo)
			lo = t;
		if (r == 0 || t > hi)
			hi = t;
	}
	*min = lo;
	*max = hi;
}

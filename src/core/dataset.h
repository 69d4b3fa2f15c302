/*
 * dataset.h - training rows in compressed sparse row (CSR) form, compact.
 *
 * Physical row q has the non-zeros ids[row_start[q] .. row_start[q+1]) and
 * target targets[q].  A dataset is a view of these rows: its row r is the
 * physical row row_index[r] (r itself when row_index is NULL), so that the
 * canonical order and the validation split are permutations and partitions
 * of one 4-byte index, never copies of the rows.  Always read rows through
 * the accessors below (fm_ds_*), which take the view's row numbers.
 *
 * Feature ids are dense, 0 .. n_features-1 (below 2^29); each feature
 * belongs to one group (the source column it came from), which MCMC uses as
 * its prior group.  A non-zero's x is stored one of two ways:
 *   - weights == NULL: the top 3 bits of the id word are a code, x =
 *     palette[code], palette[0] = 1: a one-hot column costs nothing more
 *     than its id, and up to 7 other values (1/2 .. 1/7 of categorical
 *     arrays, say) cost nothing either;
 *   - weights != NULL: x = weights[p] for every non-zero (the ids have no
 *     code bits): datasets with more distinct values (numeric columns).
 *
 * Memory per rating: 4 (row_start) + 4 (target) + 4 (row_index) + 4 per
 * non-zero, + 4 per non-zero in the second form.
 */
#ifndef FM_DATASET_H
#define FM_DATASET_H

#include "fm_core.h"

#define FM_ID_BITS 29
#define FM_ID_MASK ((UINT32_C(1) << FM_ID_BITS) - 1)
#define FM_MAX_FEATURES ((int32_t) FM_ID_MASK)	/* ids 0 .. FM_MAX_FEATURES-1 */
#define FM_X_CODES 8			/* palette entries, palette[0] = 1 */

typedef struct FmDataset
{
	int64_t		n_rows;			/* rows of this view */
	int64_t		n_nonzeros;		/* non-zeros of this view's rows */
	int32_t		n_features;
	int32_t		n_groups;
	int64_t		n_physical_rows;	/* rows of the arrays below (>= n_rows) */
	uint32_t   *row_index;		/* n_rows: physical row of each row; NULL: identity */
	uint32_t   *row_start;		/* n_physical_rows + 1 */
	int32_t    *ids;			/* physical non-zeros: id | code << FM_ID_BITS */
	float	   *weights;		/* NULL, or x of every physical non-zero */
	float		palette[FM_X_CODES];	/* x of a code, when weights is NULL */
	float	   *targets;		/* n_physical_rows */
	int32_t    *feature_group;	/* n_features, values in 0 .. n_groups-1; may be NULL (one group) */
} FmDataset;

/* ---- reading a row (r: a row of the view; p: a position from fm_ds_begin/end) ---- */

static inline int64_t
fm_ds_physical(const FmDataset *ds, int64_t r)
{
	return ds->row_index != NULL ? (int64_t) ds->row_index[r] : r;
}

static inline int64_t
fm_ds_begin(const FmDataset *ds, int64_t r)
{
	return ds->row_start[fm_ds_physical(ds, r)];
}

static inline int64_t
fm_ds_end(const FmDataset *ds, int64_t r)
{
	return ds->row_start[fm_ds_physical(ds, r) + 1];
}

static inline float
fm_ds_target(const FmDataset *ds, int64_t r)
{
	return ds->targets[fm_ds_physical(ds, r)];
}

static inline int32_t
fm_ds_id(const FmDataset *ds, int64_t p)
{
	return (int32_t) ((uint32_t) ds->ids[p] & FM_ID_MASK);
}

static inline float
fm_ds_x(const FmDataset *ds, int64_t p)
{
	return ds->weights != NULL ? ds->weights[p] : ds->palette[(uint32_t) ds->ids[p] >> FM_ID_BITS];
}

#if defined(__GNUC__)
#define FM_PREFETCH(address) __builtin_prefetch(address)
#else
#define FM_PREFETCH(address) ((void) 0)
#endif

/*
 * Before visiting rows[i] of an order (rows NULL: row i itself): asks for
 * the memory of the rows a few places ahead, one step of the chain row
 * index -> row offset -> non-zeros per distance, so that the random reads of
 * successive rows overlap instead of waiting for one another.  A view's rows
 * in order are scattered in memory too (the physical rows are in the order
 * they were read), so passes in row order call it as well.  Changes no
 * result.
 */
static inline void
fm_ds_prefetch_ahead(const FmDataset *ds, const uint32_t *rows, int64_t i, int64_t n)
{
	if (i + 16 < n && ds->row_index != NULL && rows != NULL)
		FM_PREFETCH(ds->row_index + rows[i + 16]);
	if (i + 8 < n)
	{
		int64_t		q = fm_ds_physical(ds, rows != NULL ? rows[i + 8] : i + 8);

		FM_PREFETCH(ds->row_start + q);
		FM_PREFETCH(ds->targets + q);
	}
	if (i + 4 < n)
	{
		int64_t		p = fm_ds_begin(ds, rows != NULL ? rows[i + 4] : i + 4);

		FM_PREFETCH(ds->ids + p);
		if (ds->weights != NULL)
			FM_PREFETCH(ds->weights + p);
	}
}

/* Rows of the arrays a view reads (for per-physical-row arrays). */
static inline int64_t
fm_dataset_physical_rows(const FmDataset *ds)
{
	return ds->row_index != NULL ? ds->n_physical_rows : ds->n_rows;
}

/* Decodes row r into ids[] and xs[] (room for its non-zeros); returns their number. */
static inline int32_t
fm_ds_row(const FmDataset *ds, int64_t r, int32_t *ids, float *xs)
{
	int64_t		begin = fm_ds_begin(ds, r);
	int32_t		n = (int32_t) (fm_ds_end(ds, r) - begin);

	for (int32_t i = 0; i < n; i++)
	{
		ids[i] = fm_ds_id(ds, begin + i);
		xs[i] = fm_ds_x(ds, begin + i);
	}
	return n;
}

/*
 * The most non-zeros of a row of the arrays the view reads (1 if none), so
 * at least those of its own rows: fm_ds_row's room.
 */
extern int32_t fm_dataset_max_row_nonzeros(const FmDataset *ds);

/*
 * The palette code of x (adding x to the palette when there is room), or -1
 * when the palette is full: then the dataset needs weights.  x = 1 is code
 * 0; values are compared by their bits.  A fresh palette is all 1.
 */
extern int	fm_x_code(float palette[FM_X_CODES], float x);

/* Bytes a dataset of this shape occupies (for memory bounds checked before allocating). */
extern size_t fm_dataset_bytes(int64_t n_rows, int64_t n_nonzeros, int32_t n_features);

/*
 * Allocate arrays for a dataset of this shape (weights included: hand-built
 * datasets give every x; row_index NULL); rows are then filled by the caller.
 */
extern void fm_dataset_alloc(FmDataset *ds, int64_t n_rows, int64_t n_nonzeros,
							 int32_t n_features, int32_t n_groups, const FmAllocator *a);

/*
 * Split rows into train and validation parts: each row goes to validation
 * with probability `fraction`, decided by a generator seeded with `seed`, so
 * the split is deterministic.  Train's rows come first, each part in all's
 * order, and `all` then lists the same rows in that order; no row is
 * copied.  When all's rows are in memory order (fm_dataset_apply_order) and
 * the validation rows fit in the memory of its row index, the rows are
 * partitioned in memory and both parts need no index; otherwise all's
 * row_index (allocated from `a` when NULL, with 4 bytes per validation row)
 * is partitioned and both parts are views through it.  With fraction == 0
 * the validation set is empty.
 */
extern void fm_dataset_split(FmDataset *all, double fraction, uint64_t seed,
							 FmDataset *train, FmDataset *valid, const FmAllocator *a);

/*
 * Canonical order: what makes training independent of the order the source
 * delivered its rows in (a query plan, a synchronised scan, a VACUUM).
 *
 * Feature ids are first given in the order values were seen; the canonical
 * ids order features by (group, value), values compared as integers when
 * both are decimal integers (integers before other text), otherwise by
 * their bytes.  fm_feature_canonical_ids fills new_id[old id] with it.
 *
 * fm_dataset_canonicalize then renumbers ds's ids through new_id (NULL
 * keeps them), permutes feature_group accordingly, sorts each row's
 * non-zeros by id and the rows by (id list, weight list, target), comparing
 * floats by a total order that tells -0 from +0.  Rows that compare equal are
 * identical, so any order among them trains the same model.  Everything is
 * rewritten in place (a feature_group shared with another dataset changes
 * for both).  Ids must be unique within a row.
 *
 * The row order goes into ds->row_index (allocated from `a` when NULL); the
 * rows themselves stay where they are.  ds must be a whole dataset (every
 * physical row once), not a view.
 *
 * The sorts (counting sorts, radix sorts on a key, merge sorts of the ties:
 * O(n log n) in every case) call tick(arg), when given, every few
 * milliseconds of work so that a caller can cancel.  Their memory comes
 * from `scratch`, which the caller may free as soon as the call returns: 32
 * bytes per feature, 8 bytes per feature and 32 per row of the largest
 * group of rows sharing their first feature.
 */
extern void fm_feature_canonical_ids(int32_t n_features, const int32_t *feature_group,
									 const char *const *feature_value, int32_t *new_id,
									 void (*tick) (void *), void *tick_arg,
									 const FmAllocator *scratch);
extern void fm_dataset_canonicalize(FmDataset *ds, const int32_t *new_id,
									void (*tick) (void *), void *tick_arg,
									const FmAllocator *a, const FmAllocator *scratch);

/*
 * Moves the rows of a whole dataset into its row_index order, in place, and
 * sets row_index to the identity: a feature's rows (a user's ratings) are
 * then neighbours in memory, which column-wise sweeps (ALS, MCMC) need, and
 * a row's memory is found one step sooner.  Scratch: 4 bytes per row and an
 * eighth of the non-zeros (or the longest row), given back when the call
 * returns; about 8 passes over the non-zeros.
 */
extern void fm_dataset_apply_order(FmDataset *ds, void (*tick) (void *), void *tick_arg,
								   const FmAllocator *scratch);

/* Minimum and maximum target (0,0 for an empty set). */
extern void fm_dataset_target_range(const FmDataset *ds, double *min, double *max);

#endif							/* FM_DATASET_H */

/*
 * dataset.h - training rows in compressed sparse row (CSR) form.
 *
 * Row r has the non-zeros ids[row_start[r] .. row_start[r+1]) with weights
 * (x values) in the same positions, and target targets[r].  Feature ids are
 * dense, 0 .. n_features-1; each feature belongs to one group (the source
 * column it came from), which MCMC uses as its prior group.
 *
 * Memory per rating: 8 (row_start) + 4 (target) + 8 per non-zero.
 */
#ifndef FM_DATASET_H
#define FM_DATASET_H

#include "fm_core.h"

typedef struct FmDataset
{
	int64_t		n_rows;
	int64_t		n_nonzeros;
	int32_t		n_features;
	int32_t		n_groups;
	int64_t    *row_start;		/* n_rows + 1 */
	int32_t    *ids;			/* n_nonzeros */
	float	   *weights;		/* n_nonzeros */
	float	   *targets;		/* n_rows */
	int32_t    *feature_group;	/* n_features, values in 0 .. n_groups-1; may be NULL (one group) */
} FmDataset;

/* Bytes a dataset of this shape occupies (for memory bounds checked before allocating). */
extern size_t fm_dataset_bytes(int64_t n_rows, int64_t n_nonzeros, int32_t n_features);

/* Allocate arrays for a dataset of this shape; rows are then filled by the caller. */
extern void fm_dataset_alloc(FmDataset *ds, int64_t n_rows, int64_t n_nonzeros,
							 int32_t n_features, int32_t n_groups, const FmAllocator *a);

/*
 * Split rows into train and validation parts: each row goes to validation
 * with probability `fraction`, decided by a generator seeded with `seed`, so
 * the split is deterministic.  Both parts share n_features/feature_group
 * with the source.  With fraction == 0 the validation set is empty.
 */
extern void fm_dataset_split(const FmDataset *all, double fraction, uint64_t seed,
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
 * Both sorts (a radix sort on a key, merge sorts of the ties: O(n log n) in
 * every case) call tick(arg), when given, every few milliseconds of work so
 * that a caller can cancel.  Their memory comes from `scratch`, which the
 * caller may free as soon as the call returns: 32 bytes per feature, and
 * per row 32 bytes or 8 plus 4 per non-zero, whichever is more.
 */
extern void fm_feature_canonical_ids(int32_t n_features, const int32_t *feature_group,
									 const char *const *feature_value, int32_t *new_id,
									 void (*tick) (void *), void *tick_arg,
									 const FmAllocator *scratch);
extern void fm_dataset_canonicalize(FmDataset *ds, const int32_t *new_id,
									void (*tick) (void *), void *tick_arg,
									const FmAllocator *scratch);

/* Minimum and maximum target (0,0 for an empty set). */
extern void fm_dataset_target_range(const FmDataset *ds, double *min, double *max);

#endif							/* FM_DATASET_H */

/*
 * implicit.h - implicit-feedback training data: contexts, items and the
 * observed (context, item) pairs between them.
 *
 * A factorization machine whose features are split in two sides,
 *
 *     y(c, i) = w0 + lin(c) + pairs(c)  +  lin(i) + pairs(i)  +  <q_c, e_i>
 *
 * where q_c = sum of the context's feature vectors times x and e_i the same
 * for the item, is what fm_query / fm_item serve: the context side is a
 * constant per context, the item side is the item's bias and embedding.
 *
 * The builder turns training rows (context features plus the item key, as
 * read from the source) and catalogue rows (item key plus item features)
 * into
 *   - contexts: each distinct set of context features (id, x) is one
 *     context (a user, or a demographic group when there is no user id);
 *   - items: one per catalogue row, found from the rows by the item key;
 *   - observed pairs by context, items ascending, repeats merged, each with a
 *     confidence 1 + confidence * target; a share of every context's pairs
 *     is held out for validation, decided by a seeded generator.
 * Both sides share the feature ids of one dictionary; a feature belongs to
 * the context side or to the item side by its group (source column).
 *
 * Memory: 20 bytes per training pair (pair_context, pair_item, pair_weight,
 * by_item's other and weight; by_context shares pair_item and pair_weight),
 * 4 per held-out pair, and per context, item and feature their features
 * and list starts.  The build's scratch on top: 13 bytes per positive
 * row, the contexts' hash table (16 to 32 bytes per context) and 8 bytes
 * per item and feature; fm_implicit_build_with lets the caller free the
 * source rows before the pairs' 20 bytes are allocated, so that the peak is
 * the rows plus 12 bytes per positive.
 */
#ifndef FM_IMPLICIT_H
#define FM_IMPLICIT_H

#include "dataset.h"

/* Rows of sparse features: entity e has ids[start[e] .. start[e+1]). */
typedef struct FmSparseRows
{
	int32_t		n;
	int64_t    *start;			/* n + 1 */
	int32_t    *ids;
	float	   *x;
} FmSparseRows;

/*
 * Lists of pairs per entity: entity e has pairs start[e] .. start[e+1]),
 * each with the entity of the other side and its confidence.  by_context
 * lists the pairs in their own order (other and weight are pair_item and
 * pair_weight); by_item lists them by item, stably (a counting sort of the
 * pairs by pair_item: an item's pairs in pair order), so that the position
 * of pair p there is found again by counting, with no index kept per pair.
 */
typedef struct FmPairLists
{
	int64_t    *start;			/* n + 1 */
	int32_t    *other;			/* the entity of the other side */
	float	   *weight;			/* the pair's confidence */
} FmPairLists;

typedef struct FmImplicitData
{
	int32_t		n_features;
	uint8_t    *item_side;		/* n_features: 1 for an item feature */
	FmSparseRows contexts;
	FmSparseRows items;
	int64_t    *item_ids;		/* n_items: the key as a number where it is
								 * one, else the catalogue position; ties in
								 * ranking go to the smaller */

	/* observed training pairs, by context then item */
	int64_t		n_pairs;
	int32_t    *pair_context;
	int32_t    *pair_item;
	float	   *pair_weight;	/* confidence, > 0 */
	FmPairLists by_context;		/* n_contexts lists */
	FmPairLists by_item;		/* n_items lists */

	/* held-out pairs, by context then item */
	int64_t		n_valid;
	int64_t    *valid_start;	/* n_contexts + 1 */
	int32_t    *valid_item;

	/* feature f occurs in entities feature_entity[feature_start[f] ..) of its side */
	int64_t    *feature_start;	/* n_features + 1 */
	int32_t    *feature_entity;
	float	   *feature_x;
} FmImplicitData;

typedef struct FmImplicitSpec
{
	int32_t		key_group;		/* group of the item key feature */
	const uint8_t *item_group;	/* n_groups: 1 for an item-side group */
	double		positive_threshold; /* rows with target >= it are positive; NaN: all */
	double		confidence;		/* weight of a positive = 1 + confidence * target */
	double		validation_fraction;
	uint64_t	seed;
	/*
	 * Item key value (text) of a feature id, to turn numeric keys into
	 * ranking ids; may be NULL (ids are catalogue positions).
	 */
	const char *const *feature_value;
} FmImplicitSpec;

typedef enum FmImplicitStatus
{
	FM_IMPLICIT_OK,
	FM_IMPLICIT_EMPTY_CATALOGUE,
	FM_IMPLICIT_CATALOGUE_ROW_WITHOUT_KEY,	/* problem_row: catalogue row */
	FM_IMPLICIT_DUPLICATE_ITEM, /* problem_row: catalogue row */
	FM_IMPLICIT_ROW_WITHOUT_ITEM,	/* problem_row: source row, NULL key */
	FM_IMPLICIT_UNKNOWN_ITEM,	/* problem_row, problem_feature: key not in catalogue */
	FM_IMPLICIT_NO_POSITIVE,
	FM_IMPLICIT_BAD_CONFIDENCE	/* problem_row: 1 + confidence * target <= 0 */
} FmImplicitStatus;

typedef struct FmImplicitProblem
{
	int64_t		row;
	int32_t		feature;
	int64_t		positives;		/* rows at or above the threshold */
} FmImplicitProblem;

/*
 * Build `out` from source rows and catalogue rows sharing one feature
 * dictionary (rows->n_features counts every feature; feature_group of
 * `rows` gives each feature's group).  Returns FM_IMPLICIT_OK or what is
 * wrong, with `problem` saying where.
 */
extern FmImplicitStatus fm_implicit_build(const FmDataset *rows, const FmDataset *catalogue,
										  const FmImplicitSpec *spec, FmImplicitData *out,
										  FmImplicitProblem *problem, const FmAllocator *a);

/*
 * The same with the build's own memory apart: `scratch` (NULL: `a`) gets
 * what the build needs only while it runs (13 bytes per positive row,
 * the contexts' hash table), and the caller may free it once the call
 * returns; rows_done (NULL: none) is called with rows_done_arg as soon as
 * the build reads `rows` no more (after its two passes over them, before
 * the pair lists are allocated), so that the caller can free the rows and
 * the lists take their place.  It is not called when the build fails.
 */
typedef struct FmImplicitBuildMemory
{
	const FmAllocator *scratch;
	void		(*rows_done) (void *arg);
	void	   *rows_done_arg;
} FmImplicitBuildMemory;

extern FmImplicitStatus fm_implicit_build_with(const FmDataset *rows, const FmDataset *catalogue,
											   const FmImplicitSpec *spec, FmImplicitData *out,
											   FmImplicitProblem *problem, const FmAllocator *a,
											   const FmImplicitBuildMemory *memory);

/*
 * The arrays iALS and BPR read while they train (not the validation pairs
 * nor the item keys), for a parallel training to place in shared memory: fn is called with the address of each pointer and the
 * array's size, and may change the pointer.  by_context's lists are
 * pair_item and pair_weight again afterwards.
 */
typedef void (*FmImplicitArrayFn) (void **array, size_t bytes, void *arg);
extern void fm_implicit_training_arrays(FmImplicitData *d, FmImplicitArrayFn fn, void *arg);

/*
 * A participant's view of a copy of the leader's struct: delta added to
 * every pointer fm_implicit_training_arrays lists, the others (validation
 * pairs, item keys, sides) NULL.
 */
extern void fm_implicit_training_view(FmImplicitData *d, ptrdiff_t delta);

#endif							/* FM_IMPLICIT_H */

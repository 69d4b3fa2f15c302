/*
 * synthetic.h - rows labelled by a known factorization machine, and the
 * fixture the optimiser tests (test_train.c, test_als.c, test_mcmc.c) train
 * on.
 *
 * The generating FM has k = SYN_TRUE_K, w0 = 3, V ~ N(0, 0.6^2) and
 * w ~ N(0, 0.5^2).  A row holds a user, an item and a context (one-hot) and
 * one numeric feature in [0, 1); its target is the FM's raw prediction plus
 * N(0, SYN_NOISE^2) noise.  Everything is seeded: a shape always gives the
 * same bytes.
 */
#ifndef FM_TEST_SYNTHETIC_H
#define FM_TEST_SYNTHETIC_H

#include "dataset.h"
#include "model.h"

#include <stdbool.h>

#define SYN_N_USERS 40
#define SYN_N_ITEMS 50
#define SYN_N_CONTEXTS 4
#define SYN_NUMERIC_FEATURE (SYN_N_USERS + SYN_N_ITEMS + SYN_N_CONTEXTS)
#define SYN_TRUE_K 3
#define SYN_TRAIN_ROWS 6000		/* > FM_TICK_ROWS: ticks happen, long columns
								 * are summed in pieces */
#define SYN_VALID_ROWS 1000
#define SYN_NOISE 0.1

/*
 * What varies between the tests' data.  Groups: users 0, items 1, contexts
 * 2, the numeric feature 3; the constant and the unseen features are in the
 * last group (4 with the constant feature, else 3).
 */
typedef struct SynShape
{
	/*
	 * Add feature SYN_NUMERIC_FEATURE + 1 to every row with x = 1 (a column
	 * as long as the data), as a fifth non-zero; the item then alternates
	 * between positions 1 and 4 of the row, so that columns are not sorted
	 * by position in the row.
	 */
	bool		constant_feature;
	int32_t		n_unseen;		/* features after all others, in no row */
} SynShape;

typedef struct Fixture
{
	FmArena		arena;
	FmAllocator a;				/* from arena: the data and what tests allocate */
	FmDataset	train;			/* SYN_TRAIN_ROWS rows */
	FmDataset	valid;			/* SYN_VALID_ROWS rows, same features */
	int32_t		row_nnz;		/* non-zeros per row: 4, 5 with the constant */
	int32_t		first_unseen;	/* features first_unseen .. n_features-1 are in
								 * no row */
	double		target_stdev;	/* of the training targets */
} Fixture;

extern void fixture_setup(Fixture *fx, const SynShape *shape);
extern void fixture_teardown(Fixture *fx);

/* A model for `train`'s features with k factors, clipping to its target range. */
extern void alloc_model(const FmDataset *train, FmModel *m, int32_t k, const FmAllocator *a);

/* Same shape and the same bits in w0, w and V. */
extern bool same_model(const FmModel *a, const FmModel *b);

/* No NaN or infinity anywhere in the model. */
extern bool all_finite(const FmModel *m);

#endif							/* FM_TEST_SYNTHETIC_H */

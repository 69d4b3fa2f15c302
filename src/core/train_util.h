/*
 * train_util.h - pieces shared by the stochastic optimisers (sgd.c, adam.c):
 * their epoch loop, wall clock, row order, cancellation ticks, evaluation
 * and epoch reports.
 *
 * Internal to the core; defined in train.c.
 */
#ifndef FM_TRAIN_UTIL_H
#define FM_TRAIN_UTIL_H

#include "train.h"
#include "rng.h"

/* Rows between two calls of hooks->tick: a few milliseconds of work. */
#define FM_TICK_ROWS 4096

/* Seconds on a wall clock, for epoch timings only. */
extern double fm_wall_seconds(void);

/* Call hooks->tick when there is one. */
static inline void
fm_hooks_tick(const FmTrainHooks *hooks)
{
	if (hooks != NULL && hooks->tick != NULL)
		hooks->tick(hooks->arg);
}

/* Mean target of a dataset (0 for an empty one): the starting w0. */
extern double fm_dataset_target_mean(const FmDataset *ds);

/* Row indices 0 .. n-1, from the allocator. */
extern int64_t *fm_row_order_alloc(int64_t n_rows, const FmAllocator *a);

/* Fisher-Yates shuffle of a row order; deterministic for a given generator state. */
extern void fm_row_order_shuffle(FmRng *rng, int64_t *order, int64_t n_rows);

/*
 * Cache-friendly epoch order (FmTrainParams.grouped_order).  The rows are
 * bucketed once by their "key": the first feature of the key group, the
 * group with the most features (on a ratings table the users, whose V rows
 * are the bulk of the model besides the items').  Each epoch shuffles the
 * order of the buckets and the rows within each bucket, and visits the
 * buckets one after the other.  Consecutive rows then share their user, so
 * its k floats stay in L1 for the whole bucket and one of the two scattered
 * V rows a rating touches is a cache hit; the items are still visited in a
 * random order, which is what SGD needs to stay unbiased (a user's rows in
 * a row is like a small mini-batch, updated sequentially).  Rows without a
 * feature of the key group form one more bucket.  Memory: 8 bytes per row
 * (the bucketed rows) and 24 per feature.
 */
typedef struct FmRowGroups
{
	int64_t		n_buckets;
	int64_t    *start;			/* n_buckets + 1 offsets into rows */
	int64_t    *rows;			/* row indices, bucket by bucket */
	int64_t    *bucket_order;	/* n_buckets, shuffled each epoch */
} FmRowGroups;

extern void fm_row_groups_build(FmRowGroups *g, const FmDataset *ds, const FmAllocator *a);

/* This epoch's order into order[0 .. n_rows): shuffled buckets, shuffled within. */
extern void fm_row_groups_shuffle(FmRowGroups *g, FmRng *rng, int64_t *order);

/* RMSE of clipped predictions over a dataset, ticking while it runs; NaN if empty. */
extern double fm_evaluate_rmse(const FmModel *m, const FmDataset *ds, const FmTrainHooks *hooks);

/* Build the report and call hooks->epoch_done; returns false to stop. */
extern bool fm_report_epoch(const FmTrainHooks *hooks, int32_t epoch, double train_rmse,
							double valid_rmse, double seconds);

/*
 * Learning rate of an epoch (0-based) for SGD and Adam: params->learning_rate
 * decayed linearly to 0 over params->epochs, i.e. lr * (1 - epoch / epochs).
 * The first epochs move fast, the last ones settle: on MovieLens this is
 * worth about 0.005 of test RMSE over a constant rate, and it removes most
 * of the epoch-to-epoch noise of the final model.
 */
extern double fm_epoch_learning_rate(const FmTrainParams *params, int32_t epoch);

/* Derive an independent seed for one purpose (init, shuffling...) from the user's seed. */
static inline uint64_t
fm_seed_for(uint64_t seed, uint64_t purpose)
{
	FmRng		rng;

	fm_rng_seed(&rng, seed ^ (purpose * UINT64_C(0xD1B54A32D192ED03)));
	return fm_rng_next(&rng);
}

#define FM_SEED_INIT	1
#define FM_SEED_SHUFFLE 2

/*
 * The update of a stochastic optimiser on a run of rows: apply one step per
 * row, rows[0] .. rows[n_rows - 1] in that order, at learning rate lr, and
 * return sse plus the squared error of each row's clipped prediction taken
 * just before its own step, added in row order.  `state` is the optimiser's
 * (the model, the training set and its own buffers).
 *
 * The driver calls it once per FM_TICK_ROWS rows, not once per row: the
 * per-row step stays inlined in the optimiser's loop, and the indirect call
 * costs nothing measurable.
 */
typedef double (*FmRowsUpdate) (void *state, const int64_t *rows, int64_t n_rows,
								double lr, double sse);

/*
 * The epoch loop of SGD and Adam.  Initialise the model (w0 = mean target,
 * V ~ N(0, init_stdev^2), seeded from params->seed), then for each epoch:
 * shuffle the rows (a generator seeded once, so a seed fixes every epoch's
 * order), run `update` over them at fm_epoch_learning_rate(), ticking every
 * FM_TICK_ROWS rows, evaluate on `valid` and report the epoch, stopping
 * when the hook says so.  Fills `result`; the train RMSE of the result is
 * exact, the per-epoch one progressive (see fm_train_stochastic in train.c).
 *
 * With `parallel`, the row order lives in parallel->shared memory and each
 * epoch's rows go to parallel->epoch instead of `update`, with `adam`: NULL
 * for SGD, Adam's shared state for Adam.
 */
extern void fm_train_stochastic(const FmDataset *train, const FmDataset *valid,
								const FmTrainParams *params, FmModel *model,
								const FmTrainHooks *hooks, const FmAllocator *a,
								FmRowsUpdate update, void *state,
								const FmParallel *parallel, FmAdamShared *adam,
								FmTrainResult *result);

static inline double
fm_clip(double y, double lo, double hi)
{
	return y < lo ? lo : (y > hi ? hi : y);
}

#endif							/* FM_TRAIN_UTIL_H */

/*
 * train_util.h - pieces shared by the stochastic optimisers (sgd.c, adam.c):
 * wall clock, row order, cancellation ticks, evaluation and epoch reports.
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

static inline double
fm_clip(double y, double lo, double hi)
{
	return y < lo ? lo : (y > hi ? hi : y);
}

#endif							/* FM_TRAIN_UTIL_H */

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

/*
 * The epoch order of a training set (FmTrainParams.grouped_order picks the
 * grouped form), allocated from `a` (FmParallel.shared when the epochs are
 * parallel, so that the workers read it), its temporaries from `scratch`
 * (left for the allocator to free): see train.c for the orders.
 */
extern void fm_epoch_order_build(FmEpochOrder *order, const FmDataset *ds, bool grouped,
								 const FmAllocator *a, const FmAllocator *scratch);

/* The next epoch's order: deterministic for a given generator state. */
extern void fm_epoch_order_shuffle(FmEpochOrder *order, FmRng *rng);

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
 * The driver calls it once per piece of the epoch order (a bucket's rows, at
 * most FM_TICK_ROWS of them), not once per row: the per-row step stays
 * inlined in the optimiser's loop, and the indirect call costs nothing
 * measurable beside a bucket's steps.
 */
typedef double (*FmRowsUpdate) (void *state, const uint32_t *rows, int64_t n_rows,
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

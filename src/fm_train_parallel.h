/*
 * fm_train_parallel.h - training with PostgreSQL's parallel workers.
 *
 * A ParallelContext and one dynamic shared memory segment, as parallel
 * index builds do (nbtsort.c): the training rows, the model and the row
 * order are copied into the segment, workers are launched for each epoch
 * (or ALS run) and run the core's kernel (fm_sgd_rows, fm_adam_rows,
 * fm_als_participant_run) on what they claim from a shared counter; the
 * leader claims its part too.  See fm_train_parallel.c.
 */
#ifndef FMREC_FM_TRAIN_PARALLEL_H
#define FMREC_FM_TRAIN_PARALLEL_H

#include "postgres.h"

#include "fm_memory.h"
#include "core/train.h"

/* The GUC fmrec.max_parallel_workers_per_training (-1: see fm_train_parallel.c). */
extern int	fmrec_max_parallel_workers_per_training;

/* The GUC fmrec.training_row_order. */
typedef enum FmRowOrderSetting
{
	FM_ROW_ORDER_AUTO,
	FM_ROW_ORDER_SHUFFLED,
	FM_ROW_ORDER_GROUPED
} FmRowOrderSetting;
extern int	fmrec_training_row_order;

extern void fm_train_parallel_define_settings(void);

/*
 * Set params->grouped_order (the cache-friendly epoch order, see
 * fm_epoch_order_build in core/train.c) from fmrec.training_row_order and the
 * number of training rows: auto groups from a million rows, where the model
 * no longer fits in cache; smaller trainings keep the order they had.
 */
extern void fm_train_choose_row_order(FmTrainParams *params, int64 n_rows);

/*
 * Train as fm_train() does, with parallel workers, when the method supports
 * it (sgd, adam, als) and the setting and the training set's size ask for workers;
 * returns false, having done nothing, when the training should run serially.
 * The shared memory is charged to `budget` while it lives (no workers when
 * it would not fit).  Sets *workers_launched to the most workers any epoch
 * got (the pool may give fewer than planned, even none).
 *
 * When it returns true, the training rows have MOVED into the shared memory
 * and out of the caller's arrays (row_start, row_index, ids, weights and
 * targets of `train`, and of `valid` where it is a view of the same rows),
 * whose pages were given back: they read as zeros, and the caller must not
 * read them again (feature_group and the sizes stay).  So the rows are in
 * memory once, not twice, during a parallel training.
 */
extern bool fm_train_parallel(const FmDataset *train, const FmDataset *valid,
							  const FmTrainParams *params, FmModel *model,
							  const FmTrainHooks *hooks, FmBudget *budget,
							  FmTrainResult *result, int *workers_launched);

/*
 * Workers to plan for a training of n_rows rows (iALS: positive pairs)
 * with this method: fmrec.max_parallel_workers_per_training, or by default
 * max_parallel_maintenance_workers from a million rows on; 0 for a method
 * without parallel training, inside a parallel worker, or without enough
 * rows for every participant.
 */
extern int	fm_train_planned_workers(FmMethod method, int64 n_rows);

/* A worker's scratch for the core: palloc, 64-byte aligned, freed at its exit (FmAllocator.alloc). */
extern void *fm_parallel_worker_alloc(size_t bytes, void *arg);

/* A worker's FmTrainHooks.tick: CHECK_FOR_INTERRUPTS. */
extern void fm_parallel_worker_tick(void *arg);

#endif							/* FMREC_FM_TRAIN_PARALLEL_H */

/*
 * fm_train_parallel_ials.h - iALS with PostgreSQL's parallel workers
 * (see fm_train_parallel_ials.c).
 */
#ifndef FMREC_FM_TRAIN_PARALLEL_IALS_H
#define FMREC_FM_TRAIN_PARALLEL_IALS_H

#include "postgres.h"

#include "fm_memory.h"
#include "core/implicit.h"
#include "core/train.h"

/*
 * Train as fm_train_ials() does, the sweeps shared with parallel workers,
 * when fmrec.max_parallel_workers_per_training and the number of positive
 * pairs ask for workers; returns false, having done nothing, when the
 * training should run serially (also when the shared memory would not fit
 * in `budget`).  The model is the same to the bit as serial training's.
 * *workers_launched: the most workers any sweep got.
 *
 * When it returns true, the arrays the sweeps read have MOVED into the
 * shared memory and out of `d` (fm_implicit_sweep_arrays): they read as
 * zeros, and the caller must not read them again (the sizes stay).
 */
extern bool fm_train_parallel_ials(FmImplicitData *d, const FmTrainParams *params, FmModel *model,
								   const FmTrainHooks *hooks, FmBudget *budget,
								   FmTrainResult *result, int *workers_launched);

#endif							/* FMREC_FM_TRAIN_PARALLEL_IALS_H */

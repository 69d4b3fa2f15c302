/*
 * fm_train_parallel_implicit.h - iALS and BPR with PostgreSQL's parallel
 * workers (see fm_train_parallel_implicit.c).
 */
#ifndef FMREC_FM_TRAIN_PARALLEL_IMPLICIT_H
#define FMREC_FM_TRAIN_PARALLEL_IMPLICIT_H

#include "postgres.h"

#include "fm_memory.h"
#include "core/implicit.h"
#include "core/train.h"

/*
 * Train as fm_train_ials() or fm_train_bpr() does (params->method), with
 * parallel workers, when fmrec.max_parallel_workers_per_training and the
 * number of positive pairs ask for workers; returns false, having done
 * nothing, when the training should run serially (also when the shared
 * memory would not fit in `budget`).  An iALS model is the same to the bit
 * as serial training's; BPR (Hogwild) is not deterministic with workers.
 * *workers_launched: the most workers any sweep or epoch got.
 *
 * When it returns true, the arrays training reads have MOVED into the
 * shared memory and out of `d` (fm_implicit_training_arrays): they read as
 * zeros, and the caller must not read them again (the sizes stay).
 */
extern bool fm_train_parallel_implicit(FmImplicitData *d, const FmTrainParams *params, FmModel *model,
									   const FmTrainHooks *hooks, FmBudget *budget,
									   FmTrainResult *result, int *workers_launched);

#endif							/* FMREC_FM_TRAIN_PARALLEL_IMPLICIT_H */

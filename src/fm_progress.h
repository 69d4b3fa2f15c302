/*
 * fm_progress.h - training you can watch: the only calls the trainers make
 * for progress.
 *
 * A training reports what it does (phase, rows read, each epoch) to a slot
 * of shared memory that other sessions read through the view
 * fm_training_progress, and keeps the per-epoch curve that is stored with
 * the model (fm_model.history).  It also decides, from the setting
 * fmrec.training_notices, which NOTICEs the training prints.
 *
 * Shared memory: on PostgreSQL 17 and later a named DSM segment (the DSM
 * registry, nothing to configure); on 15 and 16 memory reserved at server
 * start, which needs shared_preload_libraries = 'fmrec'.  Without it a
 * training runs as before and only the view stays empty (with a WARNING).
 *
 * One slot per backend (indexed by its process number), so a training never
 * waits for or runs out of slots.  A training started while another one of
 * the same backend is running (from a function its source query calls) is
 * not shown: the slot keeps showing the outer one.  The slot is released by
 * fm_progress_end, and also at the abort of the (sub)transaction that began
 * it and at backend exit, so no row outlives its training.
 */
#ifndef FMREC_FM_PROGRESS_H
#define FMREC_FM_PROGRESS_H

#include "postgres.h"

#include "core/train.h"

typedef enum FmProgressPhase
{
	FM_PHASE_READING,			/* reading the source (and validation, catalogue) */
	FM_PHASE_TRAINING,			/* the epochs */
	FM_PHASE_WRITING			/* writing fm_model and fm_feature */
} FmProgressPhase;

/* fmrec.training_notices */
typedef enum FmTrainingNotices
{
	FM_NOTICES_EPOCHS,			/* one per epoch and the summary (the default) */
	FM_NOTICES_SUMMARY,			/* only the summary at the end */
	FM_NOTICES_NONE				/* none of those */
} FmTrainingNotices;

typedef struct FmProgress FmProgress;

/*
 * Begins a training of `model` by `method` with `epochs` epochs, in the
 * phase FM_PHASE_READING.  The handle lives in CurrentMemoryContext.
 */
extern FmProgress *fm_progress_begin(const char *model, const char *method, int32 epochs);

extern void fm_progress_phase(FmProgress *progress, FmProgressPhase phase);

/*
 * Adds `rows` to the rows read by this backend's running training (the
 * reading loop calls it per batch, without a handle).
 */
extern void fm_progress_rows(int64 rows);

/* Records a finished epoch: in the slot and in the history. */
extern void fm_progress_epoch(FmProgress *progress, const FmEpochReport *report);

/*
 * The history as a JSON array, one object per epoch with the keys epoch,
 * train_rmse, validation_rmse, train_loss, validation_ndcg and seconds
 * (null where the method does not measure it); NULL before any epoch.
 */
extern const char *fm_progress_history(const FmProgress *progress);

/* Ends the training: its row leaves the view. */
extern void fm_progress_end(FmProgress *progress);

/* Whether the training prints a NOTICE per epoch / the final summary. */
extern bool fm_progress_notice_epochs(void);
extern bool fm_progress_notice_summary(void);

/* For fmrec.c's _PG_init: the settings, and shared memory when preloaded. */
extern void fm_progress_init(void);

#endif							/* FMREC_FM_PROGRESS_H */

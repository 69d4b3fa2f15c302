/*
 * fm_model_store.h - the model tables fm_model and fm_feature.
 *
 * A training writes its model inside the caller's transaction: readers keep
 * seeing the previous model until it commits, and an error, a cancel or a
 * crash before the commit leaves the previous model exactly as it was.
 */
#ifndef FMREC_FM_MODEL_STORE_H
#define FMREC_FM_MODEL_STORE_H

#include "postgres.h"

#include "core/model.h"
#include "core/train.h"
#include "fm_train_source.h"

/* What fm_model records besides the parameters. */
typedef struct ModelSummary
{
	const char *model;
	const char *method;
	const char *params_json;
	int32		epochs_run;
	int64		rows_used;
	int64		rows_skipped;
	double		train_rmse;
	double		validation_rmse;
	double		seconds;
	const char *history;		/* fm_model.history: JSON array of the epochs, or NULL */
} ModelSummary;

/*
 * Serialises trainings of one model: waits (honouring lock_timeout and
 * cancel) while another transaction trains it.  Released at commit/abort.
 */
extern void fm_store_lock_model(const char *model);

/* Fails early, with a clear error, where the model cannot be written. */
extern void fm_store_check_writable(void);

/* Replaces the model's rows in fm_model and fm_feature. */
extern void fm_store_write(const ModelSummary *summary, const TrainingSource *src,
						   const FmModel *model);

#endif							/* FMREC_FM_MODEL_STORE_H */

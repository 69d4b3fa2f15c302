/*
 * fm_train_implicit.h - fm_train_from_table(method => 'ials' or 'bpr'):
 * reads the source and the catalogue, builds the contexts, items and
 * observed pairs (core/implicit.h), trains (core/ials.h, core/bpr.h) and
 * writes the model.
 */
#ifndef FMREC_FM_TRAIN_IMPLICIT_H
#define FMREC_FM_TRAIN_IMPLICIT_H

#include "postgres.h"

#include "core/train.h"
#include "fm_memory.h"
#include "fm_model_store.h"
#include "fm_train_source.h"

typedef struct ImplicitOptions
{
	double		positive_threshold; /* NaN: every row is a positive */
	double		validation_fraction;
} ImplicitOptions;

/*
 * src has its columns checked (item_column, key_column and items_relid
 * set); the model name is locked.  Fills `summary` (model and method set by
 * the caller) and writes the model; returns the validation NDCG@10 (NaN
 * without validation).
 */
extern double fm_train_implicit(TrainingSource *src, const FmTrainParams *params,
								const ImplicitOptions *options, FmBudget *budget,
								ModelSummary *summary, int32 *n_features);

#endif							/* FMREC_FM_TRAIN_IMPLICIT_H */

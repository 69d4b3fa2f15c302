/*
 * fm_train_source.h - reads a ratings table into the core's dataset.
 *
 * One pass through SPI, each row handed by the executor to a receiver as it
 * is produced (no tuple table); integer id columns come as int8 and find
 * their ids through an array, other values through the dictionary, looked
 * up in place.  The rows go straight into the compact form of
 * src/core/dataset.h.  Each column is read by its
 * kind (fm_feature_kinds.h): a categorical column's distinct non-NULL values
 * are feature ids (x = 1; an array's elements 1/len each, so a row's array
 * adds up to one), an 'each' array's elements x = 1 each, a weighted jsonb
 * object's keys x = weight, and a numeric column is one feature id (value
 * '') with x = value / scale, scale = max |value| over the rows read (1 when
 * that is 0), so that x lies in [-1, 1] whatever the column's unit; the
 * stored parameters absorb the scale (fm_model_store.c).  Rows whose target
 * is NULL, NaN or infinite are skipped and counted.
 *
 * The rows are then put in a canonical order (src/core/dataset.h): feature
 * ids by (column, value), rows sorted, so that the same rows give the same
 * dataset, and with the same seed the same model, whatever order the query
 * plan delivered them in.
 */
#ifndef FMREC_FM_TRAIN_SOURCE_H
#define FMREC_FM_TRAIN_SOURCE_H

#include "postgres.h"

#include "core/dataset.h"
#include "fm_feature_kinds.h"
#include "fm_memory.h"

typedef struct FeatureColumn
{
	char	   *name;			/* column name, as declared */
	bool		kind_given;		/* in feature_kinds (else the type's default) */
	FmFeatureKind kind;			/* set by fm_source_check_columns */
	bool		is_array;		/* multi-valued (categorical or each) */
	double		scale;			/* numeric: x = value / scale; 0 until read */
} FeatureColumn;

typedef struct TrainingSource
{
	/* what to read */
	Oid			relid;
	const char *target;
	int			n_columns;
	FeatureColumn *columns;

	/* what was read */
	FmDataset	data;			/* feature_group[id] is the column index */
	char	  **feature_value;	/* text of each feature id */
	int64		rows_skipped_null;
	int64		rows_skipped_not_finite;
	double		read_seconds;
	double		canonical_seconds;	/* of read_seconds: the canonical order */
	void	   *builder;		/* the dictionary, for reading validation rows */

	/*
	 * Implicit feedback (fm_train_implicit.c): item_column[c] marks the
	 * columns that describe the item, read from the catalogue items_relid;
	 * the source needs only the others and the item key key_column.  NULL
	 * for the rating methods.
	 */
	bool	   *item_column;
	int			key_column;
	Oid			items_relid;
	bool		reading_catalogue;	/* while fm_source_read_catalogue runs */
	double		catalogue_read_seconds;
} TrainingSource;

/*
 * Checks the target and feature columns of src->relid (existence, types,
 * kinds) and fills src->columns[].kind and is_array.  Raises the
 * user-facing errors.
 */
extern void fm_source_check_columns(TrainingSource *src);

/*
 * Reads every row into src->data, allocating from the budget.  With
 * src->item_column set, only the context columns and the item key, and the
 * canonical order is left to fm_source_read_catalogue, which must follow.
 */
extern void fm_source_read(TrainingSource *src, FmBudget *budget);

/*
 * Reads a validation relation with the same columns into `valid`, after
 * fm_source_read: values unknown to the training data contribute nothing,
 * as in fm_predict.
 */
extern void fm_source_read_validation(TrainingSource *src, Oid relid, FmBudget *budget,
									  FmDataset *valid);

/*
 * After fm_source_read, with src->item_column set: reads the catalogue (the
 * item columns of items_relid, one row per item) into `catalogue`, adding
 * its values to the dictionary; src->data then counts the new features too.
 */
extern void fm_source_read_catalogue(TrainingSource *src, FmBudget *budget, FmDataset *catalogue);

/*
 * After fm_source_read_catalogue: frees the rows of src->data (the
 * dictionary, feature_group and the counts stay), once the implicit
 * training data have been built from them.
 */
extern void fm_source_free_rows(TrainingSource *src, FmBudget *budget);

#endif							/* FMREC_FM_TRAIN_SOURCE_H */

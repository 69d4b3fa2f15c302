/*
 * fm_train_source.h - reads a ratings table into the core's dataset.
 *
 * One pass through an SPI cursor, in batches; each distinct non-NULL value
 * of each feature column becomes one feature id (one-hot, x = 1), and each
 * element of an array column becomes a feature weighted 1/len, so a row's
 * array adds up to one.  Rows whose target is NULL, NaN or infinite are
 * skipped and counted.
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
#include "fm_memory.h"

typedef struct FeatureColumn
{
	char	   *name;			/* column name, as declared */
	bool		is_array;		/* multi-valued: weight 1/len per element */
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
 * Checks the target and feature columns of src->relid (existence, types)
 * and fills src->columns[].is_array.  Raises the user-facing errors.
 */
extern void fm_source_check_columns(TrainingSource *src);

/*
 * Reads every row into src->data, allocating from the budget.  With
 * src->item_column set, only the context columns and the item key.
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

#endif							/* FMREC_FM_TRAIN_SOURCE_H */

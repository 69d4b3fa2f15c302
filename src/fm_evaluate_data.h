/*
 * fm_evaluate_data.h - the data of one evaluation (fm_evaluate,
 * fm_evaluate_popularity), read through SPI by fm_evaluate_data.c.
 *
 * Order of use: fm_eval_init; (model) fm_eval_load_model and
 * fm_eval_load_features; fm_eval_read_items; the users
 * (fm_eval_read_model_users or fm_eval_read_grouped_users); fm_eval_read_test;
 * fm_eval_read_train; then, after SPI_finish, fm_eval_rank_users.  The reads
 * need an SPI connection; everything lives in ev->cxt, charged to ev->budget.
 */
#ifndef FMREC_FM_EVALUATE_DATA_H
#define FMREC_FM_EVALUATE_DATA_H

#include "postgres.h"

#include "utils/array.h"
#include "utils/hsearch.h"

#include "core/rank_eval.h"
#include "fm_feature_kinds.h"
#include "fm_memory.h"

/* The feature columns of one side (users or items) and their kind. */
typedef struct SideColumns
{
	int			n;
	char	  **names;
	bool	   *is_array;
	FmFeatureKind *kinds;		/* the model's kind of each column */
} SideColumns;

typedef struct Model
{
	int32		dim;
	double		w0;
	double		target_min;
	double		target_max;
	char	   *target;
	char	  **features;
	FmFeatureKind *kinds;		/* fm_model.feature_kinds (NULL there: categorical) */
	int			n_features;
	HTAB	   *table;			/* FeatureKey -> FeatureEntry */
} Model;

/* Everything one evaluation reads, in `cxt`, charged to `budget`. */
typedef struct Evaluation
{
	MemoryContext cxt;
	FmBudget	budget;
	Model		model;			/* dim 0 for the popularity baseline */
	double		threshold;

	/* the catalogue */
	HTAB	   *item_index;
	int64	   *item_ids;
	float	   *item_bias;
	float	   *item_embedding;
	int64		n_items,
				items_capacity;

	/* the users who may be evaluated */
	HTAB	   *user_index;
	float	   *user_bias;
	float	   *user_query;
	int32	   *user_group;		/* popularity: 0-based group, or -1 */
	bool		grouped;		/* popularity within groups (else one group) */
	bool	   *user_in_test;
	int64		n_users,
				users_capacity;
	int32		n_groups;

	/* (user index, item) pairs: seen in train (item index), relevant in test (item id) */
	int64	   *seen;			/* user << 32 | item index */
	int64		n_seen,
				seen_capacity;
	int64	   *relevant_user;
	int64	   *relevant_item;
	int64		n_relevant,
				relevant_capacity;

	/* the popularity counts, n_groups x n_items (NULL for a model) */
	float	   *counts;

	/* rmse */
	double		squared_error;
	int64		test_rows;
} Evaluation;

/* arguments */
extern void fm_eval_require_column(Oid relid, const char *column, const char *role);	/* else 42703 */
extern char **fm_eval_name_array(ArrayType *array, int *n, const char *what);
extern SideColumns fm_eval_side_columns(Oid relid, const Model *model, char **only, int n_only);

/* reading */
extern void fm_eval_init(Evaluation *ev, double threshold);
extern void fm_eval_load_model(Model *m, const char *model_name);
extern void fm_eval_load_features(Evaluation *ev, const char *model_name,
								  SideColumns *users, SideColumns *items);
extern void fm_eval_read_items(Evaluation *ev, Oid item_table, const char *item_column,
							   const SideColumns *cols);
extern void fm_eval_read_model_users(Evaluation *ev, Oid user_table, Oid test,
									 const char *user_column, const SideColumns *cols);
extern void fm_eval_read_grouped_users(Evaluation *ev, Oid user_table, const char *user_column,
									   char **group_by, int n_group_by);
extern void fm_eval_read_test(Evaluation *ev, Oid test, const char *user_column,
							  const char *item_column, const char *target, bool add_users);
extern void fm_eval_read_train(Evaluation *ev, Oid train, const char *user_column,
							   const char *item_column);

/* the users to rank */
extern FmRankUser *fm_eval_rank_users(Evaluation *ev, int64 *n_out, int32 **user_of);
extern FmRankUser *fm_eval_group_rank_users(Evaluation *ev, const FmRankUser *users,
											const int32 *user_of, int64 n, int64 **start_out);

#endif							/* FMREC_FM_EVALUATE_DATA_H */

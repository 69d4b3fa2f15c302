/*
 * fm_train.c - fm_train_from_table(): the SQL contract of training.
 *
 * Checks the arguments, reads the source once (fm_train_source.c), runs the
 * chosen optimiser of the core with a NOTICE per epoch, writes the model in
 * the caller's transaction (fm_model_store.c) and returns a summary row.
 * All training memory lives in one context charged to a budget.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/dataset.h"
#include "core/model.h"
#include "core/train.h"
#include "fm_catalog.h"
#include "fm_memory.h"
#include "fm_model_store.h"
#include "fm_progress.h"
#include "fm_train_implicit.h"
#include "fm_train_source.h"

#define FM_MAX_K 1024
#define FM_MAX_EPOCHS 100000

/* Argument positions of fm_train_from_table (see fmrec--*.sql). */
enum
{
	ARG_SOURCE, ARG_TARGET, ARG_FEATURES, ARG_MODEL, ARG_K, ARG_EPOCHS, ARG_METHOD,
	ARG_LEARNING_RATE, ARG_REGULARIZATION, ARG_INIT_STDEV, ARG_VALIDATION_FRACTION, ARG_SEED,
	ARG_VALIDATION, ARG_ITEM_FEATURES, ARG_ITEMS, ARG_POSITIVE_THRESHOLD, ARG_UNOBSERVED_WEIGHT,
	ARG_CONFIDENCE, ARG_FEATURE_KINDS
};

/*
 * Whether an argument is NULL or absent: before ALTER EXTENSION fmrec UPDATE,
 * the SQL declaration of an older version passes fewer arguments than this
 * library reads (the arguments added since count as NULL).
 */
static inline bool
arg_is_null(FunctionCallInfo fcinfo, int n)
{
	return n >= PG_NARGS() || PG_ARGISNULL(n);
}

static void
require_argument(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (arg_is_null(fcinfo, arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

static void
check_positive_finite(double value, const char *name)
{
	if (!(value > 0.0) || isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive finite number, not %g", name, value)));
}

/*
 * The arguments of implicit training (iALS, BPR): refused for the other
 * methods; unobserved_weight and confidence are iALS's own.
 */
static void
read_implicit_params(FunctionCallInfo fcinfo, FmTrainParams *p)
{
	static const int args[] = {ARG_ITEM_FEATURES, ARG_ITEMS, ARG_POSITIVE_THRESHOLD,
	ARG_UNOBSERVED_WEIGHT, ARG_CONFIDENCE};
	static const char *const names[] = {"item_features", "items", "positive_threshold",
	"unobserved_weight", "confidence"};
	const char *method = fm_method_name(p->method);

	for (int i = 0; i < lengthof(args); i++)
	{
		bool		applies = fm_method_is_implicit(p->method) &&
			(p->method == FM_METHOD_IALS || i < 3);

		if (!applies && !arg_is_null(fcinfo, args[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s applies only to method %s, not '%s'", names[i],
							i < 3 ? "'ials' or 'bpr'" : "'ials'", method)));
	}
	if (!fm_method_is_implicit(p->method))
		return;
	if (arg_is_null(fcinfo, ARG_ITEM_FEATURES))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("item_features (with method '%s') must not be NULL", method)));
	if (arg_is_null(fcinfo, ARG_ITEMS))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("items (with method '%s') must not be NULL", method)));
	if (!arg_is_null(fcinfo, ARG_VALIDATION))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("method '%s' does not take a validation relation", method),
				 errhint("It holds out validation_fraction of each context's positives instead.")));
	if (p->method == FM_METHOD_IALS && !arg_is_null(fcinfo, ARG_LEARNING_RATE))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("method 'ials' has no learning_rate: each step is an exact minimisation")));
	if (!arg_is_null(fcinfo, ARG_UNOBSERVED_WEIGHT))
	{
		p->unobserved_weight = PG_GETARG_FLOAT8(ARG_UNOBSERVED_WEIGHT);
		check_positive_finite(p->unobserved_weight, "unobserved_weight");
	}
	if (!arg_is_null(fcinfo, ARG_CONFIDENCE))
	{
		p->confidence = PG_GETARG_FLOAT8(ARG_CONFIDENCE);
		if (!(p->confidence >= 0.0) || isinf(p->confidence))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("confidence must be a non-negative finite number, not %g", p->confidence)));
	}
}

/* Reads the hyper-parameters; NULL means the method's default. */
static void
read_params(FunctionCallInfo fcinfo, FmTrainParams *p, double *validation_fraction)
{
	char	   *method_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_METHOD));
	FmMethod	method;

	if (!fm_method_from_name(method_name, &method))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown training method \"%s\"", method_name),
				 errhint("Use one of 'sgd', 'adam', 'als', 'mcmc', 'ials' or 'bpr'.")));
	fm_train_params_default(p, method);
	read_implicit_params(fcinfo, p);

	if (!arg_is_null(fcinfo, ARG_K))
	{
		int32		k = PG_GETARG_INT32(ARG_K);

		if (k < 1 || k > FM_MAX_K)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must be between 1 and %d, not %d", FM_MAX_K, k)));
		p->k = k;
	}
	if (!arg_is_null(fcinfo, ARG_EPOCHS))
	{
		int32		epochs = PG_GETARG_INT32(ARG_EPOCHS);

		if (epochs < 1 || epochs > FM_MAX_EPOCHS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("epochs must be between 1 and %d, not %d", FM_MAX_EPOCHS, epochs)));
		p->epochs = epochs;
	}
	if (!arg_is_null(fcinfo, ARG_LEARNING_RATE))
	{
		p->learning_rate = PG_GETARG_FLOAT8(ARG_LEARNING_RATE);
		check_positive_finite(p->learning_rate, "learning_rate");
	}
	if (!arg_is_null(fcinfo, ARG_REGULARIZATION))
	{
		double		reg = PG_GETARG_FLOAT8(ARG_REGULARIZATION);

		check_positive_finite(reg, "regularization");
		p->reg_w = reg;
		p->reg_v = reg;
	}
	if (fm_method_is_implicit(p->method))
		p->init_stdev = 0.1 / sqrt((double) p->k);	/* Rendle et al. 2021 */
	if (!arg_is_null(fcinfo, ARG_INIT_STDEV))
	{
		p->init_stdev = PG_GETARG_FLOAT8(ARG_INIT_STDEV);
		check_positive_finite(p->init_stdev, "init_stdev");
	}
	*validation_fraction = arg_is_null(fcinfo, ARG_VALIDATION_FRACTION) ? 0.1 :
		PG_GETARG_FLOAT8(ARG_VALIDATION_FRACTION);
	if (!(*validation_fraction >= 0.0 && *validation_fraction <= 0.5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("validation_fraction must be between 0 and 0.5, not %g", *validation_fraction)));
	if (!arg_is_null(fcinfo, ARG_SEED))
		p->seed = (uint64) PG_GETARG_INT64(ARG_SEED);
}

/* item_features: a subset of features, the first one the item key; items: the catalogue. */
static void
read_item_columns(FunctionCallInfo fcinfo, TrainingSource *src)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(ARG_ITEM_FEATURES);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item_features must be a one-dimensional array of column names")));
	deconstruct_array(array, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item_features must name at least the item key column")));
	src->item_column = palloc0(sizeof(bool) * src->n_columns);
	src->items_relid = PG_GETARG_OID(ARG_ITEMS);
	for (int i = 0; i < n; i++)
	{
		int			c;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("item_features must not contain NULL")));
		for (c = 0; c < src->n_columns; c++)
			if (strcmp(src->columns[c].name, NameStr(*DatumGetName(elems[i]))) == 0)
				break;
		if (c == src->n_columns)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("item feature \"%s\" is not one of features", NameStr(*DatumGetName(elems[i]))),
					 errdetail("item_features says which of features describe the item, the first one being its key.")));
		if (src->item_column[c])
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("item feature \"%s\" is listed more than once", src->columns[c].name)));
		src->item_column[c] = true;
		if (i == 0)
			src->key_column = c;
	}
}

/*
 * feature_kinds: {"column": "kind", ...} overrides the type defaults of
 * some feature columns; fm_source_check_columns then checks each kind
 * against its column's type.
 */
static void
read_feature_kinds(Jsonb *kinds, TrainingSource *src)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	int			c = -1;

	if (!JB_ROOT_IS_OBJECT(kinds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature_kinds must be a jsonb object {\"column\": \"kind\", ...}")));
	it = JsonbIteratorInit(&kinds->root);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
		{
			char	   *name = pnstrdup(v.val.string.val, v.val.string.len);

			for (c = 0; c < src->n_columns; c++)
				if (strcmp(src->columns[c].name, name) == 0)
					break;
			if (c == src->n_columns)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("feature_kinds names \"%s\", which is not one of features", name),
						 errhint("feature_kinds gives the kind of some of the columns listed in features.")));
		}
		else if (token == WJB_VALUE)
		{
			char	   *name = v.type == jbvString ? pnstrdup(v.val.string.val, v.val.string.len) : NULL;

			if (name == NULL || !fm_kind_from_name(name, &src->columns[c].kind))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown feature kind %s for column \"%s\"",
								name ? quote_literal_cstr(name) : "(not a string)", src->columns[c].name),
						 errhint("The kinds are " FM_KIND_LIST ".")));
			src->columns[c].kind_given = true;
		}
	}
}

static void
read_source_args(FunctionCallInfo fcinfo, TrainingSource *src)
{
	ArrayType  *features = PG_GETARG_ARRAYTYPE_P(ARG_FEATURES);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	src->relid = PG_GETARG_OID(ARG_SOURCE);
	src->target = pstrdup(NameStr(*PG_GETARG_NAME(ARG_TARGET)));
	if (ARR_NDIM(features) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a one-dimensional array of column names")));
	deconstruct_array(features, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must name at least one column")));
	src->n_columns = n;
	src->columns = palloc0(sizeof(FeatureColumn) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("features must not contain NULL")));
		src->columns[i].name = pstrdup(NameStr(*DatumGetName(elems[i])));
	}
	if (!arg_is_null(fcinfo, ARG_ITEM_FEATURES) && !arg_is_null(fcinfo, ARG_ITEMS))
		read_item_columns(fcinfo, src);
	if (!fmrec_model_has_column("feature_kinds"))
	{
		/*
		 * The installed SQL predates feature kinds (before ALTER EXTENSION
		 * fmrec UPDATE): train as that version did, every column
		 * categorical, which is what its serving functions read.
		 */
		for (int c = 0; c < n; c++)
		{
			src->columns[c].kind = FM_KIND_CATEGORICAL;
			src->columns[c].kind_given = true;
		}
	}
	else if (!arg_is_null(fcinfo, ARG_FEATURE_KINDS))
		read_feature_kinds(PG_GETARG_JSONB_P(ARG_FEATURE_KINDS), src);
	fm_source_check_columns(src);
}

/* ---- progress hooks ---- */

typedef struct ProgressState
{
	FmMethod	method;
	int32		epochs;
	FmProgress *progress;		/* the view fm_training_progress, the history */
} ProgressState;

/* ALS and MCMC sweep every parameter once per "iteration"; SGD and Adam pass over rows in "epochs". */
static const char *
progress_unit(FmMethod method)
{
	return (method == FM_METHOD_ALS || method == FM_METHOD_MCMC) ? "iteration" : "epoch";
}

static bool
notice_epoch(const FmEpochReport *r, void *arg)
{
	ProgressState *state = (ProgressState *) arg;
	const char *unit = progress_unit(state->method);

	fm_progress_epoch(state->progress, r);
	if (fm_progress_notice_epochs())
	{
		if (isnan(r->valid_rmse))
			ereport(NOTICE,
					(errmsg("%s %d/%d: train RMSE %.4f (%.2f s)", unit, r->epoch, state->epochs,
							r->train_rmse, r->seconds)));
		else
			ereport(NOTICE,
					(errmsg("%s %d/%d: train RMSE %.4f, validation RMSE %.4f (%.2f s)", unit, r->epoch,
							state->epochs, r->train_rmse, r->valid_rmse, r->seconds)));
	}
	CHECK_FOR_INTERRUPTS();
	return true;
}

static void
check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/* ---- the steps ---- */

/*
 * fm_source_read puts the rows in a canonical order, so the model no longer
 * depends on the order they come in; a synchronised scan is still turned off
 * so that a plain table is read the same way twice.
 */
static void
read_source_deterministically(TrainingSource *src, FmBudget *budget)
{
	int			nest_level = NewGUCNestLevel();

	(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	fm_source_read(src, budget);
	AtEOXact_GUC(true, nest_level);
}

/* The same for implicit training, which reads the source and the catalogue. */
static double
train_implicit_deterministically(TrainingSource *src, const FmTrainParams *params,
								 const ImplicitOptions *options, FmBudget *budget,
								 ModelSummary *summary, int32 *n_features)
{
	int			nest_level = NewGUCNestLevel();
	double		ndcg;

	(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	ndcg = fm_train_implicit(src, params, options, budget, summary, n_features);
	AtEOXact_GUC(true, nest_level);
	return ndcg;
}

static void
check_usable_rows(const TrainingSource *src, const FmDataset *train)
{
	int64		skipped = src->rows_skipped_null + src->rows_skipped_not_finite;

	if (src->data.n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no usable rows to train on in \"%s\"", get_rel_name(src->relid)),
				 errdetail("%lld rows were read; %lld had a NULL target and %lld a NaN or infinite one.",
						   (long long) skipped, (long long) src->rows_skipped_null,
						   (long long) src->rows_skipped_not_finite)));
	if (train->n_rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no rows left to train on after setting %lld aside for validation",
						(long long) src->data.n_rows),
				 errhint("Use a smaller validation_fraction or more rows.")));
	if (src->rows_skipped_not_finite > 0)
		ereport(NOTICE,
				(errmsg("skipped %lld rows whose target is NaN or infinite",
						(long long) src->rows_skipped_not_finite)));
}

static char *
params_json(const FmTrainParams *p, double validation_fraction)
{
	return psprintf("{\"k\": %d, \"epochs\": %d, \"learning_rate\": %.17g, \"reg_w0\": %.17g, "
					"\"reg_w\": %.17g, \"reg_v\": %.17g, \"init_stdev\": %.17g, "
					"\"validation_fraction\": %.17g, \"seed\": %lld, \"burn_in\": %d}",
					p->k, p->epochs, p->learning_rate, p->reg_w0, p->reg_w, p->reg_v,
					p->init_stdev, validation_fraction, (long long) p->seed, p->burn_in);
}

static Datum
summary_tuple(FunctionCallInfo fcinfo, const ModelSummary *s, int32 k, int32 n_features,
			  double validation_ndcg)
{
	TupleDesc	desc;
	Datum		values[11];
	bool		nulls[11] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fm_train_from_table must return a composite type");
	desc = BlessTupleDesc(desc);
	values[0] = CStringGetTextDatum(s->model);
	values[1] = CStringGetTextDatum(s->method);
	values[2] = Int32GetDatum(k);
	values[3] = Int32GetDatum(s->epochs_run);
	values[4] = Int64GetDatum(s->rows_used);
	values[5] = Int64GetDatum(s->rows_skipped);
	values[6] = Int32GetDatum(n_features);
	values[7] = Float8GetDatum(s->train_rmse);
	nulls[7] = isnan(s->train_rmse);
	values[8] = Float8GetDatum(s->validation_rmse);
	nulls[8] = isnan(s->validation_rmse);
	values[9] = Float8GetDatum(s->seconds);
	values[10] = Float8GetDatum(validation_ndcg);
	nulls[10] = isnan(validation_ndcg);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

static double
seconds_since(TimestampTz start)
{
	long		secs;
	int			usecs;

	TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
	return secs + usecs / 1e6;
}

PG_FUNCTION_INFO_V1(fm_train_from_table);
Datum
fm_train_from_table(PG_FUNCTION_ARGS)
{
	TimestampTz start = GetCurrentTimestamp();
	MemoryContext train_context;
	FmBudget	budget;
	FmAllocator alloc;
	TrainingSource src = {0};
	FmTrainParams params;
	double		validation_fraction;
	FmDataset	train,
				valid;
	FmModel		model;
	FmTrainResult result;
	ProgressState progress;
	FmTrainHooks hooks;
	ModelSummary summary = {0};
	char	   *model_name;
	TimestampTz train_start;
	TimestampTz write_start;
	double		train_seconds;

	require_argument(fcinfo, ARG_SOURCE, "source");
	require_argument(fcinfo, ARG_TARGET, "target");
	require_argument(fcinfo, ARG_FEATURES, "features");
	require_argument(fcinfo, ARG_MODEL, "model");
	require_argument(fcinfo, ARG_METHOD, "method");
	model_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	if (model_name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	read_params(fcinfo, &params, &validation_fraction);
	read_source_args(fcinfo, &src);
	fm_store_check_writable();
	fm_store_lock_model(model_name);

	train_context = AllocSetContextCreate(CurrentMemoryContext, "fmrec training",
										  ALLOCSET_DEFAULT_SIZES);
	fm_budget_init(&budget, train_context);
	alloc = fm_budget_allocator(&budget);

	if (fm_method_is_implicit(params.method))
	{
		ImplicitOptions options;
		int32		n_features;
		double		ndcg;

		options.positive_threshold = arg_is_null(fcinfo, ARG_POSITIVE_THRESHOLD) ? NAN :
			PG_GETARG_FLOAT8(ARG_POSITIVE_THRESHOLD);
		if (isinf(options.positive_threshold))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("positive_threshold must be finite or NULL")));
		options.validation_fraction = validation_fraction;
		summary.model = model_name;
		summary.method = fm_method_name(params.method);
		ndcg = train_implicit_deterministically(&src, &params, &options, &budget, &summary, &n_features);
		MemoryContextDelete(train_context);
		PG_RETURN_DATUM(summary_tuple(fcinfo, &summary, params.k, n_features, ndcg));
	}
	progress.progress = fm_progress_begin(model_name, fm_method_name(params.method), params.epochs);
	read_source_deterministically(&src, &budget);
	if (arg_is_null(fcinfo, ARG_VALIDATION))
		fm_dataset_split(&src.data, validation_fraction, params.seed, &train, &valid, &alloc);
	else
	{
		/* an explicit validation relation replaces the random split */
		train = src.data;
		fm_source_read_validation(&src, PG_GETARG_OID(ARG_VALIDATION), &budget, &valid);
		validation_fraction = 0.0;
	}
	check_usable_rows(&src, &train);

	fm_model_alloc(&model, src.data.n_features, params.k, &alloc);
	fm_dataset_target_range(&src.data, &model.target_min, &model.target_max);
	progress.method = params.method;
	progress.epochs = params.epochs;
	hooks.epoch_done = notice_epoch;
	hooks.tick = check_interrupts;
	hooks.arg = &progress;
	fm_progress_phase(progress.progress, FM_PHASE_TRAINING);
	train_start = GetCurrentTimestamp();
	fm_train(&train, &valid, &params, &model, &hooks, &alloc, &result);
	train_seconds = seconds_since(train_start);

	if (params.method == FM_METHOD_MCMC && !isnan(result.valid_rmse) && fm_progress_notice_summary())
		ereport(NOTICE,
				(errmsg("validation RMSE of the averaged MCMC predictions %.4f, of the stored model %.4f",
						result.valid_rmse, result.valid_rmse_mean_model),
				 errdetail("The served model is one set of vectors: the posterior mean, refitted once to the averaged predictions.")));

	summary.model = model_name;
	summary.method = fm_method_name(params.method);
	summary.params_json = params_json(&params, validation_fraction);
	summary.epochs_run = result.epochs_run;
	summary.rows_used = src.data.n_rows;
	summary.rows_skipped = src.rows_skipped_null + src.rows_skipped_not_finite;
	summary.train_rmse = result.train_rmse;
	summary.validation_rmse = result.valid_rmse;
	summary.history = fm_progress_history(progress.progress);
	summary.seconds = seconds_since(start);
	fm_progress_phase(progress.progress, FM_PHASE_WRITING);
	write_start = GetCurrentTimestamp();
	fm_store_write(&summary, &src, &model);
	summary.seconds = seconds_since(start);
	fm_progress_end(progress.progress);

	/* where the time and memory went: what a benchmark or a DBA wants to know */
	if (fm_progress_notice_summary())
		ereport(NOTICE,
				(errmsg("model \"%s\": read %lld rows in %.2f s (%.3f s of it canonical order), "
						"trained %d %ss in %.2f s, wrote %d features in %.2f s; training memory %.1f MB",
						model_name, (long long) (src.data.n_rows + summary.rows_skipped), src.read_seconds,
						src.canonical_seconds, result.epochs_run, progress_unit(params.method), train_seconds, model.n_features,
						seconds_since(write_start), budget.peak / 1048576.0)));
	MemoryContextDelete(train_context);
	PG_RETURN_DATUM(summary_tuple(fcinfo, &summary, params.k, src.data.n_features, NAN));
}

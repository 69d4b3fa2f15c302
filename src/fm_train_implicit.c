/*
 * fm_train_implicit.c - implicit-feedback training in fm_train_from_table.
 *
 * Reads the source (context columns and the item key) and then the
 * catalogue (the item columns, one row per item) through one dictionary, so
 * that the item key values of both get the same feature ids; the core
 * builds the contexts, items and observed pairs and says what is wrong with
 * the data, which becomes a user-facing error here.  Everything is read and
 * checked before training, and the model is written only at the end, so a
 * failure leaves the previous model as it was.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "core/bpr.h"
#include "core/ials.h"
#include "core/implicit.h"
#include "core/model.h"
#include "fm_progress.h"
#include "fm_train_implicit.h"
#include "fm_train_parallel_implicit.h"

static const char *
relname(Oid relid)
{
	return get_rel_name(relid);
}

/* Turns what the core found wrong into an ERROR with its SQLSTATE. */
static void
report_problem(FmImplicitStatus status, const FmImplicitProblem *problem, const TrainingSource *src,
			   const ImplicitOptions *options)
{
	const char *key = src->columns[src->key_column].name;
	const char *items = relname(src->items_relid);
	const char *source = relname(src->relid);

	switch (status)
	{
		case FM_IMPLICIT_OK:
			return;
		case FM_IMPLICIT_EMPTY_CATALOGUE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the items table \"%s\" is empty", items),
					 errdetail("The catalogue lists the items to rank: one row per item.")));
			break;
		case FM_IMPLICIT_CATALOGUE_ROW_WITHOUT_KEY:
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the item key \"%s\" is NULL in a row of the items table \"%s\"", key, items)));
			break;
		case FM_IMPLICIT_DUPLICATE_ITEM:
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("item \"%s\" appears more than once in the items table \"%s\"",
							src->feature_value[problem->feature], items),
					 errdetail("The catalogue must have one row per value of the item key \"%s\".", key)));
			break;
		case FM_IMPLICIT_ROW_WITHOUT_ITEM:
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the item key \"%s\" is NULL in a row of \"%s\"", key, source),
					 errhint("Filter such rows out, e.g. with a view.")));
			break;
		case FM_IMPLICIT_UNKNOWN_ITEM:
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("item \"%s\" of \"%s\" is not in the items table \"%s\"",
							src->feature_value[problem->feature], source, items),
					 errdetail("Every item of the source must have its row in the catalogue, keyed by \"%s\".",
							   key)));
			break;
		case FM_IMPLICIT_NO_POSITIVE:
			if (isnan(options->positive_threshold))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("no usable rows to train on in \"%s\"", source)));
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("no positive row in \"%s\": no target is at least positive_threshold %g",
							source, options->positive_threshold),
					 errhint("Lower positive_threshold, or leave it NULL to count every row.")));
			break;
		case FM_IMPLICIT_BAD_CONFIDENCE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the confidence of a positive row is not positive"),
					 errdetail("A positive weighs 1 + confidence * target, which must be a positive finite number."),
					 errhint("Use a non-negative confidence with non-negative targets.")));
			break;
	}
}

static void
build_spec(const TrainingSource *src, const FmTrainParams *params, const ImplicitOptions *options,
		   FmImplicitSpec *spec)
{
	uint8_t    *item_group = palloc0(src->n_columns);

	for (int c = 0; c < src->n_columns; c++)
		item_group[c] = src->item_column[c];
	spec->key_group = src->key_column;
	spec->item_group = item_group;
	spec->positive_threshold = options->positive_threshold;
	spec->confidence = params->confidence;
	spec->validation_fraction = options->validation_fraction;
	spec->seed = params->seed;
	spec->feature_value = (const char *const *) src->feature_value;
}

/* ---- progress ---- */

typedef struct Progress
{
	int32		epochs;
	FmProgress *progress;		/* the view fm_training_progress, the history */
} Progress;

static bool
notice_epoch(const FmEpochReport *r, void *arg)
{
	Progress   *p = (Progress *) arg;

	fm_progress_epoch(p->progress, r);
	if (fm_progress_notice_epochs())
	{
		if (isnan(r->valid_ndcg))
			ereport(NOTICE,
					(errmsg("epoch %d/%d: loss %.6g (%.2f s)", r->epoch, p->epochs, r->train_loss,
							r->seconds)));
		else
			ereport(NOTICE,
					(errmsg("epoch %d/%d: loss %.6g, validation NDCG@10 %.4f (%.2f s)", r->epoch,
							p->epochs, r->train_loss, r->valid_ndcg, r->seconds)));
	}
	CHECK_FOR_INTERRUPTS();
	return true;
}

static void
check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

static char *
params_json(const TrainingSource *src, const FmTrainParams *p, const ImplicitOptions *o,
			double ndcg)
{
	StringInfoData s;
	bool		first = true;

	initStringInfo(&s);
	if (p->method == FM_METHOD_BPR)
		appendStringInfo(&s, "{\"learning_rate\": %.17g, ", p->learning_rate);
	else
		appendStringInfoChar(&s, '{');
	appendStringInfo(&s, "\"k\": %d, \"epochs\": %d, \"regularization\": %.17g, "
					 "\"init_stdev\": %.17g, \"unobserved_weight\": %.17g, \"confidence\": %.17g, "
					 "\"reg_exponent\": %.17g, \"popularity_exponent\": %.17g, "
					 "\"validation_fraction\": %.17g, \"seed\": %lld, ",
					 p->k, p->epochs, p->reg_v, p->init_stdev, p->unobserved_weight, p->confidence,
					 p->reg_exponent, p->popularity_exponent, o->validation_fraction, (long long) p->seed);
	if (isnan(o->positive_threshold))
		appendStringInfoString(&s, "\"positive_threshold\": null, ");
	else
		appendStringInfo(&s, "\"positive_threshold\": %.17g, ", o->positive_threshold);
	appendStringInfoString(&s, "\"item_features\": [");
	for (int c = 0; c < src->n_columns; c++)
	{
		if (!src->item_column[c] || c != src->key_column)
			continue;
		escape_json(&s, src->columns[c].name);
		first = false;
	}
	for (int c = 0; c < src->n_columns; c++)
	{
		if (!src->item_column[c] || c == src->key_column)
			continue;
		if (!first)
			appendStringInfoString(&s, ", ");
		escape_json(&s, src->columns[c].name);
		first = false;
	}
	appendStringInfoString(&s, "], \"items\": ");
	escape_json(&s, quote_qualified_identifier(get_namespace_name(get_rel_namespace(src->items_relid)),
											   relname(src->items_relid)));
	if (isnan(ndcg))
		appendStringInfoString(&s, ", \"validation_ndcg_at_10\": null}");
	else
		appendStringInfo(&s, ", \"validation_ndcg_at_10\": %.17g}", ndcg);
	return s.data;
}

typedef struct RowsDone
{
	TrainingSource *src;
	FmBudget   *budget;
} RowsDone;

/* The build has its pairs: the source rows make room for the pair lists. */
static void
free_source_rows(void *arg)
{
	RowsDone   *done = (RowsDone *) arg;

	fm_source_free_rows(done->src, done->budget);
}

static double
seconds_since(TimestampTz start)
{
	long		secs;
	int			usecs;

	TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
	return secs + usecs / 1e6;
}

double
fm_train_implicit(TrainingSource *src, const FmTrainParams *params, const ImplicitOptions *options,
				  FmBudget *budget, ModelSummary *summary, int32 *n_features)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz train_start;
	FmAllocator alloc = fm_budget_allocator(budget);
	FmDataset	catalogue;
	FmImplicitSpec spec;
	FmImplicitData data;
	FmImplicitProblem problem;
	FmImplicitBuildMemory build_memory;
	FmScratch	build_scratch;
	FmAllocator build_temporary;
	RowsDone	rows_done;
	FmImplicitStatus status;
	FmModel		model;
	FmTrainResult result;
	FmTrainHooks hooks;
	Progress	progress;
	double		train_seconds;
	int			workers_launched = 0;

	progress.progress = fm_progress_begin(summary->model, summary->method, params->epochs);
	fm_source_read(src, budget);
	fm_source_read_catalogue(src, budget, &catalogue);
	CHECK_FOR_INTERRUPTS();
	build_spec(src, params, options, &spec);
	build_temporary = fm_scratch_begin(&build_scratch, budget);
	rows_done.src = src;
	rows_done.budget = budget;
	build_memory.scratch = &build_temporary;
	build_memory.rows_done = free_source_rows;
	build_memory.rows_done_arg = &rows_done;
	status = fm_implicit_build_with(&src->data, &catalogue, &spec, &data, &problem, &alloc,
									&build_memory);
	fm_scratch_end(&build_scratch);
	report_problem(status, &problem, src, options);
	if (src->rows_skipped_not_finite > 0)
		ereport(NOTICE,
				(errmsg("skipped %lld rows whose target is NaN or infinite",
						(long long) src->rows_skipped_not_finite)));

	fm_model_alloc(&model, src->data.n_features, params->k, &alloc);
	/* a preference score, not a rating: fm_predict does not clip it */
	model.target_min = -INFINITY;
	model.target_max = INFINITY;
	progress.epochs = params->epochs;
	hooks.epoch_done = notice_epoch;
	hooks.tick = check_interrupts;
	hooks.arg = &progress;
	hooks.parallel = NULL;
	fm_progress_phase(progress.progress, FM_PHASE_TRAINING);
	train_start = GetCurrentTimestamp();
	if (fm_train_parallel_implicit(&data, params, &model, &hooks, budget, &result, &workers_launched))
		;						/* trained with workers */
	else if (params->method == FM_METHOD_BPR)
		fm_train_bpr(&data, params, &model, &hooks, &alloc, &result);
	else
		fm_train_ials(&data, params, &model, &hooks, &alloc, &result);
	train_seconds = seconds_since(train_start);
	if (workers_launched > 0 && fm_progress_notice_summary())
		ereport(NOTICE,
				(errmsg("model \"%s\": trained with %d parallel workers besides the leader",
						summary->model, workers_launched)));

	summary->params_json = params_json(src, params, options, result.valid_ndcg);
	summary->epochs_run = result.epochs_run;
	summary->rows_used = src->data.n_rows;
	summary->rows_skipped = src->rows_skipped_null + src->rows_skipped_not_finite;
	summary->train_rmse = NAN;
	summary->validation_rmse = NAN;
	summary->history = fm_progress_history(progress.progress);
	summary->seconds = seconds_since(start);
	fm_progress_phase(progress.progress, FM_PHASE_WRITING);
	fm_store_write(summary, src, &model);
	summary->seconds = seconds_since(start);
	fm_progress_end(progress.progress);
	if (fm_progress_notice_summary())
		ereport(NOTICE,
				(errmsg("model \"%s\": read %lld rows and %lld items in %.2f s, %d contexts and %lld "
						"positive pairs (%lld held out); trained %d epochs in %.2f s; training memory %.1f MB",
						summary->model, (long long) (src->data.n_rows + summary->rows_skipped),
						(long long) catalogue.n_rows, src->read_seconds + src->catalogue_read_seconds,
						data.contexts.n, (long long) data.n_pairs, (long long) data.n_valid,
						result.epochs_run, train_seconds, budget->peak / 1048576.0)));
	*n_features = src->data.n_features;
	return result.valid_ndcg;
}

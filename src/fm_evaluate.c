/*
 * fm_evaluate.c - fm_evaluate() and fm_evaluate_popularity(): a model (or
 * the most-popular baseline) judged on held-out rows, in one statement.
 *
 * Protocol (the same for both functions, see core/rank_eval.h):
 *   relevant:   the test rows of a user with target >= relevant_threshold;
 *   candidates: every item of item_table the user did not rate in `train`;
 *   ranking:    by score, ties to the smaller item id; precision, recall and
 *               NDCG@k averaged over the users with a relevant row and at
 *               least one candidate;
 *   rmse:       of the model's full predictions, clipped to the training
 *               target range, over the test rows whose user and item are
 *               known (fm_evaluate only).
 *
 * fm_evaluate reads the model's fm_feature rows once into a hash table and
 * builds each item's bias and embedding from item_table's feature columns,
 * and each user's query vector and bias from user_table's, exactly as
 * fm_item() does (each column read by its kind in fm_model.feature_kinds,
 * fm_feature_kinds.h: an array column's elements weigh 1/length when
 * categorical; unknown values contribute nothing).  The score of a candidate is then what
 * fm_score(query, embedding, bias) returns.  With user_features, only those
 * columns of user_table describe the user: a cold-start evaluation when the
 * test users are absent from `train` (and so from the model).
 *
 * fm_evaluate_popularity scores an item by its number of rows in `train`,
 * or, with group_by, by its number of rows among the users of the same
 * group (the user_table columns listed): the baselines a model must beat.
 *
 * The data is read by fm_evaluate_data.c; the ranking is core/rank_eval.
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "core/rank_eval.h"
#include "fm_catalog.h"
#include "fm_evaluate_data.h"

static void
check_not_null(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/* Cancel and statement_timeout between users. */
static void
rank_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

typedef struct Quality
{
	FmRankQuality q;
	double		rmse;
	int64		test_rows;
} Quality;

static void
return_quality(FunctionCallInfo fcinfo, const Quality *res)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	values[0] = Float8GetDatum(res->rmse);
	nulls[0] = isnan(res->rmse);
	values[1] = Float8GetDatum(res->q.precision_at_k);
	values[2] = Float8GetDatum(res->q.recall_at_k);
	values[3] = Float8GetDatum(res->q.ndcg_at_k);
	nulls[1] = nulls[2] = nulls[3] = (res->q.users == 0);
	values[4] = Int64GetDatum(res->q.users);
	values[5] = Int64GetDatum(res->test_rows);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static int32
checked_k(FunctionCallInfo fcinfo, int arg)
{
	int32		k;

	check_not_null(fcinfo, arg, "k");
	k = PG_GETARG_INT32(arg);
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
	return k;
}

/* ---- fm_evaluate ---- */

PG_FUNCTION_INFO_V1(fm_evaluate);
Datum
fm_evaluate(PG_FUNCTION_ARGS)
{
	static const char *const required[] = {"model", "test", "train", "user_table", "item_table",
	"k", "relevant_threshold", "user_column", "item_column"};
	Evaluation	ev;
	Quality		res;
	char	   *model_name;
	Oid			test,
				train,
				user_table,
				item_table;
	char	   *user_column,
			   *item_column,
			   *target;
	char	  **only = NULL;
	int			n_only = 0;
	int32		k;
	SideColumns users,
				items;
	FmRankUser *rank_users;
	int32	   *rank_user_index;
	int64		n_rank_users;
	FmRankItems catalogue;
	FmAllocator alloc;
	MemoryContext caller = CurrentMemoryContext;

	for (int a = 0; a < (int) lengthof(required); a++)
		check_not_null(fcinfo, a, required[a]);
	k = checked_k(fcinfo, 5);
	model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	test = PG_GETARG_OID(1);
	train = PG_GETARG_OID(2);
	user_table = PG_GETARG_OID(3);
	item_table = PG_GETARG_OID(4);
	user_column = pstrdup(NameStr(*PG_GETARG_NAME(7)));
	item_column = pstrdup(NameStr(*PG_GETARG_NAME(8)));
	if (!PG_ARGISNULL(10))
		only = fm_eval_name_array(PG_GETARG_ARRAYTYPE_P(10), &n_only, "user_features");
	InitMaterializedSRF(fcinfo, 0);

	fm_eval_init(&ev, PG_GETARG_FLOAT8(6));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fm_eval_load_model(&ev.model, model_name);
	target = PG_ARGISNULL(9) ? ev.model.target : pstrdup(NameStr(*PG_GETARG_NAME(9)));
	(void) fmrec_relation_sql(test);
	(void) fmrec_relation_sql(train);
	(void) fmrec_relation_sql(user_table);
	(void) fmrec_relation_sql(item_table);
	fm_eval_require_column(test, user_column, "user_column");
	fm_eval_require_column(test, item_column, "item_column");
	fm_eval_require_column(test, target, "target");
	fm_eval_require_column(train, user_column, "user_column");
	fm_eval_require_column(train, item_column, "item_column");
	fm_eval_require_column(user_table, user_column, "user_column");
	fm_eval_require_column(item_table, item_column, "item_column");
	users = fm_eval_side_columns(user_table, &ev.model, only, n_only);
	items = fm_eval_side_columns(item_table, &ev.model, NULL, 0);

	fm_eval_load_features(&ev, model_name, &users, &items);
	fm_eval_read_items(&ev, item_table, item_column, &items);
	fm_eval_read_model_users(&ev, user_table, test, user_column, &users);
	fm_eval_read_test(&ev, test, user_column, item_column, target, false);
	fm_eval_read_train(&ev, train, user_column, item_column);
	SPI_finish();

	rank_users = fm_eval_rank_users(&ev, &n_rank_users, &rank_user_index);
	catalogue.n_items = (int32) ev.n_items;
	catalogue.dim = ev.model.dim;
	catalogue.embeddings = ev.item_embedding;
	catalogue.bias = ev.item_bias;
	catalogue.ids = ev.item_ids;
	alloc = fm_budget_allocator(&ev.budget);
	res.q = fm_rank_evaluate(&catalogue, rank_users, n_rank_users, k, rank_tick, NULL, &alloc);
	res.test_rows = ev.test_rows;
	res.rmse = ev.test_rows > 0 ? sqrt(ev.squared_error / (double) ev.test_rows) : NAN;
	MemoryContextSwitchTo(caller);
	return_quality(fcinfo, &res);
	MemoryContextDelete(ev.cxt);
	return (Datum) 0;
}

/* ---- fm_evaluate_popularity ---- */

PG_FUNCTION_INFO_V1(fm_evaluate_popularity);
Datum
fm_evaluate_popularity(PG_FUNCTION_ARGS)
{
	static const char *const required[] = {"test", "train", "item_table", "k",
	"relevant_threshold", "user_column", "item_column", "target"};
	Evaluation	ev;
	Quality		res = {{0, 0, 0, 0}, NAN, 0};
	Oid			test,
				train,
				item_table,
				user_table = InvalidOid;
	char	   *user_column,
			   *item_column,
			   *target;
	char	  **group_by = NULL;
	int			n_group_by = 0;
	int32		k;
	SideColumns no_columns = {0, NULL, NULL, NULL};
	FmRankUser *rank_users;
	int32	   *rank_user_index;
	int64		n_rank_users;
	FmAllocator alloc;
	MemoryContext caller = CurrentMemoryContext;
	FmRankUser *by_group;
	int64	   *group_start;
	double		sum_p = 0,
				sum_r = 0,
				sum_n = 0;

	for (int a = 0; a < (int) lengthof(required); a++)
		check_not_null(fcinfo, a, required[a]);
	k = checked_k(fcinfo, 3);
	test = PG_GETARG_OID(0);
	train = PG_GETARG_OID(1);
	item_table = PG_GETARG_OID(2);
	user_column = pstrdup(NameStr(*PG_GETARG_NAME(5)));
	item_column = pstrdup(NameStr(*PG_GETARG_NAME(6)));
	target = pstrdup(NameStr(*PG_GETARG_NAME(7)));
	if (!PG_ARGISNULL(8))
		group_by = fm_eval_name_array(PG_GETARG_ARRAYTYPE_P(8), &n_group_by, "group_by");
	if (!PG_ARGISNULL(9))
		user_table = PG_GETARG_OID(9);
	if (group_by != NULL && !OidIsValid(user_table))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group_by needs user_table"),
				 errhint("Name the table whose columns group the users, e.g. user_table => 'users'.")));
	(void) fmrec_relation_sql(test);
	(void) fmrec_relation_sql(train);
	(void) fmrec_relation_sql(item_table);
	fm_eval_require_column(test, user_column, "user_column");
	fm_eval_require_column(test, item_column, "item_column");
	fm_eval_require_column(test, target, "target");
	fm_eval_require_column(train, user_column, "user_column");
	fm_eval_require_column(train, item_column, "item_column");
	fm_eval_require_column(item_table, item_column, "item_column");
	if (OidIsValid(user_table))
	{
		(void) fmrec_relation_sql(user_table);
		fm_eval_require_column(user_table, user_column, "user_column");
		for (int g = 0; g < n_group_by; g++)
			fm_eval_require_column(user_table, group_by[g], "group_by column");
	}
	InitMaterializedSRF(fcinfo, 0);

	fm_eval_init(&ev, PG_GETARG_FLOAT8(4));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	fm_eval_read_items(&ev, item_table, item_column, &no_columns);
	if (OidIsValid(user_table))
		fm_eval_read_grouped_users(&ev, user_table, user_column, group_by, n_group_by);
	ev.grouped = group_by != NULL;
	if (!ev.grouped)
		ev.n_groups = 1;
	ev.counts = fm_budget_alloc(&ev.budget, sizeof(float) * (Size) Max(ev.n_groups, 1) *
								(Size) Max(ev.n_items, 1));
	/* without user_table, the test rows name the users */
	fm_eval_read_test(&ev, test, user_column, item_column, target, !OidIsValid(user_table));
	fm_eval_read_train(&ev, train, user_column, item_column);
	SPI_finish();

	rank_users = fm_eval_rank_users(&ev, &n_rank_users, &rank_user_index);
	alloc = fm_budget_allocator(&ev.budget);
	by_group = fm_eval_group_rank_users(&ev, rank_users, rank_user_index, n_rank_users, &group_start);
	for (int32 g = 0; g < ev.n_groups; g++)
	{
		FmRankItems catalogue = {(int32) ev.n_items, 0, NULL, ev.counts + (int64) g * ev.n_items, ev.item_ids};
		int64		n_in_group = group_start[g + 1] - group_start[g];
		FmRankQuality q;

		if (n_in_group == 0)
			continue;
		q = fm_rank_evaluate(&catalogue, by_group + group_start[g], n_in_group, k,
							 rank_tick, NULL, &alloc);
		sum_p += q.precision_at_k * q.users;
		sum_r += q.recall_at_k * q.users;
		sum_n += q.ndcg_at_k * q.users;
		res.q.users += q.users;
	}
	if (res.q.users > 0)
	{
		res.q.precision_at_k = sum_p / res.q.users;
		res.q.recall_at_k = sum_r / res.q.users;
		res.q.ndcg_at_k = sum_n / res.q.users;
	}
	res.test_rows = ev.test_rows;
	MemoryContextSwitchTo(caller);
	return_quality(fcinfo, &res);
	MemoryContextDelete(ev.cxt);
	return (Datum) 0;
}

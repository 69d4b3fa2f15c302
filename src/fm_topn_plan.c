/*
 * fm_topn_plan.c - offers the planner the top-N scan (see fm_topn.h).
 *
 * PostgreSQL plans "SELECT ... FROM items ORDER BY fm_score(q, embedding,
 * bias) DESC LIMIT 10" as Limit <- Sort (top-N heapsort) <- Seq Scan, where
 * the scan projects every row (evaluating fm_score), the sort copies every
 * projected row into a minimal tuple and compares it.  On 1M x 120 that
 * bookkeeping costs about twice the scoring itself.  The top-N scan reads
 * the table once, scores each row from the two columns it needs without
 * projecting it, and keeps a copy of a row only when it enters the k best.
 *
 * The path is offered from set_rel_pathlist_hook, when the planner already
 * knows the query's ORDER BY (root->query_pathkeys) and its LIMIT
 * (root->limit_tuples), and only when the scan can see every row the LIMIT
 * will be applied to: one plain table, no join, no grouping, aggregate,
 * window, DISTINCT or set-returning function between scan and LIMIT (the
 * planner then leaves limit_tuples unset), no FOR UPDATE, no WITH TIES.  It
 * claims the ORDER BY as its path keys, so the planner puts the LIMIT
 * directly above it, or a Gather Merge of its parallel copies.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/spccache.h"

#include "fm_compat.h"
#include "fm_topn.h"

/* fm_vector_ops.c: the function whose ORDER BY this scan answers. */
extern Datum fm_score(PG_FUNCTION_ARGS);

bool		fmrec_enable_topn_scan = true;

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

/* What the planner found: the ranking and the LIMIT it applies to. */
typedef struct TopNQuery
{
	FuncExpr   *score;			/* fm_score(query, embedding, bias) */
	bool		descending;
	bool		nulls_first;
	double		limit;			/* rows the LIMIT (plus OFFSET) needs */
} TopNQuery;

/*
 * Is this call fm_score?  Decided by the C function it calls, so an alias
 * declared with another name in another schema counts, and a user function
 * that merely shares the name does not.
 */
static bool
calls_fm_score(FuncExpr *call)
{
	FmgrInfo	flinfo;

	if (call->funcresulttype != FLOAT8OID || list_length(call->args) != 3 ||
		call->funcretset)
		return false;
	fmgr_info(call->funcid, &flinfo);
	return flinfo.fn_addr == fm_score;
}

/*
 * Can the scan compute the score from a row itself?  The embedding must be
 * a plain column of the table (read in place from the heap); the query must
 * not depend on the row and is computed once per scan, so it must be
 * stable within the scan; the bias may be anything non-volatile.
 */
static bool
score_is_computable(FuncExpr *score, RelOptInfo *rel)
{
	Node	   *query = linitial(score->args);
	Node	   *embedding = lsecond(score->args);
	Node	   *bias = lthird(score->args);
	Var		   *var;

	if (!IsA(embedding, Var))
		return false;
	var = (Var *) embedding;
	if (var->varno != rel->relid || var->varlevelsup != 0 || var->varattno <= 0)
		return false;
	if (contain_var_clause(query) || contain_volatile_functions(query))
		return false;
	return !contain_volatile_functions(bias);
}

/*
 * Rows kept in memory must fit in work_mem, as a sort's would; a larger
 * LIMIT is better served by a sort that can spill.  Kept rows are whole
 * heap tuples, so their width is the table's average row, not the
 * projected one.  (Rows scoring NULL or NaN are kept apart, up to the
 * limit each: a table full of them can take up to three times this.)
 */
static bool
kept_rows_fit_work_mem(RelOptInfo *rel, double limit)
{
	double		row_bytes = 64.0;

	if (rel->tuples > 0 && rel->pages > 0)
		row_bytes += (double) rel->pages * BLCKSZ / rel->tuples;
	return limit * row_bytes <= (double) work_mem * 1024.0;
}

/* Is this the one-table, ORDER BY fm_score ... LIMIT k query we answer? */
static bool
find_topn_query(PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte,
				TopNQuery *topn)
{
	Query	   *parse = root->parse;
	PathKey    *key;
	ListCell   *lc;

	if (parse->commandType != CMD_SELECT || parse->rowMarks != NIL ||
		parse->limitOption == LIMIT_OPTION_WITH_TIES)
		return false;
	if (root->limit_tuples < 1.0 || list_length(root->query_pathkeys) != 1)
		return false;
	if (rel->reloptkind != RELOPT_BASEREL ||
		!bms_equal(rel->relids, root->all_baserels) ||
		!bms_is_empty(rel->lateral_relids))
		return false;
	if (rte->rtekind != RTE_RELATION || rte->inh || rte->tablesample != NULL ||
		(rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW))
		return false;
	if (root->limit_tuples >= (double) (INT32_MAX / 4) ||
		!kept_rows_fit_work_mem(rel, root->limit_tuples))
		return false;

	/* float8's own order (float_ops), not a user's ORDER BY ... USING */
	key = linitial_node(PathKey, root->query_pathkeys);
	if (get_opfamily_member(key->pk_opfamily, FLOAT8OID, FLOAT8OID,
							BTLessStrategyNumber) != Float8LessOperator)
		return false;
	foreach(lc, key->pk_eclass->ec_members)
	{
		EquivalenceMember *member = lfirst(lc);
		FuncExpr   *call = (FuncExpr *) member->em_expr;

		if (member->em_is_child || member->em_is_const || !IsA(call, FuncExpr))
			continue;
		if (!calls_fm_score(call) || !score_is_computable(call, rel))
			continue;
		topn->score = call;
		topn->descending = FM_PATHKEY_IS_DESCENDING(key);
		topn->nulls_first = key->pk_nulls_first;
		topn->limit = root->limit_tuples;
		return true;
	}
	return false;
}

/* How many processes share a partial scan; costsize.c's rule. */
static double
parallel_divisor(int workers)
{
	double		divisor = workers;

	if (parallel_leader_participation)
	{
		double		leader = 1.0 - 0.3 * workers;

		if (leader > 0)
			divisor += leader;
	}
	return divisor;
}

/*
 * A sequential scan's cost (as cost_seqscan computes it) plus the score and
 * one heap comparison per qualifying row, all paid before the first row is
 * returned; then the k rows out.  The same plan with Sort pays the same
 * scan and scores plus a projection, a tuple copy and log2(2k) comparisons
 * per row, so this path is cheaper whenever it applies (the rows out are
 * charged no cpu_tuple_cost: the scan part counted them already).
 */
static void
cost_topn_path(Path *path, PlannerInfo *root, RelOptInfo *rel,
			   const TopNQuery *topn, int workers)
{
	QualCost	score_cost;
	double		seq_page_cost_here;
	double		cpu_run;
	double		rows_in = rel->rows;
	double		rows_out;

	get_tablespace_page_costs(rel->reltablespace, NULL, &seq_page_cost_here);
	cost_qual_eval_node(&score_cost, (Node *) topn->score, root);

	cpu_run = (cpu_tuple_cost + rel->baserestrictcost.per_tuple) * rel->tuples +
		(score_cost.per_tuple + cpu_operator_cost) * rows_in;
	if (workers > 0)
	{
		double		divisor = parallel_divisor(workers);

		cpu_run /= divisor;
		rows_in = clamp_row_est(rows_in / divisor);
	}
	rows_out = Min(topn->limit, rows_in);

	path->rows = rows_out;
	path->startup_cost = rel->baserestrictcost.startup + score_cost.startup +
		path->pathtarget->cost.startup +
		seq_page_cost_here * rel->pages + cpu_run;
	path->total_cost = path->startup_cost + path->pathtarget->cost.per_tuple * rows_out;
}

static Plan *plan_topn_path(PlannerInfo *root, RelOptInfo *rel,
							CustomPath *best_path, List *tlist,
							List *clauses, List *custom_plans);

static const CustomPathMethods topn_path_methods = {
	.CustomName = FM_TOPN_NAME,
	.PlanCustomPath = plan_topn_path,
};

static CustomPath *
make_topn_path(PlannerInfo *root, RelOptInfo *rel, const TopNQuery *topn,
			   int workers)
{
	CustomPath *path = makeNode(CustomPath);

	path->path.pathtype = T_CustomScan;
	path->path.parent = rel;
	path->path.pathtarget = rel->reltarget;
	path->path.param_info = NULL;
	path->path.parallel_aware = workers > 0;
	path->path.parallel_safe = rel->consider_parallel &&
		is_parallel_safe(root, (Node *) topn->score);
	path->path.parallel_workers = workers;
	path->path.pathkeys = root->query_pathkeys;
	path->flags = CUSTOMPATH_SUPPORT_PROJECTION;
	path->custom_private = list_make4(topn->score,
									  makeInteger((int) topn->limit),
									  makeInteger(topn->descending),
									  makeInteger(topn->nulls_first));
	path->methods = &topn_path_methods;
	cost_topn_path(&path->path, root, rel, topn, workers);
	return path;
}

static void
add_topn_paths(PlannerInfo *root, RelOptInfo *rel, Index rti,
			   RangeTblEntry *rte)
{
	TopNQuery	topn;
	CustomPath *serial;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	if (!fmrec_enable_topn_scan || !find_topn_query(root, rel, rte, &topn))
		return;

	serial = make_topn_path(root, rel, &topn, 0);
	add_path(rel, &serial->path);

	/*
	 * Each worker keeps the k best of the blocks it read and returns them in
	 * order; Gather Merge above merges them and the LIMIT takes the first k.
	 */
	if (serial->path.parallel_safe && max_parallel_workers_per_gather > 0)
	{
		int			workers = compute_parallel_worker(rel, rel->pages, -1,
													  max_parallel_workers_per_gather);

		if (workers > 0)
			add_partial_path(rel, &make_topn_path(root, rel, &topn, workers)->path);
	}
}

/*
 * Quals in the order the planner would evaluate them for security: those
 * of row-level security policies (lower security_level) before the user's,
 * so a user's leaky function never sees a row a policy hides.
 */
static List *
quals_in_security_order(List *clauses)
{
	List	   *ordered = NIL;
	Index		level = 0;
	int			remaining = list_length(clauses);

	while (remaining > 0)
	{
		Index		next_level = UINT_MAX;
		ListCell   *lc;

		foreach(lc, clauses)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

			if (rinfo->security_level == level)
			{
				ordered = lappend(ordered, rinfo);
				remaining--;
			}
			else if (rinfo->security_level > level)
				next_level = Min(next_level, rinfo->security_level);
		}
		level = next_level;
	}
	return extract_actual_clauses(ordered, false);
}

static Plan *
plan_topn_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
			   List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *scan = makeNode(CustomScan);
	FuncExpr   *score = linitial(best_path->custom_private);

	scan->scan.plan.targetlist = tlist;
	scan->scan.plan.qual = quals_in_security_order(clauses);
	scan->scan.scanrelid = rel->relid;
	scan->flags = best_path->flags;
	scan->custom_plans = NIL;
	scan->custom_exprs = list_make4(linitial(score->args),
									lsecond(score->args),
									lthird(score->args),
									score);
	scan->custom_private = list_copy_tail(best_path->custom_private, 1);
	scan->custom_scan_tlist = NIL;
	scan->methods = &fm_topn_scan_methods;
	return &scan->scan.plan;
}

/*
 * fm_score's planner support function.  It changes nothing; the planner
 * calling it is what matters: that loads this module (and so installs the
 * hook above) before the planner builds the paths of a query that uses
 * fm_score, in a backend that has not called any fmrec function yet.
 */
PG_FUNCTION_INFO_V1(fm_score_support);
Datum
fm_score_support(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(NULL);
}

void
fm_topn_init(void)
{
	DefineCustomBoolVariable("fmrec.enable_topn_scan",
							 "Lets the planner answer ORDER BY fm_score(...) LIMIT k "
							 "over one table with the fmrec top-N scan.",
							 "The scan keeps the k best rows while it reads the table, "
							 "instead of projecting and sorting every row.",
							 &fmrec_enable_topn_scan, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&fm_topn_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = add_topn_paths;
}

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
 *
 * A partitioned or inherited table is answered partition by partition: the
 * hook runs for each leaf partition (and for an inheritance parent's own
 * rows) as a member of the parent's append relation, and each gets a top-N
 * path that returns that partition's k best in ORDER BY's order.  The
 * planner's own machinery does the rest: a Merge Append of those paths
 * (sorted inputs, so the LIMIT above it reads k rows in all), partition
 * pruning before any path is built and at run time, and Parallel Append of
 * the partial paths under Gather Merge.  The k best of the whole table are
 * among the k best of its partitions, so no row is lost; a partition that
 * cannot have the path (a foreign table) is sorted by PostgreSQL under the
 * same Merge Append.  The ORDER BY expression on a partition is the
 * equivalence class's child member, already translated to the partition's
 * own column numbers (partitions may order or drop columns differently).
 * Rows of equal score that straddle the LIMIT (or the OFFSET) may be other
 * rows of that score than a Sort over all partitions keeps: Merge Append
 * does not break ties by partition order.  SQL leaves that choice open, as
 * it does for PostgreSQL's own Merge Append of partition indexes.
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
#include "parser/parsetree.h"
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

/*
 * Does this relation see every row the LIMIT applies to?  The one table of
 * the query, or a leaf of it when it is a partitioned or inherited table:
 * a member of an append relation whose topmost parent is that table (not a
 * UNION ALL, whose branches may compute their columns).
 */
static bool
rel_feeds_the_limit(PlannerInfo *root, RelOptInfo *rel)
{
	Relids		table = rel->relids;

	if (IS_DUMMY_REL(rel) || !bms_is_empty(rel->lateral_relids))
		return false;
	if (rel->reloptkind == RELOPT_OTHER_MEMBER_REL)
	{
		int			top;

		if (!bms_get_singleton_member(rel->top_parent_relids, &top) ||
			planner_rt_fetch(top, root)->rtekind != RTE_RELATION)
			return false;
		table = rel->top_parent_relids;
	}
	else if (rel->reloptkind != RELOPT_BASEREL)
		return false;
	return bms_equal(table, root->all_baserels);
}

/*
 * The members of the ORDER BY's equivalence class that are computed on this
 * relation: for a partition, its child members (translated to its columns),
 * which PostgreSQL 18 keeps apart from ec_members.
 */
static List *
members_on_rel(EquivalenceClass *ec, RelOptInfo *rel)
{
	List	   *members = NIL;
	EquivalenceMember *member;

#if PG_VERSION_NUM >= 180000
	EquivalenceMemberIterator it;

	setup_eclass_member_iterator(&it, ec, rel->relids);
	while ((member = eclass_member_iterator_next(&it)) != NULL)
#else
	ListCell   *lc;

	foreach(lc, ec->ec_members)
#endif
	{
#if PG_VERSION_NUM < 180000
		member = lfirst(lc);
#endif
		if (!member->em_is_const && bms_equal(member->em_relids, rel->relids))
			members = lappend(members, member);
	}
	return members;
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
	if (!rel_feeds_the_limit(root, rel))
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
	foreach(lc, members_on_rel(key->pk_eclass, rel))
	{
		EquivalenceMember *member = lfirst(lc);
		FuncExpr   *call = (FuncExpr *) member->em_expr;

		if (!IsA(call, FuncExpr))
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

/*
 * What a partial path costs once it has delivered its rows in ORDER BY's
 * order: the path, the score of each row it returns (the scan/join target
 * computes it) and, unless the path is in that order already, a sort of its
 * rows (bounded by the LIMIT, which is generous to the path: a sort under
 * Gather Merge is not bounded).
 */
static Cost
cost_in_order(PlannerInfo *root, Path *path, const QualCost *score_cost, double limit)
{
	Path		sort;

	if (pathkeys_contained_in(root->query_pathkeys, path->pathkeys))
		return path->total_cost + score_cost->per_tuple * path->rows;
#if PG_VERSION_NUM >= 180000
	cost_sort(&sort, root, root->query_pathkeys, 0, path->total_cost,
			  path->rows, path->pathtarget->width, 0.0, work_mem, limit);
#else
	cost_sort(&sort, root, root->query_pathkeys, path->total_cost,
			  path->rows, path->pathtarget->width, 0.0, work_mem, limit);
#endif
	return sort.total_cost + score_cost->per_tuple * path->rows;
}

/*
 * A Parallel Append takes each partition's cheapest partial path by total
 * cost, which a partial sequential scan usually is: the scores it leaves to
 * the projection above and the sort of all its rows above the Append are
 * not counted in its own cost.  So on a partition, drop the partial paths
 * that cost more than the top-N scan once they deliver their rows scored
 * and in order, as the query needs them (an index scan on a selective
 * WHERE stays); the planner then appends the partial top-N scans, and
 * sorts k rows per process under Gather Merge instead of every row.
 */
static void
drop_partial_paths_beaten_by(PlannerInfo *root, RelOptInfo *rel,
							 CustomPath *topn, const TopNQuery *query)
{
	QualCost	score_cost;
	Cost		ours;
	ListCell   *lc;

	cost_qual_eval_node(&score_cost, (Node *) query->score, root);
	ours = cost_in_order(root, &topn->path, &score_cost, query->limit);
	foreach(lc, rel->partial_pathlist)
	{
		Path	   *path = lfirst(lc);

		if (path != &topn->path &&
			cost_in_order(root, path, &score_cost, query->limit) > ours)
			rel->partial_pathlist = foreach_delete_current(rel->partial_pathlist, lc);
	}
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
		{
			CustomPath *partial = make_topn_path(root, rel, &topn, workers);

			add_partial_path(rel, &partial->path);
			if (rel->reloptkind == RELOPT_OTHER_MEMBER_REL &&
				list_member_ptr(rel->partial_pathlist, partial))
				drop_partial_paths_beaten_by(root, rel, partial, &topn);
		}
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
							 "over one table or its partitions with the fmrec top-N scan.",
							 "The scan keeps the k best rows while it reads the table, "
							 "instead of projecting and sorting every row.",
							 &fmrec_enable_topn_scan, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&fm_topn_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = add_topn_paths;
}

/*
 * fm_topn_exec.c - runs the top-N scan (see fm_topn.h and fm_topn_plan.c).
 *
 * The first call reads the whole table (or, in a parallel plan, the blocks
 * this process is handed): each row that passes the quals is scored from
 * its embedding and bias columns, read in place from the buffer, and kept
 * (copied) only if it ranks among the k best so far.  Later calls return
 * the kept rows best first, projected.
 *
 * The order is exactly ORDER BY's on a float8 key: the scores are computed
 * as fm_score computes them (same kernel, same rounding), rows whose score
 * is NULL (a NULL query, embedding or bias) go first or last as NULLS
 * FIRST/LAST says, and NaN sorts above every number, as in float8
 * comparisons.  Rows of those two kinds are kept apart in scan order; the
 * numbers go through a bounded heap (core/topk.c) keyed so that "higher is
 * better" in either direction.
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/nodeCustom.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "optimizer/optimizer.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"

#include "core/topk.h"
#include "core/vec.h"
#include "fm_compat.h"
#include "fm_topn.h"
#include "fm_vector.h"

typedef enum RankClass
{
	RANK_NUMBER,
	RANK_NAN,
	RANK_NULL
} RankClass;

/* Rows whose score is not ordered by value (NULL or NaN), in scan order. */
typedef struct UnorderedRows
{
	HeapTuple  *rows;			/* allocated on first use, room for limit */
	int32		n;
} UnorderedRows;

typedef struct TopNScanState
{
	CustomScanState css;

	/* from the plan */
	int32		limit;
	bool		descending;
	bool		nulls_first;
	ExprState  *query_expr;
	AttrNumber	embedding_attno;
	AttrNumber	bias_attno;		/* > 0: the bias is this column ... */
	ExprState  *bias_expr;		/* ... else this expression of the row */
	AttrNumber	last_attno;		/* deform the row up to this column */
	bool		rows_need_slot; /* quals or the bias read the row in a slot */

	/* the current scan */
	TableScanDesc scan;
	HeapScanDesc heap_scan;		/* the same scan when it reads a heap page-wise */
	TupleTableSlot *heap_slot;	/* rows as the table AM returns them */
	MemoryContext scan_cxt;		/* query vector and kept rows */
	bool		ranked;
	const FmVector *query;		/* NULL: the query is NULL, so is every score */
	FmTopK		numbers;		/* ids are slots of number_rows */
	double		worst_key;		/* of numbers when full, else -inf */
	bool		numbers_full;
	HeapTuple  *number_rows;
	UnorderedRows nans;
	UnorderedRows nulls;
	HeapTuple  *result;			/* best first */
	int32		n_result;
	int32		next_result;
	uint64		rows_scored;
} TopNScanState;

/* ---------------------------------------------------------------------
 * Scoring and keeping rows
 * --------------------------------------------------------------------- */

/* The query vector, evaluated once per scan (it cannot depend on the row). */
static void
evaluate_query(TopNScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	bool		isnull;
	Datum		value;

	value = ExecEvalExprSwitchContext(state->query_expr, econtext, &isnull);
	if (isnull)
		state->query = NULL;
	else
	{
		MemoryContext old = MemoryContextSwitchTo(state->scan_cxt);

		/* a 4-byte header and aligned floats, whatever the input was */
		state->query = (const FmVector *) PG_DETOAST_DATUM_COPY(value);
		MemoryContextSwitchTo(old);
	}
	ResetExprContext(econtext);
}

/*
 * fm_score(query, embedding, bias) from the row's two values, computed as
 * fm_score computes it, and the class of the result.  Runs in per-row
 * memory (a toasted embedding is detoasted there).
 */
static RankClass
score_values(TopNScanState *state, Datum embedding, bool embedding_isnull,
			 Datum bias, bool bias_isnull, double *score)
{
	FmShortVectorBuf buf;
	const FmVector *vector;

	if (state->query == NULL || embedding_isnull || bias_isnull)
		return RANK_NULL;
	vector = fm_vector_inplace(embedding, &buf);
	fm_vector_check_same_dim(state->query, vector);
	*score = (double) DatumGetFloat4(bias) +
		(double) fm_vec_dot(state->query->x, vector->x, state->query->dim);
	return isnan(*score) ? RANK_NAN : RANK_NUMBER;
}

/* The score of the row in a slot (any table AM, any bias expression). */
static RankClass
score_slot(TopNScanState *state, TupleTableSlot *slot, double *score)
{
	Datum		bias;
	bool		bias_isnull;

	slot_getsomeattrs(slot, state->last_attno);
	if (state->bias_attno > 0)
	{
		bias = slot->tts_values[state->bias_attno - 1];
		bias_isnull = slot->tts_isnull[state->bias_attno - 1];
	}
	else
		bias = ExecEvalExpr(state->bias_expr, state->css.ss.ps.ps_ExprContext, &bias_isnull);
	return score_values(state, slot->tts_values[state->embedding_attno - 1],
						slot->tts_isnull[state->embedding_attno - 1],
						bias, bias_isnull, score);
}

/*
 * The score of a heap tuple, read without a slot (see rank_heap_tuples):
 * heap_getattr finds a column at its cached offset when the tuple has no
 * NULL, instead of deforming every column before it.  The bias is a column
 * or an expression that reads no column.
 */
static RankClass
score_heap_tuple(TopNScanState *state, HeapTuple tuple, TupleDesc desc, double *score)
{
	Datum		embedding;
	bool		embedding_isnull;
	Datum		bias;
	bool		bias_isnull;

	embedding = heap_getattr(tuple, state->embedding_attno, desc, &embedding_isnull);
	if (state->bias_attno > 0)
		bias = heap_getattr(tuple, state->bias_attno, desc, &bias_isnull);
	else
		bias = ExecEvalExpr(state->bias_expr, state->css.ss.ps.ps_ExprContext, &bias_isnull);
	return score_values(state, embedding, embedding_isnull, bias, bias_isnull, score);
}

/* A row being ranked: in a slot, or a heap tuple read without one. */
typedef struct ScannedRow
{
	TupleTableSlot *slot;
	HeapTuple	tuple;
} ScannedRow;

/* Put a copy of the row in *place, freeing the row it replaces. */
static void
keep_copy(HeapTuple *place, const ScannedRow *row, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	if (*place != NULL)
		heap_freetuple(*place);
	*place = row->tuple ? heap_copytuple(row->tuple) : ExecCopySlotHeapTuple(row->slot);
	MemoryContextSwitchTo(old);
}

/*
 * A number enters the heap of the best ones.  The heap ranks higher keys
 * first, so an ascending order ranks by -score.  Each heap entry's id is
 * the slot of number_rows holding its row; a newcomer takes the slot of the
 * entry it displaces.
 */
static void
keep_if_best(TopNScanState *state, const ScannedRow *row, double score)
{
	double		key = state->descending ? score : -score;
	const FmScored *worst = fm_topk_worst(&state->numbers);
	int32		place = worst ? (int32) worst->id : state->numbers.n;

	if (fm_topk_push(&state->numbers, place, key))
	{
		keep_copy(&state->number_rows[place], row, state->scan_cxt);
		state->numbers_full = state->numbers.n == state->numbers.k;
		state->worst_key = fm_topk_threshold(&state->numbers);
	}
}

/*
 * A row that cannot enter the k best: most of them, once k are kept.  Saves
 * those rows a call into the heap.  (A score equal to the worst kept one
 * does not enter either: the row kept first stays.)
 */
static inline bool
cannot_enter(const TopNScanState *state, RankClass rank, double score)
{
	return rank == RANK_NUMBER && state->numbers_full &&
		(state->descending ? score : -score) <= state->worst_key;
}

/* NULL and NaN scores tie among themselves: the first limit rows will do. */
static void
keep_if_room(TopNScanState *state, UnorderedRows *kept, const ScannedRow *row)
{
	if (kept->n >= state->limit)
		return;
	if (kept->rows == NULL)
		kept->rows = MemoryContextAllocZero(state->scan_cxt,
											sizeof(HeapTuple) * state->limit);
	keep_copy(&kept->rows[kept->n++], row, state->scan_cxt);
}

static void
keep_row(TopNScanState *state, const ScannedRow *row, RankClass rank, double score)
{
	switch (rank)
	{
		case RANK_NUMBER:
			keep_if_best(state, row, score);
			break;
		case RANK_NAN:
			keep_if_room(state, &state->nans, row);
			break;
		case RANK_NULL:
			keep_if_room(state, &state->nulls, row);
			break;
	}
}

static void
append_rows(TopNScanState *state, HeapTuple *rows, int32 n)
{
	for (int32 i = 0; i < n && state->n_result < state->limit; i++)
		state->result[state->n_result++] = rows[i];
}

/*
 * ORDER BY's order: NULLS FIRST puts NULL before everything; NaN is the
 * largest float8, so it leads a descending order and ends an ascending one.
 */
static void
assemble_result(TopNScanState *state)
{
	int32		n_numbers = fm_topk_sort(&state->numbers);

	state->result = MemoryContextAlloc(state->scan_cxt, sizeof(HeapTuple) * state->limit);
	state->n_result = 0;
	if (state->nulls_first)
		append_rows(state, state->nulls.rows, state->nulls.n);
	if (state->descending)
		append_rows(state, state->nans.rows, state->nans.n);
	for (int32 i = 0; i < n_numbers && state->n_result < state->limit; i++)
		state->result[state->n_result++] = state->number_rows[state->numbers.items[i].id];
	if (!state->descending)
		append_rows(state, state->nans.rows, state->nans.n);
	if (!state->nulls_first)
		append_rows(state, state->nulls.rows, state->nulls.n);
	state->next_result = 0;
}

/*
 * Start loading [p, p + len) into the cache, from its end: the scan reads a
 * page's tuples from the highest address down (87 against 101 ms at 1M x
 * 120 for the same lines asked for upwards).  Always inlined, and so must
 * be every function whose only effect is to call it: GCC deems a function
 * whose only effect is __builtin_prefetch pure, and deletes the calls to
 * it (the object code then has no prefetch instruction at all).
 */
static pg_attribute_always_inline void
prefetch_range(const char *p, Size len)
{
	for (Size off = len; off > 0; off -= Min(off, 64))
		__builtin_prefetch(p + off - 1);
}

/* The heap scan behind a table scan, when prefetch_page_if_new can read it. */
static HeapScanDesc
heap_scan_in_page_mode(TableScanDesc scan, Relation rel)
{
	if (rel->rd_tableam != GetHeapamTableAmRoutine() ||
		!(scan->rs_flags & SO_ALLOW_PAGEMODE))
		return NULL;
	return (HeapScanDesc) scan;
}

/*
 * Scoring is bound by loading the embeddings, and the hardware prefetchers
 * do not see them coming: a heap page is filled from its end, so the next
 * tuple lies just below the current one (on an all-visible page nothing
 * has touched the tuples yet).  When a scan in page mode starts a page, ask
 * for all of its tuples at once; they load while the first ones are scored.
 * 1M x 120, medians of 7: 98-105 ms (87 ms in the order of the scan, see
 * prefetch_range), against 110 ms when each row asks for the row after
 * next and 220 ms without prefetching.  Always inlined, as
 * prefetch_range is.
 */
static pg_attribute_always_inline void
prefetch_page_if_new(HeapScanDesc hscan)
{
	PageHeader	page;

	if (hscan == NULL || hscan->rs_cindex != 0)
		return;
	page = (PageHeader) BufferGetPage(hscan->rs_cbuf);
	if (page->pd_upper < page->pd_special)
		prefetch_range((const char *) page + page->pd_upper,
					   page->pd_special - page->pd_upper);
}

/* The general loop: rows in the table AM's slot, quals, any bias. */
static void
rank_slot_rows(TopNScanState *state)
{
	ScanState  *ss = &state->css.ss;
	ExprContext *econtext = ss->ps.ps_ExprContext;
	ExprState  *qual = ss->ps.qual;
	ScannedRow	row = {.slot = state->heap_slot};

	while (table_scan_getnextslot(state->scan, ForwardScanDirection, row.slot))
	{
		double		score = 0;
		RankClass	rank;

		CHECK_FOR_INTERRUPTS();
		prefetch_page_if_new(state->heap_scan);
		ResetExprContext(econtext);
		econtext->ecxt_scantuple = row.slot;
		if (qual != NULL && !ExecQual(qual, econtext))
		{
			InstrCountFiltered1(ss, 1);
			continue;
		}
		rank = score_slot(state, row.slot, &score);
		state->rows_scored++;
		if (!cannot_enter(state, rank, score))
			keep_row(state, &row, rank, score);
	}
	ExecClearTuple(row.slot);	/* drop the pin on the last buffer */
}

/*
 * The serving query's loop: a heap table, no qual, the bias a column or a
 * constant.  Reading heap tuples without a slot saves storing each one in
 * a slot and deforming every column before the embedding.
 */
static void
rank_heap_tuples(TopNScanState *state)
{
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	TupleDesc	desc = RelationGetDescr(state->css.ss.ss_currentRelation);
	ScannedRow	row = {0};

	while ((row.tuple = heap_getnext(state->scan, ForwardScanDirection)) != NULL)
	{
		double		score = 0;
		RankClass	rank;

		CHECK_FOR_INTERRUPTS();
		prefetch_page_if_new(state->heap_scan);
		ResetExprContext(econtext);
		rank = score_heap_tuple(state, row.tuple, desc, &score);
		state->rows_scored++;
		if (!cannot_enter(state, rank, score))
			keep_row(state, &row, rank, score);
	}
}

/* Read every row (of this process's share) and keep the best. */
static void
rank_table(TopNScanState *state)
{
	ScanState  *ss = &state->css.ss;
	EState	   *estate = ss->ps.state;
	ExprContext *econtext = ss->ps.ps_ExprContext;
	MemoryContext old;

	if (state->scan == NULL)	/* a parallel plan began it already */
		state->scan = FM_TABLE_BEGINSCAN(ss->ss_currentRelation, estate->es_snapshot, 0, NULL);
	state->heap_scan = heap_scan_in_page_mode(state->scan, ss->ss_currentRelation);
	evaluate_query(state);
	fm_topk_init(&state->numbers, state->limit,
				 MemoryContextAlloc(state->scan_cxt, sizeof(FmScored) * state->limit));
	state->number_rows = MemoryContextAllocZero(state->scan_cxt, sizeof(HeapTuple) * state->limit);
	state->nans.rows = state->nulls.rows = NULL;
	state->nans.n = state->nulls.n = 0;
	state->numbers_full = state->limit == 0;
	state->worst_key = fm_topk_threshold(&state->numbers);
	state->rows_scored = 0;

	old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	if (state->heap_scan != NULL && !state->rows_need_slot)
		rank_heap_tuples(state);
	else
		rank_slot_rows(state);
	MemoryContextSwitchTo(old);
	ResetExprContext(econtext);

	assemble_result(state);
	state->ranked = true;
}

/* ---------------------------------------------------------------------
 * Executor callbacks
 * --------------------------------------------------------------------- */

static void
begin_topn_scan(CustomScanState *node, EState *estate, int eflags)
{
	TopNScanState *state = (TopNScanState *) node;
	CustomScan *plan = (CustomScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	Var		   *embedding = list_nth(plan->custom_exprs, FM_TOPN_EXPR_EMBEDDING);
	Expr	   *bias = list_nth(plan->custom_exprs, FM_TOPN_EXPR_BIAS);

	state->limit = intVal(list_nth(plan->custom_private, FM_TOPN_PRIVATE_LIMIT));
	state->descending = intVal(list_nth(plan->custom_private, FM_TOPN_PRIVATE_DESCENDING)) != 0;
	state->nulls_first = intVal(list_nth(plan->custom_private, FM_TOPN_PRIVATE_NULLS_FIRST)) != 0;
	/*
	 * ExecInitCustomScan gave the node a virtual scan slot and compiled the
	 * projection and the quals for it.  The rows returned are kept heap
	 * tuples: a heap tuple slot holds them as they are, system columns
	 * (ctid, tableoid) included, so project from one of those.  The quals
	 * (and the bias) are evaluated on the rows the table AM returns, in its
	 * own kind of slot, which must be deformed before it is read: compile
	 * them again for that slot.
	 */
	FM_EXEC_INIT_SCAN_TUPLE_SLOT(estate, &node->ss, RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecAssignScanProjectionInfoWithVarno(&node->ss, plan->scan.scanrelid);
	node->ss.ps.scanops = table_slot_callbacks(rel);
	node->ss.ps.scanopsfixed = true;
	node->ss.ps.scanopsset = true;
	node->ss.ps.qual = ExecInitQual(plan->scan.plan.qual, &node->ss.ps);
	state->heap_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), node->ss.ps.scanops);

	state->query_expr = ExecInitExpr(list_nth(plan->custom_exprs, FM_TOPN_EXPR_QUERY), &node->ss.ps);
	state->embedding_attno = embedding->varattno;
	state->last_attno = embedding->varattno;
	if (IsA(bias, Var) && ((Var *) bias)->varno == plan->scan.scanrelid &&
		((Var *) bias)->varattno > 0)
	{
		state->bias_attno = ((Var *) bias)->varattno;
		state->last_attno = Max(state->last_attno, state->bias_attno);
	}
	else
		state->bias_expr = ExecInitExpr(bias, &node->ss.ps);
	state->rows_need_slot = node->ss.ps.qual != NULL ||
		(state->bias_expr != NULL && contain_var_clause((Node *) bias));

	state->scan_cxt = AllocSetContextCreate(CurrentMemoryContext,
											"fmrec top-N rows",
											ALLOCSET_DEFAULT_SIZES);
}

static TupleTableSlot *
exec_topn_scan(CustomScanState *node)
{
	TopNScanState *state = (TopNScanState *) node;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	ProjectionInfo *projection = node->ss.ps.ps_ProjInfo;

	if (!state->ranked)
		rank_table(state);
	if (state->next_result >= state->n_result)
		return ExecClearTuple(projection ? projection->pi_state.resultslot : slot);

	ExecStoreHeapTuple(state->result[state->next_result++], slot, false);
	if (projection == NULL)
		return slot;
	ResetExprContext(econtext);
	econtext->ecxt_scantuple = slot;
	return ExecProject(projection);
}

static void
end_topn_scan(CustomScanState *node)
{
	TopNScanState *state = (TopNScanState *) node;

	if (state->scan != NULL)
		table_endscan(state->scan);
	state->scan = NULL;
}

static void
rescan_topn_scan(CustomScanState *node)
{
	TopNScanState *state = (TopNScanState *) node;

	ExecClearTuple(node->ss.ss_ScanTupleSlot);	/* it points into a kept row */
	MemoryContextReset(state->scan_cxt);
	state->ranked = false;
	state->result = NULL;
	state->n_result = state->next_result = 0;
	if (state->scan != NULL)
		table_rescan(state->scan, NULL);
	ExecScanReScan(&node->ss);
}

/* Parallel plans: the processes share one block allocator, as Parallel Seq Scan. */

static Size
estimate_topn_dsm(CustomScanState *node, ParallelContext *pcxt)
{
	return table_parallelscan_estimate(node->ss.ss_currentRelation,
									   node->ss.ps.state->es_snapshot);
}

static void
initialize_topn_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	TopNScanState *state = (TopNScanState *) node;
	Relation	rel = node->ss.ss_currentRelation;

	table_parallelscan_initialize(rel, (ParallelTableScanDesc) coordinate,
								  node->ss.ps.state->es_snapshot);
	state->scan = FM_TABLE_BEGINSCAN_PARALLEL(rel, (ParallelTableScanDesc) coordinate);
}

static void
reinitialize_topn_dsm(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	table_parallelscan_reinitialize(node->ss.ss_currentRelation,
									(ParallelTableScanDesc) coordinate);
}

static void
initialize_topn_worker(CustomScanState *node, shm_toc *toc, void *coordinate)
{
	TopNScanState *state = (TopNScanState *) node;

	state->scan = FM_TABLE_BEGINSCAN_PARALLEL(node->ss.ss_currentRelation,
										      (ParallelTableScanDesc) coordinate);
}

/*
 * EXPLAIN: the ranking and the number of rows kept, like a Sort's key and
 * method; with ANALYZE, how many rows were scored (by this process, in a
 * parallel plan).
 */
static void
explain_topn_scan(CustomScanState *node, List *ancestors, ExplainState *es)
{
	TopNScanState *state = (TopNScanState *) node;
	CustomScan *plan = (CustomScan *) node->ss.ps.plan;
	List	   *context = set_deparse_context_plan(es->deparse_cxt, &plan->scan.plan, ancestors);
	char	   *score = deparse_expression(list_nth(plan->custom_exprs, FM_TOPN_EXPR_SCORE),
										   context, list_length(es->rtable) > 1 || es->verbose,
										   false);
	const char *order;

	if (state->descending)
		order = state->nulls_first ? " DESC" : " DESC NULLS LAST";
	else
		order = state->nulls_first ? " NULLS FIRST" : "";
	ExplainPropertyText("Ranked By", psprintf("%s%s", score, order), es);
	ExplainPropertyInteger("Rows Kept", NULL, state->limit, es);
	if (es->analyze)
		ExplainPropertyInteger("Rows Scored", NULL, (int64) state->rows_scored, es);
}

static const CustomExecMethods topn_exec_methods = {
	.CustomName = FM_TOPN_NAME,
	.BeginCustomScan = begin_topn_scan,
	.ExecCustomScan = exec_topn_scan,
	.EndCustomScan = end_topn_scan,
	.ReScanCustomScan = rescan_topn_scan,
	.EstimateDSMCustomScan = estimate_topn_dsm,
	.InitializeDSMCustomScan = initialize_topn_dsm,
	.ReInitializeDSMCustomScan = reinitialize_topn_dsm,
	.InitializeWorkerCustomScan = initialize_topn_worker,
	.ExplainCustomScan = explain_topn_scan,
};

static Node *
create_topn_scan_state(CustomScan *plan)
{
	TopNScanState *state = palloc0(sizeof(TopNScanState));

	NodeSetTag(state, T_CustomScanState);
	state->css.flags = plan->flags;
	state->css.methods = &topn_exec_methods;
	return (Node *) state;
}

const CustomScanMethods fm_topn_scan_methods = {
	.CustomName = FM_TOPN_NAME,
	.CreateCustomScanState = create_topn_scan_state,
};

/*
 * fm_topn.h - the top-N scan: "ORDER BY fm_score(q, embedding, bias) DESC
 * LIMIT k" over one table (or each partition of one), answered by one pass
 * that keeps the k best rows in a bounded heap instead of a sequential scan,
 * a projection of every row and a top-N sort.
 *
 * fm_topn_plan.c finds the query shape and offers the planner a CustomPath
 * (serial, and partial for parallel plans under Gather Merge), on a
 * partitioned or inherited table one per partition, which the planner
 * merges under Merge Append (or Parallel Append, Sort and Gather Merge);
 * fm_topn_exec.c runs the CustomScan.  This header is the contract between
 * the two: what the plan node carries.
 */
#ifndef FMREC_FM_TOPN_H
#define FMREC_FM_TOPN_H

#include "postgres.h"

#include "nodes/extensible.h"

/* Name of the node in EXPLAIN and in serialised plans. */
#define FM_TOPN_NAME "FmTopNScan"

/*
 * CustomScan.custom_exprs, in this order: the query vector (no Var of the
 * scanned table, evaluated once per scan), the embedding (a Var of the
 * table), the bias (a Var, a Const or an expression of the row) and the
 * whole fm_score call (for EXPLAIN).
 */
enum
{
	FM_TOPN_EXPR_QUERY,
	FM_TOPN_EXPR_EMBEDDING,
	FM_TOPN_EXPR_BIAS,
	FM_TOPN_EXPR_SCORE
};

/* CustomScan.custom_private, a list of Integer nodes in this order. */
enum
{
	FM_TOPN_PRIVATE_LIMIT,		/* rows the scan returns at most */
	FM_TOPN_PRIVATE_DESCENDING, /* 1: best (highest) score first */
	FM_TOPN_PRIVATE_NULLS_FIRST /* 1: NULL scores before all others */
};

extern bool fmrec_enable_topn_scan;

/* The executor side: creates the scan state of a plan node. */
extern const CustomScanMethods fm_topn_scan_methods;

/* Settings, planner hook and node registration; called from _PG_init. */
extern void fm_topn_init(void);

#endif							/* FMREC_FM_TOPN_H */

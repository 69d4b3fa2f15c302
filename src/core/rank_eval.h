/*
 * rank_eval.h - ranking quality of a model over many users: the protocol of
 * fm_evaluate, shared with training's per-epoch validation metric.
 *
 * Every user is given a query vector; each catalogue item i scores
 *
 *     score(i) = (double) bias[i] + (double) fm_vec_dot(query, E[i], dim)
 *
 * exactly what fm_score(query, embedding, bias) computes in SQL.  A user's
 * candidates are all catalogue items except those excluded (rated in
 * training); the k best are kept, higher score first and on equal scores the
 * smaller id first, as "ORDER BY score DESC, item" (NaN scores are never
 * recommended).  Precision, recall and NDCG@k (binary relevance, see
 * metrics.h) of that list against the user's relevant items are averaged
 * over the users that have at least one relevant item; the others are
 * skipped (they are not counted).
 *
 * Costs O(n_items * dim + n_items * log k) per user and allocates
 * O(k + max relevant) once.
 */
#ifndef FM_RANK_EVAL_H
#define FM_RANK_EVAL_H

#include "fm_core.h"

/* The catalogue: item i has embedding E[i * dim .. (i + 1) * dim), a bias and an id. */
typedef struct FmRankItems
{
	int32_t		n_items;
	int32_t		dim;
	const float *embeddings;	/* n_items x dim, row-major */
	const float *bias;			/* n_items */
	const int64_t *ids;			/* n_items, distinct: ties go to the smaller */
} FmRankItems;

/* One user to evaluate.  The arrays are the caller's and are not modified. */
typedef struct FmRankUser
{
	const float *query;			/* dim floats; NULL means the zero vector (bias only) */
	const int32_t *excluded;	/* item indices never recommended (seen in
								 * training), sorted ascending; repeats allowed */
	int32_t		n_excluded;
	const int32_t *relevant;	/* item indices the user liked in the test
								 * data, distinct, any order; an excluded
								 * one stays relevant but can never be hit */
	int32_t		n_relevant;
	int32_t		n_relevant_outside; /* relevant items that are not in the
									 * catalogue: never hit, but they count
									 * in recall's denominator and NDCG's
									 * ideal list */
} FmRankUser;

/* Means over the evaluated users; NaN when users == 0. */
typedef struct FmRankQuality
{
	double		precision_at_k;
	double		recall_at_k;
	double		ndcg_at_k;
	int64_t		users;			/* users with at least one relevant item */
} FmRankQuality;

/*
 * Called once per user before it is ranked (the server's glue runs
 * CHECK_FOR_INTERRUPTS there; it may not return).  May be NULL.
 */
typedef void (*FmRankTick) (void *arg);

/*
 * Rank every user's candidates and average the metrics.  k >= 1 (k larger
 * than the catalogue is allowed: precision still divides by k, as in
 * metrics.h).  Scratch memory comes from `a`.
 */
extern FmRankQuality fm_rank_evaluate(const FmRankItems *items,
									  const FmRankUser *users, int64_t n_users,
									  int32_t k, FmRankTick tick, void *tick_arg,
									  const FmAllocator *a);

#endif							/* FM_RANK_EVAL_H */

/*
 * topk.h - keep the k best (id, score) pairs of a stream.
 *
 * A bounded binary heap with the worst kept pair at the root, so a pair
 * that does not beat it costs one comparison: scoring all items for a user
 * is O(n log k).  "Better" means a higher score, and on equal scores the
 * smaller id, so the result never depends on the order of the stream.
 * NaN scores are never kept.
 */
#ifndef FM_TOPK_H
#define FM_TOPK_H

#include "fm_core.h"

typedef struct FmScored
{
	int64_t		id;
	double		score;
} FmScored;

typedef struct FmTopK
{
	FmScored   *items;			/* k slots: a heap until fm_topk_sort() */
	int32_t		k;
	int32_t		n;				/* pairs kept so far, <= k */
} FmTopK;

/* Use caller-provided storage of k entries (k may be 0). */
extern void fm_topk_init(FmTopK *t, int32_t k, FmScored *storage);

/* Take the storage from an allocator. */
extern void fm_topk_alloc(FmTopK *t, int32_t k, const FmAllocator *a);

/* Offer a pair; returns true when it is kept (for now). */
extern bool fm_topk_push(FmTopK *t, int64_t id, double score);

/*
 * The pair a successful push would displace: the worst kept one when k
 * pairs are kept, NULL while there is room.  Callers that keep a payload
 * per pair (a row) reuse the displaced pair's payload slot.
 */
extern const FmScored *fm_topk_worst(const FmTopK *t);

/*
 * A pair scoring below this is never kept (one scoring exactly this is kept
 * only if its id is smaller than the worst kept one's): -inf while fewer
 * than k pairs are kept, +inf when k is 0.  Lets callers skip scoring work.
 */
extern double fm_topk_threshold(const FmTopK *t);

/*
 * Sort the kept pairs best first into t->items[0 .. n) and return n.  The
 * heap is consumed: push no more pairs afterwards (init again to reuse).
 */
extern int32_t fm_topk_sort(FmTopK *t);

#endif							/* FM_TOPK_H */

/*
 * fm_ivf_scan.c - ORDER BY y <#> p through an fm_ivf index.
 *
 * The first fetch picks the fmrec.ivf_probes lists whose centroids c have
 * the largest inner product p.c and keeps the best entries of those lists
 * by the exact p <#> y in a bounded heap (one comparison for an entry that
 * does not make it), in batches: see fill_batch.  The values are those the
 * operator computes (same kernel, same floats), so the executor needs no
 * recheck.
 *
 * From the private copy of the lists, entries are first scored from their
 * 8-bit codes (a quarter of the bytes) with an error bound e per list: an
 * entry whose best possible distance (approximate - e) is beyond the
 * batch_size-th best worst possible one cannot be in the batch.  The few
 * that can are rescored from the floats (scan_quantised).  The result is
 * exactly that of scoring every float.
 *
 * Only MVCC scans are supported in practice (ORDER BY): entries are copied
 * out of the pages before they are returned, with no pin held, which is
 * safe because a heap TID recycled by VACUUM in the meantime holds a tuple
 * invisible to the scan's snapshot.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/relscan.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "core/sq8.h"
#include "core/topk.h"
#include "core/vec.h"
#include "fm_ivf.h"
#include "fm_vector.h"

typedef struct Candidate
{
	ItemPointerData tid;
	double		distance;
} Candidate;

#define FM_IVF_FIRST_BATCH	64

typedef struct FmIvfScan
{
	MemoryContext cxt;			/* reset by rescan */
	bool		started;
	bool		null_query;
	bool		exhausted;		/* the current batch is the last one */
	const FmVector *p;			/* NULL for a NULL query */
	int			nlists;
	int		   *lists;			/* the probed lists */
	int			batch_size;
	Candidate  *batch;			/* best first */
	int			nbatch;
	int			next;
	bool		have_last;
	Candidate	last;			/* last returned: the next batch starts after it */
	/* scratch of scan_quantised, allocated on first use */
	float	   *w;				/* dim */
	float	   *approx;			/* scores of the longest list */
	Size		approx_capacity;
	struct Maybe *maybe;
	int64		maybe_capacity;
} FmIvfScan;

/*
 * An entry that may belong to the batch: where it is in the copy and the
 * best score it can have (approximate + e), or its exact score when known.
 */
typedef struct Maybe
{
	int32		list;
	bool		exact;			/* best_score is the exact score */
	int64		index;
	double		best_score;
} Maybe;

/*
 * The total order of the results: distance, then heap TID.  A NaN distance
 * (a finite query and vector whose products overflow into inf - inf) comes
 * after every number, as float8 sorts it in a sequential scan.
 */
static inline bool
before(const Candidate *a, const Candidate *b)
{
	if (a->distance != b->distance)
	{
		if (isnan(a->distance) || isnan(b->distance))
		{
			if (isnan(a->distance) != isnan(b->distance))
				return isnan(b->distance);
		}
		else
			return a->distance < b->distance;
	}
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

/* Bounded heap with the worst kept candidate at the root. */
static void
sift_down(Candidate *h, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1;
		int			m = i;
		Candidate	t;

		if (l < n && before(&h[m], &h[l]))
			m = l;
		if (l + 1 < n && before(&h[m], &h[l + 1]))
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void
sift_up(Candidate *h, int i)
{
	while (i > 0)
	{
		int			parent = (i - 1) / 2;
		Candidate	t;

		if (!before(&h[parent], &h[i]))
			return;
		t = h[i];
		h[i] = h[parent];
		h[parent] = t;
		i = parent;
	}
}

/* Keeps the batch_size best candidates after so->last. */
static inline void
offer(FmIvfScan *so, const Candidate *c)
{
	if (so->have_last && !before(&so->last, c))
		return;					/* returned already */
	if (so->nbatch < so->batch_size)
	{
		so->batch[so->nbatch] = *c;
		sift_up(so->batch, so->nbatch++);
	}
	else if (before(c, &so->batch[0]))
	{
		so->batch[0] = *c;
		sift_down(so->batch, so->nbatch, 0);
	}
}

/* Offers one entry of a list read from the pages: its distance to p (0 for a NULL query). */
static void
offer_page_entry(const FmIvfEntry *e, void *arg)
{
	FmIvfScan  *so = arg;
	const FmVector *p = so->p;
	Candidate	c;

	c.tid = e->tid;
	c.distance = 0.0;
	if (p != NULL)
	{
		if (e->dim != p->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("fm_vector dimensions differ: %d and %d", p->dim, (int) e->dim)));
		c.distance = -(double) fm_vec_dot(p->x, e->y, p->dim);
	}
	offer(so, &c);
}

/* Offers every entry of a list from the private copy, scored from the floats. */
static void
scan_copy(FmIvfScan *so, const FmIvfLists *copy, int list)
{
	const ItemPointerData *tids = copy->tids[list];
	const float4 *y = copy->y[list];
	int64		n = copy->count[list];
	int32		dim = copy->dim;

	for (int64 i = 0; i < n; i++)
	{
		Candidate	c;

		c.tid = tids[i];
		c.distance = so->p == NULL ? 0.0 : -(double) fm_vec_dot(so->p->x, y + (Size) i * dim, dim);
		offer(so, &c);
	}
}

static Candidate
exact_candidate(const FmIvfScan *so, const FmIvfLists *copy, int32 list, int64 index)
{
	Candidate	c;

	c.tid = copy->tids[list][index];
	c.distance = -(double) fm_vec_dot(so->p->x, copy->y[list] + (Size) index * copy->dim, copy->dim);
	return c;
}

/* Room for one more Maybe: drops those the threshold excludes, or grows. */
static void
make_room_for_maybe(FmIvfScan *so, int64 *nmaybe, double threshold)
{
	int64		kept = 0;

	if (*nmaybe < so->maybe_capacity)
		return;
	for (int64 i = 0; i < *nmaybe; i++)
		if (so->maybe[i].best_score >= threshold)
			so->maybe[kept++] = so->maybe[i];
	*nmaybe = kept;
	if (kept > so->maybe_capacity / 2)
	{
		so->maybe_capacity *= 2;
		so->maybe = repalloc_huge(so->maybe, sizeof(Maybe) * so->maybe_capacity);
	}
}

/*
 * Offers the best entries of the probed lists from the private copy, in two
 * passes.  Scores, not distances, below: higher is better, distance = -score.
 *
 * Pass 1 scores every entry from its codes, approximately, within e of its
 * exact score s: s lies in [a - e, a + e].  `bounds` keeps the batch_size
 * largest worst cases a - e; its smallest, once full, is a threshold: at
 * least batch_size entries are sure to score that, so an entry whose best
 * case a + e is below cannot be in the batch.  The others are remembered.
 * With a previous batch returned, an entry whose worst case beats the last
 * one returned was returned already; one whose interval contains it is
 * scored exactly right away to decide.
 *
 * Pass 2 rescores the remembered entries still above the final threshold
 * from the floats and offers them: a few more than batch_size, typically.
 */
static void
scan_quantised(FmIvfScan *so, const FmIvfLists *copy)
{
	int32		dim = copy->dim;
	FmTopK		bounds;
	int64		nmaybe = 0;
	double		threshold;

	if (so->w == NULL)
	{
		so->w = palloc(sizeof(float) * dim);
		so->maybe_capacity = 4096;
		so->maybe = palloc(sizeof(Maybe) * so->maybe_capacity);
	}
	/* the copy may have been rebuilt since the last batch */
	if (so->approx_capacity < fm_sq8_padded(copy->max_count))
	{
		so->approx_capacity = fm_sq8_padded(copy->max_count);
		so->approx = palloc_extended(sizeof(float) * so->approx_capacity, MCXT_ALLOC_HUGE);
	}
	fm_topk_init(&bounds, so->batch_size, palloc(sizeof(FmScored) * so->batch_size));
	for (int l = 0; l < so->nlists; l++)
	{
		int32		j = so->lists[l];
		int64		n = copy->count[j];
		float		base;
		double		e = fm_sq8_prepare(so->p->x, dim, copy->lo[j], copy->step[j], so->w, &base);

		if (!isfinite(e))
		{
			/*
			 * Products near or beyond the float range: offer this list's
			 * exact scores directly.  The threshold stays valid: it only
			 * counts entries of the other lists.
			 */
			scan_copy(so, copy, j);
			continue;
		}
		fm_sq8_scores(so->w, dim, copy->codes[j], n, base, so->approx);
		threshold = fm_topk_threshold(&bounds);
		for (int64 i = 0; i < n; i++)
		{
			double		a = so->approx[i];
			Maybe		m = {j, false, i, a + e};

			if (a + e < threshold)
				continue;
			if (so->have_last && -(a - e) < so->last.distance)
				continue;		/* returned already */
			if (so->have_last && -(a + e) <= so->last.distance)
			{
				Candidate	c = exact_candidate(so, copy, j, i);

				if (!before(&so->last, &c))
					continue;	/* returned already */
				m.best_score = -c.distance;
				m.exact = true;
			}
			/* the id only breaks ties between equal bounds: any will do */
			fm_topk_push(&bounds, i, m.exact ? m.best_score : a - e);
			threshold = fm_topk_threshold(&bounds);
			make_room_for_maybe(so, &nmaybe, threshold);
			so->maybe[nmaybe++] = m;
		}
		CHECK_FOR_INTERRUPTS();
	}
	threshold = fm_topk_threshold(&bounds);
	for (int64 i = 0; i < nmaybe; i++)
	{
		const Maybe *m = &so->maybe[i];
		Candidate	c;

		if (m->best_score < threshold)
			continue;
		if (m->exact)
		{
			c.tid = copy->tids[m->list][m->index];
			c.distance = -m->best_score;
		}
		else
			c = exact_candidate(so, copy, m->list, m->index);
		offer(so, &c);
	}
	pfree(bounds.items);
}

/*
 * The next batch: the batch_size best entries of the probed lists after the
 * last one returned, sorted.  A LIMIT 10 query needs one batch; a query
 * that wants more (a filter rejects rows) rescans with a 4 times larger one.
 * The lists come from the private copy when it is current (looked up again
 * for every batch: another scan may have replaced it), else from the pages.
 */
static void
fill_batch(IndexScanDesc scan)
{
	FmIvfScan  *so = (FmIvfScan *) scan->opaque;
	const FmIvfCache *cache = fm_ivf_cache(scan->indexRelation);
	const FmIvfLists *copy = fm_ivf_lists(scan->indexRelation, cache);

	so->nbatch = 0;
	so->next = 0;
	if (copy != NULL && so->p != NULL)
		scan_quantised(so, copy);
	else
		for (int i = 0; i < so->nlists; i++)
		{
			if (copy != NULL)
				scan_copy(so, copy, so->lists[i]);
			else
				fm_ivf_walk_list(scan->indexRelation, cache->first[so->lists[i]], offer_page_entry, so);
		}
	so->exhausted = so->nbatch < so->batch_size;
	/* heapsort: worst to the end, so the array ends up best first */
	for (int end = so->nbatch - 1; end > 0; end--)
	{
		Candidate	t = so->batch[0];

		so->batch[0] = so->batch[end];
		so->batch[end] = t;
		sift_down(so->batch, end, 0);
	}
}

/* The lists to read: the best probes by p.c (the first ones for a NULL query). */
static int
choose_lists(const FmIvfCache *cache, const FmVector *p, int probes, int *lists)
{
	FmTopK		best;
	FmScored   *storage = palloc(sizeof(FmScored) * probes);
	int			n;

	fm_topk_init(&best, probes, storage);
	for (int j = 0; j < cache->lists; j++)
	{
		double		score = p == NULL || cache->dim == 0 ? -j :
			(double) fm_vec_dot(p->x, cache->centroids + (Size) j * cache->dim, cache->dim);

		/* a centroid whose score overflows into NaN is probed last, not never */
		fm_topk_push(&best, j, isnan(score) ? -INFINITY : score);
	}
	n = fm_topk_sort(&best);
	for (int i = 0; i < n; i++)
		lists[i] = (int) storage[i].id;
	return n;
}

static void
start_scan(IndexScanDesc scan)
{
	FmIvfScan  *so = (FmIvfScan *) scan->opaque;
	const FmIvfCache *cache = fm_ivf_cache(scan->indexRelation);
	int			probes = Min(fm_ivf_probes, cache->lists);

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an fm_ivf index can only be scanned with ORDER BY <#>")));
	so->p = NULL;
	so->null_query = (scan->orderByData[0].sk_flags & SK_ISNULL) != 0;
	if (!so->null_query)
	{
		so->p = (const FmVector *) PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument);
		fm_ivf_check_dim(scan->indexRelation, cache, so->p->dim);
	}
	so->lists = palloc(sizeof(int) * probes);
	so->nlists = choose_lists(cache, so->p, probes, so->lists);
	so->batch_size = FM_IVF_FIRST_BATCH;
	so->batch = palloc(sizeof(Candidate) * so->batch_size);
	so->have_last = false;
	fill_batch(scan);
	so->started = true;
}

IndexScanDesc
fm_ivf_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	FmIvfScan  *so = palloc0(sizeof(FmIvfScan));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "fm_ivf scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	memset(scan->xs_orderbynulls, true, sizeof(bool) * Max(norderbys, 1));
	return scan;
}

void
fm_ivf_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	FmIvfScan  *so = (FmIvfScan *) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	MemoryContextReset(so->cxt);
	so->started = false;
	so->w = NULL;
	so->approx = NULL;
	so->approx_capacity = 0;
	so->maybe = NULL;
	so->batch = NULL;
	so->nbatch = 0;
	so->next = 0;
}

bool
fm_ivf_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	FmIvfScan  *so = (FmIvfScan *) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->cxt);
	Candidate	best;

	if (!so->started)
		start_scan(scan);
	else if (so->next == so->nbatch && !so->exhausted)
	{
		so->batch_size = (int) Min((int64) so->batch_size * 4, MaxAllocSize / sizeof(Candidate));
		so->batch = repalloc(so->batch, sizeof(Candidate) * so->batch_size);
		fill_batch(scan);
	}
	MemoryContextSwitchTo(old);
	if (so->next == so->nbatch)
		return false;
	best = so->batch[so->next++];
	so->last = best;
	so->have_last = true;

	scan->xs_heaptid = best.tid;
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	scan->xs_orderbyvals[0] = Float8GetDatum(best.distance);
	scan->xs_orderbynulls[0] = so->null_query;
	return true;
}

void
fm_ivf_endscan(IndexScanDesc scan)
{
	FmIvfScan  *so = (FmIvfScan *) scan->opaque;

	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}

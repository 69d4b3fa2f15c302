/*
 * topk.c - bounded heap of the best scored ids.
 */
#include "topk.h"

#include <math.h>

/* The total order of the result: true when a ranks strictly before b. */
static bool
better(const FmScored *a, const FmScored *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->id < b->id;
}

static void
swap(FmScored *a, FmScored *b)
{
	FmScored	t = *a;

	*a = *b;
	*b = t;
}

/* Restore the heap (worst at the root) below position i, within n entries. */
static void
sift_down(FmScored *h, int32_t n, int32_t i)
{
	for (;;)
	{
		int32_t		left = 2 * i + 1;
		int32_t		right = left + 1;
		int32_t		worst = i;

		if (left < n && better(&h[worst], &h[left]))
			worst = left;
		if (right < n && better(&h[worst], &h[right]))
			worst = right;
		if (worst == i)
			return;
		swap(&h[i], &h[worst]);
		i = worst;
	}
}

static void
sift_up(FmScored *h, int32_t i)
{
	while (i > 0)
	{
		int32_t		parent = (i - 1) / 2;

		if (!better(&h[parent], &h[i]))
			return;
		swap(&h[parent], &h[i]);
		i = parent;
	}
}

void
fm_topk_init(FmTopK *t, int32_t k, FmScored *storage)
{
	t->items = storage;
	t->k = k > 0 ? k : 0;
	t->n = 0;
}

void
fm_topk_alloc(FmTopK *t, int32_t k, const FmAllocator *a)
{
	fm_topk_init(t, k, fm_alloc(a, (size_t) (k > 0 ? k : 0) * sizeof(FmScored)));
}

bool
fm_topk_push(FmTopK *t, int64_t id, double score)
{
	FmScored	item;

	if (isnan(score) || t->k == 0)
		return false;
	item.id = id;
	item.score = score;
	if (t->n < t->k)
	{
		t->items[t->n] = item;
		sift_up(t->items, t->n);
		t->n++;
		return true;
	}
	if (!better(&item, &t->items[0]))
		return false;
	t->items[0] = item;
	sift_down(t->items, t->n, 0);
	return true;
}

const FmScored *
fm_topk_worst(const FmTopK *t)
{
	return t->n < t->k ? NULL : &t->items[0];
}

double
fm_topk_threshold(const FmTopK *t)
{
	if (t->k == 0)
		return INFINITY;
	if (t->n < t->k)
		return -INFINITY;
	return t->items[0].score;
}

int32_t
fm_topk_sort(FmTopK *t)
{
	/*
	 * Heapsort: move the worst (the root) to the end of the shrinking heap,
	 * so the array ends up best first.
	 */
	for (int32_t end = t->n - 1; end > 0; end--)
	{
		swap(&t->items[0], &t->items[end]);
		sift_down(t->items, end, 0);
	}
	return t->n;
}

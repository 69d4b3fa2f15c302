/*
 * test_topk.c - the bounded heap against sorting everything.
 */
#include "rng.h"
#include "topk.h"
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int
compare_best_first(const void *pa, const void *pb)
{
	const FmScored *a = pa;
	const FmScored *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/*
 * Random streams with many equal scores (scores rounded to a few values),
 * compared with qsort of the whole stream.
 */
static void
test_matches_full_sort(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmRng		rng;
	const int32_t ks[] = {1, 2, 5, 10, 100, 999, 1000, 1500};
	enum
	{
	N = 1000};
	static FmScored all[N];

	fm_rng_seed(&rng, 1);
	for (int t = 0; t < 8; t++)
	{
		FmTopK		top;
		int32_t		n;
		int32_t		expect_n = ks[t] < N ? ks[t] : N;

		for (int i = 0; i < N; i++)
		{
			all[i].id = (int64_t) fm_rng_below(&rng, 1u << 20) - (1 << 19);
			all[i].score = floor(fm_rng_normal(&rng) * 4.0) / 4.0;
		}
		fm_topk_alloc(&top, ks[t], &a);
		for (int i = 0; i < N; i++)
			fm_topk_push(&top, all[i].id, all[i].score);
		n = fm_topk_sort(&top);
		qsort(all, N, sizeof(FmScored), compare_best_first);
		CHECK(n == expect_n);
		CHECK(memcmp(top.items, all, (size_t) expect_n * sizeof(FmScored)) == 0);
	}
	fm_arena_free(&arena);
}

static void
test_ties_prefer_smaller_ids(void)
{
	FmScored	storage[3];
	FmTopK		top;

	fm_topk_init(&top, 3, storage);
	CHECK(fm_topk_push(&top, 50, 1.0));
	CHECK(fm_topk_push(&top, 40, 1.0));
	CHECK(fm_topk_push(&top, 60, 1.0));
	CHECK(fm_topk_threshold(&top) == 1.0);
	CHECK(!fm_topk_push(&top, 70, 1.0));	/* ties with larger id: out */
	CHECK(fm_topk_push(&top, 10, 1.0));	/* ties with smaller id: in, 60 out */
	CHECK(!fm_topk_push(&top, 1, 0.5));
	CHECK(fm_topk_sort(&top) == 3);
	CHECK(storage[0].id == 10 && storage[1].id == 40 && storage[2].id == 50);
}

static void
test_edge_cases(void)
{
	FmScored	storage[4];
	FmTopK		top;

	/* k = 0 keeps nothing */
	fm_topk_init(&top, 0, NULL);
	CHECK(!fm_topk_push(&top, 1, 1.0));
	CHECK(fm_topk_threshold(&top) == INFINITY);
	CHECK(fm_topk_sort(&top) == 0);

	/* NaN never kept; infinities are ordinary scores */
	fm_topk_init(&top, 4, storage);
	CHECK(fm_topk_threshold(&top) == -INFINITY);
	CHECK(!fm_topk_push(&top, 1, NAN));
	CHECK(fm_topk_push(&top, 2, -INFINITY));
	CHECK(fm_topk_push(&top, 3, INFINITY));
	CHECK(fm_topk_push(&top, 4, 0.0));
	CHECK(fm_topk_sort(&top) == 3);
	CHECK(storage[0].id == 3 && storage[1].id == 4 && storage[2].id == 2);

	/* negative k behaves as 0 */
	fm_topk_init(&top, -5, storage);
	CHECK(top.k == 0 && !fm_topk_push(&top, 1, 1.0));
}

/*
 * fm_topk_worst names the pair a push displaces, so a caller can keep one
 * payload per slot: give each pair the id of the slot it will occupy (the
 * next free one, or the worst pair's) and the payloads follow the heap.
 */
static void
test_worst_names_the_displaced_slot(void)
{
	FmScored	storage[3];
	double		payload[3];
	FmTopK		top;
	FmRng		rng;
	double		best[3] = {-INFINITY, -INFINITY, -INFINITY};

	fm_topk_init(&top, 3, storage);
	CHECK(fm_topk_worst(&top) == NULL);
	fm_rng_seed(&rng, 7);
	for (int i = 0; i < 200; i++)
	{
		double		score = fm_rng_normal(&rng);
		const FmScored *worst = fm_topk_worst(&top);
		int64_t		slot = worst ? worst->id : top.n;

		if (fm_topk_push(&top, slot, score))
			payload[slot] = score;
		/* the three best so far, by insertion */
		for (int j = 0; j < 3; j++)
			if (score > best[j])
			{
				double		t = best[j];

				best[j] = score;
				score = t;
			}
	}
	CHECK(fm_topk_worst(&top) != NULL && fm_topk_worst(&top)->score == best[2]);
	CHECK(fm_topk_sort(&top) == 3);
	for (int j = 0; j < 3; j++)
		CHECK(storage[j].score == best[j] && payload[storage[j].id] == best[j]);
}

int
main(void)
{
	RUN_TEST(test_matches_full_sort);
	RUN_TEST(test_ties_prefer_smaller_ids);
	RUN_TEST(test_edge_cases);
	RUN_TEST(test_worst_names_the_displaced_slot);
	return unit_report();
}

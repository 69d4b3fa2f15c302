/*
 * test_rank_eval.c - fm_rank_evaluate against a brute-force ranking (score
 * every candidate, sort them all, count hits with its own formulas) and a
 * case worked by hand.
 */
#include "rank_eval.h"
#include "rng.h"
#include "unit.h"
#include "vec.h"

#include <stdlib.h>
#include <string.h>

typedef struct Candidate
{
	int64_t		id;
	double		score;
} Candidate;

static int
best_first(const void *pa, const void *pb)
{
	const Candidate *a = pa;
	const Candidate *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static bool
contains_index(const int32_t *list, int32_t n, int32_t i)
{
	for (int32_t j = 0; j < n; j++)
		if (list[j] == i)
			return true;
	return false;
}

/* The protocol written out directly: every candidate scored and sorted. */
static FmRankQuality
brute_force(const FmRankItems *items, const FmRankUser *users, int64_t n_users, int32_t k)
{
	FmRankQuality q = {0, 0, 0, 0};
	Candidate  *all = malloc(sizeof(Candidate) * (size_t) items->n_items);

	for (int64_t u = 0; u < n_users; u++)
	{
		const FmRankUser *user = &users[u];
		int32_t		n = 0;
		int32_t		hits = 0;
		int32_t		n_relevant = user->n_relevant + user->n_relevant_outside;
		double		dcg = 0,
					ideal = 0;

		if (n_relevant == 0)
			continue;
		for (int32_t i = 0; i < items->n_items; i++)
		{
			double		dot = 0;

			if (contains_index(user->excluded, user->n_excluded, i))
				continue;
			if (user->query)
				dot = fm_vec_dot(user->query, items->embeddings + i * items->dim, items->dim);
			all[n].id = items->ids[i];
			all[n].score = (double) items->bias[i] + dot;
			n++;
		}
		qsort(all, (size_t) n, sizeof(Candidate), best_first);
		for (int32_t pos = 0; pos < k && pos < n; pos++)
			for (int32_t r = 0; r < user->n_relevant; r++)
				if (items->ids[user->relevant[r]] == all[pos].id)
				{
					hits++;
					dcg += 1.0 / log2(pos + 2.0);
				}
		for (int32_t pos = 0; pos < k && pos < n_relevant; pos++)
			ideal += 1.0 / log2(pos + 2.0);
		q.precision_at_k += (double) hits / k;
		q.recall_at_k += (double) hits / n_relevant;
		q.ndcg_at_k += dcg / ideal;
		q.users++;
	}
	free(all);
	if (q.users > 0)
	{
		q.precision_at_k /= q.users;
		q.recall_at_k /= q.users;
		q.ndcg_at_k /= q.users;
	}
	return q;
}

static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static int
compare_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* Random instances: coarse values make many ties, some users see no relevant item. */
static void
test_matches_brute_force(void)
{
	enum
	{
	N_ITEMS = 60, DIM = 3, N_USERS = 40, MAX_LIST = 20};
	static float embeddings[N_ITEMS * DIM];
	static float bias[N_ITEMS];
	static int64_t ids[N_ITEMS];
	static float queries[N_USERS][DIM];
	static int32_t excluded[N_USERS][MAX_LIST];
	static int32_t relevant[N_USERS][MAX_LIST];
	FmRankUser	users[N_USERS];
	FmRankItems items = {N_ITEMS, DIM, embeddings, bias, ids};
	FmRng		rng;
	const int32_t ks[] = {1, 3, 10, 59, 100};

	fm_rng_seed(&rng, 7);
	for (int round = 0; round < 20; round++)
	{
		for (int i = 0; i < N_ITEMS; i++)
		{
			/* distinct ids in shuffled order, some negative */
			ids[i] = (int64_t) ((i * 37) % N_ITEMS) * 3 - 50;
			bias[i] = (float) (floor(fm_rng_normal(&rng) * 2.0) / 2.0);
			for (int d = 0; d < DIM; d++)
				embeddings[i * DIM + d] = (float) (floor(fm_rng_normal(&rng) * 2.0) / 2.0);
		}
		for (int u = 0; u < N_USERS; u++)
		{
			int32_t		n_rel = 0;

			for (int d = 0; d < DIM; d++)
				queries[u][d] = (float) (floor(fm_rng_normal(&rng) * 2.0) / 2.0);
			users[u].query = (u % 7 == 3) ? NULL : queries[u];
			users[u].n_excluded = (int32_t) fm_rng_below(&rng, MAX_LIST);
			for (int32_t j = 0; j < users[u].n_excluded; j++)
				excluded[u][j] = (int32_t) fm_rng_below(&rng, N_ITEMS);	/* repeats allowed */
			qsort(excluded[u], (size_t) users[u].n_excluded, sizeof(int32_t), compare_int32);
			users[u].excluded = excluded[u];
			for (int32_t j = (int32_t) fm_rng_below(&rng, 12); j > 0; j--)
			{
				int32_t		i = (int32_t) fm_rng_below(&rng, N_ITEMS);

				if (!contains_index(relevant[u], n_rel, i))
					relevant[u][n_rel++] = i;
			}
			users[u].relevant = relevant[u];
			users[u].n_relevant = n_rel;
			users[u].n_relevant_outside = (u % 5 == 0) ? (int32_t) fm_rng_below(&rng, 3) : 0;
		}
		for (int t = 0; t < 5; t++)
		{
			FmArena		arena = {0};
			FmAllocator a = fm_arena_allocator(&arena);
			FmRankQuality got,
						want;

			ticks = 0;
			got = fm_rank_evaluate(&items, users, N_USERS, ks[t], count_tick, NULL, &a);
			want = brute_force(&items, users, N_USERS, ks[t]);
			CHECK(ticks == N_USERS);
			CHECK(got.users == want.users);
			CHECK_NEAR(got.precision_at_k, want.precision_at_k, 1e-12);
			CHECK_NEAR(got.recall_at_k, want.recall_at_k, 1e-12);
			CHECK_NEAR(got.ndcg_at_k, want.ndcg_at_k, 1e-12);
			fm_arena_free(&arena);
		}
	}
}

/*
 * Four items, dim 1, query 1: scores 0.5 (id 10), 2 (id 20), 2 (id 5),
 * 1 (id 7).  Order by score, then smaller id: 5, 20, 7, 10.  Id 5 is
 * excluded, so the top 2 is 20, 7.  Relevant: 7 and 10, plus one item
 * outside the catalogue.  Hits: 7 at position 2.
 *   P@2 = 1/2, R@2 = 1/3, NDCG@2 = (1/log2 3) / (1 + 1/log2 3).
 * A second user with nothing relevant is skipped.
 */
static void
test_worked_example(void)
{
	const float e[] = {0.0f, 1.0f, 2.0f, 0.5f};
	const float b[] = {0.5f, 1.0f, 0.0f, 0.5f};
	const int64_t ids[] = {10, 20, 5, 7};
	const float query[] = {1.0f};
	const int32_t excluded[] = {2};
	const int32_t relevant[] = {3, 0};
	FmRankItems items = {4, 1, e, b, ids};
	FmRankUser	users[2] = {
		{query, excluded, 1, relevant, 2, 1},
		{query, NULL, 0, NULL, 0, 0},
	};
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmRankQuality q = fm_rank_evaluate(&items, users, 2, 2, NULL, NULL, &a);
	double		g2 = 1.0 / log2(3.0);

	CHECK(q.users == 1);
	CHECK_NEAR(q.precision_at_k, 0.5, 1e-15);
	CHECK_NEAR(q.recall_at_k, 1.0 / 3.0, 1e-15);
	CHECK_NEAR(q.ndcg_at_k, g2 / (1.0 + g2), 1e-15);
	fm_arena_free(&arena);
}

static void
test_no_user_is_nan(void)
{
	const float e[] = {1.0f};
	const float b[] = {0.0f};
	const int64_t ids[] = {1};
	FmRankItems items = {1, 1, e, b, ids};
	FmRankUser	user = {NULL, NULL, 0, NULL, 0, 0};
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmRankQuality q = fm_rank_evaluate(&items, &user, 1, 10, NULL, NULL, &a);

	CHECK(q.users == 0);
	CHECK(isnan(q.precision_at_k) && isnan(q.recall_at_k) && isnan(q.ndcg_at_k));
	fm_arena_free(&arena);
}

int
main(void)
{
	RUN_TEST(test_matches_brute_force);
	RUN_TEST(test_worked_example);
	RUN_TEST(test_no_user_is_nan);
	return unit_report();
}

/*
 * rank_eval.c - top-k of every user's candidates, then precision, recall
 * and NDCG@k averaged over users (see rank_eval.h).
 */
#include "rank_eval.h"

#include <math.h>

#include "metrics.h"
#include "topk.h"
#include "vec.h"

/* Scratch sized for the largest user, allocated once. */
typedef struct RankScratch
{
	FmTopK		top;
	int64_t    *ranked;			/* k ids, best first */
	int64_t    *relevant;		/* ids of the relevant items */
} RankScratch;

static int32_t
largest_relevant_list(const FmRankUser *users, int64_t n_users)
{
	int32_t		largest = 1;

	for (int64_t u = 0; u < n_users; u++)
	{
		int32_t		n = users[u].n_relevant + users[u].n_relevant_outside;

		if (n > largest)
			largest = n;
	}
	return largest;
}

/* Keep the k best candidates of one user in s->top (heap order). */
static void
rank_candidates(const FmRankItems *items, const FmRankUser *user, FmTopK *top)
{
	int32_t		next_excluded = 0;

	for (int32_t i = 0; i < items->n_items; i++)
	{
		double		score;

		/* the excluded list is sorted: walk it alongside the items */
		while (next_excluded < user->n_excluded && user->excluded[next_excluded] < i)
			next_excluded++;
		if (next_excluded < user->n_excluded && user->excluded[next_excluded] == i)
			continue;
		score = (double) items->bias[i];
		if (user->query != NULL)
			score += (double) fm_vec_dot(user->query,
										 items->embeddings + (size_t) i * (size_t) items->dim,
										 (size_t) items->dim);
		fm_topk_push(top, items->ids[i], score);
	}
}

static bool
in_list(const int64_t *ids, int32_t n, int64_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * The ids of the relevant items.  Those outside the catalogue have no id:
 * they get placeholder ids that are not in the ranked list (so they are
 * never hit), which makes metrics.h count them in recall and ideal DCG.
 */
static int32_t
relevant_ids(const FmRankItems *items, const FmRankUser *user,
			 const int64_t *ranked, int32_t n_ranked, int64_t *out)
{
	int32_t		n = 0;
	int64_t		placeholder = INT64_MIN;

	for (int32_t r = 0; r < user->n_relevant; r++)
		out[n++] = items->ids[user->relevant[r]];
	for (int32_t r = 0; r < user->n_relevant_outside; r++)
	{
		while (in_list(ranked, n_ranked, placeholder))
			placeholder++;
		out[n++] = placeholder++;
	}
	return n;
}

FmRankQuality
fm_rank_evaluate(const FmRankItems *items, const FmRankUser *users, int64_t n_users,
				 int32_t k, FmRankTick tick, void *tick_arg, const FmAllocator *a)
{
	FmRankQuality q = {0.0, 0.0, 0.0, 0};
	RankScratch s;

	fm_topk_alloc(&s.top, k, a);
	s.ranked = fm_alloc(a, (size_t) k * sizeof(int64_t));
	s.relevant = fm_alloc(a, (size_t) largest_relevant_list(users, n_users) * sizeof(int64_t));
	for (int64_t u = 0; u < n_users; u++)
	{
		const FmRankUser *user = &users[u];
		int32_t		n_ranked;
		int32_t		n_relevant;

		if (tick != NULL)
			tick(tick_arg);
		if (user->n_relevant + user->n_relevant_outside == 0)
			continue;
		fm_topk_init(&s.top, k, s.top.items);
		rank_candidates(items, user, &s.top);
		n_ranked = fm_topk_sort(&s.top);
		for (int32_t i = 0; i < n_ranked; i++)
			s.ranked[i] = s.top.items[i].id;
		n_relevant = relevant_ids(items, user, s.ranked, n_ranked, s.relevant);
		q.precision_at_k += fm_precision_at_k(s.ranked, n_ranked, s.relevant, n_relevant, k);
		q.recall_at_k += fm_recall_at_k(s.ranked, n_ranked, s.relevant, n_relevant, k);
		q.ndcg_at_k += fm_ndcg_at_k(s.ranked, n_ranked, s.relevant, n_relevant, k);
		q.users++;
	}
	if (q.users == 0)
	{
		q.precision_at_k = q.recall_at_k = q.ndcg_at_k = NAN;
		return q;
	}
	q.precision_at_k /= (double) q.users;
	q.recall_at_k /= (double) q.users;
	q.ndcg_at_k /= (double) q.users;
	return q;
}

/*
 * implicit_eval.c - validation NDCG@10 of implicit training (implicit_eval.h).
 */
#include "implicit_eval.h"
#include "rng.h"

#include <math.h>
#include <string.h>

struct FmImplicitValidation
{
	const FmImplicitData *d;
	int32_t		k;
	int32_t    *context;		/* the context of each user */
	FmRankUser *users;
	int32_t		n_users;
	float	   *item_embeddings;
	float	   *item_bias;
	float	   *queries;
	double	   *sum;			/* k doubles of scratch */
	const FmAllocator *a;
};

/* Up to FM_IMPLICIT_VALID_CONTEXTS contexts with held-out pairs, a seeded sample, ascending. */
static int32_t
choose_contexts(const FmImplicitData *d, uint64_t seed, int32_t *chosen)
{
	int32_t		n = 0;
	FmRng		rng;

	for (int32_t c = 0; c < d->contexts.n; c++)
		if (d->valid_start[c + 1] > d->valid_start[c])
			chosen[n++] = c;
	if (n <= FM_IMPLICIT_VALID_CONTEXTS)
		return n;
	fm_rng_seed(&rng, seed);
	fm_rng_shuffle_int32(&rng, chosen, n);
	n = FM_IMPLICIT_VALID_CONTEXTS;
	for (int32_t i = 1; i < n; i++)		/* ascending again: a short list */
		for (int32_t j = i; j > 0 && chosen[j - 1] > chosen[j]; j--)
		{
			int32_t		t = chosen[j];

			chosen[j] = chosen[j - 1];
			chosen[j - 1] = t;
		}
	return n;
}

FmImplicitValidation *
fm_implicit_validation_new(const FmImplicitData *d, int32_t k, uint64_t seed, const FmAllocator *a)
{
	FmImplicitValidation *v = fm_alloc(a, sizeof(FmImplicitValidation));

	v->d = d;
	v->k = k;
	v->a = a;
	v->context = fm_alloc(a, ((size_t) d->contexts.n + 1) * sizeof(int32_t));
	v->n_users = choose_contexts(d, seed, v->context);
	v->users = fm_alloc(a, ((size_t) v->n_users + 1) * sizeof(FmRankUser));
	v->queries = fm_alloc(a, ((size_t) v->n_users * k + 1) * sizeof(float));
	v->item_embeddings = fm_alloc(a, ((size_t) d->items.n * k + 1) * sizeof(float));
	v->item_bias = fm_alloc(a, ((size_t) d->items.n + 1) * sizeof(float));
	v->sum = fm_alloc(a, ((size_t) k + 1) * sizeof(double));
	for (int32_t u = 0; u < v->n_users; u++)
	{
		int32_t		c = v->context[u];
		FmRankUser *user = &v->users[u];

		user->query = v->queries + (size_t) u * k;
		user->excluded = d->by_context.other + d->by_context.start[c];
		user->n_excluded = (int32_t) (d->by_context.start[c + 1] - d->by_context.start[c]);
		user->relevant = d->valid_item + d->valid_start[c];
		user->n_relevant = (int32_t) (d->valid_start[c + 1] - d->valid_start[c]);
		user->n_relevant_outside = 0;
	}
	return v;
}

/*
 * sum = sum_f x_f v_f of an entity (in double, then rounded), returning its
 * own terms: linear plus pairwise among its features.
 */
static double
entity_vector(const FmImplicitValidation *v, const FmModel *m, const FmSparseRows *rows,
			  int32_t e, float *out)
{
	double		linear = 0.0,
				squares = 0.0,
				norm = 0.0;

	memset(v->sum, 0, (size_t) v->k * sizeof(double));
	for (int64_t p = rows->start[e]; p < rows->start[e + 1]; p++)
	{
		const float *vf = fm_model_v(m, rows->ids[p]);
		double		x = rows->x[p];

		linear += x * m->w[rows->ids[p]];
		for (int32_t f = 0; f < v->k; f++)
		{
			v->sum[f] += x * vf[f];
			squares += x * x * (double) vf[f] * vf[f];
		}
	}
	for (int32_t f = 0; f < v->k; f++)
	{
		norm += v->sum[f] * v->sum[f];
		out[f] = (float) v->sum[f];
	}
	return linear + 0.5 * (norm - squares);
}

double
fm_implicit_validation_ndcg(FmImplicitValidation *v, const FmModel *model, FmRankTick tick,
							void *tick_arg)
{
	const FmImplicitData *d = v->d;
	FmRankItems items;

	if (v->n_users == 0)
		return NAN;
	for (int32_t i = 0; i < d->items.n; i++)
		v->item_bias[i] = (float) entity_vector(v, model, &d->items, i,
												v->item_embeddings + (size_t) i * v->k);
	for (int32_t u = 0; u < v->n_users; u++)
		(void) entity_vector(v, model, &d->contexts, v->context[u], v->queries + (size_t) u * v->k);
	items.n_items = d->items.n;
	items.dim = v->k;
	items.embeddings = v->item_embeddings;
	items.bias = v->item_bias;
	items.ids = d->item_ids;
	return fm_rank_evaluate(&items, v->users, v->n_users, FM_IMPLICIT_VALID_K, tick, tick_arg,
							v->a).ndcg_at_k;
}

/*
 * bpr.c - BPR with Adagrad for factorization machines (bpr.h).
 *
 * A step computes every gradient from the parameters as they were before
 * it, then applies them: a feature shared by both items (a genre) gets the
 * sum of its two contributions.
 */
#include "bpr.h"
#include "implicit_eval.h"
#include "train_util.h"

#include <math.h>
#include <string.h>

#define FM_BPR_EPS 1e-8f
#define FM_BPR_NEGATIVE_TRIES 16

/* One parameter row touched by a step: its feature, its gradient (w, then k for v). */
typedef struct Touched
{
	int32_t		feature;
	float	   *grad;			/* 1 + k floats */
} Touched;

struct FmBpr
{
	const FmImplicitData *d;	/* &data in a participant's view */
	FmImplicitData data;
	FmModel    *m;				/* &model in a participant's view */
	FmModel		model;
	int32_t		k;
	float		lr;
	float		reg_w;
	float		reg_v;
	float	   *acc_w;			/* Adagrad's sums of squared gradients */
	float	   *acc_v;
	uint64_t	chunk_seed;		/* parallel epochs: each claim's generator from it */

	/* the participant's own */
	float	   *q;				/* k: the context's vector */
	float	   *e[2];			/* k: the two items' vectors */
	double		b[2];			/* their biases */
	Touched    *touched;
	int32_t		n_touched;
	int32_t		max_touched;
	float	   *grads;			/* max_touched * (1 + k) */
	FmRng		rng;
	const FmTrainHooks *hooks;
};

typedef struct FmBpr Bpr;

/* sum_f x_f v_f of an entity into out; returns its own terms (linear + pairwise). */
static double
entity_vector(const Bpr *s, const FmSparseRows *rows, int32_t e, float *out)
{
	double		linear = 0.0,
				squares = 0.0,
				norm = 0.0;

	memset(out, 0, (size_t) s->k * sizeof(float));
	for (int64_t p = rows->start[e]; p < rows->start[e + 1]; p++)
	{
		const float *v = fm_model_v(s->m, rows->ids[p]);
		float		x = rows->x[p];

		linear += (double) x * s->m->w[rows->ids[p]];
		for (int32_t f = 0; f < s->k; f++)
		{
			out[f] += x * v[f];
			squares += (double) x * x * v[f] * v[f];
		}
	}
	for (int32_t f = 0; f < s->k; f++)
		norm += (double) out[f] * out[f];
	return linear + 0.5 * (norm - squares);
}

/* The gradient row of a feature, zeroed when first touched in this step. */
static float *
gradient_of(Bpr *s, int32_t feature)
{
	for (int32_t t = 0; t < s->n_touched; t++)
		if (s->touched[t].feature == feature)
			return s->touched[t].grad;
	s->touched[s->n_touched].feature = feature;
	s->touched[s->n_touched].grad = s->grads + (size_t) s->n_touched * (1 + s->k);
	memset(s->touched[s->n_touched].grad, 0, (size_t) (1 + s->k) * sizeof(float));
	return s->touched[s->n_touched++].grad;
}

static bool
is_positive(const FmImplicitData *d, int32_t c, int32_t item)
{
	int64_t		lo = d->by_context.start[c],
				hi = d->by_context.start[c + 1];

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (d->by_context.other[mid] < item)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->by_context.start[c + 1] && d->by_context.other[lo] == item;
}

/* d(y_ci - y_cj)/d(theta) times `scale` into the gradients of item `which`'s features. */
static void
item_gradients(Bpr *s, int which, int32_t item, float scale)
{
	const FmSparseRows *rows = &s->d->items;

	for (int64_t p = rows->start[item]; p < rows->start[item + 1]; p++)
	{
		int32_t		g = rows->ids[p];
		float		x = rows->x[p];
		const float *v = fm_model_v(s->m, g);
		float	   *grad = gradient_of(s, g);

		/* db/dw_g = x; d(b + <q, e>)/dv_g = x (q + e - x v_g) */
		grad[0] += scale * x;
		for (int32_t f = 0; f < s->k; f++)
			grad[1 + f] += scale * x * (s->q[f] + s->e[which][f] - x * v[f]);
	}
}

/* One step on positive (c, i) against negative j; returns its loss. */
static double
step(Bpr *s, int32_t c, int32_t i, int32_t j)
{
	const FmSparseRows *ctx = &s->d->contexts;
	double		diff;
	float		g;

	(void) entity_vector(s, ctx, c, s->q);
	s->b[0] = entity_vector(s, &s->d->items, i, s->e[0]);
	s->b[1] = entity_vector(s, &s->d->items, j, s->e[1]);
	diff = s->b[0] - s->b[1];
	for (int32_t f = 0; f < s->k; f++)
		diff += (double) s->q[f] * (s->e[0][f] - s->e[1][f]);

	/* d(-ln sigmoid(diff))/d(diff) = -sigmoid(-diff) */
	g = (float) (-1.0 / (1.0 + exp(diff)));
	s->n_touched = 0;
	for (int64_t p = ctx->start[c]; p < ctx->start[c + 1]; p++)
	{
		float	   *grad = gradient_of(s, ctx->ids[p]);
		float		x = ctx->x[p];

		for (int32_t f = 0; f < s->k; f++)
			grad[1 + f] += g * x * (s->e[0][f] - s->e[1][f]);
	}
	item_gradients(s, 0, i, g);
	item_gradients(s, 1, j, -g);

	/* Adagrad, with the penalty's gradient added */
	for (int32_t t = 0; t < s->n_touched; t++)
	{
		int32_t		feature = s->touched[t].feature;
		const float *grad = s->touched[t].grad;
		float	   *v = fm_model_v(s->m, feature);
		float	   *acc = s->acc_v + (size_t) feature * s->k;
		float		gw = grad[0] + 2.0f * s->reg_w * s->m->w[feature];

		if (grad[0] != 0.0f)
		{
			s->acc_w[feature] += gw * gw;
			s->m->w[feature] -= s->lr * gw / sqrtf(s->acc_w[feature] + FM_BPR_EPS);
		}
		for (int32_t f = 0; f < s->k; f++)
		{
			float		gv = grad[1 + f] + 2.0f * s->reg_v * v[f];

			acc[f] += gv * gv;
			v[f] -= s->lr * gv / sqrtf(acc[f] + FM_BPR_EPS);
		}
	}
	return diff > 0 ? log1p(exp(-diff)) : -diff + log1p(exp(diff));
}

/* A uniform item that is not a positive of c, or -1 after a few tries (c likes nearly all). */
static int32_t
draw_negative(Bpr *s, FmRng *rng, int32_t c)
{
	for (int tries = 0; tries < FM_BPR_NEGATIVE_TRIES; tries++)
	{
		int32_t		j = (int32_t) fm_rng_below(rng, (uint64_t) s->d->items.n);

		if (!is_positive(s->d, c, j))
			return j;
	}
	return -1;
}

static int32_t
longest_row(const FmSparseRows *rows)
{
	int32_t		longest = 0;

	for (int32_t e = 0; e < rows->n; e++)
		if (rows->start[e + 1] - rows->start[e] > longest)
			longest = (int32_t) (rows->start[e + 1] - rows->start[e]);
	return longest;
}

static void
rank_tick(void *arg)
{
	fm_hooks_tick((const FmTrainHooks *) arg);
}

/* The participant's own scratch. */
static void
alloc_scratch(Bpr *s, const FmAllocator *a)
{
	s->q = fm_alloc(a, (size_t) s->k * sizeof(float));
	s->e[0] = fm_alloc(a, (size_t) s->k * sizeof(float));
	s->e[1] = fm_alloc(a, (size_t) s->k * sizeof(float));
	s->max_touched = longest_row(&s->d->contexts) + 2 * longest_row(&s->d->items) + 1;
	s->touched = fm_alloc(a, (size_t) s->max_touched * sizeof(Touched));
	s->grads = fm_alloc(a, (size_t) s->max_touched * (1 + s->k) * sizeof(float));
}

/*
 * n steps, each on a uniform training pair and a uniform negative of its
 * context drawn from rng; adds their losses and count.
 */
static void
run_steps(Bpr *s, FmRng *rng, int64_t n, double *loss, int64_t *steps)
{
	const FmImplicitData *d = s->d;

	for (int64_t t = 0; t < n; t++)
	{
		int64_t		p = (int64_t) fm_rng_below(rng, (uint64_t) d->n_pairs);
		int32_t		j = draw_negative(s, rng, d->pair_context[p]);

		if (j >= 0)
		{
			*loss += step(s, d->pair_context[p], d->pair_item[p], j);
			(*steps)++;
		}
		if ((t + 1) % FM_TICK_ROWS == 0)
			fm_hooks_tick(s->hooks);
	}
}

size_t
fm_bpr_shared_bytes(int32_t n_features, int32_t k)
{
	return ((sizeof(Bpr) + 63) / 64 + 1) * 64 +
		((((size_t) n_features + 1) * sizeof(float) + 63) / 64 + 1) * 64 +
		((((size_t) n_features * k + 1) * sizeof(float) + 63) / 64 + 1) * 64;
}

FmBpr *
fm_bpr_participant(const FmBpr *shared, ptrdiff_t delta, const FmTrainHooks *hooks,
				   const FmAllocator *a)
{
	Bpr		   *p = fm_alloc(a, sizeof(Bpr));

	memcpy(p, (const char *) shared + delta, sizeof(Bpr));
	fm_implicit_training_view(&p->data, delta);
	p->d = &p->data;
	p->model.w = (float *) ((char *) p->model.w + delta);
	p->model.V = (float *) ((char *) p->model.V + delta);
	p->m = &p->model;
	p->acc_w = (float *) ((char *) p->acc_w + delta);
	p->acc_v = (float *) ((char *) p->acc_v + delta);
	p->hooks = hooks;
	alloc_scratch(p, a);
	return p;
}

void
fm_bpr_participant_steps(FmBpr *p, int64_t claim, int64_t n, double *loss, int64_t *steps)
{
	FmRng		rng;

	fm_rng_seed(&rng, fm_seed_for(p->chunk_seed, (uint64_t) claim + 1));
	run_steps(p, &rng, n, loss, steps);
}

void
fm_train_bpr(const FmImplicitData *d, const FmTrainParams *params, FmModel *model,
			 const FmTrainHooks *hooks, const FmAllocator *a, FmTrainResult *result)
{
	const FmParallel *parallel = hooks != NULL ? hooks->parallel : NULL;
	bool		in_parallel = parallel != NULL && parallel->bpr_epoch != NULL;
	/* what the participants of a parallel epoch share comes from its memory */
	const FmAllocator *shared = in_parallel ? &parallel->shared : a;
	Bpr		   *s = fm_alloc(shared, sizeof(Bpr));
	FmImplicitValidation *validation;

	fm_model_init_random(model, 0.0, params->init_stdev, fm_seed_for(params->seed, FM_SEED_INIT));
	s->data = *d;
	s->d = &s->data;
	/* the participants' views copy the model's sizes; the leader trains `model` itself */
	s->model = *model;
	s->m = model;
	s->k = model->k;
	s->lr = (float) params->learning_rate;
	s->reg_w = (float) params->reg_w;
	s->reg_v = (float) params->reg_v;
	s->hooks = hooks;
	s->acc_w = fm_alloc(shared, ((size_t) model->n_features + 1) * sizeof(float));
	s->acc_v = fm_alloc(shared, ((size_t) model->n_features * model->k + 1) * sizeof(float));
	alloc_scratch(s, a);
	fm_rng_seed(&s->rng, fm_seed_for(params->seed, FM_SEED_SHUFFLE));
	validation = fm_implicit_validation_new(d, model->k, fm_seed_for(params->seed, FM_SEED_SHUFFLE), a);

	result->epochs_run = 0;
	result->train_rmse = NAN;
	result->valid_rmse = NAN;
	result->valid_rmse_mean_model = NAN;
	result->train_loss = NAN;
	result->valid_ndcg = NAN;
	for (int32_t epoch = 0; epoch < params->epochs; epoch++)
	{
		double		started = fm_wall_seconds();
		double		loss = 0.0;
		int64_t		steps = 0;
		FmEpochReport report;

		if (in_parallel)
		{
			/* each claim's draws from a generator of its own: the same draws whoever runs it */
			s->chunk_seed = fm_seed_for(fm_seed_for(params->seed, FM_SEED_SHUFFLE), (uint64_t) epoch + 1);
			parallel->bpr_epoch(parallel->arg, s, d->n_pairs, &loss, &steps);
		}
		else
			run_steps(s, &s->rng, d->n_pairs, &loss, &steps);
		report.epoch = epoch + 1;
		report.train_rmse = NAN;
		report.valid_rmse = NAN;
		report.train_loss = steps > 0 ? loss / (double) steps : NAN;
		report.valid_ndcg = fm_implicit_validation_ndcg(validation, model, rank_tick, (void *) hooks);
		report.seconds = fm_wall_seconds() - started;
		result->epochs_run = epoch + 1;
		result->train_loss = report.train_loss;
		result->valid_ndcg = report.valid_ndcg;
		if (hooks != NULL && hooks->epoch_done != NULL && !hooks->epoch_done(&report, hooks->arg))
			break;
	}
}

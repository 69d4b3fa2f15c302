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
#include "vec.h"

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
	float	   *e_diff;			/* k: e[0] - e[1] */
	double		b[2];			/* their biases */
	Touched    *touched;
	int32_t		n_touched;
	int32_t		max_touched;
	float	   *grads;			/* max_touched * (1 + k) */
	FmRng		rng;
	const FmTrainHooks *hooks;
};

typedef struct FmBpr Bpr;

/*
 * The step's arithmetic is over rows of k floats.  Each loop below works in
 * blocks of FM_BPR_BLOCK with a fixed trip count, on restrict pointers and
 * scalars in locals, so that GCC vectorises it at -O2 (as sgd.c's
 * update_factors; a step is compute-bound once its rows are in cache, and
 * the scalar loops took three quarters of an epoch).  Double sums keep one
 * partial sum per lane of the block, added up at the end.
 */
#define FM_BPR_BLOCK 16

/* out += x v; lanes += (x v)^2, in double */
static void
add_row(float *restrict out, double *restrict lanes, const float *restrict v, float x, size_t k)
{
	size_t		f = 0;

	for (; f + FM_BPR_BLOCK <= k; f += FM_BPR_BLOCK)
		for (size_t j = 0; j < FM_BPR_BLOCK; j++)
		{
			float		xv = x * v[f + j];

			out[f + j] += xv;
			lanes[j] += (double) xv * xv;
		}
	for (; f < k; f++)
	{
		float		xv = x * v[f];

		out[f] += xv;
		lanes[0] += (double) xv * xv;
	}
}

/* sum_f a_f b_f in double */
static double
dot_double(const float *restrict a, const float *restrict b, size_t k)
{
	double		lanes[FM_BPR_BLOCK] = {0};
	double		sum = 0.0;
	size_t		f = 0;

	for (; f + FM_BPR_BLOCK <= k; f += FM_BPR_BLOCK)
		for (size_t j = 0; j < FM_BPR_BLOCK; j++)
			lanes[j] += (double) a[f + j] * b[f + j];
	for (; f < k; f++)
		lanes[0] += (double) a[f] * b[f];
	for (size_t j = 0; j < FM_BPR_BLOCK; j++)
		sum += lanes[j];
	return sum;
}

/* sum_f x_f v_f of an entity into out; returns its own terms (linear + pairwise). */
static double
entity_vector(const Bpr *s, const FmSparseRows *rows, int32_t e, float *restrict out)
{
	size_t		k = (size_t) s->k;
	double		linear = 0.0,
				squares = 0.0;
	double		lanes[FM_BPR_BLOCK] = {0};

	memset(out, 0, k * sizeof(float));
	for (int64_t p = rows->start[e]; p < rows->start[e + 1]; p++)
	{
		float		x = rows->x[p];

		linear += (double) x * s->m->w[rows->ids[p]];
		add_row(out, lanes, fm_model_v(s->m, rows->ids[p]), x, k);
	}
	for (size_t j = 0; j < FM_BPR_BLOCK; j++)
		squares += lanes[j];
	return linear + 0.5 * (dot_double(out, out, k) - squares);
}

/* grad += a (q + e - x v) */
static void
add_item_gradient(float *restrict grad, float a, const float *restrict q,
				  const float *restrict e, float x, const float *restrict v, size_t k)
{
	size_t		f = 0;

	for (; f + FM_BPR_BLOCK <= k; f += FM_BPR_BLOCK)
		for (size_t j = 0; j < FM_BPR_BLOCK; j++)
			grad[f + j] += a * (q[f + j] + e[f + j] - x * v[f + j]);
	for (; f < k; f++)
		grad[f] += a * (q[f] + e[f] - x * v[f]);
}

/* Adagrad on a factor row: g = grad + reg2 v; acc += g^2; v -= lr g / sqrt(acc + eps). */
static void
adagrad_row(float *restrict v, float *restrict acc, const float *restrict grad,
			float lr, float reg2, size_t k)
{
	size_t		f = 0;

	for (; f + FM_BPR_BLOCK <= k; f += FM_BPR_BLOCK)
		for (size_t j = 0; j < FM_BPR_BLOCK; j++)
		{
			float		g = grad[f + j] + reg2 * v[f + j];

			acc[f + j] += g * g;
			v[f + j] -= lr * g / sqrtf(acc[f + j] + FM_BPR_EPS);
		}
	for (; f < k; f++)
	{
		float		g = grad[f] + reg2 * v[f];

		acc[f] += g * g;
		v[f] -= lr * g / sqrtf(acc[f] + FM_BPR_EPS);
	}
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
		float	   *grad = gradient_of(s, g);

		/* db/dw_g = x; d(b + <q, e>)/dv_g = x (q + e - x v_g) */
		grad[0] += scale * x;
		add_item_gradient(grad + 1, scale * x, s->q, s->e[which], x, fm_model_v(s->m, g), (size_t) s->k);
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
	fm_vec_sub(s->e_diff, s->e[0], s->e[1], (size_t) s->k);
	diff = s->b[0] - s->b[1] + dot_double(s->q, s->e_diff, (size_t) s->k);

	/* d(-ln sigmoid(diff))/d(diff) = -sigmoid(-diff) */
	g = (float) (-1.0 / (1.0 + exp(diff)));
	s->n_touched = 0;
	for (int64_t p = ctx->start[c]; p < ctx->start[c + 1]; p++)
	{
		float	   *grad = gradient_of(s, ctx->ids[p]);

		fm_vec_axpy(grad + 1, g * ctx->x[p], s->e_diff, (size_t) s->k);
	}
	item_gradients(s, 0, i, g);
	item_gradients(s, 1, j, -g);

	/* Adagrad, with the penalty's gradient added */
	for (int32_t t = 0; t < s->n_touched; t++)
	{
		int32_t		feature = s->touched[t].feature;
		const float *grad = s->touched[t].grad;
		float		gw = grad[0] + 2.0f * s->reg_w * s->m->w[feature];

		if (grad[0] != 0.0f)
		{
			s->acc_w[feature] += gw * gw;
			s->m->w[feature] -= s->lr * gw / sqrtf(s->acc_w[feature] + FM_BPR_EPS);
		}
		adagrad_row(fm_model_v(s->m, feature), s->acc_v + (size_t) feature * s->k, grad + 1,
					s->lr, 2.0f * s->reg_v, (size_t) s->k);
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
	s->e_diff = fm_alloc(a, (size_t) s->k * sizeof(float));
	s->max_touched = longest_row(&s->d->contexts) + 2 * longest_row(&s->d->items) + 1;
	s->touched = fm_alloc(a, (size_t) s->max_touched * sizeof(Touched));
	s->grads = fm_alloc(a, (size_t) s->max_touched * (1 + s->k) * sizeof(float));
}

/*
 * Steps in flight.  A step's memory is a chain of dependent random reads
 * (the pair -> its context -> the context's positives, for the negative's
 * test, and its feature rows -> their V and Adagrad rows), most of it beyond
 * the caches at MovieLens-25M size (81 MB of pairs, 40 MB of positive lists,
 * 83 MB of user rows).  run_steps draws each pair FM_BPR_AHEAD steps before
 * it runs and takes one link of the chain per step, prefetching the next, so
 * that the reads of successive steps overlap instead of waiting for one
 * another: the memory a step needs is in cache when it runs.  The draws
 * come from the same generator in a fixed order, so a seed still fixes
 * every step.
 */
#define FM_BPR_AHEAD 3			/* = the stages of run_steps before the step */

typedef struct Drawn
{
	int64_t		pair;
	int32_t		context;
	int32_t		item;
} Drawn;

/* At most this many cache lines of a context's positives are prefetched. */
#define FM_BPR_PREFETCH_LINES 8

static void
prefetch_positives(const FmImplicitData *d, int32_t c)
{
	const char *line = (const char *) (d->by_context.other + d->by_context.start[c]);
	const char *end = (const char *) (d->by_context.other + d->by_context.start[c + 1]);

	for (int n = 0; line < end && n < FM_BPR_PREFETCH_LINES; n++, line += 64)
		FM_PREFETCH(line);
}

/* The V and Adagrad rows of entity e's features. */
static void
prefetch_rows(const Bpr *s, const FmSparseRows *rows, int32_t e)
{
	size_t		row_bytes = (size_t) s->k * sizeof(float);

	for (int64_t p = rows->start[e]; p < rows->start[e + 1]; p++)
	{
		const char *v = (const char *) fm_model_v(s->m, rows->ids[p]);
		const char *acc = (const char *) (s->acc_v + (size_t) rows->ids[p] * s->k);

		for (size_t b = 0; b < row_bytes; b += 64)
		{
			FM_PREFETCH(v + b);
			FM_PREFETCH(acc + b);
		}
	}
}

/*
 * n steps, each on a uniform training pair and a uniform negative of its
 * context drawn from rng; adds their losses and count.  Step t's pair is
 * drawn at iteration t - 3, its context read at t - 2 (prefetching the
 * context's lists), its positives and feature rows prefetched at t - 1, its
 * negative drawn at t.
 */
static void
run_steps(Bpr *s, FmRng *rng, int64_t n, double *loss, int64_t *steps)
{
	const FmImplicitData *d = s->d;
	Drawn		ring[FM_BPR_AHEAD + 1];

	for (int64_t t = -FM_BPR_AHEAD; t < n; t++)
	{
		if (t + FM_BPR_AHEAD < n)
		{
			Drawn	   *a = &ring[(t + FM_BPR_AHEAD) % (FM_BPR_AHEAD + 1)];

			a->pair = (int64_t) fm_rng_below(rng, (uint64_t) d->n_pairs);
			FM_PREFETCH(d->pair_context + a->pair);
			FM_PREFETCH(d->pair_item + a->pair);
		}
		if (t + 2 >= 0 && t + 2 < n)
		{
			Drawn	   *b = &ring[(t + 2) % (FM_BPR_AHEAD + 1)];

			b->context = d->pair_context[b->pair];
			b->item = d->pair_item[b->pair];
			FM_PREFETCH(d->by_context.start + b->context);
			FM_PREFETCH(d->contexts.start + b->context);
			FM_PREFETCH(d->items.start + b->item);
		}
		if (t + 1 >= 0 && t + 1 < n)
		{
			const Drawn *c = &ring[(t + 1) % (FM_BPR_AHEAD + 1)];

			prefetch_positives(d, c->context);
			prefetch_rows(s, &d->contexts, c->context);
			prefetch_rows(s, &d->items, c->item);
		}
		if (t >= 0)
		{
			const Drawn *now = &ring[t % (FM_BPR_AHEAD + 1)];
			int32_t		j = draw_negative(s, rng, now->context);

			if (j >= 0)
			{
				*loss += step(s, now->context, now->item, j);
				(*steps)++;
			}
			if ((t + 1) % FM_TICK_ROWS == 0)
				fm_hooks_tick(s->hooks);
		}
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

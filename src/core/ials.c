/*
 * ials.c - coordinate descent for implicit feedback over every (context,
 * item) pair with the Gram-matrix trick (see ials.h for the equations).
 *
 * Work in double: the augmented vectors, their residual products r and the
 * cached predictions of the observed pairs are updated incrementally after
 * each of the (k + 1) * m steps of an entity, and recomputed from the model
 * at the start of every side's sweep, so rounding never accumulates over
 * epochs.  The model itself is float: each step rounds the new value to
 * float first and propagates exactly the rounded change.
 */
#include "ials.h"
#include "implicit_eval.h"
#include "train_util.h"

#include <math.h>
#include <string.h>

/* Work units (multiply-adds) between two ticks: a few milliseconds. */
#define FM_IALS_TICK_WORK (1 << 21)

struct FmIals
{
	const FmImplicitData *d;
	int32_t		k;
	int32_t		dim;			/* k + 2 */
	double		alpha0;
	double	   *item_alpha;		/* weight of target 0 on every pair of item i */
	double		alpha_sum;		/* sum of item_alpha */
	double		reg_w;
	double		reg_v;
	double	   *aug[2];			/* contexts, items: n x dim */
	double	   *r;				/* G aug of the side being swept */
	double	   *gram;			/* dim x dim, of the other side */
	double	   *other_t;		/* the other side's aug, transposed: dim x n_other */
	double	   *side_cache;		/* r and other_t: (n_contexts + n_items) x dim */

	/*
	 * The predictions of the observed pairs, in the order of the swept
	 * side's pair lists (by context, then by item: recomputed at the start
	 * of each side anyway): an entity's pairs are then contiguous, with
	 * their other entities and weights alongside in the lists, so a step
	 * reads them in place instead of gathering copies.
	 */
	double	   *y;
	int			y_side;			/* the order of y */
	int64_t    *item_fill;		/* scratch: n_items + 1, for pair order */
	double	   *penalty;		/* lambda_f */
	double	   *coef;			/* scratch: the own-slot coefficient per entity */
	int			side;
	const FmTrainHooks *hooks;
	int64_t		work;

	FmImplicitValidation *validation;
	const FmAllocator *a;
};

static int32_t
side_size(const FmIals *s, int side)
{
	return side == 0 ? s->d->contexts.n : s->d->items.n;
}

static const FmSparseRows *
side_rows(const FmIals *s, int side)
{
	return side == 0 ? &s->d->contexts : &s->d->items;
}

static const FmPairLists *
side_pairs(const FmIals *s, int side)
{
	return side == 0 ? &s->d->by_context : &s->d->by_item;
}

static void
add_work(FmIals *s, int64_t units)
{
	s->work += units;
	if (s->work >= FM_IALS_TICK_WORK)
	{
		s->work = 0;
		fm_hooks_tick(s->hooks);
	}
}

/* ---- augmented vectors, Gram matrix, residual products, predictions ---- */

/* aug of every entity of a side from the model: (own, 1, sum) or (1, own, sum). */
static void
compute_aug(FmIals *s, const FmModel *m, int side)
{
	const FmSparseRows *rows = side_rows(s, side);
	int32_t		k = s->k;

	for (int32_t e = 0; e < rows->n; e++)
	{
		double	   *v = s->aug[side] + (size_t) e * s->dim;
		double		own = side == 0 ? m->w0 : 0.0;
		double		squares = 0.0,
					norm = 0.0;

		memset(v, 0, (size_t) s->dim * sizeof(double));
		for (int64_t p = rows->start[e]; p < rows->start[e + 1]; p++)
		{
			const float *vf = fm_model_v(m, rows->ids[p]);
			double		x = rows->x[p];

			own += x * m->w[rows->ids[p]];
			for (int32_t f = 0; f < k; f++)
			{
				v[2 + f] += x * vf[f];
				squares += x * x * (double) vf[f] * vf[f];
			}
		}
		for (int32_t f = 0; f < k; f++)
			norm += v[2 + f] * v[2 + f];
		v[side] = own + 0.5 * (norm - squares);
		v[1 - side] = 1.0;
		add_work(s, (rows->start[e + 1] - rows->start[e]) * k);
	}
}

/* G = sum_e aug_e aug_e^T over a side. */
static void
compute_gram(FmIals *s, int side)
{
	int32_t		n = side_size(s, side),
				dim = s->dim;

	memset(s->gram, 0, (size_t) dim * dim * sizeof(double));
	for (int32_t e = 0; e < n; e++)
	{
		const double *v = s->aug[side] + (size_t) e * dim;
		double		weight = side == 1 ? s->item_alpha[e] : 1.0;

		for (int32_t i = 0; i < dim; i++)
		{
			double		vi = weight * v[i];
			double	   *row = s->gram + (size_t) i * dim;

			for (int32_t j = i; j < dim; j++)
				row[j] += vi * v[j];
		}
		add_work(s, dim * dim / 2);
	}
	for (int32_t i = 0; i < dim; i++)
		for (int32_t j = 0; j < i; j++)
			s->gram[(size_t) i * dim + j] = s->gram[(size_t) j * dim + i];
}

/* r_e = G aug_e for every entity of a side. */
static void
compute_r(FmIals *s, int side)
{
	int32_t		n = side_size(s, side),
				dim = s->dim;

	for (int32_t e = 0; e < n; e++)
	{
		const double *v = s->aug[side] + (size_t) e * dim;
		double	   *r = s->r + (size_t) e * dim;

		for (int32_t i = 0; i < dim; i++)
		{
			const double *row = s->gram + (size_t) i * dim;
			double		sum = 0.0;

			for (int32_t j = 0; j < dim; j++)
				sum += row[j] * v[j];
			r[i] = sum;
		}
		add_work(s, dim * dim);
	}
}

static double
dot(const double *a, const double *b, int32_t n)
{
	double		sum = 0.0;

	for (int32_t i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}

/*
 * y in the order of the side's pair lists, computed in pair order (by
 * context: the contexts' vectors, the larger side, read in sequence) and
 * stored by item through the counting order for the item side.
 */
static void
compute_predictions(FmIals *s, int side)
{
	const FmImplicitData *d = s->d;

	if (side == 1)
		memcpy(s->item_fill, d->by_item.start, ((size_t) d->items.n + 1) * sizeof(int64_t));
	for (int64_t p = 0; p < d->n_pairs; p++)
	{
		int64_t		q = side == 0 ? p : s->item_fill[d->pair_item[p]]++;

		s->y[q] = dot(s->aug[0] + (size_t) d->pair_context[p] * s->dim,
					  s->aug[1] + (size_t) d->pair_item[p] * s->dim, s->dim);
	}
	s->y_side = side;
	add_work(s, d->n_pairs * s->dim);
}

/*
 * The pair loops read one factor of the other side's vectors at a time:
 * transposed, that is one short contiguous array per factor (L1-resident)
 * instead of one cache line per pair.
 */
static void
transpose_other(FmIals *s, int side)
{
	int32_t		n = side_size(s, 1 - side);
	const double *aug = s->aug[1 - side];

	for (int32_t t = 0; t < n; t++)
		for (int32_t j = 0; j < s->dim; j++)
			s->other_t[(size_t) j * n + t] = aug[(size_t) t * s->dim + j];
	add_work(s, (int64_t) n * s->dim);
}

void
fm_ials_begin_side(FmIals *s, const FmModel *model, int side)
{
	/* r for this side's entities, other_t after it (cache-line aligned) */
	size_t		r_size = ((size_t) side_size(s, side) * s->dim + 7) & ~(size_t) 7;

	s->side = side;
	s->r = s->side_cache;
	s->other_t = s->side_cache + r_size;
	compute_aug(s, model, 0);
	compute_aug(s, model, 1);
	compute_gram(s, 1 - side);
	compute_r(s, side);
	compute_predictions(s, side);
	transpose_other(s, side);
}

/* ---- one parameter ---- */

/*
 * The entities of a step: those having the feature (or every context, for
 * w0), each with x; theta is the parameter, j the slot of its factor (-1
 * for a linear term).  On entity e with value x the derivative of y is the
 * augmented vector a_e u_own + b_e u_j with a_e = x for a linear term and
 * x (aug_e[j] - x theta) for a factor, b_e = x.
 */
typedef struct Step
{
	int32_t		n;
	const int32_t *entity;		/* NULL: entities 0 .. n-1 */
	const float *x;				/* NULL: x = 1 */
	int32_t		j;
	double		theta;
	double		penalty;
} Step;

static void
step_entity(const Step *st, int32_t t, int32_t *e, double *x)
{
	*e = st->entity ? st->entity[t] : t;
	*x = st->x ? st->x[t] : 1.0;
}

/* Set the parameter to its minimiser; returns the change (of the float value when rounded). */
static double
minimise(FmIals *s, const Step *st, bool round_to_float)
{
	const int	o = s->side;
	/* in locals: with -fno-strict-aliasing a store to y would reload them */
	const int64_t *pair_start = side_pairs(s, o)->start;
	const int32_t *pair_other = side_pairs(s, o)->other;
	const float *pair_weight = side_pairs(s, o)->weight;
	double	   *y = s->y;
	const int32_t dim = s->dim,
				j = st->j;
	/* factor j of the other side's vectors (unused for a linear term) */
	const double *other = s->other_t + (size_t) (j >= 0 ? j : 0) * side_size(s, 1 - o);
	const double *G = s->gram;
	const double *g_o = G + (size_t) o * dim;
	const double *g_j = G + (size_t) (j >= 0 ? j : o) * dim;
	const double goo = G[o * dim + o];
	const double goj = j >= 0 ? G[o * dim + j] : 0.0;
	const double gjj = j >= 0 ? G[j * dim + j] : 0.0;
	double		grad_all = 0.0,
				hess_all = 0.0,
				grad_obs = 0.0,
				hess_obs = 0.0;
	double		grad,
				hess,
				next,
				delta;
	int64_t		pairs = 0;

	for (int32_t t = 0; t < st->n; t++)
	{
		int32_t		e;
		double		x,
					a,
					b;
		const double *v,
				   *r;

		step_entity(st, t, &e, &x);
		v = s->aug[o] + (size_t) e * dim;
		r = s->r + (size_t) e * dim;
		a = j >= 0 ? x * (v[j] - x * st->theta) : x;
		b = j >= 0 ? x : 0.0;
		s->coef[t] = a;
		{
			/* items weigh their own alpha; for contexts G holds the items' */
			double		m = o == 1 ? s->item_alpha[e] : 1.0;

			grad_all += m * (a * r[o] + (j >= 0 ? b * r[j] : 0.0));
			hess_all += m * (a * a * goo + 2.0 * a * b * goj + b * b * gjj);
		}
		for (int64_t q = pair_start[e], end = pair_start[e + 1]; q < end; q++)
		{
			double		h = a + b * other[pair_other[q]];
			double		w = pair_weight[q];

			grad_obs += w * h * (y[q] - 1.0);
			hess_obs += w * h * h;
		}
		pairs += pair_start[e + 1] - pair_start[e];
	}
	grad = grad_all + grad_obs + st->penalty * st->theta;
	hess = hess_all + hess_obs + st->penalty;
	add_work(s, st->n + pairs);
	if (!(hess > 0.0))
		return 0.0;
	next = st->theta - grad / hess;
	if (round_to_float)
		next = (double) (float) next;
	delta = next - st->theta;
	if (delta == 0.0)
		return 0.0;

	/* propagate: aug, r = G aug, and the observed predictions */
	for (int32_t t = 0; t < st->n; t++)
	{
		int32_t		e;
		double		x,
					da,
					db;
		double	   *v,
				   *r;

		step_entity(st, t, &e, &x);
		v = s->aug[o] + (size_t) e * dim;
		r = s->r + (size_t) e * dim;
		da = delta * s->coef[t];
		db = j >= 0 ? delta * x : 0.0;
		v[o] += da;
		if (j >= 0)
			v[j] += db;
		/* G is symmetric: its rows o and j are its columns, contiguous */
		for (int32_t i = 0; i < dim; i++)
			r[i] += da * g_o[i] + db * g_j[i];
		for (int64_t q = pair_start[e], end = pair_start[e + 1]; q < end; q++)
			y[q] += da + db * other[pair_other[q]];
	}
	add_work(s, (int64_t) st->n * dim + pairs);
	return delta;
}

/* The entities of a feature (every context for w0, feature -1). */
static void
feature_step(const FmIals *s, int32_t feature, Step *st)
{
	const FmImplicitData *d = s->d;

	if (feature < 0)
	{
		st->n = d->contexts.n;
		st->entity = NULL;
		st->x = NULL;
		return;
	}
	st->n = (int32_t) (d->feature_start[feature + 1] - d->feature_start[feature]);
	st->entity = d->feature_entity + d->feature_start[feature];
	st->x = d->feature_x + d->feature_start[feature];
}

/* Fit one parameter of the step's feature: factor -1 is w_f (or w0). */
static void
update_step(FmIals *s, FmModel *model, int32_t feature, int32_t factor, Step *st)
{
	if (feature < 0)
	{
		st->j = -1;
		st->theta = model->w0;
		st->penalty = 0.0;
		model->w0 += minimise(s, st, false);
	}
	else if (factor < 0)
	{
		st->j = -1;
		st->theta = model->w[feature];
		st->penalty = s->reg_w * s->penalty[feature];
		model->w[feature] = (float) (st->theta + minimise(s, st, true));
	}
	else
	{
		float	   *v = fm_model_v(model, feature);

		st->j = 2 + factor;
		st->theta = v[factor];
		st->penalty = s->reg_v * s->penalty[feature];
		v[factor] = (float) (st->theta + minimise(s, st, true));
	}
}

void
fm_ials_update(FmIals *s, FmModel *model, int32_t feature, int32_t factor)
{
	Step		st;

	feature_step(s, feature, &st);
	update_step(s, model, feature, factor, &st);
}

/* w_f and then v_f, one factor after the other. */
static void
update_feature(FmIals *s, FmModel *model, int32_t feature)
{
	Step		st;

	feature_step(s, feature, &st);
	update_step(s, model, feature, -1, &st);
	for (int32_t factor = 0; factor < s->k; factor++)
		update_step(s, model, feature, factor, &st);
}

static void
sweep_side(FmIals *s, FmModel *model, int side)
{
	fm_ials_begin_side(s, model, side);
	if (side == 0)
		fm_ials_update(s, model, -1, -1);
	for (int32_t f = 0; f < s->d->n_features; f++)
		if (s->d->item_side[f] == side)
			update_feature(s, model, f);
}

void
fm_ials_epoch(FmIals *s, FmModel *model)
{
	sweep_side(s, model, 0);
	sweep_side(s, model, 1);
}

/* ---- objective ---- */

static double
penalty_sum(const FmIals *s, const FmModel *m)
{
	double		sum = 0.0;

	for (int32_t f = 0; f < m->n_features; f++)
	{
		const float *v = fm_model_v(m, f);
		double		norm = 0.0;

		for (int32_t i = 0; i < m->k; i++)
			norm += (double) v[i] * v[i];
		sum += s->penalty[f] * (s->reg_w * (double) m->w[f] * m->w[f] + s->reg_v * norm);
	}
	return sum;
}

/*
 * Summed in pair order whichever order y is in: by item, pair p is at the
 * next place of its item's list (by_item is a stable counting sort).
 */
static double
observed_loss(FmIals *s)
{
	const FmImplicitData *d = s->d;
	double		sum = 0.0;

	if (s->y_side == 1)
		memcpy(s->item_fill, d->by_item.start, ((size_t) d->items.n + 1) * sizeof(int64_t));
	for (int64_t p = 0; p < d->n_pairs; p++)
	{
		int64_t		q = s->y_side == 0 ? p : s->item_fill[d->pair_item[p]]++;
		double		err = s->y[q] - 1.0;

		sum += d->pair_weight[p] * err * err;
	}
	add_work(s, d->n_pairs);
	return sum;
}

double
fm_ials_objective(FmIals *s, const FmModel *model)
{
	double		all = 0.0;

	fm_ials_begin_side(s, model, 0);
	/* r_c = G_items aug_c, so sum_{c,i} alpha_i y_ci^2 = sum_c <aug_c, r_c> */
	for (int32_t c = 0; c < s->d->contexts.n; c++)
		all += dot(s->aug[0] + (size_t) c * s->dim, s->r + (size_t) c * s->dim, s->dim);
	return observed_loss(s) + all + penalty_sum(s, model);
}

/* The objective from the caches left by the item sweep: no recomputation. */
static double
objective_after_item_sweep(FmIals *s, const FmModel *model)
{
	double		all = 0.0;

	for (int32_t i = 0; i < s->d->items.n; i++)
		all += s->item_alpha[i] * dot(s->aug[1] + (size_t) i * s->dim, s->r + (size_t) i * s->dim, s->dim);
	return observed_loss(s) + all + penalty_sum(s, model);
}

double
fm_ials_penalty(const FmIals *s, int32_t feature)
{
	return s->penalty[feature];
}

/*
 * lambda_f = (sum_e x_ef^2 (W_e + U_e))^exponent, U_e the summed weight of
 * e's unobserved targets: sum_i alpha_i for a context, alpha_i N_contexts for
 * an item.
 */
static void
compute_penalties(FmIals *s, double exponent)
{
	const FmImplicitData *d = s->d;

	for (int32_t f = 0; f < d->n_features; f++)
	{
		int			side = d->item_side[f];
		const FmPairLists *pl = side_pairs(s, side);
		double		frequency = 0.0;

		for (int64_t t = d->feature_start[f]; t < d->feature_start[f + 1]; t++)
		{
			int32_t		e = d->feature_entity[t];
			double		x = d->feature_x[t];
			double		weights = 0.0;

			for (int64_t p = pl->start[e]; p < pl->start[e + 1]; p++)
				weights += pl->weight[p];
			frequency += x * x * (weights + (side == 0 ? s->alpha_sum :
											 s->item_alpha[e] * d->contexts.n));
		}
		s->penalty[f] = pow(frequency, exponent);
	}
}

/*
 * alpha_i = alpha0 N_items (n_i + 1)^beta / sum_j (n_j + 1)^beta, n_i the
 * item's training positives: the unobserved weight spread by popularity (He
 * et al., SIGIR 2016), with the mean alpha0; beta = 0 is uniform.
 */
static void
compute_item_alpha(FmIals *s, double beta)
{
	const FmImplicitData *d = s->d;
	double		total = 0.0;

	s->item_alpha = fm_alloc(s->a, ((size_t) d->items.n + 1) * sizeof(double));
	for (int32_t i = 0; i < d->items.n; i++)
	{
		s->item_alpha[i] = pow((double) (d->by_item.start[i + 1] - d->by_item.start[i]) + 1.0, beta);
		total += s->item_alpha[i];
	}
	s->alpha_sum = 0.0;
	for (int32_t i = 0; i < d->items.n; i++)
	{
		s->item_alpha[i] *= s->alpha0 * d->items.n / total;
		s->alpha_sum += s->item_alpha[i];
	}
}

double
fm_ials_unobserved_weight(const FmIals *s, int32_t item)
{
	return s->item_alpha[item];
}

/* ---- validation ---- */

static void
rank_tick(void *arg)
{
	fm_hooks_tick((const FmTrainHooks *) arg);
}

double
fm_ials_validation_ndcg(FmIals *s, const FmModel *model)
{
	return fm_implicit_validation_ndcg(s->validation, model, rank_tick, (void *) s->hooks);
}

/* ---- setup and the training loop ---- */

static int64_t
longest_feature(const FmImplicitData *d)
{
	int64_t		longest = d->contexts.n;	/* w0 spans every context */

	for (int32_t f = 0; f < d->n_features; f++)
		if (d->feature_start[f + 1] - d->feature_start[f] > longest)
			longest = d->feature_start[f + 1] - d->feature_start[f];
	return longest;
}

FmIals *
fm_ials_new(const FmImplicitData *d, const FmTrainParams *params, const FmModel *model,
			const FmTrainHooks *hooks, const FmAllocator *a)
{
	FmIals	   *s = fm_alloc(a, sizeof(FmIals));

	s->d = d;
	s->a = a;
	s->hooks = hooks;
	s->k = model->k;
	s->dim = model->k + 2;
	s->alpha0 = params->unobserved_weight;
	s->reg_w = params->reg_w;
	s->reg_v = params->reg_v;
	s->aug[0] = fm_alloc(a, ((size_t) d->contexts.n + 1) * s->dim * sizeof(double));
	s->aug[1] = fm_alloc(a, ((size_t) d->items.n + 1) * s->dim * sizeof(double));
	/* r of one side and other_t of the other, one after the other */
	s->side_cache = fm_alloc(a, ((size_t) d->contexts.n + d->items.n + 2) * s->dim * sizeof(double) + 64);
	s->gram = fm_alloc(a, (size_t) s->dim * s->dim * sizeof(double));
	s->y = fm_alloc(a, ((size_t) d->n_pairs + 1) * sizeof(double));
	s->item_fill = fm_alloc(a, ((size_t) d->items.n + 1) * sizeof(int64_t));
	s->penalty = fm_alloc(a, ((size_t) d->n_features + 1) * sizeof(double));
	s->coef = fm_alloc(a, ((size_t) longest_feature(d) + 1) * sizeof(double));
	compute_item_alpha(s, params->popularity_exponent);
	compute_penalties(s, params->reg_exponent);
	s->validation = fm_implicit_validation_new(d, s->k, fm_seed_for(params->seed, FM_SEED_SHUFFLE), a);
	return s;
}

void
fm_train_ials(const FmImplicitData *d, const FmTrainParams *params, FmModel *model,
			  const FmTrainHooks *hooks, const FmAllocator *a, FmTrainResult *result)
{
	FmIals	   *s;

	fm_model_init_random(model, 0.0, params->init_stdev, fm_seed_for(params->seed, FM_SEED_INIT));
	s = fm_ials_new(d, params, model, hooks, a);
	result->epochs_run = 0;
	result->train_rmse = NAN;
	result->valid_rmse = NAN;
	result->valid_rmse_mean_model = NAN;
	result->train_loss = NAN;
	result->valid_ndcg = NAN;
	for (int32_t epoch = 0; epoch < params->epochs; epoch++)
	{
		double		started = fm_wall_seconds();
		FmEpochReport report;

		fm_ials_epoch(s, model);
		report.epoch = epoch + 1;
		report.train_rmse = NAN;
		report.valid_rmse = NAN;
		report.train_loss = objective_after_item_sweep(s, model);
		report.valid_ndcg = fm_ials_validation_ndcg(s, model);
		report.seconds = fm_wall_seconds() - started;
		result->epochs_run = epoch + 1;
		result->train_loss = report.train_loss;
		result->valid_ndcg = report.valid_ndcg;
		if (hooks != NULL && hooks->epoch_done != NULL && !hooks->epoch_done(&report, hooks->arg))
			break;
	}
}

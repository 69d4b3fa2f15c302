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
 *
 * Blocks (what makes a sweep parallel, and the same with one participant or
 * several).  Each side's entities are cut into FM_IALS_BLOCKS ranges of
 * about equal work.  A step of one parameter reads and writes only the
 * caches (aug, r, y) of the entities having its feature, and the other
 * side's transposed vectors, which do not change during the sweep; so
 *   - a feature all of whose entities lie in one block ("local": a user id,
 *     a movie id) depends on nothing outside that block, and the local
 *     features of different blocks commute: each block's owner sweeps them;
 *   - a feature spanning blocks (w0, age, gender, a genre) has its gradient
 *     and curvature summed block by block, each block by its owner, the
 *     block sums then added in block order by every participant after a
 *     barrier: all reach the same minimiser and each propagates it to the
 *     entities of its own blocks.
 * A side's sweep is w0 (contexts), then every block's local features, then
 * the spanning features in id order; every sum has the same terms in the
 * same order whatever the number of participants, so the model is the same
 * to the bit for 1 to FM_IALS_BLOCKS participants.  Barriers: three per
 * side to set the caches up, and one per step of a spanning feature ((k +
 * 1) per spanning feature): a few thousand per epoch on MovieLens-shaped
 * data, against millions of steps.
 */
#include "ials.h"
#include "implicit_eval.h"
#include "train_util.h"

#include <math.h>
#include <string.h>

/* Work units (multiply-adds) between two ticks: a few milliseconds. */
#define FM_IALS_TICK_WORK (1 << 21)

/* One parameter's sums over a range of its entities (see minimise). */
typedef struct StepSums
{
	double		grad_all;
	double		hess_all;
	double		grad_obs;
	double		hess_obs;
} StepSums;

struct FmIals
{
	const FmImplicitData *d;	/* &data in a participant's view */
	FmImplicitData data;		/* the data's arrays, at this process's addresses */
	int32_t		k;
	int32_t		dim;			/* k + 2 */
	double		alpha0;
	double	   *item_alpha;		/* weight of target 0 on every pair of item i */
	double		alpha_sum;		/* sum of item_alpha */
	double		reg_w;
	double		reg_v;
	double	   *aug[2];			/* contexts, items: n x dim */
	double	   *r;				/* G aug of the side being swept */
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
	double	   *penalty;		/* lambda_f */

	/* blocks (see the head of the file) */
	int32_t		block_start[2][FM_IALS_BLOCKS + 1];	/* entities of block b */
	int32_t    *feature_order;	/* per side: local features block by block, then spanning */
	int32_t		local_start[2][FM_IALS_BLOCKS + 1]; /* block b's in feature_order */
	int32_t		spanning_end[2];	/* spanning: local_start[side][BLOCKS] .. this */
	StepSums   *block_sums;		/* 2 x BLOCKS: a spanning step's, by step parity */
	double	   *block_gram;		/* BLOCKS x dim x dim: each block's part of G */

	/* the participant's own */
	double	   *gram;			/* dim x dim, of the other side */
	double	   *coef;			/* the own-slot coefficient per entity of a step */
	int64_t    *item_fill;		/* n_items + 1, for pair order (leader only) */
	int			side;
	int			slot;			/* blocks slot * BLOCKS / slots .. of both sides */
	int			slots;
	int			parity;			/* of the spanning steps so far, for block_sums */
	void		(*barrier) (void *arg);
	void	   *barrier_arg;
	const FmTrainHooks *hooks;
	int64_t		work;

	FmImplicitValidation *validation;	/* leader only */
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

/* Wait until every participant got here (nothing to wait for alone). */
static void
sync_participants(FmIals *s)
{
	if (s->slots > 1)
		s->barrier(s->barrier_arg);
}

/* This participant's blocks. */
static int32_t
first_block(const FmIals *s)
{
	return s->slot * FM_IALS_BLOCKS / s->slots;
}

static int32_t
end_block(const FmIals *s)
{
	return (s->slot + 1) * FM_IALS_BLOCKS / s->slots;
}

/* This participant's entities of a side: those of its blocks. */
static int32_t
first_entity(const FmIals *s, int side)
{
	return s->block_start[side][first_block(s)];
}

static int32_t
end_entity(const FmIals *s, int side)
{
	return s->block_start[side][end_block(s)];
}

/* ---- augmented vectors, Gram matrix, residual products, predictions ---- */

/* aug of entities [first, end) of a side from the model: (own, 1, sum) or (1, own, sum). */
static void
compute_aug(FmIals *s, const FmModel *m, int side, int32_t first, int32_t end)
{
	const FmSparseRows *rows = side_rows(s, side);
	int32_t		k = s->k;

	for (int32_t e = first; e < end; e++)
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

/* Block b's part of G = sum_e aug_e aug_e^T over a side (upper triangle). */
static void
compute_block_gram(FmIals *s, int side, int32_t b)
{
	int32_t		dim = s->dim;
	double	   *gram = s->block_gram + (size_t) b * dim * dim;

	memset(gram, 0, (size_t) dim * dim * sizeof(double));
	for (int32_t e = s->block_start[side][b]; e < s->block_start[side][b + 1]; e++)
	{
		const double *v = s->aug[side] + (size_t) e * dim;
		double		weight = side == 1 ? s->item_alpha[e] : 1.0;

		for (int32_t i = 0; i < dim; i++)
		{
			double		vi = weight * v[i];
			double	   *row = gram + (size_t) i * dim;

			for (int32_t j = i; j < dim; j++)
				row[j] += vi * v[j];
		}
		add_work(s, dim * dim / 2);
	}
}

/* G: the blocks' parts added in block order, then mirrored. */
static void
combine_gram(FmIals *s)
{
	int32_t		dim = s->dim;

	memset(s->gram, 0, (size_t) dim * dim * sizeof(double));
	for (int32_t b = 0; b < FM_IALS_BLOCKS; b++)
	{
		const double *part = s->block_gram + (size_t) b * dim * dim;

		for (int32_t i = 0; i < dim; i++)
			for (int32_t j = i; j < dim; j++)
				s->gram[(size_t) i * dim + j] += part[(size_t) i * dim + j];
	}
	for (int32_t i = 0; i < dim; i++)
		for (int32_t j = 0; j < i; j++)
			s->gram[(size_t) i * dim + j] = s->gram[(size_t) j * dim + i];
	add_work(s, (int64_t) FM_IALS_BLOCKS * dim * dim / 2);
}

/* r_e = G aug_e for entities [first, end) of a side. */
static void
compute_r(FmIals *s, int side, int32_t first, int32_t end)
{
	int32_t		dim = s->dim;

	for (int32_t e = first; e < end; e++)
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
 * y of the pairs of entities [first, end) of the swept side, in the order
 * of its pair lists: the entity's own vector stays in cache while its
 * pairs' other vectors are read (the contexts' from the item side: 16 (k +
 * 2) bytes each, together well inside a large L3 for MovieLens sizes).
 */
static void
compute_predictions(FmIals *s, int side, int32_t first, int32_t end)
{
	const FmPairLists *pl = side_pairs(s, side);
	const double *own = s->aug[side];
	const double *other = s->aug[1 - side];
	int32_t		dim = s->dim;

	for (int32_t e = first; e < end; e++)
	{
		const double *v = own + (size_t) e * dim;

		for (int64_t q = pl->start[e]; q < pl->start[e + 1]; q++)
		{
			const double *u = other + (size_t) pl->other[q] * dim;

			/* context first, as in observed_loss and the objective */
			s->y[q] = side == 0 ? dot(v, u, dim) : dot(u, v, dim);
		}
		add_work(s, (pl->start[e + 1] - pl->start[e]) * dim);
	}
}

/*
 * The pair loops read one factor of the other side's vectors at a time:
 * transposed, that is one short contiguous array per factor (L1-resident)
 * instead of one cache line per pair.  Entities [first, end) of the other side.
 */
static void
transpose_other(FmIals *s, int side, int32_t first, int32_t end)
{
	int32_t		n = side_size(s, 1 - side);
	const double *aug = s->aug[1 - side];

	for (int32_t t = first; t < end; t++)
		for (int32_t j = 0; j < s->dim; j++)
			s->other_t[(size_t) j * n + t] = aug[(size_t) t * s->dim + j];
	add_work(s, (int64_t) (end - first) * s->dim);
}

/*
 * The caches of a side's sweep, each participant for its blocks: both
 * sides' aug and the other side's parts of G; then, once every part is
 * there, G, r, y (reading every other-side aug) and the transposed other
 * side.
 */
static void
begin_side(FmIals *s, const FmModel *model, int side)
{
	/* r for this side's entities, other_t after it (cache-line aligned) */
	size_t		r_size = ((size_t) side_size(s, side) * s->dim + 7) & ~(size_t) 7;

	s->side = side;
	s->r = s->side_cache;
	s->other_t = s->side_cache + r_size;
	compute_aug(s, model, 0, first_entity(s, 0), end_entity(s, 0));
	compute_aug(s, model, 1, first_entity(s, 1), end_entity(s, 1));
	/* a block's part of G reads the aug its own participant just made */
	for (int32_t b = first_block(s); b < end_block(s); b++)
		compute_block_gram(s, 1 - side, b);
	sync_participants(s);
	combine_gram(s);
	compute_r(s, side, first_entity(s, side), end_entity(s, side));
	compute_predictions(s, side, first_entity(s, side), end_entity(s, side));
	transpose_other(s, side, first_entity(s, 1 - side), end_entity(s, 1 - side));
	s->y_side = side;
	/* every participant reads all of the transposed other side */
	sync_participants(s);
}

void
fm_ials_begin_side(FmIals *s, const FmModel *model, int side)
{
	begin_side(s, model, side);
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
	const int32_t *entity;		/* NULL: entities 0 .. n-1, ascending either way */
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

/*
 * The gradient and curvature terms of the step's entities [first, end),
 * over every item (through G and r) and over the observed pairs; keeps
 * each entity's own-slot coefficient for propagate().
 */
static void
step_sums(FmIals *s, const Step *st, int32_t first, int32_t end, StepSums *out)
{
	const int	o = s->side;
	/* in locals: with -fno-strict-aliasing a store would reload them */
	const int64_t *pair_start = side_pairs(s, o)->start;
	const int32_t *pair_other = side_pairs(s, o)->other;
	const float *pair_weight = side_pairs(s, o)->weight;
	const double *y = s->y;
	const int32_t dim = s->dim,
				j = st->j;
	/* factor j of the other side's vectors (unused for a linear term) */
	const double *other = s->other_t + (size_t) (j >= 0 ? j : 0) * side_size(s, 1 - o);
	const double *G = s->gram;
	const double goo = G[o * dim + o];
	const double goj = j >= 0 ? G[o * dim + j] : 0.0;
	const double gjj = j >= 0 ? G[j * dim + j] : 0.0;
	double		grad_all = 0.0,
				hess_all = 0.0,
				grad_obs = 0.0,
				hess_obs = 0.0;
	int64_t		pairs = 0;

	for (int32_t t = first; t < end; t++)
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
		for (int64_t q = pair_start[e], qend = pair_start[e + 1]; q < qend; q++)
		{
			double		h = a + b * other[pair_other[q]];
			double		w = pair_weight[q];

			grad_obs += w * h * (y[q] - 1.0);
			hess_obs += w * h * h;
		}
		pairs += pair_start[e + 1] - pair_start[e];
	}
	out->grad_all = grad_all;
	out->hess_all = hess_all;
	out->grad_obs = grad_obs;
	out->hess_obs = hess_obs;
	add_work(s, (end - first) + pairs);
}

/* The Newton step to the minimiser (of the float value when rounded). */
static double
step_delta(const Step *st, const StepSums *sum, bool round_to_float)
{
	double		grad = sum->grad_all + sum->grad_obs + st->penalty * st->theta;
	double		hess = sum->hess_all + sum->hess_obs + st->penalty;
	double		next;

	if (!(hess > 0.0))
		return 0.0;
	next = st->theta - grad / hess;
	if (round_to_float)
		next = (double) (float) next;
	return next - st->theta;
}

/* The change delta of the parameter into aug, r = G aug and y of entities [first, end). */
static void
propagate(FmIals *s, const Step *st, int32_t first, int32_t end, double delta)
{
	const int	o = s->side;
	const int64_t *pair_start = side_pairs(s, o)->start;
	const int32_t *pair_other = side_pairs(s, o)->other;
	double	   *y = s->y;
	const int32_t dim = s->dim,
				j = st->j;
	const double *other = s->other_t + (size_t) (j >= 0 ? j : 0) * side_size(s, 1 - o);
	const double *g_o = s->gram + (size_t) o * dim;
	const double *g_j = s->gram + (size_t) (j >= 0 ? j : o) * dim;
	int64_t		pairs = 0;

	for (int32_t t = first; t < end; t++)
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
		for (int64_t q = pair_start[e], qend = pair_start[e + 1]; q < qend; q++)
			y[q] += da + db * other[pair_other[q]];
		pairs += pair_start[e + 1] - pair_start[e];
	}
	add_work(s, (int64_t) (end - first) * dim + pairs);
}

/*
 * Where each of this participant's blocks starts among the step's
 * entities (ascending): cut[b] for its blocks b and the end of the last.
 */
static void
block_cuts(const FmIals *s, const Step *st, int32_t *cut)
{
	for (int32_t b = first_block(s); b <= end_block(s); b++)
	{
		int32_t		bound = s->block_start[s->side][b];
		int32_t		lo = 0,
					hi = st->n;

		if (st->entity == NULL)
		{
			cut[b] = bound;
			continue;
		}
		while (lo < hi)
		{
			int32_t		mid = lo + (hi - lo) / 2;

			if (st->entity[mid] < bound)
				lo = mid + 1;
			else
				hi = mid;
		}
		cut[b] = lo;
	}
}

/*
 * Set the parameter to its minimiser; returns the change.  cut NULL: the
 * step's entities are in one block, this participant's (a local feature).
 * Else every participant sums its blocks, and all add the block sums in
 * block order once everyone's are there.
 */
static double
minimise(FmIals *s, const Step *st, const int32_t *cut, bool round_to_float)
{
	StepSums	sum;
	double		delta;
	int32_t		first = 0,
				end = st->n;

	if (cut == NULL)
		step_sums(s, st, 0, st->n, &sum);
	else
	{
		StepSums   *blocks = s->block_sums + (size_t) s->parity * FM_IALS_BLOCKS;

		for (int32_t b = first_block(s); b < end_block(s); b++)
			step_sums(s, st, cut[b], cut[b + 1], &blocks[b]);
		sync_participants(s);
		/*
		 * Two buffers by parity: a participant that is through this step
		 * may write the next one's sums while another still reads these.
		 */
		s->parity ^= 1;
		memset(&sum, 0, sizeof(sum));
		for (int32_t b = 0; b < FM_IALS_BLOCKS; b++)
		{
			sum.grad_all += blocks[b].grad_all;
			sum.hess_all += blocks[b].hess_all;
			sum.grad_obs += blocks[b].grad_obs;
			sum.hess_obs += blocks[b].hess_obs;
		}
		first = cut[first_block(s)];
		end = cut[end_block(s)];
	}
	delta = step_delta(st, &sum, round_to_float);
	if (delta != 0.0)
		propagate(s, st, first, end, delta);
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

/*
 * Fit one parameter of the step's feature: factor -1 is w_f (or w0).  A
 * spanning feature's new value is written by participant 0 alone (all
 * have the same); w0 is each participant's own copy, updated by all.
 */
static void
update_step(FmIals *s, FmModel *model, int32_t feature, int32_t factor, Step *st,
			const int32_t *cut)
{
	bool		writes = cut == NULL || s->slot == 0;

	if (feature < 0)
	{
		st->j = -1;
		st->theta = model->w0;
		st->penalty = 0.0;
		model->w0 += minimise(s, st, cut, false);
	}
	else if (factor < 0)
	{
		float		next;

		st->j = -1;
		st->theta = model->w[feature];
		st->penalty = s->reg_w * s->penalty[feature];
		next = (float) (st->theta + minimise(s, st, cut, true));
		if (writes)
			model->w[feature] = next;
	}
	else
	{
		float	   *v = fm_model_v(model, feature);
		float		next;

		st->j = 2 + factor;
		st->theta = v[factor];
		st->penalty = s->reg_v * s->penalty[feature];
		next = (float) (st->theta + minimise(s, st, cut, true));
		if (writes)
			v[factor] = next;
	}
}

void
fm_ials_update(FmIals *s, FmModel *model, int32_t feature, int32_t factor)
{
	Step		st;
	int32_t		cut[FM_IALS_BLOCKS + 1];

	feature_step(s, feature, &st);
	block_cuts(s, &st, cut);
	update_step(s, model, feature, factor, &st, cut);
}

/* w_f (or w0, feature -1) and then v_f, one factor after the other. */
static void
update_feature(FmIals *s, FmModel *model, int32_t feature, bool spanning)
{
	Step		st;
	int32_t		cut[FM_IALS_BLOCKS + 1];

	feature_step(s, feature, &st);
	if (spanning)
		block_cuts(s, &st, cut);
	update_step(s, model, feature, -1, &st, spanning ? cut : NULL);
	if (feature < 0)
		return;
	for (int32_t factor = 0; factor < s->k; factor++)
		update_step(s, model, feature, factor, &st, spanning ? cut : NULL);
}

/* A side's sweep by one participant: see the head of the file. */
static void
sweep_blocks(FmIals *s, FmModel *model, int side)
{
	begin_side(s, model, side);
	if (side == 0)
		update_feature(s, model, -1, true);
	for (int32_t b = first_block(s); b < end_block(s); b++)
		for (int32_t i = s->local_start[side][b]; i < s->local_start[side][b + 1]; i++)
			update_feature(s, model, s->feature_order[i], false);
	for (int32_t i = s->local_start[side][FM_IALS_BLOCKS]; i < s->spanning_end[side]; i++)
		update_feature(s, model, s->feature_order[i], true);
}

/* The caches' pointers as a participant's sweep of `side` left them. */
static void
adopt_side(FmIals *s, int side)
{
	size_t		r_size = ((size_t) side_size(s, side) * s->dim + 7) & ~(size_t) 7;

	s->side = side;
	s->y_side = side;
	s->r = s->side_cache;
	s->other_t = s->side_cache + r_size;
}

static void
sweep_side(FmIals *s, FmModel *model, int side)
{
	const FmParallel *parallel = s->hooks != NULL ? s->hooks->parallel : NULL;

	if (parallel != NULL && parallel->ials_side != NULL)
	{
		parallel->ials_side(parallel->arg, s, model, side);
		adopt_side(s, side);
	}
	else
		sweep_blocks(s, model, side);
}

void
fm_ials_epoch(FmIals *s, FmModel *model)
{
	sweep_side(s, model, 0);
	sweep_side(s, model, 1);
}

void
fm_ials_participant_sweep(FmIals *p, FmModel *model, int side)
{
	sweep_blocks(p, model, side);
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

	begin_side(s, model, 0);
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

/*
 * A side's blocks: consecutive entities of about equal sweep work, an
 * entity's being a step per feature (and w0) over its pairs twice (sums,
 * propagation) and its r once.
 */
static void
compute_blocks(FmIals *s, int side)
{
	const FmSparseRows *rows = side_rows(s, side);
	const FmPairLists *pl = side_pairs(s, side);
	int32_t    *start = s->block_start[side];
	double		total = 0.0,
				done = 0.0;
	int32_t		b = 0;

	for (int32_t e = 0; e < rows->n; e++)
		total += (double) (rows->start[e + 1] - rows->start[e] + 1) *
			(2.0 * (double) (pl->start[e + 1] - pl->start[e]) + s->dim);
	start[0] = 0;
	for (int32_t e = 0; e < rows->n; e++)
	{
		done += (double) (rows->start[e + 1] - rows->start[e] + 1) *
			(2.0 * (double) (pl->start[e + 1] - pl->start[e]) + s->dim);
		while (b + 1 < FM_IALS_BLOCKS && done * FM_IALS_BLOCKS >= total * (b + 1))
			start[++b] = e + 1;
	}
	while (b < FM_IALS_BLOCKS)
		start[++b] = rows->n;
}

/* The block of an entity of a side. */
static int32_t
block_of(const FmIals *s, int side, int32_t e)
{
	int32_t		lo = 0,
				hi = FM_IALS_BLOCKS - 1;

	while (lo < hi)
	{
		int32_t		mid = lo + (hi - lo + 1) / 2;

		if (s->block_start[side][mid] <= e)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * feature_order: per side, the local features of block 0, of block 1, ...,
 * then the spanning ones, each group in id order (a counting sort by the
 * group: key side * (BLOCKS + 1) + block, BLOCKS for spanning).  A feature
 * no entity has is local to block 0.
 */
static void
order_features(FmIals *s, const FmAllocator *scratch)
{
	const FmImplicitData *d = s->d;
	int32_t		n_keys = 2 * (FM_IALS_BLOCKS + 1);
	int32_t		count[2 * (FM_IALS_BLOCKS + 1) + 1];
	uint8_t    *key_of = fm_alloc(scratch, (size_t) d->n_features + 1);

	memset(count, 0, sizeof(count));
	for (int32_t f = 0; f < d->n_features; f++)
	{
		int			side = d->item_side[f];
		int64_t		first = d->feature_start[f],
					last = d->feature_start[f + 1] - 1;
		int32_t		block = 0;

		if (last >= first)
		{
			block = block_of(s, side, d->feature_entity[first]);
			if (block_of(s, side, d->feature_entity[last]) != block)
				block = FM_IALS_BLOCKS;
		}
		key_of[f] = (uint8_t) (side * (FM_IALS_BLOCKS + 1) + block);
		count[key_of[f] + 1]++;
	}
	for (int32_t key = 0; key < n_keys; key++)
		count[key + 1] += count[key];
	for (int side = 0; side < 2; side++)
	{
		for (int32_t b = 0; b <= FM_IALS_BLOCKS; b++)
			s->local_start[side][b] = count[side * (FM_IALS_BLOCKS + 1) + b];
		s->spanning_end[side] = count[(side + 1) * (FM_IALS_BLOCKS + 1)];
	}
	for (int32_t f = 0; f < d->n_features; f++)
		s->feature_order[count[key_of[f]]++] = f;
}

static size_t
shared_block(size_t bytes)
{
	return (bytes + 63) / 64 * 64 + 64;
}

size_t
fm_ials_shared_bytes(const FmImplicitData *d, int32_t k)
{
	size_t		dim = (size_t) k + 2;

	return shared_block(sizeof(FmIals)) +
		shared_block(((size_t) d->items.n + 1) * sizeof(double)) +
		shared_block(((size_t) d->contexts.n + 1) * dim * sizeof(double)) +
		shared_block(((size_t) d->items.n + 1) * dim * sizeof(double)) +
		shared_block(((size_t) d->contexts.n + d->items.n + 2) * dim * sizeof(double) + 64) +
		shared_block(((size_t) d->n_pairs + 1) * sizeof(double)) +
		shared_block(((size_t) d->n_features + 1) * sizeof(double)) +
		shared_block(((size_t) d->n_features + 1) * sizeof(int32_t)) +
		shared_block(2 * FM_IALS_BLOCKS * sizeof(StepSums)) +
		shared_block(FM_IALS_BLOCKS * dim * dim * sizeof(double));
}

/* A participant's own scratch: G and the coefficients of a step. */
static void
alloc_participant_scratch(FmIals *s, const FmAllocator *a)
{
	s->gram = fm_alloc(a, (size_t) s->dim * s->dim * sizeof(double));
	s->coef = fm_alloc(a, ((size_t) longest_feature(s->d) + 1) * sizeof(double));
}

FmIals *
fm_ials_new(const FmImplicitData *d, const FmTrainParams *params, const FmModel *model,
			const FmTrainHooks *hooks, const FmAllocator *a)
{
	const FmParallel *parallel = hooks != NULL ? hooks->parallel : NULL;
	/* what the participants of a parallel sweep share comes from its memory */
	const FmAllocator *shared = parallel != NULL && parallel->ials_side != NULL ? &parallel->shared : a;
	FmIals	   *s = fm_alloc(shared, sizeof(FmIals));

	s->data = *d;
	s->d = &s->data;
	s->a = a;
	s->hooks = hooks;
	s->k = model->k;
	s->dim = model->k + 2;
	s->slot = 0;
	s->slots = 1;
	s->alpha0 = params->unobserved_weight;
	s->reg_w = params->reg_w;
	s->reg_v = params->reg_v;
	s->item_alpha = fm_alloc(shared, ((size_t) d->items.n + 1) * sizeof(double));
	s->aug[0] = fm_alloc(shared, ((size_t) d->contexts.n + 1) * s->dim * sizeof(double));
	s->aug[1] = fm_alloc(shared, ((size_t) d->items.n + 1) * s->dim * sizeof(double));
	/* r of one side and other_t of the other, one after the other */
	s->side_cache = fm_alloc(shared, ((size_t) d->contexts.n + d->items.n + 2) * s->dim * sizeof(double) + 64);
	s->y = fm_alloc(shared, ((size_t) d->n_pairs + 1) * sizeof(double));
	s->penalty = fm_alloc(shared, ((size_t) d->n_features + 1) * sizeof(double));
	s->feature_order = fm_alloc(shared, ((size_t) d->n_features + 1) * sizeof(int32_t));
	s->block_sums = fm_alloc(shared, 2 * FM_IALS_BLOCKS * sizeof(StepSums));
	s->block_gram = fm_alloc(shared, FM_IALS_BLOCKS * (size_t) s->dim * s->dim * sizeof(double));
	s->item_fill = fm_alloc(a, ((size_t) d->items.n + 1) * sizeof(int64_t));
	alloc_participant_scratch(s, a);
	compute_item_alpha(s, params->popularity_exponent);
	compute_penalties(s, params->reg_exponent);
	compute_blocks(s, 0);
	compute_blocks(s, 1);
	order_features(s, a);
	s->validation = fm_implicit_validation_new(d, s->k, fm_seed_for(params->seed, FM_SEED_SHUFFLE), a);
	return s;
}

static void
shift_array(void **array, size_t bytes, void *arg)
{
	(void) bytes;
	if (*array != NULL)
		*array = (char *) *array + *(const ptrdiff_t *) arg;
}

#define SHIFT(field) shift_array((void **) &(field), 0, &delta)

FmIals *
fm_ials_participant(const FmIals *shared, ptrdiff_t delta, int slot, const FmTrainHooks *hooks,
					const FmAllocator *a)
{
	FmIals	   *p = fm_alloc(a, sizeof(FmIals));

	memcpy(p, (const char *) shared + delta, sizeof(FmIals));
	fm_implicit_training_view(&p->data, delta);
	p->d = &p->data;
	SHIFT(p->item_alpha);
	SHIFT(p->aug[0]);
	SHIFT(p->aug[1]);
	SHIFT(p->side_cache);
	SHIFT(p->y);
	SHIFT(p->penalty);
	SHIFT(p->feature_order);
	SHIFT(p->block_sums);
	SHIFT(p->block_gram);
	p->item_fill = NULL;
	p->validation = NULL;
	p->hooks = hooks;
	p->a = a;
	p->work = 0;
	p->slot = slot;
	p->slots = 1;
	p->parity = 0;
	alloc_participant_scratch(p, a);
	return p;
}

#undef SHIFT

void
fm_ials_participant_begin(FmIals *p, int slots, void (*barrier) (void *arg), void *barrier_arg)
{
	p->slots = slots;
	p->barrier = barrier;
	p->barrier_arg = barrier_arg;
	p->parity = 0;
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

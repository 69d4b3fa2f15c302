/*
 * test_ials.c - implicit-feedback data (implicit.c) and iALS (ials.c).
 *
 * On small random data the Gram-matrix computation is compared with brute
 * force over every (context, item) pair: the objective, the exact
 * one-dimensional minimiser of each kind of parameter, the objective never
 * increasing over epochs, and the validation NDCG@10 against a full sort
 * with fm_evaluate's rules.
 */
#include "unit.h"

#include "bpr.h"
#include "ials.h"
#include "implicit.h"
#include "metrics.h"
#include "model.h"
#include "rng.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Feature layout: users 0..N_USERS-1 (group 0), items (group 1), a
 * demographic value per user (group 2, two values), genres (group 3, item
 * side, an array: 1/len each).
 */
#define N_USERS 7
#define N_ITEMS 9				/* the last one is in no row */
#define N_DEMO 2
#define N_GENRES 3
#define USER0 0
#define ITEM0 (USER0 + N_USERS)
#define DEMO0 (ITEM0 + N_ITEMS)
#define GENRE0 (DEMO0 + N_DEMO)
#define N_FEATURES (GENRE0 + N_GENRES)
#define N_ROWS 40

static int32_t groups[N_FEATURES];
static const uint8_t item_groups[4] = {0, 1, 0, 1};
static char key_text[N_FEATURES][8];
static const char *values[N_FEATURES];

typedef struct Data
{
	FmArena		arena;
	FmAllocator a;
	FmDataset	rows;
	FmDataset	cat;
	FmImplicitData d;
	FmImplicitSpec spec;
} Data;

static void
set_groups(void)
{
	for (int f = 0; f < N_FEATURES; f++)
	{
		groups[f] = f < ITEM0 ? 0 : f < DEMO0 ? 1 : f < GENRE0 ? 2 : 3;
		snprintf(key_text[f], sizeof(key_text[f]), "%d", 100 - f);
		values[f] = key_text[f];
	}
}

/* Random rows (user, demo, item) with targets 1..5, and the catalogue with genres. */
static void
make_data(Data *t, uint64_t seed, double fraction, double confidence)
{
	FmRng		rng;
	int64_t		nz = 0;

	memset(t, 0, sizeof(*t));
	t->a = fm_arena_allocator(&t->arena);
	fm_rng_seed(&rng, seed);
	fm_dataset_alloc(&t->rows, N_ROWS, N_ROWS * 3, N_FEATURES, 4, &t->a);
	t->rows.feature_group = groups;
	for (int r = 0; r < N_ROWS; r++)
	{
		int			u = (int) fm_rng_below(&rng, N_USERS);

		t->rows.row_start[r] = nz;
		t->rows.ids[nz] = ITEM0 + (int) fm_rng_below(&rng, N_ITEMS - 1);
		t->rows.weights[nz++] = 1;
		t->rows.ids[nz] = USER0 + u;
		t->rows.weights[nz++] = 1;
		t->rows.ids[nz] = DEMO0 + u % N_DEMO;
		t->rows.weights[nz++] = 1;
		t->rows.targets[r] = 1 + (float) fm_rng_below(&rng, 5);
	}
	t->rows.row_start[N_ROWS] = nz;

	fm_dataset_alloc(&t->cat, N_ITEMS, N_ITEMS * (1 + N_GENRES), N_FEATURES, 4, &t->a);
	t->cat.feature_group = groups;
	nz = 0;
	for (int i = 0; i < N_ITEMS; i++)
	{
		int			n = 1 + i % N_GENRES;

		t->cat.row_start[i] = nz;
		t->cat.ids[nz] = ITEM0 + i;
		t->cat.weights[nz++] = 1;
		for (int g = 0; g < n; g++)
		{
			t->cat.ids[nz] = GENRE0 + (i + g) % N_GENRES;
			t->cat.weights[nz++] = 1.0f / n;
		}
	}
	t->cat.row_start[N_ITEMS] = nz;
	t->cat.n_nonzeros = nz;

	t->spec.key_group = 1;
	t->spec.item_group = item_groups;
	t->spec.positive_threshold = NAN;
	t->spec.confidence = confidence;
	t->spec.validation_fraction = fraction;
	t->spec.seed = seed;
	t->spec.feature_value = values;
}

static void
params_for_test(FmTrainParams *p)
{
	fm_train_params_default(p, FM_METHOD_IALS);
	p->k = 3;
	p->reg_w = 0.05;
	p->reg_v = 0.1;
	p->unobserved_weight = 0.3;
	p->init_stdev = 0.3;
	p->reg_exponent = 0.7;
	p->popularity_exponent = 0.4;
}

/* ---- brute force ---- */

/* The full FM prediction of context c with item i, from the combined row. */
static double
predict_pair(const FmModel *m, const FmImplicitData *d, int32_t c, int32_t i)
{
	int32_t		ids[64];
	float		xs[64];
	int32_t		n = 0;

	for (int64_t p = d->contexts.start[c]; p < d->contexts.start[c + 1]; p++)
	{
		ids[n] = d->contexts.ids[p];
		xs[n++] = d->contexts.x[p];
	}
	for (int64_t p = d->items.start[i]; p < d->items.start[i + 1]; p++)
	{
		ids[n] = d->items.ids[p];
		xs[n++] = d->items.x[p];
	}
	return fm_model_predict_raw(m, ids, xs, n, NULL);
}

static double
pair_weight(const FmImplicitData *d, int32_t c, int32_t i)
{
	for (int64_t p = d->by_context.start[c]; p < d->by_context.start[c + 1]; p++)
		if (d->pair_item[p] == i)
			return d->pair_weight[p];
	return 0.0;
}

/* lambda_f from the definition, by looping over both sides' rows. */
/* The items' unobserved weights from their definition (mean alpha0). */
static void
brute_alpha(const FmImplicitData *d, const FmTrainParams *p, double *alpha)
{
	double		total = 0.0;

	for (int32_t i = 0; i < d->items.n; i++)
	{
		double		n = 0.0;

		for (int32_t c = 0; c < d->contexts.n; c++)
			n += pair_weight(d, c, i) > 0;
		alpha[i] = pow(n + 1.0, p->popularity_exponent);
		total += alpha[i];
	}
	for (int32_t i = 0; i < d->items.n; i++)
		alpha[i] *= p->unobserved_weight * d->items.n / total;
}

static double
brute_penalty(const FmImplicitData *d, int32_t f, const FmTrainParams *p)
{
	double		alpha[N_ITEMS];
	double		alpha_sum = 0.0;
	double		exponent = p->reg_exponent;
	double		freq = 0.0;

	brute_alpha(d, p, alpha);
	for (int32_t i = 0; i < d->items.n; i++)
		alpha_sum += alpha[i];
	for (int32_t c = 0; c < d->contexts.n; c++)
		for (int64_t q = d->contexts.start[c]; q < d->contexts.start[c + 1]; q++)
			if (d->contexts.ids[q] == f)
			{
				double		w = 0.0;

				for (int32_t i = 0; i < d->items.n; i++)
					w += pair_weight(d, c, i);
				freq += (double) d->contexts.x[q] * d->contexts.x[q] * (w + alpha_sum);
			}
	for (int32_t i = 0; i < d->items.n; i++)
		for (int64_t q = d->items.start[i]; q < d->items.start[i + 1]; q++)
			if (d->items.ids[q] == f)
			{
				double		w = 0.0;

				for (int32_t c = 0; c < d->contexts.n; c++)
					w += pair_weight(d, c, i);
				freq += (double) d->items.x[q] * d->items.x[q] * (w + alpha[i] * d->contexts.n);
			}
	return pow(freq, exponent);
}

static double
brute_objective(const FmModel *m, const FmImplicitData *d, const FmTrainParams *p)
{
	double		loss = 0.0;
	double		alpha[N_ITEMS];

	brute_alpha(d, p, alpha);
	for (int32_t c = 0; c < d->contexts.n; c++)
		for (int32_t i = 0; i < d->items.n; i++)
		{
			double		y = predict_pair(m, d, c, i);
			double		w = pair_weight(d, c, i);

			loss += w * (y - 1.0) * (y - 1.0) + alpha[i] * y * y;
		}
	for (int32_t f = 0; f < m->n_features; f++)
	{
		double		norm = 0.0;

		for (int32_t j = 0; j < m->k; j++)
			norm += (double) fm_model_v(m, f)[j] * fm_model_v(m, f)[j];
		loss += brute_penalty(d, f, p) *
			(p->reg_w * (double) m->w[f] * m->w[f] + p->reg_v * norm);
	}
	return loss;
}

/* ---- tests ---- */

static void
test_build(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmImplicitStatus st;
	int64_t		total = 0;

	set_groups();
	make_data(&t, 3, 0.0, 0.5);
	st = fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a);
	CHECK(st == FM_IMPLICIT_OK);
	CHECK(t.d.items.n == N_ITEMS);
	CHECK(t.d.contexts.n <= N_USERS);
	CHECK(t.d.n_valid == 0);
	/* numeric keys become the ranking ids */
	CHECK(t.d.item_ids[0] == 100 - ITEM0);
	/* repeats merged: weights add up to the sum of 1 + 0.5 * target */
	for (int r = 0; r < N_ROWS; r++)
		total += 2 + (int64_t) t.rows.targets[r];	/* 2 * (1 + 0.5 t) */
	{
		double		sum = 0.0;

		for (int64_t p = 0; p < t.d.n_pairs; p++)
		{
			sum += t.d.pair_weight[p];
			if (p > 0 && t.d.pair_context[p] == t.d.pair_context[p - 1])
				CHECK(t.d.pair_item[p] > t.d.pair_item[p - 1]);
		}
		CHECK_NEAR(sum, total / 2.0, 1e-4);
	}
	CHECK(t.d.by_item.start[N_ITEMS] - t.d.by_item.start[N_ITEMS - 1] == 0);
	fm_arena_free(&t.arena);

	/* the errors */
	make_data(&t, 3, 0.0, 0.0);
	t.cat.n_rows = 0;
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) ==
		  FM_IMPLICIT_EMPTY_CATALOGUE);
	t.cat.n_rows = N_ITEMS - 1;	/* item N_ITEMS-1 is never rated: still fine */
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	t.cat.n_rows = 3;
	st = fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a);
	CHECK(st == FM_IMPLICIT_UNKNOWN_ITEM);
	CHECK(problem.feature >= ITEM0 + 3 && problem.feature < DEMO0);
	t.cat.n_rows = N_ITEMS;
	t.cat.ids[t.cat.row_start[1]] = ITEM0;	/* item 1 gets item 0's key */
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) ==
		  FM_IMPLICIT_DUPLICATE_ITEM);
	CHECK(problem.row == 1);
	t.cat.ids[t.cat.row_start[1]] = GENRE0;
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) ==
		  FM_IMPLICIT_CATALOGUE_ROW_WITHOUT_KEY);
	t.cat.ids[t.cat.row_start[1]] = ITEM0 + 1;
	t.spec.positive_threshold = 6;
	st = fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a);
	CHECK(st == FM_IMPLICIT_NO_POSITIVE);
	t.spec.positive_threshold = NAN;
	t.spec.confidence = -0.5;	/* 1 - 0.5 * target <= 0 from target 2 */
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) ==
		  FM_IMPLICIT_BAD_CONFIDENCE);
	t.spec.confidence = 0.0;
	t.rows.ids[t.rows.row_start[5]] = USER0;	/* row 5 loses its item */
	st = fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a);
	CHECK(st == FM_IMPLICIT_ROW_WITHOUT_ITEM);
	CHECK(problem.row == 5);
	fm_arena_free(&t.arena);
}

static void
test_threshold_and_split(void)
{
	Data		t;
	FmImplicitProblem problem;
	int64_t		positives = 0;

	make_data(&t, 5, 0.3, 0.0);
	t.spec.positive_threshold = 3;
	for (int r = 0; r < N_ROWS; r++)
		positives += t.rows.targets[r] >= 3;
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	CHECK(problem.positives == positives);
	CHECK(t.d.n_valid > 0);
	CHECK(t.d.n_pairs + t.d.n_valid <= positives);
	/* every context keeps a training pair */
	for (int32_t c = 0; c < t.d.contexts.n; c++)
		CHECK(t.d.by_context.start[c + 1] > t.d.by_context.start[c]);
	fm_arena_free(&t.arena);
}

static void
test_objective_matches_brute_force(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		m;
	FmIals	   *s;

	make_data(&t, 7, 0.0, 0.4);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	params_for_test(&p);
	fm_model_alloc(&m, N_FEATURES, p.k, &t.a);
	fm_model_init_random(&m, 0.2, p.init_stdev, 11);
	for (int f = 0; f < N_FEATURES; f++)
		m.w[f] = 0.1f * (float) ((f % 5) - 2);
	s = fm_ials_new(&t.d, &p, &m, NULL, &t.a);
	for (int f = 0; f < N_FEATURES; f++)
		CHECK_NEAR(fm_ials_penalty(s, f), brute_penalty(&t.d, f, &p), 1e-9 * (1 + brute_penalty(&t.d, f, &p)));
	{
		double		brute = brute_objective(&m, &t.d, &p);

		CHECK_NEAR(fm_ials_objective(s, &m), brute, 1e-6 * brute);	/* the brute force sums in float */
	}
	fm_arena_free(&t.arena);
}

/*
 * After an update, the brute-force objective as a function of that one
 * parameter (a parabola) has its minimum there: fit it through three
 * points around the new value.
 */
static void
check_minimum(FmIals *s, FmModel *m, const FmImplicitData *d, const FmTrainParams *p,
			  int32_t feature, int32_t factor, int side)
{
	double	   *theta_d = NULL;
	float	   *theta_f = NULL;
	double		theta,
				eps = 0.05,
				lo,
				mid,
				hi,
				vertex,
				before = brute_objective(m, d, p);

	fm_ials_begin_side(s, m, side);
	fm_ials_update(s, m, feature, factor);
	if (feature < 0)
		theta_d = &m->w0;
	else
		theta_f = factor < 0 ? &m->w[feature] : fm_model_v(m, feature) + factor;
	theta = theta_d ? *theta_d : *theta_f;
#define SET(v) do { if (theta_d) *theta_d = (v); else *theta_f = (float) (v); } while (0)
	SET(theta - eps);
	lo = brute_objective(m, d, p);
	SET(theta + eps);
	hi = brute_objective(m, d, p);
	SET(theta);
	mid = brute_objective(m, d, p);
#undef SET
	vertex = theta - eps * (hi - lo) / (2.0 * (hi - 2.0 * mid + lo));
	CHECK(mid <= before + 1e-9 * before);
	CHECK(mid <= lo && mid <= hi);
	/* float rounding of the stored value, and of the three points */
	CHECK_NEAR(vertex, theta, 1e-5 * (1 + fabs(theta)));
}

static void
test_each_step_is_the_exact_minimiser(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		m;
	FmIals	   *s;

	make_data(&t, 13, 0.0, 0.7);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	params_for_test(&p);
	fm_model_alloc(&m, N_FEATURES, p.k, &t.a);
	fm_model_init_random(&m, 0.0, p.init_stdev, 17);
	s = fm_ials_new(&t.d, &p, &m, NULL, &t.a);
	check_minimum(s, &m, &t.d, &p, -1, -1, 0);	/* w0 */
	for (int f = 0; f < N_FEATURES; f++)
	{
		int			side = t.d.item_side[f];

		if (t.d.feature_start[f + 1] == t.d.feature_start[f])
			continue;			/* a user with no row: no parameter to fit */
		check_minimum(s, &m, &t.d, &p, f, -1, side);
		for (int j = 0; j < p.k; j++)
			check_minimum(s, &m, &t.d, &p, f, j, side);
	}
	fm_arena_free(&t.arena);
}

static void
test_objective_never_increases(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		m;
	FmIals	   *s;
	double		last;
	bool		monotone = true;

	make_data(&t, 21, 0.0, 1.0);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	params_for_test(&p);
	fm_model_alloc(&m, N_FEATURES, p.k, &t.a);
	fm_model_init_random(&m, 0.0, p.init_stdev, 23);
	s = fm_ials_new(&t.d, &p, &m, NULL, &t.a);
	last = fm_ials_objective(s, &m);
	CHECK_NEAR(last, brute_objective(&m, &t.d, &p), 1e-6 * last);
	for (int e = 0; e < 20; e++)
	{
		double		now;

		fm_ials_epoch(s, &m);
		now = fm_ials_objective(s, &m);
		monotone &= now <= last * (1 + 1e-12);
		last = now;
	}
	CHECK(monotone);
	CHECK_NEAR(last, brute_objective(&m, &t.d, &p), 1e-6 * last);
	fm_arena_free(&t.arena);
}

/* NDCG@10 of one context with fm_evaluate's rules, by a full sort. */
typedef struct Scored
{
	double		score;
	int64_t		id;
	int32_t		item;
} Scored;

static int
by_score(const void *a, const void *b)
{
	const Scored *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static void
test_validation_ndcg(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		m;
	FmIals	   *s;
	double		sum = 0.0;
	int			users = 0;

	make_data(&t, 31, 0.35, 0.0);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	params_for_test(&p);
	fm_model_alloc(&m, N_FEATURES, p.k, &t.a);
	fm_model_init_random(&m, 0.0, p.init_stdev, 37);
	s = fm_ials_new(&t.d, &p, &m, NULL, &t.a);
	fm_ials_epoch(s, &m);
	for (int32_t c = 0; c < t.d.contexts.n; c++)
	{
		Scored		list[N_ITEMS];
		int64_t		ranked[N_ITEMS],
					relevant[N_ITEMS];
		int			n = 0,
					nr = 0;

		if (t.d.valid_start[c + 1] == t.d.valid_start[c])
			continue;
		for (int32_t i = 0; i < t.d.items.n; i++)
		{
			if (pair_weight(&t.d, c, i) > 0)
				continue;		/* a training item of the context */
			list[n].score = predict_pair(&m, &t.d, c, i);
			list[n].id = t.d.item_ids[i];
			list[n++].item = i;
		}
		qsort(list, n, sizeof(Scored), by_score);
		for (int i = 0; i < n; i++)
			ranked[i] = list[i].id;
		for (int64_t v = t.d.valid_start[c]; v < t.d.valid_start[c + 1]; v++)
			relevant[nr++] = t.d.item_ids[t.d.valid_item[v]];
		sum += fm_ndcg_at_k(ranked, n, relevant, nr, 10);
		users++;
	}
	CHECK(users > 0);
	CHECK_NEAR(fm_ials_validation_ndcg(s, &m), sum / users, 1e-12);
	fm_arena_free(&t.arena);
}

/*
 * Parallel sweeps (FmParallel.ials_side) with threads standing in for
 * PostgreSQL's workers: each slot a thread with its own view and FmModel
 * struct, a pthread barrier for the participants' barrier.
 */
typedef struct Sweepers
{
	int			slots;
	FmIals	   *view[N_USERS + 1];
	FmModel		model[N_USERS + 1];
	FmModel    *leader_model;
	int			side;
	pthread_barrier_t barrier;
	int			sides_swept;
	const FmAllocator *a;
} Sweepers;

typedef struct Sweeper
{
	Sweepers   *all;
	int			slot;
} Sweeper;

static void
wait_all(void *arg)
{
	pthread_barrier_wait((pthread_barrier_t *) arg);
}

static void *
sweeper_run(void *arg)
{
	Sweeper    *me = arg;
	Sweepers   *all = me->all;

	fm_ials_participant_sweep(all->view[me->slot], &all->model[me->slot], all->side);
	return NULL;
}

static void
threaded_side(void *arg, FmIals *shared, FmModel *model, int side)
{
	Sweepers   *all = arg;
	pthread_t	thread[N_USERS + 1];
	Sweeper		sweeper[N_USERS + 1];

	if (all->view[0] == NULL)
		for (int slot = 0; slot < all->slots; slot++)
			all->view[slot] = fm_ials_participant(shared, 0, slot, NULL, all->a);
	all->side = side;
	pthread_barrier_init(&all->barrier, NULL, (unsigned) all->slots);
	for (int slot = 0; slot < all->slots; slot++)
	{
		/* the workers' structs: the shared w and V, w0 as the leader has it */
		all->model[slot] = *model;
		fm_ials_participant_begin(all->view[slot], all->slots, wait_all, &all->barrier);
		sweeper[slot].all = all;
		sweeper[slot].slot = slot;
	}
	for (int slot = 0; slot < all->slots; slot++)
		pthread_create(&thread[slot], NULL, sweeper_run, &sweeper[slot]);
	for (int slot = 0; slot < all->slots; slot++)
		pthread_join(thread[slot], NULL);
	pthread_barrier_destroy(&all->barrier);
	model->w0 = all->model[0].w0;
	/* every participant ends with the same w0 */
	for (int slot = 1; slot < all->slots; slot++)
		if (all->model[slot].w0 != model->w0)
			model->w0 = NAN;
	all->sides_swept++;
}

static bool
same_model(const FmModel *x, const FmModel *y)
{
	return x->w0 == y->w0 &&
		memcmp(x->w, y->w, (size_t) x->n_features * sizeof(float)) == 0 &&
		memcmp(x->V, y->V, (size_t) x->n_features * x->k * sizeof(float)) == 0;
}

static void
test_parallel_sweeps_same_bits(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		serial;
	FmTrainResult r_serial;

	make_data(&t, 41, 0.2, 1.0);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	params_for_test(&p);
	p.epochs = 4;
	fm_model_alloc(&serial, N_FEATURES, p.k, &t.a);
	fm_train_ials(&t.d, &p, &serial, NULL, &t.a, &r_serial);
	/* 1, 4 and 7 participants (7: as many as contexts, most blocks empty) */
	for (int slots = 1; slots <= N_USERS + 1; slots += 3)
	{
		Sweepers	all;
		FmParallel	parallel;
		FmTrainHooks hooks;
		FmModel		m;
		FmTrainResult r;

		memset(&all, 0, sizeof(all));
		memset(&parallel, 0, sizeof(parallel));
		memset(&hooks, 0, sizeof(hooks));
		all.slots = slots;
		all.a = &t.a;
		parallel.shared = t.a;
		parallel.ials_side = threaded_side;
		parallel.arg = &all;
		hooks.parallel = &parallel;
		fm_model_alloc(&m, N_FEATURES, p.k, &t.a);
		fm_train_ials(&t.d, &p, &m, &hooks, &t.a, &r);
		CHECK(all.sides_swept == 2 * p.epochs);
		CHECK(same_model(&serial, &m));
		CHECK(r.train_loss == r_serial.train_loss);
		CHECK(r.valid_ndcg == r_serial.valid_ndcg || (isnan(r.valid_ndcg) && isnan(r_serial.valid_ndcg)));
	}
	fm_arena_free(&t.arena);
}

/* BPR: the mean loss of an epoch falls, and a seed gives the same bits. */
typedef struct Losses
{
	double		first,
				last;
} Losses;

static bool
record_loss(const FmEpochReport *r, void *arg)
{
	Losses	   *l = arg;

	if (r->epoch == 1)
		l->first = r->train_loss;
	l->last = r->train_loss;
	return true;
}

static void
test_bpr(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		m1,
				m2;
	FmTrainResult result;
	Losses		losses = {NAN, NAN};
	FmTrainHooks hooks = {record_loss, NULL, &losses, NULL};

	make_data(&t, 41, 0.2, 0.0);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	fm_train_params_default(&p, FM_METHOD_BPR);
	p.k = 4;
	p.epochs = 40;
	p.learning_rate = 0.1;
	fm_model_alloc(&m1, N_FEATURES, p.k, &t.a);
	fm_model_alloc(&m2, N_FEATURES, p.k, &t.a);
	fm_train_bpr(&t.d, &p, &m1, &hooks, &t.a, &result);
	CHECK(result.epochs_run == 40);
	CHECK(losses.last < 0.5 * losses.first);
	CHECK(result.valid_ndcg >= 0.0 && result.valid_ndcg <= 1.0);
	fm_train_bpr(&t.d, &p, &m2, NULL, &t.a, &result);
	CHECK(memcmp(m1.V, m2.V, (size_t) N_FEATURES * p.k * sizeof(float)) == 0);
	CHECK(memcmp(m1.w, m2.w, (size_t) N_FEATURES * sizeof(float)) == 0);
	/* the context's own terms are not learnt: they cancel in y_ci - y_cj */
	CHECK(m1.w0 == 0.0 && m1.w[USER0] == 0.0f && m1.w[DEMO0] == 0.0f);
	fm_arena_free(&t.arena);
}

/*
 * Parallel BPR epochs (FmParallel.bpr_epoch): claims run by two views in
 * turn, in the order given, stand in for the workers; a claim's steps do
 * not depend on who runs it, so running the claims in reverse order with
 * one view gives the model of another interleaving: it learns as well.
 */
typedef struct Claims
{
	FmBpr	   *view[2];
	bool		reverse;
	int64_t		epochs;
	const FmAllocator *a;
} Claims;

static void
claimed_epoch(void *arg, FmBpr *shared, int64_t n_steps, double *loss, int64_t *steps)
{
	Claims	   *c = arg;
	int64_t		claims = (n_steps + 9) / 10;	/* of 10 steps: a few per epoch */

	if (c->view[0] == NULL)
		for (int v = 0; v < 2; v++)
			c->view[v] = fm_bpr_participant(shared, 0, NULL, c->a);
	for (int64_t i = 0; i < claims; i++)
	{
		int64_t		claim = c->reverse ? claims - 1 - i : i;
		int64_t		first = claim * 10;

		fm_bpr_participant_steps(c->view[i % 2], claim, n_steps - first < 10 ? n_steps - first : 10,
								 loss, steps);
	}
	c->epochs++;
}

static void
test_bpr_parallel_epochs(void)
{
	Data		t;
	FmImplicitProblem problem;
	FmTrainParams p;
	FmModel		serial,
				m[3];
	FmTrainResult r_serial,
				r[3];

	make_data(&t, 41, 0.2, 0.0);
	CHECK(fm_implicit_build(&t.rows, &t.cat, &t.spec, &t.d, &problem, &t.a) == FM_IMPLICIT_OK);
	fm_train_params_default(&p, FM_METHOD_BPR);
	p.k = 4;
	p.epochs = 40;
	p.learning_rate = 0.1;
	fm_model_alloc(&serial, N_FEATURES, p.k, &t.a);
	fm_train_bpr(&t.d, &p, &serial, NULL, &t.a, &r_serial);
	for (int run = 0; run < 3; run++)
	{
		Claims		c = {{NULL, NULL}, run == 2, 0, &t.a};
		FmParallel	parallel;
		FmTrainHooks hooks;

		memset(&parallel, 0, sizeof(parallel));
		memset(&hooks, 0, sizeof(hooks));
		parallel.shared = t.a;
		parallel.bpr_epoch = claimed_epoch;
		parallel.arg = &c;
		hooks.parallel = &parallel;
		fm_model_alloc(&m[run], N_FEATURES, p.k, &t.a);
		fm_train_bpr(&t.d, &p, &m[run], &hooks, &t.a, &r[run]);
		CHECK(c.epochs == p.epochs);
		CHECK(t.d.n_pairs > 20);
		CHECK(r[run].train_loss < 1.2 * r_serial.train_loss);
	}
	/* the same claims in the same order: the same bits */
	CHECK(memcmp(m[0].V, m[1].V, (size_t) N_FEATURES * p.k * sizeof(float)) == 0);
	/* another order: another model, as good */
	CHECK(memcmp(m[0].V, m[2].V, (size_t) N_FEATURES * p.k * sizeof(float)) != 0);
	CHECK(m[0].w0 == 0.0 && m[0].w[USER0] == 0.0f);
	fm_arena_free(&t.arena);
}

int
main(void)
{
	RUN_TEST(test_build);
	RUN_TEST(test_threshold_and_split);
	RUN_TEST(test_objective_matches_brute_force);
	RUN_TEST(test_each_step_is_the_exact_minimiser);
	RUN_TEST(test_objective_never_increases);
	RUN_TEST(test_validation_ndcg);
	RUN_TEST(test_parallel_sweeps_same_bits);
	RUN_TEST(test_bpr);
	RUN_TEST(test_bpr_parallel_epochs);
	return unit_report();
}

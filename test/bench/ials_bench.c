/*
 * ials_bench.c - implicit-feedback training (iALS) on MovieLens 100K from
 * the command line, evaluated with fm_evaluate's protocol: for every test
 * user with a test rating >= 4, the top 10 of all movies the user did not
 * rate in training, ranked by bias_i + <q_u, e_i>; P@10, R@10, NDCG@10.
 * This is how the defaults of iALS were chosen (--tune: a 10% per-user
 * validation split of u1.base, never u1.test).
 *
 * Features: user id, movie id, age group, gender, occupation (context) and
 * movie id, genres (item; each genre weighs 1 / number of genres).
 *
 * usage: ials_bench [--dir DIR] [--fold N | --all-folds] [--tune] [--cold]
 *        [--k N] [--epochs N] [--reg X] [--reg-w X] [--alpha0 X]
 *        [--confidence X] [--exponent X] [--init X] [--threshold X]
 *        [--seed N] [--validation-fraction X (0.1)] [--no-user-id]
 *        [--no-demographics] [--no-genres]
 *        [--augment] [--popularity] [--sgd-epoch] [--verbose]
 *
 *   --tune   train on 90% of u<fold>.base (each row held out with
 *            probability 0.1, seeded), evaluate on the other 10%;
 *   --cold   hold out a seeded random 20% of users entirely: train on the
 *            others' u<fold>.base rows, rank the held-out users from age
 *            group, gender and occupation against the whole catalogue,
 *            relevant = all their ratings >= 4 (u<fold>.base and .test; with
 *            --tune only their u<fold>.base rows);
 *   --augment     every training row a second time without the user id;
 *   --popularity  rank by the number of training ratings instead (baseline);
 *   --sgd-epoch   also time iALS and SGD epochs at the same k, interleaved.
 */
#include "fm_core.h"
#include "dataset.h"
#include "bpr.h"
#include "ials.h"
#include "implicit.h"
#include "model.h"
#include "rank_eval.h"
#include "rng.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_USERS 1000
#define MAX_ITEMS 1700
#define MAX_OCC 32
#define N_AGE 7
#define N_GENRES 19
#define MAX_RATINGS 100001

enum
{
	G_USER, G_ITEM, G_AGE, G_GENDER, G_OCC, G_GENRE, N_GROUPS
};

static int	n_users,
			n_items,
			n_occ;
static int	user_age[MAX_USERS + 1],
			user_gender[MAX_USERS + 1],
			user_occ[MAX_USERS + 1];
static char occ_names[MAX_OCC][32];
static unsigned char item_genre[MAX_ITEMS + 1][N_GENRES];
static char item_key_text[MAX_ITEMS + 1][12];

typedef struct Rating
{
	int			user,
				item;
	float		rating;
} Rating;

static int	id_user0,
			id_item0,
			id_age0,
			id_gender0,
			id_occ0,
			id_genre0,
			n_features;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static FILE *
open_file(const char *dir, const char *name)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
	{
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	return f;
}

static int
age_group(int age)
{
	return age < 18 ? 0 : age < 25 ? 1 : age < 35 ? 2 : age < 45 ? 3 : age < 50 ? 4 : age < 56 ? 5 : 6;
}

static void
read_users(const char *dir)
{
	FILE	   *f = open_file(dir, "u.user");
	char		line[512];

	while (fgets(line, sizeof(line), f))
	{
		int			id,
					age,
					o;
		char		g,
					occ[64];

		if (sscanf(line, "%d|%d|%c|%63[^|]|", &id, &age, &g, occ) != 4 || id > MAX_USERS)
			continue;
		user_age[id] = age_group(age);
		user_gender[id] = g == 'M';
		for (o = 0; o < n_occ && strcmp(occ_names[o], occ) != 0; o++)
			;
		if (o == n_occ)
			strcpy(occ_names[n_occ++], occ);
		user_occ[id] = o;
		if (id > n_users)
			n_users = id;
	}
	fclose(f);
}

static void
read_items(const char *dir)
{
	FILE	   *f = open_file(dir, "u.item");
	char		line[4096];

	while (fgets(line, sizeof(line), f))
	{
		int			id = atoi(line);
		char	   *p = line;
		int			bar = 0;

		if (id <= 0 || id > MAX_ITEMS)
			continue;
		/* the last 19 fields are the genre flags */
		while (*p && bar < 5)
			bar += *p++ == '|';
		for (int g = 0; g < N_GENRES && *p; g++)
		{
			item_genre[id][g] = *p == '1';
			while (*p && *p != '|')
				p++;
			if (*p)
				p++;
		}
		snprintf(item_key_text[id], sizeof(item_key_text[id]), "%d", id);
		if (id > n_items)
			n_items = id;
	}
	fclose(f);
}

static int
read_ratings(const char *dir, const char *name, Rating *out)
{
	FILE	   *f = open_file(dir, name);
	int			n = 0,
				u,
				i;
	float		r;
	long		ts;

	while (n < MAX_RATINGS && fscanf(f, "%d %d %f %ld", &u, &i, &r, &ts) == 4)
		out[n++] = (Rating) {u, i, r};
	fclose(f);
	return n;
}

static void
assign_ids(void)
{
	id_user0 = 0;
	id_item0 = id_user0 + n_users;
	id_age0 = id_item0 + n_items;
	id_gender0 = id_age0 + N_AGE;
	id_occ0 = id_gender0 + 2;
	id_genre0 = id_occ0 + n_occ;
	n_features = id_genre0 + N_GENRES;
}

static int32_t *feature_group_of;
static bool no_demo, no_genres, popularity, augment;

static void
set_groups(const FmAllocator *a)
{
	feature_group_of = fm_alloc(a, n_features * sizeof(int32_t));
	for (int f = 0; f < n_features; f++)
		feature_group_of[f] = f < id_item0 ? G_USER : f < id_age0 ? G_ITEM : f < id_gender0 ? G_AGE :
			f < id_occ0 ? G_GENDER : f < id_genre0 ? G_OCC : G_GENRE;
}

/* Rows: user id (unless no_user), age, gender, occupation, movie id. */
static void
build_rows(const Rating *r, int n, bool no_user, FmDataset *ds, const FmAllocator *a)
{
	int			per = no_user ? 4 : 5;
	int64_t		nz = 0;

	fm_dataset_alloc(ds, n, (int64_t) n * per, n_features, N_GROUPS, a);
	ds->feature_group = feature_group_of;
	for (int i = 0; i < n; i++)
	{
		int			u = r[i].user;

		ds->row_start[i] = nz;
		if (!no_user)
		{
			ds->ids[nz] = id_user0 + u - 1;
			ds->weights[nz++] = 1;
		}
		if (!no_demo)
		{
			ds->ids[nz] = id_age0 + user_age[u];
			ds->weights[nz++] = 1;
			ds->ids[nz] = id_gender0 + user_gender[u];
			ds->weights[nz++] = 1;
			ds->ids[nz] = id_occ0 + user_occ[u];
			ds->weights[nz++] = 1;
		}
		ds->ids[nz] = id_item0 + r[i].item - 1;
		ds->weights[nz++] = 1;
		ds->targets[i] = r[i].rating;
	}
	ds->row_start[n] = nz;
	ds->n_nonzeros = nz;
}

static void
build_catalogue(FmDataset *ds, const FmAllocator *a)
{
	int64_t		nz = 0;

	fm_dataset_alloc(ds, n_items, (int64_t) n_items * (1 + N_GENRES), n_features, N_GROUPS, a);
	ds->feature_group = feature_group_of;
	for (int m = 1; m <= n_items; m++)
	{
		int			ng = 0;

		ds->row_start[m - 1] = nz;
		ds->ids[nz] = id_item0 + m - 1;
		ds->weights[nz++] = 1;
		for (int g = 0; g < N_GENRES; g++)
			ng += item_genre[m][g];
		for (int g = 0; g < N_GENRES && !no_genres; g++)
			if (item_genre[m][g])
			{
				ds->ids[nz] = id_genre0 + g;
				ds->weights[nz++] = 1.0f / ng;
			}
	}
	ds->row_start[n_items] = nz;
	ds->n_nonzeros = nz;
}

/* ---- evaluation: fm_evaluate's protocol ---- */

static int
cmp_int(const void *a, const void *b)
{
	return *(const int32_t *) a - *(const int32_t *) b;
}

typedef struct Quality
{
	double		p,
				r,
				ndcg;
	long		users;
} Quality;

static Quality
evaluate(const FmModel *m, const Rating *train, int n_train, const Rating *test, int n_test,
		 const bool *cold, bool no_user, const FmAllocator *a)
{
	float	   *emb = fm_alloc(a, (size_t) n_items * m->k * sizeof(float));
	float	   *bias = fm_alloc(a, n_items * sizeof(float));
	int64_t    *ids = fm_alloc(a, n_items * sizeof(int64_t));
	float	   *queries = fm_alloc(a, (size_t) (n_users + 1) * m->k * sizeof(float));
	FmRankUser *users = fm_alloc(a, (n_users + 1) * sizeof(FmRankUser));
	int32_t    *excl = fm_alloc(a, (n_train + 1) * sizeof(int32_t));
	int32_t    *rel = fm_alloc(a, (n_test + 1) * sizeof(int32_t));
	int			n_eval = 0;
	long		ne = 0,
				nr = 0;
	FmRankItems items;
	FmRankQuality q;

	/* item bias and embedding, as fm_item computes them */
	for (int i = 1; i <= n_items; i++)
	{
		float	   *e = emb + (size_t) (i - 1) * m->k;
		int			fs[1 + N_GENRES];
		float		xs[1 + N_GENRES];
		int			n = 0,
					ng = 0;
		double		lin = 0,
					sq = 0,
					norm = 0;

		fs[n] = id_item0 + i - 1;
		xs[n++] = 1;
		for (int g = 0; g < N_GENRES; g++)
			ng += item_genre[i][g];
		for (int g = 0; g < N_GENRES && !no_genres; g++)
			if (item_genre[i][g])
			{
				fs[n] = id_genre0 + g;
				xs[n++] = 1.0f / ng;
			}
		for (int t = 0; t < n; t++)
		{
			const float *v = fm_model_v(m, fs[t]);

			lin += xs[t] * m->w[fs[t]];
			for (int f = 0; f < m->k; f++)
			{
				e[f] += xs[t] * v[f];
				sq += (double) xs[t] * xs[t] * v[f] * v[f];
			}
		}
		for (int f = 0; f < m->k; f++)
			norm += (double) e[f] * e[f];
		bias[i - 1] = (float) (lin + 0.5 * (norm - sq));
		ids[i - 1] = i;
	}
	for (int u = 1; u <= n_users; u++)
	{
		float	   *qv = queries + (size_t) u * m->k;
		int			fs[4] = {id_user0 + u - 1, id_age0 + user_age[u], id_gender0 + user_gender[u],
		id_occ0 + user_occ[u]};
		int			first = (no_user || (cold && cold[u])) ? 1 : 0;
		int			e0 = ne,
					r0 = nr;

		for (int t = first; t < (no_demo ? 1 : 4); t++)
			for (int f = 0; f < m->k; f++)
				qv[f] += fm_model_v(m, fs[t])[f];
		for (int i = 0; i < n_train; i++)
			if (train[i].user == u)
				excl[ne++] = train[i].item - 1;
		for (int i = 0; i < n_test; i++)
			if (test[i].user == u && test[i].rating >= 4 && (!cold || cold[u]))
				rel[nr++] = test[i].item - 1;
		if (nr == r0)
		{
			ne = e0;
			continue;
		}
		qsort(excl + e0, ne - e0, sizeof(int32_t), cmp_int);
		users[n_eval].query = qv;
		users[n_eval].excluded = excl + e0;
		users[n_eval].n_excluded = ne - e0;
		users[n_eval].relevant = rel + r0;
		users[n_eval].n_relevant = nr - r0;
		users[n_eval].n_relevant_outside = 0;
		n_eval++;
	}
	items.n_items = n_items;
	items.dim = m->k;
	items.embeddings = emb;
	items.bias = bias;
	items.ids = ids;
	q = fm_rank_evaluate(&items, users, n_eval, 10, NULL, NULL, a);
	return (Quality) {q.precision_at_k, q.recall_at_k, q.ndcg_at_k, q.users};
}

/* ---- speed: an iALS epoch against an SGD epoch, interleaved ---- */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Five rounds, each one iALS epoch then one SGD epoch at the same k on the
 * same rows (user, movie, age group, gender, occupation: the rating model's
 * features); SGD is timed over runs of 1 and 3 epochs, their difference
 * halved, so that its initialisation and final RMSE pass do not count.
 * Prints the medians and their ratio.
 */
static void
time_epochs(const FmImplicitData *d, const FmTrainParams *p, const Rating *rows, int n,
			bool no_user, const FmAllocator *a)
{
	enum
	{
		ROUNDS = 5
	};
	double		ials[ROUNDS],
				sgd[ROUNDS];
	FmModel		im,
				sm;
	FmTrainParams sp;
	FmDataset	all,
				none;
	FmTrainResult result;
	FmIals	   *state;

	fm_model_alloc(&im, n_features, p->k, a);
	fm_model_init_random(&im, 0.0, p->init_stdev, 1);
	state = fm_ials_new(d, p, &im, NULL, a);
	fm_train_params_default(&sp, FM_METHOD_SGD);
	sp.k = p->k;
	build_rows(rows, n, no_user, &all, a);
	fm_dataset_alloc(&none, 0, 0, n_features, N_GROUPS, a);
	fm_model_alloc(&sm, n_features, sp.k, a);
	sm.target_min = 1;
	sm.target_max = 5;
	for (int r = 0; r < ROUNDS; r++)
	{
		double		t0 = now(),
					t1;

		fm_ials_epoch(state, &im);
		ials[r] = now() - t0;
		sp.epochs = 1;
		t0 = now();
		fm_train_sgd(&all, &none, &sp, &sm, NULL, a, &result);
		t1 = now() - t0;
		sp.epochs = 3;
		t0 = now();
		fm_train_sgd(&all, &none, &sp, &sm, NULL, a, &result);
		sgd[r] = (now() - t0 - t1) / 2.0;
	}
	qsort(ials, ROUNDS, sizeof(double), cmp_double);
	qsort(sgd, ROUNDS, sizeof(double), cmp_double);
	printf("epoch at k %d, medians of %d interleaved rounds: ials %.3f s, sgd %.3f s, ratio %.2f\n",
		   p->k, ROUNDS, ials[ROUNDS / 2], sgd[ROUNDS / 2], ials[ROUNDS / 2] / sgd[ROUNDS / 2]);
}

/* ---- main ---- */

static bool verbose;

static bool
print_epoch(const FmEpochReport *r, void *arg)
{
	(void) arg;
	if (verbose)
		fprintf(stderr, "epoch %d: loss %.2f, validation NDCG@10 %.4f (%.3f s)\n", r->epoch,
				r->train_loss, r->valid_ndcg, r->seconds);
	return true;
}

static Rating base[MAX_RATINGS],
			test[MAX_RATINGS],
			train_rows[MAX_RATINGS],
			eval_rows[MAX_RATINGS];

int
main(int argc, char **argv)
{
	const char *dir = getenv("FMREC_MOVIELENS_DIR");
	int			fold = 1,
				folds = 1;
	bool		tune = false,
				cold_mode = false,
				no_user = false,
				sgd_epoch = false;
	double		threshold = NAN;
	double		validation_fraction = 0.1;	/* fm_train_from_table's default */
	FmTrainParams p;
	double		sum_ndcg = 0,
				sum_p = 0;

	fm_train_params_default(&p, FM_METHOD_IALS);
	if (!dir)
		dir = FMREC_REPO_ROOT "/../shared/data/movielens-100k";
	for (int i = 1; i < argc; i++)
	{
#define ARG(name) (strcmp(argv[i], name) == 0 && i + 1 < argc)
		if (ARG("--dir"))
			dir = argv[++i];
		else if (ARG("--fold"))
			fold = atoi(argv[++i]);
		else if (strcmp(argv[i], "--all-folds") == 0)
			folds = 5;
		else if (strcmp(argv[i], "--tune") == 0)
			tune = true;
		else if (strcmp(argv[i], "--cold") == 0)
			cold_mode = true;
		else if (strcmp(argv[i], "--no-user-id") == 0)
			no_user = true;
		else if (strcmp(argv[i], "--no-demographics") == 0)
			no_demo = true;
		else if (strcmp(argv[i], "--augment") == 0)
			augment = true;
		else if (strcmp(argv[i], "--popularity") == 0)
			popularity = true;
		else if (strcmp(argv[i], "--no-genres") == 0)
			no_genres = true;
		else if (strcmp(argv[i], "--sgd-epoch") == 0)
			sgd_epoch = true;
		else if (strcmp(argv[i], "--verbose") == 0)
			verbose = true;
		else if (ARG("--method"))
		{
			FmMethod	m;

			if (!fm_method_from_name(argv[++i], &m))
				return 2;
			fm_train_params_default(&p, m);
		}
		else if (ARG("--lr"))
			p.learning_rate = atof(argv[++i]);
		else if (ARG("--k"))
			p.k = atoi(argv[++i]);
		else if (ARG("--epochs"))
			p.epochs = atoi(argv[++i]);
		else if (ARG("--reg"))
			p.reg_w = p.reg_v = atof(argv[++i]);
		else if (ARG("--reg-w"))
			p.reg_w = atof(argv[++i]);
		else if (ARG("--alpha0"))
			p.unobserved_weight = atof(argv[++i]);
		else if (ARG("--confidence"))
			p.confidence = atof(argv[++i]);
		else if (ARG("--exponent"))
			p.reg_exponent = atof(argv[++i]);
		else if (ARG("--popularity-exponent"))
			p.popularity_exponent = atof(argv[++i]);
		else if (ARG("--init"))
			p.init_stdev = atof(argv[++i]);
		else if (ARG("--validation-fraction"))
			validation_fraction = atof(argv[++i]);
		else if (ARG("--threshold"))
			threshold = atof(argv[++i]);
		else if (ARG("--seed"))
			p.seed = strtoull(argv[++i], NULL, 10);
		else
		{
			fprintf(stderr, "unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	read_users(dir);
	read_items(dir);
	assign_ids();

	for (int fi = 0; fi < folds; fi++)
	{
		int			f = folds == 5 ? fi + 1 : fold;
		char		name[32];
		int			n_base,
					n_test,
					n_train = 0,
					n_eval = 0;
		bool		cold[MAX_USERS + 1] = {0};
		FmArena		arena = {0};
		FmAllocator a = fm_arena_allocator(&arena);
		FmDataset	rows,
					cat;
		FmImplicitData d;
		FmImplicitProblem problem;
		FmImplicitSpec spec;
		uint8_t		item_group[N_GROUPS] = {0, 1, 0, 0, 0, 1};
		const char **values;
		FmModel		model;
		FmTrainHooks hooks = {print_epoch, NULL, NULL, NULL};
		FmTrainResult result;
		FmRng		rng;
		Quality		q;
		double		t0,
					t_train;

		set_groups(&a);
		snprintf(name, sizeof(name), "u%d.base", f);
		n_base = read_ratings(dir, name, base);
		snprintf(name, sizeof(name), "u%d.test", f);
		n_test = read_ratings(dir, name, test);
		fm_rng_seed(&rng, 20261202);
		if (cold_mode)
			for (int u = 1; u <= n_users; u++)
				cold[u] = fm_rng_uniform(&rng) < 0.2;
		if (tune && cold_mode)
		{
			/* the cold users' u<f>.base rows are their evaluation rows */
			for (int i = 0; i < n_base; i++)
			{
				if (cold[base[i].user])
					eval_rows[n_eval++] = base[i];
				else
					train_rows[n_train++] = base[i];
			}
		}
		else if (tune)
		{
			/* 10% of each user's u<f>.base rows (by a seeded draw per row) */
			for (int i = 0; i < n_base; i++)
			{
				if (fm_rng_uniform(&rng) < 0.1)
					eval_rows[n_eval++] = base[i];
				else
					train_rows[n_train++] = base[i];
			}
		}
		else if (cold_mode)
		{
			/* the cold users' every rating is theirs to rank, none excluded */
			for (int i = 0; i < n_base; i++)
				if (!cold[base[i].user])
					train_rows[n_train++] = base[i];
				else
					eval_rows[n_eval++] = base[i];
			for (int i = 0; i < n_test; i++)
				if (cold[test[i].user])
					eval_rows[n_eval++] = test[i];
		}
		else
		{
			for (int i = 0; i < n_base; i++)
				train_rows[n_train++] = base[i];
			memcpy(eval_rows, test, n_test * sizeof(Rating));
			n_eval = n_test;
		}
		build_rows(train_rows, n_train, no_user, &rows, &a);
		if (augment)
		{
			/* every row a second time without the user id: the demographic contexts */
			FmDataset	twice,
						plain;

			build_rows(train_rows, n_train, true, &plain, &a);
			fm_dataset_alloc(&twice, rows.n_rows + plain.n_rows, rows.n_nonzeros + plain.n_nonzeros,
							 n_features, N_GROUPS, &a);
			twice.feature_group = feature_group_of;
			memcpy(twice.ids, rows.ids, rows.n_nonzeros * sizeof(int32_t));
			memcpy(twice.ids + rows.n_nonzeros, plain.ids, plain.n_nonzeros * sizeof(int32_t));
			memcpy(twice.weights, rows.weights, rows.n_nonzeros * sizeof(float));
			memcpy(twice.weights + rows.n_nonzeros, plain.weights, plain.n_nonzeros * sizeof(float));
			memcpy(twice.targets, rows.targets, rows.n_rows * sizeof(float));
			memcpy(twice.targets + rows.n_rows, plain.targets, plain.n_rows * sizeof(float));
			for (int64_t r = 0; r <= rows.n_rows; r++)
				twice.row_start[r] = rows.row_start[r];
			for (int64_t r = 1; r <= plain.n_rows; r++)
				twice.row_start[rows.n_rows + r] = rows.n_nonzeros + plain.row_start[r];
			rows = twice;
		}
		build_catalogue(&cat, &a);
		values = fm_alloc(&a, n_features * sizeof(char *));
		for (int i = 0; i < n_features; i++)
			values[i] = "x";
		for (int m = 1; m <= n_items; m++)
			values[id_item0 + m - 1] = item_key_text[m];
		spec.key_group = G_ITEM;
		spec.item_group = item_group;
		spec.positive_threshold = threshold;
		spec.confidence = p.confidence;
		spec.validation_fraction = validation_fraction;
		spec.seed = p.seed;
		spec.feature_value = values;
		if (fm_implicit_build(&rows, &cat, &spec, &d, &problem, &a) != FM_IMPLICIT_OK)
		{
			fprintf(stderr, "build failed\n");
			return 1;
		}
		fm_model_alloc(&model, n_features, p.k, &a);
		t0 = now();
		if (p.method == FM_METHOD_BPR)
			fm_train_bpr(&d, &p, &model, &hooks, &a, &result);
		else
			fm_train_ials(&d, &p, &model, &hooks, &a, &result);
		t_train = now() - t0;
		if (popularity)
		{
			/* the baseline: rank by the number of training ratings */
			memset(model.V, 0, (size_t) n_features * p.k * sizeof(float));
			memset(model.w, 0, (size_t) n_features * sizeof(float));
			for (int i = 0; i < n_train; i++)
				model.w[id_item0 + train_rows[i].item - 1] += 1.0f;
		}
		/* cold users' base rows are excluded too, as fm_evaluate(train => u<f>.base) does */
		q = evaluate(&model, train_rows, n_train,
					 eval_rows, n_eval, cold_mode ? cold : NULL, no_user, &a);
		printf("fold %d: P@10 %.4f R@10 %.4f NDCG@10 %.4f users %ld; %d contexts, %d items, %lld pairs; "
			   "train %.2f s (%.3f s/epoch)\n", f, q.p, q.r, q.ndcg, q.users, d.contexts.n, d.items.n,
			   (long long) d.n_pairs, t_train, t_train / p.epochs);
		sum_ndcg += q.ndcg;
		sum_p += q.p;
		if (sgd_epoch)
			time_epochs(&d, &p, train_rows, n_train, no_user, &a);
		fm_arena_free(&arena);
	}
	if (folds > 1)
		printf("mean over %d folds: P@10 %.4f NDCG@10 %.4f\n", folds, sum_p / folds, sum_ndcg / folds);
	return 0;
}

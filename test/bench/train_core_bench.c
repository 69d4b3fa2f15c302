/*
 * train_core_bench.c - train the fmrec core on MovieLens 100K from the
 * command line: per-epoch train/test RMSE and time, the final test RMSE and
 * the throughput.  This is how the defaults of fm_train_params_default()
 * were tuned.
 *
 * Features (one group each): user id, item id, age group (the MovieLens 1M
 * buckets), gender, occupation and, with --genres, the movie's genres
 * (each weighted 1 / number of genres of the movie).
 *
 * usage: train_core_bench [--dir DIR] [--method sgd|adam|als|mcmc] [--k N]
 *        [--epochs N] [--lr X] [--reg X] [--reg-w X] [--reg-v X]
 *        [--init-stdev X] [--seed N] [--genres] [--fold N | --all-folds]
 *        [--quiet]
 *
 * Flags not given keep the method's defaults.  DIR defaults to
 * $FMREC_MOVIELENS_DIR, else ../shared/data/movielens-100k relative to the
 * repository root (this program finds the root from its own location or the
 * working directory).
 */
#include "fm_core.h"
#include "dataset.h"
#include "model.h"
#include "train.h"
#include "vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_USERS 4096
#define MAX_ITEMS 8192
#define MAX_OCCUPATIONS 64
#define N_AGE_GROUPS 7
#define N_GENRES 19
#define LINE_MAX_LEN 4096

enum
{
	GROUP_USER, GROUP_ITEM, GROUP_AGE, GROUP_GENDER, GROUP_OCCUPATION, GROUP_GENRE,
	N_GROUPS
};

typedef struct Users
{
	int			n;				/* ids are 1 .. n */
	int			age_group[MAX_USERS + 1];
	int			gender[MAX_USERS + 1];
	int			occupation[MAX_USERS + 1];
	int			n_occupations;
	char		occupations[MAX_OCCUPATIONS][32];
} Users;

typedef struct Items
{
	int			n;
	unsigned char genre[MAX_ITEMS + 1][N_GENRES];
	int			n_genres[MAX_ITEMS + 1];
} Items;

typedef struct Layout
{
	int32_t		offset[N_GROUPS];	/* first feature id of each group */
	int32_t		n_features;
	bool		genres;
} Layout;

typedef struct Options
{
	char		dir[1024];
	FmTrainParams params;
	bool		genres;
	int			fold;
	bool		all_folds;
	bool		quiet;
} Options;

static double
now_seconds(void)
{
	struct timespec ts;

	timespec_get(&ts, TIME_UTC);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int
age_group(int age)
{
	static const int upper[] = {17, 24, 34, 44, 49, 55};

	for (int g = 0; g < 6; g++)
		if (age <= upper[g])
			return g;
	return 6;
}

static FILE *
open_data(const char *dir, const char *name)
{
	char		path[2048];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	return f;
}

static int
occupation_id(Users *u, const char *name)
{
	for (int i = 0; i < u->n_occupations; i++)
		if (strcmp(u->occupations[i], name) == 0)
			return i;
	if (u->n_occupations == MAX_OCCUPATIONS)
	{
		fprintf(stderr, "too many occupations\n");
		exit(1);
	}
	snprintf(u->occupations[u->n_occupations], sizeof(u->occupations[0]), "%s", name);
	return u->n_occupations++;
}

/* u.user: id|age|gender|occupation|zip */
static void
load_users(const char *dir, Users *u)
{
	FILE	   *f = open_data(dir, "u.user");
	char		line[LINE_MAX_LEN];

	memset(u, 0, sizeof(*u));
	while (fgets(line, sizeof(line), f))
	{
		char	   *fields[5];
		char	   *p = line;
		int			n = 0;
		int			id;

		while (n < 5 && p != NULL)
		{
			fields[n++] = p;
			p = strchr(p, '|');
			if (p)
				*p++ = '\0';
		}
		if (n < 4)
			continue;
		id = atoi(fields[0]);
		if (id < 1 || id > MAX_USERS)
		{
			fprintf(stderr, "user id %d out of range\n", id);
			exit(1);
		}
		u->age_group[id] = age_group(atoi(fields[1]));
		u->gender[id] = fields[2][0] == 'F' ? 1 : 0;
		u->occupation[id] = occupation_id(u, fields[3]);
		if (id > u->n)
			u->n = id;
	}
	fclose(f);
}

/* u.item: id|title|date|video date|url|19 genre flags; genres read from the end */
static void
load_items(const char *dir, Items *it)
{
	FILE	   *f = open_data(dir, "u.item");
	char		line[LINE_MAX_LEN];

	memset(it, 0, sizeof(*it));
	while (fgets(line, sizeof(line), f))
	{
		int			id = atoi(line);
		char	   *p = line + strcspn(line, "\r\n");

		if (id < 1 || id > MAX_ITEMS)
			continue;
		/* walk back over the 19 flags: "|d" pairs */
		for (int g = N_GENRES - 1; g >= 0 && p - line >= 2; g--)
		{
			p -= 2;
			it->genre[id][g] = p[1] == '1';
			it->n_genres[id] += p[1] == '1';
		}
		if (id > it->n)
			it->n = id;
	}
	fclose(f);
}

static Layout
make_layout(const Users *u, const Items *it, bool genres)
{
	Layout		l;
	int32_t		sizes[N_GROUPS] = {u->n, it->n, N_AGE_GROUPS, 2, u->n_occupations,
	genres ? N_GENRES : 0};
	int32_t		next = 0;

	for (int g = 0; g < N_GROUPS; g++)
	{
		l.offset[g] = next;
		next += sizes[g];
	}
	l.n_features = next;
	l.genres = genres;
	return l;
}

static int
count_lines(const char *dir, const char *name)
{
	FILE	   *f = open_data(dir, name);
	char		line[LINE_MAX_LEN];
	int			n = 0;

	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static void
add_feature(FmDataset *ds, int64_t *nz, int32_t id, float x)
{
	ds->ids[*nz] = id;
	ds->weights[*nz] = x;
	(*nz)++;
}

/* A ratings file (user item rating timestamp, tab-separated) as FM rows. */
static void
load_ratings(const char *dir, const char *name, const Users *u, const Items *it,
			 const Layout *l, FmDataset *ds, const FmAllocator *a)
{
	int			n_lines = count_lines(dir, name);
	int			per_row = 5 + (l->genres ? N_GENRES : 0);
	FILE	   *f = open_data(dir, name);
	char		line[LINE_MAX_LEN];
	int64_t		row = 0,
				nz = 0;

	fm_dataset_alloc(ds, n_lines, (int64_t) n_lines * per_row, l->n_features, N_GROUPS, a);
	for (int g = 0; g < N_GROUPS; g++)
		for (int32_t i = l->offset[g]; i < (g + 1 < N_GROUPS ? l->offset[g + 1] : l->n_features); i++)
			ds->feature_group[i] = g;
	ds->row_start[0] = 0;
	while (fgets(line, sizeof(line), f))
	{
		int			user,
					item,
					rating;

		if (sscanf(line, "%d %d %d", &user, &item, &rating) != 3)
			continue;
		if (user < 1 || user > u->n || item < 1 || item > it->n)
		{
			fprintf(stderr, "%s: unknown user %d or item %d\n", name, user, item);
			exit(1);
		}
		add_feature(ds, &nz, l->offset[GROUP_USER] + user - 1, 1.0f);
		add_feature(ds, &nz, l->offset[GROUP_ITEM] + item - 1, 1.0f);
		add_feature(ds, &nz, l->offset[GROUP_AGE] + u->age_group[user], 1.0f);
		add_feature(ds, &nz, l->offset[GROUP_GENDER] + u->gender[user], 1.0f);
		add_feature(ds, &nz, l->offset[GROUP_OCCUPATION] + u->occupation[user], 1.0f);
		if (l->genres && it->n_genres[item] > 0)
			for (int g = 0; g < N_GENRES; g++)
				if (it->genre[item][g])
					add_feature(ds, &nz, l->offset[GROUP_GENRE] + g,
								1.0f / (float) it->n_genres[item]);
		ds->targets[row++] = (float) rating;
		ds->row_start[row] = nz;
	}
	fclose(f);
	ds->n_rows = row;
	ds->n_nonzeros = nz;
}

typedef struct HookState
{
	bool		quiet;
} HookState;

static bool
print_epoch(const FmEpochReport *r, void *arg)
{
	HookState  *h = arg;

	if (!h->quiet)
		printf("epoch %3d  train %.4f  test %.4f  %.3f s\n",
			   r->epoch, r->train_rmse, r->valid_rmse, r->seconds);
	return true;
}

/* Train on u<fold>.base, test on u<fold>.test; returns the test RMSE. */
static double
run_fold(const Options *o, const Users *u, const Items *it, int fold)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	Layout		l = make_layout(u, it, o->genres);
	FmDataset	train,
				test;
	FmModel		model;
	FmTrainResult result;
	HookState	hs = {o->quiet};
	FmTrainHooks hooks = {print_epoch, NULL, &hs, NULL};
	char		base[32],
				tst[32];
	double		started,
				seconds;

	snprintf(base, sizeof(base), "u%d.base", fold);
	snprintf(tst, sizeof(tst), "u%d.test", fold);
	load_ratings(o->dir, base, u, it, &l, &train, &a);
	load_ratings(o->dir, tst, u, it, &l, &test, &a);

	fm_model_alloc(&model, l.n_features, o->params.k, &a);
	fm_dataset_target_range(&train, &model.target_min, &model.target_max);
	started = now_seconds();
	fm_train(&train, &test, &o->params, &model, &hooks, &a, &result);
	seconds = now_seconds() - started;
	printf("fold %d  method %s  k %d  epochs %d  train %.4f  test RMSE %.4f  "
		   "%.2f s  %.0f ratings*epochs/s\n",
		   fold, fm_method_name(o->params.method), o->params.k, result.epochs_run,
		   result.train_rmse, result.valid_rmse, seconds,
		   (double) train.n_rows * result.epochs_run / seconds);
	/* MCMC: the line above averages the draws' predictions; this is the stored model */
	if (o->params.method == FM_METHOD_MCMC)
		printf("fold %d  posterior-mean model test RMSE %.4f\n",
			   fold, result.valid_rmse_mean_model);
	fflush(stdout);
	fm_arena_free(&arena);
	return result.valid_rmse;
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: train_core_bench [--dir DIR] [--method sgd|adam|als|mcmc] [--k N]\n"
			"       [--epochs N] [--lr X] [--reg X] [--reg-w X] [--reg-v X] [--reg-w0 X]\n"
			"       [--init-stdev X] [--seed N] [--burn-in N] [--genres]\n"
			"       [--fold N | --all-folds] [--quiet]\n");
	exit(2);
}

static const char *
need_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		usage();
	return argv[++*i];
}

/*
 * Method first, so that its defaults are in place before the other flags
 * override them.
 */
static void
parse_options(int argc, char **argv, Options *o)
{
	FmMethod	method = FM_METHOD_SGD;
	const char *env = getenv("FMREC_MOVIELENS_DIR");

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--method") == 0 && !fm_method_from_name(argv[i + 1], &method))
		{
			fprintf(stderr, "unknown method %s\n", argv[i + 1]);
			exit(2);
		}
	memset(o, 0, sizeof(*o));
	fm_train_params_default(&o->params, method);
	o->fold = 1;
	snprintf(o->dir, sizeof(o->dir), "%s",
			 env && *env ? env : FMREC_REPO_ROOT "/../shared/data/movielens-100k");

	for (int i = 1; i < argc; i++)
	{
		const char *arg = argv[i];

		if (strcmp(arg, "--method") == 0)
			(void) need_value(argc, argv, &i);
		else if (strcmp(arg, "--dir") == 0)
			snprintf(o->dir, sizeof(o->dir), "%s", need_value(argc, argv, &i));
		else if (strcmp(arg, "--k") == 0)
			o->params.k = atoi(need_value(argc, argv, &i));
		else if (strcmp(arg, "--epochs") == 0)
			o->params.epochs = atoi(need_value(argc, argv, &i));
		else if (strcmp(arg, "--lr") == 0)
			o->params.learning_rate = atof(need_value(argc, argv, &i));
		else if (strcmp(arg, "--reg") == 0)
			o->params.reg_w = o->params.reg_v = atof(need_value(argc, argv, &i));
		else if (strcmp(arg, "--reg-w") == 0)
			o->params.reg_w = atof(need_value(argc, argv, &i));
		else if (strcmp(arg, "--reg-v") == 0)
			o->params.reg_v = atof(need_value(argc, argv, &i));
		else if (strcmp(arg, "--reg-w0") == 0)
			o->params.reg_w0 = atof(need_value(argc, argv, &i));
		else if (strcmp(arg, "--init-stdev") == 0)
			o->params.init_stdev = atof(need_value(argc, argv, &i));
		else if (strcmp(arg, "--seed") == 0)
			o->params.seed = strtoull(need_value(argc, argv, &i), NULL, 10);
		else if (strcmp(arg, "--burn-in") == 0)
			o->params.burn_in = atoi(need_value(argc, argv, &i));
		else if (strcmp(arg, "--genres") == 0)
			o->genres = true;
		else if (strcmp(arg, "--fold") == 0)
			o->fold = atoi(need_value(argc, argv, &i));
		else if (strcmp(arg, "--all-folds") == 0)
			o->all_folds = true;
		else if (strcmp(arg, "--quiet") == 0)
			o->quiet = true;
		else
			usage();
	}
	if (o->fold < 1 || o->fold > 5 || o->params.k < 1 || o->params.epochs < 0)
		usage();
}

int
main(int argc, char **argv)
{
	Options		o;
	static Users users;
	static Items items;
	char		probe[1100];
	FILE	   *f;

	parse_options(argc, argv, &o);
	snprintf(probe, sizeof(probe), "%s/u1.base", o.dir);
	if ((f = fopen(probe, "r")) == NULL)
	{
		printf("MovieLens 100K not found at %s, skipping\n", o.dir);
		return 0;
	}
	fclose(f);

	load_users(o.dir, &users);
	load_items(o.dir, &items);
	printf("method %s  k %d  epochs %d  lr %g  reg_w0 %g  reg_w %g  reg_v %g  "
		   "init_stdev %g  seed %llu  genres %s  isa %s\n",
		   fm_method_name(o.params.method), o.params.k, o.params.epochs,
		   o.params.learning_rate, o.params.reg_w0, o.params.reg_w, o.params.reg_v,
		   o.params.init_stdev, (unsigned long long) o.params.seed,
		   o.genres ? "yes" : "no", fm_vec_isa());
	if (o.all_folds)
	{
		double		total = 0.0;

		for (int fold = 1; fold <= 5; fold++)
			total += run_fold(&o, &users, &items, fold);
		printf("5-fold mean test RMSE %.4f\n", total / 5.0);
	}
	else
		run_fold(&o, &users, &items, o.fold);
	return 0;
}

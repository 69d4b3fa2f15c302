/*
 * train.c - the fm_train dispatcher, method names, per-method defaults and
 * the epoch loop and helpers the stochastic optimisers share (train_util.h).
 */
#include "train.h"
#include "train_util.h"

#include <math.h>
#include <string.h>
#include <time.h>

void
fm_train(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
		 FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
		 FmTrainResult *result)
{
	static const FmOptimizer optimizers[] = {
		[FM_METHOD_SGD] = fm_train_sgd,
		[FM_METHOD_ADAM] = fm_train_adam,
		[FM_METHOD_ALS] = fm_train_als,
		[FM_METHOD_MCMC] = fm_train_mcmc,
	};

	/* only MCMC stores a model other than the one its valid_rmse measures */
	result->valid_rmse_mean_model = NAN;
	result->train_loss = NAN;
	result->valid_ndcg = NAN;
	optimizers[params->method] (train, valid, params, model, hooks, a, result);
	if (params->method != FM_METHOD_MCMC)
		result->valid_rmse_mean_model = result->valid_rmse;
}

static const char *const method_names[] = {
	[FM_METHOD_SGD] = "sgd",
	[FM_METHOD_ADAM] = "adam",
	[FM_METHOD_ALS] = "als",
	[FM_METHOD_MCMC] = "mcmc",
	[FM_METHOD_IALS] = "ials",
	[FM_METHOD_BPR] = "bpr",
};

#define FM_N_METHODS ((int) (sizeof(method_names) / sizeof(method_names[0])))

bool
fm_method_from_name(const char *name, FmMethod *method)
{
	for (int i = 0; i < FM_N_METHODS; i++)
	{
		if (strcmp(name, method_names[i]) == 0)
		{
			*method = (FmMethod) i;
			return true;
		}
	}
	return false;
}

const char *
fm_method_name(FmMethod method)
{
	if ((int) method < 0 || (int) method >= FM_N_METHODS)
		return "unknown";
	return method_names[method];
}

/*
 * Defaults tuned on MovieLens 100K, u1.base -> u1.test, features user, item,
 * age group, gender and occupation (test/bench/train_core_bench.c).
 */
void
fm_train_params_default(FmTrainParams *p, FmMethod method)
{
	memset(p, 0, sizeof(*p));
	p->method = method;
	p->seed = 42;
	switch (method)
	{
		case FM_METHOD_SGD:
			/* test RMSE 0.9190 (seeds 1-3: 0.9174-0.9188) */
			p->k = 64;
			p->epochs = 30;
			p->learning_rate = 0.02;	/* decays linearly to 0 */
			p->reg_w0 = 0.0;
			p->reg_w = 0.08;
			p->reg_v = 0.08;
			p->init_stdev = 0.05;
			break;
		case FM_METHOD_ADAM:
			/* test RMSE ~0.919 */
			p->k = 64;
			p->epochs = 30;
			p->learning_rate = 0.004;	/* decays linearly to 0 */
			p->reg_w0 = 0.0;
			p->reg_w = 0.1;
			p->reg_v = 0.1;
			p->init_stdev = 0.05;
			break;
		case FM_METHOD_ALS:

			/*
			 * u1 test RMSE 0.9206, 5-fold 0.9134, with genres.  ALS wants a
			 * small k and a penalty in units of sum h^2: k = 4 scores 0.915
			 * (5-fold 0.905), k = 16 0.94; after about 30 iterations test
			 * RMSE creeps up by 0.001-0.003 as the fit converges.
			 */
			p->k = 8;
			p->epochs = 50;
			p->reg_w0 = 0.0;
			p->reg_w = 7.0;
			p->reg_v = 7.0;
			p->init_stdev = 0.1;
			break;
		case FM_METHOD_MCMC:

			/*
			 * u1 test RMSE 0.8978 (averaged predictions), 0.9020 for the
			 * stored model; 5-fold 0.8908 and 0.8941, with genres.  The
			 * priors are learnt, so there is no penalty to tune; k = 16
			 * beats 8 (0.8996 at 200 iterations) and 32 or 64 (0.899,
			 * 0.903), more iterations keep helping slowly (500: 0.8972).
			 * No burn-in: the early draws, near the small random start,
			 * help the average (burn-in 30: 5-fold 0.8919).
			 */
			p->k = 16;
			p->epochs = 300;
			p->init_stdev = 0.1;
			p->burn_in = 0;
			break;
		case FM_METHOD_IALS:

			/*
			 * Chosen on a 10% validation split of u1.base (never u1.test)
			 * with test/bench/ials_bench --tune (see README): validation
			 * NDCG@10 0.243.  Uniform unobserved weights reach 0.220 at best
			 * (alpha0 0.05, no confidence: then any confidence hurts); the
			 * weight spread by item popularity^0.3 (0.25-0.35 alike, 0.5
			 * loses 0.01) makes a confidence of 0.3-1 pay; penalty 0.025-0.035
			 * alike, 0.05 loses 0.03; k 32 or 128 and 16 epochs alike.
			 * init 0.1 / sqrt(k) as in Rendle et al. 2021 (fm_train.c scales
			 * it with the k asked for).
			 */
			p->k = 64;
			p->epochs = 10;
			p->reg_w = 0.03;
			p->reg_v = 0.03;
			p->init_stdev = 0.1 / 8.0;
			p->unobserved_weight = 0.2;
			p->confidence = 0.6;
			p->popularity_exponent = 0.3;
			p->reg_exponent = 1.0;
			break;
		case FM_METHOD_BPR:
			/*
			 * See bpr.h; chosen like iALS's, with ials_bench --method bpr
			 * --tune: validation NDCG@10 0.214 (30 epochs 0.204); penalty 0.001 0.199, 0.03
			 * 0.174; learning rate 0.02 or 0.1 lose 0.02-0.03.
			 */
			p->k = 64;
			p->epochs = 60;
			p->learning_rate = 0.05;
			p->reg_w = 0.01;
			p->reg_v = 0.01;
			p->init_stdev = 0.1 / 8.0;
			break;
	}
}

double
fm_wall_seconds(void)
{
	struct timespec ts;

	/* C11 timespec_get: no POSIX feature macros needed in the core */
	if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
		return 0.0;
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

double
fm_dataset_target_mean(const FmDataset *ds)
{
	double		sum = 0.0;

	if (ds->n_rows == 0)
		return 0.0;
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		fm_ds_prefetch_ahead(ds, NULL, r, ds->n_rows);
		sum += fm_ds_target(ds, r);
	}
	return sum / (double) ds->n_rows;
}

/* A Fisher-Yates shuffle of n row numbers; deterministic for a given generator state. */
static void
shuffle_rows(FmRng *rng, uint32_t *rows, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--)
	{
		int64_t		j = (int64_t) fm_rng_below(rng, (uint64_t) i + 1);
		uint32_t	t = rows[i];

		rows[i] = rows[j];
		rows[j] = t;
	}
}

/* The bucket of row r: its first feature of key_group, n_features if none. */
static int64_t
row_bucket(const FmDataset *ds, int64_t r, int32_t key_group)
{
	for (int64_t p = fm_ds_begin(ds, r); p < fm_ds_end(ds, r); p++)
	{
		int32_t		id = fm_ds_id(ds, p);

		if ((ds->feature_group != NULL ? ds->feature_group[id] : 0) == key_group)
			return id;
	}
	return ds->n_features;
}

/* The group with the most features: on a ratings table, the users. */
static int32_t
largest_group(const FmDataset *ds, const FmAllocator *a)
{
	int32_t		n_groups = ds->feature_group != NULL && ds->n_groups > 0 ? ds->n_groups : 1;
	int64_t    *group_size = fm_alloc(a, (size_t) n_groups * sizeof(int64_t));
	int32_t		key_group = 0;

	for (int32_t f = 0; f < ds->n_features; f++)
		group_size[ds->feature_group != NULL ? ds->feature_group[f] : 0]++;
	for (int32_t grp = 1; grp < n_groups; grp++)
		if (group_size[grp] > group_size[key_group])
			key_group = grp;
	return key_group;
}

/*
 * Two orders (fmrec.training_row_order):
 *
 * - shuffled: one bucket, a random permutation of the rows, reshuffled
 *   every epoch: plain SGD;
 *
 * - grouped, the cache-friendly order: the rows are bucketed once by their
 *   "key", the first feature of the group with the most features (on a
 *   ratings table the users, whose V rows are the bulk of the model besides
 *   the items').  Each epoch shuffles the buckets' visiting order and the
 *   rows within each bucket, and visits the buckets one after the other.
 *   Consecutive rows then share their user, so its k floats stay in L1 for
 *   the whole bucket and one of the two scattered V rows a rating touches
 *   is a cache hit; the items are still visited in a random order, which is
 *   what SGD needs to stay unbiased (a user's rows in a row is like a small
 *   mini-batch, updated sequentially).  Rows without a feature of the key
 *   group form one more bucket (so there are n_features + 1, some empty).
 *
 * Both are shuffled in place: the rows never move between buckets, only
 * within one, and the buckets' order is a separate array, so the order costs
 * 4 bytes per row and 12 per feature, and no copy is made per epoch.
 */
void
fm_epoch_order_build(FmEpochOrder *o, const FmDataset *ds, bool grouped, const FmAllocator *a,
					 const FmAllocator *scratch)
{
	int32_t		key_group = grouped ? largest_group(ds, scratch) : 0;
	uint32_t   *fill;

	o->n_rows = ds->n_rows;
	o->n_buckets = grouped ? (int64_t) ds->n_features + 1 : 1;
	o->rows = fm_alloc(a, ((size_t) ds->n_rows + 1) * sizeof(uint32_t));
	o->bucket_start = fm_alloc(a, ((size_t) o->n_buckets + 1) * sizeof(uint32_t));
	o->visit = fm_alloc(a, (size_t) o->n_buckets * sizeof(uint32_t));
	o->visit_end = fm_alloc(a, (size_t) o->n_buckets * sizeof(uint32_t));
	for (int64_t b = 0; b < o->n_buckets; b++)
		o->visit[b] = (uint32_t) b;
	if (!grouped)
	{
		for (int64_t r = 0; r < ds->n_rows; r++)
			o->rows[r] = (uint32_t) r;
		o->bucket_start[1] = (uint32_t) ds->n_rows;
		return;
	}

	/* a counting sort of the rows by bucket (two passes: no per-row key kept) */
	for (int64_t r = 0; r < ds->n_rows; r++)
		o->bucket_start[row_bucket(ds, r, key_group) + 1]++;
	for (int64_t b = 0; b < o->n_buckets; b++)
		o->bucket_start[b + 1] += o->bucket_start[b];
	fill = fm_alloc(scratch, ((size_t) o->n_buckets + 1) * sizeof(uint32_t));
	memcpy(fill, o->bucket_start, ((size_t) o->n_buckets + 1) * sizeof(uint32_t));
	for (int64_t r = 0; r < ds->n_rows; r++)
		o->rows[fill[row_bucket(ds, r, key_group)]++] = (uint32_t) r;
}

void
fm_epoch_order_shuffle(FmEpochOrder *o, FmRng *rng)
{
	uint32_t	covered = 0;

	shuffle_rows(rng, o->visit, o->n_buckets);
	for (int64_t i = 0; i < o->n_buckets; i++)
	{
		uint32_t	b = o->visit[i];
		uint32_t	n = o->bucket_start[b + 1] - o->bucket_start[b];

		shuffle_rows(rng, o->rows + o->bucket_start[b], n);
		covered += n;
		o->visit_end[i] = covered;
	}
}

int64_t
fm_epoch_order_piece(const FmEpochOrder *o, int64_t pos, int64_t end, const uint32_t **rows)
{
	int64_t		lo = 0;
	int64_t		hi = o->n_buckets - 1;
	uint32_t	b;
	int64_t		bucket_first;

	/* the first visit whose end lies beyond pos (empty buckets are skipped) */
	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if ((int64_t) o->visit_end[mid] > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	b = o->visit[lo];
	bucket_first = (int64_t) o->visit_end[lo] - (o->bucket_start[b + 1] - o->bucket_start[b]);
	*rows = o->rows + o->bucket_start[b] + (pos - bucket_first);
	return ((int64_t) o->visit_end[lo] < end ? (int64_t) o->visit_end[lo] : end) - pos;
}

double
fm_evaluate_rmse(const FmModel *m, const FmDataset *ds, const FmTrainHooks *hooks)
{
	double		sse = 0.0;

	if (ds == NULL || ds->n_rows == 0)
		return NAN;
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		err;

		fm_ds_prefetch_ahead(ds, NULL, r, ds->n_rows);
		err = fm_clip(fm_model_predict_row(m, ds, r, NULL), m->target_min, m->target_max)
			- fm_ds_target(ds, r);
		sse += err * err;
		if ((r + 1) % FM_TICK_ROWS == 0)
			fm_hooks_tick(hooks);
	}
	return sqrt(sse / (double) ds->n_rows);
}

double
fm_epoch_learning_rate(const FmTrainParams *params, int32_t epoch)
{
	if (params->epochs <= 0)
		return params->learning_rate;
	return params->learning_rate * (1.0 - (double) epoch / (double) params->epochs);
}

bool
fm_report_epoch(const FmTrainHooks *hooks, int32_t epoch, double train_rmse,
				double valid_rmse, double seconds)
{
	FmEpochReport report;

	if (hooks == NULL || hooks->epoch_done == NULL)
		return true;
	report.epoch = epoch;
	report.train_rmse = train_rmse;
	report.valid_rmse = valid_rmse;
	report.seconds = seconds;
	report.train_loss = NAN;
	report.valid_ndcg = NAN;
	return hooks->epoch_done(&report, hooks->arg);
}

void
fm_train_stochastic(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
					FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
					FmRowsUpdate update, void *state, const FmParallel *parallel,
					FmAdamShared *adam, FmTrainResult *result)
{
	FmRng		rng;
	FmEpochOrder order;

	fm_epoch_order_build(&order, train, params->grouped_order,
						 parallel != NULL ? &parallel->shared : a, a);
	fm_model_init_random(model, fm_dataset_target_mean(train), params->init_stdev,
						 fm_seed_for(params->seed, FM_SEED_INIT));
	fm_rng_seed(&rng, fm_seed_for(params->seed, FM_SEED_SHUFFLE));

	result->epochs_run = 0;
	result->train_rmse = NAN;
	result->valid_rmse = NAN;
	for (int32_t epoch = 0; epoch < params->epochs; epoch++)
	{
		double		started = fm_wall_seconds();
		double		lr = fm_epoch_learning_rate(params, epoch);
		double		sse = 0.0;
		double		train_rmse;
		double		valid_rmse;

		fm_epoch_order_shuffle(&order, &rng);
		if (parallel != NULL)
			sse = parallel->epoch(parallel->arg, adam, model, &order, lr);
		else
		{
			/* a tick after every FM_TICK_ROWS positions, whatever the pieces */
			for (int64_t begin = 0; begin < train->n_rows; begin += FM_TICK_ROWS)
			{
				int64_t		end = train->n_rows - begin < FM_TICK_ROWS ?
					train->n_rows : begin + FM_TICK_ROWS;

				for (int64_t pos = begin; pos < end;)
				{
					const uint32_t *rows;
					int64_t		n = fm_epoch_order_piece(&order, pos, end, &rows);

					sse = update(state, rows, n, lr, sse);
					pos += n;
				}
				if (end - begin == FM_TICK_ROWS)
					fm_hooks_tick(hooks);
			}
		}

		/*
		 * Train RMSE of the epoch is progressive: each row's error is taken
		 * just before its own update.  It costs nothing, whereas an exact
		 * figure would need another pass (a third of an epoch) every epoch;
		 * the exact figure is computed once, for the result, at the end.
		 */
		train_rmse = train->n_rows > 0 ? sqrt(sse / (double) train->n_rows) : NAN;
		valid_rmse = fm_evaluate_rmse(model, valid, hooks);
		result->epochs_run = epoch + 1;
		result->valid_rmse = valid_rmse;
		if (!fm_report_epoch(hooks, epoch + 1, train_rmse, valid_rmse,
							 fm_wall_seconds() - started))
			break;
	}
	result->train_rmse = fm_evaluate_rmse(model, train, hooks);
	/* the stored model is the one valid_rmse measured */
	result->valid_rmse_mean_model = result->valid_rmse;
}

/*
 * mcmc.c - Bayesian factorization machine trained by Gibbs sampling.
 *
 * Follows Freudenthaler, Schmidt-Thieme and Rendle, "Bayesian Factorization
 * Machines" (NIPS workshop 2011) and Rendle, "Factorization Machines with
 * libFM" (ACM TIST 2012), section "Markov Chain Monte Carlo (MCMC)
 * Inference".  The model:
 *
 *     y_r ~ N(y(x_r), 1/alpha)                   alpha ~ Gamma(alpha0/2, beta0/2)
 *     w0 ~ N(0, 1/reg_w0)                        (flat when reg_w0 = 0)
 *     w_l ~ N(mu_w[g], 1/lambda_w[g])            g = group of feature l
 *     v_{l,f} ~ N(mu_v[g,f], 1/lambda_v[g,f])
 *     mu ~ N(mu0, 1/(gamma0 lambda)),  lambda ~ Gamma(alpha_lambda/2, beta_lambda/2)
 *
 * with alpha0 = beta0 = alpha_lambda = beta_lambda = gamma0 = 1, mu0 = 0,
 * Gamma(shape, rate), and each feature group (the source column) its own
 * prior group, per factor for V.  Because y(x) is linear in each parameter
 * (als.h), every full conditional is Normal or Gamma:
 *
 *   alpha | e        ~ Gamma((alpha0 + n)/2,  (beta0 + sum_r e_r^2)/2)
 *   theta | rest     ~ N(m, 1/p),   p = alpha sum h^2 + lambda_theta,
 *                       m = (alpha (theta sum h^2 + sum h e) + lambda_theta mu_theta) / p
 *   lambda_g | rest  ~ Gamma((alpha_lambda + n_g + 1)/2,
 *                            (beta_lambda + gamma0 (mu_g - mu0)^2 + sum_{l in g} (theta_l - mu_g)^2)/2)
 *   mu_g | rest      ~ N((gamma0 mu0 + sum_{l in g} theta_l) / (n_g + gamma0),
 *                        1/((n_g + gamma0) lambda_g))
 *
 * The parameter draw is ALS's closed-form step (als.c) with the noise
 * precision alpha, the prior mean mu and a random perturbation added, so the
 * column-wise sweep of als.c serves both.  A scan draws alpha, w0 and all
 * hyperparameters from the current parameters first, then the parameters
 * feature by feature.
 *
 * Predictions average the draws after burn-in.  The stored model, which
 * must be one set of parameters, is the posterior mean of w0, w and V,
 * projected onto the averaged predictions (project_posterior()).
 */
#include "als.h"
#include "rng.h"
#include "train_util.h"

#include <math.h>
#include <string.h>

/* Hyper-priors (Normal-Gamma), as in the papers. */
#define MCMC_ALPHA0		1.0		/* noise precision: Gamma shape * 2 */
#define MCMC_BETA0		1.0		/* noise precision: Gamma rate * 2 */
#define MCMC_ALPHA_LAMBDA	1.0
#define MCMC_BETA_LAMBDA	1.0
#define MCMC_GAMMA0		1.0
#define MCMC_MU0		0.0

/* Seed purpose of the sampler's generator (init uses FM_SEED_INIT). */
#define FM_SEED_GIBBS	3

/* Prior of one group of parameters. */
typedef struct Prior
{
	double		mu;
	double		lambda;
} Prior;

typedef struct Gibbs
{
	FmSweep		sweep;
	FmRng		rng;
	int32_t		n_groups;
	int32_t    *group_size;		/* features per group */
	double		alpha;			/* noise precision */
	Prior	   *prior_w;		/* n_groups */
	Prior	   *prior_v;		/* n_groups * k, [g * k + f] */
	double	   *group_sum;		/* scratch, n_groups */
	double	   *group_sq;		/* scratch, n_groups */

	/* sums over the post-burn-in draws */
	int32_t		n_samples;
	double		sum_w0;
	double	   *sum_w;			/* n_features */
	double	   *sum_V;			/* n_features * k */
	double	   *sum_train;		/* n_rows of train: raw predictions */
	double	   *sum_valid;		/* n_rows of valid */
} Gibbs;

static int32_t
feature_group(const FmDataset *ds, int32_t l)
{
	return ds->feature_group != NULL ? ds->feature_group[l] : 0;
}

static double
draw_gamma(FmRng *rng, double shape, double rate)
{
	return fm_rng_gamma(rng, shape) / rate;
}

static double
draw_normal(FmRng *rng, double mean, double precision)
{
	return mean + fm_rng_normal(rng) / sqrt(precision);
}

/*
 * A draw from the full conditional of one parameter: the ALS step with
 * noise precision alpha and prior N(mu, 1/lambda).  With no data and no
 * prior the conditional is improper; the parameter then stays.
 */
static double
draw_param(Gibbs *g, double theta, FmParamStats st, Prior prior)
{
	double		precision = g->alpha * st.sum_hh + prior.lambda;
	double		mean;

	if (precision <= 0.0)
		return theta;
	mean = (g->alpha * (theta * st.sum_hh + st.sum_he) + prior.lambda * prior.mu) / precision;
	return draw_normal(&g->rng, mean, precision);
}

/*
 * lambda then mu of every group, from the parameters theta_l = values[l *
 * stride] of the features in that group.
 */
static void
draw_group_priors(Gibbs *g, const FmDataset *ds, const float *values, size_t stride,
				  Prior *priors, size_t prior_stride)
{
	for (int32_t grp = 0; grp < g->n_groups; grp++)
	{
		g->group_sum[grp] = 0.0;
		g->group_sq[grp] = 0.0;
	}
	for (int32_t l = 0; l < ds->n_features; l++)
	{
		int32_t		grp = feature_group(ds, l);
		double		mu = priors[grp * prior_stride].mu;
		double		d = (double) values[l * stride] - mu;

		g->group_sum[grp] += values[l * stride];
		g->group_sq[grp] += d * d;
	}
	for (int32_t grp = 0; grp < g->n_groups; grp++)
	{
		Prior	   *p = &priors[grp * prior_stride];
		double		n = g->group_size[grp];
		double		dmu = p->mu - MCMC_MU0;

		p->lambda = draw_gamma(&g->rng,
							   (MCMC_ALPHA_LAMBDA + n + 1.0) / 2.0,
							   (MCMC_BETA_LAMBDA + MCMC_GAMMA0 * dmu * dmu + g->group_sq[grp]) / 2.0);
		p->mu = draw_normal(&g->rng,
							(MCMC_GAMMA0 * MCMC_MU0 + g->group_sum[grp]) / (n + MCMC_GAMMA0),
							(n + MCMC_GAMMA0) * p->lambda);
	}
}

static void
gibbs_init(Gibbs *g, const FmDataset *train, const FmDataset *valid, const FmModel *model,
		   const FmTrainParams *params, const FmTrainHooks *hooks, const FmAllocator *a)
{
	int32_t		n = model->n_features;
	int32_t		k = model->k;

	memset(g, 0, sizeof(*g));
	fm_sweep_init(&g->sweep, train, model, hooks, a);
	fm_rng_seed(&g->rng, fm_seed_for(params->seed, FM_SEED_GIBBS));

	/* as many groups as the ids say, whatever n_groups claims */
	g->n_groups = train->n_groups > 0 ? train->n_groups : 1;
	for (int32_t l = 0; l < n; l++)
		if (feature_group(train, l) >= g->n_groups)
			g->n_groups = feature_group(train, l) + 1;
	g->group_size = fm_alloc(a, (size_t) g->n_groups * sizeof(int32_t));
	for (int32_t l = 0; l < n; l++)
		g->group_size[feature_group(train, l)]++;

	/* every prior is redrawn before its first use; these only seed mu */
	g->alpha = 1.0;
	g->prior_w = fm_alloc(a, (size_t) g->n_groups * sizeof(Prior));
	g->prior_v = fm_alloc(a, (size_t) g->n_groups * k * sizeof(Prior));
	g->group_sum = fm_alloc(a, (size_t) g->n_groups * sizeof(double));
	g->group_sq = fm_alloc(a, (size_t) g->n_groups * sizeof(double));

	g->sum_w = fm_alloc(a, (size_t) n * sizeof(double));
	g->sum_V = fm_alloc(a, (size_t) n * k * sizeof(double));
	g->sum_train = fm_alloc(a, (size_t) train->n_rows * sizeof(double));
	g->sum_valid = fm_alloc(a, (size_t) (valid != NULL ? valid->n_rows : 0) * sizeof(double));
}

/* The Gibbs draw of w_l or v_{l,f}, for fm_sweep_features. */
static double
gibbs_update(void *arg, int32_t feature, int32_t factor, double theta, FmParamStats st)
{
	Gibbs	   *g = arg;
	int32_t		grp = feature_group(g->sweep.data, feature);
	Prior		prior = factor < 0 ? g->prior_w[grp] : g->prior_v[(size_t) grp * g->sweep.k + factor];

	return draw_param(g, theta, st, prior);
}

/*
 * One Gibbs scan: alpha, w0, the priors of w and of every factor of V, then
 * every feature's w_l and v_l (als.h explains the order).
 */
static void
gibbs_sweep(Gibbs *g, FmModel *model, const FmTrainParams *params)
{
	FmSweep    *s = &g->sweep;
	const FmDataset *ds = s->data;
	int32_t		k = model->k;
	Prior		prior_w0 = {0.0, params->reg_w0};
	double		w0;

	fm_sweep_begin_iteration(s, model);
	g->alpha = draw_gamma(&g->rng, (MCMC_ALPHA0 + (double) ds->n_rows) / 2.0,
						  (MCMC_BETA0 + fm_sweep_sse(s)) / 2.0);

	w0 = draw_param(g, model->w0, fm_sweep_w0_stats(s), prior_w0);
	fm_sweep_w0_apply(s, w0 - model->w0);
	model->w0 = w0;

	draw_group_priors(g, ds, model->w, 1, g->prior_w, 1);
	for (int32_t f = 0; f < k; f++)
		draw_group_priors(g, ds, model->V + f, (size_t) k, g->prior_v + f, (size_t) k);

	fm_sweep_features(s, model, gibbs_update, g);
}

/* Add the current draw to the posterior sums. */
static void
accumulate_parameters(Gibbs *g, const FmModel *model)
{
	size_t		nk = (size_t) model->n_features * model->k;

	g->sum_w0 += model->w0;
	for (int32_t l = 0; l < model->n_features; l++)
		g->sum_w[l] += model->w[l];
	for (size_t j = 0; j < nk; j++)
		g->sum_V[j] += model->V[j];
}

/*
 * RMSE of the predictions in pred[] (raw, clipped here) against the targets,
 * where pred holds either one draw's predictions or, with n_samples > 0, the
 * sum of n_samples draws.
 */
static double
rmse_of(const double *pred, int32_t n_samples, const FmDataset *ds, const FmModel *model)
{
	double		sse = 0.0;
	double		scale = n_samples > 0 ? 1.0 / n_samples : 1.0;

	if (ds == NULL || ds->n_rows == 0)
		return NAN;
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		err = fm_clip(pred[r] * scale, model->target_min, model->target_max)
			- fm_ds_target(ds, r);

		sse += err * err;
	}
	return sqrt(sse / (double) ds->n_rows);
}

/*
 * Train RMSE after a sweep: of this draw's predictions (y - e) during
 * burn-in, of the averaged predictions after it.
 */
static double
train_rmse_after_sweep(Gibbs *g, const FmModel *model, bool collect)
{
	const FmDataset *ds = g->sweep.data;

	if (!collect)
		return fm_sweep_train_rmse(&g->sweep, model);
	for (int64_t r = 0; r < ds->n_rows; r++)
		g->sum_train[r] += (double) fm_ds_target(ds, r) - (double) g->sweep.e[r];
	return rmse_of(g->sum_train, g->n_samples, ds, model);
}

static void
add_prediction(void *arg, int64_t row, double prediction)
{
	((double *) arg)[row] += prediction;
}

/* The same for the validation rows, which have to be predicted. */
static double
valid_rmse_after_sweep(Gibbs *g, const FmDataset *valid, const FmModel *model, bool collect)
{
	if (valid == NULL || valid->n_rows == 0)
		return NAN;
	if (!collect)
		return fm_sweep_rmse(&g->sweep, model, valid);
	fm_sweep_predict(&g->sweep, model, valid, add_prediction, g->sum_valid);
	return rmse_of(g->sum_valid, g->n_samples, valid, model);
}

/* The posterior mean of the parameters. */
static void
write_posterior_mean(const Gibbs *g, FmModel *model)
{
	size_t		nk = (size_t) model->n_features * model->k;
	double		scale = 1.0 / g->n_samples;

	model->w0 = g->sum_w0 * scale;
	for (int32_t l = 0; l < model->n_features; l++)
		model->w[l] = (float) (g->sum_w[l] * scale);
	for (size_t j = 0; j < nk; j++)
		model->V[j] = (float) (g->sum_V[j] * scale);
}

/*
 * The stored model must be one set of parameters, and the posterior mean
 * predicts much worse than the averaged predictions it comes from (on
 * MovieLens 100K, u1, k = 16: test RMSE 0.914 against 0.898): y is bilinear
 * in V and single draws are noisy (one draw alone scores 1.00), so the
 * product of mean vectors misses much of the mean of products.  Starting
 * from the posterior mean, ALS passes towards the averaged predictions of
 * the training rows, which the sampler has anyway, project the ensemble
 * back onto one set of vectors (0.902 there).  The penalty only keeps
 * parameters that no row constrains from moving.
 */
#define MCMC_PROJECTION_PASSES 1
#define MCMC_PROJECTION_REG 1.0

static void
project_posterior(Gibbs *g, const FmDataset *train, FmModel *model, const FmAllocator *a)
{
	FmDataset	averaged = *train;
	/* targets are read by physical row (dataset.h) */
	float	   *targets = fm_alloc(a, (size_t) fm_dataset_physical_rows(train) * sizeof(float));
	FmTrainParams p;

	for (int64_t r = 0; r < train->n_rows; r++)
		targets[fm_ds_physical(train, r)] = (float) (g->sum_train[r] / g->n_samples);
	averaged.targets = targets;

	memset(&p, 0, sizeof(p));
	p.reg_w = MCMC_PROJECTION_REG;
	p.reg_v = MCMC_PROJECTION_REG;
	fm_sweep_reset(&g->sweep, &averaged, model);
	for (int i = 0; i < MCMC_PROJECTION_PASSES; i++)
		fm_als_iteration(&g->sweep, model, &p);
}

void
fm_train_mcmc(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
			  FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
			  FmTrainResult *result)
{
	Gibbs		g;
	double		train_rmse = NAN;
	double		valid_rmse = NAN;
	int32_t		it;

	fm_model_init_random(model, fm_dataset_target_mean(train), params->init_stdev,
						 fm_seed_for(params->seed, FM_SEED_INIT));
	gibbs_init(&g, train, valid, model, params, hooks, a);

	for (it = 0; it < params->epochs; it++)
	{
		double		start = fm_wall_seconds();
		bool		collect = it >= params->burn_in;
		bool		go_on;

		gibbs_sweep(&g, model, params);
		if (collect)
		{
			g.n_samples++;
			accumulate_parameters(&g, model);
		}
		train_rmse = train_rmse_after_sweep(&g, model, collect);
		valid_rmse = valid_rmse_after_sweep(&g, valid, model, collect);
		go_on = fm_report_epoch(hooks, it + 1, train_rmse, valid_rmse,
								fm_wall_seconds() - start);
		if (!go_on)
		{
			it++;
			break;
		}
	}

	/* without a post-burn-in draw (stopped early), the last draw is the model */
	if (g.n_samples > 0)
	{
		write_posterior_mean(&g, model);
		project_posterior(&g, train, model, a);
	}

	result->epochs_run = it;
	result->train_rmse = train_rmse;
	result->valid_rmse = valid_rmse;
	result->valid_rmse_mean_model = fm_sweep_rmse(&g.sweep, model, valid);
}

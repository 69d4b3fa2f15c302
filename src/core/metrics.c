/*
 * metrics.c - rating accuracy and ranking quality.
 */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>

double
fm_rmse(const double *predictions, const double *targets, int64_t n)
{
	double		sse = 0.0;

	if (n <= 0)
		return NAN;
	for (int64_t i = 0; i < n; i++)
	{
		double		err = predictions[i] - targets[i];

		sse += err * err;
	}
	return sqrt(sse / (double) n);
}

double
fm_mae(const double *predictions, const double *targets, int64_t n)
{
	double		sum = 0.0;

	if (n <= 0)
		return NAN;
	for (int64_t i = 0; i < n; i++)
		sum += fabs(predictions[i] - targets[i]);
	return sum / (double) n;
}

static bool
contains(const int64_t *ids, int32_t n, int64_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * Is ranked[pos] a hit: relevant, and not already counted at an earlier
 * position?  A list that repeats an id must not score it twice.
 */
static bool
is_new_hit(const int64_t *ranked, int32_t pos, const int64_t *relevant, int32_t n_relevant)
{
	return contains(relevant, n_relevant, ranked[pos]) &&
		!contains(ranked, pos, ranked[pos]);
}

static int32_t
cutoff(int32_t n_ranked, int32_t k)
{
	return n_ranked < k ? n_ranked : k;
}

static int32_t
hits_at_k(const int64_t *ranked, int32_t n_ranked,
		  const int64_t *relevant, int32_t n_relevant, int32_t k)
{
	int32_t		hits = 0;
	int32_t		n = cutoff(n_ranked, k);

	for (int32_t pos = 0; pos < n; pos++)
		if (is_new_hit(ranked, pos, relevant, n_relevant))
			hits++;
	return hits;
}

double
fm_precision_at_k(const int64_t *ranked, int32_t n_ranked,
				  const int64_t *relevant, int32_t n_relevant, int32_t k)
{
	if (k <= 0)
		return NAN;
	return (double) hits_at_k(ranked, n_ranked, relevant, n_relevant, k) / (double) k;
}

double
fm_recall_at_k(const int64_t *ranked, int32_t n_ranked,
			   const int64_t *relevant, int32_t n_relevant, int32_t k)
{
	if (k <= 0 || n_relevant <= 0)
		return NAN;
	return (double) hits_at_k(ranked, n_ranked, relevant, n_relevant, k) / (double) n_relevant;
}

/* gain of a hit at 0-based position pos */
static double
discount(int32_t pos)
{
	return 1.0 / log2((double) pos + 2.0);
}

double
fm_ndcg_at_k(const int64_t *ranked, int32_t n_ranked,
			 const int64_t *relevant, int32_t n_relevant, int32_t k)
{
	double		dcg = 0.0;
	double		ideal = 0.0;
	int32_t		n = cutoff(n_ranked, k);

	if (k <= 0 || n_relevant <= 0)
		return NAN;
	for (int32_t pos = 0; pos < n; pos++)
		if (is_new_hit(ranked, pos, relevant, n_relevant))
			dcg += discount(pos);
	for (int32_t pos = 0; pos < cutoff(n_relevant, k); pos++)
		ideal += discount(pos);
	return dcg / ideal;
}

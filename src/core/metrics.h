/*
 * metrics.h - accuracy of predicted ratings and quality of one user's
 * ranked recommendations.
 *
 * Ranking metrics use binary relevance and take
 *   ranked:   the recommended ids, best first (only the first k count; an id
 *             repeated in the list counts once, at its first position);
 *   relevant: the ids the user actually liked, without duplicates.
 * They cost O(k * (k + n_relevant)) and allocate nothing: lists are short.
 * Undefined values (k <= 0; no relevant id for recall and NDCG; no row for
 * RMSE) are NaN, which the SQL functions turn into NULL.
 */
#ifndef FM_METRICS_H
#define FM_METRICS_H

#include <stdint.h>

/* sqrt(mean((predictions - targets)^2)) */
extern double fm_rmse(const double *predictions, const double *targets, int64_t n);

/* mean(|predictions - targets|) */
extern double fm_mae(const double *predictions, const double *targets, int64_t n);

/* Relevant ids among the first k ranked, divided by k. */
extern double fm_precision_at_k(const int64_t *ranked, int32_t n_ranked,
								const int64_t *relevant, int32_t n_relevant, int32_t k);

/* Relevant ids among the first k ranked, divided by n_relevant. */
extern double fm_recall_at_k(const int64_t *ranked, int32_t n_ranked,
							 const int64_t *relevant, int32_t n_relevant, int32_t k);

/*
 * DCG of the first k ranked (gain 1 / log2(position + 1), positions from 1)
 * divided by the DCG of an ideal list: min(k, n_relevant) hits on top.
 */
extern double fm_ndcg_at_k(const int64_t *ranked, int32_t n_ranked,
						   const int64_t *relevant, int32_t n_relevant, int32_t k);

#endif							/* FM_METRICS_H */

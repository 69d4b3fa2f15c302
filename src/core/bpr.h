/*
 * bpr.h - Bayesian personalised ranking (Rendle, Freudenthaler, Gantner,
 * Schmidt-Thieme, UAI 2009) for factorization machines with side features,
 * on the contexts, items and positives of implicit.h.
 *
 * Each step draws a training positive (c, i) and an item j the context has
 * no positive for, uniformly from the catalogue, and descends
 *
 *   -ln sigmoid(y_ci - y_cj) + reg_v |v|^2 + reg_w w^2   (the parameters touched)
 *
 * with Adagrad.  The context's own terms cancel in y_ci - y_cj =
 * (b_i - b_j) + <q_c, e_i - e_j>, so w0, the context's linear terms and the
 * pairwise terms among context features are not learnt (they stay 0 and do
 * not change any ranking).  An epoch is as many steps as there are
 * positives; each costs O(m k).
 */
#ifndef FM_BPR_H
#define FM_BPR_H

#include "implicit.h"
#include "train.h"

/*
 * Initialise the model (w = 0, V ~ N(0, init_stdev^2)), run params->epochs
 * epochs at params->learning_rate, reporting the mean loss of the epoch's
 * steps and the validation NDCG@10 after each.
 */
extern void fm_train_bpr(const FmImplicitData *d, const FmTrainParams *params, FmModel *model,
						 const FmTrainHooks *hooks, const FmAllocator *a, FmTrainResult *result);

#endif							/* FM_BPR_H */

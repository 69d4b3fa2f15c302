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

/*
 * Parallel epochs (FmParallel.bpr_epoch), Hogwild: the participants share
 * the model and Adagrad's sums (fm_bpr_shared_bytes of FmParallel.shared,
 * besides the data) and update them without locks.  Each makes its view
 * once (`shared` the leader's address of the state, `delta` what turns a
 * leader's address of the shared memory into this process's, scratch from
 * `a`), then runs the claims it takes: claim c is n steps drawn from a
 * generator seeded by the epoch and c, so the steps are the same whoever
 * runs them, but not their interleaving: not deterministic with workers.
 * FmBpr (named in train.h) is opaque outside bpr.c.
 */

extern size_t fm_bpr_shared_bytes(int32_t n_features, int32_t k);
extern FmBpr *fm_bpr_participant(const FmBpr *shared, ptrdiff_t delta, const FmTrainHooks *hooks,
								 const FmAllocator *a);
extern void fm_bpr_participant_steps(FmBpr *p, int64_t claim, int64_t n, double *loss,
									 int64_t *steps);

#endif							/* FM_BPR_H */

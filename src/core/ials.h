/*
 * ials.h - implicit alternating least squares for factorization machines:
 * coordinate descent with the Gram-matrix trick (Bayer, He, Kanagal,
 * Rendle, "A Generic Coordinate Descent Framework for Learning from
 * Implicit Feedback", WWW 2017), with the recipe of Rendle, Krichene, Zhang,
 * Koren, "Revisiting the Performance of iALS on Item Recommendation
 * Benchmarks" (2021): frequency-scaled penalty, a small initialisation.
 *
 * Objective, over every (context c, item i) pair of the catalogue:
 *
 *   L = sum_{observed} w_ci (y_ci - 1)^2  +  sum_{all c, i} alpha_i y_ci^2
 *       + sum_f lambda_f (reg_w w_f^2 + reg_v |v_f|^2)
 *
 * with y the full FM prediction (implicit.h), w_ci the confidence of an
 * observed pair, alpha_i = alpha0 N_items (n_i + 1)^beta / sum_j (n_j + 1)^beta
 * the unobserved weight of item i spread by its number of positives n_i
 * (popularity-aware weighting, He, Zhang, Kan, Chua, SIGIR 2016; beta =
 * popularity_exponent, 0 for uniform alpha0), and lambda_f = (sum over the
 * entities e of f's side having f of x_ef^2 (W_e + U_e))^reg_exponent, W_e
 * the summed confidences of e's pairs, U_e its summed unobserved weights
 * (sum_i alpha_i for a context, alpha_i N_contexts for an item).  w0 is not
 * penalised.
 *
 * Augmented vectors.  Write a context as qa_c = (s_c, 1, q_c) and an item as
 * ea_i = (1, s_i, e_i), s being the side's own scalar terms (w0 + linear +
 * pairwise among its features for a context; the item bias for an item):
 * then y_ci = <qa_c, ea_i>.  The FM is linear in each single parameter
 * theta of one side, and its derivative is again an augmented vector of
 * that side: for a feature f of a context with value x,
 *
 *   dy/dw_f  = <x u_0, ea_i>,   dy/dv_fd = <x (q_cd - x v_fd) u_0 + x u_{2+d}, ea_i>
 *
 * (u_j the unit vectors; items alike with slot 1).  So the sum over every
 * item of h * y and of h^2 needs only the k+2 square Gram matrix
 * G = sum_i alpha_i ea_i ea_i^T and r_c = G qa_c, kept up to date after each step:
 * an exact one-dimensional minimisation per parameter, and one epoch (a
 * sweep over the context side, then the item side) costs
 * O(nnz_pairs * m * k + (n_contexts * m_c + n_items * m_i) * k^2), never
 * O(contexts x items).
 *
 * Memory beyond the data (implicit.h) and the model: 8 bytes per training
 * pair (the cached predictions y), and 16 (k + 2) bytes per context and
 * per item (the augmented vectors, and r and the transposed other side
 * sharing one buffer), 8 per feature, the validation's item embeddings,
 * and FM_IALS_BLOCKS parts of G (64 (k + 2)^2 doubles: 2.2 MB at k 64).
 * fm_train_from_table at 10M MovieLens-25M-shaped ratings (41% of them
 * positives, 162,000 contexts, k 64): 45 bytes of training memory per
 * rating, most of it the per-context caches and the model; at 25M 39
 * bytes (938 MB), the peak there being the implicit build (the source
 * rows, 35 bytes, plus 12 per positive), after which the rows are freed.
 * Before: 176 and 151 bytes (every row's features copied, 64-bit pair
 * indices, and each step gathering copies of its pairs).
 */
#ifndef FM_IALS_H
#define FM_IALS_H

#include "implicit.h"
#include "train.h"

/*
 * Entity blocks per side (see ials.c): the unit of a parallel sweep and of
 * its sums, so at most this many participants.
 */
#define FM_IALS_BLOCKS 64

/* The sweep's caches; opaque outside ials.c except for tests (train.h names it). */

extern FmIals *fm_ials_new(const FmImplicitData *d, const FmTrainParams *params,
						   const FmModel *model, const FmTrainHooks *hooks,
						   const FmAllocator *a);

/* One epoch: every context-side parameter (w0 first), then every item-side one. */
extern void fm_ials_epoch(FmIals *s, FmModel *model);

/*
 * For tests: start a sweep of one side (0 contexts, 1 items) from the model,
 * then set one parameter to its exact minimiser: feature -1 is w0 (context
 * side), factor -1 is w_f.
 */
extern void fm_ials_begin_side(FmIals *s, const FmModel *model, int side);
extern void fm_ials_update(FmIals *s, FmModel *model, int32_t feature, int32_t factor);

/*
 * Parallel sweeps (FmParallel.ials_side).  fm_ials_new takes the shared
 * state from FmParallel.shared; fm_ials_shared_bytes says how much.  Each
 * participant makes its view once: `shared` the leader's address of the
 * state, `delta` what turns a leader's address of the shared memory into
 * this process's, slot 0 the leader's, 1.. the workers'; the scratch comes
 * from `a`.  For each side's sweep, fm_ials_participant_begin tells it how
 * many take part (slots <= FM_IALS_BLOCKS; barrier waits until all of them
 * called it, as often), then fm_ials_participant_sweep runs its part, with
 * `model` the participant's own FmModel struct over the shared w and V
 * (its w0 the leader's at the start of the side).  The model is the same to
 * the bit for any number of participants.
 */
extern size_t fm_ials_shared_bytes(const FmImplicitData *d, int32_t k);
extern FmIals *fm_ials_participant(const FmIals *shared, ptrdiff_t delta, int slot,
								   const FmTrainHooks *hooks, const FmAllocator *a);
extern void fm_ials_participant_begin(FmIals *p, int slots, void (*barrier) (void *arg),
									  void *barrier_arg);
extern void fm_ials_participant_sweep(FmIals *p, FmModel *model, int side);

/* L of the model, computed from scratch. */
extern double fm_ials_objective(FmIals *s, const FmModel *model);

/* The weight of target 0 on every pair of an item (alpha0 when uniform). */
extern double fm_ials_unobserved_weight(const FmIals *s, int32_t item);

/* The penalty weight lambda_f (before reg_w / reg_v). */
extern double fm_ials_penalty(const FmIals *s, int32_t feature);

/* NDCG@10 over the sampled validation contexts (NaN without any; implicit_eval.h). */
extern double fm_ials_validation_ndcg(FmIals *s, const FmModel *model);

/*
 * The whole training: initialise the model (w0 = w = 0, V ~ N(0,
 * init_stdev^2)), run params->epochs epochs, reporting the objective and
 * the validation NDCG@10 after each.
 */
extern void fm_train_ials(const FmImplicitData *d, const FmTrainParams *params, FmModel *model,
						  const FmTrainHooks *hooks, const FmAllocator *a, FmTrainResult *result);

#endif							/* FM_IALS_H */

/*
 * implicit_eval.h - the per-epoch validation metric of implicit training
 * (iALS, BPR): NDCG@10 of the held-out positives of a fixed, seeded sample
 * of up to FM_IMPLICIT_VALID_CONTEXTS contexts, each ranking the whole
 * catalogue minus its training items by the served score bias_i +
 * <q_c, e_i> (fm_item / fm_query), ties to the smaller item id: the
 * definition of fm_evaluate, through core/rank_eval.
 */
#ifndef FM_IMPLICIT_EVAL_H
#define FM_IMPLICIT_EVAL_H

#include "implicit.h"
#include "model.h"
#include "rank_eval.h"

#define FM_IMPLICIT_VALID_CONTEXTS 1000
#define FM_IMPLICIT_VALID_K 10

typedef struct FmImplicitValidation FmImplicitValidation;

extern FmImplicitValidation *fm_implicit_validation_new(const FmImplicitData *d, int32_t k,
														uint64_t seed, const FmAllocator *a);

/* NDCG@10 of the model (NaN when no context has held-out positives). */
extern double fm_implicit_validation_ndcg(FmImplicitValidation *v, const FmModel *model,
										  FmRankTick tick, void *tick_arg);

#endif							/* FM_IMPLICIT_EVAL_H */

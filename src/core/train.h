/*
 * train.h - one entry point for every optimiser.
 *
 * Each optimiser lives in its own file (sgd.c, adam.c, als.c, mcmc.c) and has
 * the signature FmOptimizer; fm_train() validates nothing (the caller did),
 * dispatches on the method and reports progress through hooks.
 */
#ifndef FM_TRAIN_H
#define FM_TRAIN_H

#include "fm_core.h"
#include "dataset.h"
#include "model.h"

typedef enum FmMethod
{
	FM_METHOD_SGD,
	FM_METHOD_ADAM,
	FM_METHOD_ALS,
	FM_METHOD_MCMC,
	FM_METHOD_IALS,				/* implicit feedback: fm_train_ials (ials.h) */
	FM_METHOD_BPR				/* implicit feedback: fm_train_bpr (bpr.h) */
} FmMethod;

typedef struct FmTrainParams
{
	FmMethod	method;
	int32_t		k;
	int32_t		epochs;			/* epochs, or iterations for ALS/MCMC */
	double		learning_rate;	/* SGD/Adam */
	double		reg_w0;			/* L2 regularisation per group of parameters */
	double		reg_w;
	double		reg_v;
	double		init_stdev;
	uint64_t	seed;
	int32_t		burn_in;		/* MCMC: iterations discarded before averaging */

	/*
	 * SGD/Adam: visit the rows grouped by their feature of the largest group
	 * (the users, typically) in shuffled groups, rather than in a fully
	 * random order; see fm_epoch_order_build (train.c).  false by default.
	 */
	bool		grouped_order;

	/* iALS (ials.h); reg_w and reg_v are then per unit of frequency */
	double		unobserved_weight;	/* alpha0: weight of every pair's target 0 */
	double		confidence;		/* a positive weighs 1 + confidence * target */
	double		reg_exponent;	/* penalty of a feature = reg * frequency^exponent */
	double		popularity_exponent;	/* item i's unobserved weight grows as popularity^it */
} FmTrainParams;

/* What an epoch hook sees. */
typedef struct FmEpochReport
{
	int32_t		epoch;			/* 1-based */
	double		train_rmse;
	double		valid_rmse;		/* NaN when there is no validation set */
	double		seconds;		/* wall time of this epoch */
	double		train_loss;		/* iALS: the objective; NaN for the others */
	double		valid_ndcg;		/* iALS: NDCG@10 of the validation contexts, or NaN */
} FmEpochReport;

/*
 * Parallel epochs, supplied by the caller (the server's parallel workers,
 * src/fm_train_parallel.c): the core stays single-threaded and knows no
 * processes.  An optimiser that supports it (SGD, Adam, ALS) allocates the
 * memory every participant must see from `shared`.  SGD and Adam hand each
 * epoch's rows to `epoch`, which runs fm_sgd_rows() or fm_adam_rows() over
 * them split among the participants and returns the sum of their squared
 * errors, w0 already updated in *model (see fm_train_stochastic, train.c); ALS hands runs of
 * features that share no row to `als_features` (see fm_train_als, als.c).
 */
typedef struct FmAlsShared FmAlsShared;
typedef struct FmAdamShared FmAdamShared;
typedef struct FmIals FmIals;
typedef struct FmBpr FmBpr;

/*
 * The order in which an epoch of SGD or Adam visits the training rows, 4
 * bytes per row (see fm_epoch_order_build in train.c): the rows, stored
 * bucket by bucket, and the buckets' visiting order.  Position i of the
 * epoch is a row of bucket visit[b], the first b with visit_end[b] > i.
 * Without grouping there is one bucket, the whole shuffled order.  Row
 * numbers and positions fit 32 bits: the reader stops at 2^32 - 2 rows.
 */
typedef struct FmEpochOrder
{
	int64_t		n_rows;
	int64_t		n_buckets;
	uint32_t   *rows;			/* n_rows row numbers, bucket after bucket */
	uint32_t   *bucket_start;	/* n_buckets + 1 offsets into rows */
	uint32_t   *visit;			/* n_buckets: this epoch's order of the buckets */
	uint32_t   *visit_end;		/* n_buckets: positions covered after visit[0 .. b] */
} FmEpochOrder;

/*
 * The rows at positions pos .. end - 1 of the epoch that are contiguous in
 * memory, from pos on: sets *rows to the first and returns their number (at
 * least 1 when pos < end).  A participant walks its claim [first, end) of
 * the epoch with it, piece after piece.
 */
extern int64_t fm_epoch_order_piece(const FmEpochOrder *order, int64_t pos, int64_t end,
									const uint32_t **rows);

typedef struct FmParallel
{
	FmAllocator shared;

	/*
	 * SGD (adam NULL) or Adam (its state, from `shared`): run the epoch's
	 * rows, each participant fm_sgd_rows or fm_adam_rows on its claims.
	 */
	double		(*epoch) (void *arg, FmAdamShared *adam, FmModel *model,
						  const FmEpochOrder *order, double lr);

	/*
	 * ALS: sweep features [first, last), which share no row, split among
	 * the participants: each makes its view with fm_als_participant(shared)
	 * and runs fm_als_participant_run over the features it claims.
	 */
	void		(*als_features) (void *arg, const FmAlsShared *shared,
								 int32_t first, int32_t last);
	int32_t		als_min_run;	/* shorter runs stay with the leader (0: 64) */

	/*
	 * iALS: sweep one side (0 contexts, 1 items) of `shared` (allocated
	 * from `shared`), the leader with `model`: every participant makes its
	 * view with fm_ials_participant and runs fm_ials_participant_sweep
	 * (ials.h); NULL: iALS sweeps serially.
	 */
	void		(*ials_side) (void *arg, FmIals *shared, FmModel *model, int side);

	/*
	 * BPR: run an epoch's n_steps steps of `shared` (allocated from
	 * `shared`), in claims taken by every participant with its view
	 * (fm_bpr_participant, fm_bpr_participant_steps in bpr.h); adds their
	 * losses and steps.  NULL: BPR trains serially.
	 */
	void		(*bpr_epoch) (void *arg, FmBpr *shared, int64_t n_steps, double *loss,
							  int64_t *steps);
	void	   *arg;
} FmParallel;


typedef struct FmTrainHooks
{
	/* called after each epoch; return false to stop early */
	bool		(*epoch_done) (const FmEpochReport *report, void *arg);

	/*
	 * called every few thousand rows inside an epoch so the server can
	 * honour query cancel; it may longjmp out (the core holds no resource
	 * but arena memory).
	 */
	void		(*tick) (void *arg);
	void	   *arg;

	/* NULL: serial.  Else what parallel epochs need (see FmParallel). */
	const FmParallel *parallel;
} FmTrainHooks;

/*
 * A participant of a parallel ALS sweep (als.c): `shared` is the leader's
 * address of the state, `delta` what to add to a leader's address of the
 * shared memory to get this process's; the scratch comes from `a`.
 */
typedef struct FmAlsParticipant FmAlsParticipant;
extern FmAlsParticipant *fm_als_participant(const FmAlsShared *shared, ptrdiff_t delta,
											const FmTrainHooks *hooks, const FmAllocator *a);
extern void fm_als_participant_run(FmAlsParticipant *p, int32_t first, int32_t last);

/* Bytes parallel ALS takes from FmParallel.shared, for a training set (scratch from a). */
extern size_t fm_als_shared_bytes(const FmDataset *train, int32_t k, const FmAllocator *scratch);

/* Summary of a finished training. */
typedef struct FmTrainResult
{
	int32_t		epochs_run;
	double		train_rmse;
	double		valid_rmse;		/* NaN without a validation set */

	/*
	 * Validation RMSE of the stored model.  Equal to valid_rmse except for
	 * MCMC, whose valid_rmse averages the predictions of the post-burn-in
	 * draws, while the stored model is one set of parameters (the posterior
	 * mean projected onto those averaged predictions, see mcmc.c).
	 */
	double		valid_rmse_mean_model;
	double		train_loss;		/* iALS: the final objective; NaN for the others */
	double		valid_ndcg;		/* iALS: NDCG@10 of the validation contexts, or NaN */
} FmTrainResult;

/*
 * Train `model` (already allocated with train->n_features and params->k) on
 * `train`; `valid` may have zero rows.  target_min/max of the model must be
 * set by the caller (they clip predictions, also during training).
 */
typedef void (*FmOptimizer) (const FmDataset *train, const FmDataset *valid,
							 const FmTrainParams *params, FmModel *model,
							 const FmTrainHooks *hooks, const FmAllocator *a,
							 FmTrainResult *result);

extern void fm_train_sgd(const FmDataset *, const FmDataset *, const FmTrainParams *, FmModel *,
						 const FmTrainHooks *, const FmAllocator *, FmTrainResult *);
extern void fm_train_adam(const FmDataset *, const FmDataset *, const FmTrainParams *, FmModel *,
						  const FmTrainHooks *, const FmAllocator *, FmTrainResult *);
extern void fm_train_als(const FmDataset *, const FmDataset *, const FmTrainParams *, FmModel *,
						 const FmTrainHooks *, const FmAllocator *, FmTrainResult *);
extern void fm_train_mcmc(const FmDataset *, const FmDataset *, const FmTrainParams *, FmModel *,
						  const FmTrainHooks *, const FmAllocator *, FmTrainResult *);

/*
 * A participant's own scratch for fm_sgd_rows and fm_adam_rows: `sum` is k
 * floats, `ids` and `xs` hold one decoded row (fm_ds_row), so they are
 * fm_dataset_max_row_nonzeros(train) long.  Every participant has its own.
 */
typedef struct FmRowScratch
{
	float	   *sum;
	int32_t    *ids;
	float	   *xs;
} FmRowScratch;

/*
 * The hot parameters of a parallel SGD epoch: w0 and the features in a
 * large share of the rows (gender, age, genres: see fm_sgd_hot_features).
 * Hogwild works because rows seldom share a parameter; these are shared by
 * most rows, so with every participant writing them every step their cache
 * lines would move between the cores at every row, and two cores would run
 * slower than one.  So each participant updates its own copy of them, and
 * merges it (fm_sgd_hot_sync) after each claim: the shared value moves by
 * the mean of the participants' changes since their last merge.  The mean,
 * not the sum: each copy sees thousands of steps between two merges and
 * goes most of the way to where the data pulls it, so summing would
 * overshoot by the number of participants (for w0, the bias, every time).
 *
 * The copies live in the model's own arrays after its n_features rows
 * (participant p's copy of slot h at row n_features + p * stride + h, and
 * its snapshot at the last merge n_features + (participants + p) * stride +
 * h, fm_sgd_hot_stride), so a
 * hot id is simply renamed to its copy's row when a row is decoded and the
 * step itself is unchanged.
 */
typedef struct FmHotSet
{
	int32_t		n;				/* hot features */
	int32_t		n_features;		/* of the model: the copies start there */
	int32_t		participants;	/* room for this many participants' copies */
	const uint64_t *is_hot;		/* n_features bits */
	const int32_t *slot;		/* n_features: a hot feature's slot (read only where hot) */
	const int32_t *feature;		/* n: the feature of each slot */
} FmHotSet;

/* A participant's view of the hot set. */
typedef struct FmHotCopy
{
	const FmHotSet *set;
	int32_t		participant;	/* 0 .. set->participants - 1 */
	double		w0_snapshot;	/* the shared w0 at the last merge */
} FmHotCopy;

/*
 * Rows between the starts of two participants' copies: n rounded up to 16
 * and 16 more, so that no cache line of w (16 floats) holds two
 * participants' copies: false sharing would bring back the traffic the
 * copies are there to avoid.
 */
static inline int32_t
fm_sgd_hot_stride(int32_t n_hot)
{
	return (n_hot + 15) / 16 * 16 + 16;
}

/* Model rows the hot set needs after n_features: 2 * participants strides. */
static inline int64_t
fm_sgd_hot_rows(int32_t n_hot, int32_t participants)
{
	return 2 * (int64_t) participants * fm_sgd_hot_stride(n_hot);
}

/*
 * Picks the hot features of a training set: those in at least one row in
 * FM_SGD_HOT_SHARE, the most frequent first, at most max_hot of them, into
 * slot_feature[] (room for max_hot); returns their number.  counts is
 * scratch of n_features.
 */
#define FM_SGD_HOT_SHARE 64
extern int32_t fm_sgd_hot_features(const FmDataset *train, int32_t max_hot, int64_t *counts,
								   int32_t *slot_feature);

/* Fill is_hot (n_features bits, zeroed) and slot from set->feature. */
extern void fm_sgd_hot_index(const FmHotSet *set, uint64_t *is_hot, int32_t *slot);

/*
 * Merges a participant's copies into the shared values (w0 into *shared_w0
 * and model->w0 its copy), each moved by its change since the last merge
 * divided by `active` (the participants at work), then takes fresh copies.
 * Plain adds, as Hogwild's: two merges at the same instant may lose one of
 * the changes to a value.  With merge false, only the fresh copies (the
 * start of a participant's work).
 */
extern void fm_sgd_hot_sync(FmModel *model, FmHotCopy *copy, volatile double *shared_w0,
							int32_t active, bool merge);

/*
 * SGD steps on rows[0] .. rows[n_rows - 1] in that order at rate lr, with
 * params' penalties, decoding rows into `scratch`.  Returns the sum of the
 * squared errors of the clipped predictions.  What each participant of a
 * parallel epoch runs on its share of the rows (Hogwild: the participants
 * update the same shared w and V without locks), with `hot` the
 * participant's copies of the hot parameters (model->w0 its copy of w0), or
 * NULL: then every parameter is the model's.
 */
extern double fm_sgd_rows(FmModel *model, const FmDataset *train, const FmTrainParams *params,
						  const uint32_t *rows, int64_t n_rows, double lr,
						  const FmRowScratch *scratch, const FmHotCopy *hot);

/*
 * Adam steps on rows[0 .. n_rows), as fm_sgd_rows: `shared` is the leader's
 * address of the state fm_train_adam put in FmParallel.shared, delta what to
 * add to a leader's shared address to get this process's.
 */
extern double fm_adam_rows(FmModel *model, const FmDataset *train, const FmTrainParams *params,
						   FmAdamShared *shared, ptrdiff_t delta, const uint32_t *rows,
						   int64_t n_rows, double lr, const FmRowScratch *scratch,
						   volatile double *shared_w0);

/* Bytes parallel Adam takes from FmParallel.shared. */
extern size_t fm_adam_shared_bytes(int32_t n_features, int32_t k);

/* Dispatch on params->method (not iALS or BPR: they train on FmImplicitData). */
extern void fm_train(const FmDataset *train, const FmDataset *valid, const FmTrainParams *params,
					 FmModel *model, const FmTrainHooks *hooks, const FmAllocator *a,
					 FmTrainResult *result);

/* Method name <-> enum ("sgd", "adam", "als", "mcmc", "ials", "bpr"); returns false if unknown. */
extern bool fm_method_from_name(const char *name, FmMethod *method);
extern const char *fm_method_name(FmMethod method);

/* iALS and BPR learn a ranking from implicit feedback (implicit.h). */
static inline bool
fm_method_is_implicit(FmMethod method)
{
	return method == FM_METHOD_IALS || method == FM_METHOD_BPR;
}

/* Defaults per method, tuned on MovieLens 100K (see README). */
extern void fm_train_params_default(FmTrainParams *p, FmMethod method);

#endif							/* FM_TRAIN_H */

/*
 * fm_train_parallel.c - SGD and Adam epochs and ALS sweeps shared with
 * PostgreSQL's parallel workers.
 *
 * Processes, not threads: a backend must not run threads that could touch
 * the server's state, and a worker's error, cancel or crash must be handled
 * as the server handles a parallel index build's (nbtsort.c
 * _bt_begin_parallel, pgvector's parallel HNSW build).  So:
 *
 * - One ParallelContext and one dynamic shared memory segment (DSM) for the
 *   whole training.  Workers cannot see the leader's memory: the training
 *   rows (CSR arrays) are moved into the segment (their private pages
 *   given back as they are copied, see fm_shm_arena_move), the model's w and V
 *   copied, the epoch order made there, and the leader trains on those too (its
 *   FmModel points into the segment until training ends, then the values
 *   are copied back).  Pointers differ between processes, so the segment's
 *   header holds offsets.
 *
 * - Workers are launched for each epoch (LaunchParallelWorkers, then
 *   WaitForParallelWorkersToFinish and ReinitializeParallelDSM before the
 *   next): the leader shuffles the order and evaluates between epochs,
 *   and an epoch boundary is a natural barrier, so no ConditionVariable
 *   protocol is needed, and a launch (a few milliseconds) is nothing
 *   beside an epoch of the million rows parallel training is meant for.
 *   The pool may give fewer workers than planned, or none: rows are
 *   claimed in chunks from an atomic counter by whoever is there (the
 *   leader included), so any number of participants does the whole epoch.
 *
 * - Hogwild (Niu, Recht, Re, Wright 2011): participants run fm_sgd_rows (or
 *   fm_adam_rows, whose moments are shared too) on their chunks and update
 *   the shared w and V without locks.  Rows of a
 *   sparse data set seldom share features, and a lost update of a float is
 *   one noisy step among millions; the accuracy is that of serial SGD (the
 *   parallel regression test asserts it).  w0, which every row updates, is
 *   a shared double too.  The result is NOT deterministic with workers:
 *   which rows run at the same time depends on scheduling.  Serial training
 *   (no workers) is unchanged, bit for bit.
 *
 * - ALS (see "Parallel sweeps" in core/als.c): the sweep's caches are
 *   allocated in the segment; runs of features that share no row are split
 *   among the participants, 8 features a claim, one launch per long run
 *   (two per iteration on a user-item table: the users, the items).  Each
 *   feature's update then depends on nothing another participant writes:
 *   the result is bit-identical to serial ALS for any number of workers.
 *
 * - Errors and cancel: a worker's ERROR reaches the leader through the
 *   context's error queue (at its next CHECK_FOR_INTERRUPTS or at
 *   WaitForParallelWorkersToFinish) and aborts the training; the leader's
 *   abort terminates the workers and detaches the segment (AtEOXact_Parallel).
 *   Workers check for interrupts after every chunk.  A worker killed by a
 *   signal makes the postmaster restart the cluster, as for any backend.
 *   Nothing is written in any of these cases: the model is stored after
 *   this file has returned.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "postmaster/bgworker_internals.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "fm_shm_arena.h"
#include "fm_train_parallel.h"
#include "core/train_util.h"

int			fmrec_max_parallel_workers_per_training = -1;
int			fmrec_training_row_order = FM_ROW_ORDER_AUTO;

static const struct config_enum_entry row_order_options[] = {
	{"auto", FM_ROW_ORDER_AUTO, false},
	{"shuffled", FM_ROW_ORDER_SHUFFLED, false},
	{"grouped", FM_ROW_ORDER_GROUPED, false},
	{NULL, 0, false}
};

/*
 * With the default setting (-1), training sets smaller than this train
 * serially: their epochs take less than a few hundred milliseconds, where
 * launching workers for every epoch would cost a noticeable part, and small
 * trainings stay deterministic by default.
 */
#define FM_PARALLEL_DEFAULT_MIN_ROWS INT64CONST(1000000)

/* Rows a participant claims at a time: its CHECK_FOR_INTERRUPTS interval. */
#define FM_PARALLEL_CHUNK_ROWS 4096

/* SGD: hot features at most (see FmHotSet in core/train.h). */
#define FM_PARALLEL_MAX_HOT 256

/* Features an ALS participant claims at a time. */
#define FM_PARALLEL_CHUNK_FEATURES 8

#define FM_PARALLEL_KEY_SHARED UINT64CONST(0xF3EC000000000001)

enum
{
	JOB_SGD_EPOCH,
	JOB_ALS_FEATURES
};

/* Offsets into the arena (the segment's memory after the header). */
typedef struct ParallelShared
{
	/* fixed for the whole training */
	FmTrainParams params;
	int32		n_features;
	int32		k;
	FmDataset	layout;			/* the training set's sizes and palette; no pointers */
	int32		max_row_nonzeros;	/* each participant's decode buffers */
	double		target_min;
	double		target_max;
	FmShmArena	arena;			/* the bump allocator (leader only) */
	Size		off_row_index;	/* 0: no row index (identity) */
	Size		off_row_start;
	Size		off_ids;
	Size		off_weights;	/* 0: no weights (x from the palette) */
	Size		off_targets;
	Size		off_w;			/* n_features + hot rows (FmHotSet) */
	Size		off_V;
	int32		n_hot;			/* SGD's hot set: its features, bitmap and slots */
	int32		participants;	/* the hot copies' room: the leader and every planned worker */
	Size		off_hot_feature;
	Size		off_is_hot;
	Size		off_hot_slot;
	pg_atomic_uint32 active;	/* participants at work on the epoch */

	/* one job (an SGD epoch or an ALS run), set by the leader before launching */
	int			job;
	FmEpochOrder order;			/* SGD epoch: sizes; its arrays at the offsets below */
	Size		off_order_rows;
	Size		off_bucket_start;
	Size		off_visit;
	Size		off_visit_end;
	double		lr;
	double		w0;				/* the model's w0 during the epoch (Hogwild too) */
	pg_atomic_uint64 next_row;	/* the next unclaimed position in the order */
	Size		off_als;		/* ALS: the core's FmAlsShared */
	bool		adam;			/* epoch: Adam (its state at off_adam), else SGD */
	Size		off_adam;
	int32		als_last;		/* ALS: features next_row .. als_last */

	/* what the participants add up, under mutex */
	slock_t		mutex;
	double		sse;
} ParallelShared;

/* The arena starts at the first cache line after the header. */
#define ARENA_OFFSET TYPEALIGN(64, sizeof(ParallelShared))

static char *
arena_base(ParallelShared *sh)
{
	return (char *) sh + ARENA_OFFSET;
}

/* What one training's leader keeps about its context. */
typedef struct ParallelRun
{
	ParallelContext *pcxt;
	ParallelShared *shared;
	FmDataset	train;			/* views into the segment */
	FmRowScratch scratch;		/* the leader's */
	bool		launched_before;
	int			max_launched;
	FmAlsParticipant *als_leader;	/* the leader's view, made at its first ALS job */
	const FmTrainHooks *hooks;		/* the leader's */
	FmAllocator alloc;			/* the leader's budget */
	FmParallel	parallel;
	double		last_epoch_end; /* fm_wall_seconds() when the last epoch's workers ended */
} ParallelRun;

void
fm_train_parallel_define_settings(void)
{
	DefineCustomIntVariable("fmrec.max_parallel_workers_per_training",
							"Most parallel workers one training may use besides the leader.",
							"-1 (the default) uses max_parallel_maintenance_workers for training "
							"sets of at least a million rows and none for smaller ones; 0 trains "
							"serially; a positive number asks for that many workers whatever "
							"the size.  sgd, adam, als, ials and bpr train in parallel; the workers come from "
							"max_worker_processes and max_parallel_workers.",
							&fmrec_max_parallel_workers_per_training,
							-1, -1, MAX_PARALLEL_WORKER_LIMIT,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("fmrec.training_row_order",
							 "Order in which sgd and adam visit the rows of an epoch.",
							 "shuffled: a random permutation; grouped: the rows of one user "
							 "(the feature of the largest column) together, users and their "
							 "rows shuffled, so that the user's vector stays in cache; auto "
							 "(the default): grouped for training sets of at least a million "
							 "rows, shuffled below.",
							 &fmrec_training_row_order,
							 FM_ROW_ORDER_AUTO,
							 row_order_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
}

void
fm_train_choose_row_order(FmTrainParams *params, int64 n_rows)
{
	params->grouped_order = fmrec_training_row_order == FM_ROW_ORDER_GROUPED ||
		(fmrec_training_row_order == FM_ROW_ORDER_AUTO && n_rows >= FM_PARALLEL_DEFAULT_MIN_ROWS);
}

int
fm_train_planned_workers(FmMethod method, int64 n_rows)
{
	int			n = fmrec_max_parallel_workers_per_training;

	if ((method != FM_METHOD_SGD && method != FM_METHOD_ADAM && method != FM_METHOD_ALS &&
		 method != FM_METHOD_IALS && method != FM_METHOD_BPR) ||
		!IsUnderPostmaster || IsInParallelMode())
		return 0;
	if (n < 0)
		n = n_rows >= FM_PARALLEL_DEFAULT_MIN_ROWS ? max_parallel_maintenance_workers : 0;
	/* at least one chunk of rows per participant */
	if ((int64) n + 1 > n_rows / FM_PARALLEL_CHUNK_ROWS)
		n = (int) Max(n_rows / FM_PARALLEL_CHUNK_ROWS - 1, 0);
	return n;
}

/*
 * Non-zeros of the physical rows, all of which the arena holds: with a row
 * index (the fallback validation split) they include rows of other views,
 * which the view's row_start offsets skip.
 */
static int64
physical_nonzeros(const FmDataset *ds)
{
	return (int64) ds->row_start[fm_dataset_physical_rows(ds)];
}

/* Bytes of the arena: every array the participants share. */
static Size
arena_bytes(const FmDataset *ds, const FmModel *model, FmMethod method, int64 hot_rows,
			const FmAllocator *a)
{
	Size		total = 0;
	Size		rows = (Size) model->n_features + (Size) hot_rows;

	if (method == FM_METHOD_ALS)
		total = add_size(total, fm_als_shared_bytes(ds, model->k, a));
	if (method == FM_METHOD_ADAM)
		total = add_size(total, fm_adam_shared_bytes(model->n_features, model->k));

	if (ds->row_index != NULL)
		total = add_size(total, FM_SHM_ALIGNED(mul_size(ds->n_rows, sizeof(uint32))));
	total = add_size(total, FM_SHM_ALIGNED(mul_size(fm_dataset_physical_rows(ds) + 1, sizeof(uint32))));
	total = add_size(total, FM_SHM_ALIGNED(mul_size(physical_nonzeros(ds), sizeof(int32))));
	if (ds->weights != NULL)
		total = add_size(total, FM_SHM_ALIGNED(mul_size(physical_nonzeros(ds), sizeof(float))));
	total = add_size(total, FM_SHM_ALIGNED(mul_size(fm_dataset_physical_rows(ds), sizeof(float))));
	total = add_size(total, FM_SHM_ALIGNED(mul_size(rows, sizeof(float))));
	total = add_size(total, FM_SHM_ALIGNED(mul_size(mul_size(rows, model->k), sizeof(float))));
	if (method == FM_METHOD_SGD)
	{
		/* the hot set: features, bitmap, slots */
		total = add_size(total, FM_SHM_ALIGNED(mul_size(FM_PARALLEL_MAX_HOT, sizeof(int32))));
		total = add_size(total, FM_SHM_ALIGNED(mul_size(((Size) model->n_features + 63) / 64, sizeof(uint64))));
		total = add_size(total, FM_SHM_ALIGNED(mul_size(model->n_features, sizeof(int32))));
	}
	/* the epoch order (FmEpochOrder), allocated by the core through FmParallel.shared */
	total = add_size(total, FM_SHM_ALIGNED(mul_size(ds->n_rows + 1, sizeof(uint32))));
	total = add_size(total, mul_size(3, FM_SHM_ALIGNED(mul_size((Size) ds->n_features + 2, sizeof(uint32)))));
	return add_size(total, 64 * 4);
}

/* A participant's view of the shared training rows and model. */
static void
shared_views(ParallelShared *sh, FmDataset *ds, FmModel *model)
{
	char	   *base = arena_base(sh);

	*ds = sh->layout;			/* sizes and palette */
	ds->n_groups = 1;
	ds->row_index = sh->off_row_index != 0 ? (uint32_t *) (base + sh->off_row_index) : NULL;
	ds->row_start = (uint32_t *) (base + sh->off_row_start);
	ds->ids = (int32_t *) (base + sh->off_ids);
	ds->weights = sh->off_weights != 0 ? (float *) (base + sh->off_weights) : NULL;
	ds->targets = (float *) (base + sh->off_targets);
	ds->feature_group = NULL;	/* SGD does not read it */

	model->n_features = sh->n_features;
	model->k = sh->k;
	model->w0 = sh->w0;
	model->w = (float *) (base + sh->off_w);
	model->V = (float *) (base + sh->off_V);
	model->target_min = sh->target_min;
	model->target_max = sh->target_max;
}

/*
 * One participant's part of an epoch: claim chunks of the order until none
 * is left, SGD on each, and add the squared errors to the shared total;
 * the rows it did.
 * `model` is the participant's own FmModel struct, its w and V the shared
 * ones; w0 is the shared one too (fm_sgd_rows' shared_w0).
 */
static int64
participate(ParallelShared *sh, FmModel *model, const FmDataset *ds, const FmRowScratch *scratch)
{
	int64		rows_done = 0;
	char	   *base = arena_base(sh);
	FmEpochOrder order = sh->order;
	ptrdiff_t	delta = (ptrdiff_t) ((uintptr_t) base - sh->arena.leader_base);
	FmAdamShared *adam = (FmAdamShared *) (sh->arena.leader_base + sh->off_adam);
	double		sse = 0.0;
	FmHotSet	hot_set;
	FmHotCopy	hot;

	order.rows = (uint32_t *) (base + sh->off_order_rows);
	order.bucket_start = (uint32_t *) (base + sh->off_bucket_start);
	order.visit = (uint32_t *) (base + sh->off_visit);
	order.visit_end = (uint32_t *) (base + sh->off_visit_end);
	if (!sh->adam)
	{
		hot_set.n = sh->n_hot;
		hot_set.n_features = sh->n_features;
		hot_set.participants = sh->participants;
		hot_set.is_hot = (const uint64_t *) (base + sh->off_is_hot);
		hot_set.slot = (const int32_t *) (base + sh->off_hot_slot);
		hot_set.feature = (const int32_t *) (base + sh->off_hot_feature);
		hot.set = &hot_set;
		hot.participant = IsParallelWorker() ? ParallelWorkerNumber + 1 : 0;
		Assert(hot.participant < sh->participants);
		pg_atomic_fetch_add_u32(&sh->active, 1);
		fm_sgd_hot_sync(model, &hot, &sh->w0, 0, false);
	}
	for (;;)
	{
		uint64		first = pg_atomic_fetch_add_u64(&sh->next_row, FM_PARALLEL_CHUNK_ROWS);
		int64		end;

		if (first >= (uint64) order.n_rows)
			break;
		end = Min((int64) first + FM_PARALLEL_CHUNK_ROWS, order.n_rows);
		rows_done += end - (int64) first;
		/* the claim may span buckets: one call per contiguous piece */
		for (int64 pos = (int64) first; pos < end;)
		{
			const uint32_t *rows;
			int64		n = fm_epoch_order_piece(&order, pos, end, &rows);

			if (sh->adam)
				sse += fm_adam_rows(model, ds, &sh->params, adam, delta, rows, n,
									sh->lr, scratch, &sh->w0);
			else
				sse += fm_sgd_rows(model, ds, &sh->params, rows, n, sh->lr, scratch, &hot);
			pos += n;
		}
		if (!sh->adam)
			fm_sgd_hot_sync(model, &hot, &sh->w0, (int32) pg_atomic_read_u32(&sh->active), true);
		CHECK_FOR_INTERRUPTS();
	}
	if (!sh->adam)
		pg_atomic_fetch_sub_u32(&sh->active, 1);
	SpinLockAcquire(&sh->mutex);
	sh->sse += sse;
	SpinLockRelease(&sh->mutex);
	return rows_done;
}

/* Claim chunks of the ALS run's features until none is left. */
static void
als_participate(ParallelShared *sh, FmAlsParticipant *p)
{
	for (;;)
	{
		uint64		first = pg_atomic_fetch_add_u64(&sh->next_row, FM_PARALLEL_CHUNK_FEATURES);

		if (first >= (uint64) sh->als_last)
			break;
		fm_als_participant_run(p, (int32) first,
							   (int32) Min((int64) first + FM_PARALLEL_CHUNK_FEATURES, sh->als_last));
		CHECK_FOR_INTERRUPTS();
	}
}

void *
fm_parallel_worker_alloc(size_t bytes, void *arg)
{
	return (void *) TYPEALIGN(64, palloc_extended(bytes + 64, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO));
}

void
fm_parallel_worker_tick(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/* A participant's own decode buffers and sum, palloc'd. */
static void
scratch_alloc(FmRowScratch *scratch, const ParallelShared *sh)
{
	scratch->sum = palloc0(sizeof(float) * Max(sh->k, 1));
	scratch->ids = palloc0(sizeof(int32) * Max(sh->max_row_nonzeros, 1));
	scratch->xs = palloc0(sizeof(float) * Max(sh->max_row_nonzeros, 1));
}

/* The parallel worker's entry point (CreateParallelContext names it). */
PGDLLEXPORT void fm_train_parallel_worker(dsm_segment *seg, shm_toc *toc);

void
fm_train_parallel_worker(dsm_segment *seg, shm_toc *toc)
{
	ParallelShared *sh = shm_toc_lookup(toc, FM_PARALLEL_KEY_SHARED, false);
	FmDataset	ds;
	FmModel		model;
	FmRowScratch scratch = {0};

	shared_views(sh, &ds, &model);
	if (sh->job == JOB_SGD_EPOCH)
	{
		scratch_alloc(&scratch, sh);
		participate(sh, &model, &ds, &scratch);
	}
	else
	{
		FmTrainHooks hooks = {0};
		FmAllocator alloc = {fm_parallel_worker_alloc, NULL};
		ptrdiff_t	delta = (ptrdiff_t) ((uintptr_t) arena_base(sh) - sh->arena.leader_base);

		hooks.tick = fm_parallel_worker_tick;
		als_participate(sh, fm_als_participant((const FmAlsShared *) (sh->arena.leader_base + sh->off_als),
											   delta, &hooks, &alloc));
	}
}

/* FmParallel.als_features: launch, take part, wait. */
static void
als_features(void *arg, const FmAlsShared *shared, int32_t first, int32_t last)
{
	ParallelRun *run = (ParallelRun *) arg;
	ParallelShared *sh = run->shared;

	sh->job = JOB_ALS_FEATURES;
	sh->off_als = (Size) ((uintptr_t) shared - sh->arena.leader_base);
	sh->als_last = last;
	pg_atomic_write_u64(&sh->next_row, (uint64) first);
	fm_shm_launch(run->pcxt, &run->launched_before, &run->max_launched);
	if (run->als_leader == NULL)
		run->als_leader = fm_als_participant(shared, 0, run->hooks, &run->alloc);
	als_participate(sh, run->als_leader);
	WaitForParallelWorkersToFinish(run->pcxt);
}

/* FmParallel.epoch: launch the workers, take part, wait, add up. */
static double
stochastic_epoch(void *arg, FmAdamShared *adam, FmModel *model, const FmEpochOrder *order,
				 double lr)
{
	ParallelRun *run = (ParallelRun *) arg;
	ParallelShared *sh = run->shared;
	FmModel		mine = *model;
	double		started = fm_wall_seconds();
	double		between = run->last_epoch_end > 0 ? started - run->last_epoch_end : 0.0;
	double		launched;
	double		leader_done;
	int64		leader_rows;

	sh->order = *order;
	sh->off_order_rows = fm_shm_arena_offset(&sh->arena, order->rows);
	sh->off_bucket_start = fm_shm_arena_offset(&sh->arena, order->bucket_start);
	sh->off_visit = fm_shm_arena_offset(&sh->arena, order->visit);
	sh->off_visit_end = fm_shm_arena_offset(&sh->arena, order->visit_end);
	sh->lr = lr;
	sh->w0 = model->w0;
	sh->sse = 0.0;
	sh->job = JOB_SGD_EPOCH;
	sh->adam = adam != NULL;
	sh->off_adam = adam != NULL ? (Size) ((uintptr_t) adam - sh->arena.leader_base) : 0;
	pg_atomic_write_u64(&sh->next_row, 0);
	fm_shm_launch(run->pcxt, &run->launched_before, &run->max_launched);
	launched = fm_wall_seconds();

	leader_rows = participate(sh, &mine, &run->train, &run->scratch);
	leader_done = fm_wall_seconds();
	WaitForParallelWorkersToFinish(run->pcxt);

	/*
	 * Where an epoch's time goes, for tuning: the serial work between
	 * epochs (the order's shuffle, validation, the report), the launch,
	 * the leader's own share, and the wait for the last worker.
	 */
	run->last_epoch_end = fm_wall_seconds();
	elog(DEBUG1, "fmrec: parallel epoch: %.3f s between epochs, %.3f s launching %d workers, "
		 "leader %.3f s on " INT64_FORMAT " of " INT64_FORMAT " rows, %.3f s waiting for the workers",
		 between, launched - started, run->pcxt->nworkers_launched, leader_done - launched,
		 leader_rows, order->n_rows, run->last_epoch_end - leader_done);

	model->w0 = sh->w0;
	return sh->sse;
}

/* A view over the moved rows with `view`'s own rows (its row index). */
static FmDataset
moved_view(const FmDataset *view, const FmDataset *moved)
{
	FmDataset	ds = *view;

	ds.row_start = moved->row_start;
	ds.ids = moved->ids;
	ds.weights = moved->weights;
	ds.targets = moved->targets;
	return ds;
}

bool
fm_train_parallel(const FmDataset *train, const FmDataset *valid,
				  const FmTrainParams *params, FmModel *model,
				  const FmTrainHooks *hooks, FmBudget *budget,
				  FmTrainResult *result, int *workers_launched)
{
	int			nworkers = fm_train_planned_workers(params->method, train->n_rows);
	Size		arena;
	Size		segment;
	Size		movable;
	int32		n_hot = 0;
	int32	   *hot_feature = NULL;
	ParallelRun run = {0};
	ParallelShared *sh;
	FmTrainHooks par_hooks = *hooks;
	FmAllocator alloc;
	Size		physical_rows = fm_dataset_physical_rows(train);
	Size		row_start_bytes = (physical_rows + 1) * sizeof(uint32);
	Size		nonzeros = physical_nonzeros(train);
	/* a random validation split is a view of the same physical rows */
	bool		shares_rows = valid != NULL && valid->row_start == train->row_start;
	FmDataset	shared_valid;
	FmParkedModel parked;
	Size		rows_released;

	*workers_launched = 0;
	if (nworkers <= 0)
		return false;
	alloc = fm_budget_allocator(budget);
	if (params->method == FM_METHOD_SGD)
	{
		FmScratch	scratch;
		FmAllocator temporary = fm_scratch_begin(&scratch, budget);
		int64	   *counts = fm_alloc(&temporary, (Size) Max(train->n_features, 1) * sizeof(int64));

		hot_feature = fm_alloc(&alloc, FM_PARALLEL_MAX_HOT * sizeof(int32));
		n_hot = fm_sgd_hot_features(train, FM_PARALLEL_MAX_HOT, counts, hot_feature);
		fm_scratch_end(&scratch);
	}
	arena = arena_bytes(train, model, params->method, fm_sgd_hot_rows(n_hot, nworkers + 1), &alloc);
	segment = add_size(ARENA_OFFSET, arena);
	/*
	 * The segment counts against the budget, less the rows moved into it
	 * (charged piece by piece as they move, their private pages given back)
	 * and plus one piece in transit; without room, train serially.
	 */
	movable = row_start_bytes + nonzeros * sizeof(int32) + physical_rows * sizeof(float) +
		(train->row_index != NULL ? train->n_rows * sizeof(uint32) : 0) +
		(train->weights != NULL ? nonzeros * sizeof(float) : 0);
	run.pcxt = fm_shm_parallel_begin("fm_train_parallel_worker", nworkers, segment, movable, budget);
	if (run.pcxt == NULL)
		return false;
	/*
	 * The caller's w and V wait unused until the end (the core initialises
	 * the segment's): their pages go back, so that the model is not twice
	 * in memory either.
	 */
	fm_shm_park_model(model, budget, &parked);
	fm_budget_charge(budget, segment - Min(movable, segment));

	sh = shm_toc_allocate(run.pcxt->toc, segment);
	memset(sh, 0, ARENA_OFFSET);
	sh->params = *params;
	sh->n_features = model->n_features;
	sh->k = model->k;
	sh->layout = *train;
	sh->layout.row_index = NULL;
	sh->layout.row_start = NULL;
	sh->layout.ids = NULL;
	sh->layout.weights = NULL;
	sh->layout.targets = NULL;
	sh->layout.feature_group = NULL;
	sh->max_row_nonzeros = fm_dataset_max_row_nonzeros(train);
	sh->target_min = model->target_min;
	sh->target_max = model->target_max;
	fm_shm_arena_init(&sh->arena, arena_base(sh), arena);
	/*
	 * The rows move into the arena (see fm_shm_arena_move); the arena's offsets
	 * start at 0 with row_start, so 0 can mean "none" below.  Sizes are
	 * taken before the moves: the private arrays read as zeros after.
	 */
	sh->off_row_start = fm_shm_arena_move(&sh->arena, train->row_start, row_start_bytes, budget);
	sh->off_row_index = train->row_index != NULL ?
		fm_shm_arena_move(&sh->arena, train->row_index, train->n_rows * sizeof(uint32), budget) : 0;
	sh->off_ids = fm_shm_arena_move(&sh->arena, train->ids, nonzeros * sizeof(int32), budget);
	sh->off_weights = train->weights != NULL ?
		fm_shm_arena_move(&sh->arena, train->weights, nonzeros * sizeof(float), budget) : 0;
	sh->off_targets = fm_shm_arena_move(&sh->arena, train->targets, physical_rows * sizeof(float), budget);
	sh->participants = nworkers + 1;
	sh->n_hot = n_hot;
	sh->off_w = fm_shm_arena_take(&sh->arena, ((Size) model->n_features + fm_sgd_hot_rows(n_hot, sh->participants)) *
						   sizeof(float));
	sh->off_V = fm_shm_arena_take(&sh->arena, ((Size) model->n_features + fm_sgd_hot_rows(n_hot, sh->participants)) *
						   model->k * sizeof(float));
	if (params->method == FM_METHOD_SGD)
	{
		FmHotSet	set = {0};

		sh->off_hot_feature = fm_shm_arena_copy(&sh->arena, hot_feature, Max(n_hot, 1) * sizeof(int32));
		sh->off_is_hot = fm_shm_arena_take(&sh->arena, ((Size) model->n_features + 63) / 64 * sizeof(uint64));
		sh->off_hot_slot = fm_shm_arena_take(&sh->arena, (Size) Max(model->n_features, 1) * sizeof(int32));
		set.n = n_hot;
		set.feature = (const int32_t *) (arena_base(sh) + sh->off_hot_feature);
		fm_sgd_hot_index(&set, (uint64_t *) (arena_base(sh) + sh->off_is_hot),
						 (int32_t *) (arena_base(sh) + sh->off_hot_slot));
		elog(DEBUG1, "fmrec: %d hot features, copied per participant", n_hot);
	}
	elog(DEBUG1, "fmrec: parallel training arena of %zu bytes (row index %s, weights %s)",
		 arena, train->row_index != NULL ? "shared" : "none (identity)",
		 train->weights != NULL ? "shared" : "none (palette)");
	pg_atomic_init_u64(&sh->next_row, 0);
	pg_atomic_init_u32(&sh->active, 0);
	SpinLockInit(&sh->mutex);
	shm_toc_insert(run.pcxt->toc, FM_PARALLEL_KEY_SHARED, sh);

	run.shared = sh;
	shared_views(sh, &run.train, model);	/* the leader's model now lives in the segment */
	run.train.n_groups = train->n_groups;
	run.train.feature_group = train->feature_group;
	if (shares_rows)
	{
		shared_valid = moved_view(valid, &run.train);
		valid = &shared_valid;
	}
	scratch_alloc(&run.scratch, sh);
	run.parallel.shared.alloc = fm_shm_arena_alloc;
	run.parallel.shared.arg = &sh->arena;
	run.parallel.epoch = stochastic_epoch;
	run.parallel.arg = &run;
	run.parallel.als_features = als_features;
	par_hooks.parallel = &run.parallel;
	run.hooks = &par_hooks;
	run.alloc = alloc;
	fm_train(&run.train, valid, params, model, &par_hooks, &alloc, result);

	/*
	 * Back into the caller's arrays before the segment goes, after the
	 * segment's rows, which nothing reads any more, have given their memory
	 * back: the model's pages come back in their place.  The re-charge
	 * cannot fail: it restores at most what was charged before.
	 */
	rows_released = fm_shm_release_moved(arena_base(sh) + sh->off_row_start,
										 arena_base(sh) + sh->off_targets + physical_rows * sizeof(float),
										 budget);
	fm_shm_unpark_model(model, &parked, budget);
	*workers_launched = run.max_launched;

	DestroyParallelContext(run.pcxt);
	ExitParallelMode();
	budget->used -= Min(segment - Min(rows_released, segment), budget->used);
	return true;
}

/*
 * fm_train_parallel_implicit.c - iALS sweeps and BPR epochs shared with
 * PostgreSQL's parallel workers.
 *
 * As for SGD and ALS (fm_train_parallel.c): one ParallelContext and one
 * dynamic shared memory segment for the whole training, the data's arrays
 * moved into it (fm_implicit_training_arrays, fm_shm_arena_move), the model's
 * w and V and the core's state (iALS's sweep caches, fm_ials_shared_bytes;
 * BPR's Adagrad sums, fm_bpr_shared_bytes) allocated there, and workers
 * launched for each side's sweep (iALS) or each epoch (BPR): the leader
 * evaluates between epochs, and a launch boundary orders everything the
 * previous sweep or epoch wrote before the next one reads it.
 *
 * BPR is Hogwild, as SGD: participants claim FM_BPR_CLAIM_STEPS steps at a
 * time from an atomic counter, whoever is there, and update the shared
 * model without locks; a claim's triples come from a generator seeded by
 * the epoch and the claim, but which claims run at the same time depends
 * on scheduling, so BPR with workers is not deterministic.
 *
 * Unlike claims, an iALS sweep needs to know its participants: each owns
 * a fixed share of the entity blocks, and the spanning features' steps
 * wait for everyone's block sums (see the head of core/ials.c).  So the
 * leader waits until the launched workers have attached
 * (WaitForParallelWorkersToAttach, which raises an error for one that
 * failed to start), sets a Barrier for that many participants, then
 * releases the workers, who were waiting on a condition variable.  Slot 0
 * is the leader, worker n slot n + 1.  The sums are the same whoever
 * computes them: the model is identical to serial training's, for any
 * number of workers.
 *
 * Errors and cancel: a worker's ERROR reaches the leader through the
 * context's error queue, also while the leader waits in the barrier (a
 * condition-variable sleep handles interrupts); the leader's abort
 * terminates the workers, wherever they wait, and detaches the segment.
 * Nothing is written: the model is stored after this file has returned.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/barrier.h"
#include "storage/condition_variable.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"
#include "utils/wait_event.h"

#include "core/bpr.h"
#include "core/ials.h"
#include "fm_shm_arena.h"
#include "fm_train_parallel.h"
#include "fm_train_parallel_implicit.h"

#define FM_IMPLICIT_KEY_SHARED UINT64CONST(0xF3EC000000000002)

/* BPR steps a participant claims at a time: its CHECK_FOR_INTERRUPTS interval at most. */
#define FM_BPR_CLAIM_STEPS 4096

enum
{
	JOB_IALS_SIDE,
	JOB_BPR_EPOCH
};

typedef struct ImplicitShared
{
	FmShmArena	arena;
	int32		n_features;
	int32		k;
	Size		off_w;
	Size		off_V;
	Size		off_state;		/* the core's FmIals or FmBpr */
	int			job;

	/* BPR: one epoch's claims and what they add up to (under mutex) */
	int64		n_steps;
	pg_atomic_uint64 next_claim;
	slock_t		mutex;
	double		loss;
	int64		steps;

	/* iALS: one side's sweep, set by the leader before launching */
	int			side;
	double		w0;				/* the model's at the start of the side */
	int			slots;			/* participants, set before `go` */
	pg_atomic_uint32 go;		/* 1: slots and the barrier are set */
	ConditionVariable go_cv;
	Barrier		barrier;
} ImplicitShared;

/* The arena starts at the first cache line after the header. */
#define ARENA_OFFSET TYPEALIGN(64, sizeof(ImplicitShared))

static char *
arena_base(ImplicitShared *sh)
{
	return (char *) sh + ARENA_OFFSET;
}

/* What the leader keeps about its context. */
typedef struct ImplicitRun
{
	ParallelContext *pcxt;
	ImplicitShared *shared;
	bool		launched_before;
	int			max_launched;
	FmIals	   *ials_leader_view;	/* made at the first sweep */
	FmBpr	   *bpr_leader_view;	/* made at the first epoch */
	const FmTrainHooks *hooks;	/* the leader's */
	FmAllocator alloc;			/* the leader's budget */
	FmParallel	parallel;
} ImplicitRun;

/* The participants' barrier (fm_ials_participant_begin). */
static void
wait_for_participants(void *arg)
{
	BarrierArriveAndWait((Barrier *) arg, PG_WAIT_EXTENSION);
}

/* A participant's FmModel struct over the shared w and V. */
static void
model_view(ImplicitShared *sh, FmModel *model)
{
	memset(model, 0, sizeof(*model));
	model->n_features = sh->n_features;
	model->k = sh->k;
	model->w0 = sh->w0;
	model->w = (float *) (arena_base(sh) + sh->off_w);
	model->V = (float *) (arena_base(sh) + sh->off_V);
	model->target_min = -INFINITY;
	model->target_max = INFINITY;
}

/* Claim BPR steps until the epoch has none left; add up their losses. */
static void
bpr_participate(ImplicitShared *sh, FmBpr *view)
{
	double		loss = 0.0;
	int64		steps = 0;

	for (;;)
	{
		uint64		claim = pg_atomic_fetch_add_u64(&sh->next_claim, 1);
		int64		first = (int64) claim * FM_BPR_CLAIM_STEPS;

		if (first >= sh->n_steps)
			break;
		fm_bpr_participant_steps(view, (int64) claim, Min(FM_BPR_CLAIM_STEPS, sh->n_steps - first),
								 &loss, &steps);
		CHECK_FOR_INTERRUPTS();
	}
	SpinLockAcquire(&sh->mutex);
	sh->loss += loss;
	sh->steps += steps;
	SpinLockRelease(&sh->mutex);
}

/* The parallel worker's entry point (CreateParallelContext names it). */
PGDLLEXPORT void fm_train_parallel_implicit_worker(dsm_segment *seg, shm_toc *toc);

void
fm_train_parallel_implicit_worker(dsm_segment *seg, shm_toc *toc)
{
	ImplicitShared *sh = shm_toc_lookup(toc, FM_IMPLICIT_KEY_SHARED, false);
	ptrdiff_t	delta = (ptrdiff_t) ((uintptr_t) arena_base(sh) - sh->arena.leader_base);
	FmTrainHooks hooks = {0};
	FmAllocator alloc = {fm_parallel_worker_alloc, NULL};
	FmModel		model;
	FmIals	   *view;

	hooks.tick = fm_parallel_worker_tick;
	if (sh->job == JOB_BPR_EPOCH)
	{
		bpr_participate(sh, fm_bpr_participant((const FmBpr *) (sh->arena.leader_base + sh->off_state),
											   delta, &hooks, &alloc));
		return;
	}

	/* until the leader knows who is there */
	ConditionVariablePrepareToSleep(&sh->go_cv);
	while (pg_atomic_read_u32(&sh->go) == 0)
		ConditionVariableSleep(&sh->go_cv, PG_WAIT_EXTENSION);
	ConditionVariableCancelSleep();
	pg_read_barrier();

	view = fm_ials_participant((const FmIals *) (sh->arena.leader_base + sh->off_state), delta,
							   ParallelWorkerNumber + 1, &hooks, &alloc);
	fm_ials_participant_begin(view, sh->slots, wait_for_participants, &sh->barrier);
	model_view(sh, &model);
	fm_ials_participant_sweep(view, &model, sh->side);
}

/* FmParallel.bpr_epoch: launch, take part, wait, add up. */
static void
bpr_epoch(void *arg, FmBpr *shared, int64_t n_steps, double *loss, int64_t *steps)
{
	ImplicitRun *run = (ImplicitRun *) arg;
	ImplicitShared *sh = run->shared;

	sh->job = JOB_BPR_EPOCH;
	sh->off_state = fm_shm_arena_offset(&sh->arena, shared);
	sh->n_steps = n_steps;
	sh->loss = 0.0;
	sh->steps = 0;
	pg_atomic_write_u64(&sh->next_claim, 0);
	fm_shm_launch(run->pcxt, &run->launched_before, &run->max_launched);
	if (run->bpr_leader_view == NULL)
		run->bpr_leader_view = fm_bpr_participant(shared, 0, run->hooks, &run->alloc);
	bpr_participate(sh, run->bpr_leader_view);
	WaitForParallelWorkersToFinish(run->pcxt);
	*loss += sh->loss;
	*steps += sh->steps;
}

/* FmParallel.ials_side: launch, wait for the workers to attach, release them, sweep, wait. */
static void
ials_side(void *arg, FmIals *shared, FmModel *model, int side)
{
	ImplicitRun *run = (ImplicitRun *) arg;
	ImplicitShared *sh = run->shared;
	int			slots;

	sh->job = JOB_IALS_SIDE;
	sh->side = side;
	sh->w0 = model->w0;
	sh->off_state = fm_shm_arena_offset(&sh->arena, shared);
	pg_atomic_write_u32(&sh->go, 0);
	fm_shm_launch(run->pcxt, &run->launched_before, &run->max_launched);
	if (run->pcxt->nworkers_launched > 0)
		WaitForParallelWorkersToAttach(run->pcxt);
	slots = 1 + run->pcxt->nworkers_launched;
	BarrierInit(&sh->barrier, slots);
	sh->slots = slots;
	pg_write_barrier();
	pg_atomic_write_u32(&sh->go, 1);
	ConditionVariableBroadcast(&sh->go_cv);

	if (run->ials_leader_view == NULL)
		run->ials_leader_view = fm_ials_participant(shared, 0, 0, run->hooks, &run->alloc);
	fm_ials_participant_begin(run->ials_leader_view, slots, wait_for_participants, &sh->barrier);
	fm_ials_participant_sweep(run->ials_leader_view, model, side);
	WaitForParallelWorkersToFinish(run->pcxt);
}

/* fm_implicit_training_arrays callbacks: what the arrays take, and their move. */
static void
count_array(void **array, size_t bytes, void *arg)
{
	*(Size *) arg = add_size(*(Size *) arg, FM_SHM_ALIGNED(Max(bytes, 1)));
}

typedef struct Mover
{
	FmShmArena *arena;
	FmBudget   *budget;
} Mover;

static void
move_array(void **array, size_t bytes, void *arg)
{
	Mover	   *mover = (Mover *) arg;

	*array = (char *) mover->arena->leader_base +
		fm_shm_arena_move(mover->arena, *array, bytes, mover->budget);
}

bool
fm_train_parallel_implicit(FmImplicitData *d, const FmTrainParams *params, FmModel *model,
						   const FmTrainHooks *hooks, FmBudget *budget,
						   FmTrainResult *result, int *workers_launched)
{
	bool		ials = params->method == FM_METHOD_IALS;
	int			nworkers = Min(fm_train_planned_workers(params->method, d->n_pairs),
							   FM_IALS_BLOCKS - 1);
	FmImplicitData counted = *d;
	FmImplicitData private_arrays = *d;
	Size		movable = 0;
	Size		arena;
	Size		segment;
	FmParkedModel parked;
	Size		moved_released;
	ImplicitRun run = {0};
	ImplicitShared *sh;
	FmTrainHooks par_hooks = *hooks;
	Mover		mover;

	*workers_launched = 0;
	if (nworkers <= 0)
		return false;
	fm_implicit_training_arrays(&counted, count_array, &movable);
	arena = add_size(add_size(movable, ials ? fm_ials_shared_bytes(d, model->k) :
							  fm_bpr_shared_bytes(model->n_features, model->k)),
					 add_size(FM_SHM_ALIGNED((Size) model->n_features * sizeof(float)),
							  FM_SHM_ALIGNED((Size) model->n_features * model->k * sizeof(float))));
	segment = add_size(ARENA_OFFSET, arena);
	run.pcxt = fm_shm_parallel_begin("fm_train_parallel_implicit_worker", nworkers, segment, movable,
									 budget);
	if (run.pcxt == NULL)
		return false;
	/* the caller's w and V wait unused until the end: not twice in memory */
	fm_shm_park_model(model, budget, &parked);
	fm_budget_charge(budget, segment - Min(movable, segment));

	sh = shm_toc_allocate(run.pcxt->toc, segment);
	memset(sh, 0, ARENA_OFFSET);
	fm_shm_arena_init(&sh->arena, arena_base(sh), arena);
	sh->n_features = model->n_features;
	sh->k = model->k;
	/* the moved arrays first: the arena's [0, movable) gives its pages back at the end */
	mover.arena = &sh->arena;
	mover.budget = budget;
	fm_implicit_training_arrays(d, move_array, &mover);
	Assert(sh->arena.used == movable);
	sh->off_w = fm_shm_arena_take(&sh->arena, (Size) model->n_features * sizeof(float));
	sh->off_V = fm_shm_arena_take(&sh->arena, (Size) model->n_features * model->k * sizeof(float));
	pg_atomic_init_u32(&sh->go, 0);
	ConditionVariableInit(&sh->go_cv);
	pg_atomic_init_u64(&sh->next_claim, 0);
	SpinLockInit(&sh->mutex);
	shm_toc_insert(run.pcxt->toc, FM_IMPLICIT_KEY_SHARED, sh);
	elog(DEBUG1, "fmrec: parallel %s arena of %zu bytes (%zu moved data)", ials ? "iALS" : "BPR",
		 arena, movable);

	run.shared = sh;
	model->w = (float *) (arena_base(sh) + sh->off_w);
	model->V = (float *) (arena_base(sh) + sh->off_V);
	run.alloc = fm_budget_allocator(budget);
	run.hooks = &par_hooks;
	run.parallel.shared.alloc = fm_shm_arena_alloc;
	run.parallel.shared.arg = &sh->arena;
	if (ials)
		run.parallel.ials_side = ials_side;
	else
		run.parallel.bpr_epoch = bpr_epoch;
	run.parallel.arg = &run;
	par_hooks.parallel = &run.parallel;
	if (ials)
		fm_train_ials(d, params, model, &par_hooks, &run.alloc, result);
	else
		fm_train_bpr(d, params, model, &par_hooks, &run.alloc, result);

	/* the moved arrays' pages go first, then the model comes back in their place */
	moved_released = fm_shm_release_moved(arena_base(sh), arena_base(sh) + movable, budget);
	fm_shm_unpark_model(model, &parked, budget);
	/* the sizes stay; the arrays are the caller's again (read as zeros) */
	*d = private_arrays;
	*workers_launched = run.max_launched;

	DestroyParallelContext(run.pcxt);
	ExitParallelMode();
	budget->used -= Min(segment - Min(moved_released, segment), budget->used);
	return true;
}

/*
 * fm_shm_arena.c - the shared memory of parallel training (see
 * fm_shm_arena.h).
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "access/xact.h"
#include "storage/shm_toc.h"

#include "fm_shm_arena.h"

void
fm_shm_arena_init(FmShmArena *arena, char *base, Size size)
{
	arena->leader_base = (uintptr_t) base;
	arena->size = size;
	arena->used = 0;
}

static char *
leader_base(const FmShmArena *arena)
{
	return (char *) arena->leader_base;
}

Size
fm_shm_arena_take(FmShmArena *arena, Size bytes)
{
	Size		offset = arena->used;

	bytes = FM_SHM_ALIGNED(Max(bytes, 1));
	if (bytes > arena->size - offset)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("fmrec parallel training: shared arena of %zu bytes exhausted", arena->size)));
	arena->used += bytes;
	memset(leader_base(arena) + offset, 0, bytes);
	return offset;
}

void *
fm_shm_arena_alloc(size_t bytes, void *arg)
{
	FmShmArena *arena = (FmShmArena *) arg;

	return leader_base(arena) + fm_shm_arena_take(arena, bytes);
}

Size
fm_shm_arena_offset(const FmShmArena *arena, const void *block)
{
	return (Size) ((const char *) block - leader_base(arena));
}

Size
fm_shm_arena_copy(FmShmArena *arena, const void *src, Size bytes)
{
	Size		offset = fm_shm_arena_take(arena, bytes);

	if (bytes > 0)
		memcpy(leader_base(arena) + offset, src, bytes);
	return offset;
}

Size
fm_release_pages(char *begin, char *end, bool shared)
{
	Size		page = (Size) sysconf(_SC_PAGESIZE);
	uintptr_t	first = TYPEALIGN(page, (uintptr_t) begin);
	uintptr_t	last = TYPEALIGN_DOWN(page, (uintptr_t) end);
	int			advice = 0;

#ifdef MADV_REMOVE
	if (shared)
		advice = MADV_REMOVE;
#endif
#ifdef MADV_DONTNEED
	if (!shared)
		advice = MADV_DONTNEED;
#endif
	if (advice != 0 && last > first && madvise((void *) first, last - first, advice) == 0)
		return last - first;
	return 0;
}

Size
fm_shm_arena_move(FmShmArena *arena, void *src, Size bytes, FmBudget *budget)
{
	Size		offset = fm_shm_arena_take(arena, bytes);
	char	   *from = (char *) src;

	for (Size done = 0; done < bytes;)
	{
		Size		n = Min(FM_SHM_MOVE_PIECE, bytes - done);
		Size		released;

		fm_budget_charge(budget, n);	/* the segment's pages this piece touches */
		memcpy(leader_base(arena) + offset + done, from + done, n);
		released = fm_release_pages(from + done, from + done + n, false);
		budget->used -= Min(released, budget->used);
		done += n;
	}
	return offset;
}

void
fm_shm_park_model(const FmModel *model, FmBudget *budget, FmParkedModel *parked)
{
	parked->w = model->w;
	parked->V = model->V;
	parked->released =
		fm_release_pages((char *) model->w, (char *) (model->w + model->n_features), false) +
		fm_release_pages((char *) model->V, (char *) (model->V + (Size) model->n_features * model->k), false);
	budget->used -= Min(parked->released, budget->used);
}

void
fm_shm_unpark_model(FmModel *model, const FmParkedModel *parked, FmBudget *budget)
{
	Size		model_bytes = (Size) model->n_features * (model->k + 1) * sizeof(float);

	budget->used += Min(parked->released, model_bytes);
	budget->peak = Max(budget->peak, budget->used);
	memcpy(parked->w, model->w, model->n_features * sizeof(float));
	memcpy(parked->V, model->V, (Size) model->n_features * model->k * sizeof(float));
	model->w = parked->w;
	model->V = parked->V;
}

Size
fm_shm_release_moved(char *begin, char *end, FmBudget *budget)
{
	Size		released = fm_release_pages(begin, end, true);

	budget->used -= Min(released, budget->used);
	return released;
}

ParallelContext *
fm_shm_parallel_begin(const char *worker, int nworkers, Size segment, Size movable, FmBudget *budget)
{
	Size		needed = add_size(segment - Min(movable, segment), FM_SHM_MOVE_PIECE);
	ParallelContext *pcxt;

	if (needed > budget->limit || budget->used > budget->limit - needed)
	{
		elog(DEBUG1, "fmrec: %zu bytes of shared memory for parallel training would exceed "
			 "fmrec.max_training_memory: training serially", segment);
		return NULL;
	}
	EnterParallelMode();
	pcxt = CreateParallelContext("fmrec", worker, nworkers);
	shm_toc_estimate_chunk(&pcxt->estimator, segment);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		elog(DEBUG1, "fmrec: no dynamic shared memory segment for parallel training: training serially");
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}
	return pcxt;
}

void
fm_shm_launch(ParallelContext *pcxt, bool *launched_before, int *max_launched)
{
	if (*launched_before)
		ReinitializeParallelDSM(pcxt);
	LaunchParallelWorkers(pcxt);
	*launched_before = true;
	*max_launched = Max(*max_launched, pcxt->nworkers_launched);
}

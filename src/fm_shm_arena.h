/*
 * fm_shm_arena.h - the shared memory of a parallel training: its context
 * and segment within the training's budget, a bump allocator over it,
 * moving the training data into it without holding it twice, and the
 * caller's model giving its pages back meanwhile.
 *
 * The arena's header lives in the shared memory (the leader allocates,
 * before any worker runs); its blocks are named by offsets from the
 * arena's start, which every process maps at its own address.
 */
#ifndef FMREC_FM_SHM_ARENA_H
#define FMREC_FM_SHM_ARENA_H

#include "postgres.h"

#include "access/parallel.h"

#include "fm_memory.h"
#include "core/model.h"

typedef struct FmShmArena
{
	uintptr_t	leader_base;	/* the arena's start in the leader */
	Size		size;
	Size		used;			/* leader only */
} FmShmArena;

/* Every block starts on a cache line: the size of one rounded up. */
#define FM_SHM_ALIGNED(bytes) TYPEALIGN(64, (bytes))

/* An arena of `size` bytes starting at `base` (the leader's address). */
extern void fm_shm_arena_init(FmShmArena *arena, char *base, Size size);

/* A zeroed block; its offset.  ERROR (53200) when the arena has no room. */
extern Size fm_shm_arena_take(FmShmArena *arena, Size bytes);

/* FmAllocator.alloc over the arena (arg: the FmShmArena), for the core's shared blocks. */
extern void *fm_shm_arena_alloc(size_t bytes, void *arg);

/* The offset of a block from its address in the leader. */
extern Size fm_shm_arena_offset(const FmShmArena *arena, const void *block);

/* A copy of `bytes` of src in a new block; its offset. */
extern Size fm_shm_arena_copy(FmShmArena *arena, const void *src, Size bytes);

/*
 * Moves a private block into the arena: copied a piece at a time, each
 * piece's private pages given back once copied (they read as zeros after),
 * so that the data is never twice in memory beyond one piece.  The budget
 * is charged for the arena's pages and uncharged for what was given back.
 */
extern Size fm_shm_arena_move(FmShmArena *arena, void *src, Size bytes, FmBudget *budget);

/* The bytes moved at a time (the most ever held twice by fm_shm_arena_move). */
#define FM_SHM_MOVE_PIECE ((Size) 8 * 1024 * 1024)

/*
 * Gives the whole pages of [begin, end) back to the operating system; the
 * bytes given back (0 where that is not supported).  The block stays
 * allocated but reads as zeros: only for blocks nothing reads again.
 * shared: pages of the segment (MADV_REMOVE frees the shared memory behind
 * them), else private ones (MADV_DONTNEED; the memory context frees the
 * block later).
 */
extern Size fm_release_pages(char *begin, char *end, bool shared);

/*
 * Enters parallel mode and makes a ParallelContext for `worker` (a
 * function of fmrec's library) with one shared chunk of `segment` bytes and
 * one key; NULL, having done nothing, when the segment (less the `movable`
 * bytes of data that will move into it, plus one piece in transit) would
 * not fit in the budget or no segment can be had (dynamic_shared_memory_type,
 * the slot limit): then train serially.  The caller charges the segment,
 * less `movable` (charged as it moves, fm_shm_arena_move), once it has
 * parked its model (fm_shm_park_model), so that the peak does not hold the
 * model twice.  End with DestroyParallelContext and ExitParallelMode.
 */
extern ParallelContext *fm_shm_parallel_begin(const char *worker, int nworkers, Size segment,
											  Size movable, FmBudget *budget);

/*
 * Starts the workers of one job: ReinitializeParallelDSM after the first,
 * then LaunchParallelWorkers; *max_launched keeps the most any job got (the
 * pool may give fewer than planned, or none).
 */
extern void fm_shm_launch(ParallelContext *pcxt, bool *launched_before, int *max_launched);

/*
 * The caller's model while the segment's copy trains: its w and V wait
 * unused, so their pages go back (uncharged) and the model is not twice in
 * memory.  fm_shm_park_model keeps the caller's arrays; fm_shm_unpark_model,
 * once the segment's moved data has given its pages back, charges them
 * again (at most what was given back: it cannot fail), copies the trained
 * values from the segment into them and points the model at them.
 */
typedef struct FmParkedModel
{
	float	   *w;
	float	   *V;
	Size		released;
} FmParkedModel;

extern void fm_shm_park_model(const FmModel *model, FmBudget *budget, FmParkedModel *parked);
extern void fm_shm_unpark_model(FmModel *model, const FmParkedModel *parked, FmBudget *budget);

/* Gives the segment's [begin, end) back (nothing reads it again); the bytes, uncharged. */
extern Size fm_shm_release_moved(char *begin, char *end, FmBudget *budget);

#endif							/* FMREC_FM_SHM_ARENA_H */

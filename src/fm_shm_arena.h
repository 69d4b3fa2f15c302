/*
 * fm_shm_arena.h - a bump allocator over the shared memory of a parallel
 * training, and moving the training data into it without holding it twice.
 *
 * The arena's header lives in the shared memory (the leader allocates,
 * before any worker runs); its blocks are named by offsets from the
 * arena's start, which every process maps at its own address.
 */
#ifndef FMREC_FM_SHM_ARENA_H
#define FMREC_FM_SHM_ARENA_H

#include "postgres.h"

#include "fm_memory.h"

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

#endif							/* FMREC_FM_SHM_ARENA_H */

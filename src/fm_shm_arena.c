/*
 * fm_shm_arena.c - the shared memory arena of parallel training (see
 * fm_shm_arena.h).
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

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

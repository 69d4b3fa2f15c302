/*
 * fm_core.h - common definitions of the fmrec core.
 *
 * The core is plain C99 with no PostgreSQL headers: it is unit-tested,
 * fuzzed and benchmarked on its own.  It never calls malloc directly for
 * big blocks: the caller hands it an FmAllocator, so that inside the server
 * every byte comes from a memory context that is freed as a whole (even when
 * an error longjmps out of the core).
 */
#ifndef FM_CORE_H
#define FM_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/*
 * Allocation callback.  alloc() returns zeroed memory aligned to 64 bytes or
 * does not return (the server's allocator throws; the malloc one aborts).
 * Memory is never freed piecemeal by the core: the owner frees the arena.
 */
typedef struct FmAllocator
{
	void	   *(*alloc) (size_t bytes, void *arg);
	void	   *arg;
} FmAllocator;

/*
 * An allocator on top of aligned_alloc, for tests and tools.  Its blocks
 * live until the process exits (they stay reachable from a process-wide
 * list, so LeakSanitizer does not report them).
 */
extern FmAllocator fm_malloc_allocator(void);

/*
 * An arena of malloc'ed blocks that can be freed at once: what unit tests use
 * to stay leak-free under AddressSanitizer.  Zero-initialise it
 * (FmArena arena = {0}), allocate through fm_arena_allocator(&arena), and
 * release everything with fm_arena_free(&arena); the arena can then be reused.
 * One arena must not be used by two threads at the same time.
 */
typedef struct FmArena
{
	void	   *blocks;			/* most recent block first */
	size_t		bytes;			/* bytes handed out so far */
} FmArena;

extern FmAllocator fm_arena_allocator(FmArena *arena);
extern void fm_arena_free(FmArena *arena);

static inline void *
fm_alloc(const FmAllocator *a, size_t bytes)
{
	return a->alloc(bytes == 0 ? 1 : bytes, a->arg);
}

#endif							/* FM_CORE_H */

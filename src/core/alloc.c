/*
 * alloc.c - allocators for running the core outside the server.
 *
 * Every block carries a 64-byte header in front of the memory handed out,
 * which links it into its arena: the header keeps the payload 64-byte
 * aligned and lets an arena free all its blocks at once.
 */
#include "fm_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FM_ALIGN 64

typedef struct FmBlock
{
	struct FmBlock *next;
} FmBlock;

/* The header must not break the alignment of the payload. */
typedef char fm_block_header_fits[sizeof(FmBlock) <= FM_ALIGN ? 1 : -1];

static void *
allocate_block(FmArena *arena, size_t bytes)
{
	size_t		total;
	FmBlock    *block;

	/* round up: aligned_alloc wants a multiple of the alignment */
	if (bytes > SIZE_MAX - 2 * FM_ALIGN)
		total = SIZE_MAX;
	else
		total = (bytes + FM_ALIGN + FM_ALIGN - 1) / FM_ALIGN * FM_ALIGN;
	block = total == SIZE_MAX ? NULL : aligned_alloc(FM_ALIGN, total);
	if (block == NULL)
	{
		fprintf(stderr, "fmrec: out of memory allocating %zu bytes\n", bytes);
		abort();
	}
	memset(block, 0, total);
	block->next = arena->blocks;
	arena->blocks = block;
	arena->bytes += bytes;
	return (char *) block + FM_ALIGN;
}

static void *
arena_alloc(size_t bytes, void *arg)
{
	return allocate_block((FmArena *) arg, bytes);
}

FmAllocator
fm_arena_allocator(FmArena *arena)
{
	FmAllocator a;

	a.alloc = arena_alloc;
	a.arg = arena;
	return a;
}

void
fm_arena_free(FmArena *arena)
{
	FmBlock    *block = arena->blocks;

	while (block != NULL)
	{
		FmBlock    *next = block->next;

		free(block);
		block = next;
	}
	arena->blocks = NULL;
	arena->bytes = 0;
}

/*
 * The process-wide arena behind fm_malloc_allocator().  Tools allocate from
 * it from one thread; it is never freed.
 */
static FmArena process_arena;

FmAllocator
fm_malloc_allocator(void)
{
	return fm_arena_allocator(&process_arena);
}

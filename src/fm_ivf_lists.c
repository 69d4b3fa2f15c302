/*
 * fm_ivf_lists.c - a backend-local copy of the lists of an fm_ivf index.
 *
 * Reading list pages through the buffer manager costs a buffer-table lookup,
 * a pin and a lock per page, and the pages of the probed lists are scattered
 * over shared memory: measured on 1M x 121-dimension items, ~220 ns per
 * entry.  The same entries copied into one private array per list stream at
 * memory bandwidth (~20 ns per entry, like fm_topk's matrix).  A scan uses
 * the copy when it is current, else the pages.
 *
 * Current means: the metapage's change counter equals the one read before
 * the copy was made.  Every insert and every VACUUM that removes entries
 * bumps the counter, so a copy never shows a removed entry (whose heap TID
 * could be reused) nor misses an insert.  A stale copy is rebuilt only if
 * the index did not change between this backend's last two scans: under a
 * stream of inserts scans read the pages instead of rebuilding each time.
 *
 * Each list is also quantised to 8 bits per component with its own range
 * per dimension (core/sq8.h): scans select candidates from the codes, a
 * quarter of the bytes, and rescore the few near the best from the floats,
 * with a rigorous error bound, so the answer is that of the floats.
 *
 * Memory: about 1.25 times the size of the index per backend that scans it,
 * bounded by fmrec.ivf_cache_size (0 disables the copies).
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "core/sq8.h"
#include "fm_ivf.h"

#define MAX_COPIES	4

int			fm_ivf_cache_size_kb = 1024 * 1024;

static FmIvfLists *copies[MAX_COPIES];
static uint64 copy_clock;

/* The change counter each index had at this backend's last scan of it. */
typedef struct SeenCounter
{
	Oid			indexoid;
	RelFileLocator node;
	uint64		changes;
} SeenCounter;

static SeenCounter seen[2 * MAX_COPIES];
static int	seen_next;

/*
 * True unless the index changed since this backend last scanned it (the
 * first scan counts as quiet).  Records the counter for the next call.
 */
static bool
quiet_since_last_scan(Relation index, uint64 changes)
{
	for (int i = 0; i < lengthof(seen); i++)
		if (seen[i].indexoid == RelationGetRelid(index) &&
			RelFileLocatorEquals(seen[i].node, FM_RELATION_LOCATOR(index)))
		{
			bool		quiet = seen[i].changes == changes;

			seen[i].changes = changes;
			return quiet;
		}
	seen[seen_next].indexoid = RelationGetRelid(index);
	seen[seen_next].node = FM_RELATION_LOCATOR(index);
	seen[seen_next].changes = changes;
	seen_next = (seen_next + 1) % lengthof(seen);
	return true;
}
/* The change counter and shape of the index, from its metapage. */
static void
read_meta(Relation index, FmIvfMeta *meta)
{
	Buffer		buf = ReadBuffer(index, FM_IVF_METAPAGE);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(meta, PageGetContents(BufferGetPage(buf)), sizeof(FmIvfMeta));
	UnlockReleaseBuffer(buf);
}

void
fm_ivf_bump_changes(Relation index)
{
	Buffer		buf = ReadBuffer(index, FM_IVF_METAPAGE);
	GenericXLogState *state;
	FmIvfMeta  *meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = (FmIvfMeta *) PageGetContents(GenericXLogRegisterBuffer(state, buf, 0));
	meta->changes++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

static int
find_copy(Oid indexoid)
{
	for (int i = 0; i < MAX_COPIES; i++)
		if (copies[i] != NULL && copies[i]->indexoid == indexoid)
			return i;
	return -1;
}

static void
free_copy(int slot)
{
	MemoryContextDelete(copies[slot]->cxt);
	copies[slot] = NULL;
}

/* A free slot for `bytes` more: evicts least recently used copies. */
static int
make_room(Size bytes)
{
	Size		limit = (Size) fm_ivf_cache_size_kb * 1024;

	for (;;)
	{
		Size		used = 0;
		int			lru = -1;
		int			free_slot = -1;

		for (int i = 0; i < MAX_COPIES; i++)
		{
			if (copies[i] == NULL)
			{
				free_slot = i;
				continue;
			}
			used += copies[i]->bytes;
			if (lru < 0 || copies[i]->last_used < copies[lru]->last_used)
				lru = i;
		}
		if (free_slot >= 0 && used + bytes <= limit)
			return free_slot;
		if (lru < 0)
			return -1;
		free_copy(lru);
	}
}

/* Where copy_entry appends: one list of the copy being built. */
typedef struct CopyTarget
{
	FmIvfLists *copy;
	int			list;
	int64	   *capacity;		/* of each list's arrays, in entries */
} CopyTarget;

/* Appends one entry to a list of the copy, growing its arrays. */
static void
copy_entry(const FmIvfEntry *e, void *arg)
{
	CopyTarget *target = arg;
	FmIvfLists *c = target->copy;
	int			list = target->list;
	int64	   *capacity = target->capacity;
	int64		i = c->count[list];

	if (i == capacity[list])
	{
		capacity[list] = Max(16, capacity[list] * 2);
		c->tids[list] = c->tids[list] == NULL
			? MemoryContextAllocHuge(c->cxt, sizeof(ItemPointerData) * capacity[list])
			: repalloc_huge(c->tids[list], sizeof(ItemPointerData) * capacity[list]);
		c->y[list] = c->y[list] == NULL
			? MemoryContextAllocHuge(c->cxt, sizeof(float4) * c->dim * capacity[list])
			: repalloc_huge(c->y[list], sizeof(float4) * c->dim * capacity[list]);
	}
	c->tids[list][i] = e->tid;
	memcpy(c->y[list] + (Size) i * c->dim, e->y, sizeof(float4) * c->dim);
	c->count[list] = i + 1;
}

/* The ranges and codes of every list, from its floats. */
static void
quantise_lists(FmIvfLists *c)
{
	c->codes = MemoryContextAllocZero(c->cxt, sizeof(uint8 *) * c->lists);
	c->lo = MemoryContextAllocZero(c->cxt, sizeof(float4 *) * c->lists);
	c->step = MemoryContextAllocZero(c->cxt, sizeof(float4 *) * c->lists);
	c->max_count = 0;
	for (int j = 0; j < c->lists; j++)
	{
		int64		n = c->count[j];

		c->max_count = Max(c->max_count, n);
		c->lo[j] = MemoryContextAlloc(c->cxt, sizeof(float4) * c->dim);
		c->step[j] = MemoryContextAlloc(c->cxt, sizeof(float4) * c->dim);
		c->codes[j] = MemoryContextAllocHuge(c->cxt, Max(fm_sq8_codes_size(n, c->dim), 1));
		fm_sq8_fit(c->y[j], n, c->dim, c->lo[j], c->step[j]);
		fm_sq8_encode(c->y[j], n, c->dim, c->lo[j], c->step[j], c->codes[j]);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Copies every list.  Built in a context under CurrentMemoryContext (freed
 * if anything fails) and moved under TopMemoryContext by the caller.
 */
static FmIvfLists *
build_copy(Relation index, const FmIvfCache *cache, const FmIvfMeta *meta)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "fm_ivf list copy",
											  ALLOCSET_DEFAULT_SIZES);
	FmIvfLists *c = MemoryContextAllocZero(cxt, sizeof(FmIvfLists));
	int64	   *capacity = MemoryContextAllocZero(cxt, sizeof(int64) * cache->lists);

	c->cxt = cxt;
	c->indexoid = RelationGetRelid(index);
	c->node = FM_RELATION_LOCATOR(index);
	c->changes = meta->changes;
	c->dim = cache->dim;
	c->lists = cache->lists;
	c->count = MemoryContextAllocZero(cxt, sizeof(int64) * cache->lists);
	c->tids = MemoryContextAllocZero(cxt, sizeof(ItemPointerData *) * cache->lists);
	c->y = MemoryContextAllocZero(cxt, sizeof(float4 *) * cache->lists);
	for (int j = 0; j < cache->lists; j++)
	{
		CopyTarget	target = {c, j, capacity};

		fm_ivf_walk_list(index, cache->first[j], copy_entry, &target);
	}
	quantise_lists(c);
	c->bytes = MemoryContextMemAllocated(cxt, true);
	return c;
}

const FmIvfLists *
fm_ivf_lists(Relation index, const FmIvfCache *cache)
{
	int			slot = find_copy(RelationGetRelid(index));
	Size		estimate = (Size) RelationGetNumberOfBlocks(index) * BLCKSZ * 5 / 4;
	FmIvfMeta	meta;
	FmIvfLists *c;
	bool		quiet;

	if (cache->dim == 0 || fm_ivf_cache_size_kb == 0)
		return NULL;			/* untrained (entries of any dimension) or disabled */
	read_meta(index, &meta);
	quiet = quiet_since_last_scan(index, meta.changes);
	if (slot >= 0)
	{
		c = copies[slot];
		if (RelFileLocatorEquals(c->node, FM_RELATION_LOCATOR(index)) && c->changes == meta.changes)
		{
			c->last_used = ++copy_clock;
			return c;
		}
		free_copy(slot);
	}
	/* under a stream of changes, read the pages rather than copy each time */
	if (!quiet || (slot = make_room(estimate)) < 0)
		return NULL;
	c = build_copy(index, cache, &meta);
	MemoryContextSetParent(c->cxt, TopMemoryContext);
	c->last_used = ++copy_clock;
	copies[slot] = c;
	return c;
}

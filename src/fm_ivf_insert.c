/*
 * fm_ivf_insert.c - adding a vector to an fm_ivf index.
 *
 * The vector goes to the list of its nearest centroid (the centroids stay
 * those of the build: recall degrades slowly as the data drifts, REINDEX
 * retrains), at the end of the list's page chain.  The centroid entry keeps
 * a hint of the last page; an inserter follows "next" links from the hint
 * to the real last page under an exclusive lock, so concurrent inserters
 * that race to extend a list serialise on that page and never lose a page.
 * Every change is WAL-logged with generic WAL records.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "fm_ivf.h"
#include "fm_vector.h"

/* The last-page hint of a list, read from its centroid entry. */
static BlockNumber
read_last_hint(Relation index, BlockNumber cblk, OffsetNumber coff)
{
	Buffer		buf = ReadBuffer(index, cblk);
	FmIvfCentroid *c;
	BlockNumber last;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	c = (FmIvfCentroid *) PageGetItem(BufferGetPage(buf), PageGetItemId(BufferGetPage(buf), coff));
	last = c->last;
	UnlockReleaseBuffer(buf);
	return last;
}

/* Moves the hint forward (never back: pages of a list only get appended). */
static void
advance_last_hint(Relation index, BlockNumber cblk, OffsetNumber coff, BlockNumber last)
{
	Buffer		buf = ReadBuffer(index, cblk);
	GenericXLogState *state;
	Page		page;
	FmIvfCentroid *c;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	c = (FmIvfCentroid *) PageGetItem(BufferGetPage(buf), PageGetItemId(BufferGetPage(buf), coff));
	if (c->last == InvalidBlockNumber || c->last < last)
	{
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		c = (FmIvfCentroid *) PageGetItem(page, PageGetItemId(page, coff));
		c->last = last;
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(buf);
}

/* Appends an entry to a list; returns the new last page if the list grew. */
static BlockNumber
append_entry(Relation index, BlockNumber blkno, const FmIvfEntry *e, Size size)
{
	for (;;)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		BlockNumber next;
		GenericXLogState *state;
		Buffer		newbuf;
		Page		newpage;
		BlockNumber newblk;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		next = FmIvfPageGetOpaque(page)->next;
		if (next != InvalidBlockNumber)
		{
			UnlockReleaseBuffer(buf);
			blkno = next;
			continue;
		}
		state = GenericXLogStart(index);
		if (PageGetFreeSpace(page) >= size)
		{
			page = GenericXLogRegisterBuffer(state, buf, 0);
			if (PageAddItem(page, (void *) e, size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
				elog(ERROR, "could not add an entry to index \"%s\"", RelationGetRelationName(index));
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			return InvalidBlockNumber;
		}
		/* full: chain a new page, still holding the lock on the old last page */
		newbuf = fm_ivf_new_buffer(index, MAIN_FORKNUM);
		newblk = BufferGetBlockNumber(newbuf);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
		fm_ivf_init_page(newpage, FM_IVF_LIST_PAGE);
		if (PageAddItem(newpage, (void *) e, size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
			elog(ERROR, "could not add an entry to index \"%s\"", RelationGetRelationName(index));
		FmIvfPageGetOpaque(page)->next = newblk;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(newbuf);
		UnlockReleaseBuffer(buf);
		return newblk;
	}
}

bool
fm_ivf_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
			  Relation heap, IndexUniqueCheck check_unique, bool index_unchanged,
			  IndexInfo *info)
{
	MemoryContext cxt;
	MemoryContext old;
	const FmIvfCache *cache;
	const FmVector *v;
	FmIvfEntry *e;
	Size		size;
	int			list;
	BlockNumber cblk;
	OffsetNumber coff;
	BlockNumber last;
	BlockNumber grown;

	if (isnull[0])
		return false;			/* like fm_score, a NULL vector ranks nowhere */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fm_ivf insert", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	v = (const FmVector *) PG_DETOAST_DATUM(values[0]);
	cache = fm_ivf_cache(index);
	fm_ivf_check_dim(index, cache, v->dim);
	list = fm_ivf_nearest_list(cache, v->x);
	/* copy what we need: the relcache entry (and its cache) may be rebuilt */
	cblk = cache->centroid_block[list];
	coff = cache->centroid_offset[list];

	size = FM_IVF_ENTRY_SIZE(v->dim);
	e = palloc0(size);
	e->tid = *heap_tid;
	e->dim = (uint16) v->dim;
	memcpy(e->y, v->x, sizeof(float4) * v->dim);

	last = read_last_hint(index, cblk, coff);
	grown = append_entry(index, last, e, size);
	if (grown != InvalidBlockNumber)
		advance_last_hint(index, cblk, coff, grown);
	/* private copies of the lists (fm_ivf_lists.c) are stale now */
	fm_ivf_bump_changes(index);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}

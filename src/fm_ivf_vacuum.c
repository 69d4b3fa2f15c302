/*
 * fm_ivf_vacuum.c - removing the entries of dead heap tuples.
 *
 * Every list page is visited once; entries whose heap TID VACUUM reports
 * dead are deleted from the page (generic WAL).  Pages are never unlinked
 * or reused: a list only grows until REINDEX, which also retrains the
 * centroids.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "fm_ivf.h"

IndexBulkDeleteResult *
fm_ivf_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				  IndexBulkDeleteCallback callback, void *state)
{
	Relation	index = info->index;
	const FmIvfCache *cache = fm_ivf_cache(index);
	int			lists = cache->lists;
	BlockNumber *first = palloc(sizeof(BlockNumber) * lists);
	double		removed_before;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	removed_before = stats->tuples_removed;
	memcpy(first, cache->first, sizeof(BlockNumber) * lists);
	for (int j = 0; j < lists; j++)
	{
		BlockNumber blkno = first[j];

		while (blkno != InvalidBlockNumber)
		{
			Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
			Page		page;
			OffsetNumber dead[MaxOffsetNumber];
			int			ndead = 0;
			OffsetNumber maxoff;

			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				ItemId		iid = PageGetItemId(page, off);
				FmIvfEntry *e;

				if (!ItemIdIsUsed(iid))
					continue;
				e = (FmIvfEntry *) PageGetItem(page, iid);
				if (callback(&e->tid, state))
					dead[ndead++] = off;
				else
					stats->num_index_tuples++;
			}
			blkno = FmIvfPageGetOpaque(page)->next;
			if (ndead > 0)
			{
				GenericXLogState *xlog = GenericXLogStart(index);

				/* the registered copy is freed by GenericXLogFinish */
				PageIndexMultiDelete(GenericXLogRegisterBuffer(xlog, buf, 0), dead, ndead);
				GenericXLogFinish(xlog);
				stats->tuples_removed += ndead;
			}
			UnlockReleaseBuffer(buf);
			FM_VACUUM_DELAY_POINT();
		}
	}
	pfree(first);
	/* private copies of the lists must not return the removed TIDs */
	if (stats->tuples_removed > removed_before)
		fm_ivf_bump_changes(index);
	return stats;
}

IndexBulkDeleteResult *
fm_ivf_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* no bulk delete ran: report the heap's count as an estimate */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = info->estimated_count;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

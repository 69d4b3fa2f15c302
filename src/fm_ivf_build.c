/*
 * fm_ivf_build.c - building an fm_ivf index.
 *
 *   1. scan the table: a reservoir sample of FM_IVF_SAMPLES_PER_LIST x lists
 *      vectors (bounded by maintenance_work_mem)
 *   2. k-means (core/kmeans.c) on the sample
 *   3. scan the table again: the list of every vector, into a tuplesort by
 *      (list, heap TID)
 *   4. write the metapage, the centroid pages and the lists, list by list
 *
 * Deterministic: both scans read the table in physical order (no
 * synchronised scan), the sample and k-means use fixed seeds, and the sort
 * key includes the TID; the same table gives the same index.
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplesort.h"

#include "core/kmeans.h"
#include "core/rng.h"
#include "core/vec.h"
#include "fm_ivf.h"
#include "fm_memory.h"
#include "fm_vector.h"

#define PHASE_SAMPLE	1
#define PHASE_KMEANS	2
#define PHASE_ASSIGN	3
#define PHASE_WRITE		4

typedef struct BuildState
{
	Relation	index;
	int			lists;
	int32		dim;			/* D, 0 until the first row */
	MemoryContext buildcxt;		/* lives as long as the build */
	MemoryContext tmpcxt;		/* reset per row */
	/* phase 1 */
	FmRng		rng;
	float4	   *sample;			/* max_sample x D */
	int64		max_sample;
	int64		nsample;
	int64		seen;
	/* phase 3 */
	FmIvfCache	cache;
	Tuplesortstate *sort;
	TupleDesc	sortdesc;
	TupleTableSlot *slot;
	double		indtuples;
} BuildState;

static void
report_phase(int phase)
{
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, phase);
}

/* The indexed value of a row (NULL for a NULL), detoasted in tmpcxt. */
static const FmVector *
row_vector(BuildState *st, Datum *values, bool *isnull)
{
	const FmVector *v;

	if (isnull[0])
		return NULL;
	v = (const FmVector *) PG_DETOAST_DATUM(values[0]);
	if (st->dim == 0)
		st->dim = v->dim;
	else if (v->dim != st->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector dimensions differ: %d and %d", st->dim, v->dim),
				 errdetail("All vectors of an fm_ivf index must have the same dimension.")));
	return v;
}

static void
sample_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool alive, void *state)
{
	BuildState *st = (BuildState *) state;
	MemoryContext old = MemoryContextSwitchTo(st->tmpcxt);
	const FmVector *v = row_vector(st, values, isnull);
	int64		slot = -1;

	if (v != NULL)
	{
		if (st->sample == NULL)
		{
			Size		row = sizeof(float4) * st->dim;

			st->max_sample = Min((int64) st->lists * FM_IVF_SAMPLES_PER_LIST,
								 (int64) maintenance_work_mem * 1024 / 2 / (int64) row);
			st->max_sample = Max(st->max_sample, st->lists);
			st->sample = MemoryContextAllocHuge(st->buildcxt, row * st->max_sample);
		}
		/* reservoir sampling (Vitter's algorithm R) */
		if (st->nsample < st->max_sample)
			slot = st->nsample++;
		else
		{
			int64		r = (int64) fm_rng_below(&st->rng, (uint64) st->seen + 1);

			if (r < st->max_sample)
				slot = r;
		}
		if (slot >= 0)
			memcpy(st->sample + slot * st->dim, v->x, sizeof(float4) * st->dim);
		st->seen++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->tmpcxt);
}

/* k-means on the sample; fills st->cache. */
static void
compute_centroids(BuildState *st)
{
	int32		E = Max(st->dim, 1);
	FmIvfCache *c = &st->cache;
	FmBudget	budget;
	FmAllocator alloc;
	MemoryContext kmcxt = AllocSetContextCreate(CurrentMemoryContext, "fm_ivf kmeans",
												ALLOCSET_DEFAULT_SIZES);

	c->dim = st->dim;
	c->lists = st->lists;
	c->centroids = palloc0(sizeof(float4) * (Size) st->lists * E);
	c->norm2 = palloc0(sizeof(float4) * st->lists);
	c->first = palloc0(sizeof(BlockNumber) * st->lists);
	if (st->nsample == 0)
		return;
	/* k-means needs O(sample + lists x D): no more than the sample itself */
	fm_budget_init(&budget, kmcxt);
	budget.limit = MaxAllocHugeSize;
	alloc = fm_budget_allocator(&budget);
	fm_kmeans(st->sample, st->nsample, E, st->lists, FM_IVF_KMEANS_ITERATIONS,
			  FM_IVF_KMEANS_SEED, c->centroids, &alloc);
	fm_kmeans_norms2(c->centroids, st->lists, E, c->norm2);
	MemoryContextDelete(kmcxt);
	pfree(st->sample);
	st->sample = NULL;
}

static void
assign_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				bool alive, void *state)
{
	BuildState *st = (BuildState *) state;
	MemoryContext old = MemoryContextSwitchTo(st->tmpcxt);
	const FmVector *v = row_vector(st, values, isnull);

	if (v != NULL)
	{
		int			list = fm_ivf_nearest_list(&st->cache, v->x);

		ExecClearTuple(st->slot);
		st->slot->tts_values[0] = Int32GetDatum(list);
		st->slot->tts_isnull[0] = false;
		st->slot->tts_values[1] = PointerGetDatum(tid);
		st->slot->tts_isnull[1] = false;
		st->slot->tts_values[2] = PointerGetDatum(v);
		st->slot->tts_isnull[2] = false;
		ExecStoreVirtualTuple(st->slot);
		tuplesort_puttupleslot(st->sort, st->slot);
		st->indtuples++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->tmpcxt);
}

static void
begin_sort(BuildState *st)
{
	AttrNumber	keys[2] = {1, 2};
	Oid			ops[2] = {Int4LessOperator, TIDLessOperator};
	Oid			collations[2] = {InvalidOid, InvalidOid};
	bool		nulls_first[2] = {false, false};

	st->sortdesc = CreateTemplateTupleDesc(3);
	TupleDescInitEntry(st->sortdesc, 1, "list", INT4OID, -1, 0);
	TupleDescInitEntry(st->sortdesc, 2, "tid", TIDOID, -1, 0);
	/* the vector as an opaque varlena: the sort never looks inside */
	TupleDescInitEntry(st->sortdesc, 3, "vector", BYTEAOID, -1, 0);
	TupleDescFinalize(st->sortdesc);
	st->slot = MakeSingleTupleTableSlot(st->sortdesc, &TTSOpsMinimalTuple);
	st->sort = tuplesort_begin_heap(st->sortdesc, 2, keys, ops, collations, nulls_first,
									maintenance_work_mem, NULL, TUPLESORT_NONE);
}

/* ---------------------------------------------------------------------
 * Writing pages
 * --------------------------------------------------------------------- */

/* Metapage and centroid pages (list heads to be filled in later). */
static void
write_header(Relation index, ForkNumber fork, const FmIvfCache *c, BlockNumber *centroid_blocks)
{
	Buffer		buf = fm_ivf_new_buffer(index, fork);
	Page		page = BufferGetPage(buf);
	FmIvfMeta  *meta;
	Size		size = FM_IVF_CENTROID_SIZE(c->dim);
	FmIvfCentroid *entry = palloc0(size);
	BlockNumber nblocks = 0;
	Buffer		cbuf = InvalidBuffer;

	Assert(BufferGetBlockNumber(buf) == FM_IVF_METAPAGE);
	PageInit(page, BLCKSZ, 0);
	meta = (FmIvfMeta *) PageGetContents(page);
	meta->magic = FM_IVF_MAGIC;
	meta->version = FM_IVF_VERSION;
	meta->dim = c->dim;
	meta->lists = c->lists;
	meta->first_centroid_block = FM_IVF_METAPAGE + 1;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(FmIvfMeta)) - (char *) page;
	MarkBufferDirty(buf);

	for (int j = 0; j < c->lists; j++)
	{
		if (!BufferIsValid(cbuf) || PageGetFreeSpace(BufferGetPage(cbuf)) < size)
		{
			if (BufferIsValid(cbuf))
				UnlockReleaseBuffer(cbuf);
			cbuf = fm_ivf_new_buffer(index, fork);
			fm_ivf_init_page(BufferGetPage(cbuf), FM_IVF_CENTROID_PAGE);
			MarkBufferDirty(cbuf);
			nblocks++;
		}
		entry->first = InvalidBlockNumber;
		entry->last = InvalidBlockNumber;
		entry->norm2 = c->norm2[j];
		memcpy(entry->c, c->centroids + (Size) j * c->dim, sizeof(float4) * c->dim);
		if (PageAddItem(BufferGetPage(cbuf), (void *) entry, size, InvalidOffsetNumber,
						false, false) == InvalidOffsetNumber)
			elog(ERROR, "could not add a centroid to index \"%s\"", RelationGetRelationName(index));
		centroid_blocks[j] = BufferGetBlockNumber(cbuf);
	}
	if (BufferIsValid(cbuf))
		UnlockReleaseBuffer(cbuf);
	meta->centroid_blocks = nblocks;
	UnlockReleaseBuffer(buf);
	pfree(entry);
}

/* Appends list pages; keeps the current page locked in *buf. */
typedef struct ListWriter
{
	Relation	index;
	ForkNumber	fork;
	Buffer		buf;
	BlockNumber *first;
	BlockNumber *last;
} ListWriter;

static void
start_list(ListWriter *w, int list)
{
	if (BufferIsValid(w->buf))
		UnlockReleaseBuffer(w->buf);
	w->buf = fm_ivf_new_buffer(w->index, w->fork);
	fm_ivf_init_page(BufferGetPage(w->buf), FM_IVF_LIST_PAGE);
	MarkBufferDirty(w->buf);
	w->first[list] = w->last[list] = BufferGetBlockNumber(w->buf);
}

static void
add_to_list(ListWriter *w, int list, ItemPointer tid, const FmVector *v)
{
	Size		size = FM_IVF_ENTRY_SIZE(v->dim);
	FmIvfEntry *e = palloc0(size);

	e->tid = *tid;
	e->dim = (uint16) v->dim;
	memcpy(e->y, v->x, sizeof(float4) * v->dim);
	if (PageGetFreeSpace(BufferGetPage(w->buf)) < size)
	{
		Buffer		next = fm_ivf_new_buffer(w->index, w->fork);

		fm_ivf_init_page(BufferGetPage(next), FM_IVF_LIST_PAGE);
		FmIvfPageGetOpaque(BufferGetPage(w->buf))->next = BufferGetBlockNumber(next);
		MarkBufferDirty(w->buf);
		UnlockReleaseBuffer(w->buf);
		w->buf = next;
		w->last[list] = BufferGetBlockNumber(next);
	}
	if (PageAddItem(BufferGetPage(w->buf), (void *) e, size, InvalidOffsetNumber,
					false, false) == InvalidOffsetNumber)
		elog(ERROR, "could not add an entry to index \"%s\"", RelationGetRelationName(w->index));
	MarkBufferDirty(w->buf);
	pfree(e);
}

/* Stores the list heads into the centroid entries. */
static void
write_list_heads(Relation index, ForkNumber fork, int lists, const BlockNumber *centroid_blocks,
				 const BlockNumber *first, const BlockNumber *last)
{
	int			j = 0;

	while (j < lists)
	{
		Buffer		buf = ReadBufferExtended(index, fork, centroid_blocks[j], RBM_NORMAL, NULL);
		Page		page;
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++, j++)
		{
			FmIvfCentroid *c = (FmIvfCentroid *) PageGetItem(page, PageGetItemId(page, off));

			c->first = first[j];
			c->last = last[j];
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Writes the whole index: header, then every list in order from the sorted
 * tuples (sort may be NULL: all lists empty), then the list heads.
 */
static void
write_index(Relation index, ForkNumber fork, const FmIvfCache *c, Tuplesortstate *sort,
			TupleTableSlot *slot)
{
	BlockNumber *centroid_blocks = palloc(sizeof(BlockNumber) * c->lists);
	BlockNumber *first = palloc(sizeof(BlockNumber) * c->lists);
	BlockNumber *last = palloc(sizeof(BlockNumber) * c->lists);
	ListWriter	w = {index, fork, InvalidBuffer, first, last};
	int			current = -1;

	write_header(index, fork, c, centroid_blocks);
	while (sort != NULL && tuplesort_gettupleslot(sort, true, false, slot, NULL))
	{
		bool		isnull;
		int			list = DatumGetInt32(slot_getattr(slot, 1, &isnull));
		ItemPointer tid = (ItemPointer) DatumGetPointer(slot_getattr(slot, 2, &isnull));
		const FmVector *v = (const FmVector *) PG_DETOAST_DATUM(slot_getattr(slot, 3, &isnull));

		while (current < list)
			start_list(&w, ++current);
		add_to_list(&w, list, tid, v);
		CHECK_FOR_INTERRUPTS();
	}
	while (current < c->lists - 1)
		start_list(&w, ++current);
	if (BufferIsValid(w.buf))
		UnlockReleaseBuffer(w.buf);
	write_list_heads(index, fork, c->lists, centroid_blocks, first, last);
	if (fork == INIT_FORKNUM || RelationNeedsWAL(index))
		log_newpage_range(index, fork, 0, RelationGetNumberOfBlocksInFork(index, fork), true);
}

/* ---------------------------------------------------------------------
 * Entry points
 * --------------------------------------------------------------------- */

static int
index_lists_option(Relation index)
{
	FmIvfOptions *opts = (FmIvfOptions *) index->rd_options;

	return opts != NULL ? opts->lists : FM_IVF_DEFAULT_LISTS;
}

IndexBuildResult *
fm_ivf_build(Relation heap, Relation index, IndexInfo *info)
{
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));
	BuildState	st;
	double		reltuples;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	memset(&st, 0, sizeof(st));
	st.index = index;
	st.lists = index_lists_option(index);
	st.buildcxt = CurrentMemoryContext;
	st.tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "fm_ivf build row",
									  ALLOCSET_DEFAULT_SIZES);
	fm_rng_seed(&st.rng, FM_IVF_KMEANS_SEED);

	report_phase(PHASE_SAMPLE);
	reltuples = table_index_build_scan(heap, index, info, false, true,
									   sample_callback, &st, NULL);
	report_phase(PHASE_KMEANS);
	if (st.seen == 0)
	{
		/* nothing to learn from: one untrained list, any dimension */
		st.lists = 1;
		st.dim = 0;
		ereport(NOTICE,
				(errmsg("fm_ivf index \"%s\" was built on an empty table: it is a single list",
						RelationGetRelationName(index)),
				 errhint("REINDEX it once the table holds data.")));
	}
	else if (st.seen < st.lists)
		ereport(NOTICE,
				(errmsg("fm_ivf index \"%s\" has more lists (%d) than rows (" INT64_FORMAT ")",
						RelationGetRelationName(index), st.lists, st.seen),
				 errhint("REINDEX it once the table holds more data.")));
	compute_centroids(&st);

	report_phase(PHASE_ASSIGN);
	begin_sort(&st);
	if (st.seen > 0)
		table_index_build_scan(heap, index, info, false, true, assign_callback, &st, NULL);
	tuplesort_performsort(st.sort);

	report_phase(PHASE_WRITE);
	write_index(index, MAIN_FORKNUM, &st.cache, st.sort, st.slot);
	tuplesort_end(st.sort);
	ExecDropSingleTupleTableSlot(st.slot);
	MemoryContextDelete(st.tmpcxt);

	result->heap_tuples = reltuples;
	result->index_tuples = st.indtuples;
	return result;
}

/* The init fork of an unlogged index: one untrained, empty list. */
void
fm_ivf_buildempty(Relation index)
{
	FmIvfCache	c;
	float4		centroid = 0.0f;
	float4		norm2 = 0.0f;

	memset(&c, 0, sizeof(c));
	c.lists = 1;
	c.centroids = &centroid;
	c.norm2 = &norm2;
	write_index(index, INIT_FORKNUM, &c, NULL, NULL);
}

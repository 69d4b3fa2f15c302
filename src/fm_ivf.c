/*
 * fm_ivf.c - the fm_ivf index access method: handler, options, settings,
 * cost estimate, the centroid cache, and the SQL functions that fold the
 * FM bias into the vectors (fm_item_vec, fm_query_vec, <#>).
 *
 * See fm_ivf.h for the layout and the MIPS reduction.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/relscan.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
#include "utils/syscache.h"

#include "core/kmeans.h"
#include "core/vec.h"
#include "fm_ivf.h"
#include "fm_vector.h"

int			fm_ivf_probes = 10;
static relopt_kind fm_ivf_relopt_kind;

void
fm_ivf_define_settings(void)
{
	fm_ivf_relopt_kind = add_reloption_kind();
	add_int_reloption(fm_ivf_relopt_kind, "lists",
					  "Number of inverted lists (k-means clusters) of an fm_ivf index",
					  FM_IVF_DEFAULT_LISTS, 1, FM_IVF_MAX_LISTS, AccessExclusiveLock);
	DefineCustomIntVariable("fmrec.ivf_probes",
							"Lists an fm_ivf index scan reads.",
							"More lists: better recall, slower scans. "
							"At the number of lists the scan is exact.",
							&fm_ivf_probes, 10, 1, FM_IVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.ivf_cache_size",
							"Memory the private copies of fm_ivf lists may take in one backend.",
							"Scans read a current copy at memory speed instead of the index "
							"pages; 0 disables the copies.",
							&fm_ivf_cache_size_kb, 1024 * 1024, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * Pages and the centroid cache
 * --------------------------------------------------------------------- */

void
fm_ivf_init_page(Page page, uint16 flags)
{
	FmIvfPageOpaque *opaque;

	PageInit(page, BLCKSZ, sizeof(FmIvfPageOpaque));
	opaque = FmIvfPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->flags = flags;
	opaque->page_id = FM_IVF_PAGE_ID;
}

/* A new page at the end of the fork, exclusively locked. */
Buffer
fm_ivf_new_buffer(Relation index, ForkNumber fork)
{
	Buffer		buf;
	bool		local = RELATION_IS_LOCAL(index);

	if (!local)
		LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (!local)
		UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

void
fm_ivf_walk_list(Relation index, BlockNumber first, FmIvfEntryVisitor visit, void *arg)
{
	BlockNumber blkno = first;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);

			if (ItemIdIsUsed(iid) && !ItemIdIsDead(iid))
				visit((const FmIvfEntry *) PageGetItem(page, iid), arg);
		}
		blkno = FmIvfPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
check_meta(Relation index, const FmIvfMeta *meta)
{
	if (meta->magic != FM_IVF_MAGIC || meta->version != FM_IVF_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid fm_ivf index", RelationGetRelationName(index)),
				 errhint("REINDEX it.")));
}

static FmIvfCache *
load_cache(Relation index)
{
	MemoryContext old = MemoryContextSwitchTo(index->rd_indexcxt);
	FmIvfCache *cache = palloc0(sizeof(FmIvfCache));
	Buffer		buf;
	FmIvfMeta	meta;
	int			j = 0;

	buf = ReadBuffer(index, FM_IVF_METAPAGE);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(&meta, PageGetContents(BufferGetPage(buf)), sizeof(meta));
	UnlockReleaseBuffer(buf);
	check_meta(index, &meta);

	cache->dim = meta.dim;
	cache->lists = meta.lists;
	cache->first = palloc(sizeof(BlockNumber) * meta.lists);
	cache->centroid_block = palloc(sizeof(BlockNumber) * meta.lists);
	cache->centroid_offset = palloc(sizeof(OffsetNumber) * meta.lists);
	cache->norm2 = palloc(sizeof(float4) * meta.lists);
	cache->centroids = palloc(sizeof(float4) * (Size) meta.lists * Max(meta.dim, 1));
	for (BlockNumber b = 0; b < meta.centroid_blocks; b++)
	{
		BlockNumber blkno = meta.first_centroid_block + b;
		Page		page;
		OffsetNumber maxoff;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff && j < meta.lists; off++, j++)
		{
			FmIvfCentroid *c = (FmIvfCentroid *) PageGetItem(page, PageGetItemId(page, off));

			cache->first[j] = c->first;
			cache->centroid_block[j] = blkno;
			cache->centroid_offset[j] = off;
			cache->norm2[j] = c->norm2;
			memcpy(cache->centroids + (Size) j * meta.dim, c->c, sizeof(float4) * meta.dim);
		}
		UnlockReleaseBuffer(buf);
	}
	if (j != meta.lists)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has %d centroids, expected %d",
						RelationGetRelationName(index), j, meta.lists)));
	MemoryContextSwitchTo(old);
	return cache;
}

const FmIvfCache *
fm_ivf_cache(Relation index)
{
	if (index->rd_amcache == NULL)
		index->rd_amcache = load_cache(index);
	return (const FmIvfCache *) index->rd_amcache;
}

/* The list of an indexed vector: its nearest centroid, as the build assigns. */
int
fm_ivf_nearest_list(const FmIvfCache *cache, const float4 *y)
{
	if (cache->dim == 0)
		return 0;				/* untrained: one list */
	return fm_kmeans_nearest(y, cache->centroids, cache->norm2, cache->lists, cache->dim, NULL);
}

/* Vectors of a trained index all have its dimension. */
void
fm_ivf_check_dim(Relation index, const FmIvfCache *cache, int32 dim)
{
	if (cache->dim != 0 && dim != cache->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector dimensions differ: %d and %d", cache->dim, dim),
				 errdetail("Index \"%s\" holds vectors of %d dimensions.",
						   RelationGetRelationName(index), cache->dim)));
}

/* ---------------------------------------------------------------------
 * Access method support
 * --------------------------------------------------------------------- */

static bytea *
fm_ivf_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"lists", RELOPT_TYPE_INT, offsetof(FmIvfOptions, lists)},
	};

	return (bytea *) build_reloptions(reloptions, validate, fm_ivf_relopt_kind,
									  sizeof(FmIvfOptions), tab, lengthof(tab));
}

/* Lists of an index, from its metapage (the planner holds no lock: none taken). */
static int
index_lists(Oid indexoid)
{
	Relation	index = index_open(indexoid, NoLock);
	Buffer		buf = ReadBuffer(index, FM_IVF_METAPAGE);
	FmIvfMeta	meta;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(&meta, PageGetContents(BufferGetPage(buf)), sizeof(meta));
	UnlockReleaseBuffer(buf);
	index_close(index, NoLock);
	return meta.magic == FM_IVF_MAGIC ? Max(meta.lists, 1) : FM_IVF_DEFAULT_LISTS;
}

/*
 * A scan reads probes/lists of the index before it returns its first tuple,
 * so that is both its startup and its total cost.  Without ORDER BY <#> the
 * index is useless (it has no searchable operators).
 */
static void
fm_ivf_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
					Cost *indexStartupCost, Cost *indexTotalCost,
					Selectivity *indexSelectivity, double *indexCorrelation,
					double *indexPages)
{
	GenericCosts costs;
	double		ratio;
	double		seq_page_cost;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}
	ratio = Min(1.0, (double) fm_ivf_probes / index_lists(path->indexinfo->indexoid));
	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = path->indexinfo->tuples * ratio;
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * genericcostestimate charges random_page_cost per index page; a list is
	 * a chain of pages mostly read in order, and most scans read the
	 * backend's private copy instead (after its first scan of the index).
	 * Charged as sequential pages, the planner keeps the index at high
	 * probes, where it still beats sorting every row (1M x 121: 40% of the
	 * lists cost 3 ms against 350 ms for the sort).  The page part (capped
	 * by the whole cost, whatever the loop count made of it) is scaled by
	 * seq/random, so the cost stays positive.
	 */
	get_tablespace_page_costs(path->indexinfo->reltablespace, NULL, &seq_page_cost);
	if (costs.spc_random_page_cost > seq_page_cost)
	{
		double		pages_part = Min(costs.indexTotalCost,
									 costs.numIndexPages * costs.spc_random_page_cost);

		costs.indexTotalCost -= pages_part * (1.0 - seq_page_cost / costs.spc_random_page_cost);
	}
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

static bool
fm_ivf_validate(Oid opclassoid)
{
	return true;
}

static char *
fm_ivf_buildphasename(int64 phase)
{
	switch (phase)
	{
		case 1:
			return "sampling table";
		case 2:
			return "computing centroids";
		case 3:
			return "assigning tuples to lists";
		case 4:
			return "writing lists";
		default:
			return NULL;
	}
}

PG_FUNCTION_INFO_V1(fm_ivf_handler);
Datum
fm_ivf_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = FM_NEW_INDEX_AM_ROUTINE();

	am->amstrategies = 1;
	am->amsupport = 0;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = true;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = fm_ivf_build;
	am->ambuildempty = fm_ivf_buildempty;
	am->aminsert = fm_ivf_insert;
	am->ambulkdelete = fm_ivf_bulkdelete;
	am->amvacuumcleanup = fm_ivf_vacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = fm_ivf_costestimate;
	am->amoptions = fm_ivf_options;
	am->amproperty = NULL;
	am->ambuildphasename = fm_ivf_buildphasename;
	am->amvalidate = fm_ivf_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = fm_ivf_beginscan;
	am->amrescan = fm_ivf_rescan;
	am->amgettuple = fm_ivf_gettuple;
	am->amgetbitmap = NULL;
	am->amendscan = fm_ivf_endscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/* ---------------------------------------------------------------------
 * SQL functions: bias folding and the ordering operator
 * --------------------------------------------------------------------- */

/*
 * [embedding, bias]: the item side of fm_score as one vector.  A NaN or
 * infinite bias has no such vector (an fm_vector holds finite numbers
 * only, or it could not be dumped and reloaded): NULL, so the row is left
 * out of an fm_ivf index as fm_topk leaves out rows whose score is NaN.
 */
PG_FUNCTION_INFO_V1(fm_item_vec);
Datum
fm_item_vec(PG_FUNCTION_ARGS)
{
	FmShortVectorBuf buf;
	const FmVector *e = FM_GETARG_VECTOR_INPLACE(0, &buf);
	float4		bias = PG_GETARG_FLOAT4(1);
	FmVector   *result;

	if (isnan(bias) || isinf(bias))
		PG_RETURN_NULL();
	result = fm_vector_new(e->dim + 1);

	memcpy(result->x, e->x, sizeof(float4) * e->dim);
	result->x[e->dim] = bias == 0.0f ? 0.0f : bias;
	PG_RETURN_FM_VECTOR(result);
}

/* [query, 1]: the query side, so that fm_item_vec(e, b) . fm_query_vec(q) = b + q.e */
PG_FUNCTION_INFO_V1(fm_query_vec);
Datum
fm_query_vec(PG_FUNCTION_ARGS)
{
	FmShortVectorBuf buf;
	const FmVector *q = FM_GETARG_VECTOR_INPLACE(0, &buf);
	FmVector   *result = fm_vector_new(q->dim + 1);

	memcpy(result->x, q->x, sizeof(float4) * q->dim);
	result->x[q->dim] = 1.0f;
	PG_RETURN_FM_VECTOR(result);
}

/*
 * a <#> b = -(a . b): ascending order is best first, as ORDER BY ... LIMIT
 * and the index want.  The index computes its ordering values with the same
 * kernel on the same floats, so a scan's values equal the operator's.
 */
PG_FUNCTION_INFO_V1(fm_negative_inner_product);
Datum
fm_negative_inner_product(PG_FUNCTION_ARGS)
{
	FmShortVectorBuf abuf;
	FmShortVectorBuf bbuf;
	const FmVector *a = FM_GETARG_VECTOR_INPLACE(0, &abuf);
	const FmVector *b = FM_GETARG_VECTOR_INPLACE(1, &bbuf);

	fm_vector_check_same_dim(a, b);
	PG_RETURN_FLOAT8(-(double) fm_vec_dot(a->x, b->x, a->dim));
}

/*
 * fm_ivf.h - fm_ivf, an inverted-file index for maximum inner product
 * search over fm_vector: approximate, opt-in, for ORDER BY ... <#> ... LIMIT k.
 *
 * Layout of the index relation:
 *
 *   block 0            metapage (FmIvfMeta)
 *   blocks 1 .. C      centroid pages: one FmIvfCentroid item per list
 *   blocks C+1 ..      list pages: FmIvfEntry items (heap TID + vector),
 *                      each list a chain of pages linked by FmIvfPageOpaque.next
 *
 * Maximum inner product search.  The lists are the clusters of Euclidean
 * k-means on the indexed vectors y; a query p probes the lists whose
 * centroids c have the largest inner product p.c, and ranks the entries of
 * those lists by the exact p.y.  For clustered items the best items lie in
 * the clusters of best centroids.  The classic reduction of MIPS to
 * nearest-neighbour search (Bachrach et al., RecSys 2014: y' = [y,
 * sqrt(M^2 - ||y||^2)], p' = [p, 0], so ||p' - y'||^2 = ||p||^2 + M^2 -
 * 2 p.y) was measured and not kept: its extra component carries the norm of
 * y, k-means then splits clusters by norm, and at equal fractions of the
 * items scanned recall is lower (test/bench/serving_ivf_sim.c: 1M clustered
 * items, 1000 lists, 0.90 recall@10 at 8% scanned with p.c, 0.88 at 16%
 * with the reduction).  Probing by p.c is exact when every list is probed.
 *
 * The FM bias is folded in by the user-visible functions fm_item_vec(e, b)
 * = [e, b] and fm_query_vec(q) = [q, 1]: their inner product is b + q.e.
 */
#ifndef FMREC_FM_IVF_H
#define FMREC_FM_IVF_H

#include "postgres.h"

#include "fm_compat.h"

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

#define FM_IVF_MAGIC			0x464D4956	/* "FMIV" */
#define FM_IVF_VERSION			1
#define FM_IVF_METAPAGE			0
#define FM_IVF_DEFAULT_LISTS	100
#define FM_IVF_MAX_LISTS		32768
#define FM_IVF_KMEANS_SEED		42
#define FM_IVF_KMEANS_ITERATIONS 10
#define FM_IVF_SAMPLES_PER_LIST	50

/* Strategy number of <#> in the operator class */
#define FM_IVF_NEG_IP_STRATEGY	1

typedef struct FmIvfOptions
{
	int32		vl_len_;		/* varlena header */
	int			lists;
} FmIvfOptions;

typedef struct FmIvfMeta
{
	uint32		magic;
	uint32		version;
	int32		dim;			/* D, dimension of the indexed vectors; 0 if no row */
	int32		lists;
	uint64		changes;		/* bumped by every insert and by VACUUM removing entries */
	BlockNumber first_centroid_block;
	BlockNumber centroid_blocks;
} FmIvfMeta;

/* A list: its centroid and where its pages are. */
typedef struct FmIvfCentroid
{
	BlockNumber first;			/* first page of the list */
	BlockNumber last;			/* a hint: the last page (follow next from it) */
	float4		norm2;			/* ||c||^2 */
	float4		c[FLEXIBLE_ARRAY_MEMBER];	/* D components */
} FmIvfCentroid;

#define FM_IVF_CENTROID_SIZE(dim)	MAXALIGN(offsetof(FmIvfCentroid, c) + sizeof(float4) * (dim))

/*
 * An indexed vector.  dim is the index's D once it is trained; an index
 * built on an empty table has one untrained list (D = 0 in the metapage)
 * that takes vectors of any dimension, checked against the query on scans.
 */
typedef struct FmIvfEntry
{
	ItemPointerData tid;
	uint16		dim;
	float4		y[FLEXIBLE_ARRAY_MEMBER];
} FmIvfEntry;

#define FM_IVF_ENTRY_SIZE(dim)		MAXALIGN(offsetof(FmIvfEntry, y) + sizeof(float4) * (dim))

/* Special space of centroid and list pages */
typedef struct FmIvfPageOpaque
{
	BlockNumber next;			/* next page of the list, or InvalidBlockNumber */
	uint16		flags;
	uint16		page_id;		/* FM_IVF_PAGE_ID, for tools */
} FmIvfPageOpaque;

#define FM_IVF_PAGE_ID			0xFF8A
#define FM_IVF_LIST_PAGE		1
#define FM_IVF_CENTROID_PAGE	2
#define FmIvfPageGetOpaque(page) ((FmIvfPageOpaque *) PageGetSpecialPointer(page))

/*
 * The centroids as the scans and inserts use them, cached in the relcache
 * entry (rd_amcache, rebuilt after any relcache invalidation: REINDEX,
 * TRUNCATE and VACUUM FULL give the index a new relfilenode).  Centroids and
 * list heads never change after the build.
 */
typedef struct FmIvfCache
{
	int32		dim;
	int32		lists;
	BlockNumber *first;			/* lists */
	BlockNumber *centroid_block;	/* page holding centroid j */
	OffsetNumber *centroid_offset;
	float4	   *norm2;			/* lists */
	float4	   *centroids;		/* lists x dim, row-major */
} FmIvfCache;

/* A backend-local copy of the lists (fm_ivf_lists.c) */
typedef struct FmIvfLists
{
	Oid			indexoid;
	RelFileLocator node;
	uint64		changes;		/* metapage counter the copy reflects */
	int32		dim;
	int32		lists;
	int64	   *count;			/* entries per list */
	ItemPointerData **tids;		/* per list */
	float4	  **y;				/* per list, count x dim */
	/* the same vectors quantised to 8 bits per component (core/sq8.h) */
	uint8	  **codes;			/* per list, fm_sq8_codes_size(count, dim) bytes */
	float4	  **lo;				/* per list, dim: the range of each dimension */
	float4	  **step;
	int64		max_count;		/* entries of the longest list */
	MemoryContext cxt;
	Size		bytes;
	uint64		last_used;
} FmIvfLists;

/* fm_ivf.c */
extern int	fm_ivf_probes;
extern void fm_ivf_define_settings(void);
extern const FmIvfCache *fm_ivf_cache(Relation index);
extern int	fm_ivf_nearest_list(const FmIvfCache *cache, const float4 *y);
extern void fm_ivf_check_dim(Relation index, const FmIvfCache *cache, int32 dim);
extern void fm_ivf_init_page(Page page, uint16 flags);
extern Buffer fm_ivf_new_buffer(Relation index, ForkNumber fork);

/*
 * Calls visit(entry, arg) for every live entry of the list whose first page
 * is first, page by page under a share lock, checking for interrupts
 * between pages.  The entry is valid only during the call.  (VACUUM walks
 * the lists itself: it changes the pages.)
 */
typedef void (*FmIvfEntryVisitor) (const FmIvfEntry *entry, void *arg);
extern void fm_ivf_walk_list(Relation index, BlockNumber first,
							 FmIvfEntryVisitor visit, void *arg);

/* fm_ivf_lists.c */
extern int	fm_ivf_cache_size_kb;
extern const FmIvfLists *fm_ivf_lists(Relation index, const FmIvfCache *cache);
extern void fm_ivf_bump_changes(Relation index);

/* fm_ivf_build.c */
extern IndexBuildResult *fm_ivf_build(Relation heap, Relation index, IndexInfo *info);
extern void fm_ivf_buildempty(Relation index);

/* fm_ivf_insert.c */
extern bool fm_ivf_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
						  Relation heap, IndexUniqueCheck check_unique,
						  bool index_unchanged, IndexInfo *info);

/* fm_ivf_scan.c */
extern IndexScanDesc fm_ivf_beginscan(Relation index, int nkeys, int norderbys);
extern void fm_ivf_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool fm_ivf_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void fm_ivf_endscan(IndexScanDesc scan);

/* fm_ivf_vacuum.c */
extern IndexBulkDeleteResult *fm_ivf_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
												IndexBulkDeleteCallback callback, void *state);
extern IndexBulkDeleteResult *fm_ivf_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

#endif							/* FMREC_FM_IVF_H */

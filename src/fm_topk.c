/*
 * fm_topk.c - fm_topk(): the exact top-k of a whole item catalogue, scored
 * from a matrix of the item embeddings cached in backend memory.
 *
 *   fm_topk(query, items, k, exclude, id_column, embedding_column, bias_column)
 *
 * returns the rows of
 *
 *   SELECT id, fm_score(query, embedding, bias) AS score FROM items
 *    WHERE fm_score(query, embedding, bias) IS NOT NULL
 *      AND (exclude IS NULL OR id <> ALL (exclude))
 *    ORDER BY score DESC, id LIMIT k
 *
 * with the same scores, bit for bit.  The first call reads the relation
 * through SPI as the caller and keeps id, bias, norm and embedding of every
 * row in memory (the embeddings as row-major float chunks of ~16 MB under
 * TopMemoryContext); later calls only score that memory.
 *
 * Two scoring kernels.  "loop" calls fm_vec_dot per item: what fm_score
 * computes, hence exact.  "blas" calls cblas_sgemv per chunk, which sums in
 * another order and rounds differently, so its scores only select
 * candidates: every item whose sgemv score plus a rigorous bound e_i of the
 * rounding difference reaches the k-th largest (sgemv score - e) is rescored
 * with fm_vec_dot (typically k items plus a handful) and the top k of the
 * exact scores is returned.  See blas_error_scale() for the bound.
 *
 * When may a call reuse the cache?  Its content was read under a snapshot;
 * a call may use it only if its own snapshot sees the same rows.  Decided
 * per call from the relcache entry, without catalog queries:
 *
 * - Tracked tables (fm_topk_track(items) installed its triggers, see
 *   fm_topk_version.c): every statement that changes the table, whichever
 *   way, sets its row of fm_topk_version to a fresh sequence value, in the
 *   changing transaction.  That value, read with the caller's snapshot (one
 *   index probe through a saved SPI plan), names the visible state of the
 *   table exactly, so the cache survives across statements and
 *   transactions until a change becomes visible.
 * - Other relations (views, partitioned tables, tables with inheritance
 *   children, untracked tables): reused only under an identical snapshot (same transaction,
 *   subtransaction, command id, xmin, xmax and in-progress xids) and user:
 *   within one statement (a lateral join over users) or one REPEATABLE READ
 *   transaction.
 * - Tables with row level security: never reused.
 *
 * In addition a relcache invalidation of the relation (any DDL, TRUNCATE,
 * trigger changes, VACUUM, ANALYZE) drops its entries, and the relfilenode
 * and the attribute numbers of the three columns are compared on every
 * call.  Plain INSERT/UPDATE/DELETE send no relcache invalidation: that is
 * what the triggers are for.
 *
 * OpenBLAS is loaded with dlopen() on the first "blas" scoring, not linked:
 * the pthread build of OpenBLAS starts (cores - 1) threads in the
 * constructor of the library, i.e. in every backend that merely loads
 * fmrec, and openblas_set_num_threads(1) does not stop them.  Loading it
 * late with OPENBLAS_NUM_THREADS=1 in the environment creates no thread at
 * all.  One thread because a backend is one of many processes sharing the
 * cores (other backends, parallel workers) and sgemv over a cached matrix is
 * bound by memory bandwidth, which extra threads of one query do not raise.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "storage/proc.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "storage/bufmgr.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "core/topk.h"
#include "core/vec.h"
#include "fm_compat.h"
#include "fm_topk.h"
#include "fm_vector.h"

/* Largest k: the heap of k pairs is allocated up front. */
#define TOPK_MAX_K			10000000
/* Backend-local cache entries (item relations served at the same time). */
#define TOPK_MAX_ENTRIES	8
/* Target size of one chunk of embeddings. */
#define TOPK_CHUNK_BYTES	(16 * 1024 * 1024)

/* Settings */
typedef enum TopkKernel
{
	TOPK_KERNEL_AUTO,
	TOPK_KERNEL_BLAS,
	TOPK_KERNEL_LOOP
} TopkKernel;

static const struct config_enum_entry topk_kernel_options[] = {
	{"auto", TOPK_KERNEL_AUTO, false},
	{"blas", TOPK_KERNEL_BLAS, false},
	{"loop", TOPK_KERNEL_LOOP, false},
	{NULL, 0, false}
};

static int	topk_kernel = TOPK_KERNEL_AUTO;
static int	topk_cache_size_kb = 1024 * 1024;	/* 1 GB */
static int	topk_blas_min_items = 4096;

/* How a cache entry's content is known to match the caller's view. */
typedef enum TopkRegime
{
	TOPK_TRACKED,				/* version row of fm_topk_version */
	TOPK_SNAPSHOT,				/* identical snapshot and user */
	TOPK_UNCACHED				/* row level security: never reuse */
} TopkRegime;

/* What a content was read under; compared field by field. */
typedef struct TopkStamp
{
	TopkRegime	regime;
	RelFileLocator node;
	AttrNumber	attnums[3];
	/* TOPK_TRACKED */
	int64		version;		/* -1: no row yet */
	/* TOPK_SNAPSHOT */
	Oid			userid;
	LocalTransactionId lxid;
	SubTransactionId subxid;
	CommandId	curcid;
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	bool		recovery;
	TransactionId *xip;			/* xcnt then subxcnt xids */
} TopkStamp;

/*
 * Items of a cache, in chunks (the last one partial).  Chunk i holds up to
 * chunk_capacity(i) rows: 64, doubling up to max_chunk_rows (~16 MB), so a
 * small catalogue takes (and is charged) little memory and a large one few
 * allocations.
 */
typedef struct TopkChunk
{
	char	   *block;			/* one allocation holding the arrays below */
	int32		capacity;
	int32		rows;
	int64	   *ids;
	float4	   *bias;
	float4	   *norms;			/* ||x_i||, for the rescoring bound */
	float4	   *x;				/* rows x dim, row-major */
} TopkChunk;

typedef struct TopkCache
{
	/* key */
	Oid			relid;
	NameData	columns[3];		/* id, embedding, bias ("" = no bias) */
	/* validity */
	bool		valid;			/* cleared by a relcache invalidation */
	TopkStamp	stamp;
	/* content, all in context */
	MemoryContext context;
	int32		dim;			/* 0 while no row was read */
	int64		n;
	int32		max_chunk_rows;
	int32		nchunks;
	int32		maxchunks;
	TopkChunk  *chunks;
	Size		bytes;
	uint64		last_used;
	Oid			last_user;		/* role of the last call that used it */
	int64		rescored;		/* by the last sgemv scoring; -1 after the loop */
} TopkCache;

static TopkCache *topk_cache[TOPK_MAX_ENTRIES];
static uint64 topk_clock;
static bool topk_callback_registered;

/* A call: query, exclusions and the heap of the result. */
typedef struct TopkCall
{
	const float4 *q;
	int32		qdim;
	const int64 *exclude;		/* sorted */
	int			nexclude;
	FmTopK		heap;
} TopkCall;

/* Receives the rows of the SPI query (id, embedding, bias). */
typedef struct TopkReceiver
{
	DestReceiver pub;
	TopkCache  *cache;			/* being filled, NULL once streaming */
	TopkCall   *call;			/* scores rows directly when streaming */
	Size		budget;			/* bytes the cache may take */
	bool		has_bias;
	int32		dim;			/* of the rows read so far, 0 if none */
	TopkCache  *spares;			/* replaced entry whose chunks are reused */
	int32		next_spare;
} TopkReceiver;

/* OpenBLAS, loaded on first use */
typedef void (*SgemvFunction) (int order, int trans, int m, int n, float alpha,
							   const float *a, int lda, const float *x, int incx,
							   float beta, float *y, int incy);
#define CBLAS_ROW_MAJOR	101		/* the standard CBLAS enum values */
#define CBLAS_NO_TRANS	111

static SgemvFunction blas_sgemv;
static bool blas_tried;
static char blas_error[256];


void
fm_topk_define_settings(void)
{
	DefineCustomEnumVariable("fmrec.topk_kernel",
							 "Kernel that scores the cached items in fm_topk().",
							 "auto uses OpenBLAS sgemv when it is installed and the "
							 "catalogue has at least fmrec.topk_blas_min_items items, "
							 "the fm_vec_dot loop otherwise.",
							 &topk_kernel, TOPK_KERNEL_AUTO, topk_kernel_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.topk_blas_min_items",
							"Smallest catalogue that fm_topk() scores with sgemv "
							"when fmrec.topk_kernel is auto.",
							NULL, &topk_blas_min_items, 4096, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("fmrec.topk_cache_size",
							"Memory the item caches of fm_topk() may take in one backend.",
							"A catalogue that does not fit is scored while it is read, "
							"on every call.",
							&topk_cache_size_kb, 1024 * 1024, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	fm_topk_define_autotrack_setting();
}

/* ---------------------------------------------------------------------
 * Cache entries
 * --------------------------------------------------------------------- */

static void
topk_relcache_callback(Datum arg, Oid relid)
{
	for (int i = 0; i < TOPK_MAX_ENTRIES; i++)
		if (topk_cache[i] != NULL &&
			(relid == InvalidOid || topk_cache[i]->relid == relid))
			topk_cache[i]->valid = false;
}

static void
cache_free(int slot)
{
	MemoryContextDelete(topk_cache[slot]->context);
	topk_cache[slot] = NULL;
}

/* The slot of the entry for (relid, columns), or -1. */
static int
cache_find(Oid relid, const NameData *columns)
{
	for (int i = 0; i < TOPK_MAX_ENTRIES; i++)
	{
		TopkCache  *c = topk_cache[i];

		if (c != NULL && c->relid == relid &&
			memcmp(c->columns, columns, sizeof(c->columns)) == 0)
			return i;
	}
	return -1;
}

static Size
cache_bytes(void)
{
	Size		total = 0;

	for (int i = 0; i < TOPK_MAX_ENTRIES; i++)
		if (topk_cache[i] != NULL)
			total += topk_cache[i]->bytes;
	return total;
}

static int
cache_lru(void)
{
	int			lru = -1;

	for (int i = 0; i < TOPK_MAX_ENTRIES; i++)
		if (topk_cache[i] != NULL &&
			(lru < 0 || topk_cache[i]->last_used < topk_cache[lru]->last_used))
			lru = i;
	return lru;
}

/* Frees least recently used entries until `bytes` more fit in the budget. */
static void
cache_make_room(Size bytes)
{
	Size		limit = (Size) topk_cache_size_kb * 1024;

	while (cache_bytes() + bytes > limit && cache_lru() >= 0)
		cache_free(cache_lru());
}

/* Copies a stamp, its xids into cxt. */
static void
stamp_copy(TopkStamp *dst, const TopkStamp *src, MemoryContext cxt)
{
	Size		nxids = src->xcnt + Max(src->subxcnt, 0);

	*dst = *src;
	dst->xip = NULL;
	if (src->regime == TOPK_SNAPSHOT && nxids > 0)
	{
		dst->xip = MemoryContextAlloc(cxt, sizeof(TransactionId) * nxids);
		memcpy(dst->xip, src->xip, sizeof(TransactionId) * nxids);
	}
}

/*
 * Keeps a freshly read cache: moves its context under TopMemoryContext and
 * puts it in a free slot (evicting the least recently used entry if none).
 */
static void
cache_keep(TopkCache *c, Oid relid, const NameData *columns, const TopkStamp *stamp)
{
	TopkCache  *keep = MemoryContextAlloc(c->context, sizeof(TopkCache));
	int			slot = -1;

	for (int i = 0; i < TOPK_MAX_ENTRIES && slot < 0; i++)
		if (topk_cache[i] == NULL)
			slot = i;
	if (slot < 0)
	{
		slot = cache_lru();
		cache_free(slot);
	}
	*keep = *c;
	keep->relid = relid;
	memcpy(keep->columns, columns, sizeof(keep->columns));
	keep->valid = true;
	stamp_copy(&keep->stamp, stamp, c->context);
	keep->last_used = ++topk_clock;
	keep->last_user = GetUserId();
	MemoryContextSetParent(c->context, TopMemoryContext);
	topk_cache[slot] = keep;
}

static bool
stamps_equal(const TopkStamp *a, const TopkStamp *b)
{
	if (a->regime != b->regime || a->regime == TOPK_UNCACHED ||
		!RelFileLocatorEquals(a->node, b->node) ||
		memcmp(a->attnums, b->attnums, sizeof(a->attnums)) != 0)
		return false;
	if (a->regime == TOPK_TRACKED)
		return a->version == b->version;
	return a->userid == b->userid && a->lxid == b->lxid &&
		a->subxid == b->subxid && a->curcid == b->curcid &&
		a->xmin == b->xmin && a->xmax == b->xmax &&
		a->xcnt == b->xcnt && a->subxcnt == b->subxcnt &&
		a->suboverflowed == b->suboverflowed && a->recovery == b->recovery &&
		memcmp(a->xip, b->xip, sizeof(TransactionId) * (a->xcnt + Max(a->subxcnt, 0))) == 0;
}

/* ---------------------------------------------------------------------
 * Validity of the caller's view: stamp of the current call
 * --------------------------------------------------------------------- */

/*
 * The stamp of what this call sees.  Requires SPI to be connected (for the
 * version of a tracked table).  xip points into the active snapshot.
 */
static void
current_stamp(Relation rel, const AttrNumber *attnums, Oid schema, TopkStamp *st)
{
	memset(st, 0, sizeof(*st));
	st->node = FM_RELATION_LOCATOR(rel);
	memcpy(st->attnums, attnums, sizeof(st->attnums));
	if (rel->rd_rel->relrowsecurity)
		st->regime = TOPK_UNCACHED;
	else if (fm_topk_is_tracked(rel, schema) && !fm_topk_tracked_here(RelationGetRelid(rel)))
	{
		st->regime = TOPK_TRACKED;
		st->version = fm_topk_tracked_version(RelationGetRelid(rel), schema);
	}
	else
	{
		Snapshot	snap = GetActiveSnapshot();

		st->regime = TOPK_SNAPSHOT;
		st->userid = GetUserId();
		st->lxid = FM_MY_LOCAL_XID();
		st->subxid = GetCurrentSubTransactionId();
		st->curcid = snap->curcid;
		st->xmin = snap->xmin;
		st->xmax = snap->xmax;
		st->xcnt = snap->xcnt;
		st->subxcnt = snap->subxcnt;
		st->suboverflowed = snap->suboverflowed;
		st->recovery = snap->takenDuringRecovery;
		/* compared as one array: copy both parts next to each other */
		st->xip = palloc(sizeof(TransactionId) * (snap->xcnt + Max(snap->subxcnt, 0) + 1));
		memcpy(st->xip, snap->xip, sizeof(TransactionId) * snap->xcnt);
		if (snap->subxcnt > 0)
			memcpy(st->xip + snap->xcnt, snap->subxip, sizeof(TransactionId) * snap->subxcnt);
	}
}

/* ---------------------------------------------------------------------
 * Scoring
 * --------------------------------------------------------------------- */

static bool
is_excluded(const TopkCall *call, int64 id)
{
	int			lo = 0;
	int			hi = call->nexclude;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (call->exclude[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < call->nexclude && call->exclude[lo] == id;
}

static void
check_query_dim(const TopkCall *call, int32 dim)
{
	if (call->qdim != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector dimensions differ: %d and %d", call->qdim, dim)));
}

/* What fm_score() returns for an item. */
static inline double
exact_score(const float4 *q, const float4 *x, int32 dim, float4 bias)
{
	return (double) bias + (double) fm_vec_dot(q, x, dim);
}

/* Offers an exactly scored item to the result. */
static inline void
offer(TopkCall *call, int64 id, double score)
{
	if (score < fm_topk_threshold(&call->heap))
		return;
	if (call->nexclude > 0 && is_excluded(call, id))
		return;
	fm_topk_push(&call->heap, id, score);
}

static void
score_chunk_loop(TopkCall *call, const TopkChunk *ch, int32 dim)
{
	double		threshold = fm_topk_threshold(&call->heap);

	for (int32 i = 0; i < ch->rows; i++)
	{
		double		score = exact_score(call->q, ch->x + (Size) i * dim, dim, ch->bias[i]);

		if (score < threshold)
			continue;
		offer(call, ch->ids[i], score);
		threshold = fm_topk_threshold(&call->heap);
	}
}

/*
 * Bound on |sgemv score - fm_vec_dot score| for an item of norm ||x||:
 * scale * ||x||.  Any summation order of n products has an error of at most
 * gamma_n * sum |q_i x_i| <= n u ||q|| ||x|| (u = 2^-24; Cauchy-Schwarz);
 * fm_vec_dot sums n/16 products per lane in float, the lanes in double and
 * rounds the result to float: (n/16 + 3) u ||q|| ||x||.  Twice the sum of
 * both covers the second-order terms with a wide margin; the absolute term
 * covers products that underflow.
 */
static double
blas_error_scale(const float4 *q, int32 dim)
{
	double		u = ldexp(1.0, -24);

	return 2.0 * (dim + dim / 16 + 4) * u * fm_vec_norm(q, dim);
}

#define BLAS_ERROR_ABS(dim)		((dim) * 1e-44)

typedef struct Candidate
{
	int32		chunk;
	int32		row;			/* in the chunk */
	double		upper;			/* sgemv score + error bound */
} Candidate;

static bool
load_blas(void)
{
	void	   *lib = NULL;
	const char *names[] = {"libopenblas.so.0", "libopenblas.so"};

	if (blas_tried)
		return blas_sgemv != NULL;
	blas_tried = true;
	/* read by the library's constructor: no thread pool is started */
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	for (int i = 0; i < lengthof(names) && lib == NULL; i++)
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
	{
		strlcpy(blas_error, dlerror(), sizeof(blas_error));
		return false;
	}
	blas_sgemv = (SgemvFunction) dlsym(lib, "cblas_sgemv");
	if (blas_sgemv == NULL)
		strlcpy(blas_error, "libopenblas has no cblas_sgemv", sizeof(blas_error));
	else
	{
		/* in case another module loaded the library with more threads */
		void		(*set_threads) (int) = (void (*) (int)) dlsym(lib, "openblas_set_num_threads");

		if (set_threads != NULL)
			set_threads(1);
	}
	return blas_sgemv != NULL;
}

/*
 * sgemv per chunk, candidates by the error bound, exact rescoring.  Returns
 * the number of items rescored.
 */
static int64
score_cache_blas(TopkCall *call, const TopkCache *c)
{
	FmTopK		lower;			/* k largest lower bounds (id = candidate) */
	float4	   *scores = palloc(sizeof(float4) * c->max_chunk_rows);
	double		scale = blas_error_scale(call->q, c->dim);
	double		abs_err = BLAS_ERROR_ABS(c->dim);
	/* with fewer items than k every item is a candidate either way */
	int32		k = (int32) Min((int64) call->heap.k, c->n);
	Candidate  *cand;
	int64		ncand = 0;
	int64		maxcand = Max((int64) k * 2, 64);
	double		threshold;
	int64		rescored = 0;

	fm_topk_init(&lower, k, palloc(sizeof(FmScored) * Max(k, 1)));
	cand = palloc(sizeof(Candidate) * maxcand);
	threshold = fm_topk_threshold(&lower);
	for (int32 ci = 0; ci < c->nchunks; ci++)
	{
		const TopkChunk *ch = &c->chunks[ci];

		blas_sgemv(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, ch->rows, c->dim, 1.0f,
				   ch->x, c->dim, call->q, 1, 0.0f, scores, 1);
		for (int32 i = 0; i < ch->rows; i++)
		{
			double		s = (double) ch->bias[i] + (double) scores[i];
			double		e = scale * ch->norms[i] + abs_err;
			double		lo = s - e;

			if (!(s + e >= threshold))
				continue;
			if (call->nexclude > 0 && is_excluded(call, ch->ids[i]))
				continue;
			if (ncand == maxcand)
			{
				maxcand *= 2;
				cand = repalloc_huge(cand, sizeof(Candidate) * maxcand);
			}
			cand[ncand].chunk = ci;
			cand[ncand].row = i;
			cand[ncand].upper = s + e;
			ncand++;
			fm_topk_push(&lower, ncand - 1, isnan(lo) ? -INFINITY : lo);
			threshold = fm_topk_threshold(&lower);
		}
	}
	/* the true top k all have upper >= the final k-th lower bound */
	for (int64 j = 0; j < ncand; j++)
	{
		const TopkChunk *ch;
		int32		i;

		if (!(cand[j].upper >= threshold))
			continue;
		ch = &c->chunks[cand[j].chunk];
		i = cand[j].row;
		offer(call, ch->ids[i], exact_score(call->q, ch->x + (Size) i * c->dim, c->dim, ch->bias[i]));
		rescored++;
	}
	pfree(scores);
	pfree(cand);
	pfree(lower.items);
	return rescored;
}

static bool
use_blas(const TopkCache *c)
{
	switch (topk_kernel)
	{
		case TOPK_KERNEL_LOOP:
			return false;
		case TOPK_KERNEL_BLAS:
			if (!load_blas())
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FILE),
						 errmsg("fmrec.topk_kernel is \"blas\" but OpenBLAS cannot be loaded"),
						 errdetail("%s", blas_error),
						 errhint("Install libopenblas0, or set fmrec.topk_kernel to \"auto\".")));
			return true;
		default:
			/*
			 * Small catalogues stay with the loop: at 1,682 x 120 the loop
			 * answered in 0.104 ms against 0.130 ms for sgemv with one
			 * client, 0.122 against 0.267 ms with two (serving_bench.sh).
			 * From 100,000 items sgemv is 1.3-1.5x faster at 64 dimensions;
			 * at 120 the two stay within 20% of each other either way
			 * (100k: loop 2.5, sgemv 3.0 ms; 1M: 26.2 and 24.2 ms).
			 */
			return c->n >= topk_blas_min_items && load_blas();
	}
}

static void
score_cache(TopkCall *call, TopkCache *c)
{
	c->rescored = -1;
	if (c->n == 0)
		return;
	check_query_dim(call, c->dim);
	if (use_blas(c))
		c->rescored = score_cache_blas(call, c);
	else
		for (int32 ci = 0; ci < c->nchunks; ci++)
			score_chunk_loop(call, &c->chunks[ci], c->dim);
}

/* ---------------------------------------------------------------------
 * Reading the items: a DestReceiver that fills the cache or, past the
 * memory budget, scores each row as it arrives.
 * --------------------------------------------------------------------- */

static void
receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
receiver_shutdown(DestReceiver *self)
{
}

static void
receiver_destroy(DestReceiver *self)
{
}

/* Gives up caching: scores what was read so far, frees it. */
static void
start_streaming(TopkReceiver *r)
{
	TopkCache  *c = r->cache;

	if (c->n > 0)
	{
		check_query_dim(r->call, c->dim);
		for (int32 ci = 0; ci < c->nchunks; ci++)
			score_chunk_loop(r->call, &c->chunks[ci], c->dim);
	}
	MemoryContextDelete(c->context);	/* and the spares with it */
	r->cache = NULL;
	r->spares = NULL;
}

/* Bytes of a chunk of rows x dim: ids, embeddings, biases, norms. */
static Size
chunk_bytes(int32 rows, int32 dim)
{
	return (Size) rows * (sizeof(int64) + sizeof(float4) * (dim + 2));
}

/* Rows of chunk `index` (0-based) of a cache. */
static int32
chunk_capacity(const TopkCache *c, int32 index)
{
	int64		rows = (int64) 64 << Min(index, 24);

	return (int32) Min(rows, (int64) c->max_chunk_rows);
}

static void
chunk_layout(TopkChunk *ch, char *block, int32 rows, int32 dim)
{
	ch->block = block;
	ch->capacity = rows;
	ch->rows = 0;
	ch->ids = (int64 *) block;
	ch->x = (float4 *) (block + sizeof(int64) * rows);
	ch->bias = ch->x + (Size) rows * dim;
	ch->norms = ch->bias + rows;
}

/*
 * The chunk the next row goes to, or NULL when a new chunk would exceed the
 * budget.  Chunks of the entry being replaced are reused first: a fresh
 * allocation costs page faults, and on a virtual machine the first touch of
 * memory can cost more than reading the table (5 ms per MB measured here).
 */
static TopkChunk *
chunk_for_row(TopkReceiver *r)
{
	TopkCache  *c = r->cache;
	TopkChunk  *ch;
	int32		rows;
	Size		bytes;

	if (c->nchunks > 0 && c->chunks[c->nchunks - 1].rows < c->chunks[c->nchunks - 1].capacity)
		return &c->chunks[c->nchunks - 1];
	rows = chunk_capacity(c, c->nchunks);
	bytes = chunk_bytes(rows, c->dim);
	if (c->bytes + bytes > r->budget)
		return NULL;
	if (c->nchunks == c->maxchunks)
	{
		c->maxchunks = Max(16, c->maxchunks * 2);
		c->chunks = c->chunks == NULL
			? MemoryContextAlloc(c->context, sizeof(TopkChunk) * c->maxchunks)
			: repalloc(c->chunks, sizeof(TopkChunk) * c->maxchunks);
	}
	ch = &c->chunks[c->nchunks++];
	/* the spare chunk of the same index has the same capacity at the same dim */
	if (r->spares != NULL && r->next_spare == c->nchunks - 1 &&
		r->next_spare < r->spares->nchunks && r->spares->dim == c->dim &&
		r->spares->chunks[r->next_spare].capacity == rows)
		chunk_layout(ch, r->spares->chunks[r->next_spare++].block, rows, c->dim);
	else
		chunk_layout(ch, MemoryContextAllocHuge(c->context, bytes), rows, c->dim);
	c->bytes += bytes;
	return ch;
}

/* Frees the chunks of the replaced entry that were not reused. */
static void
free_spares(TopkReceiver *r)
{
	if (r->spares == NULL)
		return;
	for (int32 i = r->next_spare; i < r->spares->nchunks; i++)
		pfree(r->spares->chunks[i].block);
	r->spares = NULL;
}

static bool
receiver_row(TupleTableSlot *slot, DestReceiver *self)
{
	TopkReceiver *r = (TopkReceiver *) self;
	FmShortVectorBuf buf;
	const FmVector *v;
	int64		id;
	float4		bias;
	TopkChunk  *ch = NULL;

	slot_getallattrs(slot);
	/* rows whose fm_score is NULL are never recommended */
	if (slot->tts_isnull[0] || slot->tts_isnull[1] || (r->has_bias && slot->tts_isnull[2]))
		return true;
	id = DatumGetInt64(slot->tts_values[0]);
	bias = r->has_bias ? DatumGetFloat4(slot->tts_values[2]) : 0.0f;
	v = fm_vector_inplace(slot->tts_values[1], &buf);
	if (r->dim == 0)
	{
		r->dim = v->dim;
		if (r->cache != NULL)
		{
			r->cache->dim = v->dim;
			r->cache->max_chunk_rows = Max(64, TOPK_CHUNK_BYTES / (int) (sizeof(float4) * v->dim));
		}
	}
	else if (v->dim != r->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector dimensions differ: %d and %d", r->dim, v->dim),
				 errdetail("All embeddings of an item relation must have the same dimension.")));

	if (r->cache != NULL && (ch = chunk_for_row(r)) == NULL)
		start_streaming(r);
	if (r->cache == NULL)
	{
		check_query_dim(r->call, v->dim);
		offer(r->call, id, exact_score(r->call->q, v->x, v->dim, bias));
	}
	else
	{
		int32		i = ch->rows++;

		ch->ids[i] = id;
		ch->bias[i] = bias;
		/* rounded up, so that the bound stays a bound */
		ch->norms[i] = (float4) (fm_vec_norm(v->x, v->dim) * (1.0 + 1e-6));
		memcpy(ch->x + (Size) i * v->dim, v->x, sizeof(float4) * v->dim);
		r->cache->n++;
	}
	if ((const void *) v != (const void *) &buf && (Pointer) v != DatumGetPointer(slot->tts_values[1]))
		pfree((void *) v);
	return true;
}

/*
 * Reads the items with the caller's privileges and snapshot.  Returns the
 * filled cache (in a context under CurrentMemoryContext, so that an error
 * frees it), or NULL when it did not fit and the rows were scored on the
 * fly into call->heap.
 */
static TopkCache *
read_items(Relation rel, const NameData *columns, TopkCall *call, Size budget,
		   TopkCache *replaced)
{
	TopkCache  *c;
	TopkReceiver r;
	SPIExecuteOptions options;
	bool		has_bias = NameStr(columns[2])[0] != '\0';
	char	   *sql;
	int			rc;

	c = MemoryContextAllocZero(CurrentMemoryContext, sizeof(TopkCache));
	c->context = AllocSetContextCreate(CurrentMemoryContext, "fmrec topk cache",
									   ALLOCSET_DEFAULT_SIZES);
	sql = psprintf("SELECT (%s)::pg_catalog.int8, %s, %s FROM %s",
				   quote_identifier(NameStr(columns[0])),
				   quote_identifier(NameStr(columns[1])),
				   has_bias ? psprintf("(%s)::pg_catalog.float4", quote_identifier(NameStr(columns[2])))
				   : "NULL::pg_catalog.float4",
				   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											  RelationGetRelationName(rel)));
	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = receiver_row;
	r.pub.rStartup = receiver_startup;
	r.pub.rShutdown = receiver_shutdown;
	r.pub.rDestroy = receiver_destroy;
	r.pub.mydest = DestTuplestore;	/* anything but DestNone: SPI_OK_SELECT */
	r.cache = c;
	r.call = call;
	r.budget = budget;
	r.has_bias = has_bias;
	if (replaced != NULL)
	{
		/* from now on freed with the new entry, even on error */
		MemoryContextSetParent(replaced->context, c->context);
		r.spares = replaced;
	}
	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = (DestReceiver *) &r;
	rc = SPI_execute_extended(sql, &options);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the items: %s", SPI_result_code_string(rc));
	if (r.cache != NULL)
		free_spares(&r);
	return r.cache;
}

/* ---------------------------------------------------------------------
 * The SQL functions
 * --------------------------------------------------------------------- */

static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* Sorted exclusion list from a bigint[] (NULL elements are ignored). */
static int64 *
exclusion_list(ArrayType *array, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int64	   *ids;
	int			m = 0;

	deconstruct_array(array, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &count);
	ids = palloc(sizeof(int64) * Max(count, 1));
	for (int i = 0; i < count; i++)
		if (!nulls[i])
			ids[m++] = DatumGetInt64(elems[i]);
	qsort(ids, m, sizeof(int64), compare_int64);
	*n = m;
	return ids;
}

/* A user column of the relation; system columns are no column for fm_topk. */
static AttrNumber
column_attnum(Relation rel, const char *name, const char *role)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 attnum == InvalidAttrNumber
				 ? errhint("Name the %s column with the %s_column argument of fm_topk().", role, role)
				 : errhint("\"%s\" is a system column; fm_topk() reads user columns only.", name)));
	return attnum;
}

/*
 * The columns must hold what fm_score() takes: an integer id (returned as
 * bigint), an fm_vector (or a domain over it) and a number (read as real,
 * as fm_score's bias argument).
 */
static void
check_column_types(Relation rel, const AttrNumber *attnums, int ncolumns, Oid vector_type)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < ncolumns; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, attnums[i] - 1);
		Oid			type = getBaseType(att->atttypid);
		bool		ok;
		const char *expected;

		switch (i)
		{
			case 0:
				ok = type == INT8OID || type == INT4OID || type == INT2OID;
				expected = "an integer type";
				break;
			case 1:
				ok = type == vector_type;
				expected = "fm_vector";
				break;
			default:
				ok = TypeCategory(type) == TYPCATEGORY_NUMERIC;
				expected = "a numeric type";
				break;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of relation \"%s\" is of type %s, not %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid), expected)));
	}
}

/* The type of fm_topk's first argument: fm_vector of this installation. */
static Oid
fm_vector_type_oid(Oid fn_oid)
{
	Oid		   *argtypes;
	int			nargs;
	Oid			type;

	get_func_signature(fn_oid, &argtypes, &nargs);
	type = argtypes[0];
	pfree(argtypes);
	return type;
}

/* SELECT on the relation, or else on each of the columns fm_topk reads. */
static void
check_privileges(Relation rel, const AttrNumber *attnums, int ncolumns)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			userid = GetUserId();

	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return;
	for (int i = 0; i < ncolumns; i++)
		if (pg_attribute_aclcheck(relid, attnums[i], userid, ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(rel->rd_rel->relkind),
						   RelationGetRelationName(rel));
}

static void
name_argument(FunctionCallInfo fcinfo, int argno, NameData *out)
{
	memset(out, 0, sizeof(NameData));
	if (!PG_ARGISNULL(argno))
		namestrcpy(out, NameStr(*PG_GETARG_NAME(argno)));
}

/* The item relation, or a 42P01 error for an OID that names no relation. */
static Relation
open_items(Oid relid)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return rel;
}

/*
 * The top k of the call: from the cache when its stamp matches, else after
 * reading the items (and caching them if they fit and may be reused).
 */
static void
compute_topk(FunctionCallInfo fcinfo, Oid relid, const NameData *columns, TopkCall *call)
{
	Oid			vector_type = fm_vector_type_oid(fcinfo->flinfo->fn_oid);
	Oid			schema = get_func_namespace(fcinfo->flinfo->fn_oid);
	Relation	rel = open_items(relid);
	int			ncolumns = NameStr(columns[2])[0] != '\0' ? 3 : 2;
	AttrNumber	attnums[3] = {0, 0, 0};
	TopkStamp	stamp;
	int			slot;
	TopkCache  *c;
	TopkCache  *replaced = NULL;

	if (!topk_callback_registered)
	{
		CacheRegisterRelcacheCallback(topk_relcache_callback, (Datum) 0);
		topk_callback_registered = true;
	}
	attnums[0] = column_attnum(rel, NameStr(columns[0]), "id");
	attnums[1] = column_attnum(rel, NameStr(columns[1]), "embedding");
	if (ncolumns == 3)
		attnums[2] = column_attnum(rel, NameStr(columns[2]), "bias");
	check_privileges(rel, attnums, ncolumns);
	check_column_types(rel, attnums, ncolumns, vector_type);
	fm_topk_auto_track(rel, schema);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	current_stamp(rel, attnums, schema, &stamp);

	slot = cache_find(relid, columns);
	if (slot >= 0 && (!topk_cache[slot]->valid || !stamps_equal(&topk_cache[slot]->stamp, &stamp)))
	{
		/* stale: its memory is reused by the new read */
		replaced = topk_cache[slot];
		topk_cache[slot] = NULL;
		slot = -1;
		if (stamp.regime == TOPK_UNCACHED)
		{
			MemoryContextDelete(replaced->context);
			replaced = NULL;
		}
	}
	if (slot >= 0)
	{
		c = topk_cache[slot];
		c->last_used = ++topk_clock;
		c->last_user = GetUserId();
		score_cache(call, c);
	}
	else
	{
		Size		budget = 0;

		if (stamp.regime != TOPK_UNCACHED)
		{
			Size		limit = (Size) topk_cache_size_kb * 1024;

			/*
			 * The heap of a table is larger than its matrix: evict older
			 * entries until that much is free, then allow what is left.
			 */
			if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
				cache_make_room(Min((Size) RelationGetNumberOfBlocks(rel) * BLCKSZ, limit));
			budget = limit - Min(cache_bytes(), limit);
		}
		c = read_items(rel, columns, call, budget, replaced);
		if (c != NULL)
		{
			score_cache(call, c);
			if (stamp.regime == TOPK_UNCACHED)
				MemoryContextDelete(c->context);
			else
				cache_keep(c, relid, columns, &stamp);
		}
	}
	SPI_finish();
	relation_close(rel, NoLock);
}

PG_FUNCTION_INFO_V1(fm_topk);
Datum
fm_topk(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	NameData	columns[3];
	FmShortVectorBuf qbuf;
	const FmVector *query;
	TopkCall	call;
	int32		k;
	int32		n;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	k = PG_GETARG_INT32(2);
	if (k < 0 || k > TOPK_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 0 and %d, not %d", TOPK_MAX_K, k)));
	/* like LIMIT 0, which reads nothing */
	if (k == 0)
		return (Datum) 0;
	name_argument(fcinfo, 4, &columns[0]);
	name_argument(fcinfo, 5, &columns[1]);
	name_argument(fcinfo, 6, &columns[2]);
	if (NameStr(columns[0])[0] == '\0' || NameStr(columns[1])[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id_column and embedding_column must not be NULL")));

	query = FM_GETARG_VECTOR_INPLACE(0, &qbuf);
	memset(&call, 0, sizeof(call));
	call.q = query->x;
	call.qdim = query->dim;
	if (!PG_ARGISNULL(3))
		call.exclude = exclusion_list(PG_GETARG_ARRAYTYPE_P(3), &call.nexclude);
	fm_topk_init(&call.heap, k, palloc(sizeof(FmScored) * Max(k, 1)));

	compute_topk(fcinfo, PG_GETARG_OID(1), columns, &call);

	n = fm_topk_sort(&call.heap);
	for (int32 i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(call.heap.items[i].id);
		values[1] = Float8GetDatum(call.heap.items[i].score);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * fm_topk_cache(): what this backend caches, for monitoring and tests.
 */
PG_FUNCTION_INFO_V1(fm_topk_cache_info);
Datum
fm_topk_cache_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < TOPK_MAX_ENTRIES; i++)
	{
		TopkCache  *c = topk_cache[i];
		Datum		values[8];
		bool		nulls[8] = {0};
		static const char *const regimes[] = {"tracked", "snapshot", "uncached"};

		/* a role sees what it used itself, not what others read here */
		if (c == NULL || (c->last_user != GetUserId() && !superuser()))
			continue;
		values[0] = ObjectIdGetDatum(c->relid);
		values[1] = Int64GetDatum(c->n);
		values[2] = Int32GetDatum(c->dim);
		values[3] = Int64GetDatum((int64) c->bytes);
		values[4] = CStringGetTextDatum(regimes[c->stamp.regime]);
		values[5] = Int64GetDatum(c->stamp.version);
		nulls[5] = c->stamp.regime != TOPK_TRACKED;
		values[6] = BoolGetDatum(c->valid);
		values[7] = Int64GetDatum(c->rescored);
		nulls[7] = c->rescored < 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Drops every cache entry of this backend. */
PG_FUNCTION_INFO_V1(fm_topk_cache_reset);
Datum
fm_topk_cache_reset(PG_FUNCTION_ARGS)
{
	for (int i = 0; i < TOPK_MAX_ENTRIES; i++)
		if (topk_cache[i] != NULL)
			cache_free(i);
	PG_RETURN_VOID();
}

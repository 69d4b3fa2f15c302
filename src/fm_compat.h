/*
 * fm_compat.h - the differences between the PostgreSQL versions fmrec
 * supports (15 to 19), in one place.
 *
 * Where a call or field changed form, the code uses an FM_ macro from here
 * that expands to the form of the release it is built against; a name that
 * only changed (RelFileLocator) or a call a newer release added
 * (TupleDescFinalize) is written as the newest release has it and defined
 * here for older ones.  Each block names the release that changed the API,
 * so a block can go when the oldest supported release reaches it.  Include
 * it right after postgres.h.
 */
#ifndef FMREC_FM_COMPAT_H
#define FMREC_FM_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "fmrec needs PostgreSQL 15 or later"
#endif

/*
 * 16 moved the varlena macros (VARSIZE, VARATT_IS_SHORT, VARHDRSZ_SHORT, ...)
 * out of postgres.h into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * 18 replaced the trailing pg_attribute_noreturn() by a leading pg_noreturn
 * (C11 _Noreturn): write pg_noreturn, as 18 does.
 */
#ifndef pg_noreturn
#define pg_noreturn _Noreturn
#endif

/*
 * 16 renamed RelFileNode, the identity of a relation's files, to
 * RelFileLocator, and Relation's rd_node to rd_locator.
 * FM_RELATION_LOCATOR(rel) reads it on every version.
 */
#if PG_VERSION_NUM >= 160000
#include "storage/relfilelocator.h"
#define FM_RELATION_LOCATOR(rel)	((rel)->rd_locator)
#else
#include "storage/relfilenode.h"
typedef RelFileNode RelFileLocator;
#define RelFileLocatorEquals(a, b)	RelFileNodeEquals(a, b)
#define FM_RELATION_LOCATOR(rel)	((rel)->rd_node)
#endif

/*
 * 17 grouped PGPROC's virtual transaction id into PGPROC.vxid: the local
 * transaction id of this backend moved from MyProc->lxid to
 * MyProc->vxid.lxid.  (Needs storage/proc.h.)
 */
#if PG_VERSION_NUM >= 170000
#define FM_MY_LOCAL_XID()			(MyProc->vxid.lxid)
#else
#define FM_MY_LOCAL_XID()			(MyProc->lxid)
#endif

/*
 * 17 replaced BackendId (1-based, storage/backendid.h) by ProcNumber
 * (0-based, storage/procnumber.h): FM_MY_PROC_INDEX() is this backend's
 * index among the MaxBackends regular backends, 0-based on every version.
 */
#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
#define FM_MY_PROC_INDEX()			((int) MyProcNumber)
#else
#include "storage/backendid.h"
#define FM_MY_PROC_INDEX()			((int) MyBackendId - 1)
#endif

/*
 * 17 added the DSM registry, GetNamedDSMSegment(); 19 gave it and its
 * initialisation callback an argument (passed as NULL).  Define the callback
 * as `static void f(FM_DSM_INIT_CALLBACK_ARGS)`; it sees the segment as ptr.
 */
#if PG_VERSION_NUM >= 190000
#define FM_DSM_INIT_CALLBACK_ARGS	void *ptr, void *arg
#define FM_GET_NAMED_DSM_SEGMENT(name, size, init_callback, found) \
	GetNamedDSMSegment(name, size, init_callback, found, NULL)
#elif PG_VERSION_NUM >= 170000
#define FM_DSM_INIT_CALLBACK_ARGS	void *ptr
#define FM_GET_NAMED_DSM_SEGMENT(name, size, init_callback, found) \
	GetNamedDSMSegment(name, size, init_callback, found)
#endif

/*
 * 18 gave vacuum_delay_point() an is_analyze argument (false from an
 * index's vacuum).  (Needs commands/vacuum.h.)
 */
#if PG_VERSION_NUM >= 180000
#define FM_VACUUM_DELAY_POINT()		vacuum_delay_point(false)
#else
#define FM_VACUUM_DELAY_POINT()		vacuum_delay_point()
#endif

/*
 * 18 moved ExplainPropertyText() and the other EXPLAIN output functions
 * from commands/explain.h to commands/explain_format.h.
 */
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#endif

/*
 * 18 replaced PathKey's btree strategy (pk_strategy, BTGreaterStrategyNumber
 * for DESC) with a CompareType (pk_cmptype, COMPARE_GT).
 */
#if PG_VERSION_NUM >= 180000
#include "access/cmptype.h"
#define FM_PATHKEY_IS_DESCENDING(pathkey)	((pathkey)->pk_cmptype == COMPARE_GT)
#else
#include "access/stratnum.h"
#define FM_PATHKEY_IS_DESCENDING(pathkey)	((pathkey)->pk_strategy == BTGreaterStrategyNumber)
#endif

/*
 * 19 gave table_beginscan() and table_beginscan_parallel() a flags argument
 * (ScanOptions).  fmrec's scans pass none: SO_HINT_REL_READ_ONLY, which a
 * SeqScan adds, is only a hint.  (Needs access/tableam.h.)
 */
#if PG_VERSION_NUM >= 190000
#define FM_TABLE_BEGINSCAN(rel, snapshot, nkeys, keys) \
	table_beginscan(rel, snapshot, nkeys, keys, SO_NONE)
#define FM_TABLE_BEGINSCAN_PARALLEL(rel, pscan) \
	table_beginscan_parallel(rel, pscan, SO_NONE)
#else
#define FM_TABLE_BEGINSCAN(rel, snapshot, nkeys, keys) \
	table_beginscan(rel, snapshot, nkeys, keys)
#define FM_TABLE_BEGINSCAN_PARALLEL(rel, pscan) \
	table_beginscan_parallel(rel, pscan)
#endif

/*
 * 19 gave ExecInitScanTupleSlot() a flags argument (TTS_FLAG_*).  fmrec's
 * top-N scan passes none: TTS_FLAG_OBEYS_NOT_NULL_CONSTRAINTS, which a
 * SeqScan adds, only lets deforming skip null checks.
 */
#if PG_VERSION_NUM >= 190000
#define FM_EXEC_INIT_SCAN_TUPLE_SLOT(estate, scanstate, tupledesc, tts_ops) \
	ExecInitScanTupleSlot(estate, scanstate, tupledesc, tts_ops, 0)
#else
#define FM_EXEC_INIT_SCAN_TUPLE_SLOT(estate, scanstate, tupledesc, tts_ops) \
	ExecInitScanTupleSlot(estate, scanstate, tupledesc, tts_ops)
#endif

/*
 * 19 keeps the IndexAmRoutine an index AM's handler returns for the life of
 * the backend, never copying nor freeing it: it must be static.  Up to 18
 * the relcache copies it into its own memory and pfree()s it: it must be
 * palloc'd.  FM_NEW_INDEX_AM_ROUTINE() gives the handler the one it needs to
 * fill (the handler sets the same fields on every call).
 */
#if PG_VERSION_NUM >= 190000
#include "access/amapi.h"
static inline IndexAmRoutine *
fm_new_index_am_routine(void)
{
	static IndexAmRoutine routine;

	routine.type = T_IndexAmRoutine;
	return &routine;
}
#define FM_NEW_INDEX_AM_ROUTINE()	fm_new_index_am_routine()
#else
#define FM_NEW_INDEX_AM_ROUTINE()	makeNode(IndexAmRoutine)
#endif

/*
 * 19 requires TupleDescFinalize() on a TupleDesc built by hand
 * (CreateTemplateTupleDesc + TupleDescInitEntry) before its first use; the
 * call does not exist before, and nothing needs doing there.
 */
#if PG_VERSION_NUM < 190000
#define TupleDescFinalize(tupdesc)	((void) (tupdesc))
#endif

/*
 * 19 dropped the Item typedef (char *): PageAddItem() takes a const void *.
 * The code passes (void *), which every version accepts; nothing to map.
 */

/*
 * 19 builds with -Wimplicit-fallthrough=5, which takes only the attribute
 * (pg_fallthrough, defined by 19's c.h), not a comment, as the mark of an
 * intended fall-through.  (A feature test: any release may define it.)
 */
#ifndef pg_fallthrough
#if __has_attribute(fallthrough)
#define pg_fallthrough __attribute__((fallthrough))
#else
#define pg_fallthrough
#endif
#endif

#endif							/* FMREC_FM_COMPAT_H */

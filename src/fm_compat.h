/*
 * fm_compat.h - the differences between the PostgreSQL versions fmrec
 * supports (15 to 19), in one place.
 *
 * The code is written against the newest server API; this header maps it
 * onto older releases.  Each block names the release that changed the API,
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

#endif							/* FMREC_FM_COMPAT_H */

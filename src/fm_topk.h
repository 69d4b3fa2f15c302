/*
 * fm_topk.h - exact top-k of an item catalogue from a backend-local cache.
 */
#ifndef FMREC_FM_TOPK_H
#define FMREC_FM_TOPK_H

#include "utils/rel.h"

/* Defines the fmrec.topk_* settings; called from _PG_init. */
extern void fm_topk_define_settings(void);

/*
 * Tracked tables (fm_topk_version.c): whether fm_topk_track()'s triggers
 * will report every change of `rel`, and the version the caller sees (-1
 * without a row; SPI must be connected).  `schema` is the extension's.
 */
extern bool fm_topk_is_tracked(Relation rel, Oid schema);
extern int64 fm_topk_tracked_version(Oid relid, Oid schema);

/*
 * Tracking on first use (fm_topk_autotrack.c): fm_topk_auto_track tracks
 * `rel` when its caller may and the moment is safe, else says once per
 * backend why the table is cached only within a statement.
 * fm_topk_tracked_here: the table was tracked in the current transaction,
 * whose caches must not rely on its version yet.
 */
extern void fm_topk_define_autotrack_setting(void);
extern void fm_topk_auto_track(Relation rel, Oid schema);
extern bool fm_topk_tracked_here(Oid relid);

#endif							/* FMREC_FM_TOPK_H */

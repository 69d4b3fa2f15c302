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

#endif							/* FMREC_FM_TOPK_H */

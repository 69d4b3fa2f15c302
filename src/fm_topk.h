/*
 * fm_topk.h - exact top-k of an item catalogue from a backend-local cache.
 */
#ifndef FMREC_FM_TOPK_H
#define FMREC_FM_TOPK_H

/* Defines the fmrec.topk_* settings; called from _PG_init. */
extern void fm_topk_define_settings(void);

#endif							/* FMREC_FM_TOPK_H */

/*
 * fmrec.c - module entry point: the magic block and the settings.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "fm_memory.h"
#include "fm_progress.h"
#include "fm_ivf.h"			/* serving settings (issue #6) */
#include "fm_topk.h"			/* serving settings (issue #6) */
#include "fm_topn.h"
#include "fm_train_parallel.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("fmrec.max_training_memory",
							"Largest amount of memory one training may use for data and model.",
							"A training whose data would exceed it fails with an error before "
							"allocating the memory.",
							&fmrec_max_training_memory_kb,
							4 * 1024 * 1024,	/* 4 GB */
							1024,	/* 1 MB */
							MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	fm_topk_define_settings();	/* serving settings (issue #6) */
	fm_ivf_define_settings();	/* serving settings (issue #6) */
	fm_topn_init();				/* the ORDER BY fm_score(...) LIMIT k scan */
	fm_train_parallel_define_settings();	/* fmrec.max_parallel_workers_per_training */
	fm_progress_init();			/* fmrec.training_notices; the progress view's shared memory */
	MarkGUCPrefixReserved("fmrec");
}

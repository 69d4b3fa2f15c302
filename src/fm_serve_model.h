/*
 * fm_serve_model.h - what serving needs of a model, loaded once per call
 * site: its fm_model row (k, w0, target range, feature columns and their
 * kinds) and a bounded memo of the fm_feature rows looked up so far.
 *
 * A call site (an fm_predict(...) in a query) keeps one FmServeModel in its
 * fn_extra.  It stays valid as long as the snapshot the call runs under is
 * the same one (a STABLE function sees one snapshot per statement); a new
 * snapshot (the next statement of a PL/pgSQL loop, whose expression state
 * can outlive a statement) or another model name reloads it.
 */
#ifndef FMREC_FM_SERVE_MODEL_H
#define FMREC_FM_SERVE_MODEL_H

#include "postgres.h"

#include "fm_compat.h"

#include "fmgr.h"

#include "fm_feature_kinds.h"


/* One looked-up (feature, value): known (with its bias and embedding) or not. */
typedef struct FmServeValue
{
	struct FmServeValue *next;	/* hash chain */
	uint32		hash;
	int			feature;		/* index into FmServeModel.features */
	bool		known;
	float		bias;
	float	   *embedding;		/* k floats when known */
	/* merging repeated features of one description (fm_serve_context.c) */
	uint64		stamp;
	int			slot;
	int			len;
	char		value[FLEXIBLE_ARRAY_MEMBER];
} FmServeValue;

typedef struct FmServeModel
{
	MemoryContext mcxt;			/* the call site's context (fn_mcxt child) */
	MemoryContext values_mcxt;	/* the memo; reset when it grows too big */
	char	   *name;
	int			k;
	double		w0;
	double		target_min;
	double		target_max;
	int			nfeatures;
	char	  **features;
	FmFeatureKind *kinds;
	/* the snapshot the memo is valid for */
	TransactionId snap_xmin;
	TransactionId snap_xmax;
	CommandId	snap_curcid;
	uint64		snap_completions;
	/* the memo: chained hash of FmServeValue */
	FmServeValue **buckets;
	int			nbuckets;
	int			nvalues;
	uint64		stamp;			/* bumped for every description */
	uint64		load_id;		/* distinct for every load in this backend */
} FmServeModel;

/*
 * The model named `name` for the call site whose fn_extra slot is *slot
 * (created in fn_mcxt).  Error 42704 when the model does not exist.
 */
extern FmServeModel *fm_serve_model_get(FmServeModel **slot, MemoryContext fn_mcxt,
										text *name);

/*
 * Starts a description: what fm_serve_lookup returns stays valid until the
 * next call (the memo is only emptied here, when it has grown past its
 * bound, so one description's lookups never dangle).
 */
extern void fm_serve_begin_description(FmServeModel *m);

/* Index of feature column `name` (len bytes); -1 when the model has none. */
extern int	fm_serve_feature_index(const FmServeModel *m, const char *name, int len);

/* Error 42703 for a name that is not a feature of the model, listing them. */
pg_noreturn extern void fm_serve_unknown_feature(const FmServeModel *m, const char *name, int len);

/*
 * The fm_feature row of (feature, value), from the memo or looked up (one
 * index scan through a saved plan, with the caller's privileges).  *spi
 * says whether SPI is connected; the first lookup connects and the caller
 * calls fm_serve_lookup_done() when its description is complete.
 */
extern FmServeValue *fm_serve_lookup(FmServeModel *m, int feature, const char *value,
									 int len, bool *spi);
extern void fm_serve_lookup_done(bool *spi);

#endif							/* FMREC_FM_SERVE_MODEL_H */

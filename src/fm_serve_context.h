/*
 * fm_serve_context.h - turning what a caller has (a jsonb object, rows,
 * parallel text arrays) into the known (w_i, v_i, x_i) terms of one
 * description, per the model's feature kinds:
 *   categorical  a scalar is one feature, x = 1 (its text, as (col)::text);
 *                an array's non-NULL elements x = 1/count each
 *   each         an array's elements x = 1 each
 *   numeric      one feature (column, ''), x = the raw number
 *   weighted     a jsonb object {"category": weight}: x = weight
 * Repeated features add up their x; unknown values contribute nothing.
 */
#ifndef FMREC_FM_SERVE_CONTEXT_H
#define FMREC_FM_SERVE_CONTEXT_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "core/serve.h"
#include "fm_serve_model.h"

/* How the columns of one row type map to the model's features (cached). */
typedef struct FmRowMap FmRowMap;

typedef struct FmServeDescription
{
	FmServeModel *m;
	bool		spi;
	FmServeTerm *terms;
	int			nterms;
	int			maxterms;
	MemoryContext mcxt;			/* where terms grows (the call site's) */
} FmServeDescription;

extern void fm_desc_begin(FmServeDescription *d, FmServeModel *m, MemoryContext mcxt);
/* Ends the lookups (SPI); d->terms / d->nterms are then complete. */
extern void fm_desc_end(FmServeDescription *d);

/* A jsonb object {"feature": value, ...}: error 22023 unless an object, 42703 for an unknown key. */
extern void fm_desc_add_jsonb(FmServeDescription *d, Jsonb *context);
/* Parallel text arrays (a name repeated once per element); 2202E when their lengths differ. */
extern void fm_desc_add_arrays(FmServeDescription *d, ArrayType *features, ArrayType *values);
/* A row (composite datum): its columns that are features; other columns are ignored. */
extern void fm_desc_add_row(FmServeDescription *d, Datum row, FmRowMap **map, MemoryContext mcxt);

#endif							/* FMREC_FM_SERVE_CONTEXT_H */

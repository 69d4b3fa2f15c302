/*
 * fm_catalog.h - where fmrec's own objects live.
 *
 * Every statement fmrec builds names its tables with their schema, so a
 * caller's search_path can neither redirect them nor break them.
 */
#ifndef FMREC_FM_CATALOG_H
#define FMREC_FM_CATALOG_H

#include "postgres.h"

/* Quoted schema of the extension, e.g. "public". */
extern const char *fmrec_schema_quoted(void);

/* OID of one of the extension's tables (fm_model, fm_feature). */
extern Oid	fmrec_table_oid(const char *name);

/* OID of the fm_vector type in the extension's schema. */
extern Oid	fmrec_vector_type_oid(void);

#endif							/* FMREC_FM_CATALOG_H */

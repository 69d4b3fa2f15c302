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

/*
 * Whether fm_model has this column: a library newer than the installed SQL
 * (before ALTER EXTENSION fmrec UPDATE) must not write columns the table
 * does not have yet.
 */
extern bool fmrec_model_has_column(const char *column);

/* OID of the fm_vector type in the extension's schema. */
extern Oid	fmrec_vector_type_oid(void);

/* A relation's schema-qualified, quoted name for SQL text (42P01 if it is gone). */
extern char *fmrec_relation_sql(Oid relid);

#endif							/* FMREC_FM_CATALOG_H */

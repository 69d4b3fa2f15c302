/*
 * fm_feature_kinds.h - how a feature column is read: the kinds of the 0.3.0
 * contract (README "Numeric and weighted features").
 *
 *   categorical  a scalar is one feature (its text form), x = 1; an array's
 *                non-NULL elements are features with x = 1/(their number)
 *   each         an array's non-NULL elements are features with x = 1 each
 *   numeric      the column is one feature (value ''), x = its value
 *   weighted     a jsonb object {"key": weight}: each key a feature, x = weight
 *
 * Defaults by type: jsonb -> weighted; real, double precision, numeric ->
 * numeric; everything else (integers included: ids) -> categorical.
 * Shared by training (fm_train_source.c) and fm_evaluate, which must read a
 * row exactly alike.
 */
#ifndef FMREC_FM_FEATURE_KINDS_H
#define FMREC_FM_FEATURE_KINDS_H

#include "postgres.h"

#include "utils/jsonb.h"

typedef enum FmFeatureKind
{
	FM_KIND_CATEGORICAL,
	FM_KIND_EACH,
	FM_KIND_NUMERIC,
	FM_KIND_WEIGHTED
} FmFeatureKind;

#define FM_KIND_LIST "'categorical', 'each', 'numeric' or 'weighted'"

extern const char *fm_kind_name(FmFeatureKind kind);
extern bool fm_kind_from_name(const char *name, FmFeatureKind *kind);

/*
 * The kind of column `column` of relid: `kind` when given (else NULL: the
 * type's default), checked against the column's type (42804 when they do
 * not fit, 0A000 for a type no kind reads).  *is_array tells whether the
 * column is an array.
 */
extern FmFeatureKind fm_kind_of_column(Oid relid, const char *column, const FmFeatureKind *kind,
									   bool *is_array);

/* The SQL type a column of this kind is read as: "pg_catalog.text", ... */
extern const char *fm_kind_read_type(FmFeatureKind kind, bool is_array);

/* A numeric column's value, checked finite and within float4 (else 22003). */
extern double fm_kind_numeric_value(Datum float8, const char *column);

/*
 * Calls fn(key, weight, arg) for each key of a weighted column's jsonb
 * object (key NUL-terminated, palloc'd in the current context).  22023 for
 * a value that is not an object or a weight that is not a JSON number,
 * 22003 for a weight out of float4's range.
 */
typedef void (*FmWeightFn) (const char *key, double weight, void *arg);
extern void fm_kind_for_each_weight(Jsonb *object, const char *column, FmWeightFn fn, void *arg);

#endif							/* FMREC_FM_FEATURE_KINDS_H */

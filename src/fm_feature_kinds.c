/*
 * fm_feature_kinds.c - the kinds of feature columns: names, the types each
 * kind reads, and the checks of numeric values and jsonb weights.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "fm_feature_kinds.h"

static const char *const kind_names[] = {"categorical", "each", "numeric", "weighted"};

const char *
fm_kind_name(FmFeatureKind kind)
{
	return kind_names[kind];
}

bool
fm_kind_from_name(const char *name, FmFeatureKind *kind)
{
	for (int k = 0; k < lengthof(kind_names); k++)
		if (strcmp(name, kind_names[k]) == 0)
		{
			*kind = (FmFeatureKind) k;
			return true;
		}
	return false;
}

/* A scalar type a numeric feature can read: a number castable to float8. */
static bool
type_is_number(Oid type)
{
	char		category;
	bool		preferred;
	Oid			func;

	get_type_category_preferred(type, &category, &preferred);
	return category == TYPCATEGORY_NUMERIC &&
		find_coercion_pathway(FLOAT8OID, type, COERCION_EXPLICIT, &func) != COERCION_PATH_NONE;
}

static void
kind_mismatch(const char *column, FmFeatureKind kind, Oid type, const char *needs)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("feature column \"%s\" of type %s cannot be read as '%s'", column,
					format_type_be(type), fm_kind_name(kind)),
			 errdetail("Kind '%s' needs %s.", fm_kind_name(kind), needs)));
}

FmFeatureKind
fm_kind_of_column(Oid relid, const char *column, const FmFeatureKind *given, bool *is_array)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			declared,
				type,
				element,
				scalar;
	FmFeatureKind kind;

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, get_rel_name(relid))));
	declared = get_atttype(relid, attnum);
	type = getBaseType(declared);
	element = get_element_type(type);
	scalar = OidIsValid(element) ? getBaseType(element) : type;

	/* composite values and nested arrays: their text form is not a category */
	if (type_is_rowtype(scalar) || OidIsValid(get_element_type(scalar)) ||
		get_typtype(scalar) == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("feature column \"%s\" has unsupported type %s", column, format_type_be(declared)),
				 errdetail("A feature column holds a category (text, integer, ...), an array of categories, "
						   "a number (kind 'numeric') or a jsonb object of weights (kind 'weighted').")));
	*is_array = OidIsValid(element);
	if (given == NULL)
	{
		if (*is_array)
			return FM_KIND_CATEGORICAL;
		if (type == JSONBOID)
			return FM_KIND_WEIGHTED;
		if (type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID)
			return FM_KIND_NUMERIC;
		return FM_KIND_CATEGORICAL;
	}
	kind = *given;
	switch (kind)
	{
		case FM_KIND_CATEGORICAL:
			break;
		case FM_KIND_EACH:
			if (!*is_array)
				kind_mismatch(column, kind, declared, "an array column");
			break;
		case FM_KIND_NUMERIC:
			if (*is_array || !type_is_number(type))
				kind_mismatch(column, kind, declared,
							  "a number column (integer, real, double precision, numeric, ...)");
			break;
		case FM_KIND_WEIGHTED:
			if (*is_array || type != JSONBOID)
				kind_mismatch(column, kind, declared, "a jsonb column of objects {\"key\": weight, ...}");
			break;
	}
	return kind;
}

const char *
fm_kind_read_type(FmFeatureKind kind, bool is_array)
{
	switch (kind)
	{
		case FM_KIND_NUMERIC:
			return "pg_catalog.float8";
		case FM_KIND_WEIGHTED:
			return "pg_catalog.jsonb";
		default:
			return is_array ? "pg_catalog.text[]" : "pg_catalog.text";
	}
}

static void
check_finite(double x, const char *column, const char *what)
{
	if (isnan(x) || isinf(x))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s of feature column \"%s\" is %s", what, column,
						isnan(x) ? "NaN" : "infinite"),
				 errhint("Replace it by NULL (absent) or a finite number.")));
	/* training and serving work in float4 */
	if (fabs(x) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s %g of feature column \"%s\" is out of range for type real", what, x, column)));
}

double
fm_kind_numeric_value(Datum float8, const char *column)
{
	double		x = DatumGetFloat8(float8);

	check_finite(x, column, "a value");
	return x;
}

void
fm_kind_for_each_weight(Jsonb *object, const char *column, FmWeightFn fn, void *arg)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(object))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a value of weighted feature column \"%s\" is not a jsonb object", column),
				 errdetail("A weighted column holds objects {\"key\": weight, ...}; its value was a%s.",
						   JB_ROOT_IS_SCALAR(object) ? " scalar" : "n array"),
				 errhint("Use kind 'categorical' for other jsonb values.")));
	it = JsonbIteratorInit(&object->root);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (token == WJB_VALUE)
		{
			double		weight;

			if (v.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the weight of \"%s\" in weighted feature column \"%s\" is not a number",
								key, column),
						 errdetail("A weight is a finite JSON number.")));
			weight = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
														 NumericGetDatum(v.val.numeric)));
			if (!(fabs(weight) <= FLT_MAX))	/* (the message only when needed) */
				check_finite(weight, column, psprintf("the weight of \"%s\"", key));
			fn(key, weight, arg);
		}
	}
}

/*
 * fm_vector.c - the fm_vector type: text and binary I/O, type modifier,
 * casts to and from arrays.
 *
 * Parsing itself lives in core/vectext.c (fuzzed outside the server); this
 * file turns its verdicts into ERRORs with the right SQLSTATE.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "core/vec.h"
#include "fm_vector.h"


FmVector *
fm_vector_new(int32 dim)
{
	FmVector   *v;

	fm_vector_check_dim(dim);
	v = (FmVector *) palloc(FM_VECTOR_SIZE(dim));
	SET_VARSIZE(v, FM_VECTOR_SIZE(dim));
	v->dim = dim;
	return v;
}

FmVector *
fm_vector_from_floats(const float4 *x, int32 dim)
{
	FmVector   *v = fm_vector_new(dim);

	memcpy(v->x, x, sizeof(float4) * (Size) dim);
	return v;
}

void
fm_vector_check_dim(int32 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector must have at least 1 dimension")));
	if (dim > FM_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("fm_vector cannot have more than %d dimensions", FM_VECTOR_MAX_DIM)));
}

void
fm_vector_check_same_dim(const FmVector *a, const FmVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("fm_vector dimensions differ: %d and %d", a->dim, b->dim)));
}

/* Arithmetic on finite floats can still overflow to infinity. */
void
fm_vector_check_finite_result(const FmVector *v)
{
	if (!fm_vec_all_finite(v->x, v->dim))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value out of range: overflow"),
				 errdetail("An element of the resulting fm_vector is beyond the range of type real.")));
}

/* Long literals are cut in messages: the detail already says where the problem is. */
static char *
abbreviate(const char *input)
{
	const int	limit = 60;

	if (strlen(input) <= (size_t) limit)
		return pstrdup(input);
	return psprintf("%.*s...", pg_mbcliplen(input, strlen(input), limit), input);
}

/* Raises the error a core parser reported. */
static void
report_parse_error(const FmParseError *err, const char *input)
{
	switch (err->status)
	{
		case FM_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range for type fm_vector: \"%s\"", abbreviate(input)),
					 errdetail("%s.", err->message)));
			break;
		case FM_PARSE_TOO_MANY:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("fm_vector cannot have more than %d dimensions", FM_VECTOR_MAX_DIM)));
			break;
		case FM_PARSE_BAD_BINARY:
		case FM_PARSE_NOT_FINITE:
			if (input == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("invalid binary data for type fm_vector"),
						 errdetail("%s.", err->message)));
			pg_fallthrough;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type fm_vector: \"%s\"", abbreviate(input)),
					 errdetail("%s.", err->message)));
	}
}

/* Enforces a column's declared dimension (typmod -1 means "any"). */
static void
check_typmod_dim(int32 dim, int32 typmod)
{
	if (typmod != -1 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Room for the elements of a text literal: one more than its commas, which
 * is exact for valid input and spares a 64 kB buffer per row in COPY.
 */
static int32
text_capacity(const char *text)
{
	int32		commas = 0;

	for (const char *p = text; *p && commas < FM_VECTOR_MAX_DIM; p++)
		commas += (*p == ',');
	return commas + 1;
}

/* Shrinks a vector allocated with spare capacity to its real dimension. */
static FmVector *
finish_vector(FmVector *v, int32 dim)
{
	SET_VARSIZE(v, FM_VECTOR_SIZE(dim));
	v->dim = dim;
	return v;
}

PG_FUNCTION_INFO_V1(fm_vector_in);
Datum
fm_vector_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		capacity = Min(text_capacity(text), FM_VECTOR_MAX_DIM);
	FmVector   *v = (FmVector *) palloc(FM_VECTOR_SIZE(capacity));
	int32		dim;
	FmParseError err;

	if (fm_vector_parse_text_bounded(text, strlen(text), v->x, capacity, &dim, &err) != FM_PARSE_OK)
		report_parse_error(&err, text);
	check_typmod_dim(dim, typmod);
	PG_RETURN_FM_VECTOR(finish_vector(v, dim));
}

PG_FUNCTION_INFO_V1(fm_vector_out);
Datum
fm_vector_out(PG_FUNCTION_ARGS)
{
	FmVector   *v = PG_GETARG_FM_VECTOR(0);
	/* each float needs at most FLOAT_SHORTEST_DECIMAL_LEN - 1 chars, plus ',' */
	char	   *out = palloc((Size) v->dim * FLOAT_SHORTEST_DECIMAL_LEN + 3);
	char	   *p = out;

	*p++ = '[';
	for (int32 i = 0; i < v->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(v->x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(out);
}

PG_FUNCTION_INFO_V1(fm_vector_typmod_in);
Datum
fm_vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier for fm_vector"),
				 errhint("Declare the number of dimensions, e.g. fm_vector(120).")));
	if (tl[0] < 1 || tl[0] > FM_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type fm_vector must be between 1 and %d, not %d",
						FM_VECTOR_MAX_DIM, tl[0])));
	PG_RETURN_INT32(tl[0]);
}

/* The length-coercion function: applies a column's typmod on assignment. */
PG_FUNCTION_INFO_V1(fm_vector_typmod_apply);
Datum
fm_vector_typmod_apply(PG_FUNCTION_ARGS)
{
	FmVector   *v = PG_GETARG_FM_VECTOR(0);

	check_typmod_dim(v->dim, PG_GETARG_INT32(1));
	PG_RETURN_FM_VECTOR(v);
}

PG_FUNCTION_INFO_V1(fm_vector_recv);
Datum
fm_vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	size_t		len = (size_t) (msg->len - msg->cursor);
	int32		capacity = (int32) Min(Max(len / 4, 1), FM_VECTOR_MAX_DIM);
	FmVector   *v = (FmVector *) palloc(FM_VECTOR_SIZE(capacity));
	int32		dim;
	FmParseError err;

	/* the parser checks 4 + 4*dim == len before it writes, so capacity suffices */
	if (fm_vector_parse_binary((const uint8 *) msg->data + msg->cursor, len, v->x, &dim, &err) != FM_PARSE_OK)
		report_parse_error(&err, NULL);
	msg->cursor = msg->len;		/* the whole message is the vector */
	check_typmod_dim(dim, typmod);
	PG_RETURN_FM_VECTOR(finish_vector(v, dim));
}

PG_FUNCTION_INFO_V1(fm_vector_send);
Datum
fm_vector_send(PG_FUNCTION_ARGS)
{
	FmVector   *v = PG_GETARG_FM_VECTOR(0);
	Size		len = 4 + 4 * (Size) v->dim;
	bytea	   *result = (bytea *) palloc(VARHDRSZ + len);

	SET_VARSIZE(result, VARHDRSZ + len);
	fm_vector_write_binary(v->x, v->dim, (uint8 *) VARDATA(result));
	PG_RETURN_BYTEA_P(result);
}

/*
 * Array casts.  One function serves real[], double precision[] and
 * integer[]: the element type decides the conversion.
 */
static float4
array_element_to_float4(Datum d, Oid elemtype)
{
	double		value;

	switch (elemtype)
	{
		case FLOAT4OID:
			value = DatumGetFloat4(d);
			break;
		case FLOAT8OID:
			value = DatumGetFloat8(d);
			break;
		case INT4OID:
			value = DatumGetInt32(d);
			break;
		default:
			elog(ERROR, "unsupported array element type %u", elemtype);
	}
	if (isnan(value) || isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN and infinity are not allowed in fm_vector")));
	if (fabs(value) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value %g is out of range for type real", value)));
	return (float4) value;
}

PG_FUNCTION_INFO_V1(fm_vector_from_array);
Datum
fm_vector_from_array(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	FmVector   *v;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional, not %d-dimensional", ARR_NDIM(array))));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	fm_vector_check_dim(n);
	check_typmod_dim(n, typmod);
	v = fm_vector_new(n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("array element %d is NULL; fm_vector elements cannot be NULL", i + 1)));
		v->x[i] = array_element_to_float4(elems[i], elemtype);
		if (v->x[i] == 0.0f)
			v->x[i] = 0.0f;		/* -0 becomes +0, as in text input */
	}
	PG_RETURN_FM_VECTOR(v);
}

PG_FUNCTION_INFO_V1(fm_vector_to_real_array);
Datum
fm_vector_to_real_array(PG_FUNCTION_ARGS)
{
	FmVector   *v = PG_GETARG_FM_VECTOR(0);
	Datum	   *elems = palloc(sizeof(Datum) * v->dim);

	for (int32 i = 0; i < v->dim; i++)
		elems[i] = Float4GetDatum(v->x[i]);
	PG_RETURN_POINTER(construct_array(elems, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}

/*
 * fm_serve_context.c - the terms of one description from a jsonb object,
 * rows or parallel text arrays; see fm_serve_context.h for the rules.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "fm_serve_context.h"

void
fm_desc_begin(FmServeDescription *d, FmServeModel *m, MemoryContext mcxt)
{
	fm_serve_begin_description(m);
	d->m = m;
	d->spi = false;
	d->nterms = 0;
	d->mcxt = mcxt;
	if (d->terms == NULL)
	{
		d->maxterms = 16;
		d->terms = MemoryContextAlloc(mcxt, sizeof(FmServeTerm) * d->maxterms);
	}
}

void
fm_desc_end(FmServeDescription *d)
{
	fm_serve_lookup_done(&d->spi);
}

/* One (feature, value, x): looked up, merged with the same feature seen before. */
static void
add_term(FmServeDescription *d, int feature, const char *value, int len, double x)
{
	FmServeModel *m = d->m;
	FmServeValue *v = fm_serve_lookup(m, feature, value, len, &d->spi);

	if (!v->known)
		return;
	if (v->stamp == m->stamp)
	{
		d->terms[v->slot].x += x;
		return;
	}
	if (d->nterms == d->maxterms)
	{
		d->maxterms *= 2;
		d->terms = repalloc(d->terms, sizeof(FmServeTerm) * d->maxterms);
	}
	v->stamp = m->stamp;
	v->slot = d->nterms;
	d->terms[d->nterms].w = v->bias;
	d->terms[d->nterms].v = v->embedding;
	d->terms[d->nterms].x = x;
	d->nterms++;
}

static void
check_finite(const FmServeModel *m, int feature, double x)
{
	if (isnan(x) || isinf(x))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value of feature \"%s\" of model \"%s\" is not finite: %g",
						m->features[feature], m->name, x)));
}

/* A numeric feature: the row (column, '') with x = the value. */
static void
add_numeric(FmServeDescription *d, int feature, double x)
{
	check_finite(d->m, feature, x);
	add_term(d, feature, "", 0, x);
}

static double
numeric_to_double(Numeric n)
{
	/* (out of range: +-Inf, then error 22003 as any non-finite value) */
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(n)));
}

static void
bad_json(const FmServeModel *m, int feature, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("feature \"%s\" of model \"%s\" is %s", m->features[feature], m->name, what)));
}

/* The text of a JSON scalar (42 -> '42', "F" -> 'F', true -> 'true'). */
static void
json_scalar_text(const JsonbValue *v, const char **text, int *len)
{
	switch (v->type)
	{
		case jbvString:
			*text = v->val.string.val;
			*len = v->val.string.len;
			break;
		case jbvNumeric:
			*text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			*len = strlen(*text);
			break;
		case jbvBool:
			*text = v->val.boolean ? "true" : "false";
			*len = strlen(*text);
			break;
		default:
			*text = NULL;
			*len = 0;
	}
}

/* A weighted feature's {"category": weight, ...}. */
static void
add_weighted_object(FmServeDescription *d, int feature, JsonbContainer *object)
{
	JsonbIterator *it = JsonbIteratorInit(object);
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &val, true);
		if (val.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight of \"%.*s\" in weighted feature \"%s\" of model \"%s\" is not a number",
							key.val.string.len, key.val.string.val, d->m->features[feature], d->m->name)));
		{
			double		x = numeric_to_double(val.val.numeric);

			check_finite(d->m, feature, x);
			add_term(d, feature, key.val.string.val, key.val.string.len, x);
		}
	}
}

static void
add_weighted_jsonb(FmServeDescription *d, int feature, Jsonb *jb)
{
	if (!JB_ROOT_IS_OBJECT(jb))
		bad_json(d->m, feature, "weighted: it takes an object {\"category\": weight, ...}");
	add_weighted_object(d, feature, &jb->root);
}

/* A JSON array of scalars, each weighing 1/count (categorical) or 1 (each). */
static void
add_json_array(FmServeDescription *d, int feature, JsonbContainer *array)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			count = 0;

	for (int pass = 0; pass < 2; pass++)
	{
		double		x = d->m->kinds[feature] == FM_KIND_EACH ? 1.0 : 1.0 / Max(count, 1);

		it = JsonbIteratorInit(array);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			const char *text;
			int			len;

			if (tok != WJB_ELEM || v.type == jbvNull)
				continue;
			if (v.type == jbvBinary)
				bad_json(d->m, feature, "an array of arrays or objects: its elements must be scalars");
			if (pass == 0)
				count++;
			else
			{
				json_scalar_text(&v, &text, &len);
				add_term(d, feature, text, len, x);
			}
		}
	}
}

/* The value of one key of a jsonb context, read by the feature's kind. */
static void
add_json_value(FmServeDescription *d, int feature, JsonbValue *v)
{
	FmFeatureKind kind = d->m->kinds[feature];
	bool		is_array = v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
	bool		is_object = v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);

	if (v->type == jbvNull)
		return;					/* absent */
	switch (kind)
	{
		case FM_KIND_NUMERIC:
			if (v->type != jbvNumeric)
				bad_json(d->m, feature, "numeric: it takes a JSON number");
			add_numeric(d, feature, numeric_to_double(v->val.numeric));
			break;
		case FM_KIND_WEIGHTED:
			if (!is_object)
				bad_json(d->m, feature, "weighted: it takes an object {\"category\": weight, ...}");
			add_weighted_object(d, feature, v->val.binary.data);
			break;
		case FM_KIND_CATEGORICAL:
		case FM_KIND_EACH:
			if (is_object)
				bad_json(d->m, feature, "categorical: it takes a scalar or an array of scalars, not an object");
			if (is_array)
				add_json_array(d, feature, v->val.binary.data);
			else
			{
				const char *text;
				int			len;

				json_scalar_text(v, &text, &len);
				add_term(d, feature, text, len, 1.0);
			}
			break;
	}
}

void
fm_desc_add_jsonb(FmServeDescription *d, Jsonb *context)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(context))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a context must be a jsonb object {\"feature\": value, ...}"),
				 errhint("For example '{\"user_id\": 42, \"genres\": [\"Comedy\", \"Drama\"]}'.")));
	it = JsonbIteratorInit(&context->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		int			feature;

		if (tok != WJB_KEY)
			continue;
		feature = fm_serve_feature_index(d->m, key.val.string.val, key.val.string.len);
		if (feature < 0)
			fm_serve_unknown_feature(d->m, key.val.string.val, key.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		add_json_value(d, feature, &val);
	}
}

/* The x of a numeric feature given as text (array form). */
static double
parse_number(const FmServeModel *m, int feature, const char *s)
{
	char	   *end;
	double		x;

	errno = 0;
	x = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (end == s || *end != '\0' || errno == ERANGE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value \"%s\" of numeric feature \"%s\" of model \"%s\" is not a number",
						s, m->features[feature], m->name)));
	return x;
}

void
fm_desc_add_arrays(FmServeDescription *d, ArrayType *features, ArrayType *values)
{
	FmServeModel *m = d->m;
	Datum	   *names;
	Datum	   *vals;
	bool	   *name_nulls;
	bool	   *val_nulls;
	int			nnames;
	int			nvals;
	int		   *index;
	int		   *count = palloc0(sizeof(int) * Max(m->nfeatures, 1));

	deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &nnames);
	deconstruct_array(values, TEXTOID, -1, false, TYPALIGN_INT, &vals, &val_nulls, &nvals);
	if (nnames != nvals)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("feature and value arrays differ in length: %d and %d", nnames, nvals)));
	index = palloc(sizeof(int) * Max(nnames, 1));
	for (int i = 0; i < nnames; i++)
	{
		text	   *name;

		index[i] = -1;
		if (name_nulls[i] || val_nulls[i])
			continue;
		name = DatumGetTextPP(names[i]);
		index[i] = fm_serve_feature_index(m, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		if (index[i] < 0)
			fm_serve_unknown_feature(m, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		count[index[i]]++;
	}
	for (int i = 0; i < nnames; i++)
	{
		int			f = index[i];
		text	   *value;

		if (f < 0)
			continue;
		value = DatumGetTextPP(vals[i]);
		switch (m->kinds[f])
		{
			case FM_KIND_CATEGORICAL:
				add_term(d, f, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), 1.0 / count[f]);
				break;
			case FM_KIND_EACH:
				add_term(d, f, VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), 1.0);
				break;
			case FM_KIND_NUMERIC:
				add_numeric(d, f, parse_number(m, f, text_to_cstring(value)));
				break;
			case FM_KIND_WEIGHTED:
				/* the text of a jsonb object, as (col)::text gives it */
				add_weighted_jsonb(d, f, DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																			CStringGetDatum(text_to_cstring(value)))));
				break;
		}
	}
}

/* ---- rows ---- */

typedef struct FmColumnMap
{
	int			feature;		/* -1: not a feature of the model, ignored */
	Oid			type;
	bool		is_array;
	Oid			elem_type;
	int16		elem_len;
	bool		elem_byval;
	char		elem_align;
	FmgrInfo	out;			/* output function of the value or its elements */
} FmColumnMap;

struct FmRowMap
{
	uint64		load_id;
	Oid			type;
	int32		typmod;
	int			natts;
	FmColumnMap cols[FLEXIBLE_ARRAY_MEMBER];
};

static FmRowMap *
build_row_map(FmServeModel *m, TupleDesc desc, Oid type, int32 typmod, MemoryContext mcxt)
{
	FmRowMap   *map = MemoryContextAllocZero(mcxt, offsetof(FmRowMap, cols) +
											 sizeof(FmColumnMap) * Max(desc->natts, 1));

	map->load_id = m->load_id;
	map->type = type;
	map->typmod = typmod;
	map->natts = desc->natts;
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		FmColumnMap *c = &map->cols[a];
		Oid			out;
		bool		varlena;

		c->feature = att->attisdropped ? -1 : fm_serve_feature_index(m, NameStr(att->attname),
																	 strlen(NameStr(att->attname)));
		if (c->feature < 0)
			continue;
		c->type = getBaseType(att->atttypid);
		c->elem_type = get_element_type(c->type);
		c->is_array = OidIsValid(c->elem_type);
		if (c->is_array)
		{
			get_typlenbyvalalign(c->elem_type, &c->elem_len, &c->elem_byval, &c->elem_align);
			getTypeOutputInfo(c->elem_type, &out, &varlena);
		}
		else
			getTypeOutputInfo(att->atttypid, &out, &varlena);
		fmgr_info_cxt(out, &c->out, mcxt);
	}
	return map;
}

static double
row_number(const FmServeModel *m, int feature, Oid type, Datum v)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(v);
		case INT4OID:
			return DatumGetInt32(v);
		case INT8OID:
			return (double) DatumGetInt64(v);
		case FLOAT4OID:
			return DatumGetFloat4(v);
		case FLOAT8OID:
			return DatumGetFloat8(v);
		case NUMERICOID:
			return numeric_to_double(DatumGetNumeric(v));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("column \"%s\" is of type %s, but feature \"%s\" of model \"%s\" is numeric",
					m->features[feature], format_type_be(type), m->features[feature], m->name),
			 errhint("A numeric feature takes a smallint, integer, bigint, real, double precision or numeric column.")));
	pg_unreachable();
}

static void
add_column(FmServeDescription *d, const FmColumnMap *c, Datum v)
{
	FmServeModel *m = d->m;
	int			f = c->feature;

	switch (m->kinds[f])
	{
		case FM_KIND_NUMERIC:
			add_numeric(d, f, row_number(m, f, c->type, v));
			return;
		case FM_KIND_WEIGHTED:
			if (c->type != JSONBOID)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("column \"%s\" is of type %s, but feature \"%s\" of model \"%s\" is weighted",
								m->features[f], format_type_be(c->type), m->features[f], m->name),
						 errhint("A weighted feature takes a jsonb column {\"category\": weight, ...}.")));
			add_weighted_jsonb(d, f, DatumGetJsonbP(v));
			return;
		case FM_KIND_CATEGORICAL:
		case FM_KIND_EACH:
			break;
	}
	if (c->is_array)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			count = 0;

		deconstruct_array(DatumGetArrayTypeP(v), c->elem_type, c->elem_len, c->elem_byval,
						  c->elem_align, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			count += !nulls[i];
		for (int i = 0; i < n; i++)
		{
			char	   *s;

			if (nulls[i])
				continue;
			s = OutputFunctionCall((FmgrInfo *) &c->out, elems[i]);
			add_term(d, f, s, strlen(s), m->kinds[f] == FM_KIND_EACH ? 1.0 : 1.0 / count);
		}
	}
	else
	{
		char	   *s = OutputFunctionCall((FmgrInfo *) &c->out, v);

		add_term(d, f, s, strlen(s), 1.0);
	}
}

void
fm_desc_add_row(FmServeDescription *d, Datum row, FmRowMap **mapp, MemoryContext mcxt)
{
	HeapTupleHeader td = DatumGetHeapTupleHeader(row);
	Oid			type = HeapTupleHeaderGetTypeId(td);
	int32		typmod = HeapTupleHeaderGetTypMod(td);
	TupleDesc	desc = lookup_rowtype_tupdesc(type, typmod);
	HeapTupleData tuple;
	FmRowMap   *map = *mapp;
	Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));

	if (map == NULL || map->load_id != d->m->load_id || map->type != type ||
		map->typmod != typmod || map->natts != desc->natts)
	{
		if (map != NULL)
			pfree(map);
		*mapp = NULL;
		map = build_row_map(d->m, desc, type, typmod, mcxt);
		*mapp = map;
	}
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, desc, values, nulls);
	ReleaseTupleDesc(desc);
	for (int a = 0; a < map->natts; a++)
		if (map->cols[a].feature >= 0 && !nulls[a])
			add_column(d, &map->cols[a], values[a]);
}

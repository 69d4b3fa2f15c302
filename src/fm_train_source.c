/*
 * fm_train_source.c - the one pass over the training table.
 *
 * SPI runs the SELECT with the caller's privileges, so table and column
 * permissions and row-level security apply exactly as to a plain query.
 * Identifiers are quoted; nothing the caller passes is spliced in raw.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fm_progress.h"
#include "fm_train_source.h"

/* Rows read between two resets of the batch memory (and interrupt checks). */
#define READ_BATCH 10000

/*
 * An integer column's value v maps to its feature id through an array while
 * v lies in [0, FM_INT_MAP_SLACK + FM_INT_MAP_PER_VALUE * distinct values so
 * far): dense ids (users, items) never reach the hash table, and a sparse
 * column costs at most 4 * 8 bytes per value of the array before its large
 * values go to the hash table.
 */
#define FM_INT_MAP_SLACK 65536
#define FM_INT_MAP_PER_VALUE 8

/*
 * A feature value is part of fm_feature's primary key, and a btree entry
 * holds at most about 2.7 kB: longer values are refused while reading, not
 * after the whole training when the model is written.
 */
#define FM_MAX_VALUE_BYTES 2000

/* ---- dictionary: (column, value text) -> dense feature id ---- */

/* The value's bytes need no terminating NUL (they may point into a tuple). */
typedef struct DictKey
{
	int32		column;
	int32		len;
	const char *value;
} DictKey;

typedef struct DictEntry
{
	DictKey		key;
	int32		id;
	uint32		hash;
	char		status;
} DictEntry;

static inline uint32
dict_key_hash(DictKey key)
{
	return hash_bytes((const unsigned char *) key.value, key.len) ^
		murmurhash32((uint32) key.column);
}

#define SH_PREFIX featdict
#define SH_ELEMENT_TYPE DictEntry
#define SH_KEY_TYPE DictKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) dict_key_hash(k)
#define SH_EQUAL(tb, a, b) ((a).column == (b).column && (a).len == (b).len && \
							memcmp((a).value, (b).value, (a).len) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* ---- integer columns: value -> feature id through an array ---- */

typedef struct IntMap
{
	int32	   *id;				/* id[v], -1 for a value not seen yet */
	int64		size;
	int64		distinct;		/* values stored */
} IntMap;

/* ---- the builder: growable CSR arrays charged to the budget ---- */

typedef struct Builder
{
	TrainingSource *src;
	FmBudget   *budget;
	featdict_hash *dict;
	bool		frozen;			/* validation: look values up, never add them */
	int64		skipped_null;
	int64		skipped_not_finite;
	double	   *column_max;		/* max |value| of each numeric column read */
	int64		n_rows;
	int64		n_nonzeros;
	int64		cap_rows;
	int64		cap_nonzeros;
	int64		cap_features;
	int32		n_features;
	uint32	   *row_start;
	int32	   *ids;			/* id | x's palette code, or plain ids with weights */
	float	   *weights;		/* NULL until the palette is full (dataset.h) */
	float		palette[FM_X_CODES];
	float	   *targets;
	int32	   *feature_column;
	char	  **feature_value;
	IntMap	   *int_maps;		/* per column, shared by every builder of a training */
	bool	   *read_as_int;	/* per column: this read gets it as int8 (build_query) */
} Builder;

static Builder *
new_builder(FmBudget *budget)
{
	Builder    *b = MemoryContextAllocZero(budget->context, sizeof(Builder));

	for (int c = 0; c < FM_X_CODES; c++)
		b->palette[c] = 1.0f;
	return b;
}

/* The id of a value (len bytes), or -1 for a value unknown to a frozen dictionary. */
static int32
feature_id(Builder *b, int32 column, const char *value, int len)
{
	DictKey		key = {column, len, value};
	bool		found;
	DictEntry  *entry;

	if (b->frozen)
	{
		entry = featdict_lookup(b->dict, key);
		return entry ? entry->id : -1;
	}
	entry = featdict_insert(b->dict, key, &found);
	if (!found)
	{
		char	   *copy;

		if (len > FM_MAX_VALUE_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a value of feature column \"%s\" is too long (%d bytes)",
							b->src->columns[column].name, len),
					 errdetail("A feature value is part of fm_feature's primary key and may have at most %d bytes.",
							   FM_MAX_VALUE_BYTES),
					 errhint("Use a shorter category as the feature, for example md5() of the column.")));

		if (b->n_features == FM_MAX_FEATURES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct feature values (limit %d)", FM_MAX_FEATURES)));
		/* the key must outlive the SPI tuple it came from */
		fm_budget_charge(b->budget, len + 1 + sizeof(DictEntry) * 2);
		copy = MemoryContextAlloc(b->budget->context, len + 1);
		memcpy(copy, value, len);
		copy[len] = '\0';
		entry->key.value = copy;
		entry->id = b->n_features;
		if (b->n_features >= b->cap_features)
		{
			int64		cap = b->cap_features;

			b->feature_column = fm_budget_grow(b->budget, b->feature_column, sizeof(int32),
											   &cap, (int64) b->n_features + 1);
			cap = b->cap_features;
			b->feature_value = fm_budget_grow(b->budget, b->feature_value, sizeof(char *),
											  &cap, (int64) b->n_features + 1);
			b->cap_features = cap;
		}
		b->feature_column[b->n_features] = column;
		b->feature_value[b->n_features] = copy;
		b->n_features++;
	}
	return entry->id;
}

static inline int32
nonzero_id(const Builder *b, int64 p)
{
	return (int32) ((uint32) b->ids[p] & FM_ID_MASK);
}

static inline float
nonzero_x(const Builder *b, int64 p)
{
	return b->weights != NULL ? b->weights[p] : b->palette[(uint32) b->ids[p] >> FM_ID_BITS];
}

/*
 * From palette codes to one weight per non-zero: when the palette is full,
 * or before numeric columns are scaled.  Ids lose their code bits.
 */
static void
store_weights(Builder *b)
{
	if (b->weights != NULL)
		return;
	/* the capacity of ids, which both then grow alike */
	b->weights = fm_budget_alloc(b->budget, (Size) Max(b->cap_nonzeros, 1) * sizeof(float));
	for (int64 p = 0; p < b->n_nonzeros; p++)
	{
		b->weights[p] = b->palette[(uint32) b->ids[p] >> FM_ID_BITS];
		b->ids[p] = nonzero_id(b, p);
	}
}

/* Non-zero p is (id, x). */
static void
set_nonzero(Builder *b, int64 p, int32 id, float x)
{
	int			code = b->weights == NULL ? fm_x_code(b->palette, x) : 0;

	if (code < 0)
	{
		store_weights(b);
		code = 0;
	}
	if (b->weights != NULL)
		b->weights[p] = x;
	b->ids[p] = (int32) ((uint32) id | (uint32) code << FM_ID_BITS);
}

/* A text datum's feature: its bytes in place, no copy unless toasted. */
static int32
text_feature_id(Builder *b, int32 column, Datum value)
{
	text	   *t = DatumGetTextPP(value);

	return feature_id(b, column, VARDATA_ANY(t), (int) VARSIZE_ANY_EXHDR(t));
}

/*
 * An integer's feature: through the column's array when v is there, else
 * the dictionary under v's text (int8out's, which is (col)::text of any
 * integer type), then remembered in the array if v is small enough.
 */
static int32
int_feature_id(Builder *b, int32 column, int64 v)
{
	IntMap	   *map = &b->int_maps[column];
	char		text[MAXINT8LEN + 1];
	int32		id;

	if (v >= 0 && v < map->size && map->id[v] >= 0)
		return map->id[v];
	id = feature_id(b, column, text, pg_lltoa(v, text));
	if (id < 0 || b->frozen || v < 0 ||
		v >= FM_INT_MAP_SLACK + FM_INT_MAP_PER_VALUE * map->distinct)
		return id;
	if (v >= map->size)
	{
		int64		old = map->size;

		map->id = fm_budget_grow(b->budget, map->id, sizeof(int32), &map->size, v + 1);
		for (int64 i = old; i < map->size; i++)
			map->id[i] = -1;
	}
	map->id[v] = id;
	map->distinct++;
	return id;
}

/* After the canonical renumbering: the arrays hold the new ids. */
static void
renumber_int_maps(Builder *b, const int32 *new_id)
{
	for (int c = 0; c < b->src->n_columns; c++)
	{
		IntMap	   *map = &b->int_maps[c];

		for (int64 v = 0; v < map->size; v++)
			if (map->id[v] >= 0)
				map->id[v] = new_id[map->id[v]];
	}
}

/* Adds x_id += weight to the row being built (merging repeated values). */
static void
add_nonzero(Builder *b, int64 row_begin, int32 id, float weight)
{
	if (id < 0)					/* unknown in validation: contributes nothing */
		return;
	for (int64 i = row_begin; i < b->n_nonzeros; i++)
	{
		if (nonzero_id(b, i) == id)
		{
			set_nonzero(b, i, id, nonzero_x(b, i) + weight);
			return;
		}
	}
	if (b->n_nonzeros >= b->cap_nonzeros)
	{
		int64		cap = b->cap_nonzeros;

		/* row offsets are 4 bytes (dataset.h) */
		if (b->n_nonzeros >= (int64) PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many non-zero feature values to train on (limit %u)", PG_UINT32_MAX)));
		b->ids = fm_budget_grow(b->budget, b->ids, sizeof(int32), &cap, b->n_nonzeros + 1);
		if (b->weights != NULL)
		{
			cap = b->cap_nonzeros;
			b->weights = fm_budget_grow(b->budget, b->weights, sizeof(float), &cap, b->n_nonzeros + 1);
		}
		b->cap_nonzeros = cap;
	}
	set_nonzero(b, b->n_nonzeros, id, weight);
	b->n_nonzeros++;
}

/* Categorical: each element x = 1/(non-NULL elements); 'each': x = 1. */
static void
add_array_column(Builder *b, int64 row_begin, int32 column, Datum value, bool each)
{
	ArrayType  *array = DatumGetArrayTypeP(value);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			n_present = 0;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		n_present += !nulls[i];
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		add_nonzero(b, row_begin, text_feature_id(b, column, elems[i]),
					each ? 1.0f : 1.0f / (float) n_present);
	}
}

typedef struct WeightTarget
{
	Builder    *b;
	int64		row_begin;
	int32		column;
} WeightTarget;

static void
add_weight(const char *key, double weight, void *arg)
{
	WeightTarget *t = (WeightTarget *) arg;

	/* x = 0 is no term of the model: absent, and no untrained feature row */
	if (weight != 0.0)
		add_nonzero(t->b, t->row_begin, feature_id(t->b, t->column, key, (int) strlen(key)),
					(float) weight);
}

/* The raw value; divided by the column's scale once every row is read. */
static void
add_numeric_column(Builder *b, int64 row_begin, int32 column, Datum value)
{
	double		x = fm_kind_numeric_value(value, b->src->columns[column].name);

	if (b->column_max != NULL && fabs(x) > b->column_max[column])
		b->column_max[column] = fabs(x);
	if (x != 0.0)				/* (as for a weight of 0) */
		add_nonzero(b, row_begin, feature_id(b, column, "", 0), (float) x);
}

static void
add_column(Builder *b, int64 row_begin, int32 c, Datum value)
{
	const FeatureColumn *col = &b->src->columns[c];

	switch (col->kind)
	{
		case FM_KIND_CATEGORICAL:
			if (col->is_array)
				add_array_column(b, row_begin, c, value, false);
			else if (b->read_as_int[c])
				add_nonzero(b, row_begin, int_feature_id(b, c, DatumGetInt64(value)), 1.0f);
			else
				add_nonzero(b, row_begin, text_feature_id(b, c, value), 1.0f);
			break;
		case FM_KIND_EACH:
			add_array_column(b, row_begin, c, value, true);
			break;
		case FM_KIND_NUMERIC:
			add_numeric_column(b, row_begin, c, value);
			break;
		case FM_KIND_WEIGHTED:
			{
				WeightTarget t = {b, row_begin, c};

				fm_kind_for_each_weight(DatumGetJsonbP(value), col->name, add_weight, &t);
				break;
			}
	}
}

/* values[0] is the target, values[1 + c] feature column c. */
static void
add_row(Builder *b, TrainingSource *src, const Datum *values, const bool *isnull)
{
	double		y;
	int64		row_begin = b->n_nonzeros;

	if (isnull[0])
	{
		b->skipped_null++;
		return;
	}
	y = DatumGetFloat8(values[0]);
	if (isnan(y) || isinf(y))
	{
		b->skipped_not_finite++;
		return;
	}
	/* training works in float4: say so rather than diverge later */
	if (fabs(y) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("target value %g of column \"%s\" is out of range for type real",
						y, src->target)));
	if (b->n_rows + 2 > b->cap_rows)
	{
		int64		cap = b->cap_rows;

		/* row numbers are 4 bytes (dataset.h) */
		if (b->n_rows >= (int64) PG_UINT32_MAX - 1)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many rows to train on (limit %u)", PG_UINT32_MAX - 1)));
		b->row_start = fm_budget_grow(b->budget, b->row_start, sizeof(uint32), &cap, b->n_rows + 2);
		cap = b->cap_rows;
		b->targets = fm_budget_grow(b->budget, b->targets, sizeof(float), &cap, b->n_rows + 2);
		b->cap_rows = cap;
	}
	for (int c = 0; c < src->n_columns; c++)
	{
		if (isnull[c + 1])
			continue;			/* a NULL feature is simply absent */
		add_column(b, row_begin, c, values[c + 1]);
	}
	b->row_start[b->n_rows] = (uint32) row_begin;
	b->targets[b->n_rows] = (float) y;
	b->n_rows++;
}

/* ---- column checks ---- */

static AttrNumber
column_attnum(Oid relid, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, get_rel_name(relid))));
	return attnum;
}

static void
check_target_column(Oid relid, const char *target)
{
	Oid			type = get_atttype(relid, column_attnum(relid, target));
	char		category;
	bool		preferred;

	get_type_category_preferred(getBaseType(type), &category, &preferred);
	if (category != TYPCATEGORY_NUMERIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("target column \"%s\" must be numeric, not %s", target, format_type_be(type))));
}

/*
 * The kind of a column in relid (the given one, checked against the type,
 * or the type's default) and whether it is an array.  Any type whose values
 * print as text can be a categorical feature; arrays of such types are
 * multi-valued.
 */
static FmFeatureKind
column_kind(Oid relid, const FeatureColumn *col, bool *is_array)
{
	return fm_kind_of_column(relid, col->name, col->kind_given ? &col->kind : NULL, is_array);
}

/* The relation a column is read from: the catalogue for an item column (implicit). */
static Oid
column_relation(const TrainingSource *src, int c)
{
	return src->item_column != NULL && src->item_column[c] ? src->items_relid : src->relid;
}

void
fm_source_check_columns(TrainingSource *src)
{
	check_target_column(src->relid, src->target);
	if (src->item_column != NULL)
	{
		/* the key is read from both: the source names items by it */
		const FeatureColumn *key = &src->columns[src->key_column];
		bool		in_source,
					in_items;
		FmFeatureKind kind = column_kind(src->relid, key, &in_source);

		(void) column_kind(src->items_relid, key, &in_items);
		if (in_source || in_items)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("item key column \"%s\" must not be an array", key->name),
					 errdetail("The first of item_features names the item: one value per row.")));
		if (kind != FM_KIND_CATEGORICAL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("item key column \"%s\" must be categorical, not '%s'", key->name,
							fm_kind_name(kind)),
					 errdetail("The first of item_features names the item: one category per row.")));
	}
	for (int c = 0; c < src->n_columns; c++)
	{
		if (strcmp(src->columns[c].name, src->target) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" cannot be both the target and a feature", src->target)));
		for (int d = 0; d < c; d++)
			if (strcmp(src->columns[c].name, src->columns[d].name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("feature column \"%s\" is listed more than once", src->columns[c].name)));
		src->columns[c].kind = column_kind(column_relation(src, c), &src->columns[c],
										   &src->columns[c].is_array);
		src->columns[c].kind_given = true;	/* the validation relation reads it alike */
	}
}

/* ---- reading ---- */

/*
 * Which columns a query reads.  Implicit feedback reads the context columns
 * and the item key from the source, the item columns from the catalogue
 * (which has no target: every row counts); the other columns are NULL.
 */
static bool
query_reads_column(const TrainingSource *src, int c)
{
	if (src->item_column == NULL || c == src->key_column)
		return true;
	return src->item_column[c] == src->reading_catalogue;
}

/*
 * A categorical scalar column of an integer type is read as int8, not as
 * text: no output function, no string, and its values find their ids
 * through an array (int_feature_id).  The dictionary still holds the text
 * form, the same as (col)::text.
 */
static bool
column_is_integer(const TrainingSource *src, Oid relid, int c)
{
	const FeatureColumn *col = &src->columns[c];
	Oid			type;

	if (col->kind != FM_KIND_CATEGORICAL || col->is_array)
		return false;
	type = getBaseType(get_atttype(relid, column_attnum(relid, col->name)));
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

static char *
build_query(TrainingSource *src, Oid relid, bool *read_as_int)
{
	StringInfoData q;
	bool		catalogue = src->reading_catalogue;

	initStringInfo(&q);
	if (catalogue)
		appendStringInfoString(&q, "SELECT 0::pg_catalog.float8");
	else
		appendStringInfo(&q, "SELECT (%s)::pg_catalog.float8", quote_identifier(src->target));
	for (int c = 0; c < src->n_columns; c++)
	{
		const char *type = fm_kind_read_type(src->columns[c].kind, src->columns[c].is_array);

		read_as_int[c] = query_reads_column(src, c) && column_is_integer(src, relid, c);
		if (read_as_int[c])
			type = "pg_catalog.int8";
		if (query_reads_column(src, c))
			appendStringInfo(&q, ", (%s)::%s", quote_identifier(src->columns[c].name), type);
		else
			appendStringInfo(&q, ", NULL::%s", type);
	}
	appendStringInfo(&q, " FROM %s",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	return q.data;
}

/* ---- canonical order ---- */

static void
tick_check_interrupts(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * Renumbers the features canonically, everywhere an id lives: the rows, the
 * columns (MCMC's groups), the values fm_model_store.c writes and the
 * dictionary that reads validation rows; then sorts the rows.  In place:
 * only the sorts' scratch memory is added, and given back.
 */
static void
put_in_canonical_order(TrainingSource *src, Builder *b)
{
	FmScratch	scratch;
	FmAllocator temporary = fm_scratch_begin(&scratch, b->budget);
	FmAllocator kept = fm_budget_allocator(b->budget);	/* the row order */
	int32		n = b->n_features;
	int32	   *new_id = fm_alloc(&temporary, (Size) n * sizeof(int32));
	char	  **value = fm_alloc(&temporary, (Size) n * sizeof(char *));
	featdict_iterator it;
	DictEntry  *entry;

	fm_feature_canonical_ids(n, b->feature_column, (const char *const *) b->feature_value,
							 new_id, tick_check_interrupts, NULL, &temporary);
	/* feature_group is b->feature_column: permuted there too */
	fm_dataset_canonicalize(&src->data, new_id, tick_check_interrupts, NULL, &kept, &temporary);
	for (int32 f = 0; f < n; f++)
		value[new_id[f]] = b->feature_value[f];
	memcpy(b->feature_value, value, (Size) n * sizeof(char *));
	featdict_start_iterate(b->dict, &it);
	while ((entry = featdict_iterate(b->dict, &it)) != NULL)
		entry->id = new_id[entry->id];
	renumber_int_maps(b, new_id);
	fm_scratch_end(&scratch);
}

/*
 * The rows move in memory into their canonical order (in place, a little
 * scratch): the trainers then read a row one step sooner, and column sweeps
 * find a feature's rows side by side.
 */
static void
move_rows_into_order(Builder *b, FmDataset *ds)
{
	FmScratch	scratch;
	FmAllocator temporary = fm_scratch_begin(&scratch, b->budget);

	fm_dataset_apply_order(ds, tick_check_interrupts, NULL, &temporary);
	fm_scratch_end(&scratch);
}

/*
 * The arrays as a dataset, their growth headroom given back (realloc of a
 * large chunk moves pages, it does not copy them).
 */
static void
finish_dataset(Builder *b, FmDataset *ds)
{
	int64		cap;

	if (b->row_start == NULL)	/* no usable row: keep the arrays valid */
	{
		cap = 0;
		b->row_start = fm_budget_grow(b->budget, NULL, sizeof(uint32), &cap, 1);
		b->cap_rows = cap;
	}
	b->row_start[b->n_rows] = (uint32) b->n_nonzeros;
	cap = b->cap_rows;
	b->row_start = fm_budget_shrink(b->budget, b->row_start, sizeof(uint32), &cap, b->n_rows + 1);
	cap = b->cap_rows;
	b->targets = fm_budget_shrink(b->budget, b->targets, sizeof(float), &cap, b->n_rows + 1);
	b->cap_rows = cap;
	cap = b->cap_nonzeros;
	b->ids = fm_budget_shrink(b->budget, b->ids, sizeof(int32), &cap, b->n_nonzeros);
	if (b->weights != NULL)
	{
		cap = b->cap_nonzeros;
		b->weights = fm_budget_shrink(b->budget, b->weights, sizeof(float), &cap, b->n_nonzeros);
	}
	b->cap_nonzeros = cap;
	memset(ds, 0, sizeof(*ds));
	ds->n_rows = b->n_rows;
	ds->n_nonzeros = b->n_nonzeros;
	ds->n_physical_rows = b->n_rows;
	ds->n_features = b->n_features;
	ds->n_groups = b->src->n_columns;
	ds->row_start = b->row_start;
	ds->ids = b->ids;
	ds->weights = b->weights;
	memcpy(ds->palette, b->palette, sizeof(ds->palette));
	ds->targets = b->targets;
	ds->feature_group = b->feature_column;
}

/*
 * Divides the x of the numeric columns just read by their scale.  A column
 * read for the first time (scale 0) gets its scale here: max |value| over
 * these rows, 1 when that is 0; validation rows use the training scale.
 * Runs before the canonical order, which then sees the final x.
 */
static void
scale_numeric_columns(Builder *b)
{
	TrainingSource *src = b->src;
	bool		any = false;

	for (int c = 0; c < src->n_columns; c++)
	{
		FeatureColumn *col = &src->columns[c];

		if (col->kind != FM_KIND_NUMERIC || !query_reads_column(src, c))
			continue;
		if (col->scale == 0.0)
			col->scale = b->column_max != NULL && b->column_max[c] > 0.0 ? b->column_max[c] : 1.0;
		any = true;
	}
	if (!any)
		return;
	store_weights(b);			/* scaled values rarely fit the palette */
	for (int64 p = 0; p < b->n_nonzeros; p++)
	{
		const FeatureColumn *col = &src->columns[b->feature_column[b->ids[p]]];

		if (col->kind == FM_KIND_NUMERIC)
			b->weights[p] = (float) (b->weights[p] / col->scale);
		if ((p & 0xfffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/*
 * The executor hands every row to this receiver as it produces it: no copy
 * of the tuple into an SPI tuple table, one deforming of the row
 * (slot_getallattrs), and the per-value memory (detoasted arrays) freed
 * every READ_BATCH rows.
 */
typedef struct SourceReceiver
{
	DestReceiver pub;
	Builder    *b;
	MemoryContext batch_context;
	int64		in_batch;
} SourceReceiver;

static bool
source_receive(TupleTableSlot *slot, DestReceiver *self)
{
	SourceReceiver *r = (SourceReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->batch_context);

	slot_getallattrs(slot);
	add_row(r->b, r->b->src, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	if (++r->in_batch == READ_BATCH)
	{
		MemoryContextReset(r->batch_context);
		fm_progress_rows(r->in_batch);	/* fm_training_progress.rows_read */
		r->in_batch = 0;
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}

static void
source_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
source_shutdown(DestReceiver *self)
{
}

static void
source_destroy(DestReceiver *self)
{
}

/* One pass over `relid`, row by row into the builder. */
static void
read_rows(Builder *b, Oid relid)
{
	SourceReceiver receiver;
	SPIExecuteOptions options;
	int			rc;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = source_receive;
	receiver.pub.rStartup = source_startup;
	receiver.pub.rShutdown = source_shutdown;
	receiver.pub.rDestroy = source_destroy;
	receiver.pub.mydest = DestNone;
	receiver.b = b;
	receiver.batch_context = AllocSetContextCreate(CurrentMemoryContext, "fmrec source batch",
												   ALLOCSET_DEFAULT_SIZES);
	b->read_as_int = MemoryContextAllocZero(b->budget->context, sizeof(bool) * b->src->n_columns);

	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = &receiver.pub;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_extended(build_query(b->src, relid, b->read_as_int), &options);
	/* (a SELECT into a DestNone receiver reports SPI_OK_UTILITY) */
	if (rc < 0)
		elog(ERROR, "SPI_execute_extended failed: %s", SPI_result_code_string(rc));
	fm_progress_rows(receiver.in_batch);
	SPI_finish();
	MemoryContextDelete(receiver.batch_context);
}

void
fm_source_read(TrainingSource *src, FmBudget *budget)
{
	Builder    *b = new_builder(budget);
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz canonical_start;
	long		secs;
	int			usecs;

	b->src = src;
	b->budget = budget;
	b->dict = featdict_create(budget->context, 1024, NULL);
	b->int_maps = MemoryContextAllocZero(budget->context, sizeof(IntMap) * src->n_columns);
	b->column_max = fm_budget_alloc(budget, sizeof(double) * src->n_columns);
	memset(b->column_max, 0, sizeof(double) * src->n_columns);
	read_rows(b, src->relid);
	scale_numeric_columns(b);
	finish_dataset(b, &src->data);
	src->feature_value = b->feature_value;
	src->rows_skipped_null = b->skipped_null;
	src->rows_skipped_not_finite = b->skipped_not_finite;
	src->builder = b;
	canonical_start = GetCurrentTimestamp();
	/*
	 * Implicit training reads the catalogue next, which renumbers every
	 * feature and sorts these rows again (put_catalogue_in_canonical_order):
	 * the canonical order depends only on the values, so once is enough.
	 */
	if (src->item_column == NULL)
	{
		put_in_canonical_order(src, b);
		move_rows_into_order(b, &src->data);
	}
	TimestampDifference(canonical_start, GetCurrentTimestamp(), &secs, &usecs);
	src->canonical_seconds = secs + usecs / 1e6;
	TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
	src->read_seconds = secs + usecs / 1e6;
}

/* The validation relation must offer the training columns, with the same kinds. */
static void
check_validation_columns(const TrainingSource *src, Oid relid)
{
	check_target_column(relid, src->target);
	for (int c = 0; c < src->n_columns; c++)
	{
		bool		is_array;

		(void) column_kind(relid, &src->columns[c], &is_array);
		if (is_array != src->columns[c].is_array)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" is %s in \"%s\" but %s in \"%s\"", src->columns[c].name,
							src->columns[c].is_array ? "not an array" : "an array", get_rel_name(relid),
							src->columns[c].is_array ? "an array" : "not an array",
							get_rel_name(src->relid))));
	}
}

void
fm_source_read_validation(TrainingSource *src, Oid relid, FmBudget *budget, FmDataset *valid)
{
	Builder    *train = (Builder *) src->builder;
	Builder    *b = new_builder(budget);
	FmScratch	scratch;
	FmAllocator temporary;
	FmAllocator kept = fm_budget_allocator(budget);	/* the row order */

	check_validation_columns(src, relid);
	b->src = src;
	b->budget = budget;
	b->dict = train->dict;
	b->frozen = true;
	b->int_maps = train->int_maps;
	b->n_features = train->n_features;
	b->feature_column = train->feature_column;
	b->feature_value = train->feature_value;
	read_rows(b, relid);
	scale_numeric_columns(b);
	finish_dataset(b, valid);
	/* the ids are canonical already; the rows' order is the plan's */
	temporary = fm_scratch_begin(&scratch, budget);
	fm_dataset_canonicalize(valid, NULL, tick_check_interrupts, NULL, &kept, &temporary);
	fm_scratch_end(&scratch);
	move_rows_into_order(b, valid);
}

/*
 * The catalogue's own values (item features nobody's row named, items
 * nobody rated) were numbered in the catalogue's scan order: renumber every
 * feature canonically again, and sort both the source rows and the
 * catalogue rows, so that neither scan order changes the model.  The
 * catalogue is renumbered with a copy of the groups, which
 * fm_dataset_canonicalize permutes exactly as it then permutes the shared
 * ones for the source.
 */
static void
put_catalogue_in_canonical_order(TrainingSource *src, Builder *b, FmDataset *catalogue)
{
	FmScratch	scratch;
	FmAllocator temporary = fm_scratch_begin(&scratch, b->budget);
	FmAllocator kept = fm_budget_allocator(b->budget);	/* the row order */
	int32		n = b->n_features;
	int32	   *new_id = fm_alloc(&temporary, (Size) n * sizeof(int32));
	char	  **value = fm_alloc(&temporary, (Size) n * sizeof(char *));
	int32	   *groups = fm_alloc(&temporary, (Size) n * sizeof(int32));
	featdict_iterator it;
	DictEntry  *entry;

	fm_feature_canonical_ids(n, b->feature_column, (const char *const *) b->feature_value,
							 new_id, tick_check_interrupts, NULL, &temporary);
	/* the source's row order, from the budget directly: fm_source_free_rows frees it */
	if (src->data.row_index == NULL)
		src->data.row_index = fm_budget_alloc(b->budget, (Size) src->data.n_rows * sizeof(uint32));
	memcpy(groups, b->feature_column, (Size) n * sizeof(int32));
	catalogue->feature_group = groups;
	fm_dataset_canonicalize(catalogue, new_id, tick_check_interrupts, NULL, &kept, &temporary);
	fm_dataset_canonicalize(&src->data, new_id, tick_check_interrupts, NULL, &kept, &temporary);
	catalogue->feature_group = src->data.feature_group;
	for (int32 f = 0; f < n; f++)
		value[new_id[f]] = b->feature_value[f];
	memcpy(b->feature_value, value, (Size) n * sizeof(char *));
	featdict_start_iterate(b->dict, &it);
	while ((entry = featdict_iterate(b->dict, &it)) != NULL)
		entry->id = new_id[entry->id];
	renumber_int_maps(b, new_id);
	fm_scratch_end(&scratch);
}

void
fm_source_read_catalogue(TrainingSource *src, FmBudget *budget, FmDataset *catalogue)
{
	Builder    *train = (Builder *) src->builder;
	Builder    *b = new_builder(budget);
	TimestampTz start = GetCurrentTimestamp();
	long		secs;
	int			usecs;

	/* the same dictionary, growing: catalogue values get ids after the source's */
	*b = *train;
	b->skipped_null = b->skipped_not_finite = 0;
	b->n_rows = b->n_nonzeros = b->cap_rows = b->cap_nonzeros = 0;
	b->row_start = NULL;
	b->ids = NULL;
	b->weights = NULL;
	for (int c = 0; c < FM_X_CODES; c++)
		b->palette[c] = 1.0f;
	b->targets = NULL;
	b->column_max = fm_budget_alloc(budget, sizeof(double) * src->n_columns);
	memset(b->column_max, 0, sizeof(double) * src->n_columns);
	src->reading_catalogue = true;
	read_rows(b, src->items_relid);
	scale_numeric_columns(b);
	finish_dataset(b, catalogue);
	src->reading_catalogue = false;
	/* the arrays of the dictionary may have moved */
	train->n_features = b->n_features;
	train->cap_features = b->cap_features;
	train->feature_column = b->feature_column;
	train->feature_value = b->feature_value;
	src->feature_value = b->feature_value;
	src->data.n_features = b->n_features;
	src->data.feature_group = b->feature_column;
	put_catalogue_in_canonical_order(src, train, catalogue);
	move_rows_into_order(train, &src->data);
	move_rows_into_order(train, catalogue);
	TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
	src->catalogue_read_seconds = secs + usecs / 1e6;
}

void
fm_source_free_rows(TrainingSource *src, FmBudget *budget)
{
	Builder    *b = (Builder *) src->builder;
	FmDataset  *ds = &src->data;

	/* capacities as finish_dataset left them; row_index as allocated above */
	fm_budget_free(budget, ds->row_index, (Size) ds->n_rows * sizeof(uint32));
	fm_budget_free(budget, ds->row_start, (Size) b->cap_rows * sizeof(uint32));
	fm_budget_free(budget, ds->targets, (Size) b->cap_rows * sizeof(float));
	fm_budget_free(budget, ds->ids, (Size) b->cap_nonzeros * sizeof(int32));
	fm_budget_free(budget, ds->weights, (Size) b->cap_nonzeros * sizeof(float));
	ds->row_index = NULL;
	ds->row_start = NULL;
	ds->targets = NULL;
	ds->ids = NULL;
	ds->weights = NULL;
	b->row_start = NULL;
	b->targets = NULL;
	b->ids = NULL;
	b->weights = NULL;
	b->cap_rows = b->cap_nonzeros = 0;
}

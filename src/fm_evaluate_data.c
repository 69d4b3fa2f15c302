/*
 * fm_evaluate_data.c - reads what an evaluation needs (the model's
 * features, the catalogue, the users, the test and train rows) through SPI
 * into one memory context, and turns it into core/rank_eval's users.
 *
 * Item and user vectors are built as fm_item() builds them in SQL; see
 * fm_evaluate.c for the protocol.  Every statement is fully qualified and
 * runs with the caller's privileges, read from cursors in batches.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/vec.h"
#include "fm_catalog.h"
#include "fm_evaluate_data.h"
#include "fm_vector.h"

#define FETCH_BATCH 10000

/* ---- arguments and the columns they name ---- */

static bool
has_column(Oid relid, const char *column)
{
	return get_attnum(relid, column) > 0;
}

void
fm_eval_require_column(Oid relid, const char *column, const char *role)
{
	if (!has_column(relid, column))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", column, get_rel_name(relid)),
				 errdetail("It was given as the %s.", role)));
}

char **
fm_eval_name_array(ArrayType *array, int *n, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **names;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(array, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &elems, &nulls, n);
	names = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		names[i] = pstrdup(NameStr(*DatumGetName(elems[i])));
	}
	return names;
}

static bool
in_names(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/*
 * The model's features that are columns of relid; when `only` is given,
 * those columns instead, each of which must be a column of relid and a
 * feature of the model.
 */
SideColumns
fm_eval_side_columns(Oid relid, const Model *model, char **only, int n_only)
{
	char	  **features = model->features;
	int			n_features = model->n_features;
	SideColumns s;
	char	  **wanted = only ? only : features;
	int			n_wanted = only ? n_only : n_features;

	s.n = 0;
	s.names = palloc(sizeof(char *) * Max(n_wanted, 1));
	s.is_array = palloc(sizeof(bool) * Max(n_wanted, 1));
	s.kinds = palloc(sizeof(FmFeatureKind) * Max(n_wanted, 1));
	for (int i = 0; i < n_wanted; i++)
	{
		if (only)
		{
			fm_eval_require_column(relid, wanted[i], "user feature");
			if (!in_names(features, n_features, wanted[i]))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("\"%s\" is not a feature of the model", wanted[i]),
						 errhint("user_features lists columns of user_table the model was trained on.")));
			if (in_names(s.names, s.n, wanted[i]))
				continue;
		}
		else if (!has_column(relid, wanted[i]))
			continue;
		s.names[s.n] = wanted[i];
		for (int f = 0; f < n_features; f++)
			if (strcmp(features[f], wanted[i]) == 0)
				s.kinds[s.n] = model->kinds[f];
		/* the model's kind must fit this table's column (else 42804) */
		(void) fm_kind_of_column(relid, wanted[i], &s.kinds[s.n], &s.is_array[s.n]);
		s.n++;
	}
	return s;
}

/* ", (alias.c1)::pg_catalog.text, (alias.c2)::pg_catalog.text[] ..." */
static void
append_feature_columns(StringInfo q, const SideColumns *s, const char *alias)
{
	for (int c = 0; c < s->n; c++)
		appendStringInfo(q, ", (%s.%s)::%s", alias, quote_identifier(s->names[c]),
						 fm_kind_read_type(s->kinds[c], s->is_array[c]));
}

/* ---- reading rows through SPI cursors ---- */

typedef void (*RowCallback) (HeapTuple tuple, TupleDesc desc, void *arg);

/*
 * Runs a read-only query and hands every row to `callback`, FETCH_BATCH rows
 * at a time.  Memory the callback allocates goes to its own contexts.
 */
static void
for_each_row(const char *sql, int nargs, Oid *types, Datum *values,
			 RowCallback callback, void *arg)
{
	Portal		portal = SPI_cursor_open_with_args(NULL, sql, nargs, types, values, NULL, true, 0);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, FETCH_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
			callback(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, arg);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_cursor_close(portal);
}

static bool
get_int64(HeapTuple tuple, TupleDesc desc, int col, int64 *out)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	if (!isnull)
		*out = DatumGetInt64(d);
	return !isnull;
}

/* ---- id -> index maps ---- */

typedef struct IdEntry
{
	int64		id;
	int32		index;
} IdEntry;

static HTAB *
id_map_create(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(IdEntry);
	ctl.hcxt = cxt;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* index of id, or -1 */
static int32
id_map_find(HTAB *map, int64 id)
{
	IdEntry    *e = hash_search(map, &id, HASH_FIND, NULL);

	return e ? e->index : -1;
}

/* ---- the model's features ---- */

typedef struct FeatureKey
{
	const char *feature;
	const char *value;
} FeatureKey;

typedef struct FeatureEntry
{
	FeatureKey	key;
	float		bias;
	float	   *embedding;		/* dim floats */
} FeatureEntry;

static uint32
feature_key_hash(const void *key, Size keysize)
{
	const FeatureKey *k = key;

	return hash_combine(string_hash(k->feature, 0), string_hash(k->value, 0));
}

static int
feature_key_compare(const void *a, const void *b, Size keysize)
{
	const FeatureKey *x = a;
	const FeatureKey *y = b;
	int			c = strcmp(x->feature, y->feature);

	return c != 0 ? c : strcmp(x->value, y->value);
}



/* One fm_feature row into the hash table (strings and vector copied to ev->cxt). */
static void
read_feature(HeapTuple tuple, TupleDesc desc, void *arg)
{
	Evaluation *ev = arg;
	Model	   *m = &ev->model;
	MemoryContext old = MemoryContextSwitchTo(ev->cxt);
	bool		isnull;
	FeatureKey	key;
	FeatureEntry *e;
	FmVector   *v;

	key.feature = TextDatumGetCString(SPI_getbinval(tuple, desc, 1, &isnull));
	key.value = TextDatumGetCString(SPI_getbinval(tuple, desc, 2, &isnull));
	fm_budget_charge(&ev->budget, strlen(key.feature) + strlen(key.value) + sizeof(FeatureEntry) + 64);
	e = hash_search(m->table, &key, HASH_ENTER, NULL);
	e->bias = DatumGetFloat4(SPI_getbinval(tuple, desc, 3, &isnull));
	v = DatumGetFmVector(SPI_getbinval(tuple, desc, 4, &isnull));
	if (v->dim != m->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("embedding of feature %s = %s has %d dimensions, the model %d",
						key.feature, key.value, v->dim, m->dim)));
	e->embedding = fm_budget_alloc(&ev->budget, sizeof(float) * (Size) Max(m->dim, 1));
	memcpy(e->embedding, v->x, sizeof(float) * (Size) m->dim);
	MemoryContextSwitchTo(old);
}

/* The model's rows of fm_feature for the feature columns of both sides. */
void
fm_eval_load_features(Evaluation *ev, const char *model_name, SideColumns *users, SideColumns *items)
{
	HASHCTL		ctl;
	StringInfoData q;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		args[2];
	Datum	   *names = palloc(sizeof(Datum) * Max(users->n + items->n, 1));
	int			n_names = 0;

	for (int c = 0; c < users->n; c++)
		names[n_names++] = CStringGetTextDatum(users->names[c]);
	for (int c = 0; c < items->n; c++)
		names[n_names++] = CStringGetTextDatum(items->names[c]);
	args[0] = CStringGetTextDatum(model_name);
	args[1] = PointerGetDatum(construct_array(names, n_names, TEXTOID, -1, false, TYPALIGN_INT));

	ctl.keysize = sizeof(FeatureKey);
	ctl.entrysize = sizeof(FeatureEntry);
	ctl.hash = feature_key_hash;
	ctl.match = feature_key_compare;
	ctl.hcxt = ev->cxt;
	ev->model.table = hash_create("fm_evaluate features", 1024, &ctl,
								  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT f.feature, f.value, f.bias, f.embedding FROM %s.fm_feature f "
					 "WHERE f.model OPERATOR(pg_catalog.=) $1 "
					 "AND f.feature OPERATOR(pg_catalog.=) ANY ($2)",
					 fmrec_schema_quoted());
	for_each_row(q.data, 2, types, args, read_feature, ev);
}

/*
 * The bias and embedding of a row described by its feature columns
 * (starting at column `first`), as fm_item() computes them: with x the
 * weight of each known (feature, value), embedding = sum x v and
 * bias = sum x w + 1/2 (|embedding|^2 - sum x^2 |v|^2).  Arithmetic in the
 * same precision as the SQL (float products, double sums).
 */
typedef struct Describer
{
	const Model *model;
	const SideColumns *cols;
	double	   *acc;			/* dim doubles */
	float	   *scaled;			/* dim floats */
} Describer;

static void
add_feature(Describer *ds, const char *feature, const char *value, double x,
			double *linear, double *squares)
{
	const Model *m = ds->model;
	FeatureKey	key = {feature, value};
	FeatureEntry *e = hash_search(m->table, &key, HASH_FIND, NULL);

	if (e == NULL)
		return;
	*linear += (double) e->bias * x;
	*squares += (double) fm_vec_dot(e->embedding, e->embedding, m->dim) * x * x;
	fm_vec_scale(ds->scaled, e->embedding, (float) x, m->dim);
	fm_vec_accum_double(ds->acc, ds->scaled, m->dim);
}

/*
 * The distinct non-NULL elements of an array column, with their weights:
 * 1/(non-NULL elements) each, 1 each for kind 'each'.
 */
static void
add_array_feature(Describer *ds, const char *feature, ArrayType *array, bool each,
				  double *linear, double *squares)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				n_present = 0;
	char	  **values;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	values = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			values[n_present++] = TextDatumGetCString(elems[i]);
	for (int i = 0; i < n_present; i++)
	{
		int			repeats = 0;
		bool		first = true;

		/* a value listed twice weighs twice: sum its weights, once */
		for (int j = 0; j < n_present; j++)
			if (strcmp(values[i], values[j]) == 0)
			{
				if (j < i)
					first = false;
				repeats++;
			}
		if (first)
			add_feature(ds, feature, values[i], each ? (double) repeats : (double) repeats / n_present,
						linear, squares);
	}
}

typedef struct WeightSum
{
	Describer  *ds;
	const char *feature;
	double	   *linear;
	double	   *squares;
} WeightSum;

static void
add_weight(const char *key, double weight, void *arg)
{
	WeightSum  *s = (WeightSum *) arg;

	add_feature(s->ds, s->feature, key, weight, s->linear, s->squares);
}

static void
describe_row(Describer *ds, HeapTuple tuple, TupleDesc desc, int first,
			 float *embedding, float *bias)
{
	const Model *m = ds->model;
	double		linear = 0.0,
				squares = 0.0;

	memset(ds->acc, 0, sizeof(double) * (Size) m->dim);
	for (int c = 0; c < ds->cols->n; c++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tuple, desc, first + c, &isnull);

		if (isnull)
			continue;
		switch (ds->cols->kinds[c])
		{
			case FM_KIND_CATEGORICAL:
			case FM_KIND_EACH:
				if (ds->cols->is_array[c])
					add_array_feature(ds, ds->cols->names[c], DatumGetArrayTypeP(d),
									  ds->cols->kinds[c] == FM_KIND_EACH, &linear, &squares);
				else
					add_feature(ds, ds->cols->names[c], TextDatumGetCString(d), 1.0, &linear, &squares);
				break;
			case FM_KIND_NUMERIC:
				add_feature(ds, ds->cols->names[c], "", fm_kind_numeric_value(d, ds->cols->names[c]),
							&linear, &squares);
				break;
			case FM_KIND_WEIGHTED:
				{
					WeightSum	sum = {ds, ds->cols->names[c], &linear, &squares};

					fm_kind_for_each_weight(DatumGetJsonbP(d), ds->cols->names[c], add_weight, &sum);
					break;
				}
		}
	}
	for (int j = 0; j < m->dim; j++)
		embedding[j] = (float) ds->acc[j];
	*bias = (float) (linear + 0.5 * ((double) fm_vec_dot(embedding, embedding, m->dim) - squares));
}

/* ---- the catalogue ---- */

typedef struct RowReader
{
	Evaluation *ev;
	Describer	describer;
	MemoryContext row_cxt;		/* reset after each row */
	const char *table;			/* for messages */
} RowReader;

static void
reader_init(RowReader *r, Evaluation *ev, const SideColumns *cols, const char *table)
{
	r->ev = ev;
	r->table = table;
	r->describer.model = &ev->model;
	r->describer.cols = cols;
	r->describer.acc = fm_budget_alloc(&ev->budget, sizeof(double) * (Size) Max(ev->model.dim, 1));
	r->describer.scaled = fm_budget_alloc(&ev->budget, sizeof(float) * (Size) Max(ev->model.dim, 1));
	r->row_cxt = AllocSetContextCreate(ev->cxt, "fm_evaluate row", ALLOCSET_SMALL_SIZES);
}

static void
read_item(HeapTuple tuple, TupleDesc desc, void *arg)
{
	RowReader  *r = arg;
	Evaluation *ev = r->ev;
	int32		dim = ev->model.dim;
	int64		id;
	IdEntry    *e;
	bool		found;
	MemoryContext old;

	if (!get_int64(tuple, desc, 1, &id))
		return;					/* an item without id cannot be recommended */
	e = hash_search(ev->item_index, &id, HASH_ENTER, &found);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("item " INT64_FORMAT " appears more than once in %s", id, r->table),
				 errhint("item_table must have one row per item.")));
	if (ev->n_items >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("more than %d items", PG_INT32_MAX)));
	e->index = (int32) ev->n_items;
	if (ev->n_items == ev->items_capacity)
	{
		int64		cap = ev->items_capacity;

		ev->item_ids = fm_budget_grow(&ev->budget, ev->item_ids, sizeof(int64), &cap, ev->n_items + 1);
		cap = ev->items_capacity;
		ev->item_bias = fm_budget_grow(&ev->budget, ev->item_bias, sizeof(float), &cap, ev->n_items + 1);
		cap = ev->items_capacity;
		ev->item_embedding = fm_budget_grow(&ev->budget, ev->item_embedding,
											sizeof(float) * (Size) Max(dim, 1), &cap, ev->n_items + 1);
		ev->items_capacity = cap;
	}
	ev->item_ids[ev->n_items] = id;
	old = MemoryContextSwitchTo(r->row_cxt);
	describe_row(&r->describer, tuple, desc, 2,
				 ev->item_embedding + ev->n_items * dim, &ev->item_bias[ev->n_items]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);
	ev->n_items++;
}

void
fm_eval_read_items(Evaluation *ev, Oid item_table, const char *item_column, const SideColumns *cols)
{
	StringInfoData q;
	RowReader	r;

	reader_init(&r, ev, cols, get_rel_name(item_table));
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT (i.%s)::pg_catalog.int8", quote_identifier(item_column));
	append_feature_columns(&q, cols, "i");
	appendStringInfo(&q, " FROM %s i", fmrec_relation_sql(item_table));
	for_each_row(q.data, 0, NULL, NULL, read_item, &r);
	MemoryContextDelete(r.row_cxt);
}

/* ---- the users ---- */

static int32
add_user(Evaluation *ev, int64 id)
{
	IdEntry    *e;
	bool		found;
	int32		dim = ev->model.dim;

	e = hash_search(ev->user_index, &id, HASH_ENTER, &found);
	if (found)
		return -1;
	if (ev->n_users >= PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("more than %d users", PG_INT32_MAX)));
	e->index = (int32) ev->n_users;
	if (ev->n_users == ev->users_capacity)
	{
		int64		cap = ev->users_capacity;

		ev->user_bias = fm_budget_grow(&ev->budget, ev->user_bias, sizeof(float), &cap, ev->n_users + 1);
		cap = ev->users_capacity;
		ev->user_group = fm_budget_grow(&ev->budget, ev->user_group, sizeof(int32), &cap, ev->n_users + 1);
		cap = ev->users_capacity;
		ev->user_in_test = fm_budget_grow(&ev->budget, ev->user_in_test, sizeof(bool), &cap, ev->n_users + 1);
		cap = ev->users_capacity;
		ev->user_query = fm_budget_grow(&ev->budget, ev->user_query,
										sizeof(float) * (Size) Max(dim, 1), &cap, ev->n_users + 1);
		ev->users_capacity = cap;
	}
	ev->user_group[ev->n_users] = -1;
	ev->user_in_test[ev->n_users] = false;
	return (int32) ev->n_users++;
}

static void
read_user(HeapTuple tuple, TupleDesc desc, void *arg)
{
	RowReader  *r = arg;
	Evaluation *ev = r->ev;
	int64		id;
	int32		u;
	MemoryContext old;

	if (!get_int64(tuple, desc, 1, &id))
		return;
	u = add_user(ev, id);
	if (u < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("user " INT64_FORMAT " appears more than once in %s", id, r->table),
				 errhint("user_table must have one row per user.")));
	old = MemoryContextSwitchTo(r->row_cxt);
	describe_row(&r->describer, tuple, desc, 2,
				 ev->user_query + (int64) u * ev->model.dim, &ev->user_bias[u]);
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);
}

/* The users of user_table that have a row in test, with their query vectors. */
void
fm_eval_read_model_users(Evaluation *ev, Oid user_table, Oid test, const char *user_column,
				 const SideColumns *cols)
{
	StringInfoData q;
	RowReader	r;
	const char *uc = quote_identifier(user_column);

	reader_init(&r, ev, cols, get_rel_name(user_table));
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT (u.%s)::pg_catalog.int8", uc);
	append_feature_columns(&q, cols, "u");
	appendStringInfo(&q, " FROM %s u WHERE EXISTS (SELECT FROM %s t WHERE (t.%s)::pg_catalog.int8 "
					 "OPERATOR(pg_catalog.=) (u.%s)::pg_catalog.int8)",
					 fmrec_relation_sql(user_table), fmrec_relation_sql(test), uc, uc);
	for_each_row(q.data, 0, NULL, NULL, read_user, &r);
	MemoryContextDelete(r.row_cxt);
}

static void
read_grouped_user(HeapTuple tuple, TupleDesc desc, void *arg)
{
	Evaluation *ev = arg;
	int64		id;
	int64		group = 1;
	int32		u;

	if (!get_int64(tuple, desc, 1, &id))
		return;
	u = add_user(ev, id);
	if (u < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("user " INT64_FORMAT " appears more than once in user_table", id)));
	get_int64(tuple, desc, 2, &group);
	ev->user_group[u] = (int32) (group - 1);
	ev->n_groups = Max(ev->n_groups, (int32) group);
}

/*
 * Every user of user_table with its group: the rank of its group_by values
 * (NULLs form a group of their own, as in GROUP BY).
 */
void
fm_eval_read_grouped_users(Evaluation *ev, Oid user_table, const char *user_column,
				   char **group_by, int n_group_by)
{
	StringInfoData q;

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT (u.%s)::pg_catalog.int8, pg_catalog.dense_rank() OVER (ORDER BY ",
					 quote_identifier(user_column));
	if (n_group_by == 0)
		appendStringInfoString(&q, "NULL::pg_catalog.int4");
	for (int g = 0; g < n_group_by; g++)
		appendStringInfo(&q, "%su.%s", g > 0 ? ", " : "", quote_identifier(group_by[g]));
	appendStringInfo(&q, ")::pg_catalog.int8 FROM %s u", fmrec_relation_sql(user_table));
	for_each_row(q.data, 0, NULL, NULL, read_grouped_user, ev);
}

/* ---- test and train rows ---- */

typedef struct PairReader
{
	Evaluation *ev;
	bool		add_users;		/* test users need no user_table (popularity) */
} PairReader;

static void
add_relevant(Evaluation *ev, int32 u, int64 item)
{
	if (ev->n_relevant == ev->relevant_capacity)
	{
		int64		cap = ev->relevant_capacity;

		ev->relevant_user = fm_budget_grow(&ev->budget, ev->relevant_user, sizeof(int64), &cap, ev->n_relevant + 1);
		cap = ev->relevant_capacity;
		ev->relevant_item = fm_budget_grow(&ev->budget, ev->relevant_item, sizeof(int64), &cap, ev->n_relevant + 1);
		ev->relevant_capacity = cap;
	}
	ev->relevant_user[ev->n_relevant] = u;
	ev->relevant_item[ev->n_relevant] = item;
	ev->n_relevant++;
}

/* The model's clipped prediction for (user u, item i): w0 + both biases + dot. */
static double
predict(const Evaluation *ev, int32 u, int32 i)
{
	const Model *m = &ev->model;
	double		p = m->w0 + (double) ev->user_bias[u] + (double) ev->item_bias[i]
		+ (double) fm_vec_dot(ev->user_query + (int64) u * m->dim,
							  ev->item_embedding + (int64) i * m->dim, m->dim);

	return Max(m->target_min, Min(m->target_max, p));
}

static void
read_test_row(HeapTuple tuple, TupleDesc desc, void *arg)
{
	PairReader *r = arg;
	Evaluation *ev = r->ev;
	int64		user,
				item;
	int32		u,
				i;
	bool		isnull;
	double		y;

	if (!get_int64(tuple, desc, 1, &user) || !get_int64(tuple, desc, 2, &item))
		return;
	y = DatumGetFloat8(SPI_getbinval(tuple, desc, 3, &isnull));
	u = id_map_find(ev->user_index, user);
	if (u < 0 && r->add_users)
		u = add_user(ev, user);
	if (u < 0)
		return;					/* fm_evaluate: a user missing from user_table */
	ev->user_in_test[u] = true;
	i = id_map_find(ev->item_index, item);
	if (ev->counts == NULL)
	{
		if (i >= 0)
		{
			double		e = y - predict(ev, u, i);

			ev->squared_error += e * e;
			ev->test_rows++;
		}
	}
	else
		ev->test_rows++;
	if (y >= ev->threshold)
		add_relevant(ev, u, item);
}

void
fm_eval_read_test(Evaluation *ev, Oid test, const char *user_column, const char *item_column,
		  const char *target, bool add_users)
{
	StringInfoData q;
	PairReader	r = {ev, add_users};

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT (t.%s)::pg_catalog.int8, (t.%s)::pg_catalog.int8, (t.%s)::pg_catalog.float8 "
					 "FROM %s t WHERE t.%s IS NOT NULL",
					 quote_identifier(user_column), quote_identifier(item_column),
					 quote_identifier(target), fmrec_relation_sql(test), quote_identifier(target));
	for_each_row(q.data, 0, NULL, NULL, read_test_row, &r);
}

static void
read_train_row(HeapTuple tuple, TupleDesc desc, void *arg)
{
	Evaluation *ev = arg;
	int64		user,
				item;
	int32		u,
				i;

	if (!get_int64(tuple, desc, 1, &user) || !get_int64(tuple, desc, 2, &item))
		return;
	i = id_map_find(ev->item_index, item);
	if (i < 0)
		return;					/* not a candidate anyway */
	u = id_map_find(ev->user_index, user);
	if (ev->counts != NULL)
	{
		/* without group_by everyone is in group 0 */
		int32		g = !ev->grouped ? 0 : (u >= 0 ? ev->user_group[u] : -1);

		if (g >= 0)
			ev->counts[(int64) g * ev->n_items + i] += 1.0f;
	}
	if (u < 0 || !ev->user_in_test[u])
		return;
	if (ev->n_seen == ev->seen_capacity)
		ev->seen = fm_budget_grow(&ev->budget, ev->seen, sizeof(int64), &ev->seen_capacity, ev->n_seen + 1);
	ev->seen[ev->n_seen++] = ((int64) u << 32) | (int64) i;
}

void
fm_eval_read_train(Evaluation *ev, Oid train, const char *user_column, const char *item_column)
{
	StringInfoData q;

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT (s.%s)::pg_catalog.int8, (s.%s)::pg_catalog.int8 FROM %s s",
					 quote_identifier(user_column), quote_identifier(item_column), fmrec_relation_sql(train));
	for_each_row(q.data, 0, NULL, NULL, read_train_row, ev);
}

/* ---- ranking ---- */

static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

typedef struct RelevantPair
{
	int64		user;
	int64		item;
} RelevantPair;

static int
compare_relevant(const void *a, const void *b)
{
	const RelevantPair *x = a;
	const RelevantPair *y = b;

	if (x->user != y->user)
		return (x->user > y->user) - (x->user < y->user);
	return (x->item > y->item) - (x->item < y->item);
}

/*
 * One FmRankUser per user with a relevant test row (users ordered by
 * index): excluded = its distinct train items, relevant = its distinct
 * relevant test items (those outside the catalogue counted apart).  A user
 * with no candidate left is not evaluated.
 */
FmRankUser *
fm_eval_rank_users(Evaluation *ev, int64 *n_out, int32 **user_of)
{
	RelevantPair *rel = fm_budget_alloc(&ev->budget, sizeof(RelevantPair) * (Size) Max(ev->n_relevant, 1));
	int32	   *seen_items = fm_budget_alloc(&ev->budget, sizeof(int32) * (Size) Max(ev->n_seen, 1));
	int32	   *relevant_items = fm_budget_alloc(&ev->budget, sizeof(int32) * (Size) Max(ev->n_relevant, 1));
	FmRankUser *users = fm_budget_alloc(&ev->budget, sizeof(FmRankUser) * (Size) Max(ev->n_users, 1));
	int32	   *index = fm_budget_alloc(&ev->budget, sizeof(int32) * (Size) Max(ev->n_users, 1));
	int64		n_users = 0;
	int64		s = 0,
				r = 0,
				n_seen_items = 0,
				n_relevant_items = 0;

	qsort(ev->seen, ev->n_seen, sizeof(int64), compare_int64);
	for (int64 j = 0; j < ev->n_relevant; j++)
	{
		rel[j].user = ev->relevant_user[j];
		rel[j].item = ev->relevant_item[j];
	}
	qsort(rel, ev->n_relevant, sizeof(RelevantPair), compare_relevant);

	while (r < ev->n_relevant)
	{
		int64		u = rel[r].user;
		FmRankUser *ru = &users[n_users];
		int32		distinct_seen = 0;

		memset(ru, 0, sizeof(FmRankUser));
		while (s < ev->n_seen && (ev->seen[s] >> 32) < u)
			s++;
		ru->excluded = seen_items + n_seen_items;
		for (; s < ev->n_seen && (ev->seen[s] >> 32) == u; s++)
		{
			int32		item = (int32) (ev->seen[s] & 0xffffffff);

			if (ru->n_excluded == 0 || ru->excluded[ru->n_excluded - 1] != item)
				distinct_seen++;
			seen_items[n_seen_items + ru->n_excluded++] = item;
		}
		n_seen_items += ru->n_excluded;
		ru->relevant = relevant_items + n_relevant_items;
		for (int64 first = r; r < ev->n_relevant && rel[r].user == u; r++)
		{
			int32		i;

			if (r > first && rel[r].item == rel[r - 1].item)
				continue;		/* a test row repeated */
			i = id_map_find(ev->item_index, rel[r].item);
			if (i >= 0)
				relevant_items[n_relevant_items + ru->n_relevant++] = i;
			else
				ru->n_relevant_outside++;
		}
		n_relevant_items += ru->n_relevant;
		ru->query = ev->model.dim > 0 ? ev->user_query + u * ev->model.dim : NULL;
		if (distinct_seen < ev->n_items)
			index[n_users++] = (int32) u;
	}
	*n_out = n_users;
	*user_of = index;
	return users;
}

void
fm_eval_init(Evaluation *ev, double threshold)
{
	memset(ev, 0, sizeof(Evaluation));
	ev->cxt = AllocSetContextCreate(CurrentMemoryContext, "fm_evaluate", ALLOCSET_DEFAULT_SIZES);
	fm_budget_init(&ev->budget, ev->cxt);
	ev->threshold = threshold;
	ev->item_index = id_map_create("fm_evaluate items", ev->cxt);
	ev->user_index = id_map_create("fm_evaluate users", ev->cxt);
}

void
fm_eval_load_model(Model *m, const char *model_name)
{
	StringInfoData q;
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(model_name)};
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	Datum		features;
	Datum	   *elems;
	bool	   *nulls;

	initStringInfo(&q);
	/* (no feature_kinds before ALTER EXTENSION UPDATE: every column categorical) */
	appendStringInfo(&q, "SELECT m.k, m.w0, m.target_min, m.target_max, m.target, m.features, %s "
					 "FROM %s.fm_model m WHERE m.model OPERATOR(pg_catalog.=) $1",
					 fmrec_model_has_column("feature_kinds") ? "m.feature_kinds" : "NULL::pg_catalog.text[]",
					 fmrec_schema_quoted());
	if (SPI_execute_with_args(q.data, 1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "fm_evaluate: reading fm_model failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model_name),
				 errhint("Train it with fm_train_from_table(); SELECT model FROM fm_model lists the models.")));
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	m->dim = DatumGetInt32(SPI_getbinval(t, d, 1, &isnull));
	m->w0 = DatumGetFloat8(SPI_getbinval(t, d, 2, &isnull));
	m->target_min = DatumGetFloat8(SPI_getbinval(t, d, 3, &isnull));
	m->target_max = DatumGetFloat8(SPI_getbinval(t, d, 4, &isnull));
	m->target = TextDatumGetCString(SPI_getbinval(t, d, 5, &isnull));
	features = SPI_getbinval(t, d, 6, &isnull);
	deconstruct_array(DatumGetArrayTypeP(features), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &m->n_features);
	m->features = palloc(sizeof(char *) * Max(m->n_features, 1));
	for (int i = 0; i < m->n_features; i++)
		m->features[i] = TextDatumGetCString(elems[i]);
	m->kinds = palloc0(sizeof(FmFeatureKind) * Max(m->n_features, 1));	/* categorical */
	features = SPI_getbinval(t, d, 7, &isnull);
	if (!isnull)
	{
		int			n;

		deconstruct_array(DatumGetArrayTypeP(features), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		for (int i = 0; i < n && i < m->n_features; i++)
			if (nulls[i] || !fm_kind_from_name(TextDatumGetCString(elems[i]), &m->kinds[i]))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("model \"%s\" has an unknown feature kind for \"%s\"", model_name,
								m->features[i])));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * fm_evaluate(model, test, train, user_table, item_table, k, relevant_threshold,
 *             user_column, item_column, target, user_features)
 */
/*
 * The users reordered by group (a counting sort): group g's users are
 * [start[g], start[g + 1]).  Without group_by there is one group.
 */FmRankUser *
fm_eval_group_rank_users(Evaluation *ev, const FmRankUser *users, const int32 *user_of, int64 n,
				 int64 **start_out)
{
	int64	   *start = fm_budget_alloc(&ev->budget, sizeof(int64) * ((Size) ev->n_groups + 1));
	int64	   *next = fm_budget_alloc(&ev->budget, sizeof(int64) * ((Size) ev->n_groups + 1));
	FmRankUser *sorted = fm_budget_alloc(&ev->budget, sizeof(FmRankUser) * (Size) Max(n, 1));

	for (int64 j = 0; j < n; j++)
		start[(ev->grouped ? ev->user_group[user_of[j]] : 0) + 1]++;
	for (int32 g = 0; g < ev->n_groups; g++)
		start[g + 1] += start[g];
	memcpy(next, start, sizeof(int64) * ((Size) ev->n_groups + 1));
	for (int64 j = 0; j < n; j++)
		sorted[next[ev->grouped ? ev->user_group[user_of[j]] : 0]++] = users[j];
	*start_out = start;
	return sorted;
}

/*
 * fm_evaluate_popularity(test, train, item_table, k, relevant_threshold,
 *                        user_column, item_column, target, group_by, user_table)
 */

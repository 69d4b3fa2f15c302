/*
 * implicit.c - builds the contexts, items and observed pairs of
 * implicit-feedback training from source and catalogue rows (implicit.h).
 */
#include "implicit.h"
#include "rng.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A (feature id, x) entry, for sorting a row's context features. */
typedef struct Entry
{
	int32_t		id;
	float		x;
} Entry;

/* An observed row on its way to a pair. */
typedef struct RawPair
{
	int32_t		item;
	float		weight;
} RawPair;

static int
compare_raw_pairs(const void *a, const void *b)
{
	const RawPair *p = a,
			   *q = b;

	return (p->item > q->item) - (p->item < q->item);
}

static bool
is_item_feature(const FmDataset *rows, const FmImplicitSpec *spec, int32_t id)
{
	return spec->item_group[rows->feature_group[id]] != 0;
}

static bool
is_key_feature(const FmDataset *rows, const FmImplicitSpec *spec, int32_t id)
{
	return rows->feature_group[id] == spec->key_group;
}

/* The key feature of a row, or -1 when the row has none (a NULL key). */
static int32_t
row_key(const FmDataset *ds, const FmDataset *rows, const FmImplicitSpec *spec, int64_t r)
{
	for (int64_t p = fm_ds_begin(ds, r); p < fm_ds_end(ds, r); p++)
		if (is_key_feature(rows, spec, fm_ds_id(ds, p)))
			return fm_ds_id(ds, p);
	return -1;
}

/* The context features of row r, sorted by id (insertion sort: rows are short). */
static int32_t
context_entries(const FmDataset *rows, const FmImplicitSpec *spec, int64_t r, Entry *out)
{
	int32_t		n = 0;

	for (int64_t p = fm_ds_begin(rows, r); p < fm_ds_end(rows, r); p++)
	{
		Entry		e = {fm_ds_id(rows, p), fm_ds_x(rows, p)};
		int32_t		i = n++;

		if (is_item_feature(rows, spec, e.id))
		{
			n--;
			continue;
		}
		while (i > 0 && out[i - 1].id > e.id)
		{
			out[i] = out[i - 1];
			i--;
		}
		out[i] = e;
	}
	return n;
}

/*
 * ---- contexts: distinct sorted feature lists, found through a hash table ----
 *
 * A context is kept as its first row (its representative) while the rows
 * are read: its features are sorted again from that row when compared, so
 * that the table costs a few bytes per context rather than a copy of every
 * row's features; it grows by doubling, from the build's scratch.
 */

typedef struct ContextSlot
{
	int32_t		index;			/* context index + 1, 0 = empty */
	uint32_t	hash;
} ContextSlot;

typedef struct ContextTable
{
	const FmDataset *rows;
	const FmImplicitSpec *spec;
	int32_t		n;				/* contexts found so far */
	int64_t		capacity;		/* of first_row */
	int64_t    *first_row;		/* the representative row of each context */
	ContextSlot *slots;
	uint64_t	mask;
	Entry	   *other;			/* room for a representative's entries */
	const FmAllocator *scratch;
} ContextTable;

static uint64_t
entries_hash(const Entry *e, int32_t n)
{
	uint64_t	h = UINT64_C(1469598103934665603);

	for (int32_t i = 0; i < n; i++)
	{
		uint32_t	bits;

		memcpy(&bits, &e[i].x, sizeof(bits));
		h = (h ^ (uint32_t) e[i].id) * UINT64_C(1099511628211);
		h = (h ^ bits) * UINT64_C(1099511628211);
	}
	return h ^ (h >> 29);
}

static bool
context_equals(ContextTable *t, int32_t index, const Entry *e, int32_t n)
{
	if (context_entries(t->rows, t->spec, t->first_row[index], t->other) != n)
		return false;
	for (int32_t i = 0; i < n; i++)
		if (t->other[i].id != e[i].id || t->other[i].x != e[i].x)
			return false;
	return true;
}

/* Doubles the slots (the old ones stay in the scratch until it is freed). */
static void
grow_slots(ContextTable *t)
{
	uint64_t	size = (t->mask + 1) * 2;
	ContextSlot *slots = fm_alloc(t->scratch, (size_t) size * sizeof(ContextSlot));

	for (uint64_t i = 0; i <= t->mask; i++)
	{
		uint64_t	slot;

		if (t->slots[i].index == 0)
			continue;
		slot = t->slots[i].hash & (size - 1);
		while (slots[slot].index != 0)
			slot = (slot + 1) & (size - 1);
		slots[slot] = t->slots[i];
	}
	t->slots = slots;
	t->mask = size - 1;
}

/* The index of the context with these entries (those of row r), added when new. */
static int32_t
context_index(ContextTable *t, const Entry *e, int32_t n, int64_t r)
{
	uint32_t	hash = (uint32_t) entries_hash(e, n);
	uint64_t	slot = hash & t->mask;

	while (t->slots[slot].index != 0)
	{
		if (t->slots[slot].hash == hash && context_equals(t, t->slots[slot].index - 1, e, n))
			return t->slots[slot].index - 1;
		slot = (slot + 1) & t->mask;
	}
	if (t->n == t->capacity)
	{
		int64_t    *first_row = fm_alloc(t->scratch, (size_t) t->capacity * 2 * sizeof(int64_t));

		memcpy(first_row, t->first_row, (size_t) t->capacity * sizeof(int64_t));
		t->first_row = first_row;
		t->capacity *= 2;
	}
	t->first_row[t->n] = r;
	t->slots[slot].index = ++t->n;
	t->slots[slot].hash = hash;
	/* at most half full */
	if ((uint64_t) t->n * 2 > t->mask + 1)
		grow_slots(t);
	return t->n - 1;
}

/* The contexts' features, from their representative rows. */
static void
store_contexts(ContextTable *t, FmSparseRows *c, const FmAllocator *a)
{
	int64_t		total = 0;

	for (int32_t i = 0; i < t->n; i++)
		total += context_entries(t->rows, t->spec, t->first_row[i], t->other);
	c->n = t->n;
	c->start = fm_alloc(a, ((size_t) c->n + 1) * sizeof(int64_t));
	c->ids = fm_alloc(a, (size_t) total * sizeof(int32_t));
	c->x = fm_alloc(a, (size_t) total * sizeof(float));
	for (int32_t i = 0; i < t->n; i++)
	{
		int32_t		n = context_entries(t->rows, t->spec, t->first_row[i], t->other);
		int64_t		begin = c->start[i];

		for (int32_t j = 0; j < n; j++)
		{
			c->ids[begin + j] = t->other[j].id;
			c->x[begin + j] = t->other[j].x;
		}
		c->start[i + 1] = begin + n;
	}
}

/* ---- the catalogue ---- */

/* Item keys as numbers when every key is an integer, else catalogue positions. */
static void
set_item_ids(FmImplicitData *d, const int32_t *item_key, const FmImplicitSpec *spec)
{
	bool		numeric = spec->feature_value != NULL;

	for (int32_t i = 0; numeric && i < d->items.n; i++)
	{
		const char *text = spec->feature_value[item_key[i]];
		char	   *end;

		errno = 0;
		d->item_ids[i] = strtoll(text, &end, 10);
		numeric = errno == 0 && end != text && *end == '\0';
	}
	for (int32_t i = 0; !numeric && i < d->items.n; i++)
		d->item_ids[i] = i;
	/* distinct keys may still print as one number ("1", "01"): then positions */
	for (int32_t i = 0; numeric && i < d->items.n; i++)
		for (int32_t j = 0; j < i && numeric; j++)
			numeric = d->item_ids[i] != d->item_ids[j];
	for (int32_t i = 0; !numeric && i < d->items.n; i++)
		d->item_ids[i] = i;
}

static FmImplicitStatus
read_catalogue(const FmDataset *rows, const FmDataset *cat, const FmImplicitSpec *spec,
			   FmImplicitData *d, int32_t *item_of_key, FmImplicitProblem *problem,
			   const FmAllocator *a)
{
	FmSparseRows *items = &d->items;
	int32_t    *item_key;

	if (cat->n_rows == 0)
		return FM_IMPLICIT_EMPTY_CATALOGUE;
	items->n = (int32_t) cat->n_rows;
	items->start = fm_alloc(a, ((size_t) items->n + 1) * sizeof(int64_t));
	items->ids = fm_alloc(a, (size_t) cat->n_nonzeros * sizeof(int32_t));
	items->x = fm_alloc(a, (size_t) cat->n_nonzeros * sizeof(float));
	item_key = fm_alloc(a, (size_t) items->n * sizeof(int32_t));
	d->item_ids = fm_alloc(a, (size_t) items->n * sizeof(int64_t));
	for (int32_t i = 0; i < items->n; i++)
	{
		int32_t		key = row_key(cat, rows, spec, i);
		int64_t		n = items->start[i];

		problem->row = i;
		if (key < 0)
			return FM_IMPLICIT_CATALOGUE_ROW_WITHOUT_KEY;
		if (item_of_key[key] >= 0)
		{
			problem->feature = key;
			return FM_IMPLICIT_DUPLICATE_ITEM;
		}
		item_of_key[key] = i;
		item_key[i] = key;
		for (int64_t p = fm_ds_begin(cat, i); p < fm_ds_end(cat, i); p++)
		{
			if (!is_item_feature(rows, spec, fm_ds_id(cat, p)))
				continue;
			items->ids[n] = fm_ds_id(cat, p);
			items->x[n] = fm_ds_x(cat, p);
			n++;
		}
		items->start[i + 1] = n;
	}
	set_item_ids(d, item_key, spec);
	return FM_IMPLICIT_OK;
}

/* ---- pairs ---- */

/* Sort each context's raw pairs by item and merge repeats (weights add up). */
static int64_t
merge_pairs(RawPair *raw, int64_t *start, int32_t n_contexts)
{
	int64_t		out = 0;

	for (int32_t c = 0; c < n_contexts; c++)
	{
		int64_t		begin = start[c],
					end = start[c + 1];

		qsort(raw + begin, (size_t) (end - begin), sizeof(RawPair), compare_raw_pairs);
		start[c] = out;
		for (int64_t p = begin; p < end; p++)
		{
			if (out > start[c] && raw[out - 1].item == raw[p].item)
				raw[out - 1].weight += raw[p].weight;
			else
				raw[out++] = raw[p];
		}
	}
	start[n_contexts] = out;
	return out;
}

/*
 * Each pair is held out with probability validation_fraction; a context
 * keeps at least one training pair (its first), so that it has a vector.
 */
static void
split_pairs(FmImplicitData *d, const RawPair *raw, const int64_t *start, const FmImplicitSpec *spec,
			const FmAllocator *a, const FmAllocator *scratch)
{
	int64_t		total = start[d->contexts.n];
	uint8_t    *held = fm_alloc(scratch, (size_t) total + 1);
	FmRng		rng;
	int64_t		t = 0,
				v = 0;

	fm_rng_seed(&rng, spec->seed ^ UINT64_C(0x9E3779B97F4A7C15));
	for (int32_t c = 0; c < d->contexts.n; c++)
	{
		bool		kept = false;

		for (int64_t p = start[c]; p < start[c + 1]; p++)
		{
			held[p] = fm_rng_uniform(&rng) < spec->validation_fraction;
			kept |= !held[p];
		}
		if (!kept)
			held[start[c]] = 0;
		for (int64_t p = start[c]; p < start[c + 1]; p++)
			v += held[p];
	}
	d->n_valid = v;
	d->n_pairs = total - v;
	d->pair_context = fm_alloc(a, (size_t) d->n_pairs * sizeof(int32_t));
	d->pair_item = fm_alloc(a, (size_t) d->n_pairs * sizeof(int32_t));
	d->pair_weight = fm_alloc(a, (size_t) d->n_pairs * sizeof(float));
	d->valid_item = fm_alloc(a, (size_t) d->n_valid * sizeof(int32_t));
	d->valid_start = fm_alloc(a, ((size_t) d->contexts.n + 1) * sizeof(int64_t));
	d->by_context.start = fm_alloc(a, ((size_t) d->contexts.n + 1) * sizeof(int64_t));
	v = 0;
	for (int32_t c = 0; c < d->contexts.n; c++)
	{
		for (int64_t p = start[c]; p < start[c + 1]; p++)
		{
			if (held[p])
				d->valid_item[v++] = raw[p].item;
			else
			{
				d->pair_context[t] = c;
				d->pair_item[t] = raw[p].item;
				d->pair_weight[t] = raw[p].weight;
				t++;
			}
		}
		d->by_context.start[c + 1] = t;
		d->valid_start[c + 1] = v;
	}
}

/*
 * The pair lists of both sides: by context (the pairs themselves) and by
 * item (a stable counting sort).
 */
static void
index_pairs(FmImplicitData *d, const FmAllocator *a, const FmAllocator *scratch)
{
	FmPairLists *bc = &d->by_context,
			   *bi = &d->by_item;
	int64_t    *fill;

	bc->other = d->pair_item;
	bc->weight = d->pair_weight;

	bi->start = fm_alloc(a, ((size_t) d->items.n + 1) * sizeof(int64_t));
	bi->other = fm_alloc(a, (size_t) d->n_pairs * sizeof(int32_t));
	bi->weight = fm_alloc(a, (size_t) d->n_pairs * sizeof(float));
	for (int64_t p = 0; p < d->n_pairs; p++)
		bi->start[d->pair_item[p] + 1]++;
	for (int32_t i = 0; i < d->items.n; i++)
		bi->start[i + 1] += bi->start[i];
	fill = fm_alloc(scratch, ((size_t) d->items.n + 1) * sizeof(int64_t));
	memcpy(fill, bi->start, ((size_t) d->items.n + 1) * sizeof(int64_t));
	for (int64_t p = 0; p < d->n_pairs; p++)
	{
		int64_t		dst = fill[d->pair_item[p]]++;

		bi->other[dst] = d->pair_context[p];
		bi->weight[dst] = d->pair_weight[p];
	}
}

/* feature -> the entities of its side that have it, with x. */
static void
index_features(FmImplicitData *d, const FmAllocator *a, const FmAllocator *scratch)
{
	const FmSparseRows *sides[2] = {&d->contexts, &d->items};
	int64_t		total = d->contexts.start[d->contexts.n] + d->items.start[d->items.n];
	int64_t    *fill;

	d->feature_start = fm_alloc(a, ((size_t) d->n_features + 1) * sizeof(int64_t));
	d->feature_entity = fm_alloc(a, (size_t) total * sizeof(int32_t));
	d->feature_x = fm_alloc(a, (size_t) total * sizeof(float));
	for (int s = 0; s < 2; s++)
		for (int64_t p = 0; p < sides[s]->start[sides[s]->n]; p++)
			d->feature_start[sides[s]->ids[p] + 1]++;
	for (int32_t f = 0; f < d->n_features; f++)
		d->feature_start[f + 1] += d->feature_start[f];
	fill = fm_alloc(scratch, ((size_t) d->n_features + 1) * sizeof(int64_t));
	memcpy(fill, d->feature_start, ((size_t) d->n_features + 1) * sizeof(int64_t));
	for (int s = 0; s < 2; s++)
		for (int32_t e = 0; e < sides[s]->n; e++)
			for (int64_t p = sides[s]->start[e]; p < sides[s]->start[e + 1]; p++)
			{
				int64_t		dst = fill[sides[s]->ids[p]]++;

				d->feature_entity[dst] = e;
				d->feature_x[dst] = sides[s]->x[p];
			}
}

/* Whether row r is a positive (a pair), or what is wrong with it. */
static FmImplicitStatus
row_pair(const FmDataset *rows, const FmImplicitSpec *spec, const int32_t *item_of_key, int64_t r,
		 RawPair *pair, bool *positive, FmImplicitProblem *problem)
{
	int32_t		key = row_key(rows, rows, spec, r);
	double		target = fm_ds_target(rows, r);
	double		weight = 1.0 + spec->confidence * target;

	problem->row = r;
	problem->feature = key;
	*positive = false;
	if (key < 0)
		return FM_IMPLICIT_ROW_WITHOUT_ITEM;
	if (item_of_key[key] < 0)
		return FM_IMPLICIT_UNKNOWN_ITEM;
	if (!isnan(spec->positive_threshold) && !(target >= spec->positive_threshold))
		return FM_IMPLICIT_OK;
	if (!(weight > 0.0) || !isfinite((float) weight))
		return FM_IMPLICIT_BAD_CONFIDENCE;
	*positive = true;
	pair->item = item_of_key[key];
	pair->weight = (float) weight;
	return FM_IMPLICIT_OK;
}

FmImplicitStatus
fm_implicit_build(const FmDataset *rows, const FmDataset *catalogue, const FmImplicitSpec *spec,
				  FmImplicitData *out, FmImplicitProblem *problem, const FmAllocator *a)
{
	return fm_implicit_build_with(rows, catalogue, spec, out, problem, a, NULL);
}

/*
 * Three passes over the rows: the first checks them and counts the
 * positives, the second finds each positive's context, the third puts each
 * positive's (item, weight) straight into its context's place (a counting
 * sort, stable), so that neither a copy of the rows' features nor an
 * unsorted list of pairs is ever kept: 4 bytes per positive, then 8.
 */
FmImplicitStatus
fm_implicit_build_with(const FmDataset *rows, const FmDataset *catalogue, const FmImplicitSpec *spec,
					   FmImplicitData *out, FmImplicitProblem *problem, const FmAllocator *a,
					   const FmImplicitBuildMemory *memory)
{
	const FmAllocator *scratch = memory != NULL && memory->scratch != NULL ? memory->scratch : a;
	int32_t    *item_of_key = fm_alloc(scratch, ((size_t) rows->n_features + 1) * sizeof(int32_t));
	Entry	   *entries;
	RawPair    *raw;
	int32_t    *row_context;
	int64_t    *start;
	int64_t    *fill;
	int64_t		n_raw = 0;
	int32_t		longest = 1;
	ContextTable table;
	FmImplicitStatus status;

	memset(out, 0, sizeof(*out));
	memset(problem, 0, sizeof(*problem));
	out->n_features = rows->n_features;
	out->item_side = fm_alloc(a, (size_t) rows->n_features + 1);
	for (int32_t f = 0; f < rows->n_features; f++)
	{
		item_of_key[f] = -1;
		out->item_side[f] = is_item_feature(rows, spec, f);
	}
	status = read_catalogue(rows, catalogue, spec, out, item_of_key, problem, a);
	if (status != FM_IMPLICIT_OK)
		return status;

	for (int64_t r = 0; r < rows->n_rows; r++)
		if (fm_ds_end(rows, r) - fm_ds_begin(rows, r) > longest)
			longest = (int32_t) (fm_ds_end(rows, r) - fm_ds_begin(rows, r));
	entries = fm_alloc(scratch, (size_t) longest * sizeof(Entry));
	memset(&table, 0, sizeof(table));
	table.rows = rows;
	table.spec = spec;
	table.scratch = scratch;
	table.capacity = 1024;
	table.first_row = fm_alloc(scratch, (size_t) table.capacity * sizeof(int64_t));
	table.mask = 2047;
	table.slots = fm_alloc(scratch, (size_t) (table.mask + 1) * sizeof(ContextSlot));
	table.other = fm_alloc(scratch, (size_t) longest * sizeof(Entry));

	/* the rows checked and their positives counted first (cheap): the context of each positive next */
	for (int64_t r = 0; r < rows->n_rows; r++)
	{
		RawPair		pair;
		bool		positive;

		status = row_pair(rows, spec, item_of_key, r, &pair, &positive, problem);
		if (status != FM_IMPLICIT_OK)
			return status;
		n_raw += positive;
	}
	problem->row = 0;
	problem->feature = 0;
	problem->positives = n_raw;
	if (n_raw == 0)
		return FM_IMPLICIT_NO_POSITIVE;
	row_context = fm_alloc(scratch, (size_t) n_raw * sizeof(int32_t));
	for (int64_t r = 0, p = 0; r < rows->n_rows; r++)
	{
		RawPair		pair;
		bool		positive;

		(void) row_pair(rows, spec, item_of_key, r, &pair, &positive, problem);
		if (positive)
			row_context[p++] = context_index(&table, entries, context_entries(rows, spec, r, entries), r);
	}
	store_contexts(&table, &out->contexts, a);

	/* the raw pairs grouped by context, in row order within one */
	raw = fm_alloc(scratch, (size_t) n_raw * sizeof(RawPair));
	fill = fm_alloc(scratch, ((size_t) out->contexts.n + 1) * sizeof(int64_t));
	start = fm_alloc(scratch, ((size_t) out->contexts.n + 1) * sizeof(int64_t));
	for (int64_t p = 0; p < n_raw; p++)
		start[row_context[p] + 1]++;
	for (int32_t c = 0; c < out->contexts.n; c++)
		start[c + 1] += start[c];
	memcpy(fill, start, ((size_t) out->contexts.n + 1) * sizeof(int64_t));
	for (int64_t r = 0, p = 0; r < rows->n_rows; r++)
	{
		RawPair		pair;
		bool		positive;

		(void) row_pair(rows, spec, item_of_key, r, &pair, &positive, problem);
		if (positive)
			raw[fill[row_context[p++]]++] = pair;
	}
	problem->row = 0;
	problem->feature = 0;
	if (memory != NULL && memory->rows_done != NULL)
		memory->rows_done(memory->rows_done_arg);

	merge_pairs(raw, start, out->contexts.n);
	split_pairs(out, raw, start, spec, a, scratch);
	index_pairs(out, a, scratch);
	index_features(out, a, scratch);
	return FM_IMPLICIT_OK;
}

/*
 * Each array training reads, with its size when `sized` (reading the sizes
 * dereferences the list starts, which a participant's view cannot do
 * before its pointers are its own).
 */
static void
sparse_rows_arrays(FmSparseRows *rows, FmImplicitArrayFn fn, void *arg, bool sized)
{
	size_t		nonzeros = sized ? (size_t) rows->start[rows->n] : 0;

	fn((void **) &rows->ids, nonzeros * sizeof(int32_t), arg);
	fn((void **) &rows->x, nonzeros * sizeof(float), arg);
	fn((void **) &rows->start, ((size_t) rows->n + 1) * sizeof(int64_t), arg);
}

static void
training_arrays(FmImplicitData *d, FmImplicitArrayFn fn, void *arg, bool sized)
{
	size_t		pairs = (size_t) d->n_pairs;
	size_t		occurrences = sized ? (size_t) d->feature_start[d->n_features] : 0;

	sparse_rows_arrays(&d->contexts, fn, arg, sized);
	sparse_rows_arrays(&d->items, fn, arg, sized);
	fn((void **) &d->pair_context, pairs * sizeof(int32_t), arg);
	fn((void **) &d->pair_item, pairs * sizeof(int32_t), arg);
	fn((void **) &d->pair_weight, pairs * sizeof(float), arg);
	fn((void **) &d->by_context.start, ((size_t) d->contexts.n + 1) * sizeof(int64_t), arg);
	d->by_context.other = d->pair_item;
	d->by_context.weight = d->pair_weight;
	fn((void **) &d->by_item.other, pairs * sizeof(int32_t), arg);
	fn((void **) &d->by_item.weight, pairs * sizeof(float), arg);
	fn((void **) &d->by_item.start, ((size_t) d->items.n + 1) * sizeof(int64_t), arg);
	fn((void **) &d->feature_entity, occurrences * sizeof(int32_t), arg);
	fn((void **) &d->feature_x, occurrences * sizeof(float), arg);
	fn((void **) &d->feature_start, ((size_t) d->n_features + 1) * sizeof(int64_t), arg);
}

void
fm_implicit_training_arrays(FmImplicitData *d, FmImplicitArrayFn fn, void *arg)
{
	training_arrays(d, fn, arg, true);
}

static void
shift_array(void **array, size_t bytes, void *arg)
{
	(void) bytes;
	if (*array != NULL)
		*array = (char *) *array + *(const ptrdiff_t *) arg;
}

void
fm_implicit_training_view(FmImplicitData *d, ptrdiff_t delta)
{
	training_arrays(d, shift_array, &delta, false);
	/* what training never reads stays with the leader */
	d->item_side = NULL;
	d->item_ids = NULL;
	d->valid_start = NULL;
	d->valid_item = NULL;
}

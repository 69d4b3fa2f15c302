/*
 * dataset.c - allocation, splitting, canonical order and summaries of CSR
 * training rows.
 */
#include "dataset.h"
#include "rng.h"

#include <string.h>

/*
 * Each array may be padded up to the 64-byte alignment of the allocator, so
 * count that padding: the bound is used to refuse too large a training set
 * before allocating it.
 */
#define FM_ARRAY_SLACK 128

/*
 * The compact form (palette codes, no weights): what the source reader
 * builds for one-hot and categorical columns.
 */
size_t
fm_dataset_bytes(int64_t n_rows, int64_t n_nonzeros, int32_t n_features)
{
	size_t		bytes = 0;

	bytes += (size_t) (n_rows + 1) * sizeof(uint32_t);	/* row_start */
	bytes += (size_t) n_rows * sizeof(uint32_t);		/* row_index */
	bytes += (size_t) n_nonzeros * sizeof(int32_t);		/* ids */
	bytes += (size_t) n_rows * sizeof(float);			/* targets */
	bytes += (size_t) n_features * sizeof(int32_t);		/* feature_group */
	return bytes + 5 * FM_ARRAY_SLACK;
}

static void
palette_reset(FmDataset *ds)
{
	for (int c = 0; c < FM_X_CODES; c++)
		ds->palette[c] = 1.0f;
}

void
fm_dataset_alloc(FmDataset *ds, int64_t n_rows, int64_t n_nonzeros,
				 int32_t n_features, int32_t n_groups, const FmAllocator *a)
{
	ds->n_rows = n_rows;
	ds->n_nonzeros = n_nonzeros;
	ds->n_features = n_features;
	ds->n_groups = n_groups;
	ds->n_physical_rows = n_rows;
	ds->row_index = NULL;
	ds->row_start = fm_alloc(a, (size_t) (n_rows + 1) * sizeof(uint32_t));
	ds->ids = fm_alloc(a, (size_t) n_nonzeros * sizeof(int32_t));
	ds->weights = fm_alloc(a, (size_t) n_nonzeros * sizeof(float));
	palette_reset(ds);
	ds->targets = fm_alloc(a, (size_t) n_rows * sizeof(float));

	/*
	 * Always allocated (zeroed: every feature in group 0) so that callers can
	 * fill it without checking; NULL remains legal for hand-built datasets.
	 */
	ds->feature_group = fm_alloc(a, (size_t) n_features * sizeof(int32_t));
}

int32_t
fm_dataset_max_row_nonzeros(const FmDataset *ds)
{
	int64_t		most = 1;
	int64_t		n = fm_dataset_physical_rows(ds);

	/* the physical rows, in memory order: a sequential pass */
	for (int64_t q = 0; q < n; q++)
		if ((int64_t) ds->row_start[q + 1] - ds->row_start[q] > most)
			most = ds->row_start[q + 1] - ds->row_start[q];
	return (int32_t) most;
}

static inline uint32_t
float_bits(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

int
fm_x_code(float palette[FM_X_CODES], float x)
{
	uint32_t	bits = float_bits(x);

	/* unused entries are 1 too: the first entry equal to 1 after 0 is free */
	for (int c = 0; c < FM_X_CODES; c++)
	{
		if (float_bits(palette[c]) == bits)
			return c;
		if (c > 0 && float_bits(palette[c]) == float_bits(1.0f))
		{
			palette[c] = x;
			return c;
		}
	}
	return -1;
}

/*
 * The split draws one uniform number per row from a generator seeded with
 * `seed`; both passes below replay the same stream, so no per-row flag
 * array is needed.
 */
static bool
row_goes_to_validation(FmRng *rng, double fraction)
{
	return fm_rng_uniform(rng) < fraction;
}

static bool
is_identity(const uint32_t *index, int64_t n)
{
	for (int64_t r = 0; r < n; r++)
		if (index[r] != (uint32_t) r)
			return false;
	return true;
}

/*
 * The split as a partition of the rows in memory, when all's rows are in
 * their order (fm_dataset_apply_order: an identity row index) and the
 * validation rows fit in that index's memory, which is free then: train rows
 * move down in place, validation rows wait in the index and go after them.
 * Both parts are then plain runs of rows, read without an index (one random
 * read less per row of a shuffled epoch).  False, touching nothing, when it
 * cannot.
 */
static bool
split_in_memory(FmDataset *all, double fraction, uint64_t seed, int64_t valid_rows,
				int64_t valid_nz, FmDataset *train, FmDataset *valid)
{
	int64_t		n = all->n_rows;
	uint32_t   *buffer = all->row_index;
	int64_t		weight_words = all->weights != NULL ? valid_nz : 0;
	uint32_t   *lengths;
	float	   *targets;
	FmRng		rng;
	int64_t		out = 0,
				t = 0,
				v = 0,
				vw = 0;
	int64_t		begin;

	if (buffer == NULL || valid_nz + weight_words + 2 * valid_rows > n || !is_identity(buffer, n))
		return false;
	lengths = buffer + valid_nz + weight_words;
	targets = (float *) (lengths + valid_rows);
	fm_rng_seed(&rng, seed);
	begin = all->row_start[0];
	for (int64_t q = 0; q < n; q++)
	{
		int64_t		end = all->row_start[q + 1];	/* read before row_start[t + 1] is written */
		int64_t		len = end - begin;

		if (row_goes_to_validation(&rng, fraction))
		{
			if (len > 0)
			{
				memcpy(buffer + vw, all->ids + begin, (size_t) len * sizeof(int32_t));
				if (all->weights != NULL)
					memcpy(buffer + valid_nz + vw, all->weights + begin, (size_t) len * sizeof(float));
			}
			lengths[v] = (uint32_t) len;
			targets[v] = all->targets[q];
			v++;
			vw += len;
		}
		else
		{
			if (len > 0 && out != begin)
			{
				memmove(all->ids + out, all->ids + begin, (size_t) len * sizeof(int32_t));
				if (all->weights != NULL)
					memmove(all->weights + out, all->weights + begin, (size_t) len * sizeof(float));
			}
			all->targets[t] = all->targets[q];
			out += len;
			t++;
			all->row_start[t] = (uint32_t) out;
		}
		begin = end;
	}
	if (vw > 0)
	{
		memcpy(all->ids + out, buffer, (size_t) vw * sizeof(int32_t));
		if (all->weights != NULL)
			memcpy(all->weights + out, buffer + valid_nz, (size_t) vw * sizeof(float));
	}
	for (int64_t j = 0; j < v; j++)
	{
		all->row_start[t + j + 1] = all->row_start[t + j] + lengths[j];
		all->targets[t + j] = targets[j];
	}
	all->row_index = NULL;		/* its memory held the validation rows */

	*train = *all;
	train->n_rows = t;
	train->n_nonzeros = out;
	*valid = *all;
	valid->n_rows = v;
	valid->n_nonzeros = vw;
	valid->row_start = all->row_start + t;
	valid->targets = all->targets + t;
	return true;
}

void
fm_dataset_split(FmDataset *all, double fraction, uint64_t seed,
				 FmDataset *train, FmDataset *valid, const FmAllocator *a)
{
	FmRng		rng;
	int64_t		valid_rows = 0;
	int64_t		valid_nz = 0;
	int64_t		t_row = 0,
				v_row = 0;
	uint32_t   *moved;

	/* pass 1: sizes of both parts */
	fm_rng_seed(&rng, seed);
	for (int64_t r = 0; r < all->n_rows; r++)
	{
		if (row_goes_to_validation(&rng, fraction))
		{
			valid_rows++;
			valid_nz += fm_ds_end(all, r) - fm_ds_begin(all, r);
		}
	}
	if (split_in_memory(all, fraction, seed, valid_rows, valid_nz, train, valid))
		return;
	if (all->row_index == NULL)
	{
		all->row_index = fm_alloc(a, (size_t) all->n_rows * sizeof(uint32_t));
		for (int64_t r = 0; r < all->n_rows; r++)
			all->row_index[r] = (uint32_t) r;
	}

	/* pass 2: the same stream decides again; train rows move up in place */
	moved = fm_alloc(a, (size_t) valid_rows * sizeof(uint32_t));
	fm_rng_seed(&rng, seed);
	for (int64_t r = 0; r < all->n_rows; r++)
	{
		if (row_goes_to_validation(&rng, fraction))
			moved[v_row++] = all->row_index[r];
		else
			all->row_index[t_row++] = all->row_index[r];
	}
	memcpy(all->row_index + t_row, moved, (size_t) valid_rows * sizeof(uint32_t));

	*train = *all;
	train->n_rows = all->n_rows - valid_rows;
	train->n_nonzeros = all->n_nonzeros - valid_nz;
	*valid = *all;
	valid->n_rows = valid_rows;
	valid->n_nonzeros = valid_nz;
	valid->row_index = all->row_index + train->n_rows;
}

/* ---- canonical order ---- */

/* Elements merged (or rows rewritten) between two ticks: a few milliseconds. */
#define FM_SORT_TICK 65536

typedef struct Ticker
{
	void		(*tick) (void *);
	void	   *arg;
	int64_t		work;
} Ticker;

static inline void
ticker_add(Ticker *t, int64_t work)
{
	t->work += work;
	if (t->work >= FM_SORT_TICK)
	{
		t->work = 0;
		if (t->tick != NULL)
			t->tick(t->arg);
	}
}

/*
 * An element to sort: the key decides unless two keys are equal, then the
 * tie comparison looks at the elements themselves.  The key is what makes
 * the sort fast (most comparisons never leave the array being sorted).
 */
typedef struct SortItem
{
	uint64_t	key;
	int64_t		index;			/* row or feature */
} SortItem;

typedef int (*TieCompare) (int64_t a, int64_t b, const void *ctx);

static inline bool
item_before(const SortItem *x, const SortItem *y, TieCompare tie, const void *ctx)
{
	if (x->key != y->key)
		return x->key < y->key;
	return tie(x->index, y->index, ctx) < 0;
}

/*
 * Bottom-up merge sort into `scratch` (n items) and back: O(n log n)
 * whatever the input (no quadratic case to be hit by a hostile table), and
 * it can tick between any two elements, which qsort() cannot.
 */
static void
merge_sort(SortItem *items, int64_t n, SortItem *scratch, TieCompare tie, const void *ctx,
		   Ticker *t)
{
	SortItem   *from = items;
	SortItem   *to = scratch;

	for (int64_t width = 1; width < n; width *= 2)
	{
		SortItem   *swap;

		for (int64_t lo = 0; lo < n; lo += 2 * width)
		{
			int64_t		mid = lo + width < n ? lo + width : n;
			int64_t		hi = lo + 2 * width < n ? lo + 2 * width : n;
			int64_t		i = lo,
						j = mid,
						k = lo;

			while (i < mid && j < hi)
			{
				to[k++] = item_before(&from[j], &from[i], tie, ctx) ? from[j++] : from[i++];
				/* long merges (the last passes) tick as they go */
				if (((k - lo) & (FM_SORT_TICK - 1)) == 0)
					ticker_add(t, FM_SORT_TICK);
			}
			/* one of the runs is left over: it is in order already */
			memcpy(to + k, from + i, (size_t) (mid - i) * sizeof(SortItem));
			k += mid - i;
			memcpy(to + k, from + j, (size_t) (hi - j) * sizeof(SortItem));
			ticker_add(t, (hi - lo) & (FM_SORT_TICK - 1));
		}
		swap = from;
		from = to;
		to = swap;
	}
	if (from != items)
		memcpy(items, from, (size_t) n * sizeof(SortItem));
}

/*
 * LSD radix sort of items by key, 8 bits a pass, skipping the digits every
 * key shares (ids below 2^16 leave 4 of the 8 passes): a few linear passes
 * instead of log2(n) branchy merge passes.  `count` holds 8 x 256 counters,
 * scratch n items.
 */
static void
radix_sort(SortItem *items, int64_t n, SortItem *scratch, int64_t *count, Ticker *t)
{
	SortItem   *from = items;
	SortItem   *to = scratch;

	memset(count, 0, 8 * 256 * sizeof(int64_t));
	for (int64_t i = 0; i < n; i++)
	{
		for (int d = 0; d < 8; d++)
			count[d * 256 + ((from[i].key >> (8 * d)) & 255)]++;
		ticker_add(t, 1);
	}
	for (int d = 0; d < 8; d++)
	{
		int64_t    *offset = count + d * 256;
		int64_t		sum = 0;
		SortItem   *swap;

		if (n == 0 || offset[(from[0].key >> (8 * d)) & 255] == n)
			continue;			/* every key has this digit */
		for (int b = 0; b < 256; b++)
		{
			int64_t		c = offset[b];

			offset[b] = sum;
			sum += c;
		}
		for (int64_t i = 0; i < n; i++)
		{
			to[offset[(from[i].key >> (8 * d)) & 255]++] = from[i];
			ticker_add(t, 1);
		}
		swap = from;
		from = to;
		to = swap;
	}
	if (from != items)
		memcpy(items, from, (size_t) n * sizeof(SortItem));
}

/* Length of the run of items from `begin` that share its key. */
static int64_t
equal_key_run(const SortItem *items, int64_t begin, int64_t n)
{
	int64_t		run = 1;

	while (begin + run < n && items[begin + run].key == items[begin].key)
		run++;
	return run;
}

/* A float's bits as an unsigned number in the float's order (-0 before +0). */
static inline uint32_t
float_order(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return (u & UINT32_C(0x80000000)) ? ~u : (u | UINT32_C(0x80000000));
}

static inline int
compare_u32(uint32_t x, uint32_t y)
{
	return (x > y) - (x < y);
}

/* ---- feature values ---- */

/* A decimal integer as int8 and friends print it: optional '-', no leading zero. */
static bool
is_decimal_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Numeric order of two decimal integers of any length ("-0" just below "0"). */
static int
compare_decimal_integers(const char *x, const char *y)
{
	bool		x_negative = x[0] == '-';
	bool		y_negative = y[0] == '-';
	size_t		x_len = strlen(x);
	size_t		y_len = strlen(y);
	int			magnitude;

	if (x_negative != y_negative)
		return x_negative ? -1 : 1;
	if (x_len != y_len)
		magnitude = x_len < y_len ? -1 : 1;
	else
	{
		int			c = strcmp(x, y);

		magnitude = (c > 0) - (c < 0);
	}
	return x_negative ? -magnitude : magnitude;
}

/* Integers by value, before any other text; other text by its bytes. */
static int
compare_values(const char *x, const char *y)
{
	bool		x_integer = is_decimal_integer(x);
	bool		y_integer = is_decimal_integer(y);
	int			c;

	if (x_integer && y_integer)
		return compare_decimal_integers(x, y);
	if (x_integer != y_integer)
		return x_integer ? -1 : 1;
	c = strcmp(x, y);			/* compares as unsigned char */
	return (c > 0) - (c < 0);
}

typedef struct FeatureList
{
	const int32_t *group;		/* may be NULL: one group */
	const char *const *value;
} FeatureList;

static inline int32_t
group_of(const FeatureList *f, int64_t i)
{
	return f->group != NULL ? f->group[i] : 0;
}

static int
compare_features(int64_t x, int64_t y, const void *ctx)
{
	const FeatureList *f = ctx;
	int32_t		gx = group_of(f, x),
				gy = group_of(f, y);

	if (gx != gy)
		return gx < gy ? -1 : 1;
	return compare_values(f->value[x], f->value[y]);
}

#define FM_KEY_VALUE_BITS 47
#define FM_KEY_INTEGER_LIMIT (INT64_C(1) << (FM_KEY_VALUE_BITS - 1))
#define FM_KEY_TEXT_BYTES 5

/*
 * A feature's sort key, so that the radix sort orders almost everything and
 * few values are compared as strings: the group (16 bits, saturated), one bit
 * for text after integers, then 47 bits of value: an integer's value
 * saturated to +-2^46, or text's first 5 bytes.  Saturating and truncating
 * keep the key in the order compare_features gives (never reversed); only
 * values that share a key are compared in full.
 */
static uint64_t
feature_key(const FeatureList *f, int64_t i)
{
	int32_t		group = group_of(f, i);
	const char *value = f->value[i];
	uint64_t	key = (uint64_t) (group < 0 ? 0 : group > 0xFFFF ? 0xFFFF : group) << 48;

	if (is_decimal_integer(value))
	{
		bool		negative = value[0] == '-';
		int64_t		magnitude = 0;

		for (const char *c = value + negative; *c != '\0'; c++)
		{
			magnitude = magnitude * 10 + (*c - '0');
			if (magnitude >= FM_KEY_INTEGER_LIMIT)
			{
				magnitude = FM_KEY_INTEGER_LIMIT - (negative ? 0 : 1);
				break;
			}
		}
		return key | (uint64_t) (FM_KEY_INTEGER_LIMIT + (negative ? -magnitude : magnitude));
	}
	key |= UINT64_C(1) << FM_KEY_VALUE_BITS;
	for (int b = 0; b < FM_KEY_TEXT_BYTES && value[b] != '\0'; b++)
		key |= (uint64_t) (unsigned char) value[b] << (FM_KEY_VALUE_BITS - 8 * (b + 1));
	return key;
}

/*
 * 8 bytes of text from `offset` on, big-endian, zero after its end; the
 * caller knows the text has at least `offset` bytes.
 */
static uint64_t
text_key_at(const char *value, size_t offset)
{
	uint64_t	key = 0;
	const char *c = value + offset;
	int			b = 0;

	for (; b < 8 && *c != '\0'; b++, c++)
		key = key << 8 | (unsigned char) *c;
	return key << (8 * (8 - b));
}

/*
 * Features that share a key: the same group and class and, for text, the
 * same first `offset` bytes, none of them the end of a text (offset 0: do
 * not look further, compare).  Text that shares a long prefix
 * ("user-000123") would make a merge sort compare whole strings; keying on
 * the next 8 bytes and radix sorting again keeps the work linear in the
 * bytes that differ.  Small runs and integers (which tie only when
 * saturated, or "-0" with "0") are merge sorted.
 */
static void
sort_feature_ties(SortItem *items, int64_t n, const FeatureList *f, size_t offset,
				  SortItem *buffer, int64_t *count, Ticker *t)
{
	int64_t		run;

	if (offset == 0 || n < 16)
	{
		merge_sort(items, n, buffer, compare_features, f, t);
		return;
	}
	for (int64_t i = 0; i < n; i++)
		items[i].key = text_key_at(f->value[items[i].index], offset);
	radix_sort(items, n, buffer, count, t);
	for (int64_t begin = 0; begin < n; begin += run)
	{
		run = equal_key_run(items, begin, n);
		if (run > 1)		/* on if no text of the run ended in these 8 bytes */
			sort_feature_ties(items + begin, run, f, (items[begin].key & 255) ? offset + 8 : 0,
							  buffer, count, t);
	}
}

void
fm_feature_canonical_ids(int32_t n_features, const int32_t *feature_group,
						 const char *const *feature_value, int32_t *new_id,
						 void (*tick) (void *), void *tick_arg, const FmAllocator *scratch)
{
	Ticker		t = {tick, tick_arg, 0};
	SortItem   *items = fm_alloc(scratch, (size_t) n_features * sizeof(SortItem));
	SortItem   *buffer = fm_alloc(scratch, (size_t) n_features * sizeof(SortItem));
	int64_t    *count = fm_alloc(scratch, 8 * 256 * sizeof(int64_t));
	FeatureList features = {feature_group, feature_value};
	int64_t		run;

	for (int32_t f = 0; f < n_features; f++)
	{
		items[f].key = feature_key(&features, f);
		items[f].index = f;
		ticker_add(&t, 1);
	}
	radix_sort(items, n_features, buffer, count, &t);
	for (int64_t begin = 0; begin < n_features; begin += run)
	{
		run = equal_key_run(items, begin, n_features);
		if (run > 1)
		{
			uint64_t	key = items[begin].key;
			bool		text = (key >> FM_KEY_VALUE_BITS) & 1;
			bool		text_goes_on = (key >> (FM_KEY_VALUE_BITS - 8 * FM_KEY_TEXT_BYTES)) & 255;

			sort_feature_ties(items + begin, run, &features,
							  text && text_goes_on ? FM_KEY_TEXT_BYTES : 0, buffer, count, &t);
		}
	}
	for (int32_t i = 0; i < n_features; i++)
		new_id[items[i].index] = i;
}

/* ---- rows ---- */

/* The whole dataset's non-zeros (the physical ones). */
static int64_t
physical_nonzeros(const FmDataset *ds)
{
	return ds->row_start != NULL ? (int64_t) ds->row_start[ds->n_rows] : 0;
}

static void
renumber_features(FmDataset *ds, const int32_t *new_id, Ticker *t, const FmAllocator *scratch)
{
	int64_t		n = physical_nonzeros(ds);

	for (int64_t p = 0; p < n; p++)
	{
		uint32_t	word = (uint32_t) ds->ids[p];

		/* the code bits (x) stay */
		ds->ids[p] = (int32_t) ((word & ~FM_ID_MASK) | (uint32_t) new_id[word & FM_ID_MASK]);
		if ((p & (FM_SORT_TICK - 1)) == 0)
			ticker_add(t, FM_SORT_TICK);
	}
	if (ds->feature_group != NULL)
	{
		int32_t    *group = fm_alloc(scratch, (size_t) ds->n_features * sizeof(int32_t));

		for (int32_t f = 0; f < ds->n_features; f++)
			group[new_id[f]] = ds->feature_group[f];
		memcpy(ds->feature_group, group, (size_t) ds->n_features * sizeof(int32_t));
	}
}

/*
 * Insertion sort by id: rows are short (a few columns, small arrays).  A
 * word carries its x's code, so it moves with its id; weights, if any, too.
 */
static void
sort_row_by_id(int32_t *ids, float *weights, int64_t n)
{
	for (int64_t i = 1; i < n; i++)
	{
		int32_t		word = ids[i];
		uint32_t	id = (uint32_t) word & FM_ID_MASK;
		float		w = weights != NULL ? weights[i] : 0.0f;
		int64_t		j = i;

		for (; j > 0 && ((uint32_t) ids[j - 1] & FM_ID_MASK) > id; j--)
		{
			ids[j] = ids[j - 1];
			if (weights != NULL)
				weights[j] = weights[j - 1];
		}
		ids[j] = word;
		if (weights != NULL)
			weights[j] = w;
	}
}

/* Physical row q's id at position i + 1, 0 past its end: the id-list order in one compare. */
static inline uint64_t
id_key_at(const FmDataset *ds, int64_t q, int64_t i)
{
	int64_t		p = ds->row_start[q];
	int64_t		len = ds->row_start[q + 1] - p;

	return i < len ? (uint64_t) fm_ds_id(ds, p + i) + 1 : 0;
}

/* Id list (a shorter prefix first), then x list, then target; of physical rows. */
static int
compare_rows(int64_t x, int64_t y, const void *ctx)
{
	const FmDataset *ds = ctx;
	int64_t		px = ds->row_start[x],
				py = ds->row_start[y];
	int64_t		nx = ds->row_start[x + 1] - px,
				ny = ds->row_start[y + 1] - py;
	int64_t		n = nx < ny ? nx : ny;

	for (int64_t i = 0; i < n; i++)
		if (fm_ds_id(ds, px + i) != fm_ds_id(ds, py + i))
			return fm_ds_id(ds, px + i) < fm_ds_id(ds, py + i) ? -1 : 1;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	for (int64_t i = 0; i < n; i++)
	{
		int			c = compare_u32(float_order(fm_ds_x(ds, px + i)),
									float_order(fm_ds_x(ds, py + i)));

		if (c != 0)
			return c;
	}
	return compare_u32(float_order(ds->targets[x]), float_order(ds->targets[y]));
}

/*
 * Orders the physical rows into ds->row_index: a counting sort by the first
 * id (empty rows first) puts rows into groups that share it, linear in rows
 * and features; each group is then sorted on a key of the next two ids and
 * its ties compared in full.  Scratch: counters per feature and 32 bytes per
 * row of the largest group, not per row of the dataset.
 */
static void
order_rows(FmDataset *ds, Ticker *t, const FmAllocator *scratch)
{
	int64_t		n = ds->n_rows;
	int64_t		n_buckets = (int64_t) ds->n_features + 2;
	int64_t    *start = fm_alloc(scratch, (size_t) (n_buckets + 1) * sizeof(int64_t));
	int64_t		largest = 0;
	SortItem   *items;
	SortItem   *buffer;
	int64_t    *count;

	for (int64_t q = 0; q < n; q++)
	{
		start[id_key_at(ds, q, 0) + 1]++;
		ticker_add(t, 1);
	}
	for (int64_t b = 0; b < n_buckets; b++)
	{
		if (start[b + 1] > largest)
			largest = start[b + 1];
		start[b + 1] += start[b];
	}
	/* physical rows in order: each group keeps them ascending (then sorted) */
	for (int64_t q = 0; q < n; q++)
	{
		ds->row_index[start[id_key_at(ds, q, 0)]++] = (uint32_t) q;
		ticker_add(t, 1);
	}
	/* start[b] is now the end of group b */
	items = fm_alloc(scratch, (size_t) largest * sizeof(SortItem));
	buffer = fm_alloc(scratch, (size_t) largest * sizeof(SortItem));
	count = fm_alloc(scratch, 8 * 256 * sizeof(int64_t));
	for (int64_t b = 0, begin = 0; b < n_buckets; begin = start[b], b++)
	{
		int64_t		m = start[b] - begin;
		int64_t		run;

		if (m < 2)
			continue;
		for (int64_t i = 0; i < m; i++)
		{
			int64_t		q = ds->row_index[begin + i];

			items[i].key = id_key_at(ds, q, 1) << 32 | id_key_at(ds, q, 2);
			items[i].index = q;
		}
		radix_sort(items, m, buffer, count, t);
		for (int64_t i = 0; i < m; i += run)
		{
			run = equal_key_run(items, i, m);
			if (run > 1)
				merge_sort(items + i, run, buffer, compare_rows, ds, t);
		}
		for (int64_t i = 0; i < m; i++)
			ds->row_index[begin + i] = (uint32_t) items[i].index;
	}
}

void
fm_dataset_canonicalize(FmDataset *ds, const int32_t *new_id,
						void (*tick) (void *), void *tick_arg,
						const FmAllocator *a, const FmAllocator *scratch)
{
	Ticker		t = {tick, tick_arg, 0};

	if (new_id != NULL)
		renumber_features(ds, new_id, &t, scratch);
	if (ds->n_rows == 0)
		return;
	if (ds->row_index == NULL)
		ds->row_index = fm_alloc(a, (size_t) ds->n_rows * sizeof(uint32_t));
	for (int64_t q = 0; q < ds->n_rows; q++)
	{
		int64_t		begin = ds->row_start[q];

		/* (ids and weights may be NULL when no row has a non-zero) */
		if (ds->row_start[q + 1] - begin > 1)
			sort_row_by_id(ds->ids + begin, ds->weights != NULL ? ds->weights + begin : NULL,
						   ds->row_start[q + 1] - begin);
		ticker_add(&t, 1);
	}
	order_rows(ds, &t, scratch);
}

/* Passes over the non-zeros of fm_dataset_apply_order: its scratch is 1/FM_APPLY_PASSES of them. */
#define FM_APPLY_PASSES 8
#define FM_APPLY_PLACED (UINT32_C(1) << 31)

/*
 * In place, from the end: each pass gathers the last rows of the order not
 * yet placed (at most a chunk of non-zeros) into a buffer, moves the rows
 * still to place down to the front (keeping their order in memory, so every
 * move goes left), and writes the buffer after them, where those rows
 * belong.  Scratch: the chunk and the current offset of each row, not a
 * second copy of the non-zeros.  row_start holds the lengths meanwhile,
 * marked once placed.
 */
void
fm_dataset_apply_order(FmDataset *ds, void (*tick) (void *), void *tick_arg,
					   const FmAllocator *scratch)
{
	Ticker		t = {tick, tick_arg, 0};
	int64_t		n = ds->n_rows;
	int64_t		total = physical_nonzeros(ds);
	uint32_t   *len = ds->row_start;
	uint32_t   *offset;
	int64_t		chunk = total / FM_APPLY_PASSES + 1;
	int32_t    *ids_buffer;
	float	   *weights_buffer = NULL;
	float	   *targets;
	int64_t		end_r = n;

	if (ds->row_index == NULL || n == 0)
		return;
	offset = fm_alloc(scratch, (size_t) n * sizeof(uint32_t));
	for (int64_t q = 0; q < n; q++)
	{
		offset[q] = ds->row_start[q];
		len[q] = ds->row_start[q + 1] - offset[q];
		if (len[q] > chunk)
			chunk = len[q];		/* every pass places a row at least */
	}
	ids_buffer = fm_alloc(scratch, (size_t) chunk * sizeof(int32_t));
	if (ds->weights != NULL)
		weights_buffer = fm_alloc(scratch, (size_t) chunk * sizeof(float));
	while (end_r > 0)
	{
		int64_t		r0 = end_r;
		int64_t		words = 0;
		int64_t		out = 0;

		while (r0 > 0 && words + (len[ds->row_index[r0 - 1]] & ~FM_APPLY_PLACED) <= chunk)
		{
			r0--;
			words += len[ds->row_index[r0]] & ~FM_APPLY_PLACED;
		}
		words = 0;
		for (int64_t r = r0; r < end_r; r++)
		{
			int64_t		q = ds->row_index[r];

			if (len[q] > 0)
			{
				memcpy(ids_buffer + words, ds->ids + offset[q], (size_t) len[q] * sizeof(int32_t));
				if (weights_buffer != NULL)
					memcpy(weights_buffer + words, ds->weights + offset[q], (size_t) len[q] * sizeof(float));
			}
			words += len[q];
			len[q] |= FM_APPLY_PLACED;
			ticker_add(&t, 1);
		}
		for (int64_t q = 0; q < n; q++)
		{
			uint32_t	l = len[q];

			if (l & FM_APPLY_PLACED)
				continue;
			if (l > 0 && offset[q] != out)
			{
				memmove(ds->ids + out, ds->ids + offset[q], (size_t) l * sizeof(int32_t));
				if (weights_buffer != NULL)
					memmove(ds->weights + out, ds->weights + offset[q], (size_t) l * sizeof(float));
			}
			offset[q] = (uint32_t) out;
			out += l;
			ticker_add(&t, 1);
		}
		if (words > 0)
		{
			memcpy(ds->ids + out, ids_buffer, (size_t) words * sizeof(int32_t));
			if (weights_buffer != NULL)
				memcpy(ds->weights + out, weights_buffer, (size_t) words * sizeof(float));
		}
		end_r = r0;
	}

	/* the lengths in the new order, then the offsets; offset[] is free again */
	for (int64_t r = 0; r < n; r++)
		offset[r] = len[ds->row_index[r]] & ~FM_APPLY_PLACED;
	ds->row_start[0] = 0;
	for (int64_t r = 0; r < n; r++)
		ds->row_start[r + 1] = ds->row_start[r] + offset[r];
	targets = (float *) offset;
	for (int64_t r = 0; r < n; r++)
		targets[r] = ds->targets[ds->row_index[r]];
	memcpy(ds->targets, targets, (size_t) n * sizeof(float));
	/* kept as the identity: a split partitions it without allocating another */
	for (int64_t r = 0; r < n; r++)
		ds->row_index[r] = (uint32_t) r;
}

void
fm_dataset_target_range(const FmDataset *ds, double *min, double *max)
{
	double		lo = 0.0,
				hi = 0.0;

	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		t;

		fm_ds_prefetch_ahead(ds, NULL, r, ds->n_rows);
		t = fm_ds_target(ds, r);
		if (r == 0 || t < lo)
			lo = t;
		if (r == 0 || t > hi)
			hi = t;
	}
	*min = lo;
	*max = hi;
}

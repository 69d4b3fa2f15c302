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

size_t
fm_dataset_bytes(int64_t n_rows, int64_t n_nonzeros, int32_t n_features)
{
	size_t		bytes = 0;

	bytes += (size_t) (n_rows + 1) * sizeof(int64_t);	/* row_start */
	bytes += (size_t) n_nonzeros * sizeof(int32_t);		/* ids */
	bytes += (size_t) n_nonzeros * sizeof(float);		/* weights */
	bytes += (size_t) n_rows * sizeof(float);			/* targets */
	bytes += (size_t) n_features * sizeof(int32_t);		/* feature_group */
	return bytes + 5 * FM_ARRAY_SLACK;
}

void
fm_dataset_alloc(FmDataset *ds, int64_t n_rows, int64_t n_nonzeros,
				 int32_t n_features, int32_t n_groups, const FmAllocator *a)
{
	ds->n_rows = n_rows;
	ds->n_nonzeros = n_nonzeros;
	ds->n_features = n_features;
	ds->n_groups = n_groups;
	ds->row_start = fm_alloc(a, (size_t) (n_rows + 1) * sizeof(int64_t));
	ds->ids = fm_alloc(a, (size_t) n_nonzeros * sizeof(int32_t));
	ds->weights = fm_alloc(a, (size_t) n_nonzeros * sizeof(float));
	ds->targets = fm_alloc(a, (size_t) n_rows * sizeof(float));

	/*
	 * Always allocated (zeroed: every feature in group 0) so that callers can
	 * fill it without checking; NULL remains legal for hand-built datasets.
	 */
	ds->feature_group = fm_alloc(a, (size_t) n_features * sizeof(int32_t));
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

static void
copy_row(const FmDataset *src, int64_t row, FmDataset *dst, int64_t *dst_row, int64_t *dst_nz)
{
	int64_t		begin = src->row_start[row];
	int64_t		end = src->row_start[row + 1];

	for (int64_t p = begin; p < end; p++)
	{
		dst->ids[*dst_nz] = src->ids[p];
		dst->weights[*dst_nz] = src->weights[p];
		(*dst_nz)++;
	}
	dst->targets[*dst_row] = src->targets[row];
	(*dst_row)++;
	dst->row_start[*dst_row] = *dst_nz;
}

void
fm_dataset_split(const FmDataset *all, double fraction, uint64_t seed,
				 FmDataset *train, FmDataset *valid, const FmAllocator *a)
{
	FmRng		rng;
	int64_t		valid_rows = 0;
	int64_t		valid_nz = 0;
	int64_t		t_row = 0,
				t_nz = 0,
				v_row = 0,
				v_nz = 0;

	/* pass 1: sizes of both parts */
	fm_rng_seed(&rng, seed);
	for (int64_t r = 0; r < all->n_rows; r++)
	{
		if (row_goes_to_validation(&rng, fraction))
		{
			valid_rows++;
			valid_nz += all->row_start[r + 1] - all->row_start[r];
		}
	}

	fm_dataset_alloc(train, all->n_rows - valid_rows, all->n_nonzeros - valid_nz,
					 0, all->n_groups, a);
	fm_dataset_alloc(valid, valid_rows, valid_nz, 0, all->n_groups, a);
	train->n_features = valid->n_features = all->n_features;
	train->feature_group = valid->feature_group = all->feature_group;

	/* pass 2: the same stream decides again, now copying */
	fm_rng_seed(&rng, seed);
	train->row_start[0] = 0;
	valid->row_start[0] = 0;
	for (int64_t r = 0; r < all->n_rows; r++)
	{
		if (row_goes_to_validation(&rng, fraction))
			copy_row(all, r, valid, &v_row, &v_nz);
		else
			copy_row(all, r, train, &t_row, &t_nz);
	}
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
 * Sorts items by key, then each run of equal keys by the tie comparison.
 * The keys go through an LSD radix sort, 8 bits a pass, skipping the digits
 * every key shares (ids below 2^16 leave 4 of the 8 passes): a few linear
 * passes instead of log2(n) branchy merge passes.  Ties are rare when keys
 * are informative and are merge sorted run by run.
 */
static void
sort_items(SortItem *items, int64_t n, TieCompare tie, const void *ctx, Ticker *t,
		   const FmAllocator *a)
{
	int64_t    *count = fm_alloc(a, 8 * 256 * sizeof(int64_t));
	SortItem   *scratch = fm_alloc(a, (size_t) n * sizeof(SortItem));
	SortItem   *from = items;
	SortItem   *to = scratch;
	int64_t		run;

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

	for (int64_t begin = 0; begin < n; begin += run)
	{
		for (run = 1; begin + run < n && items[begin + run].key == items[begin].key; run++)
			;
		if (run > 1)
			merge_sort(items + begin, run, scratch, tie, ctx, t);
	}
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

static int
compare_features(int64_t x, int64_t y, const void *ctx)
{
	const char *const *value = ctx;

	return compare_values(value[x], value[y]);
}

void
fm_feature_canonical_ids(int32_t n_features, const int32_t *feature_group,
						 const char *const *feature_value, int32_t *new_id,
						 void (*tick) (void *), void *tick_arg, const FmAllocator *scratch)
{
	Ticker		t = {tick, tick_arg, 0};
	SortItem   *items = fm_alloc(scratch, (size_t) n_features * sizeof(SortItem));

	for (int32_t f = 0; f < n_features; f++)
	{
		items[f].key = feature_group != NULL ? (uint32_t) feature_group[f] : 0;
		items[f].index = f;
	}
	sort_items(items, n_features, compare_features, feature_value, &t, scratch);
	for (int32_t i = 0; i < n_features; i++)
		new_id[items[i].index] = i;
}

/* ---- rows ---- */

static void
renumber_features(FmDataset *ds, const int32_t *new_id, Ticker *t, const FmAllocator *a)
{
	for (int64_t p = 0; p < ds->n_nonzeros; p++)
	{
		ds->ids[p] = new_id[ds->ids[p]];
		if ((p & (FM_SORT_TICK - 1)) == 0)
			ticker_add(t, FM_SORT_TICK);
	}
	if (ds->feature_group != NULL)
	{
		int32_t    *group = fm_alloc(a, (size_t) ds->n_features * sizeof(int32_t));

		for (int32_t f = 0; f < ds->n_features; f++)
			group[new_id[f]] = ds->feature_group[f];
		ds->feature_group = group;
	}
}

/* Insertion sort by id: rows are short (a few columns, small arrays). */
static void
sort_row_by_id(int32_t *ids, float *weights, int64_t n)
{
	for (int64_t i = 1; i < n; i++)
	{
		int32_t		id = ids[i];
		float		w = weights[i];
		int64_t		j = i;

		for (; j > 0 && ids[j - 1] > id; j--)
		{
			ids[j] = ids[j - 1];
			weights[j] = weights[j - 1];
		}
		ids[j] = id;
		weights[j] = w;
	}
}

/* The first two ids (+1, 0 for none): the id-list order on them, in one compare. */
static uint64_t
row_key(const FmDataset *ds, int64_t r)
{
	int64_t		p = ds->row_start[r];
	int64_t		len = ds->row_start[r + 1] - p;
	uint64_t	first = len > 0 ? (uint64_t) ds->ids[p] + 1 : 0;
	uint64_t	second = len > 1 ? (uint64_t) ds->ids[p + 1] + 1 : 0;

	return first << 32 | second;
}

/* Id list (a shorter prefix first), then weight list, then target. */
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
		if (ds->ids[px + i] != ds->ids[py + i])
			return ds->ids[px + i] < ds->ids[py + i] ? -1 : 1;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	for (int64_t i = 0; i < n; i++)
	{
		int			c = compare_u32(float_order(ds->weights[px + i]),
									float_order(ds->weights[py + i]));

		if (c != 0)
			return c;
	}
	return compare_u32(float_order(ds->targets[x]), float_order(ds->targets[y]));
}

#if defined(__GNUC__)
#define FM_PREFETCH(address) __builtin_prefetch(address)
#else
#define FM_PREFETCH(address) ((void) 0)
#endif

/* Rows ahead of the copy whose memory is requested early: the reads are random. */
#define FM_PREFETCH_ROWS 8

static void
copy_rows_in_order(FmDataset *ds, const SortItem *order, Ticker *t, const FmAllocator *a)
{
	int64_t    *row_start = fm_alloc(a, (size_t) (ds->n_rows + 1) * sizeof(int64_t));
	int32_t    *ids = fm_alloc(a, (size_t) ds->n_nonzeros * sizeof(int32_t));
	float	   *weights = fm_alloc(a, (size_t) ds->n_nonzeros * sizeof(float));
	float	   *targets = fm_alloc(a, (size_t) ds->n_rows * sizeof(float));
	int64_t		nz = 0;

	row_start[0] = 0;
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		int64_t		src = order[r].index;
		int64_t		begin = ds->row_start[src];
		int64_t		len = ds->row_start[src + 1] - begin;

		if (r + 2 * FM_PREFETCH_ROWS < ds->n_rows)
			FM_PREFETCH(ds->row_start + order[r + 2 * FM_PREFETCH_ROWS].index);
		if (r + FM_PREFETCH_ROWS < ds->n_rows)
		{
			int64_t		ahead = order[r + FM_PREFETCH_ROWS].index;

			FM_PREFETCH(ds->ids + ds->row_start[ahead]);
			FM_PREFETCH(ds->weights + ds->row_start[ahead]);
			FM_PREFETCH(ds->targets + ahead);
		}

		memcpy(ids + nz, ds->ids + begin, (size_t) len * sizeof(int32_t));
		memcpy(weights + nz, ds->weights + begin, (size_t) len * sizeof(float));
		nz += len;
		targets[r] = ds->targets[src];
		row_start[r + 1] = nz;
		ticker_add(t, 1);
	}
	ds->row_start = row_start;
	ds->ids = ids;
	ds->weights = weights;
	ds->targets = targets;
}

void
fm_dataset_canonicalize(FmDataset *ds, const int32_t *new_id,
						void (*tick) (void *), void *tick_arg, const FmAllocator *a,
						const FmAllocator *scratch)
{
	Ticker		t = {tick, tick_arg, 0};
	SortItem   *order = fm_alloc(scratch, (size_t) ds->n_rows * sizeof(SortItem));

	if (new_id != NULL)
		renumber_features(ds, new_id, &t, a);
	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		int64_t		begin = ds->row_start[r];

		sort_row_by_id(ds->ids + begin, ds->weights + begin, ds->row_start[r + 1] - begin);
		order[r].key = row_key(ds, r);
		order[r].index = r;
		ticker_add(&t, 1);
	}
	sort_items(order, ds->n_rows, compare_rows, ds, &t, scratch);
	copy_rows_in_order(ds, order, &t, a);
}

void
fm_dataset_target_range(const FmDataset *ds, double *min, double *max)
{
	double		lo = 0.0,
				hi = 0.0;

	for (int64_t r = 0; r < ds->n_rows; r++)
	{
		double		t = ds->targets[r];

		if (r == 0 || t < lo)
			lo = t;
		if (r == 0 || t > hi)
			hi = t;
	}
	*min = lo;
	*max = hi;
}

/*
 * test_dataset.c - allocation, split, canonical order and target range of
 * datasets.
 */
#include "dataset.h"
#include "model.h"
#include "rng.h"
#include "unit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows r = 0 .. n-1 with 1 + r % 3 non-zeros: ids r, r+1, ..., target r. */
static void
make_rows(FmDataset *ds, int64_t n, const FmAllocator *a)
{
	int64_t		nnz = 0;

	for (int64_t r = 0; r < n; r++)
		nnz += 1 + r % 3;
	fm_dataset_alloc(ds, n, nnz, (int32_t) n + 3, 2, a);
	nnz = 0;
	for (int64_t r = 0; r < n; r++)
	{
		for (int j = 0; j < 1 + r % 3; j++)
		{
			ds->ids[nnz] = (int32_t) (r + j);
			ds->weights[nnz] = (float) (j + 1);
			nnz++;
		}
		ds->targets[r] = (float) r;
		ds->row_start[r + 1] = nnz;
	}
	for (int32_t f = 0; f < ds->n_features; f++)
		ds->feature_group[f] = f % 2;
}

static void
test_bytes_cover_the_arrays(void)
{
	/* row_start, row_index, targets, ids, groups: the compact form (no weights) */
	size_t		raw = 101 * 4 + 100 * 4 + 100 * 4 + 500 * 4 + 50 * 4;

	CHECK(fm_dataset_bytes(100, 500, 50) >= raw);
	CHECK(fm_dataset_bytes(100, 500, 50) < raw + 4096);
	CHECK(fm_dataset_bytes(200, 500, 50) > fm_dataset_bytes(100, 500, 50));
	CHECK(fm_dataset_bytes(100, 600, 50) > fm_dataset_bytes(100, 500, 50));
	CHECK(fm_dataset_bytes(0, 0, 0) > 0);
}

static void
test_alloc_is_zeroed_and_shaped(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	ds;
	bool		zero = true;

	fm_dataset_alloc(&ds, 10, 30, 7, 3, &a);
	CHECK(ds.n_rows == 10 && ds.n_nonzeros == 30);
	CHECK(ds.n_features == 7 && ds.n_groups == 3);
	CHECK(ds.feature_group != NULL);
	for (int i = 0; i <= 10; i++)
		zero &= ds.row_start[i] == 0;
	for (int i = 0; i < 30; i++)
		zero &= ds.ids[i] == 0 && ds.weights[i] == 0.0f;
	for (int i = 0; i < 7; i++)
		zero &= ds.feature_group[i] == 0;
	CHECK(zero);
	CHECK(((uintptr_t) ds.ids % 64) == 0 && ((uintptr_t) ds.weights % 64) == 0);
	CHECK(arena.bytes >= 30 * 8);
	fm_arena_free(&arena);
	CHECK(arena.blocks == NULL && arena.bytes == 0);
}

/* Every row of `part` is a row make_rows made (matched by target), with its non-zeros. */
static bool
rows_match_source(const FmDataset *part, const FmDataset *all)
{
	for (int64_t r = 0; r < part->n_rows; r++)
	{
		int64_t		src = (int64_t) fm_ds_target(part, r);
		int64_t		begin = fm_ds_begin(part, r);
		int64_t		len = fm_ds_end(part, r) - begin;

		if (src < 0 || src >= all->n_rows || len != 1 + src % 3)
			return false;
		for (int64_t j = 0; j < len; j++)
			if (fm_ds_id(part, begin + j) != src + j || fm_ds_x(part, begin + j) != (float) (j + 1))
				return false;
	}
	return true;
}

static bool
order_preserved(const FmDataset *part)
{
	for (int64_t r = 1; r < part->n_rows; r++)
		if (fm_ds_target(part, r) <= fm_ds_target(part, r - 1))
			return false;
	return true;
}

/* The split is a view: no row is copied, both parts read all's arrays. */
static void
test_split_is_a_view(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	all,
				train,
				valid;
	size_t		before;

	make_rows(&all, 2000, &a);
	before = arena.bytes;
	fm_dataset_split(&all, 0.2, 42, &train, &valid, &a);
	CHECK(train.ids == all.ids && valid.ids == all.ids && valid.targets == all.targets);
	CHECK(valid.row_index == train.row_index + train.n_rows);
	/* a row index for `all` (it had none) and the moved validation rows: 4 + 4 bytes a row at most */
	CHECK(arena.bytes - before <= 2000 * 8 + 4096);
	fm_arena_free(&arena);
}

static void
test_split_partitions_rows(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	all,
				train,
				valid;

	make_rows(&all, 2000, &a);
	fm_dataset_split(&all, 0.2, 42, &train, &valid, &a);
	CHECK(train.n_rows + valid.n_rows == 2000);
	CHECK(train.n_nonzeros + valid.n_nonzeros == all.n_nonzeros);
	CHECK_NEAR(valid.n_rows, 400, 60);
	CHECK(rows_match_source(&train, &all));
	CHECK(rows_match_source(&valid, &all));
	CHECK(order_preserved(&train) && order_preserved(&valid));
	CHECK(train.n_features == all.n_features && valid.n_groups == all.n_groups);
	CHECK(train.feature_group == all.feature_group);
	fm_arena_free(&arena);
}

static void
test_split_is_deterministic(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	all,
				t1,
				v1,
				t2,
				v2,
				t3,
				v3;

	bool		same = true,
				differ = false;

	/* a split reorders all's rows: split fresh copies */
	make_rows(&all, 500, &a);
	fm_dataset_split(&all, 0.3, 7, &t1, &v1, &a);
	make_rows(&all, 500, &a);
	fm_dataset_split(&all, 0.3, 7, &t2, &v2, &a);
	make_rows(&all, 500, &a);
	fm_dataset_split(&all, 0.3, 8, &t3, &v3, &a);
	CHECK(v1.n_rows == v2.n_rows);
	for (int64_t r = 0; r < v1.n_rows && r < v2.n_rows; r++)
		same &= fm_ds_target(&v1, r) == fm_ds_target(&v2, r);
	CHECK(same);
	differ = v1.n_rows != v3.n_rows;
	for (int64_t r = 0; !differ && r < v1.n_rows; r++)
		differ = fm_ds_target(&v1, r) != fm_ds_target(&v3, r);
	CHECK(differ);
	fm_arena_free(&arena);
}

static void
test_split_extremes(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	all,
				train,
				valid,
				empty,
				t0,
				v0;

	make_rows(&all, 100, &a);
	fm_dataset_split(&all, 0.0, 1, &train, &valid, &a);
	CHECK(train.n_rows == 100 && valid.n_rows == 0 && valid.n_nonzeros == 0);
	CHECK(memcmp(train.ids, all.ids, (size_t) all.n_nonzeros * sizeof(int32_t)) == 0);
	fm_dataset_split(&all, 1.0, 1, &train, &valid, &a);
	CHECK(train.n_rows == 0 && valid.n_rows == 100);

	fm_dataset_alloc(&empty, 0, 0, 0, 1, &a);
	fm_dataset_split(&empty, 0.5, 1, &t0, &v0, &a);
	CHECK(t0.n_rows == 0 && v0.n_rows == 0);
	fm_arena_free(&arena);
}

static void
test_target_range(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	ds;
	double		lo = -1,
				hi = -1;

	fm_dataset_alloc(&ds, 0, 0, 1, 1, &a);
	fm_dataset_target_range(&ds, &lo, &hi);
	CHECK(lo == 0.0 && hi == 0.0);

	fm_dataset_alloc(&ds, 4, 0, 1, 1, &a);
	ds.targets[0] = 3.0f;
	ds.targets[1] = -2.5f;
	ds.targets[2] = 7.0f;
	ds.targets[3] = 1.0f;
	fm_dataset_target_range(&ds, &lo, &hi);
	CHECK(lo == -2.5 && hi == 7.0);

	/* one row: both ends are that target, even if positive */
	ds.n_rows = 1;
	fm_dataset_target_range(&ds, &lo, &hi);
	CHECK(lo == 3.0 && hi == 3.0);
	fm_arena_free(&arena);
}


/* ---- canonical order ---- */

static void
test_canonical_ids_order_groups_then_values(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	/* feature f: group[f], value[f] */
	const int32_t group[] = {1, 0, 0, 0, 0, 1, 0, 0};
	const char *const value[] = {"b", "10", "9", "abc", "-3", "a", "007", "-12"};
	int32_t		new_id[8];

	fm_feature_canonical_ids(8, group, value, new_id, NULL, NULL, &a);
	/* group 0: integers by value (-12, -3, 9, 10), then text by bytes ("007", "abc") */
	CHECK(new_id[7] == 0);		/* -12 */
	CHECK(new_id[4] == 1);		/* -3 */
	CHECK(new_id[2] == 2);		/* 9 */
	CHECK(new_id[1] == 3);		/* 10 */
	CHECK(new_id[6] == 4);		/* 007: a leading zero is not how an integer prints */
	CHECK(new_id[3] == 5);		/* abc */
	/* group 1 after group 0 */
	CHECK(new_id[5] == 6);		/* a */
	CHECK(new_id[0] == 7);		/* b */

	/* without groups: one group; a value that is only a '-' is text */
	{
		const char *const v2[] = {"z", "-", "100000000000000000000", "-0", "0", "2"};
		int32_t		id2[6];

		fm_feature_canonical_ids(6, NULL, v2, id2, NULL, NULL, &a);
		CHECK(id2[3] == 0 && id2[4] == 1 && id2[5] == 2 && id2[2] == 3);
		CHECK(id2[1] == 4 && id2[0] == 5);
	}
	fm_arena_free(&arena);
}

/* The documented value order, written independently: the reference to check against. */
static bool
ref_is_integer(const char *s)
{
	size_t		i = s[0] == '-';

	if (s[i] < '0' || s[i] > '9' || (s[i] == '0' && s[i + 1] != '\0'))
		return false;
	for (; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int
ref_compare(const void *px, const void *py)
{
	const char *x = *(const char *const *) px;
	const char *y = *(const char *const *) py;
	bool		ix = ref_is_integer(x),
				iy = ref_is_integer(y);

	if (ix != iy)
		return ix ? -1 : 1;
	if (ix)
	{
		bool		nx = x[0] == '-',
					ny = y[0] == '-';
		int			c;

		if (nx != ny)
			return nx ? -1 : 1;
		c = strlen(x) != strlen(y) ? (strlen(x) < strlen(y) ? -1 : 1) : strcmp(x, y);
		return nx ? -c : c;
	}
	return strcmp(x, y);
}

static void
test_canonical_ids_long_prefixes_and_big_integers(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	enum
	{
		N = 3000
	};
	static char storage[N][40];
	const char *value[N];
	const char *sorted[N];
	int32_t		new_id[N];
	FmRng		rng;
	bool		same = true;

	fm_rng_seed(&rng, 5);
	for (int i = 0; i < N; i++)
	{
		switch (i % 6)
		{
			case 0:				/* a shared prefix longer than any key */
				snprintf(storage[i], sizeof(storage[i]), "user-%020d-x%d", i, i % 7);
				break;
			case 1:				/* prefixes of one another */
				snprintf(storage[i], sizeof(storage[i]), "user-%d", i);
				break;
			case 2:				/* integers past 2^46, both signs */
				snprintf(storage[i], sizeof(storage[i]), "%s%d00000000000000%d",
						 i % 4 == 2 ? "-" : "", 1 + i % 9, i);
				break;
			case 3:				/* small integers */
				snprintf(storage[i], sizeof(storage[i]), "%d", i - N / 2);
				break;
			case 4:				/* bytes above 127 */
				snprintf(storage[i], sizeof(storage[i]), "\xc3\xa9t\xc3\xa9-%d", i);
				break;
			default:			/* not integers: leading zeros, signs */
				snprintf(storage[i], sizeof(storage[i]), i % 4 == 1 ? "0%d" : "+%d", i);
				break;
		}
		value[i] = storage[i];
	}
	/* the "-0" and "0" pair */
	snprintf(storage[5], sizeof(storage[5]), "-0");
	snprintf(storage[11], sizeof(storage[11]), "0");
	/* seen in a random order */
	for (int i = N - 1; i > 0; i--)
	{
		int			j = (int) fm_rng_below(&rng, (uint64_t) i + 1);
		const char *swap = value[i];

		value[i] = value[j];
		value[j] = swap;
	}
	fm_feature_canonical_ids(N, NULL, value, new_id, NULL, NULL, &a);
	memcpy(sorted, value, sizeof(sorted));
	qsort(sorted, N, sizeof(sorted[0]), ref_compare);
	for (int i = 0; i < N; i++)
		same &= sorted[new_id[i]] == value[i];
	CHECK(same);
	fm_arena_free(&arena);
}

#define CANON_FEATURES 40
#define CANON_ROWS 3000

/*
 * A dataset as a source would deliver it: rows of 1..4 distinct features
 * with few distinct weights and targets (so that rows tie on prefixes, and
 * some are exact duplicates), -0 and +0 among the targets.
 */
static void
make_canon_rows(FmDataset *ds, const FmAllocator *a)
{
	FmRng		rng;
	int64_t		nz = 0;
	static const float targets[] = {1.0f, 2.5f, -0.0f, 0.0f, -1.0f};
	static const float weights[] = {1.0f, 0.5f, 0.25f};

	fm_dataset_alloc(ds, CANON_ROWS, (int64_t) CANON_ROWS * 4, CANON_FEATURES, 3, a);
	fm_rng_seed(&rng, 42);
	for (int64_t r = 0; r < CANON_ROWS; r++)
	{
		int			len = 1 + (int) fm_rng_below(&rng, 4);

		/* every tenth row repeats the one before */
		if (r > 0 && r % 10 == 0)
		{
			int64_t		p = ds->row_start[r - 1];

			len = (int) (ds->row_start[r] - p);
			memcpy(ds->ids + nz, ds->ids + p, len * sizeof(int32_t));
			memcpy(ds->weights + nz, ds->weights + p, len * sizeof(float));
			nz += len;
			ds->targets[r] = ds->targets[r - 1];
			ds->row_start[r + 1] = nz;
			continue;
		}
		for (int j = 0; j < len; j++)
		{
			int32_t		id;
			bool		fresh;

			do
			{
				id = (int32_t) fm_rng_below(&rng, CANON_FEATURES / (r % 7 == 0 ? 8 : 1));
				fresh = true;
				for (int64_t q = ds->row_start[r]; q < nz; q++)
					fresh &= ds->ids[q] != id;
			} while (!fresh);
			ds->ids[nz] = id;
			ds->weights[nz] = weights[fm_rng_below(&rng, 3)];
			nz++;
		}
		ds->targets[r] = targets[fm_rng_below(&rng, 5)];
		ds->row_start[r + 1] = nz;
	}
	ds->n_nonzeros = nz;
	for (int32_t f = 0; f < CANON_FEATURES; f++)
		ds->feature_group[f] = f % 3;
}

/*
 * The same rows read in another order: rows shuffled, each row's non-zeros
 * reversed, and feature ids given in another order (old f is perm[f]).
 */
static void
reorder_source(const FmDataset *in, const char *const *in_value, FmDataset *out,
			   const char **out_value, uint64_t seed, const FmAllocator *a)
{
	FmRng		rng;
	int32_t		perm[CANON_FEATURES];
	int32_t    *rows = fm_alloc(a, CANON_ROWS * sizeof(int32_t));
	int64_t		nz = 0;

	fm_rng_seed(&rng, seed);
	for (int32_t f = 0; f < CANON_FEATURES; f++)
		perm[f] = f;
	fm_rng_shuffle_int32(&rng, perm, CANON_FEATURES);
	for (int32_t r = 0; r < CANON_ROWS; r++)
		rows[r] = r;
	fm_rng_shuffle_int32(&rng, rows, CANON_ROWS);

	fm_dataset_alloc(out, in->n_rows, in->n_nonzeros, in->n_features, in->n_groups, a);
	for (int32_t f = 0; f < CANON_FEATURES; f++)
	{
		out->feature_group[perm[f]] = in->feature_group[f];
		out_value[perm[f]] = in_value[f];
	}
	for (int64_t r = 0; r < in->n_rows; r++)
	{
		int64_t		begin = in->row_start[rows[r]];

		for (int64_t p = in->row_start[rows[r] + 1] - 1; p >= begin; p--)
		{
			out->ids[nz] = perm[in->ids[p]];
			out->weights[nz] = in->weights[p];
			nz++;
		}
		out->targets[r] = in->targets[rows[r]];
		out->row_start[r + 1] = nz;
	}
}

static void
canonicalize_source(FmDataset *ds, const char *const *value, const char **canonical_value,
					const FmAllocator *a)
{
	FmAllocator keep = *a;
	int32_t		new_id[CANON_FEATURES];
	FmArena		scratch_arena = {0};
	FmAllocator scratch = fm_arena_allocator(&scratch_arena);

	fm_feature_canonical_ids(ds->n_features, ds->feature_group, value, new_id, NULL, NULL, &scratch);
	for (int32_t f = 0; f < ds->n_features; f++)
		canonical_value[new_id[f]] = value[f];
	fm_dataset_canonicalize(ds, new_id, NULL, NULL, &keep, &scratch);
	/* scratch is only for the sorts: AddressSanitizer sees any later use */
	fm_arena_free(&scratch_arena);
}

/* The same rows, in the same order, to the bit (as the trainers read them). */
static bool
same_bits(const FmDataset *x, const FmDataset *y)
{
	if (x->n_rows != y->n_rows || x->n_nonzeros != y->n_nonzeros ||
		memcmp(x->feature_group, y->feature_group, x->n_features * sizeof(int32_t)) != 0)
		return false;
	for (int64_t r = 0; r < x->n_rows; r++)
	{
		int64_t		bx = fm_ds_begin(x, r),
					by = fm_ds_begin(y, r);
		float		tx = fm_ds_target(x, r),
					ty = fm_ds_target(y, r);

		if (fm_ds_end(x, r) - bx != fm_ds_end(y, r) - by || memcmp(&tx, &ty, sizeof(float)) != 0)
			return false;
		for (int64_t i = 0; i < fm_ds_end(x, r) - bx; i++)
		{
			float		wx = fm_ds_x(x, bx + i),
						wy = fm_ds_x(y, by + i);

			if (fm_ds_id(x, bx + i) != fm_ds_id(y, by + i) || memcmp(&wx, &wy, sizeof(float)) != 0)
				return false;
		}
	}
	return true;
}

static void
test_canonical_order_ignores_read_order(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	char		names[CANON_FEATURES][16];
	const char *value[CANON_FEATURES];
	const char *value_b[CANON_FEATURES];
	const char *value_c[CANON_FEATURES];
	const char *canon_a[CANON_FEATURES];
	const char *canon_b[CANON_FEATURES];
	const char *canon_c[CANON_FEATURES];
	FmDataset	ds_a,
				ds_b,
				ds_c;
	bool		same_values = true;

	for (int32_t f = 0; f < CANON_FEATURES; f++)
	{
		/* group 0 integers, the others text */
		snprintf(names[f], sizeof(names[f]), f % 3 == 0 ? "%d" : "v%d", (f * 17) % 41 - 20);
		value[f] = names[f];
	}
	make_canon_rows(&ds_a, &a);
	reorder_source(&ds_a, value, &ds_b, value_b, 7, &a);
	reorder_source(&ds_a, value, &ds_c, value_c, 8, &a);
	CHECK(!same_bits(&ds_b, &ds_c));	/* the test means something */

	canonicalize_source(&ds_a, value, canon_a, &a);
	canonicalize_source(&ds_b, value_b, canon_b, &a);
	canonicalize_source(&ds_c, value_c, canon_c, &a);
	CHECK(same_bits(&ds_a, &ds_b));
	CHECK(same_bits(&ds_a, &ds_c));
	for (int32_t f = 0; f < CANON_FEATURES; f++)
		same_values &= canon_a[f] == canon_b[f] && canon_a[f] == canon_c[f];
	CHECK(same_values);
	fm_arena_free(&arena);
}

/* Bits of a float in its order, -0 before +0 (mirrors the documented order). */
static int
float_cmp(float x, float y)
{
	if (x != y)
		return x < y ? -1 : 1;
	return (signbit(y) != 0) - (signbit(x) != 0);
}

static void
test_canonical_order_is_sorted_and_keeps_rows(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	ds;
	int32_t		identity[CANON_FEATURES];
	double		weight_sum_before = 0,
				weight_sum_after = 0,
				target_sum_before = 0,
				target_sum_after = 0;
	int			neg_zero_before = 0,
				neg_zero_after = 0;
	bool		ids_ascend = true,
				rows_ascend = true;
	int32_t    *groups_before;

	make_canon_rows(&ds, &a);
	for (int32_t f = 0; f < CANON_FEATURES; f++)
		identity[f] = f;
	for (int64_t p = 0; p < ds.n_nonzeros; p++)
		weight_sum_before += ds.weights[p] * (ds.ids[p] + 1);
	for (int64_t r = 0; r < ds.n_rows; r++)
	{
		target_sum_before += ds.targets[r];
		neg_zero_before += ds.targets[r] == 0 && signbit(ds.targets[r]);
	}
	groups_before = ds.feature_group;

	/* NULL keeps ids and groups; identity renumbers to the same */
	fm_dataset_canonicalize(&ds, NULL, NULL, NULL, &a, &a);
	CHECK(ds.feature_group == groups_before);
	CHECK(ds.n_rows == CANON_ROWS);

	for (int64_t r = 0; r < ds.n_rows; r++)
	{
		int64_t		b = fm_ds_begin(&ds, r),
					e = fm_ds_end(&ds, r);

		for (int64_t p = b; p < e; p++)
			weight_sum_after += fm_ds_x(&ds, p) * (fm_ds_id(&ds, p) + 1);
		target_sum_after += fm_ds_target(&ds, r);
		neg_zero_after += fm_ds_target(&ds, r) == 0 && signbit(fm_ds_target(&ds, r));
		for (int64_t p = b + 1; p < e; p++)
			ids_ascend &= fm_ds_id(&ds, p - 1) < fm_ds_id(&ds, p);
		if (r > 0)
		{
			int64_t		pb = fm_ds_begin(&ds, r - 1);
			int64_t		nprev = fm_ds_end(&ds, r - 1) - pb,
						ncur = e - b;
			int64_t		n = nprev < ncur ? nprev : ncur;
			int			c = 0;

			for (int64_t i = 0; i < n && c == 0; i++)
				c = (fm_ds_id(&ds, pb + i) > fm_ds_id(&ds, b + i)) -
					(fm_ds_id(&ds, pb + i) < fm_ds_id(&ds, b + i));
			if (c == 0)
				c = (nprev > ncur) - (nprev < ncur);
			for (int64_t i = 0; i < n && c == 0; i++)
				c = float_cmp(fm_ds_x(&ds, pb + i), fm_ds_x(&ds, b + i));
			if (c == 0)
				c = float_cmp(fm_ds_target(&ds, r - 1), fm_ds_target(&ds, r));
			rows_ascend &= c <= 0;
		}
	}
	CHECK(ids_ascend);
	CHECK(rows_ascend);
	CHECK(weight_sum_after == weight_sum_before);	/* same (id, weight) pairs; exact in double */
	CHECK(target_sum_after == target_sum_before);
	CHECK(neg_zero_after == neg_zero_before && neg_zero_before > 0);

	{
		FmDataset	again;

		/* a copy of its own: the canonicalisation works in place */
		fm_dataset_alloc(&again, ds.n_rows, ds.n_nonzeros, ds.n_features, ds.n_groups, &a);
		memcpy(again.row_start, ds.row_start, (ds.n_rows + 1) * sizeof(uint32_t));
		memcpy(again.ids, ds.ids, ds.n_nonzeros * sizeof(int32_t));
		memcpy(again.weights, ds.weights, ds.n_nonzeros * sizeof(float));
		memcpy(again.targets, ds.targets, ds.n_rows * sizeof(float));
		memcpy(again.feature_group, ds.feature_group, ds.n_features * sizeof(int32_t));
		fm_dataset_canonicalize(&again, identity, NULL, NULL, &a, &a);
		CHECK(again.ids != ds.ids && same_bits(&ds, &again));
	}
	fm_arena_free(&arena);
}

static void make_compact_rows(FmDataset *ds, const FmAllocator *a);

/* Moving the rows into their order in memory changes nothing a trainer reads. */
static void
test_apply_order_keeps_the_view(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	indexed,
				moved,
				compact,
				compact_moved;
	bool		ascending = true;

	make_canon_rows(&indexed, &a);
	make_canon_rows(&moved, &a);
	fm_dataset_canonicalize(&indexed, NULL, NULL, NULL, &a, &a);
	fm_dataset_canonicalize(&moved, NULL, NULL, NULL, &a, &a);
	fm_dataset_apply_order(&moved, NULL, NULL, &a);
	CHECK(indexed.row_index != NULL && moved.row_index != NULL && moved.row_index[7] == 7);
	CHECK(same_bits(&indexed, &moved));
	for (int64_t r = 0; r < moved.n_rows; r++)
		ascending &= moved.row_start[r] <= moved.row_start[r + 1];
	CHECK(ascending && moved.row_start[moved.n_rows] == moved.n_nonzeros);

	/* the compact form (codes, no weights) too */
	make_compact_rows(&compact, &a);
	make_compact_rows(&compact_moved, &a);
	fm_dataset_canonicalize(&compact, NULL, NULL, NULL, &a, &a);
	fm_dataset_canonicalize(&compact_moved, NULL, NULL, NULL, &a, &a);
	fm_dataset_apply_order(&compact_moved, NULL, NULL, &a);
	CHECK(compact_moved.weights == NULL && same_bits(&compact, &compact_moved));
	fm_arena_free(&arena);
}

/*
 * A split of rows moved into their order partitions them in memory (no
 * index); the parts read exactly as the parts of the index split.
 */
static void
test_split_in_memory_reads_as_the_index_split(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);

	for (int form = 0; form < 2; form++)
	{
		FmDataset	indexed,
					moved,
					t1,
					v1,
					t2,
					v2;

		if (form == 0)
		{
			make_compact_rows(&indexed, &a);
			make_compact_rows(&moved, &a);
		}
		else
		{
			make_canon_rows(&indexed, &a);	/* with weights */
			make_canon_rows(&moved, &a);
		}
		fm_dataset_canonicalize(&indexed, NULL, NULL, NULL, &a, &a);
		fm_dataset_canonicalize(&moved, NULL, NULL, NULL, &a, &a);
		fm_dataset_apply_order(&moved, NULL, NULL, &a);
		fm_dataset_split(&indexed, 0.1, 11, &t1, &v1, &a);
		fm_dataset_split(&moved, 0.1, 11, &t2, &v2, &a);
		CHECK(t1.row_index != NULL && t2.row_index == NULL && v2.row_index == NULL);
		CHECK(same_bits(&t1, &t2) && same_bits(&v1, &v2));
		CHECK(v2.n_rows > 0 && fm_dataset_max_row_nonzeros(&t2) >= 1);
	}
	fm_arena_free(&arena);
}

static int	ticks;

static void
count_tick(void *arg)
{
	(void) arg;
	ticks++;
}

static void
test_canonical_order_ticks_and_empty(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	FmDataset	ds;
	int64_t		n = 200000;

	fm_dataset_alloc(&ds, n, n, 1, 1, &a);
	for (int64_t r = 0; r < n; r++)
	{
		ds.ids[r] = 0;
		ds.weights[r] = 1.0f;
		ds.targets[r] = (float) ((r * 7919) % 1000);
		ds.row_start[r + 1] = r + 1;
	}
	ticks = 0;
	fm_dataset_canonicalize(&ds, NULL, count_tick, NULL, &a, &a);
	/* about 20 merge passes over n items: a tick every 64k elements */
	CHECK(ticks >= 40);
	CHECK(fm_ds_target(&ds, 0) == 0.0f && fm_ds_target(&ds, n - 1) == 999.0f);

	/* ids over three bytes: several radix passes, every row a key of its own */
	{
		int32_t		n_features = 70001;
		bool		ascending = true,
					kept = true;

		fm_dataset_alloc(&ds, n_features, 2 * (int64_t) n_features, n_features, 1, &a);
		for (int64_t r = 0; r < n_features; r++)
		{
			ds.ids[2 * r] = (int32_t) ((r * 7919) % n_features);
			ds.ids[2 * r + 1] = (int32_t) ((r * 104729 + 5) % n_features);
			ds.weights[2 * r] = ds.weights[2 * r + 1] = 1.0f;
			ds.targets[r] = (float) r;
			ds.row_start[r + 1] = 2 * (r + 1);
		}
		fm_dataset_canonicalize(&ds, NULL, NULL, NULL, &a, &a);
		for (int64_t r = 0; r < n_features; r++)
		{
			int64_t		src = (int64_t) fm_ds_target(&ds, r);
			int32_t		x = (int32_t) ((src * 7919) % n_features);
			int32_t		y = (int32_t) ((src * 104729 + 5) % n_features);
			int64_t		p = fm_ds_begin(&ds, r);

			kept &= fm_ds_id(&ds, p) == (x < y ? x : y) && fm_ds_id(&ds, p + 1) == (x < y ? y : x);
			if (r > 0)
			{
				int64_t		q = fm_ds_begin(&ds, r - 1);

				ascending &= fm_ds_id(&ds, q) < fm_ds_id(&ds, p) ||
					(fm_ds_id(&ds, q) == fm_ds_id(&ds, p) && fm_ds_id(&ds, q + 1) <= fm_ds_id(&ds, p + 1));
			}
		}
		CHECK(kept);
		CHECK(ascending);
	}

	/* rows without any non-zero (every feature NULL): ordered by target alone */
	{
		static const float t3[] = {2.0f, -1.0f, 0.0f, -0.0f};

		fm_dataset_alloc(&ds, 4, 0, 0, 1, &a);
		ds.ids = NULL;
		ds.weights = NULL;
		memcpy(ds.targets, t3, sizeof(t3));
		fm_dataset_canonicalize(&ds, NULL, NULL, NULL, &a, &a);
		CHECK(fm_ds_target(&ds, 0) == -1.0f && signbit(fm_ds_target(&ds, 1)) &&
			  fm_ds_target(&ds, 1) == 0.0f && !signbit(fm_ds_target(&ds, 2)) &&
			  fm_ds_target(&ds, 3) == 2.0f);
		CHECK(ds.row_start[4] == 0);
	}

	fm_dataset_alloc(&ds, 0, 0, 0, 1, &a);
	fm_dataset_canonicalize(&ds, NULL, count_tick, NULL, &a, &a);
	CHECK(ds.n_rows == 0 && ds.row_start[0] == 0);
	fm_arena_free(&arena);
}

#define COMPACT_ROWS 10000
#define COMPACT_FEATURES 1140

/*
 * A MovieLens-shaped dataset as the source reader builds it: 7 non-zeros a
 * row (user, item, 3 metadata columns, 2 genres at x = 1/2), no weights.
 */
static void
make_compact_rows(FmDataset *ds, const FmAllocator *a)
{
	int64_t		nz = 0;
	int			half;

	memset(ds, 0, sizeof(*ds));
	ds->n_rows = ds->n_physical_rows = COMPACT_ROWS;
	ds->n_nonzeros = (int64_t) COMPACT_ROWS * 7;
	ds->n_features = COMPACT_FEATURES;
	ds->n_groups = 6;
	ds->row_start = fm_alloc(a, (COMPACT_ROWS + 1) * sizeof(uint32_t));
	ds->ids = fm_alloc(a, (size_t) ds->n_nonzeros * sizeof(int32_t));
	ds->targets = fm_alloc(a, COMPACT_ROWS * sizeof(float));
	ds->feature_group = fm_alloc(a, COMPACT_FEATURES * sizeof(int32_t));
	for (int c = 0; c < FM_X_CODES; c++)
		ds->palette[c] = 1.0f;
	half = fm_x_code(ds->palette, 0.5f);
	for (int64_t r = 0; r < COMPACT_ROWS; r++)
	{
		int32_t		user = (int32_t) ((r * 7919) % 100);
		int32_t		item = (int32_t) (100 + (r * 104729) % 1000);

		/* as read: not in id order */
		ds->ids[nz++] = item;
		ds->ids[nz++] = user;
		ds->ids[nz++] = 1100 + user % 7;
		ds->ids[nz++] = 1107 + user % 2;
		ds->ids[nz++] = 1109 + user % 11;
		ds->ids[nz++] = (int32_t) ((1120 + item % 10) | (uint32_t) half << FM_ID_BITS);
		ds->ids[nz++] = (int32_t) ((1130 + item % 10) | (uint32_t) half << FM_ID_BITS);
		ds->targets[r] = (float) (1 + r % 5);
		ds->row_start[r + 1] = (uint32_t) nz;
	}
}

/*
 * The bytes per rating the training data costs, counted (not measured):
 * 4 per non-zero, 4 for the row offset, 4 for the target, 4 for the row
 * index of the canonical order, and 4 per validation row moved by the
 * split; the canonical sort's scratch is bounded by the largest group of
 * rows sharing their first feature, not by the rows.
 */
static void
test_compact_bytes_per_rating(void)
{
	FmArena		kept_arena = {0},
				scratch_arena = {0};
	FmAllocator kept = fm_arena_allocator(&kept_arena);
	FmAllocator scratch = fm_arena_allocator(&scratch_arena);
	FmDataset	ds,
				train,
				valid;
	size_t		data;
	int			half;

	make_compact_rows(&ds, &kept);
	data = (COMPACT_ROWS + 1) * 4 + (size_t) COMPACT_ROWS * 7 * 4 + COMPACT_ROWS * 4 +
		COMPACT_FEATURES * 4;
	CHECK(kept_arena.bytes == data);
	fm_dataset_canonicalize(&ds, NULL, NULL, NULL, &kept, &scratch);
	CHECK(kept_arena.bytes == data + COMPACT_ROWS * 4);
	/* 100 users: the largest group of rows is 100 rows, 32 bytes each */
	CHECK(scratch_arena.bytes == (COMPACT_FEATURES + 3) * 8 + 2 * 100 * 16 + 8 * 256 * 8);
	fm_dataset_split(&ds, 0.1, 3, &train, &valid, &kept);
	CHECK(kept_arena.bytes == data + COMPACT_ROWS * 4 + (size_t) valid.n_rows * 4);
	/* 40 bytes a rating (28 + 4 + 4 + 4), 40.4 with the split, 40.9 with the groups at this size */
	CHECK((double) kept_arena.bytes / COMPACT_ROWS < 41.0);
	CHECK(train.n_nonzeros + valid.n_nonzeros == (int64_t) COMPACT_ROWS * 7);

	/* what the trainers read: ids in order, x = 1 or 1/2 */
	{
		int32_t		ids[7];
		float		xs[7];
		bool		ok = true;

		for (int64_t r = 0; r < train.n_rows; r++)
		{
			ok &= fm_ds_row(&train, r, ids, xs) == 7;
			for (int i = 0; i < 7; i++)
				ok &= xs[i] == (ids[i] >= 1120 ? 0.5f : 1.0f) && (i == 0 || ids[i - 1] < ids[i]);
		}
		CHECK(ok);
	}
	half = fm_x_code(ds.palette, 0.5f);
	CHECK(half == 1 && fm_x_code(ds.palette, 1.0f) == 0);
	fm_arena_free(&kept_arena);
	fm_arena_free(&scratch_arena);
}

/* A full palette asks for weights; predictions read in place equal those of decoded rows, bit for bit. */
static void
test_palette_and_row_prediction(void)
{
	FmArena		arena = {0};
	FmAllocator a = fm_arena_allocator(&arena);
	float		palette[FM_X_CODES];
	FmDataset	ds,
				train,
				valid;
	FmModel		m;
	FmRng		rng;
	float		sum[8];
	bool		same = true;

	for (int c = 0; c < FM_X_CODES; c++)
		palette[c] = 1.0f;
	for (int n = 2; n <= 8; n++)
		CHECK(fm_x_code(palette, 1.0f / (float) n) == n - 1);
	CHECK(fm_x_code(palette, 1.0f / 9.0f) == -1);
	CHECK(fm_x_code(palette, 1.0f / 5.0f) == 4);
	CHECK(fm_x_code(palette, -0.0f) == -1);	/* bits, not value */

	make_compact_rows(&ds, &a);
	fm_dataset_canonicalize(&ds, NULL, NULL, NULL, &a, &a);
	fm_dataset_split(&ds, 0.5, 9, &train, &valid, &a);
	fm_model_alloc(&m, COMPACT_FEATURES, 8, &a);
	fm_model_init_random(&m, 3.0, 0.1, 5);
	fm_rng_seed(&rng, 1);
	for (int32_t f = 0; f < COMPACT_FEATURES; f++)
		m.w[f] = (float) fm_rng_normal(&rng);
	for (int64_t r = 0; r < valid.n_rows; r++)
	{
		int32_t		ids[7];
		float		xs[7];
		int32_t		n = fm_ds_row(&valid, r, ids, xs);
		double		decoded = fm_model_predict_raw(&m, ids, xs, n, sum);
		double		in_place = fm_model_predict_row(&m, &valid, r, sum);

		same &= memcmp(&decoded, &in_place, sizeof(double)) == 0;
	}
	CHECK(same);
	fm_arena_free(&arena);
}

int
main(void)
{
	RUN_TEST(test_bytes_cover_the_arrays);
	RUN_TEST(test_alloc_is_zeroed_and_shaped);
	RUN_TEST(test_split_partitions_rows);
	RUN_TEST(test_split_is_a_view);
	RUN_TEST(test_compact_bytes_per_rating);
	RUN_TEST(test_palette_and_row_prediction);
	RUN_TEST(test_apply_order_keeps_the_view);
	RUN_TEST(test_split_in_memory_reads_as_the_index_split);
	RUN_TEST(test_split_is_deterministic);
	RUN_TEST(test_split_extremes);
	RUN_TEST(test_target_range);
	RUN_TEST(test_canonical_ids_order_groups_then_values);
	RUN_TEST(test_canonical_ids_long_prefixes_and_big_integers);
	RUN_TEST(test_canonical_order_ignores_read_order);
	RUN_TEST(test_canonical_order_is_sorted_and_keeps_rows);
	RUN_TEST(test_canonical_order_ticks_and_empty);
	return unit_report();
}

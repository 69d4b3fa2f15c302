/*
 * test_dataset.c - allocation, split and target range of datasets.
 */
#include "dataset.h"
#include "unit.h"

#include <stdbool.h>
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
	size_t		raw = 101 * 8 + 100 * 4 + 500 * 8 + 50 * 4;

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

/* Every row of `part` is a row of `all` (matched by target), with the same non-zeros. */
static bool
rows_match_source(const FmDataset *part, const FmDataset *all)
{
	for (int64_t r = 0; r < part->n_rows; r++)
	{
		int64_t		src = (int64_t) part->targets[r];
		int64_t		len = part->row_start[r + 1] - part->row_start[r];

		if (src < 0 || src >= all->n_rows ||
			len != all->row_start[src + 1] - all->row_start[src])
			return false;
		if (memcmp(part->ids + part->row_start[r], all->ids + all->row_start[src],
				   (size_t) len * sizeof(int32_t)) != 0 ||
			memcmp(part->weights + part->row_start[r], all->weights + all->row_start[src],
				   (size_t) len * sizeof(float)) != 0)
			return false;
	}
	return true;
}

static bool
order_preserved(const FmDataset *part)
{
	for (int64_t r = 1; r < part->n_rows; r++)
		if (part->targets[r] <= part->targets[r - 1])
			return false;
	return true;
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
	CHECK(train.row_start[train.n_rows] == train.n_nonzeros);
	CHECK(valid.row_start[valid.n_rows] == valid.n_nonzeros);
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

	make_rows(&all, 500, &a);
	fm_dataset_split(&all, 0.3, 7, &t1, &v1, &a);
	fm_dataset_split(&all, 0.3, 7, &t2, &v2, &a);
	fm_dataset_split(&all, 0.3, 8, &t3, &v3, &a);
	CHECK(v1.n_rows == v2.n_rows);
	CHECK(memcmp(v1.targets, v2.targets, (size_t) v1.n_rows * sizeof(float)) == 0);
	CHECK(v1.n_rows != v3.n_rows ||
		  memcmp(v1.targets, v3.targets, (size_t) v1.n_rows * sizeof(float)) != 0);
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

int
main(void)
{
	RUN_TEST(test_bytes_cover_the_arrays);
	RUN_TEST(test_alloc_is_zeroed_and_shaped);
	RUN_TEST(test_split_partitions_rows);
	RUN_TEST(test_split_is_deterministic);
	RUN_TEST(test_split_extremes);
	RUN_TEST(test_target_range);
	return unit_report();
}

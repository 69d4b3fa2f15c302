/*
 * fm_memory.c - the training memory budget and the core's allocator.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "fm_memory.h"

int			fmrec_max_training_memory_kb = 4 * 1024 * 1024;	/* 4 GB */

void
fm_budget_init(FmBudget *budget, MemoryContext context)
{
	budget->context = context;
	budget->used = 0;
	budget->peak = 0;
	budget->limit = (Size) fmrec_max_training_memory_kb * 1024;
}

void
fm_budget_charge(FmBudget *budget, Size bytes)
{
	if (bytes > budget->limit || budget->used > budget->limit - bytes)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("training needs more than fmrec.max_training_memory (%.1f MB)",
						budget->limit / 1048576.0),
				 errdetail("%.1f MB are in use and %.1f MB more were requested.",
						   budget->used / 1048576.0, bytes / 1048576.0),
				 errhint("Train on fewer rows or a smaller k, or raise fmrec.max_training_memory.")));
	budget->used += bytes;
	budget->peak = Max(budget->peak, budget->used);
}

void *
fm_budget_alloc(FmBudget *budget, Size bytes)
{
	fm_budget_charge(budget, bytes);
	return MemoryContextAllocExtended(budget->context, Max(bytes, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

void *
fm_budget_grow(FmBudget *budget, void *array, Size elem_size, int64 *capacity, int64 needed)
{
	int64		new_capacity = Max(*capacity, 1024);

	if (needed <= *capacity && array != NULL)
		return array;
	/*
	 * An eighth more at a time: the headroom of a table read without knowing
	 * its size is bounded to 12.5%, and large arrays grow by realloc, which
	 * remaps their pages rather than copying them.
	 */
	while (new_capacity < needed)
		new_capacity += Max(new_capacity / 8, 1024);
	fm_budget_charge(budget, (Size) (new_capacity - *capacity) * elem_size);
	if (array == NULL)
		array = MemoryContextAllocExtended(budget->context, (Size) new_capacity * elem_size, MCXT_ALLOC_HUGE);
	else
		array = repalloc_huge(array, (Size) new_capacity * elem_size);
	*capacity = new_capacity;
	return array;
}

void *
fm_budget_shrink(FmBudget *budget, void *array, Size elem_size, int64 *capacity, int64 n)
{
	n = Max(n, 1);
	if (array == NULL || n >= *capacity)
		return array;
	array = repalloc_huge(array, (Size) n * elem_size);
	budget->used -= Min((Size) (*capacity - n) * elem_size, budget->used);
	*capacity = n;
	return array;
}

void
fm_budget_free(FmBudget *budget, void *array, Size bytes)
{
	if (array == NULL)
		return;
	pfree(array);
	budget->used -= Min(bytes, budget->used);
}

/* The core expects 64-byte alignment (cache lines, vector loads). */
static void *
budget_alloc_aligned(size_t bytes, void *arg)
{
	FmBudget   *budget = (FmBudget *) arg;
	char	   *raw = fm_budget_alloc(budget, bytes + 64);

	return (void *) TYPEALIGN(64, raw);
}

FmAllocator
fm_budget_allocator(FmBudget *budget)
{
	FmAllocator a;

	a.alloc = budget_alloc_aligned;
	a.arg = budget;
	return a;
}

static void *
scratch_alloc_aligned(size_t bytes, void *arg)
{
	FmScratch  *scratch = (FmScratch *) arg;
	char	   *raw;

	fm_budget_charge(scratch->budget, bytes + 64);
	scratch->charged += bytes + 64;
	raw = MemoryContextAllocExtended(scratch->context, bytes + 64, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	return (void *) TYPEALIGN(64, raw);
}

FmAllocator
fm_scratch_begin(FmScratch *scratch, FmBudget *budget)
{
	FmAllocator a;

	scratch->budget = budget;
	scratch->charged = 0;
	/* a child of the training context: an error frees it with the rest */
	scratch->context = AllocSetContextCreate(budget->context, "fmrec scratch", ALLOCSET_DEFAULT_SIZES);
	a.alloc = scratch_alloc_aligned;
	a.arg = scratch;
	return a;
}

void
fm_scratch_end(FmScratch *scratch)
{
	MemoryContextDelete(scratch->context);
	scratch->context = NULL;
	scratch->budget->used -= Min(scratch->charged, scratch->budget->used);
	scratch->charged = 0;
}

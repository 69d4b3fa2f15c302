/*
 * fm_memory.h - a memory budget for training.
 *
 * Training data and model live in one memory context that is deleted as a
 * whole when training ends or fails.  Every big allocation is charged to a
 * budget first, so a data set that would exceed fmrec.max_training_memory is
 * a clear ERROR (53200) before the memory is taken, never an OOM kill.
 */
#ifndef FMREC_FM_MEMORY_H
#define FMREC_FM_MEMORY_H

#include "postgres.h"

#include "core/fm_core.h"

typedef struct FmBudget
{
	MemoryContext context;
	Size		used;
	Size		peak;			/* the most `used` has been: memory can be given back */
	Size		limit;
} FmBudget;

/* The GUC fmrec.max_training_memory, in kB. */
extern int	fmrec_max_training_memory_kb;

extern void fm_budget_init(FmBudget *budget, MemoryContext context);
/* Charges `bytes` (raising an error past the limit) and allocates them zeroed. */
extern void *fm_budget_alloc(FmBudget *budget, Size bytes);
/* Grows an array of *capacity elements of elem_size to at least `needed`. */
extern void *fm_budget_grow(FmBudget *budget, void *array, Size elem_size, int64 *capacity, int64 needed);
/* Gives back the capacity of an array of fm_budget_grow beyond n elements. */
extern void *fm_budget_shrink(FmBudget *budget, void *array, Size elem_size, int64 *capacity, int64 n);
/* Frees an array of fm_budget_alloc (bytes as charged) or fm_budget_grow (its capacity). */
extern void fm_budget_free(FmBudget *budget, void *array, Size bytes);
/* Charges bytes allocated elsewhere (hash tables, strings). */
extern void fm_budget_charge(FmBudget *budget, Size bytes);
/* An FmAllocator for the core that allocates from the budget. */
extern FmAllocator fm_budget_allocator(FmBudget *budget);

/*
 * Scratch memory for one step (a sort's buffers): charged to the budget
 * while it lives, freed and given back all at once by fm_scratch_end.
 */
typedef struct FmScratch
{
	FmBudget   *budget;
	MemoryContext context;
	Size		charged;
} FmScratch;

extern FmAllocator fm_scratch_begin(FmScratch *scratch, FmBudget *budget);
extern void fm_scratch_end(FmScratch *scratch);

#endif							/* FMREC_FM_MEMORY_H */

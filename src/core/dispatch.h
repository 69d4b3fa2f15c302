/*
 * dispatch.h - runtime dispatch of the hot kernels to the best instruction
 * set of the CPU.
 *
 * FM_DISPATCH makes GCC compile a clone of a function per target and an
 * ifunc resolver pick the best one the CPU supports when the library is
 * loaded (as pgvector does for its distance functions).  Kernels written
 * with a fixed order of additions return the same bits from every clone
 * because the build disables FMA contraction.
 */
#ifndef FM_DISPATCH_H
#define FM_DISPATCH_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
	defined(__linux__) && !defined(FM_NO_TARGET_CLONES)
#define FM_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FM_HAVE_DISPATCH 1
#else
#define FM_DISPATCH
#define FM_HAVE_DISPATCH 0
#endif

#endif							/* FM_DISPATCH_H */

/*
 * vec.h - float4 vector kernels: the hot path of scoring and training.
 *
 * Loops are written so the compiler vectorises them; on x86-64 the hot ones
 * are compiled for several instruction sets and the best one the CPU has is
 * picked once at load time (GCC target_clones / ifunc).  Sums accumulate in
 * float lanes and are reduced in double at the end: enough for k <= 16000.
 */
#ifndef FM_VEC_H
#define FM_VEC_H

#include <stddef.h>
#include <stdint.h>

/* sum_i a[i] * b[i] */
extern float fm_vec_dot(const float *a, const float *b, size_t n);
/* sqrt(sum_i a[i]^2) */
extern double fm_vec_norm(const float *a, size_t n);
/* y[i] += alpha * x[i] */
extern void fm_vec_axpy(float *y, float alpha, const float *x, size_t n);
/* out[i] = a[i] + b[i]; out[i] = a[i] - b[i]; out[i] = a[i] * s */
extern void fm_vec_add(float *out, const float *a, const float *b, size_t n);
extern void fm_vec_sub(float *out, const float *a, const float *b, size_t n);
extern void fm_vec_scale(float *out, const float *a, float s, size_t n);
/* acc[i] += a[i] in double: aggregates keep double state so long sums stay exact */
extern void fm_vec_accum_double(double *acc, const float *a, size_t n);
/* true when every element is finite (no NaN, no +-Inf) */
extern int	fm_vec_all_finite(const float *a, size_t n);
/* true when a[i] == b[i] for all i (so -0 == 0, like float4 '=') */
extern int	fm_vec_equal(const float *a, const float *b, size_t n);

/* Name of the instruction set the dispatcher chose for fm_vec_dot ("avx512f", "avx2", "default"). */
extern const char *fm_vec_isa(void);

#endif							/* FM_VEC_H */

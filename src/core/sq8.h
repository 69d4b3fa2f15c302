/*
 * sq8.h - 8-bit scalar quantisation of float vectors, for approximate inner
 * products with a rigorous error bound.
 *
 * A set of n vectors of dimension dim (one inverted list of an index) gets
 * a range per dimension, lo[d] and step[d], and every component becomes a
 * code c in 0..255 with y[d] ~ lo[d] + step[d] * c.  A query q then scores a
 * vector from its codes as
 *
 *     base + sum_d w[d] * c[d],   w[d] = q[d] * step[d],  base = q . lo
 *
 * reading a quarter of the bytes of the floats.  fm_sq8_prepare() also
 * returns a bound e on |that score - fm_vec_dot(q, y)| (quantisation plus
 * the rounding of both computations), so a caller can select candidates by
 * the approximate scores and rescore only the ones whose interval reaches
 * the best: the final answer is exactly that of scoring every float.
 *
 * Codes are stored in blocks of FM_SQ8_BLOCK vectors, dimension-major within
 * a block (the 16 codes of dimension d of 16 vectors are adjacent): the
 * scoring loop then keeps one accumulator lane per vector and needs no
 * horizontal sum, which is what makes it fast.  The last block is padded
 * with zero codes; their scores are computed and must be ignored.
 */
#ifndef FM_SQ8_H
#define FM_SQ8_H

#include "fm_core.h"

#define FM_SQ8_BLOCK 16

/* Vectors rounded up to whole blocks; bytes of the codes of n vectors. */
static inline size_t
fm_sq8_padded(size_t n)
{
	return (n + FM_SQ8_BLOCK - 1) / FM_SQ8_BLOCK * FM_SQ8_BLOCK;
}

static inline size_t
fm_sq8_codes_size(size_t n, int32_t dim)
{
	return fm_sq8_padded(n) * (size_t) dim;
}

/*
 * The range of each dimension over n row-major vectors (lo = minimum, step
 * = (maximum - minimum) / 255, rounded up; 0 for a constant dimension).
 * Values must be finite.
 */
extern void fm_sq8_fit(const float *y, size_t n, int32_t dim, float *lo, float *step);

/* Codes of n row-major vectors into fm_sq8_codes_size(n, dim) bytes. */
extern void fm_sq8_encode(const float *y, size_t n, int32_t dim,
						  const float *lo, const float *step, uint8_t *codes);

/*
 * Query side for one range: fills w[dim] and *base, returns the error
 * bound e (+inf when the products overflow float: then score the floats).
 */
extern double fm_sq8_prepare(const float *q, int32_t dim, const float *lo, const float *step,
							 float *w, float *base);

/* Approximate scores of n vectors into out[fm_sq8_padded(n)]. */
extern void fm_sq8_scores(const float *w, int32_t dim, const uint8_t *codes, size_t n,
						  float base, float *out);

/* The same with one kernel, for tests; false if the CPU does not have it. */
typedef enum FmSq8Kernel
{
	FM_SQ8_PORTABLE,
	FM_SQ8_AVX2,
	FM_SQ8_AVX512
} FmSq8Kernel;

extern bool fm_sq8_scores_with(FmSq8Kernel kernel, const float *w, int32_t dim,
							   const uint8_t *codes, size_t n, float base, float *out);

#endif							/* FM_SQ8_H */

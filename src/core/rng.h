/*
 * rng.h - deterministic pseudo-random numbers for training.
 *
 * xoshiro256** seeded through splitmix64: fast, good statistical quality,
 * and identical on every platform, so a seed gives the same model bit for bit.
 */
#ifndef FM_RNG_H
#define FM_RNG_H

#include <stdint.h>

typedef struct FmRng
{
	uint64_t	s[4];
} FmRng;

extern void fm_rng_seed(FmRng *rng, uint64_t seed);
extern uint64_t fm_rng_next(FmRng *rng);
/* uniform in [0, 1) with 53 random bits */
extern double fm_rng_uniform(FmRng *rng);
/* uniform integer in [0, n), n > 0, without modulo bias */
extern uint64_t fm_rng_below(FmRng *rng, uint64_t n);
/* standard normal N(0, 1) */
extern double fm_rng_normal(FmRng *rng);
/* Gamma(shape, scale=1), shape > 0 (Marsaglia & Tsang) */
extern double fm_rng_gamma(FmRng *rng, double shape);
/* Fisher-Yates shuffle of an int32 array */
extern void fm_rng_shuffle_int32(FmRng *rng, int32_t *a, int64_t n);

#endif							/* FM_RNG_H */

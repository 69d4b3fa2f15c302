/*
 * rng.c - xoshiro256** (Blackman & Vigna), splitmix64 seeding, and the
 * derived distributions the optimisers need.
 */
#include "rng.h"

#include <math.h>

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

void
fm_rng_seed(FmRng *rng, uint64_t seed)
{
	uint64_t	state = seed;

	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&state);
}

uint64_t
fm_rng_next(FmRng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double
fm_rng_uniform(FmRng *rng)
{
	return (double) (fm_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t
fm_rng_below(FmRng *rng, uint64_t n)
{
	/* rejection sampling: discard the biased top of the range */
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t	x;

	do
		x = fm_rng_next(rng);
	while (x >= limit);
	return x % n;
}

double
fm_rng_normal(FmRng *rng)
{
	/*
	 * Box-Muller without the cached second value: keeping no hidden state
	 * makes the stream depend only on the number of draws, which keeps
	 * determinism easy to reason about.
	 */
	double		u1 = 1.0 - fm_rng_uniform(rng);	/* (0, 1] so log() is finite */
	double		u2 = fm_rng_uniform(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double
fm_rng_gamma(FmRng *rng, double shape)
{
	double		d,
				c;

	if (shape < 1.0)
	{
		/* boost: Gamma(a) = Gamma(a + 1) * U^(1/a) */
		double		u = 1.0 - fm_rng_uniform(rng);

		return fm_rng_gamma(rng, shape + 1.0) * pow(u, 1.0 / shape);
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x,
					v,
					u;

		do
		{
			x = fm_rng_normal(rng);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = fm_rng_uniform(rng);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return d * v;
		if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

void
fm_rng_shuffle_int32(FmRng *rng, int32_t *a, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--)
	{
		int64_t		j = (int64_t) fm_rng_below(rng, (uint64_t) i + 1);
		int32_t		t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
}

/*
 * test_rng.c - determinism and rough distribution checks of rng.c.
 */
#include "rng.h"
#include "unit.h"

#include <stdbool.h>
#include <string.h>

#define N_DRAWS 200000

static void
test_same_seed_same_stream(void)
{
	FmRng		a,
				b;
	bool		same = true;

	fm_rng_seed(&a, 12345);
	fm_rng_seed(&b, 12345);
	for (int i = 0; i < 1000; i++)
		same &= fm_rng_next(&a) == fm_rng_next(&b);
	CHECK(same);
}

static void
test_different_seeds_differ(void)
{
	FmRng		a,
				b;
	int			equal = 0;

	fm_rng_seed(&a, 1);
	fm_rng_seed(&b, 2);
	for (int i = 0; i < 1000; i++)
		equal += fm_rng_next(&a) == fm_rng_next(&b);
	CHECK(equal == 0);
}

/* Seed 0 must not give the all-zero state xoshiro can never leave. */
static void
test_seed_zero_works(void)
{
	FmRng		a;
	uint64_t	x;

	fm_rng_seed(&a, 0);
	x = fm_rng_next(&a) | fm_rng_next(&a) | fm_rng_next(&a);
	CHECK(x != 0);
}

static void
test_uniform_range_and_mean(void)
{
	FmRng		rng;
	double		sum = 0.0;
	bool		in_range = true;

	fm_rng_seed(&rng, 7);
	for (int i = 0; i < N_DRAWS; i++)
	{
		double		u = fm_rng_uniform(&rng);

		in_range &= u >= 0.0 && u < 1.0;
		sum += u;
	}
	CHECK(in_range);
	CHECK_NEAR(sum / N_DRAWS, 0.5, 0.005);
}

static void
test_below_is_in_range_and_even(void)
{
	FmRng		rng;
	int			counts[7] = {0};
	bool		in_range = true;

	fm_rng_seed(&rng, 99);
	for (int i = 0; i < 70000; i++)
	{
		uint64_t	x = fm_rng_below(&rng, 7);

		in_range &= x < 7;
		if (x < 7)
			counts[x]++;
	}
	CHECK(in_range);
	for (int j = 0; j < 7; j++)
		CHECK_NEAR(counts[j], 10000, 500);
	CHECK(fm_rng_below(&rng, 1) == 0);
}

static void
test_normal_moments(void)
{
	FmRng		rng;
	double		sum = 0.0,
				sum2 = 0.0;

	fm_rng_seed(&rng, 3);
	for (int i = 0; i < N_DRAWS; i++)
	{
		double		z = fm_rng_normal(&rng);

		sum += z;
		sum2 += z * z;
	}
	CHECK_NEAR(sum / N_DRAWS, 0.0, 0.01);
	CHECK_NEAR(sum2 / N_DRAWS, 1.0, 0.02);
}

/* Gamma(shape, 1) has mean shape and variance shape. */
static void
test_gamma_moments(void)
{
	const double shapes[] = {0.3, 1.0, 2.5, 10.0};

	for (int s = 0; s < 4; s++)
	{
		FmRng		rng;
		double		sum = 0.0,
					sum2 = 0.0;
		bool		positive = true;

		fm_rng_seed(&rng, 11 + s);
		for (int i = 0; i < N_DRAWS; i++)
		{
			double		g = fm_rng_gamma(&rng, shapes[s]);

			positive &= g > 0.0;
			sum += g;
			sum2 += g * g;
		}
		CHECK(positive);
		CHECK_NEAR(sum / N_DRAWS, shapes[s], 0.02 * shapes[s] + 0.01);
		CHECK_NEAR(sum2 / N_DRAWS - (sum / N_DRAWS) * (sum / N_DRAWS),
				   shapes[s], 0.05 * shapes[s] + 0.01);
	}
}

static void
test_shuffle_is_deterministic_permutation(void)
{
	enum
	{
	N = 1000};
	int32_t		a[N],
				b[N];
	int			seen[N] = {0};
	FmRng		r1,
				r2;
	bool		permutation = true;
	int			fixed = 0;

	for (int i = 0; i < N; i++)
		a[i] = b[i] = i;
	fm_rng_seed(&r1, 5);
	fm_rng_seed(&r2, 5);
	fm_rng_shuffle_int32(&r1, a, N);
	fm_rng_shuffle_int32(&r2, b, N);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	for (int i = 0; i < N; i++)
	{
		if (a[i] < 0 || a[i] >= N || seen[a[i]]++)
			permutation = false;
		fixed += a[i] == i;
	}
	CHECK(permutation);
	/* a random permutation has about one fixed point */
	CHECK(fixed < 10);

	/* degenerate sizes */
	fm_rng_shuffle_int32(&r1, a, 0);
	fm_rng_shuffle_int32(&r1, a, 1);
	CHECK(1);
}

int
main(void)
{
	RUN_TEST(test_same_seed_same_stream);
	RUN_TEST(test_different_seeds_differ);
	RUN_TEST(test_seed_zero_works);
	RUN_TEST(test_uniform_range_and_mean);
	RUN_TEST(test_below_is_in_range_and_even);
	RUN_TEST(test_normal_moments);
	RUN_TEST(test_gamma_moments);
	RUN_TEST(test_shuffle_is_deterministic_permutation);
	return unit_report();
}

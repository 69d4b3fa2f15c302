/*
 * scale_random.c - how fast this machine reads model rows at random: the
 * access an SGD epoch makes for each rating (the movie's k floats, the
 * user's), and how that scales when two processes do it at once.
 *
 *   scale_random [MB] [row bytes] [seconds]
 *
 * Reads rows of `row bytes` (default 256: k 64 floats) at random indices of
 * a buffer much larger than the caches (default 1024 MB), 8 independent
 * streams interleaved so that several misses are in flight (as SGD's
 * prefetching allows), summing every float so nothing is optimised away.
 * Prints the best rate of 5 passes as
 *
 *     random_rows_per_s <value>
 *
 * scale_bench.sh runs it alone and then two copies at once: the sum of the
 * two against the one is the most a second core can add to an epoch whose
 * time goes to these reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STREAMS 8

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t
next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

int
main(int argc, char **argv)
{
	size_t		mb = argc > 1 ? (size_t) atol(argv[1]) : 1024;
	size_t		row_bytes = argc > 2 ? (size_t) atol(argv[2]) : 256;
	size_t		row_floats = row_bytes / sizeof(float);
	size_t		n_rows = mb * 1024 * 1024 / row_bytes;
	float	   *buf = malloc(n_rows * row_bytes);
	uint64_t	state = 42;
	double		best = 0.0;
	volatile float sink = 0.0f;

	if (buf == NULL || row_floats == 0)
		return 1;
	for (size_t i = 0; i < n_rows * row_floats; i++)
		buf[i] = (float) (i & 1023);
	for (int pass = 0; pass < 5; pass++)
	{
		size_t		reads = 4 * 1000 * 1000;
		uint64_t	idx[STREAMS];
		float		sum = 0.0f;
		double		t0 = now();

		for (int s = 0; s < STREAMS; s++)
			idx[s] = next(&state) % n_rows;
		for (size_t r = 0; r < reads; r += STREAMS)
			for (int s = 0; s < STREAMS; s++)
			{
				const float *row = buf + idx[s] * row_floats;

				idx[s] = next(&state) % n_rows;
				__builtin_prefetch(buf + idx[s] * row_floats);
				for (size_t f = 0; f < row_floats; f++)
					sum += row[f];
			}
		sink += sum;
		if (reads / (now() - t0) > best)
			best = reads / (now() - t0);
	}
	printf("random_rows_per_s %.0f\n", best);
	free(buf);
	return sink == -1.0f;
}

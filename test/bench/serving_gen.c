/*
 * serving_gen.c - random item catalogues for the serving benchmark, written
 * as COPY BINARY so that millions of rows load at disk speed.
 *
 *   serving_gen N DIM SEED fm_vector|real_array [clusters] > items.copy
 *   COPY items (id, bias, embedding) FROM STDIN (FORMAT binary)
 *
 * Rows are (id bigint = 1..N, bias real, embedding).  Embeddings are
 * N(0, 0.1^2) per element, biases N(0, 0.1^2): the scale of a trained FM,
 * where the bias and the dot product weigh about the same.  With clusters
 * > 0 each embedding is a random one of `clusters` centres (N(0, 0.1^2)) plus
 * N(0, 0.05^2) noise: items of a "genre" look alike, as in trained models.
 * The same arguments give the same bytes (core/rng.c is portable).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define FLOAT4OID 700

static void
put32(uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};

	fwrite(b, 1, 4, stdout);
}

static void
put16(uint16_t v)
{
	unsigned char b[2] = {v >> 8, v};

	fwrite(b, 1, 2, stdout);
}

static void
put_float(float f)
{
	uint32_t	bits;

	memcpy(&bits, &f, 4);
	put32(bits);
}

int
main(int argc, char **argv)
{
	long		n;
	int			dim;
	int			as_array;
	int			clusters;
	float	   *centres = NULL;
	float	   *x;
	FmRng		rng;

	if (argc < 5)
	{
		fprintf(stderr, "usage: %s N DIM SEED fm_vector|real_array [clusters]\n", argv[0]);
		return 2;
	}
	n = atol(argv[1]);
	dim = atoi(argv[2]);
	fm_rng_seed(&rng, strtoull(argv[3], NULL, 10));
	as_array = strcmp(argv[4], "real_array") == 0;
	clusters = argc > 5 ? atoi(argv[5]) : 0;
	x = malloc(sizeof(float) * dim);
	if (clusters > 0)
	{
		centres = malloc(sizeof(float) * dim * (size_t) clusters);
		for (long i = 0; i < (long) dim * clusters; i++)
			centres[i] = (float) (0.1 * fm_rng_normal(&rng));
	}

	fwrite("PGCOPY\n\377\r\n\0", 1, 11, stdout);
	put32(0);					/* flags */
	put32(0);					/* header extension */
	for (long row = 1; row <= n; row++)
	{
		float		bias = (float) (0.1 * fm_rng_normal(&rng));
		const float *c = clusters > 0 ? centres + (size_t) dim * fm_rng_below(&rng, clusters) : NULL;

		for (int i = 0; i < dim; i++)
			x[i] = c ? c[i] + (float) (0.05 * fm_rng_normal(&rng)) : (float) (0.1 * fm_rng_normal(&rng));
		put16(3);
		put32(8);
		put32((uint32_t) ((uint64_t) row >> 32));
		put32((uint32_t) row);
		put32(4);
		put_float(bias);
		if (as_array)
		{
			put32(20 + 8 * dim);
			put32(1);			/* ndim */
			put32(0);			/* no nulls */
			put32(FLOAT4OID);
			put32(dim);
			put32(1);			/* lower bound */
			for (int i = 0; i < dim; i++)
			{
				put32(4);
				put_float(x[i]);
			}
		}
		else
		{
			put32(4 + 4 * dim);
			put32(dim);
			for (int i = 0; i < dim; i++)
				put_float(x[i]);
		}
	}
	put16(0xFFFF);
	free(x);
	free(centres);
	return ferror(stdout) ? 1 : 0;
}

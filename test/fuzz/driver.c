/*
 * driver.c - runs the fuzz harness over files, for machines without clang's
 * libFuzzer (the Makefile then builds this with gcc and AddressSanitizer).
 *
 *	replay_vectext FILE...
 *
 * Mirrors what a libFuzzer binary does with file arguments: each file is
 * read into a buffer of exactly its size, so AddressSanitizer catches a
 * parser that reads one byte past the input, and passed to
 * LLVMFuzzerTestOneInput().  A violated invariant traps; the exit status
 * is 0 only if every file went through.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
	{
		fprintf(stderr, "replay_vectext: cannot read %s\n", path);
		if (f)
			fclose(f);
		return 1;
	}
	/* at least 1 byte so that malloc cannot return NULL; size stays exact */
	buf = malloc(size > 0 ? (size_t) size : 1);
	if (buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size)
	{
		fprintf(stderr, "replay_vectext: cannot read %s\n", path);
		free(buf);
		fclose(f);
		return 1;
	}
	fclose(f);
	printf("Running: %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t) size);
	printf("Executed %s (%ld bytes)\n", path, size);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int			status = 0;

	for (int i = 1; i < argc; i++)
		status |= run_file(argv[i]);
	return status;
}

/*
 * fuzz_vectext.c - libFuzzer harness for the fm_vector wire formats
 * (src/core/vectext.c).
 *
 * Every input is fed to the text parser (with full room, with a few small
 * capacities and with the capacity fm_vector_in() gives it) and to the binary
 * parser (with the room fm_vector_recv() gives it).  Not crashing is not
 * enough: the harness checks what the server code relies on and traps on any
 * violation, so that libFuzzer keeps the input:
 *
 * on success
 *	- 1 <= dim <= FM_VECTOR_MAX_DIM, every element finite, no -0 (stored as +0);
 *	- text: the vector re-formatted with "%.9g" as '[a,b,...]' parses to the
 *	  same floats, bit for bit;
 *	- binary: fm_vector_write_binary() gives back the input bytes, except
 *	  that a -0 element comes back as +0;
 *	- a smaller capacity fails with FM_PARSE_TOO_MANY, an equal or larger one
 *	  gives the same floats; each format round-trips through the other;
 * on failure
 *	- a status that the parser can return, the same one in err->status;
 *	- err->position within the input (position == len for "unexpected end");
 *	- err->message NUL-terminated, non-empty, printable ASCII, not cut off
 *	  by the size of the buffer, without a trailing period.
 *
 * Buffers handed to the parsers are allocated at their exact size, so that
 * AddressSanitizer reports a write one element too far.  libFuzzer passes the
 * input in a buffer of exactly `size` bytes too, so a read past the input is
 * caught; driver.c does the same when this is built without libFuzzer.
 */
#include "vectext.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			violation(#cond, __LINE__); \
	} while (0)

/*
 * Says which invariant broke, then traps.  The words after "invariant
 * violated:" name the crash file that fuzz.sh copies into regressions/.
 */
static void violation(const char *what, int line) __attribute__((noreturn));

static void
violation(const char *what, int line)
{
	fprintf(stderr, "fuzz_vectext: invariant violated: %s (fuzz_vectext.c:%d)\n", what, line);
	fflush(stderr);
	__builtin_trap();
}

/*
 * "%.9g" needs at most 15 characters for a float ("-1.17549435e-38"), plus a
 * comma; 9 significant digits always bring the same float back.
 */
#define FORMAT_ROOM ((size_t) FM_VECTOR_MAX_DIM * 16 + 3)

static float full[FM_VECTOR_MAX_DIM];
static float again[FM_VECTOR_MAX_DIM];
static char formatted[FORMAT_ROOM];

static void *
xmalloc(size_t n)
{
	/*
	 * malloc(0) may return NULL; a 1-byte block for no elements still makes
	 * ASan report any float written to it.
	 */
	void	   *p = malloc(n > 0 ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

/* Reset err so that a parser forgetting to fill it shows. */
static void
poison_error(FmParseError *err)
{
	memset(err, 0x5a, sizeof(*err));
}

static bool
same_floats(const float *a, const float *b, int32_t n)
{
	return memcmp(a, b, (size_t) n * sizeof(float)) == 0;
}

static void
check_vector(const float *x, int32_t dim)
{
	CHECK(dim >= 1 && dim <= FM_VECTOR_MAX_DIM);
	for (int32_t i = 0; i < dim; i++)
	{
		CHECK(isfinite(x[i]));
		CHECK(!(x[i] == 0.0f && signbit(x[i])));	/* -0 must be stored as +0 */
	}
}

/*
 * The message goes into errdetail("%s.") in the server.  Printable ASCII
 * only: the input's bytes are not valid in every server encoding, so they
 * must be shown escaped.  A message filling the whole buffer was cut off
 * by vsnprintf and may have lost its point.  No trailing period, as the
 * server adds one.
 */
static void
check_message_text(const char *msg)
{
	size_t		n = strlen(msg);
	bool		message_not_cut_off = n < sizeof(((FmParseError *) NULL)->message) - 1;
	bool		message_without_trailing_period = msg[n - 1] != '.';

	CHECK(message_not_cut_off);
	CHECK(message_without_trailing_period);
	for (size_t i = 0; i < n; i++)
	{
		bool		message_printable_ascii = msg[i] >= 0x20 && msg[i] < 0x7f;

		CHECK(message_printable_ascii);
	}
}

static void
check_failure(FmParseStatus st, const FmParseError *err, size_t len, bool binary)
{
	CHECK(st != FM_PARSE_OK);
	CHECK(err->status == st);
	if (binary)
		CHECK(st == FM_PARSE_BAD_BINARY || st == FM_PARSE_NOT_FINITE);
	else
		CHECK(st == FM_PARSE_SYNTAX || st == FM_PARSE_OUT_OF_RANGE ||
			  st == FM_PARSE_NOT_FINITE || st == FM_PARSE_TOO_MANY ||
			  st == FM_PARSE_EMPTY);
	/* "unexpected end of input" points just past the last byte */
	CHECK(err->position <= len);
	CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
	CHECK(err->message[0] != '\0');
	check_message_text(err->message);
}

/* Writes x as '[a,b,...]' with "%.9g"; returns the length. */
static size_t
format_text(const float *x, int32_t dim)
{
	size_t		n = 0;

	formatted[n++] = '[';
	for (int32_t i = 0; i < dim; i++)
	{
		int			w = snprintf(formatted + n, FORMAT_ROOM - n, "%s%.9g",
								 i > 0 ? "," : "", (double) x[i]);

		CHECK(w > 0 && (size_t) w < FORMAT_ROOM - n);
		n += (size_t) w;
	}
	CHECK(n + 1 < FORMAT_ROOM);
	formatted[n++] = ']';
	return n;
}

/* x[0..dim), already checked, must survive text and binary round trips. */
static void
check_round_trips(const float *x, int32_t dim)
{
	size_t		tlen = format_text(x, dim);
	size_t		blen = 4 + 4 * (size_t) dim;
	uint8_t    *bin = xmalloc(blen);
	int32_t		dim2 = -1;
	FmParseError err;

	poison_error(&err);
	CHECK(fm_vector_parse_text(formatted, tlen, again, &dim2, &err) == FM_PARSE_OK);
	CHECK(dim2 == dim);
	CHECK(same_floats(x, again, dim));

	fm_vector_write_binary(x, dim, bin);
	dim2 = -1;
	poison_error(&err);
	CHECK(fm_vector_parse_binary(bin, blen, again, &dim2, &err) == FM_PARSE_OK);
	CHECK(dim2 == dim);
	CHECK(same_floats(x, again, dim));
	free(bin);
}

/*
 * Parse with room for exactly `capacity` elements and compare with the
 * result of the parse with full room (st, dim, full[], err).
 */
static void
check_bounded(const char *s, size_t len, int32_t capacity,
			  FmParseStatus st, int32_t dim, const FmParseError *err)
{
	float	   *out = xmalloc((size_t) (capacity > 0 ? capacity : 0) * sizeof(float));
	int32_t		bdim = -1;
	FmParseError berr;
	FmParseStatus bst;

	poison_error(&berr);
	bst = fm_vector_parse_text_bounded(s, len, out, capacity, &bdim, &berr);
	if (st == FM_PARSE_OK && dim <= capacity)
	{
		CHECK(bst == FM_PARSE_OK);
		CHECK(bdim == dim);
		CHECK(same_floats(out, full, dim));
	}
	else if (st == FM_PARSE_OK)
	{
		/* too little room: refused where the first extra element starts */
		check_failure(bst, &berr, len, false);
		CHECK(bst == FM_PARSE_TOO_MANY);
	}
	else
	{
		/*
		 * Same error as with full room, unless the capacity ran out before
		 * that error's position was reached.
		 */
		check_failure(bst, &berr, len, false);
		CHECK((bst == st && berr.position == err->position) ||
			  (bst == FM_PARSE_TOO_MANY && berr.position <= err->position));
	}
	free(out);
}

/*
 * The call fm_vector_in() makes: the text stops at the first NUL (it is a C
 * string) and the room is one element more than its commas, capped at the
 * maximum dimension.
 */
static void
check_like_fm_vector_in(const char *s, size_t len)
{
	const char *nul = memchr(s, '\0', len);
	size_t		clen = nul ? (size_t) (nul - s) : len;
	int32_t		commas = 0;
	int32_t		capacity;
	float	   *out;
	int32_t		dim = -1,
				dim2 = -1;
	FmParseError err,
				err2;
	FmParseStatus st,
				st2;

	for (size_t i = 0; i < clen && commas < FM_VECTOR_MAX_DIM; i++)
		commas += (s[i] == ',');
	capacity = commas + 1 < FM_VECTOR_MAX_DIM ? commas + 1 : FM_VECTOR_MAX_DIM;
	out = xmalloc((size_t) capacity * sizeof(float));

	poison_error(&err);
	st = fm_vector_parse_text_bounded(s, clen, out, capacity, &dim, &err);
	poison_error(&err2);
	st2 = fm_vector_parse_text(s, clen, again, &dim2, &err2);
	/* that capacity never changes the outcome */
	CHECK(st == st2);
	if (st == FM_PARSE_OK)
	{
		CHECK(dim == dim2);
		CHECK(same_floats(out, again, dim));
	}
	else
	{
		check_failure(st, &err, clen, false);
		CHECK(err.position == err2.position);
	}
	free(out);
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	int32_t		dim = -1;
	FmParseError err;
	FmParseStatus st;

	poison_error(&err);
	st = fm_vector_parse_text(s, size, full, &dim, &err);
	if (st == FM_PARSE_OK)
	{
		check_vector(full, dim);
		check_round_trips(full, dim);
		/* exactly enough room, and one element too few */
		check_bounded(s, size, dim, st, dim, &err);
		check_bounded(s, size, dim - 1, st, dim, &err);
	}
	else
		check_failure(st, &err, size, false);

	/* a small capacity that varies with the input, 0 included */
	check_bounded(s, size, (int32_t) (size % 5), st, dim, &err);
	check_like_fm_vector_in(s, size);
}

/* The room fm_vector_recv() allocates: len / 4 elements, at least 1, capped. */
static void
fuzz_binary(const uint8_t *data, size_t size)
{
	size_t		room = size / 4 < 1 ? 1 : size / 4;
	float	   *out;
	uint8_t    *back;
	int32_t		dim = -1;
	FmParseError err;
	FmParseStatus st;

	if (room > FM_VECTOR_MAX_DIM)
		room = FM_VECTOR_MAX_DIM;
	out = xmalloc(room * sizeof(float));
	poison_error(&err);
	st = fm_vector_parse_binary(data, size, out, &dim, &err);
	if (st != FM_PARSE_OK)
	{
		check_failure(st, &err, size, true);
		free(out);
		return;
	}

	check_vector(out, dim);
	CHECK(size == 4 + 4 * (size_t) dim);
	back = xmalloc(size);
	fm_vector_write_binary(out, dim, back);
	CHECK(memcmp(back, data, 4) == 0);
	for (int32_t i = 0; i < dim; i++)
	{
		const uint8_t *in = data + 4 + 4 * (size_t) i;
		const uint8_t *o = back + 4 + 4 * (size_t) i;
		static const uint8_t neg_zero[4] = {0x80, 0, 0, 0};
		static const uint8_t pos_zero[4] = {0, 0, 0, 0};

		if (memcmp(in, neg_zero, 4) == 0)
			CHECK(memcmp(o, pos_zero, 4) == 0);
		else
			CHECK(memcmp(o, in, 4) == 0);
	}
	check_round_trips(out, dim);
	free(back);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_text(data, size);
	fuzz_binary(data, size);
	return 0;
}

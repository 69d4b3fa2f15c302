/*
 * vectext.c - strict parsers for the text and binary forms of fm_vector.
 *
 * The text grammar is deliberately narrower than strtof(): strtof also takes
 * hexadecimal floats, "inf", "nan" and locale-dependent forms, none of which
 * belong in a vector literal.  We check each number against
 *
 *     [+-]? ( digits [ '.' digits? ] | '.' digits ) ( [eE] [+-]? digits )?
 *
 * first, then let strtof() convert exactly that span.
 */
#include "vectext.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static FmParseStatus fail(FmParseError *err, FmParseStatus status, size_t position, const char *fmt,...);

static FmParseStatus
fail(FmParseError *err, FmParseStatus status, size_t position, const char *fmt,...)
{
	va_list		ap;

	err->status = status;
	err->position = position;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return status;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t
skip_spaces(const char *s, size_t len, size_t i)
{
	while (i < len && is_space(s[i]))
		i++;
	return i;
}

static size_t
skip_digits(const char *s, size_t len, size_t i)
{
	while (i < len && is_digit(s[i]))
		i++;
	return i;
}

/* Length of the number starting at s[i] per the grammar above, 0 if none. */
static size_t
scan_number(const char *s, size_t len, size_t i)
{
	size_t		start = i;
	size_t		int_end,
				frac_end;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	int_end = skip_digits(s, len, i);
	frac_end = int_end;
	if (frac_end < len && s[frac_end] == '.')
		frac_end = skip_digits(s, len, frac_end + 1);
	/* need a digit before or after the point */
	if (int_end == i && frac_end <= int_end + 1)
		return 0;
	i = frac_end;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		exp_start = i + 1;

		if (exp_start < len && (s[exp_start] == '+' || s[exp_start] == '-'))
			exp_start++;
		if (skip_digits(s, len, exp_start) == exp_start)
			return 0;			/* "1e" or "1e+" */
		i = skip_digits(s, len, exp_start);
	}
	return i - start;
}

/* Does s[i..] spell nan or inf(inity), with an optional sign?  For a precise message. */
static int
starts_non_finite_word(const char *s, size_t len, size_t i)
{
	static const char *const words[] = {"nan", "inf"};

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	for (int w = 0; w < 2; w++)
	{
		size_t		j = 0;

		while (j < 3 && i + j < len && (s[i + j] | 0x20) == words[w][j])
			j++;
		if (j == 3)
			return 1;
	}
	return 0;
}

static const char *
describe_char(char c, char *buf, size_t size)
{
	unsigned char uc = (unsigned char) c;

	if (uc >= 0x21 && uc < 0x7f)
		snprintf(buf, size, "\"%c\"", c);
	else
		snprintf(buf, size, "byte 0x%02x", uc);
	return buf;
}

/* Characters of an out-of-range number quoted in the message (see below). */
#define NUMBER_QUOTED 40

/* Converts the validated span s[0..n) to a float, checking its range. */
static FmParseStatus
convert_number(const char *s, size_t n, size_t position, float *out, FmParseError *err)
{
	char		buf[512];
	char	   *end;
	float		value;
	int			has_nonzero_digit = 0;

	if (n >= sizeof(buf))
		return fail(err, FM_PARSE_SYNTAX, position, "number at position %zu is too long", position + 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n && buf[i] != 'e' && buf[i] != 'E'; i++)
		if (buf[i] >= '1' && buf[i] <= '9')
			has_nonzero_digit = 1;

	errno = 0;
	value = strtof(buf, &end);
	if (end != buf + n)
		return fail(err, FM_PARSE_SYNTAX, position, "invalid number at position %zu", position + 1);
	/*
	 * Underflow to zero is an error, as in float4in; subnormals are kept.
	 * Quote at most NUMBER_QUOTED characters of the number: it may have 511,
	 * and a longer message would be cut off at sizeof(err->message), losing
	 * the position and the reason (test/fuzz checks that none is cut off).
	 */
	if (isinf(value) || (errno == ERANGE && value == 0.0f && has_nonzero_digit))
		return fail(err, FM_PARSE_OUT_OF_RANGE, position,
					"\"%.*s%s\" at position %zu is out of range for type real",
					(int) (n > NUMBER_QUOTED ? NUMBER_QUOTED : n), buf,
					n > NUMBER_QUOTED ? "..." : "", position + 1);
	*out = value == 0.0f ? 0.0f : value;	/* -0 becomes +0 */
	return FM_PARSE_OK;
}

FmParseStatus
fm_vector_parse_text(const char *s, size_t len, float *out, int32_t *dim, FmParseError *err)
{
	return fm_vector_parse_text_bounded(s, len, out, FM_VECTOR_MAX_DIM, dim, err);
}

FmParseStatus
fm_vector_parse_text_bounded(const char *s, size_t len, float *out, int32_t capacity,
							 int32_t *dim, FmParseError *err)
{
	size_t		i = skip_spaces(s, len, 0);
	int32_t		n = 0;
	char		cbuf[16];

	*dim = 0;
	if (i >= len)
		return fail(err, FM_PARSE_EMPTY, i, "empty input; a vector looks like [1,2,3]");
	if (s[i] != '[')
		return fail(err, FM_PARSE_SYNTAX, i, "expected \"[\" at position %zu, found %s",
					i + 1, describe_char(s[i], cbuf, sizeof(cbuf)));
	i = skip_spaces(s, len, i + 1);
	if (i < len && s[i] == ']')
		return fail(err, FM_PARSE_EMPTY, i, "a vector must have at least 1 dimension");

	for (;;)
	{
		size_t		numlen;
		FmParseStatus st;

		if (i >= len)
			return fail(err, FM_PARSE_SYNTAX, i, "unexpected end of input after %d elements; missing \"]\"", n);
		numlen = scan_number(s, len, i);
		if (numlen == 0)
		{
			if (starts_non_finite_word(s, len, i))
				return fail(err, FM_PARSE_NOT_FINITE, i,
							"element %d at position %zu is not finite; NaN and infinity are not allowed",
							n + 1, i + 1);
			if (s[i] == ',' || s[i] == ']')
				return fail(err, FM_PARSE_SYNTAX, i, "missing number before %s at position %zu",
							describe_char(s[i], cbuf, sizeof(cbuf)), i + 1);
			return fail(err, FM_PARSE_SYNTAX, i, "invalid number at position %zu, starting with %s",
						i + 1, describe_char(s[i], cbuf, sizeof(cbuf)));
		}
		if (n >= FM_VECTOR_MAX_DIM)
			return fail(err, FM_PARSE_TOO_MANY, i, "more than %d dimensions", FM_VECTOR_MAX_DIM);
		if (n >= capacity)
			return fail(err, FM_PARSE_TOO_MANY, i, "more than %d elements", capacity);
		st = convert_number(s + i, numlen, i, &out[n], err);
		if (st != FM_PARSE_OK)
			return st;
		n++;
		i = skip_spaces(s, len, i + numlen);
		if (i >= len)
			return fail(err, FM_PARSE_SYNTAX, i, "unexpected end of input after %d elements; missing \"]\"", n);
		if (s[i] == ']')
			break;
		if (s[i] != ',')
			return fail(err, FM_PARSE_SYNTAX, i, "expected \",\" or \"]\" at position %zu, found %s",
						i + 1, describe_char(s[i], cbuf, sizeof(cbuf)));
		i = skip_spaces(s, len, i + 1);
	}
	i = skip_spaces(s, len, i + 1);
	if (i < len)
		return fail(err, FM_PARSE_SYNTAX, i, "unexpected %s after \"]\" at position %zu",
					describe_char(s[i], cbuf, sizeof(cbuf)), i + 1);
	*dim = n;
	return FM_PARSE_OK;
}

static uint32_t
read_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static void
write_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

FmParseStatus
fm_vector_parse_binary(const uint8_t *buf, size_t len, float *out, int32_t *dim, FmParseError *err)
{
	int32_t		n;

	*dim = 0;
	if (len < 4)
		return fail(err, FM_PARSE_BAD_BINARY, 0, "message of %zu bytes is too short for the dimension header", len);
	n = (int32_t) read_be32(buf);
	if (n < 1)
		return fail(err, FM_PARSE_BAD_BINARY, 0, "dimension %d is not positive", n);
	if (n > FM_VECTOR_MAX_DIM)
		return fail(err, FM_PARSE_BAD_BINARY, 0, "dimension %d exceeds the maximum of %d", n, FM_VECTOR_MAX_DIM);
	if (len - 4 != (size_t) n * 4)
		return fail(err, FM_PARSE_BAD_BINARY, 4, "dimension %d needs %zu bytes of data, message has %zu",
					n, (size_t) n * 4, len - 4);
	for (int32_t i = 0; i < n; i++)
	{
		uint32_t	bits = read_be32(buf + 4 + 4 * (size_t) i);
		float		value;

		memcpy(&value, &bits, sizeof(value));
		if (!isfinite(value))
			return fail(err, FM_PARSE_NOT_FINITE, 4 + 4 * (size_t) i,
						"element %d is %s; NaN and infinity are not allowed", i + 1,
						isnan(value) ? "NaN" : "infinite");
		out[i] = value == 0.0f ? 0.0f : value;
	}
	*dim = n;
	return FM_PARSE_OK;
}

void
fm_vector_write_binary(const float *x, int32_t dim, uint8_t *buf)
{
	write_be32(buf, (uint32_t) dim);
	for (int32_t i = 0; i < dim; i++)
	{
		uint32_t	bits;

		memcpy(&bits, &x[i], sizeof(bits));
		write_be32(buf + 4 + 4 * (size_t) i, bits);
	}
}

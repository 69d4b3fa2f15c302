/*
 * vectext.h - the fm_vector wire formats: text '[1,2.5,-3e-2]' and binary.
 *
 * Every untrusted byte that becomes an fm_vector goes through one of these
 * two parsers, so they live in the core where they are fuzzed.  They never
 * allocate: the caller provides the room for the elements.
 */
#ifndef FM_VECTEXT_H
#define FM_VECTEXT_H

#include <stddef.h>
#include <stdint.h>

#define FM_VECTOR_MAX_DIM 16000

typedef enum FmParseStatus
{
	FM_PARSE_OK = 0,
	FM_PARSE_SYNTAX,			/* malformed text: 22P02 */
	FM_PARSE_OUT_OF_RANGE,		/* a number beyond float4: 22003 */
	FM_PARSE_NOT_FINITE,		/* NaN or infinity: 22P02 */
	FM_PARSE_TOO_MANY,			/* more than FM_VECTOR_MAX_DIM elements: 54000 */
	FM_PARSE_EMPTY,				/* no element at all: 22P02 */
	FM_PARSE_BAD_BINARY			/* inconsistent binary message: 22P03 */
} FmParseStatus;

typedef struct FmParseError
{
	FmParseStatus status;
	size_t		position;		/* 0-based byte offset of the problem */
	char		message[128];	/* human-readable, no trailing period */
} FmParseError;

/*
 * Parse text of length len (need not be NUL-terminated).  On success stores
 * the elements in out[0..*dim) and returns FM_PARSE_OK.  -0 is stored as +0
 * so that equal values have equal bytes.
 */
extern FmParseStatus fm_vector_parse_text(const char *text, size_t len,
										  float *out, int32_t *dim, FmParseError *err);

/* The same with room for only `capacity` elements in out (more is FM_PARSE_TOO_MANY). */
extern FmParseStatus fm_vector_parse_text_bounded(const char *text, size_t len, float *out,
												  int32_t capacity, int32_t *dim, FmParseError *err);

/*
 * Binary format (network byte order): int32 dim, then dim IEEE-754 float4.
 * The message must be exactly 4 + 4 * dim bytes.
 */
extern FmParseStatus fm_vector_parse_binary(const uint8_t *buf, size_t len,
											float *out, int32_t *dim, FmParseError *err);

/* Writes the binary form of x[0..dim) into buf (4 + 4*dim bytes). */
extern void fm_vector_write_binary(const float *x, int32_t dim, uint8_t *buf);

#endif							/* FM_VECTEXT_H */

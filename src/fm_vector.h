/*
 * fm_vector.h - the on-disk and in-memory form of fm_vector.
 *
 * A varlena holding int32 dim followed by dim float4.  No spare header
 * fields: the payload is 8 bytes + 4 per dimension, and the floats are
 * 4-byte aligned because the type is declared with alignment int4.
 */
#ifndef FMREC_FM_VECTOR_H
#define FMREC_FM_VECTOR_H

#include "postgres.h"

#include "fm_compat.h"
#include "fmgr.h"

#include "core/vectext.h"

typedef struct FmVector
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int32		dim;			/* number of elements, 1 .. FM_VECTOR_MAX_DIM */
	float4		x[FLEXIBLE_ARRAY_MEMBER];
} FmVector;

#define FM_VECTOR_SIZE(dim)		(offsetof(FmVector, x) + sizeof(float4) * (Size) (dim))
#define DatumGetFmVector(d)		((FmVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_FM_VECTOR(n)	DatumGetFmVector(PG_GETARG_DATUM(n))
#define PG_RETURN_FM_VECTOR(v)	PG_RETURN_POINTER(v)

/*
 * Reading a vector without allocating (fmrec serving, see fm_score).  A value
 * short enough for a 1-byte varlena header (at most 29 dimensions, 126 bytes)
 * is unaligned on disk: it is copied into the caller's stack buffer.  Other
 * values are returned in place, or detoasted if they are compressed or out
 * of line.  The result is read-only.
 */
typedef union FmShortVectorBuf
{
	FmVector	v;
	char		bytes[VARATT_SHORT_MAX - VARHDRSZ_SHORT + VARHDRSZ];
} FmShortVectorBuf;

static inline const FmVector *
fm_vector_inplace(Datum d, FmShortVectorBuf *buf)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);

	/* (a toast pointer also has a 1-byte header: VARATT_IS_SHORT is true) */
	if (VARATT_IS_SHORT(p) && !VARATT_IS_EXTERNAL(p))
	{
		Size		len = VARSIZE_SHORT(p) - VARHDRSZ_SHORT;

		memcpy(buf->bytes + VARHDRSZ, VARDATA_SHORT(p), len);
		SET_VARSIZE(&buf->v, len + VARHDRSZ);
		return &buf->v;
	}
	return (const FmVector *) PG_DETOAST_DATUM(d);
}

#define FM_GETARG_VECTOR_INPLACE(n, buf)	fm_vector_inplace(PG_GETARG_DATUM(n), (buf))

extern FmVector *fm_vector_new(int32 dim);
extern FmVector *fm_vector_from_floats(const float4 *x, int32 dim);
extern void fm_vector_check_dim(int32 dim);
extern void fm_vector_check_same_dim(const FmVector *a, const FmVector *b);
extern void fm_vector_check_finite_result(const FmVector *v);

#endif							/* FMREC_FM_VECTOR_H */

------------------------------------------------------------------------------
-- The fm_vector type
------------------------------------------------------------------------------

CREATE TYPE fm_vector;

CREATE FUNCTION fm_vector_in(cstring, oid, integer) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_out(fm_vector) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_recv(internal, oid, integer) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_send(fm_vector) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE external: float4 data does not compress, so pglz (the default
-- "extended") would only burn CPU trying; vectors up to ~500 dimensions stay
-- inline in the row either way, larger ones go out of line uncompressed.
CREATE TYPE fm_vector (
	INPUT          = fm_vector_in,
	OUTPUT         = fm_vector_out,
	TYPMOD_IN      = fm_vector_typmod_in,
	RECEIVE        = fm_vector_recv,
	SEND           = fm_vector_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT      = int4,
	STORAGE        = external
);

COMMENT ON TYPE fm_vector IS 'vector of float4, text form [1,2.5,-3e-2]; fm_vector(n) fixes the dimension';

-- Applies a column's declared dimension on INSERT/UPDATE and on casts.
CREATE FUNCTION fm_vector(fm_vector, integer, boolean) RETURNS fm_vector
	AS 'MODULE_PATHNAME', 'fm_vector_typmod_apply' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (fm_vector AS fm_vector) WITH FUNCTION fm_vector(fm_vector, integer, boolean) AS IMPLICIT;

CREATE FUNCTION fm_vector_from_array(real[], integer, boolean) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_from_array(double precision[], integer, boolean) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_from_array(integer[], integer, boolean) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_to_real_array(fm_vector) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (real[] AS fm_vector) WITH FUNCTION fm_vector_from_array(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS fm_vector) WITH FUNCTION fm_vector_from_array(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (integer[] AS fm_vector) WITH FUNCTION fm_vector_from_array(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (fm_vector AS real[]) WITH FUNCTION fm_vector_to_real_array(fm_vector) AS ASSIGNMENT;

------------------------------------------------------------------------------
-- Scoring and vector functions
------------------------------------------------------------------------------

-- The planner calls a function's support function while it simplifies the
-- query, before it chooses scans; that call loads the module, whose planner
-- hook then offers the top-N scan for ORDER BY fm_score(...) LIMIT k even in
-- a session that has not used fmrec yet (see src/fm_topn_plan.c).
CREATE FUNCTION fm_score_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- COST 1: a dot product of a few hundred floats is cheaper than the
-- planner's default guess for a C function, and a low cost keeps parallel
-- plans for large item tables honest.
CREATE FUNCTION fm_score(query fm_vector, embedding fm_vector, bias real DEFAULT 0)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1
	SUPPORT fm_score_support;
COMMENT ON FUNCTION fm_score(fm_vector, fm_vector, real) IS
	'bias + dot(query, embedding): the FM score of an item; higher is better';

CREATE FUNCTION fm_dot(fm_vector, fm_vector) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
CREATE FUNCTION fm_cosine(fm_vector, fm_vector) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
COMMENT ON FUNCTION fm_cosine(fm_vector, fm_vector) IS
	'cosine similarity in [-1, 1]; NULL when either vector is all zeros';
CREATE FUNCTION fm_norm(fm_vector) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
CREATE FUNCTION fm_dims(fm_vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;

CREATE FUNCTION fm_vector_add(fm_vector, fm_vector) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_sub(fm_vector, fm_vector) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_mul_scalar(fm_vector, real) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_scalar_mul_vector(real, fm_vector) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- Comparisons: element by element, then the shorter vector first (a total
-- order; vectors of different dimensions are unequal).
CREATE FUNCTION fm_vector_eq(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_ne(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_lt(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_le(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_gt(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_ge(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_cmp(fm_vector, fm_vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_hash(fm_vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_hash_extended(fm_vector, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR + (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_add, COMMUTATOR = +);
CREATE OPERATOR - (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_sub);
CREATE OPERATOR * (LEFTARG = fm_vector, RIGHTARG = real,
	FUNCTION = fm_vector_mul_scalar, COMMUTATOR = *);
CREATE OPERATOR * (LEFTARG = real, RIGHTARG = fm_vector,
	FUNCTION = fm_scalar_mul_vector, COMMUTATOR = *);
CREATE OPERATOR = (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_eq, COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR <> (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_ne, COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR < (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_lt, COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR <= (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_le, COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR > (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_gt, COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR >= (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_ge, COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

-- DISTINCT, GROUP BY, UNION, ORDER BY a vector, unique and hash indexes.
CREATE OPERATOR CLASS fm_vector_btree_ops DEFAULT FOR TYPE fm_vector USING btree AS
	OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
	FUNCTION 1 fm_vector_cmp(fm_vector, fm_vector);
CREATE OPERATOR CLASS fm_vector_hash_ops DEFAULT FOR TYPE fm_vector USING hash AS
	OPERATOR 1 =,
	FUNCTION 1 fm_vector_hash(fm_vector),
	FUNCTION 2 fm_vector_hash_extended(fm_vector, bigint);

------------------------------------------------------------------------------
-- Aggregates: fm_sum (the cold-start query vector) and fm_avg
------------------------------------------------------------------------------

CREATE FUNCTION fm_sum_transfn(internal, fm_vector) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION fm_sum_combinefn(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION fm_sum_serialfn(internal) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_sum_deserialfn(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_sum_finalfn(internal) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION fm_avg_finalfn(internal) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE fm_sum(fm_vector) (
	SFUNC        = fm_sum_transfn,
	STYPE        = internal,
	COMBINEFUNC  = fm_sum_combinefn,
	SERIALFUNC   = fm_sum_serialfn,
	DESERIALFUNC = fm_sum_deserialfn,
	FINALFUNC    = fm_sum_finalfn,
	PARALLEL     = SAFE
);
COMMENT ON AGGREGATE fm_sum(fm_vector) IS 'element-wise sum; NULLs skipped; NULL when no rows';

CREATE AGGREGATE fm_avg(fm_vector) (
	SFUNC        = fm_sum_transfn,
	STYPE        = internal,
	COMBINEFUNC  = fm_sum_combinefn,
	SERIALFUNC   = fm_sum_serialfn,
	DESERIALFUNC = fm_sum_deserialfn,
	FINALFUNC    = fm_avg_finalfn,
	PARALLEL     = SAFE
);
COMMENT ON AGGREGATE fm_avg(fm_vector) IS 'element-wise mean; NULLs skipped; NULL when no rows';


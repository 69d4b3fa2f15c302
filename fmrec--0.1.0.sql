-- fmrec 0.1.0: factorization machines inside PostgreSQL.
\echo Use "CREATE EXTENSION fmrec" to load this file. \quit

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

-- COST 1: a dot product of a few hundred floats is cheaper than the
-- planner's default guess for a C function, and a low cost keeps parallel
-- plans for large item tables honest.
CREATE FUNCTION fm_score(query fm_vector, embedding fm_vector, bias real DEFAULT 0)
	RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
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
CREATE FUNCTION fm_vector_eq(fm_vector, fm_vector) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION fm_vector_ne(fm_vector, fm_vector) RETURNS boolean
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
	RESTRICT = eqsel, JOIN = eqjoinsel);
CREATE OPERATOR <> (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_vector_ne, COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel);

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

------------------------------------------------------------------------------
-- Where models live.  Column names are part of the public API.
-- Both tables are dumped by pg_dump (they hold user data, not extension
-- definitions).  A training replaces a model's rows in its own transaction,
-- so readers see the old model or the new one, never a mix.
------------------------------------------------------------------------------

CREATE TABLE fm_model (
	model           text PRIMARY KEY,
	method          text NOT NULL,
	k               integer NOT NULL,
	w0              double precision NOT NULL,
	target_min      double precision NOT NULL,
	target_max      double precision NOT NULL,
	source          text NOT NULL,
	target          text NOT NULL,
	features        text[] NOT NULL,
	params          jsonb NOT NULL,
	epochs          integer NOT NULL,
	rows_used       bigint NOT NULL,
	rows_skipped    bigint NOT NULL,
	n_features      integer NOT NULL,
	train_rmse      double precision,
	validation_rmse double precision,
	seconds         double precision NOT NULL,
	trained_at      timestamptz NOT NULL
);
COMMENT ON TABLE fm_model IS 'one row per trained factorization machine';

CREATE TABLE fm_feature (
	model     text NOT NULL REFERENCES fm_model (model) ON DELETE CASCADE,
	feature   text NOT NULL,
	value     text NOT NULL,
	bias      real NOT NULL,
	embedding fm_vector NOT NULL,
	PRIMARY KEY (model, feature, value)
);
COMMENT ON TABLE fm_feature IS 'one row per feature value of a model: its bias w_i and embedding v_i';

SELECT pg_catalog.pg_extension_config_dump('fm_model', '');
SELECT pg_catalog.pg_extension_config_dump('fm_feature', '');

------------------------------------------------------------------------------
-- Training
------------------------------------------------------------------------------

CREATE TYPE fm_train_result AS (
	model           text,
	method          text,
	k               integer,
	epochs          integer,
	rows_used       bigint,
	rows_skipped    bigint,
	n_features      integer,
	train_rmse      double precision,
	validation_rmse double precision,
	seconds         double precision
);

-- NULL for a hyper-parameter means "the method's default" (see README).
-- Runs with the caller's privileges: no SECURITY DEFINER anywhere.
CREATE FUNCTION fm_train_from_table(
	source              regclass,
	target              name,
	features            name[],
	model               text,
	k                   integer DEFAULT NULL,
	epochs              integer DEFAULT NULL,
	method              text DEFAULT 'sgd',
	learning_rate       double precision DEFAULT NULL,
	regularization      double precision DEFAULT NULL,
	init_stdev          double precision DEFAULT NULL,
	validation_fraction double precision DEFAULT 0.1,
	seed                bigint DEFAULT 42)
	RETURNS fm_train_result
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fm_train_from_table IS
	'trains a degree-2 factorization machine on a table and stores it in fm_model/fm_feature';

CREATE FUNCTION fm_drop_model(model text, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	DELETE FROM @extschema@.fm_model m WHERE m.model = fm_drop_model.model;
	IF NOT FOUND AND NOT if_exists THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('model "%s" does not exist', model);
	END IF;
	RETURN FOUND;
END $$;

------------------------------------------------------------------------------
-- Serving.  A row or context is described by parallel arrays of feature
-- (column) names and values.  A multi-valued column is given by repeating
-- its name once per element; each element then weighs 1/count, exactly as
-- in training.  Unknown values contribute nothing (cold start).
------------------------------------------------------------------------------

-- (feature, value, x) of the known features of a description.
CREATE FUNCTION fm_features_of(model text, feature text[], value text[])
	RETURNS TABLE (feature_name text, feature_value text, x double precision, bias real,
	               embedding fm_vector)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	IF cardinality(fm_features_of.feature) <> cardinality(fm_features_of.value) THEN
		RAISE EXCEPTION USING ERRCODE = 'array_subscript_error',
			MESSAGE = format('feature and value arrays differ in length: %s and %s',
							 cardinality(fm_features_of.feature), cardinality(fm_features_of.value));
	END IF;
	RETURN QUERY
	WITH entries AS (
		SELECT u.f, u.v, 1.0 / count(*) OVER (PARTITION BY u.f) AS w
		  FROM unnest(fm_features_of.feature, fm_features_of.value) AS u(f, v)
		 WHERE u.v IS NOT NULL AND u.f IS NOT NULL
	), merged AS (
		SELECT e.f, e.v, sum(e.w)::double precision AS x FROM entries e GROUP BY e.f, e.v
	)
	SELECT m.f, m.v, m.x, ff.bias, ff.embedding
	  FROM merged m
	  JOIN @extschema@.fm_feature ff
	    ON ff.model = fm_features_of.model AND ff.feature = m.f AND ff.value = m.v;
END $$;

CREATE FUNCTION fm_model_row(model text) RETURNS fm_model
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	result @extschema@.fm_model;
BEGIN
	SELECT * INTO result FROM @extschema@.fm_model m WHERE m.model = fm_model_row.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('model "%s" does not exist', model),
			HINT = 'Train it with fm_train_from_table(); SELECT model FROM fm_model lists the models.';
	END IF;
	RETURN result;
END $$;

-- The full FM equation for one row, clipped to the target range of training.
CREATE FUNCTION fm_predict(model text, feature text[], value text[]) RETURNS double precision
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@.fm_model_row(model);
	linear double precision;
	total @extschema@.fm_vector;
	squares double precision;
	prediction double precision;
BEGIN
	SELECT coalesce(sum(f.bias * f.x), 0),
	       @extschema@.fm_sum(f.embedding * f.x::real),
	       coalesce(sum(@extschema@.fm_dot(f.embedding, f.embedding) * f.x * f.x), 0)
	  INTO linear, total, squares
	  FROM @extschema@.fm_features_of(model, feature, value) f;
	prediction := m.w0 + linear
		+ 0.5 * (coalesce(@extschema@.fm_dot(total, total), 0) - squares);
	RETURN greatest(m.target_min, least(m.target_max, prediction));
END $$;
COMMENT ON FUNCTION fm_predict(text, text[], text[]) IS
	'full FM prediction for one row given as (feature, value) pairs, clipped to the training target range';

-- The query vector of a context: the weighted sum of its embeddings
-- (fm_sum); a zero vector when no value is known, so scores fall back to
-- item biases instead of NULL.
CREATE FUNCTION fm_query(model text, feature text[], value text[]) RETURNS fm_vector
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@.fm_model_row(model);
	result @extschema@.fm_vector;
BEGIN
	SELECT @extschema@.fm_sum(f.embedding * f.x::real) INTO result
	  FROM @extschema@.fm_features_of(model, feature, value) f;
	RETURN coalesce(result, array_fill(0::real, ARRAY[m.k])::@extschema@.fm_vector);
END $$;
COMMENT ON FUNCTION fm_query(text, text[], text[]) IS
	'query vector of a user context: sum of its feature embeddings (cold start works with metadata only)';

-- An item's own part of the FM: its bias (linear terms plus the pairwise
-- terms among its own features, e.g. movie x genres) and its embedding (sum
-- of its feature embeddings).  With these materialised,
-- ORDER BY fm_score(fm_query(...), embedding, bias) DESC ranks items exactly
-- as fm_predict() would.
CREATE FUNCTION fm_item(model text, feature text[], value text[],
                        OUT bias real, OUT embedding fm_vector)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@.fm_model_row(model);
	linear double precision;
	squares double precision;
BEGIN
	SELECT coalesce(sum(f.bias * f.x), 0),
	       @extschema@.fm_sum(f.embedding * f.x::real),
	       coalesce(sum(@extschema@.fm_dot(f.embedding, f.embedding) * f.x * f.x), 0)
	  INTO linear, embedding, squares
	  FROM @extschema@.fm_features_of(model, feature, value) f;
	embedding := coalesce(embedding, array_fill(0::real, ARRAY[m.k])::@extschema@.fm_vector);
	bias := linear + 0.5 * (@extschema@.fm_dot(embedding, embedding) - squares);
END $$;
COMMENT ON FUNCTION fm_item(text, text[], text[]) IS
	'bias and embedding of an item described by its features, for exact ORDER BY fm_score(...)';

-- fmrec 0.2.0: factorization machines inside PostgreSQL.
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

------------------------------------------------------------------------------
-- Where models live.  Column names are part of the public API.
-- Both tables are dumped by pg_dump (they hold user data, not extension
-- definitions).  A training replaces a model's rows in its own transaction,
-- so readers see the old model or the new one, never a mix.
------------------------------------------------------------------------------

CREATE SEQUENCE fm_model_version_seq;
COMMENT ON SEQUENCE fm_model_version_seq IS 'numbers the trainings: fm_model.version';

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
	trained_at      timestamptz NOT NULL,
	-- 0.3.0: how each feature column is read ('categorical', 'each',
	-- 'numeric', 'weighted'), parallel to features; NULL for models trained
	-- before 0.3.0 (every column categorical, an array's elements 1/len each)
	feature_kinds   text[],
	-- a new number at every training: item rows materialised from a model
	-- can say which training they came from (fm_model_version_seq)
	version         bigint NOT NULL DEFAULT pg_catalog.nextval('@extschema@.fm_model_version_seq'::pg_catalog.regclass),
	-- the per-epoch curve: [{"epoch": 1, "train_rmse": ..., ...}, ...]
	history         jsonb
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
SELECT pg_catalog.pg_extension_config_dump('fm_model_version_seq', '');
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
	seconds         double precision,
	validation_ndcg double precision     -- ials: NDCG@10 of the held-out positives
);

-- NULL for a hyper-parameter means "the method's default" (see README).
-- Runs with the caller's privileges (not SECURITY DEFINER).
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
	seed                bigint DEFAULT 42,
	validation          regclass DEFAULT NULL,
	item_features       name[] DEFAULT NULL,
	items               regclass DEFAULT NULL,
	positive_threshold  double precision DEFAULT NULL,
	unobserved_weight   double precision DEFAULT NULL,
	confidence          double precision DEFAULT NULL)
	RETURNS fm_train_result
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION fm_train_from_table IS
	'trains a degree-2 factorization machine on a table and stores it in fm_model/fm_feature; '
	'method ials learns a ranking from implicit feedback: item_features names the item columns '
	'(the first is the item key), items the catalogue (one row per item), positive_threshold which '
	'rows are positives (NULL: all), unobserved_weight the weight of every unobserved pair, '
	'confidence how a positive''s target raises its weight (1 + confidence * target)';

-- 42P01 for a regclass that names no relation (OID 0 prints as '-').
CREATE FUNCTION _fm_relation_must_exist(rel regclass) RETURNS void
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF rel IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rel) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_table',
			MESSAGE = pg_catalog.format('relation with OID %s does not exist', coalesce(rel::pg_catalog.oid::pg_catalog.text, 'NULL'));
	END IF;
END $$;

CREATE FUNCTION fm_drop_model(model text, if_exists boolean DEFAULT false) RETURNS boolean
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM @extschema@.fm_model m WHERE m.model OPERATOR(pg_catalog.=) fm_drop_model.model;
	IF NOT FOUND AND NOT if_exists THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('model "%s" does not exist', model);
	END IF;
	RETURN FOUND;
END $$;
------------------------------------------------------------------------------
-- Serving.  A row or context is described by parallel arrays of feature
-- (column) names and values.  A multi-valued column is given by repeating
-- its name once per element; each element then weighs 1/count, exactly as
-- in training.  Unknown values contribute nothing (cold start).
------------------------------------------------------------------------------

-- Every SQL and PL/pgSQL body of fmrec runs with search_path = pg_catalog,
-- pg_temp and names every function, operator and type it uses with its
-- schema (pg_catalog. or @extschema@.), so that no object a user created in
-- a writable schema (public, "$user") can be picked instead of the intended
-- one; test/t/100_hijack.pl plants such objects and checks.

-- (feature, value, x) of the known features of a description.
CREATE FUNCTION _fm_features_of(model text, feature text[], value text[])
	RETURNS TABLE (feature_name text, feature_value text, x double precision, bias real,
	               embedding fm_vector)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.cardinality(_fm_features_of.feature)
	   OPERATOR(pg_catalog.<>) pg_catalog.cardinality(_fm_features_of.value) THEN
		RAISE EXCEPTION USING ERRCODE = 'array_subscript_error',
			MESSAGE = pg_catalog.format('feature and value arrays differ in length: %s and %s',
							 pg_catalog.cardinality(_fm_features_of.feature),
							 pg_catalog.cardinality(_fm_features_of.value));
	END IF;
	RETURN QUERY
	WITH entries AS (
		SELECT u.f, u.v,
		       1.0 OPERATOR(pg_catalog./)
		           (pg_catalog.count(*) OVER (PARTITION BY u.f))::pg_catalog.numeric AS w
		  FROM ROWS FROM (pg_catalog.unnest(_fm_features_of.feature),
		                 pg_catalog.unnest(_fm_features_of.value)) AS u(f, v)
		 WHERE u.v IS NOT NULL AND u.f IS NOT NULL
	), merged AS (
		SELECT e.f, e.v, pg_catalog.sum(e.w)::pg_catalog.float8 AS x FROM entries e GROUP BY e.f, e.v
	)
	SELECT m.f, m.v, m.x, ff.bias, ff.embedding
	  FROM merged m
	  JOIN @extschema@.fm_feature ff
	    ON ff.model OPERATOR(pg_catalog.=) _fm_features_of.model
	   AND ff.feature OPERATOR(pg_catalog.=) m.f
	   AND ff.value OPERATOR(pg_catalog.=) m.v;
END $$;

CREATE FUNCTION _fm_model_row(model text) RETURNS fm_model
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result @extschema@.fm_model;
BEGIN
	SELECT * INTO result FROM @extschema@.fm_model m
	 WHERE m.model OPERATOR(pg_catalog.=) _fm_model_row.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = pg_catalog.format('model "%s" does not exist', model),
			HINT = 'Train it with fm_train_from_table; SELECT model FROM fm_model lists the models.';
	END IF;
	RETURN result;
END $$;

-- The sums fm_predict and fm_item need over the known features of a row:
-- the linear part, the summed embedding and the sum of squared embeddings
-- (for the pairwise identity 1/2 (|sum v x|^2 - sum |v|^2 x^2)).
CREATE FUNCTION _fm_feature_sums(model text, feature text[], value text[],
                                OUT linear double precision, OUT total fm_vector,
                                OUT squares double precision)
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(pg_catalog.sum(f.bias::pg_catalog.float8 OPERATOR(pg_catalog.*) f.x), 0),
	       @extschema@.fm_sum(f.embedding OPERATOR(@extschema@.*) f.x::pg_catalog.float4),
	       coalesce(pg_catalog.sum(@extschema@.fm_dot(f.embedding, f.embedding)
	                                          OPERATOR(pg_catalog.*) f.x OPERATOR(pg_catalog.*) f.x), 0)
	  FROM @extschema@._fm_features_of(model, feature, value) f
$$;

-- The zero vector of a model's dimension (what a context without any known
-- feature contributes).
CREATE FUNCTION _fm_zero_vector(k integer) RETURNS fm_vector
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.array_fill(0::pg_catalog.float4, ARRAY[k])::@extschema@.fm_vector
$$;

-- The full FM equation for one row, clipped to the target range of training.
CREATE FUNCTION fm_predict(model text, feature text[], value text[]) RETURNS double precision
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@._fm_model_row(model);
	s record;
	prediction double precision;
BEGIN
	s := @extschema@._fm_feature_sums(model, feature, value);
	-- (OPERATOR() syntax gives every operator the same precedence: parenthesise)
	prediction := m.w0 OPERATOR(pg_catalog.+) s.linear
		OPERATOR(pg_catalog.+) (0.5::pg_catalog.float8 OPERATOR(pg_catalog.*)
		  (coalesce(@extschema@.fm_dot(s.total, s.total), 0) OPERATOR(pg_catalog.-) s.squares));
	RETURN greatest(m.target_min, least(m.target_max, prediction));
END $$;
COMMENT ON FUNCTION fm_predict(text, text[], text[]) IS
	'full FM prediction for one row given as (feature, value) pairs, clipped to the training target range';

-- The query vector of a context: the weighted sum of its embeddings
-- (fm_sum); a zero vector when no value is known, so scores fall back to
-- item biases instead of NULL.  fm_query is the C wrapper below, which
-- computes this once per statement and call site.
CREATE FUNCTION _fm_query_compute(model text, feature text[], value text[]) RETURNS fm_vector
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@._fm_model_row(model);
	result @extschema@.fm_vector;
BEGIN
	SELECT @extschema@.fm_sum(f.embedding OPERATOR(@extschema@.*) f.x::pg_catalog.float4) INTO result
	  FROM @extschema@._fm_features_of(model, feature, value) f;
	RETURN coalesce(result, @extschema@._fm_zero_vector(m.k));
END $$;

CREATE FUNCTION fm_query(model text, feature text[], value text[]) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
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
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@._fm_model_row(model);
	s record;
BEGIN
	s := @extschema@._fm_feature_sums(model, feature, value);
	embedding := coalesce(s.total, @extschema@._fm_zero_vector(m.k));
	bias := s.linear OPERATOR(pg_catalog.+) (0.5::pg_catalog.float8 OPERATOR(pg_catalog.*)
		(@extschema@.fm_dot(embedding, embedding) OPERATOR(pg_catalog.-) s.squares));
END $$;
COMMENT ON FUNCTION fm_item(text, text[], text[]) IS
	'bias and embedding of an item described by its features, for exact ORDER BY fm_score(...)';
------------------------------------------------------------------------------
-- Fold-in: the query vector of a user who rated items after the training,
-- solved in closed form against the item vectors (src/core/foldin.h), in
-- milliseconds and without retraining.
------------------------------------------------------------------------------

-- The context's own part, as fm_item computes it for a row: its scalar
-- (linear and pairwise terms among its features, without w0) and its query
-- vector.  The jsonb object's scalar values are features, an array's
-- non-NULL elements each one (weighing 1/count, as fm_item reads repeated
-- names); NULL and {} are the empty context.  The one place fold-in reads a
-- context: it goes through fm_item(model, jsonb) once that form exists.
CREATE FUNCTION _fm_fold_in_context(model text, context jsonb,
                                    OUT bias real, OUT embedding fm_vector)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	names text[];
	vals text[];
BEGIN
	IF context IS NOT NULL
	   AND pg_catalog.jsonb_typeof(context) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = pg_catalog.format('context must be a jsonb object, not %s',
			                            pg_catalog.jsonb_typeof(context)),
			HINT = 'Give the user''s features as {"column": value, ...}.';
	END IF;
	SELECT coalesce(pg_catalog.array_agg(e.f), '{}'), coalesce(pg_catalog.array_agg(e.v), '{}')
	  INTO names, vals
	  FROM (SELECT j.key AS f, j.value OPERATOR(pg_catalog.#>>) '{}'::text[] AS v
	          FROM pg_catalog.jsonb_each(coalesce(context, '{}'::jsonb)) j
	         WHERE pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.<>) 'array'
	           AND pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.<>) 'object'
	           AND pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.<>) 'null'
	        UNION ALL
	        SELECT j.key, a.value OPERATOR(pg_catalog.#>>) '{}'::text[]
	          FROM pg_catalog.jsonb_each(coalesce(context, '{}'::jsonb)) j,
	               pg_catalog.jsonb_array_elements(j.value) a
	         WHERE pg_catalog.jsonb_typeof(j.value) OPERATOR(pg_catalog.=) 'array'
	           AND pg_catalog.jsonb_typeof(a.value) OPERATOR(pg_catalog.<>) 'null') e;
	SELECT i.bias, i.embedding INTO bias, embedding FROM @extschema@.fm_item(model, names, vals) i;
END $$;
COMMENT ON FUNCTION _fm_fold_in_context(text, jsonb) IS
	'internal: scalar and query vector of a fold-in context';

CREATE FUNCTION fm_fold_in(model text, context jsonb, items anyarray,
                           ratings real[] DEFAULT NULL,
                           regularization double precision DEFAULT NULL,
                           item_table regclass DEFAULT NULL)
	RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_fold_in(text, jsonb, anyarray, real[], double precision, regclass) IS
	'query vector of a user from the items they rated after the training (closed form against the item table''s vectors), for ORDER BY fm_score(...)';
------------------------------------------------------------------------------
-- Evaluation: error and ranking quality of a model on held-out ratings.
------------------------------------------------------------------------------

-- Precision@k, recall@k and NDCG@k (binary relevance) of one ranked list;
-- recall and NDCG are NULL when nothing is relevant.  Average over users.
CREATE FUNCTION fm_ranking_metrics(ranked bigint[], relevant bigint[], k integer DEFAULT 10,
                                   OUT precision_at_k double precision,
                                   OUT recall_at_k double precision,
                                   OUT ndcg_at_k double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- SQL expressions for the (feature, value) arrays of a row of `rel` (under
-- alias `alias`), covering the model's feature columns that `rel` has.
-- Array columns repeat their name once per element, as fm_predict expects.
CREATE FUNCTION _fm_description_sql(model text, rel regclass, alias text,
                                   OUT features_sql text, OUT values_sql text)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col record;
BEGIN
	features_sql := 'ARRAY[]::pg_catalog.text[]';
	values_sql := 'ARRAY[]::pg_catalog.text[]';
	FOR col IN
		SELECT a.attname, t.typcategory OPERATOR(pg_catalog.=) 'A' AS is_array
		  FROM pg_catalog.unnest((@extschema@._fm_model_row(model)).features) WITH ORDINALITY AS f(name, ord)
		  JOIN pg_catalog.pg_attribute a
		    ON a.attrelid OPERATOR(pg_catalog.=) rel AND a.attname OPERATOR(pg_catalog.=) f.name
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
		 ORDER BY f.ord
	LOOP
		IF col.is_array THEN
			features_sql := features_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) pg_catalog.array_fill(%L::pg_catalog.text, '
				'ARRAY[coalesce(pg_catalog.cardinality(%I.%I), 0)])',
				col.attname, alias, col.attname);
			values_sql := values_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) coalesce(%I.%I::pg_catalog.text[], ARRAY[]::pg_catalog.text[])',
				alias, col.attname);
		ELSE
			features_sql := features_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) ARRAY[%L::pg_catalog.text]', col.attname);
			values_sql := values_sql OPERATOR(pg_catalog.||) pg_catalog.format(
				' OPERATOR(pg_catalog.||) ARRAY[%I.%I::pg_catalog.text]', alias, col.attname);
		END IF;
	END LOOP;
END $$;

-- Evaluates a model on held-out ratings `test` (user, item, target), in C
-- (src/fm_evaluate.c):
--   rmse: of the full predictions clipped to the training target range, over
--     the test rows whose user is in user_table and item in item_table;
--   precision/recall/NDCG@k: for each test user (of user_table) with at least
--     one relevant row (target >= relevant_threshold), the top k of all items
--     of item_table that the user did not rate in `train`, ranked by
--     fm_score(user's query vector, item's embedding, item's bias), ties to
--     the smaller item id; averaged over those users.
-- User features are the model's feature columns found in user_table, item
-- features those found in item_table (e.g. genres), combined as fm_query and
-- fm_item do.  user_features, when given, names the only user_table columns
-- that describe a user: for a cold-start evaluation, hold some users out of
-- `train` entirely and rank them from their metadata, e.g.
-- user_features => ARRAY['age_group', 'gender', 'occupation'].
CREATE FUNCTION fm_evaluate(model text, test regclass, train regclass,
                            user_table regclass, item_table regclass,
                            k integer DEFAULT 10,
                            relevant_threshold double precision DEFAULT 4,
                            user_column name DEFAULT 'user_id',
                            item_column name DEFAULT 'movie_id',
                            target name DEFAULT NULL,
                            user_features name[] DEFAULT NULL)
	RETURNS TABLE (rmse double precision, precision_at_k double precision,
	               recall_at_k double precision, ndcg_at_k double precision,
	               evaluated_users bigint, test_rows bigint)
	AS 'MODULE_PATHNAME', 'fm_evaluate'
	LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_evaluate(text, regclass, regclass, regclass, regclass, integer, double precision, name, name, name, name[]) IS
	'RMSE and precision/recall/NDCG@k of a model on held-out ratings (user_features: cold start from those columns only)';

-- The honest baseline with fm_evaluate's protocol: items ranked by their
-- number of rows in `train` (ties to the smaller id), or, with group_by
-- (columns of user_table, e.g. ARRAY['age_group', 'gender']), by their
-- number of rows among the users of the same group.  With user_table, only
-- its users are evaluated (as fm_evaluate does); without, every test user.
-- rmse is NULL: counting predicts no rating.
CREATE FUNCTION fm_evaluate_popularity(test regclass, train regclass, item_table regclass,
                                       k integer DEFAULT 10,
                                       relevant_threshold double precision DEFAULT 4,
                                       user_column name DEFAULT 'user_id',
                                       item_column name DEFAULT 'movie_id',
                                       target name DEFAULT 'rating',
                                       group_by name[] DEFAULT NULL,
                                       user_table regclass DEFAULT NULL)
	RETURNS TABLE (rmse double precision, precision_at_k double precision,
	               recall_at_k double precision, ndcg_at_k double precision,
	               evaluated_users bigint, test_rows bigint)
	AS 'MODULE_PATHNAME', 'fm_evaluate_popularity'
	LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 1
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION fm_evaluate_popularity(regclass, regclass, regclass, integer, double precision, name, name, name, name[], regclass) IS
	'precision/recall/NDCG@k of the most-popular ranking (optionally within groups of users) with fm_evaluate''s protocol';

-- Fills the bias and embedding columns of an item table from a model, so
-- that ORDER BY fm_score(query, embedding, bias) DESC ranks exactly as the
-- full model.  The item features are the model's feature columns present in
-- the table (e.g. movie_id and genres).  Returns the number of rows updated.
CREATE FUNCTION fm_materialize_items(model text, item_table regclass,
                                     bias_column name DEFAULT 'bias',
                                     embedding_column name DEFAULT 'embedding')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d record;
	missing name;
	updated bigint;
BEGIN
	PERFORM @extschema@._fm_model_row(model);
	PERFORM @extschema@._fm_relation_must_exist(item_table);
	IF bias_column IS NULL OR embedding_column IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'bias_column and embedding_column must not be NULL';
	END IF;
	SELECT c INTO missing FROM pg_catalog.unnest(ARRAY[bias_column, embedding_column]) AS c
	 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
	                    WHERE a.attrelid OPERATOR(pg_catalog.=) item_table
	                      AND a.attname OPERATOR(pg_catalog.=) c
	                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = pg_catalog.format('column "%s" of relation %s does not exist', missing, item_table),
			HINT = pg_catalog.format('ALTER TABLE %s ADD COLUMN %I real, ADD COLUMN %I fm_vector;',
			              item_table, bias_column, embedding_column);
	END IF;
	d := @extschema@._fm_description_sql(model, item_table, 'i');
	EXECUTE pg_catalog.format('UPDATE %s AS i SET (%I, %I) = '
	                          '(SELECT f.bias, f.embedding FROM @extschema@.fm_item($1, %s, %s) f)',
	               item_table, bias_column, embedding_column, d.features_sql, d.values_sql)
	USING model;
	GET DIAGNOSTICS updated = ROW_COUNT;
	RETURN updated;
END $$;
COMMENT ON FUNCTION fm_materialize_items(text, regclass, name, name) IS
	'fills an item table''s bias and embedding columns from a model (exact ranking by fm_score)';
------------------------------------------------------------------------------
-- Exact top-k of a whole catalogue: fm_topk() scores a matrix of the item
-- embeddings cached in backend memory (see src/fm_topk.c).
------------------------------------------------------------------------------

-- One row per tracked item table: changed by every statement that changes
-- the table (the triggers of fm_topk_track(), function fm_topk_bump), read
-- by fm_topk() with the caller's snapshot to decide whether its cache still
-- shows what the caller sees.  version is a fresh sequence value per
-- change, never reused (a rolled back change must not leave a value that a
-- later change could repeat).  Only the extension's owner writes it: the C
-- trigger switches to that role for one fixed statement (see
-- src/fm_topk_version.c); no SECURITY DEFINER function is involved.
CREATE TABLE fm_topk_version (
	relid   oid PRIMARY KEY,
	version bigint NOT NULL
);
COMMENT ON TABLE fm_topk_version IS
	'change counter of the item tables tracked by fm_topk_track(); maintained by triggers';
CREATE SEQUENCE fm_topk_version_seq;
GRANT SELECT ON fm_topk_version TO PUBLIC;

-- The trigger function of tracked tables.  Anyone may attach it to a table
-- they own: it only ever bumps the row of the table it fires on.
CREATE FUNCTION fm_topk_bump() RETURNS trigger
	AS 'MODULE_PATHNAME' LANGUAGE C;
COMMENT ON FUNCTION fm_topk_bump() IS
	'trigger of fm_topk_track(): records that the table changed';

-- Gives a table the caller owns a fresh version row, or removes its row.
CREATE FUNCTION _fm_topk_version_mark(items regclass, tracked boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'fm_topk_version_mark' LANGUAGE C VOLATILE STRICT;

-- Installs the triggers that let fm_topk() keep its cache of a table across
-- statements and transactions (both enabled ALWAYS, also under
-- session_replication_role = replica and in logical replication):
--   fm_topk_version           AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW
--                             (row triggers fire for every way a row changes,
--                             through an inheritance or partitioned parent
--                             too; the trigger bumps once per statement)
--   fm_topk_version_truncate  AFTER TRUNCATE FOR EACH STATEMENT
-- Needs ownership of the table.  Plain tables without inheritance children.
CREATE FUNCTION fm_topk_track(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
	children boolean;
BEGIN
	PERFORM @extschema@._fm_relation_must_exist(items);
	SELECT c.relkind, c.relhassubclass INTO kind, children
	  FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) items;
	IF kind IS DISTINCT FROM 'r' OR children THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = pg_catalog.format('cannot track "%s": only plain tables without inheritance children can be tracked', items),
			HINT = 'fm_topk still works on it, caching only within one snapshot.';
	END IF;
	-- the triggers of fmrec 0.1.0, if any
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version_replica ON %s', items);
	EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER fm_topk_version'
		' AFTER INSERT OR UPDATE OR DELETE ON %s'
		' FOR EACH ROW EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fm_topk_version', items);
	EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER fm_topk_version_truncate'
		' AFTER TRUNCATE ON %s'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fm_topk_version_truncate', items);
	PERFORM @extschema@._fm_topk_version_mark(items, true);
END $$;
COMMENT ON FUNCTION fm_topk_track(regclass) IS
	'installs the triggers that let fm_topk() cache a table across transactions';

CREATE FUNCTION fm_topk_untrack(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@._fm_relation_must_exist(items);
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version ON %s', items);
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version_truncate ON %s', items);
	EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS fm_topk_version_replica ON %s', items);
	PERFORM @extschema@._fm_topk_version_mark(items, false);
END $$;
COMMENT ON FUNCTION fm_topk_untrack(regclass) IS
	'removes the triggers of fm_topk_track(); fm_topk() then caches the table only within one snapshot';

-- The k best items for a query vector, best first:
--   SELECT id, fm_score(query, embedding, bias) AS score FROM items
--    WHERE fm_score(query, embedding, bias) IS NOT NULL
--      AND (exclude IS NULL OR id <> ALL (array_remove(exclude, NULL)))
--    ORDER BY score DESC, id LIMIT k
-- with the same scores, bit for bit (ties broken by the smaller id; rows
-- whose score is NULL, or NaN because huge values overflow, are never
-- returned, whereas a bare ORDER BY ... DESC would put them first).  items: any relation the caller may SELECT from,
-- with an integer id column, an fm_vector embedding column and a numeric
-- bias column (read as real, as fm_score does); bias_column => NULL scores
-- without a bias.  exclude: ids not to return ("already rated").  k: 0 ..
-- 10,000,000.  Reads the items as the caller; STABLE, so all reads of one
-- call see the caller's snapshot.  PARALLEL RESTRICTED: the cache lives in
-- the leader.  The first call in a backend reads the relation; later calls
-- reuse the cache as long as it shows what the caller would see (tracked
-- tables: across transactions; see fm_topk_track() and src/fm_topk.c).
CREATE FUNCTION fm_topk(
	query            fm_vector,
	items            regclass,
	k                integer,
	exclude          bigint[] DEFAULT NULL,
	id_column        name DEFAULT 'id',
	embedding_column name DEFAULT 'embedding',
	bias_column      name DEFAULT 'bias')
	RETURNS TABLE (id bigint, score double precision)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION fm_topk(fm_vector, regclass, integer, bigint[], name, name, name) IS
	'exact top-k items by fm_score, from a per-backend cache of the item embeddings';

CREATE FUNCTION fm_topk_cache(
	OUT relid regclass, OUT items bigint, OUT dim integer, OUT bytes bigint,
	OUT regime text, OUT version bigint, OUT valid boolean, OUT last_rescored bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'fm_topk_cache_info' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION fm_topk_cache() IS
	'the item caches of fm_topk() in this backend; last_rescored: items the last sgemv scoring rescored exactly (NULL after the loop kernel)';

CREATE FUNCTION fm_topk_cache_reset() RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
------------------------------------------------------------------------------
-- Approximate top-k: the fm_ivf index (inverted lists over k-means
-- centroids, maximum inner product search).  See src/fm_ivf.h.
--
--   CREATE INDEX ON items USING fm_ivf (fm_item_vec(embedding, bias)) WITH (lists = 1000);
--   SET fmrec.ivf_probes = 20;
--   SELECT id FROM items
--    ORDER BY fm_item_vec(embedding, bias) <#> fm_query_vec($1) LIMIT 10;
--
-- fm_item_vec(e, b) . fm_query_vec(q) = b + q.e = fm_score(q, e, b), so the
-- ORDER BY is the serving query; <#> is the negative inner product, so
-- ascending order is best first.  Rows whose indexed value is NULL are not
-- in the index.
------------------------------------------------------------------------------

CREATE FUNCTION fm_item_vec(embedding fm_vector, bias real) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
COMMENT ON FUNCTION fm_item_vec(fm_vector, real) IS
	'[embedding, bias]: an item as one vector, for ORDER BY ... <#> fm_query_vec(q)';
CREATE FUNCTION fm_query_vec(query fm_vector) RETURNS fm_vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
COMMENT ON FUNCTION fm_query_vec(fm_vector) IS
	'[query, 1]: the query side of fm_item_vec; their inner product is fm_score';

CREATE FUNCTION fm_negative_inner_product(fm_vector, fm_vector) RETURNS double precision
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 1;
CREATE OPERATOR <#> (LEFTARG = fm_vector, RIGHTARG = fm_vector,
	FUNCTION = fm_negative_inner_product, COMMUTATOR = <#>);
COMMENT ON OPERATOR <#> (fm_vector, fm_vector) IS
	'negative inner product: ORDER BY a <#> b puts the largest inner product first';

CREATE FUNCTION fm_ivf_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD fm_ivf TYPE INDEX HANDLER fm_ivf_handler;
COMMENT ON ACCESS METHOD fm_ivf IS
	'inverted-file index for ORDER BY <#> (maximum inner product), approximate: see fmrec.ivf_probes';

CREATE OPERATOR CLASS fm_vector_ip_ops DEFAULT FOR TYPE fm_vector USING fm_ivf AS
	OPERATOR 1 <#> (fm_vector, fm_vector) FOR ORDER BY float_ops;
------------------------------------------------------------------------------
-- Documentation in the catalog: every object of fmrec has a COMMENT, so that
-- \dx+ fmrec, \df+ and \do+ read as a reference (sql/vector_ops.sql checks
-- that none is missing).  Objects commented where they are created are not
-- repeated here.  Names starting with _fm_ are fmrec's internals: not an
-- API, they may change in any release.
------------------------------------------------------------------------------

-- fm_vector: I/O, typmod, casts
COMMENT ON FUNCTION fm_vector_in(cstring, oid, integer) IS 'fm_vector text input: [1,2.5,-3e-2]';
COMMENT ON FUNCTION fm_vector_out(fm_vector) IS 'fm_vector text output';
COMMENT ON FUNCTION fm_vector_recv(internal, oid, integer) IS 'fm_vector binary input';
COMMENT ON FUNCTION fm_vector_send(fm_vector) IS 'fm_vector binary output';
COMMENT ON FUNCTION fm_vector_typmod_in(cstring[]) IS 'fm_vector(n): the dimension a column requires';
COMMENT ON FUNCTION fm_vector(fm_vector, integer, boolean) IS 'applies a column''s fm_vector(n) dimension';
COMMENT ON FUNCTION fm_vector_from_array(real[], integer, boolean) IS 'real[] to fm_vector (finite elements only)';
COMMENT ON FUNCTION fm_vector_from_array(double precision[], integer, boolean) IS 'double precision[] to fm_vector (finite, within float4)';
COMMENT ON FUNCTION fm_vector_from_array(integer[], integer, boolean) IS 'integer[] to fm_vector';
COMMENT ON FUNCTION fm_vector_to_real_array(fm_vector) IS 'fm_vector to real[]';
COMMENT ON CAST (fm_vector AS fm_vector) IS 'applies a column''s fm_vector(n) dimension';
COMMENT ON CAST (real[] AS fm_vector) IS 'assignment cast: an array of finite numbers becomes a vector';
COMMENT ON CAST (double precision[] AS fm_vector) IS 'assignment cast: an array of finite numbers becomes a vector';
COMMENT ON CAST (integer[] AS fm_vector) IS 'assignment cast: an array of integers becomes a vector';
COMMENT ON CAST (fm_vector AS real[]) IS 'assignment cast: the elements of a vector';

-- vector functions and operators
COMMENT ON FUNCTION fm_score_support(internal) IS 'planner support of fm_score: loads fmrec so its top-N scan is offered';
COMMENT ON FUNCTION fm_dot(fm_vector, fm_vector) IS 'inner product (the dimensions must match)';
COMMENT ON FUNCTION fm_norm(fm_vector) IS 'Euclidean norm';
COMMENT ON FUNCTION fm_dims(fm_vector) IS 'number of dimensions';
COMMENT ON FUNCTION fm_vector_add(fm_vector, fm_vector) IS 'element-wise sum (operator +)';
COMMENT ON FUNCTION fm_vector_sub(fm_vector, fm_vector) IS 'element-wise difference (operator -)';
COMMENT ON FUNCTION fm_vector_mul_scalar(fm_vector, real) IS 'vector times a number (operator *)';
COMMENT ON FUNCTION fm_scalar_mul_vector(real, fm_vector) IS 'number times a vector (operator *)';
COMMENT ON FUNCTION fm_vector_eq(fm_vector, fm_vector) IS 'equal (operator =): same dimension and elements, -0 = 0';
COMMENT ON FUNCTION fm_vector_ne(fm_vector, fm_vector) IS 'not equal (operator <>)';
COMMENT ON FUNCTION fm_vector_lt(fm_vector, fm_vector) IS 'less than (operator <): element by element, then the shorter first';
COMMENT ON FUNCTION fm_vector_le(fm_vector, fm_vector) IS 'less than or equal (operator <=)';
COMMENT ON FUNCTION fm_vector_gt(fm_vector, fm_vector) IS 'greater than (operator >)';
COMMENT ON FUNCTION fm_vector_ge(fm_vector, fm_vector) IS 'greater than or equal (operator >=)';
COMMENT ON FUNCTION fm_vector_cmp(fm_vector, fm_vector) IS 'btree comparison: -1, 0 or 1';
COMMENT ON FUNCTION fm_vector_hash(fm_vector) IS 'hash of a vector (-0 as 0)';
COMMENT ON FUNCTION fm_vector_hash_extended(fm_vector, bigint) IS 'seeded 64-bit hash of a vector';
COMMENT ON OPERATOR + (fm_vector, fm_vector) IS 'element-wise sum';
COMMENT ON OPERATOR - (fm_vector, fm_vector) IS 'element-wise difference';
COMMENT ON OPERATOR * (fm_vector, real) IS 'vector times a number';
COMMENT ON OPERATOR * (real, fm_vector) IS 'number times a vector';
COMMENT ON OPERATOR = (fm_vector, fm_vector) IS 'equal: same dimension and elements';
COMMENT ON OPERATOR <> (fm_vector, fm_vector) IS 'not equal';
COMMENT ON OPERATOR < (fm_vector, fm_vector) IS 'less than: element by element, then the shorter first';
COMMENT ON OPERATOR <= (fm_vector, fm_vector) IS 'less than or equal';
COMMENT ON OPERATOR > (fm_vector, fm_vector) IS 'greater than';
COMMENT ON OPERATOR >= (fm_vector, fm_vector) IS 'greater than or equal';
COMMENT ON OPERATOR CLASS fm_vector_btree_ops USING btree IS 'ordering of fm_vector: ORDER BY, DISTINCT, GROUP BY, unique indexes';
COMMENT ON OPERATOR FAMILY fm_vector_btree_ops USING btree IS 'ordering of fm_vector';
COMMENT ON OPERATOR CLASS fm_vector_hash_ops USING hash IS 'hashing of fm_vector: hash joins and aggregates, hash indexes';
COMMENT ON OPERATOR FAMILY fm_vector_hash_ops USING hash IS 'hashing of fm_vector';
COMMENT ON OPERATOR CLASS fm_vector_ip_ops USING fm_ivf IS 'ORDER BY <#> (largest inner product first) through an fm_ivf index';
COMMENT ON OPERATOR FAMILY fm_vector_ip_ops USING fm_ivf IS 'inner product search of fm_vector';
COMMENT ON FUNCTION fm_negative_inner_product(fm_vector, fm_vector) IS 'minus the inner product (operator <#>)';
COMMENT ON FUNCTION fm_ivf_handler(internal) IS 'index access method handler of fm_ivf';

-- aggregate support
COMMENT ON FUNCTION fm_sum_transfn(internal, fm_vector) IS 'fm_sum/fm_avg state: adds a vector in double precision';
COMMENT ON FUNCTION fm_sum_combinefn(internal, internal) IS 'fm_sum/fm_avg: combines parallel partial states';
COMMENT ON FUNCTION fm_sum_serialfn(internal) IS 'fm_sum/fm_avg: serialises a partial state for parallel workers';
COMMENT ON FUNCTION fm_sum_deserialfn(bytea, internal) IS 'fm_sum/fm_avg: reads a serialised partial state';
COMMENT ON FUNCTION fm_sum_finalfn(internal) IS 'fm_sum: the sum as fm_vector';
COMMENT ON FUNCTION fm_avg_finalfn(internal) IS 'fm_avg: the mean as fm_vector';

-- models, training, serving, evaluation
COMMENT ON TYPE fm_train_result IS 'what fm_train_from_table returns: the model''s summary';
COMMENT ON FUNCTION fm_drop_model(text, boolean) IS 'deletes a model and its features; false (or an error) when it does not exist';
COMMENT ON FUNCTION fm_ranking_metrics(bigint[], bigint[], integer) IS 'precision, recall and NDCG@k (binary relevance) of one ranked list';
COMMENT ON FUNCTION fm_topk_cache_reset() IS 'drops every fm_topk cache of this backend';
COMMENT ON SEQUENCE fm_topk_version_seq IS 'source of the versions in fm_topk_version';

-- internals
COMMENT ON FUNCTION _fm_features_of(text, text[], text[]) IS 'internal: the known features of a description, with their x, bias and embedding';
COMMENT ON FUNCTION _fm_model_row(text) IS 'internal: a model''s fm_model row, or error 42704';
COMMENT ON FUNCTION _fm_feature_sums(text, text[], text[]) IS 'internal: linear part, summed embedding and squares of a description';
COMMENT ON FUNCTION _fm_zero_vector(integer) IS 'internal: the zero vector of k dimensions';
COMMENT ON FUNCTION _fm_query_compute(text, text[], text[]) IS 'internal: fm_query without its per-statement cache';
COMMENT ON FUNCTION _fm_description_sql(text, regclass, text) IS 'internal: SQL of the (feature, value) arrays of a row of a table';
COMMENT ON FUNCTION _fm_relation_must_exist(regclass) IS 'internal: error 42P01 unless the relation exists';
COMMENT ON FUNCTION _fm_topk_version_mark(regclass, boolean) IS 'internal: gives an owned table a fresh fm_topk_version row, or removes it';

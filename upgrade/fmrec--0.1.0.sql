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
	validation          regclass DEFAULT NULL)
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
-- item biases instead of NULL.  fm_query is the C wrapper below, which
-- computes this once per statement and call site.
CREATE FUNCTION fm_query_compute(model text, feature text[], value text[]) RETURNS fm_vector
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
CREATE FUNCTION fm_description_sql(model text, rel regclass, alias text,
                                   OUT features_sql text, OUT values_sql text)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	col record;
BEGIN
	features_sql := 'ARRAY[]::text[]';
	values_sql := 'ARRAY[]::text[]';
	FOR col IN
		SELECT a.attname, t.typcategory = 'A' AS is_array
		  FROM unnest((@extschema@.fm_model_row(model)).features) WITH ORDINALITY AS f(name, ord)
		  JOIN pg_attribute a ON a.attrelid = rel AND a.attname = f.name AND a.attnum > 0 AND NOT a.attisdropped
		  JOIN pg_type t ON t.oid = a.atttypid
		 ORDER BY f.ord
	LOOP
		IF col.is_array THEN
			features_sql := features_sql || format(' || pg_catalog.array_fill(%L::text, ARRAY[coalesce(pg_catalog.cardinality(%I.%I), 0)])',
												   col.attname, alias, col.attname);
			values_sql := values_sql || format(' || coalesce(%I.%I::text[], ARRAY[]::text[])', alias, col.attname);
		ELSE
			features_sql := features_sql || format(' || ARRAY[%L::text]', col.attname);
			values_sql := values_sql || format(' || ARRAY[%I.%I::text]', alias, col.attname);
		END IF;
	END LOOP;
END $$;

-- Evaluates a model on held-out ratings `test` (user, item, target):
--   rmse: of the clipped predictions;
--   precision/recall/NDCG@k: for each test user with at least one relevant
--   rating (target >= relevant_threshold), the top k of all items in
--   item_table that the user did not rate in `train`, ranked by fm_score.
-- User features are the model's feature columns found in user_table, item
-- features those found in item_table (e.g. genres).  Every model feature
-- must live in one of the two.
CREATE FUNCTION fm_evaluate(model text, test regclass, train regclass,
                            user_table regclass, item_table regclass,
                            k integer DEFAULT 10,
                            relevant_threshold double precision DEFAULT 4,
                            user_column name DEFAULT 'user_id',
                            item_column name DEFAULT 'movie_id',
                            target name DEFAULT NULL)
	RETURNS TABLE (rmse double precision, precision_at_k double precision,
	               recall_at_k double precision, ndcg_at_k double precision,
	               evaluated_users bigint, test_rows bigint)
	LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	m @extschema@.fm_model := @extschema@.fm_model_row(model);
	u record;
	i record;
BEGIN
	IF k < 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = format('k must be at least 1, not %s', k);
	END IF;
	target := coalesce(target, m.target::name);
	u := @extschema@.fm_description_sql(model, user_table, 'u');
	i := @extschema@.fm_description_sql(model, item_table, 'i');
	RETURN QUERY EXECUTE format($q$
		WITH items AS MATERIALIZED (
			SELECT i.%1$I::bigint AS item, f.bias, f.embedding
			  FROM %2$s i CROSS JOIN LATERAL @extschema@.fm_item($1, %3$s, %4$s) f),
		test_rows AS MATERIALIZED (
			SELECT t.%5$I::bigint AS uid, t.%1$I::bigint AS item, t.%6$I::float8 AS y
			  FROM %7$s t WHERE t.%6$I IS NOT NULL),
		users AS MATERIALIZED (
			SELECT u.%5$I::bigint AS uid, f.bias, f.embedding
			  FROM %8$s u CROSS JOIN LATERAL @extschema@.fm_item($1, %9$s, %10$s) f
			 WHERE u.%5$I::bigint IN (SELECT uid FROM test_rows)),
		seen AS MATERIALIZED (
			SELECT s.%5$I::bigint AS uid, s.%1$I::bigint AS item FROM %11$s s),
		errors AS (
			SELECT sqrt(avg((t.y - greatest($2, least($3, $4 + u.bias + i.bias
			                 + @extschema@.fm_dot(u.embedding, i.embedding)))) ^ 2)) AS rmse,
			       count(*) AS n
			  FROM test_rows t JOIN users u USING (uid) JOIN items i USING (item)),
		scored AS (
			SELECT u.uid, i.item, @extschema@.fm_score(u.embedding, i.embedding, i.bias) AS score
			  FROM users u CROSS JOIN items i
			 WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.uid = u.uid AND s.item = i.item)),
		ranked AS (
			SELECT r.uid, array_agg(r.item ORDER BY r.rn) AS items
			  FROM (SELECT s.uid, s.item,
			               row_number() OVER (PARTITION BY s.uid ORDER BY s.score DESC, s.item) AS rn
			          FROM scored s) r
			 WHERE r.rn <= $5
			 GROUP BY r.uid),
		relevant AS (
			SELECT t.uid, array_agg(t.item) AS items FROM test_rows t WHERE t.y >= $6 GROUP BY t.uid),
		quality AS (
			SELECT avg(q.precision_at_k) AS p, avg(q.recall_at_k) AS r, avg(q.ndcg_at_k) AS n,
			       count(*) AS users
			  FROM ranked JOIN relevant USING (uid)
			  CROSS JOIN LATERAL @extschema@.fm_ranking_metrics(ranked.items, relevant.items, $5) q)
		SELECT errors.rmse, quality.p, quality.r, quality.n, quality.users, errors.n
		  FROM errors, quality
		$q$, item_column, item_table, i.features_sql, i.values_sql, user_column, target, test,
		     user_table, u.features_sql, u.values_sql, train)
	USING model, m.target_min, m.target_max, m.w0, k, relevant_threshold;
END $$;
COMMENT ON FUNCTION fm_evaluate(text, regclass, regclass, regclass, regclass, integer, double precision, name, name, name) IS
	'RMSE and precision/recall/NDCG@k of a model on held-out ratings';

-- Fills the bias and embedding columns of an item table from a model, so
-- that ORDER BY fm_score(query, embedding, bias) DESC ranks exactly as the
-- full model.  The item features are the model's feature columns present in
-- the table (e.g. movie_id and genres).  Returns the number of rows updated.
CREATE FUNCTION fm_materialize_items(model text, item_table regclass,
                                     bias_column name DEFAULT 'bias',
                                     embedding_column name DEFAULT 'embedding')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	d record;
	missing name;
	updated bigint;
BEGIN
	PERFORM @extschema@.fm_model_row(model);
	SELECT c INTO missing FROM unnest(ARRAY[bias_column, embedding_column]) AS c
	 WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = item_table
	                      AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('column "%s" of relation %s does not exist', missing, item_table),
			HINT = format('ALTER TABLE %s ADD COLUMN %I real, ADD COLUMN %I fm_vector;',
			              item_table, bias_column, embedding_column);
	END IF;
	d := @extschema@.fm_description_sql(model, item_table, 'i');
	EXECUTE format('UPDATE %s AS i SET (%I, %I) = (SELECT f.bias, f.embedding FROM @extschema@.fm_item($1, %s, %s) f)',
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
-- the table (trigger fm_topk_bump), read by fm_topk() with the caller's
-- snapshot to decide whether its cache still shows what the caller sees.
-- version is a fresh sequence value per change, never reused (a rolled back
-- change must not leave a value that a later change could repeat).
CREATE TABLE fm_topk_version (
	relid   oid PRIMARY KEY,
	version bigint NOT NULL
);
COMMENT ON TABLE fm_topk_version IS
	'change counter of the item tables tracked by fm_topk_track(); maintained by triggers';
CREATE SEQUENCE fm_topk_version_seq;
GRANT SELECT ON fm_topk_version TO PUBLIC;

-- SECURITY DEFINER: whoever may write the item table may bump its version,
-- without any privilege on fm_topk_version.
CREATE FUNCTION fm_topk_bump() RETURNS trigger
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	INSERT INTO @extschema@.fm_topk_version AS v (relid, version)
	VALUES (TG_RELID, nextval('@extschema@.fm_topk_version_seq'))
	ON CONFLICT (relid) DO UPDATE SET version = excluded.version;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION fm_topk_bump() FROM PUBLIC;

-- Installs the triggers that let fm_topk() keep its cache of a table across
-- statements and transactions:
--   fm_topk_version          AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
--                            FOR EACH STATEMENT, enabled ALWAYS
--   fm_topk_version_replica  AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW,
--                            enabled REPLICA only (logical replication
--                            applies rows without statement triggers)
-- A changing statement costs one upsert, and concurrent writers of the
-- table queue on that row until the first commits.  Needs ownership of
-- the table.  Plain tables only: changes to a partition or an inheritance
-- child would not fire them.
CREATE FUNCTION fm_topk_track(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, @extschema@
AS $$
DECLARE
	kind "char";
	children boolean;
BEGIN
	SELECT c.relkind, c.relhassubclass INTO kind, children FROM pg_class c WHERE c.oid = items;
	IF kind IS DISTINCT FROM 'r' OR children THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = format('cannot track "%s": only plain tables without inheritance children can be tracked', items),
			HINT = 'fm_topk() still works on it, caching only within one snapshot.';
	END IF;
	EXECUTE format('CREATE OR REPLACE TRIGGER fm_topk_version'
		' AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s'
		' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER fm_topk_version', items);
	EXECUTE format('CREATE OR REPLACE TRIGGER fm_topk_version_replica'
		' AFTER INSERT OR UPDATE OR DELETE ON %s'
		' FOR EACH ROW EXECUTE FUNCTION @extschema@.fm_topk_bump()', items);
	EXECUTE format('ALTER TABLE %s ENABLE REPLICA TRIGGER fm_topk_version_replica', items);
	INSERT INTO @extschema@.fm_topk_version AS v (relid, version)
	VALUES (items, nextval('@extschema@.fm_topk_version_seq'))
	ON CONFLICT (relid) DO UPDATE SET version = excluded.version;
END $$;
COMMENT ON FUNCTION fm_topk_track(regclass) IS
	'installs the triggers that let fm_topk() cache a table across transactions';

CREATE FUNCTION fm_topk_untrack(items regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, @extschema@
AS $$
BEGIN
	EXECUTE format('DROP TRIGGER IF EXISTS fm_topk_version ON %s', items);
	EXECUTE format('DROP TRIGGER IF EXISTS fm_topk_version_replica ON %s', items);
	DELETE FROM @extschema@.fm_topk_version v WHERE v.relid = items;
END $$;

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

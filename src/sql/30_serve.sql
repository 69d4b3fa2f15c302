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

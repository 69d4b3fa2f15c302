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
